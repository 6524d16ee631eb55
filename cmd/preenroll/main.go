// Command preenroll orders and manages pre-enrolled YubiKeys for Okta
// users from the command line:
//
//	go install github.com/preenroll/preenroll/cmd/preenroll@latest
//	preenroll demo                                   # the whole lifecycle on in-process fakes
//	preenroll order -user jan@example.com            # on the fakes; with -okta-org on a real org
//	preenroll batch -csv users.csv -store keys.db -okta-org https://example.okta.com \
//	    -okta-token-file okta.token -customization RXJN83
//	preenroll help batch                             # a command's settings: flags, PREENROLL_* variables, config-file keys
//
// The subcommands (order, batch, status, retry, delete, resend-pin, check, sync,
// serve, doctor, backup, demo, help, version) share one configuration: flags override
// PREENROLL_* environment variables, which override a JSON file named by
// -config, over the defaults. Secrets are read from files only. Okta is
// reached with an API token (-okta-token-file) or, as Okta recommends for
// services, as an OAuth 2.0 service app with DPoP (-okta-client-id,
// -okta-private-key-file). Without an Okta org every command runs on
// in-process fakes of Okta and Yubico.
//
// The commands live in package internal/cli; this is their entry point.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/preenroll/preenroll/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // the first interrupt stops the command; a second kills the program
	}()
	for _, w := range cli.EnvWarnings(os.Environ()) {
		fmt.Fprintln(os.Stderr, w)
	}
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

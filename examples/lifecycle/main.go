// Command lifecycle runs the whole life of pre-enrolled YubiKeys in a few
// seconds, with every party simulated in process: a fake Okta org
// (okta/oktatest), a fake Yubico with its factory (yubico/yubicotest) and
// simulated keys (simulator), driven by the real fulfillment.Service. It
// is the same demo as `preenroll demo` (package internal/demo), so it
// does not build outside this module: to start a program of your own,
// copy examples/embed, or the Example functions of
// fulfillment/fulfillmenttest for tests.
//
//	go run ./examples/lifecycle               # one new hire (STAGED) and one existing employee
//	go run ./examples/lifecycle -users 100    # a batch of 100, ordered with Service.OrderBatch
//	go run ./examples/lifecycle -json         # the events as JSON lines
//	go run ./examples/lifecycle -v            # and the Service's log on stderr
//
// Exit codes: 0 every key ended Active with its PIN wiped, 1 something
// failed, 2 bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/preenroll/preenroll/internal/demo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second interrupt kills the program
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the program: it parses args, plays the lifecycle and returns the
// exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lifecycle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: lifecycle [-users N] [-json]\n\n"+
			"Runs the life of pre-enrolled YubiKeys against in-process fakes of Okta and Yubico.\n\n")
		fs.PrintDefaults()
	}
	users := fs.Int("users", 2, "number of users: new hires (STAGED) and existing employees (ACTIVE), alternating")
	asJSON := fs.Bool("json", false, "print the events as JSON lines instead of a timeline")
	concurrency := fs.Int("concurrency", 4, "users worked on at once by the Service and the sign-ins")
	verbose := fs.Bool("v", false, "log the Service's steps to stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "lifecycle: unexpected argument %q\n", fs.Arg(0))
		return 2
	case *users < 1 || *users > demo.MaxUsers:
		fmt.Fprintf(stderr, "lifecycle: -users %d: want 1 to %d\n", *users, demo.MaxUsers)
		return 2
	case *concurrency < 1 || *concurrency > 64:
		fmt.Fprintf(stderr, "lifecycle: -concurrency %d: want 1 to 64\n", *concurrency)
		return 2
	}
	o := demo.Options{Users: *users, Concurrency: *concurrency, JSON: *asJSON}
	if *verbose {
		o.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	return demo.Run(ctx, "lifecycle", o, stdout, stderr)
}

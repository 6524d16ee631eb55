// Command embed shows how to embed preenroll in a service of your own: the
// Service's Okta event-hook handler is mounted in your http.Server next to
// your own routes, and Service.Run syncs in the background; one context
// stops both, and the server drains its requests before the store closes.
//
//	embed -okta-org https://example.okta.com -okta-token-file okta.token \
//	      -yubico-token-file yubico.token -hook-secret-file hook.secret -store keys.db
//
// Register https://your-host/okta/events as an Okta event hook for
// system.mfa.preregister.initiate with the hook secret as its
// Authorization header. The tests run it against the fakes
// (okta/oktatest, yubico/yubicotest). For a ready-made program, see
// cmd/preenroll.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/yubico"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to serve on")
	org := flag.String("okta-org", "", "Okta org URL")
	oktaTokenFile := flag.String("okta-token-file", "", "file holding the Okta API token")
	yubicoTokenFile := flag.String("yubico-token-file", "", "file holding the YubiEnterprise API token")
	hookSecretFile := flag.String("hook-secret-file", "", "file holding the event hook's Authorization value")
	storeFile := flag.String("store", "preenroll.db", "SQLite file of the records")
	rpID := flag.String("rp-id", "", "WebAuthn relying-party ID (default: the org's host)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := start(ctx, *listen, *org, *oktaTokenFile, *yubicoTokenFile, *hookSecretFile, *storeFile, *rpID, logger); err != nil {
		logger.Error("embed: " + err.Error())
		os.Exit(1)
	}
}

// start makes the clients and the store from the command line and serves.
func start(ctx context.Context, listen, org, oktaTokenFile, yubicoTokenFile, hookSecretFile, storeFile, rpID string, logger *slog.Logger) error {
	oktaToken, err1 := firstLine(oktaTokenFile)
	yubicoToken, err2 := firstLine(yubicoTokenFile)
	hookSecret, err3 := firstLine(hookSecretFile)
	if err := errors.Join(err1, err2, err3); err != nil {
		return err
	}
	oc, err := okta.NewClient(org, oktaToken)
	if err != nil {
		return err
	}
	yc, err := yubico.NewClient(yubico.DefaultBaseURL, yubicoToken)
	if err != nil {
		return err
	}
	if rpID == "" {
		// The org's host name, without a port. An org at an IP address
		// (a local fake) needs -rp-id: WebAuthn refuses an IP address as
		// RP ID, and so does fulfillment.New.
		u, err := url.Parse(oc.OrgURL())
		if err != nil {
			return err
		}
		rpID = u.Hostname()
	}
	store, err := fulfillment.OpenSQLite(ctx, storeFile)
	if err != nil {
		return err
	}
	defer store.Close()
	svc, err := fulfillment.New(fulfillment.Config{
		Okta: oc, Yubico: yc, Store: store, RPIDs: []string{rpID}, EventHookSecret: okta.Secret(hookSecret), Logger: logger,
		// Okta delivers an event hook at most twice: Run also reads the
		// orders in Okta's System Log that no delivery brought, before a
		// pass at most every 15 minutes (hourly while no event comes).
		CatchUpEvery: 15 * time.Minute,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	return serve(ctx, ln, svc)
}

// serve runs svc in your own HTTP server on ln until ctx ends: the event
// hook at /okta/events, your routes beside it, and Service.Run in the
// background. It returns nil after a clean shutdown.
func serve(ctx context.Context, ln net.Listener, svc *fulfillment.Service) error {
	mux := http.NewServeMux()
	// Okta verifies the hook with a GET and delivers events with POSTs;
	// the handler checks the Authorization header on both.
	mux.Handle("/okta/events", svc.EventHandler())
	// Your own routes.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		// Run syncs at once, then hourly and whenever an event arrives;
		// it returns when gctx ends.
		if err := svc.Run(gctx); !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		// Stop taking hooks, and let the requests in flight finish.
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(gctx), 10*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	})
	return g.Wait()
}

// firstLine returns the first line of a file, trimmed; secrets never come
// from flags.
func firstLine(path string) (string, error) {
	if path == "" {
		return "", errors.New("a secret file is missing (-okta-token-file, -yubico-token-file, -hook-secret-file)")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	if line = strings.TrimSpace(line); line == "" {
		return "", fmt.Errorf("%s: first line is empty", path)
	}
	return line, nil
}

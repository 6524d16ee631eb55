// Command crashbatch is the batch program of the crash suite in package
// reliability: it runs fulfillment.Service against the Okta org and the
// Yubico API given on the command line, with its state in an SQLite file,
// and is meant to be killed (SIGKILL) at any point and run again.
//
// Usage:
//
//	crashbatch -okta URL -yubico URL -state FILE -rpid HOST -mode order|sync [-users FILE]
//
// The API tokens come from the environment (CRASHBATCH_OKTA_TOKEN,
// CRASHBATCH_YUBICO_TOKEN), never from flags, so they are not in the
// process list. In mode "order" it orders a key for every user ID in the
// -users file (one per line) as one batch, then makes one Sync pass; in
// mode "sync" it makes one Sync pass. Every step the Service records is
// logged as one JSON line on stdout (the crash suite counts them to choose
// where to kill); the last line is {"msg":"done",...}. The exit status is 0
// when the run completed, 1 on an error.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/yubico"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "crashbatch:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("crashbatch", flag.ContinueOnError)
	oktaURL := fs.String("okta", "", "Okta org URL")
	yubicoURL := fs.String("yubico", "", "Yubico API base URL (…/v1)")
	yubicoJWKS := fs.String("yubico-jwks", "", "base URL of the host serving Yubico's public JWKS (the console host)")
	state := fs.String("state", "", "SQLite state file")
	rpID := fs.String("rpid", "", "relying-party ID")
	mode := fs.String("mode", "sync", `"order" or "sync"`)
	usersFile := fs.String("users", "", "file of Okta user IDs, one per line (mode order)")
	concurrency := fs.Int("concurrency", 4, "batch workers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *oktaURL == "" || *yubicoURL == "" || *yubicoJWKS == "" || *state == "" || *rpID == "" {
		return errors.New("-okta, -yubico, -yubico-jwks, -state and -rpid are required")
	}
	if *mode != "order" && *mode != "sync" {
		return fmt.Errorf("-mode %q: want order or sync", *mode)
	}
	oktaToken, yubicoToken := os.Getenv("CRASHBATCH_OKTA_TOKEN"), os.Getenv("CRASHBATCH_YUBICO_TOKEN")
	if oktaToken == "" || yubicoToken == "" {
		return errors.New("CRASHBATCH_OKTA_TOKEN and CRASHBATCH_YUBICO_TOKEN must be set")
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	oc, err := okta.NewClient(*oktaURL, oktaToken, okta.WithHTTPClient(hc))
	if err != nil {
		return err
	}
	yc, err := yubico.NewClient(*yubicoURL, yubicoToken, yubico.WithHTTPClient(hc), yubico.WithJWKSBaseURL(*yubicoJWKS),
		yubico.WithRetryPolicy(yubico.RetryPolicy{MaxRetries: 2, Backoff: func(n int) time.Duration { return 5 * time.Millisecond << (n - 1) }, MaxRateLimitWait: 50 * time.Millisecond}))
	if err != nil {
		return err
	}
	store, err := fulfillment.OpenSQLite(ctx, *state)
	if err != nil {
		return err
	}
	defer store.Close()
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))
	svc, err := fulfillment.New(fulfillment.Config{
		Okta: oc, Yubico: yc, Store: store, RPIDs: []string{*rpID},
		Defaults:    fulfillment.Item{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"},
		Concurrency: *concurrency, Logger: log,
		// One instance at a time works on this store: a killed run's lease
		// must not hold back the next run.
		Lease: time.Nanosecond,
		// The fake Yubico de-duplicates creates by Idempotency-Key: a create
		// cut short by a kill is repeated with the same key on the next run.
		IdempotentShipments: true,
	})
	if err != nil {
		return err
	}
	if *mode == "order" {
		users, err := readUsers(*usersFile)
		if err != nil {
			return err
		}
		rep, err := svc.OrderBatch(ctx, users, fulfillment.BatchOptions{Progress: func(p fulfillment.Progress) {
			errText := ""
			if p.Last.Err != nil {
				errText = p.Last.Err.Error()
			}
			log.Info("ordered", "user", p.Last.UserID, "status", string(p.Last.Status), "done", p.Done, "error", errText)
		}})
		if err != nil {
			return err
		}
		log.Info("batch", "ordered", rep.Ordered, "skipped", rep.Skipped, "failed", rep.Failed, "invalid", len(rep.Invalid))
	}
	rep, err := svc.Sync(ctx)
	if err != nil {
		return err
	}
	log.Info("done", "checked", rep.Checked, "advanced", rep.Advanced, "failures", len(rep.Failures))
	return nil
}

// readUsers reads user IDs, one per line, skipping blank lines.
func readUsers(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			out = append(out, line)
		}
	}
	return out, sc.Err()
}

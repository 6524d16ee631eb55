// Command order orders a pre-enrolled YubiKey for one Okta user: it checks
// the order and the user's profile as a shipping address, and sends Okta's
// initiate-fulfillment-request through [fulfillment.Service.Order]. A
// fulfillment service (Service.Run, or the lifecycle example) takes it from
// there.
//
// Against a real org:
//
//	order -org https://example.okta.com -token-file okta.token -user jan@example.com -customization RXJN83
//
// The API token comes from -token-file (its first line), -token or the
// OKTA_API_TOKEN environment variable, and is never printed. Ordering
// talks only to Okta; Yubico is called later by the fulfillment service.
//
// Without -org it runs against an in-process fake Okta org (and fake
// Yubico), seeding the user it is asked for (or a demo user) STAGED with a
// valid US address, or with the Okta profile in -profile FILE:
//
//	order                                   # orders for demo.user@example.com
//	order -profile testdata/bad-profile.json
//
// A profile that cannot be shipped to is reported field by field, one
// problem per line; an Okta error with its HTTP status, errorCode and
// summary. With -state FILE the order is recorded in the SQLite store a
// fulfillment service shares (fulfillment.OpenSQLite), so a second order
// for a user whose key is in fulfillment is refused before Okta is asked;
// without it the record lives in memory and the service learns of the
// order from Okta's event hook. Exit codes: 0 ordered, 1 not ordered, 2 bad usage.
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
	"strings"
	"syscall"

	"github.com/preenroll/preenroll/fulfillment"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second interrupt kills the program
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// config is the parsed command line.
type config struct {
	org, token, user, rpID string
	product, inventory     string
	customization          string
	stateFile              string // SQLite store of the orders, shared with the fulfillment service
	profileFile            string // fake mode: the profile to seed
	seedStatus             string // fake mode: STAGED or ACTIVE
	logger                 *slog.Logger
}

// demoLogin is the user ordered for in fake mode when -user is not given.
const demoLogin = "demo.user@example.com"

// usageError is a problem with the command line (exit code 2).
type usageError struct{ msg string }

// Error returns the problem.
func (e *usageError) Error() string { return e.msg }

// run is the program: it parses args, orders and returns the exit code.
// getenv reads the environment (os.Getenv; tests pass their own).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	cfg, err := parse(args, stderr, getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "order: %s\n", ue.msg)
		}
		return 2
	}
	if err := order(ctx, cfg, stdout); err != nil {
		report(stderr, err)
		return 1
	}
	return 0
}

// parse reads the flags; errors are *usageError or flag parse errors
// (already printed by the flag set).
func parse(args []string, stderr io.Writer, getenv func(string) string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("order", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: order [-org URL -token-file FILE] [-user ID|LOGIN] [-product ID] [-inventory ID] [-customization CID] [-rp-id HOST]\n\n"+
			"Orders a pre-enrolled YubiKey for one Okta user. Without -org, against in-process fakes.\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.org, "org", "", "Okta org URL, e.g. https://example.okta.com (default: an in-process fake org)")
	token := fs.String("token", "", "Okta API token (prefer -token-file or $OKTA_API_TOKEN: flags are visible to other users)")
	tokenFile := fs.String("token-file", "", "file whose first line is the Okta API token")
	fs.StringVar(&cfg.user, "user", "", "the Okta user: ID (00u…) or login (default in fake mode: "+demoLogin+")")
	fs.StringVar(&cfg.product, "product", "1", "Yubico product ID (1 YubiKey 5 NFC, 29 5C NFC, 54/55 FIPS)")
	fs.StringVar(&cfg.inventory, "inventory", "106", "Yubico inventory product ID to draw the key from")
	fs.StringVar(&cfg.customization, "customization", "", "Yubico customization ID (CID); required with -org (fake mode: DEMO01)")
	fs.StringVar(&cfg.rpID, "rp-id", "", "WebAuthn relying-party ID the key is registered for (default: the org's host name)")
	fs.StringVar(&cfg.stateFile, "state", "", "SQLite file of the fulfillment service's records (default: in memory, forgotten at exit)")
	fs.StringVar(&cfg.profileFile, "profile", "", "fake mode only: JSON Okta profile to seed the user with")
	fs.StringVar(&cfg.seedStatus, "seed-status", "STAGED", "fake mode only: status of the seeded user, STAGED or ACTIVE")
	verbose := fs.Bool("v", false, "log the Service's steps to stderr (secrets are never logged)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	cfg.logger = slog.New(slog.DiscardHandler)
	if *verbose {
		cfg.logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	bad := func(format string, args ...any) (config, error) {
		return cfg, &usageError{fmt.Sprintf(format, args...)}
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	if cfg.org == "" && cfg.customization == "" {
		cfg.customization = "DEMO01"
	}
	if err := checkItem(cfg); err != nil {
		return cfg, err
	}
	if cfg.org == "" {
		if *token != "" || *tokenFile != "" {
			return bad("-token and -token-file need -org")
		}
		cfg.seedStatus = strings.ToUpper(cfg.seedStatus)
		if cfg.seedStatus != "STAGED" && cfg.seedStatus != "ACTIVE" {
			return bad("-seed-status %q: want STAGED or ACTIVE", cfg.seedStatus)
		}
		return cfg, nil
	}
	if cfg.profileFile != "" {
		return bad("-profile seeds the fake org; it cannot be used with -org")
	}
	switch {
	case cfg.user == "":
		return bad("-user is required with -org")
	case cfg.customization == "":
		return bad("-customization is required with -org")
	case *token != "" && *tokenFile != "":
		return bad("give -token or -token-file, not both")
	case *tokenFile != "":
		t, err := readToken(*tokenFile)
		if err != nil {
			return bad("-token-file: %v", err)
		}
		cfg.token = t
	case *token != "":
		cfg.token = *token
	default:
		cfg.token = getenv("OKTA_API_TOKEN")
		if cfg.token == "" {
			return bad("an API token is required with -org: -token-file FILE, -token or $OKTA_API_TOKEN")
		}
	}
	return cfg, nil
}

// itemFlags names the flag behind each field of an order item.
var itemFlags = map[string]string{"productId": "-product", "inventoryProductId": "-inventory", "customizationId": "-customization"}

// checkItem validates the item flags as Okta would, every problem on its
// own line.
func checkItem(cfg config) error {
	if cfg.customization == "" {
		return nil // required with -org; reported there
	}
	item := fulfillment.Item{ProductID: cfg.product, InventoryProductID: cfg.inventory, CustomizationID: cfg.customization}
	err := item.Validate()
	var ve *fulfillment.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	var b strings.Builder
	b.WriteString("bad item:")
	for _, f := range ve.Fields {
		if name, ok := itemFlags[f.Field]; ok {
			f.Field = name
		}
		b.WriteString("\n  " + f.Error())
	}
	return &usageError{b.String()}
}

// maxTokenFile bounds the token file.
const maxTokenFile = 4096

// readToken returns the first line of a token file, trimmed. Errors never
// contain the file's content.
func readToken(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxTokenFile {
		return "", fmt.Errorf("%s: longer than %d bytes, not a token", path, maxTokenFile)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSpace(line)
	if line == "" {
		return "", fmt.Errorf("%s: first line is empty", path)
	}
	return line, nil
}

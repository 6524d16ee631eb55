// Command batch orders pre-enrolled YubiKeys for many Okta users, read
// from a CSV file:
//
//	batch -csv users.csv                         # a column "login" of Okta logins (or user IDs)
//	batch -csv profiles.csv                      # columns named by Okta's profile attributes
//	batch -csv workday.csv -mapping workday      # an HRIS export (workday or servicenow)
//	batch -csv users.csv -org https://example.okta.com -token-file okta.token \
//	      -customization RXJN83 -state batch.db -report results.csv
//
// The header says what the file is: a lone column "login" lists users
// whose Okta profiles are shipped to as they are; "login" with more of
// Okta's profile attribute names (firstName, lastName, email, secondEmail,
// primaryPhone, streetAddress, city, state, zipCode, countryCode,
// organization; fulfillment.OktaMapping) gives each user's profile, the
// form people script Okta with. Headers match ignoring case and white
// space; other columns are ignored. An HR system's export needs -mapping.
//
// Rows that are profiles (Okta attributes, or an HRIS export through
// -mapping; package fulfillment's HRIS directory) are checked first; then
// users not yet in Okta are created STAGED (new hires), the others get
// their shipping attributes updated (Service.PrepareUser), and then
// everybody is ordered.
//
// # Bad rows
//
// Every bad row is reported with its line number and problem: a malformed
// or duplicate login, an HRIS row the reader rejects, an address that does
// not validate (every field), a user Okta does not know or whose Okta
// profile cannot be shipped to. Nobody from a bad row is ordered. By
// default a batch with any bad row orders nobody at all, so that a
// corrected file can be run as a whole; with -skip-invalid the valid rows
// are ordered and the bad ones reported.
//
// # Progress, report, resuming
//
// On a terminal a progress bar is drawn; otherwise one line per user is
// printed. A summary follows, and -report FILE writes a CSV of per-row
// results (line, login, user_id, result, status, problem). With -state
// FILE the Service's records are kept in SQLite (fulfillment.OpenSQLite).
// An interrupt (Ctrl-C) stops new orders while the ones in flight finish
// and are recorded; running the same command again then skips everybody
// already ordered, so nobody is ordered twice. (A second Ctrl-C exits at
// once; an order cut off mid-call stays recorded as in flight, and the
// fulfillment service's Sync resends it, which Okta tolerates.) Use the
// same -state for the fulfillment service that ships the keys.
//
// Without -org it runs against in-process fakes of Okta and Yubico,
// seeding the users it reads (with generated addresses for plain logins;
// existing ACTIVE accounts for HRIS rows whose Okta status is ACTIVE; the
// users of an Okta attribute CSV are new hires there).
// The fakes start empty on every run, so -state is for real orgs.
//
// Exit codes: 0 every valid row was ordered or already had a key in
// fulfillment (and no row was bad, unless -skip-invalid); 1 bad rows,
// failures or an interrupt; 2 bad usage.
package main

import (
	"cmp"
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
	csvFile     string
	mapping     *fulfillment.Mapping // nil: plain logins
	org, token  string
	rpID        string
	item        fulfillment.Item
	skipInvalid bool
	reportFile  string
	stateFile   string
	concurrency int
	logger      *slog.Logger
}

// usageError is a problem with the command line (exit code 2).
type usageError struct{ msg string }

// Error returns the problem.
func (e *usageError) Error() string { return e.msg }

// run is the program: it parses args, runs the batch and returns the exit
// code. getenv reads the environment (os.Getenv; tests pass their own).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	cfg, err := parse(args, stderr, getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "batch: %s\n", ue.msg)
		}
		return 2
	}
	return runBatch(ctx, cfg, stdout, stderr)
}

// parse reads the flags; errors are *usageError or flag parse errors
// (already printed by the flag set).
func parse(args []string, stderr io.Writer, getenv func(string) string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("batch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: batch -csv FILE [-mapping workday|servicenow|okta] [-org URL -token-file FILE] [-skip-invalid] [-report FILE] [-state FILE]\n\n"+
			"Orders pre-enrolled YubiKeys for the users of a CSV file: a column \"login\", or columns named by Okta's\n"+
			"profile attributes (login, firstName, lastName, email, ...). Without -org, against in-process fakes.\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.csvFile, "csv", "", "the CSV file: a column \"login\", Okta profile attributes, or an HRIS export with -mapping")
	mapping := fs.String("mapping", "", "the CSV is an HRIS export: workday or servicenow (okta: Okta attribute names, found by the header anyway)")
	fs.StringVar(&cfg.org, "org", "", "Okta org URL, e.g. https://example.okta.com (default: an in-process fake org)")
	token := fs.String("token", "", "Okta API token (prefer -token-file or $OKTA_API_TOKEN: flags are visible to other users)")
	tokenFile := fs.String("token-file", "", "file whose first line is the Okta API token")
	fs.StringVar(&cfg.rpID, "rp-id", "", "WebAuthn relying-party ID (default: the org's host name)")
	fs.StringVar(&cfg.item.ProductID, "product", "1", "Yubico product ID (1 YubiKey 5 NFC, 29 5C NFC, 54/55 FIPS)")
	fs.StringVar(&cfg.item.InventoryProductID, "inventory", "106", "Yubico inventory product ID to draw the keys from")
	fs.StringVar(&cfg.item.CustomizationID, "customization", "", "Yubico customization ID (CID); required with -org (fake mode: DEMO01)")
	fs.BoolVar(&cfg.skipInvalid, "skip-invalid", false, "order the valid rows even if some rows are bad (default: order nobody)")
	fs.StringVar(&cfg.reportFile, "report", "", "write a CSV of per-row results to this file")
	fs.StringVar(&cfg.stateFile, "state", "", "SQLite file of the Service's records; rerun with the same file to resume")
	fs.IntVar(&cfg.concurrency, "concurrency", fulfillment.DefaultConcurrency, "users worked on at once")
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
	switch {
	case fs.NArg() > 0:
		return bad("unexpected argument %q", fs.Arg(0))
	case cfg.csvFile == "":
		return bad("-csv FILE is required")
	case cfg.concurrency < 1 || cfg.concurrency > 64:
		return bad("-concurrency %d: want 1 to 64", cfg.concurrency)
	}
	switch strings.ToLower(*mapping) {
	case "":
	case "workday":
		m := fulfillment.WorkdayMapping()
		cfg.mapping = &m
	case "servicenow":
		m := fulfillment.ServiceNowMapping()
		cfg.mapping = &m
	case "okta":
		m := fulfillment.OktaMapping()
		cfg.mapping = &m
	default:
		return bad("-mapping %q: want workday, servicenow or okta", *mapping)
	}
	if cfg.org == "" {
		if *token != "" || *tokenFile != "" {
			return bad("-token and -token-file need -org")
		}
		cfg.item.CustomizationID = cmp.Or(cfg.item.CustomizationID, "DEMO01")
	} else {
		var err error
		if cfg.token, err = oktaToken(*token, *tokenFile, getenv); err != nil {
			return cfg, err
		}
		if cfg.item.CustomizationID == "" {
			return bad("-customization is required with -org")
		}
	}
	if err := checkItem(cfg.item); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// oktaToken picks the API token from -token-file, -token or
// $OKTA_API_TOKEN.
func oktaToken(token, tokenFile string, getenv func(string) string) (string, error) {
	switch {
	case token != "" && tokenFile != "":
		return "", &usageError{"give -token or -token-file, not both"}
	case tokenFile != "":
		t, err := readToken(tokenFile)
		if err != nil {
			return "", &usageError{"-token-file: " + err.Error()}
		}
		return t, nil
	case token != "":
		return token, nil
	}
	if t := getenv("OKTA_API_TOKEN"); t != "" {
		return t, nil
	}
	return "", &usageError{"an API token is required with -org: -token-file FILE, -token or $OKTA_API_TOKEN"}
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
	if line = strings.TrimSpace(line); line == "" {
		return "", fmt.Errorf("%s: first line is empty", path)
	}
	return line, nil
}

// itemFlags names the flag behind each field of an order item.
var itemFlags = map[string]string{"productId": "-product", "inventoryProductId": "-inventory", "customizationId": "-customization"}

// checkItem validates the item flags as Okta would, every problem on its
// own line.
func checkItem(item fulfillment.Item) error {
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

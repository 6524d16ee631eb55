package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

func noEnv(string) string { return "" }

// runOrder runs the program and returns its exit code and output.
func runOrder(t *testing.T, getenv func(string) string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, &out, &errb, getenv)
	return code, out.String(), errb.String()
}

func TestFakeModeOrders(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"demo user", nil, []string{"seeded STAGED user demo.user@example.com",
			"ordered a YubiKey for demo.user@example.com (00u", "): Fulfillment started",
			"item: product 1, inventory 106, customization DEMO01; relying party example.okta.com"}},
		{"named active user", []string{"-user", "kim@example.com", "-seed-status", "active", "-product", "29", "-customization", "RXJN83", "-rp-id", "login.example.com"},
			[]string{"seeded ACTIVE user kim@example.com", "ordered a YubiKey for kim@example.com",
				"item: product 29, inventory 106, customization RXJN83; relying party login.example.com"}},
		{"profile file", []string{"-profile", "testdata/good-profile.json"},
			[]string{"seeded STAGED user mia.schmidt@example.com", "ordered a YubiKey for mia.schmidt@example.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runOrder(t, noEnv, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
		})
	}
}

func TestBadProfileListsEveryField(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runOrder(t, noEnv, "-profile", "testdata/bad-profile.json")
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr)
	}
	want := []string{
		"order: the user's Okta profile cannot be shipped to (6 problems):",
		"  organization: required",
		"  secondEmail: required",
		`  primaryPhone "12": too short for +1 (US)`,
		"  streetAddress: required",
		`  state "MASS.": must be a two-letter USPS code for US`,
		`  zipCode "2026": not a valid US postal code (like "12345 or 12345-6789")`,
	}
	if diff := cmp.Diff(want, strings.Split(strings.TrimSpace(stderr), "\n")); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
	if strings.Contains(stdout, "ordered") {
		t.Errorf("stdout says ordered:\n%s", stdout)
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("00secret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyFile := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(emptyFile, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-h"}, 0, "usage: order"},
		{[]string{"-bogus"}, 2, "flag provided but not defined"},
		{[]string{"extra"}, 2, `unexpected argument "extra"`},
		{[]string{"-product", "x", "-inventory", "0", "-customization", "a b"}, 2,
			"order: bad item:\n" +
				`  -product "x": must be a positive decimal integer without sign or leading zeros` + "\n" +
				`  -inventory "0": must be a positive decimal integer without sign or leading zeros` + "\n" +
				`  -customization "a b": must be 1-32 ASCII letters or digits`},
		{[]string{"-token", "x"}, 2, "-token and -token-file need -org"},
		{[]string{"-seed-status", "deleted"}, 2, `-seed-status "DELETED": want STAGED or ACTIVE`},
		{[]string{"-org", "https://example.okta.com", "-customization", "C1"}, 2, "-user is required with -org"},
		{[]string{"-org", "https://example.okta.com", "-user", "u"}, 2, "-customization is required with -org"},
		{[]string{"-org", "https://example.okta.com", "-user", "u", "-customization", "C1"}, 2, "an API token is required"},
		{[]string{"-org", "https://example.okta.com", "-user", "u", "-customization", "C1", "-token", "t", "-token-file", tokenFile}, 2, "not both"},
		{[]string{"-org", "https://example.okta.com", "-user", "u", "-customization", "C1", "-token-file", emptyFile}, 2, "first line is empty"},
		{[]string{"-org", "https://example.okta.com", "-user", "u", "-customization", "C1", "-token-file", filepath.Join(t.TempDir(), "missing")}, 2, "no such file"},
		{[]string{"-org", "https://example.okta.com", "-user", "u", "-customization", "C1", "-token", "t", "-profile", "p.json"}, 2, "-profile seeds the fake org"},
	} {
		code, stdout, stderr := runOrder(t, noEnv, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("run(%q) = %d, stderr:\n%s\nwant %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
		if stdout != "" {
			t.Errorf("run(%q) wrote to stdout: %q", tc.args, stdout)
		}
		if strings.Contains(stderr, "00secret-token") {
			t.Errorf("run(%q) printed the token", tc.args)
		}
	}
}

// TestAgainstOrg runs the program against an Okta org given with -org (the
// fake, reached over HTTP like a real one).
func TestAgainstOrg(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	u, err := srv.AddUser(okta.Profile{
		Login: "jan@example.com", Email: "jan@example.com", SecondEmail: "jan@home.example.net",
		FirstName: "Jan", LastName: "Lindberg", Organization: "Example Inc.", PrimaryPhone: "+1 781 555 0142",
		StreetAddress: "7788 Foxrun Street", City: "Dedham", State: "MA", ZipCode: "02026", CountryCode: "US",
	}, okta.UserStaged)
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "okta.token")
	if err := os.WriteFile(tokenFile, []byte(srv.Token()+"\n# comment\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"-org", srv.URL(), "-customization", "RXJN83"}

	// Unknown user: Okta's 404 with status, errorCode and summary.
	code, _, stderr := runOrder(t, noEnv, append(base, "-token-file", tokenFile, "-user", "nobody@example.com")...)
	if code != 1 || !strings.Contains(stderr, "order: Okta refused (get user): HTTP 404 E0000007: Not found: Resource not found: nobody@example.com (User)") ||
		!strings.Contains(stderr, "Okta request ID: ") {
		t.Errorf("unknown user: exit %d, stderr:\n%s", code, stderr)
	}

	// A wrong token (from the environment): 401, and the token is not printed.
	const wrong = "00wrong-token-value-0123456789"
	code, stdout, stderr := runOrder(t, func(k string) string {
		if k == "OKTA_API_TOKEN" {
			return wrong
		}
		return ""
	}, append(base, "-user", u.ID)...)
	if code != 1 || !strings.Contains(stderr, "HTTP 401 E0000011") || strings.Contains(stderr+stdout, wrong) {
		t.Errorf("wrong token: exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}

	// By ID, with the token file: ordered and recorded.
	state := filepath.Join(t.TempDir(), "orders.db")
	base = append(base, "-token-file", tokenFile, "-state", state)
	code, stdout, stderr = runOrder(t, noEnv, append(base, "-user", u.ID, "-v")...)
	if code != 0 || !strings.Contains(stdout, "ordered a YubiKey for jan@example.com ("+u.ID+"): Fulfillment started") ||
		!strings.Contains(stdout, "relying party 127.0.0.1") {
		t.Fatalf("order: exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, `msg="fulfillment: intent"`) {
		t.Errorf("-v logged no intent:\n%s", stderr)
	}
	if strings.Contains(stdout+stderr, srv.Token()) {
		t.Error("the token was printed or logged")
	}
	events := srv.Events()
	if len(events) != 1 || events[0].EventType != oktatest.EventPreregisterInitiate || events[0].UserID != u.ID ||
		events[0].Order != (okta.FulfillmentOrder{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"}) {
		t.Errorf("events = %+v", events)
	}

	// By login, again: the store knows the key is in fulfillment.
	code, _, stderr = runOrder(t, noEnv, append(base, "-user", "jan@example.com")...)
	if code != 1 || !strings.HasPrefix(stderr, "order: not ordered: ") || !strings.Contains(stderr, "already in fulfillment") {
		t.Errorf("second order: exit %d, stderr:\n%s", code, stderr)
	}
	if n := len(srv.Events()); n != 1 {
		t.Errorf("%d events after the refused order, want 1", n)
	}
}

func TestBadProfileFile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ file, want string }{
		{"testdata/not-a-profile.json", "order: -profile testdata/not-a-profile.json: not an Okta profile JSON object"},
		{"testdata/missing.json", "order: -profile: open testdata/missing.json: no such file"},
	} {
		code, _, stderr := runOrder(t, noEnv, "-profile", tc.file)
		if code != 1 || !strings.HasPrefix(stderr, tc.want) {
			t.Errorf("-profile %s: exit %d, stderr %q; want 1 and %q", tc.file, code, stderr, tc.want)
		}
	}
}

package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// runBatchCmd runs batch with stdout going to w.
func runBatchCmd(t *testing.T, ctx context.Context, w io.Writer, args ...string) (code int, stderr string) {
	t.Helper()
	r := invocation{ctx: ctx, stdout: w}.run(t, append([]string{"batch"}, args...)...)
	return r.code, r.stderr
}

// readReport returns the report's rows without the user_id column (random).
func readReport(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 || !cmp.Equal(recs[0], reportHeader) {
		t.Fatalf("report header = %v", recs)
	}
	var out [][]string
	for _, r := range recs[1:] {
		if r[2] == "" && (r[3] == resultOrdered || r[3] == resultSkipped) {
			t.Errorf("report row %v has no user ID", r)
		}
		out = append(out, []string{r[0], r[1], r[3], r[4], r[5]})
	}
	return out
}

func TestLoginsFakeMode(t *testing.T) {
	t.Parallel()
	report := filepath.Join(t.TempDir(), "report.csv")
	var stdout bytes.Buffer
	code, stderr := runBatchCmd(t, t.Context(), &stdout, "-csv", "testdata/logins.csv", "-report", report)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s\nstdout:\n%s", code, stderr, stdout.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"seeded 6 users",
		"[6/6] ordered ",
		"batch: 6 rows: 6 ordered, 0 skipped (already in fulfillment), 0 failed, 0 invalid, 0 not ordered",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	for _, l := range []string{"jan.lindberg", "ada.okafor", "lars.nilsson", "mia.schmidt", "noah.brown", "zoe.dubois"} {
		if !strings.Contains(out, "] ordered "+l+"@example.com: Fulfillment started") {
			t.Errorf("no progress line for %s:\n%s", l, out)
		}
	}
	var want [][]string
	for i, l := range []string{"jan.lindberg", "ada.okafor", "lars.nilsson", "mia.schmidt", "noah.brown", "zoe.dubois"} {
		want = append(want, []string{fmt.Sprint(i + 2), l + "@example.com", "ordered", "FULFILLMENT_STARTED", ""})
	}
	if diff := cmp.Diff(want, readReport(t, report)); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}

var wantBadLogins = []string{
	"line 3 not a login: invalid: login contains white space or control characters",
	"line 4 ada.okafor@example.com: invalid: 2 fields, want 1 (login)",
	"line 6 JAN.LINDBERG@example.com: invalid: duplicate login (first on line 2)",
}

// TestBadRowsOrderNobody: every bad row is reported with its line (and a
// profile's phone number as typed), and nobody is ordered.
func TestBadRowsOrderNobody(t *testing.T) {
	t.Parallel()
	const notOrdered = "not ordered: the batch has bad rows"
	for _, tc := range []struct {
		file       string
		wantStderr []string
		wantReport [][]string
	}{
		{"logins-bad.csv",
			append(wantBadLogins[:len(wantBadLogins):len(wantBadLogins)], "preenroll batch: 3 of 5 rows are bad; nobody was ordered (fix them, or use -skip-invalid to order the valid rows)"),
			[][]string{
				{"2", "jan.lindberg@example.com", "not-ordered", "", notOrdered},
				{"3", "not a login", "invalid", "", "login contains white space or control characters"},
				{"4", "ada.okafor@example.com", "invalid", "", "2 fields, want 1 (login)"},
				{"6", "JAN.LINDBERG@example.com", "invalid", "", "duplicate login (first on line 2)"},
				{"7", "lars.nilsson@example.com", "not-ordered", "", notOrdered},
			}},
		// Profiles named by Okta's attributes: a repeated login drops every
		// row that has it.
		{"okta-bad.csv",
			[]string{
				`line 2: invalid: column "login": duplicate login "jan.lindberg@example.com" (also on line 5)`,
				`line 3 lena.vogel@example.com: invalid: primaryPhone "+44 7700 900123": not a number in use in +44 (GB, GG, IM, JE) (no such area code or number range)`,
				`line 4 pat.local@example.com: invalid: primaryPhone "555 0100": missing the area code: a local number in +1 (US)`,
				`line 5: invalid: column "login": duplicate login "JAN.LINDBERG@example.com" (first on line 2)`,
				"preenroll batch: 4 of 5 rows are bad; nobody was ordered (fix them, or use -skip-invalid to order the valid rows)",
			},
			[][]string{
				{"2", "", "invalid", "", `column "login": duplicate login "jan.lindberg@example.com" (also on line 5)`},
				{"3", "lena.vogel@example.com", "invalid", "", `primaryPhone "+44 7700 900123": not a number in use in +44 (GB, GG, IM, JE) (no such area code or number range)`},
				{"4", "pat.local@example.com", "invalid", "", `primaryPhone "555 0100": missing the area code: a local number in +1 (US)`},
				{"5", "", "invalid", "", `column "login": duplicate login "JAN.LINDBERG@example.com" (first on line 2)`},
				{"6", "amelie.dubois@example.com", "not-ordered", "", notOrdered},
			}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			report := filepath.Join(t.TempDir(), "report.csv")
			var stdout bytes.Buffer
			code, stderr := runBatchCmd(t, t.Context(), &stdout, "-csv", "testdata/"+tc.file, "-report", report)
			if code != 1 {
				t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr)
			}
			if diff := cmp.Diff(tc.wantStderr, strings.Split(strings.TrimSpace(stderr), "\n")); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			if strings.Contains(stdout.String(), "] ordered") || strings.Contains(stdout.String(), "in-process fakes") {
				t.Errorf("something was ordered:\n%s", stdout.String())
			}
			if diff := cmp.Diff(tc.wantReport, readReport(t, report)); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSkipInvalidAllBad: with -skip-invalid a file whose every row is bad
// orders nobody, and that is a failure (exit 1), not a batch done.
func TestSkipInvalidAllBad(t *testing.T) {
	t.Parallel()
	csvFile := filepath.Join(t.TempDir(), "all-bad.csv")
	if err := os.WriteFile(csvFile, []byte("login\nnot a login\nalso not one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	code, stderr := runBatchCmd(t, t.Context(), &stdout, "-csv", csvFile, "-skip-invalid")
	if code != ExitFailed {
		t.Errorf("exit %d, want %d; stderr:\n%s", code, ExitFailed, stderr)
	}
	want := []string{
		"line 2 not a login: invalid: login contains white space or control characters",
		"line 3 also not one: invalid: login contains white space or control characters",
		"preenroll batch: all 2 rows are bad; nobody was ordered",
	}
	if diff := cmp.Diff(want, strings.Split(strings.TrimSpace(stderr), "\n")); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
}

func TestSkipInvalid(t *testing.T) {
	t.Parallel()
	var stdout bytes.Buffer
	code, stderr := runBatchCmd(t, t.Context(), &stdout, "-csv", "testdata/logins-bad.csv", "-skip-invalid")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if diff := cmp.Diff(wantBadLogins, strings.Split(strings.TrimSpace(stderr), "\n")); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
	out := stdout.String()
	for _, want := range []string{"seeded 2 users", "] ordered jan.lindberg@example.com", "] ordered lars.nilsson@example.com",
		"batch: 5 rows: 2 ordered, 0 skipped (already in fulfillment), 0 failed, 3 invalid, 0 not ordered"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
}

func TestHRIS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		wantStdout []string
		wantStderr []string
	}{
		{"workday", []string{"-csv", "testdata/workday.csv", "-mapping", "workday"}, 0,
			[]string{"seeded 2 users", "] ordered amelie.dubois@example.com", "] ordered greta.berg@example.com",
				"batch: 4 rows: 4 ordered, 0 skipped (already in fulfillment), 0 failed, 0 invalid, 0 not ordered"}, nil},
		{"workday bad rows", []string{"-csv", "testdata/workday-bad.csv", "-mapping", "Workday"}, 1,
			[]string{"batch: 4 rows: 0 ordered, 0 skipped (already in fulfillment), 0 failed, 2 invalid, 2 not ordered"},
			[]string{
				`line 3: invalid: column "Username": malformed HRIS export: login is empty`,
				`line 4 pat.bad@example.com: invalid: secondEmail: required; primaryPhone "12": too short for +1 (US); state "Mass.": must be a two-letter USPS code for US; zipCode "2026": not a valid US postal code (like "12345 or 12345-6789")`,
				"preenroll batch: 2 of 4 rows are bad; nobody was ordered (fix them, or use -skip-invalid to order the valid rows)",
			}},
		// lars has no personal email: as a new hire (not in Okta) he needs one.
		{"servicenow", []string{"-csv", "testdata/servicenow.csv", "-mapping", "servicenow"}, 1,
			[]string{"batch: 3 rows: 0 ordered, 0 skipped (already in fulfillment), 0 failed, 1 invalid, 2 not ordered"},
			[]string{"line 4 lars.nilsson@example.com: invalid: secondEmail: required",
				"preenroll batch: 1 of 3 rows are bad; nobody was ordered (fix them, or use -skip-invalid to order the valid rows)"}},
		{"servicenow skip invalid", []string{"-csv", "testdata/servicenow.csv", "-mapping", "servicenow", "-skip-invalid"}, 0,
			[]string{"] ordered maria.garcia@example.com", "] ordered priya.sharma@example.com",
				"batch: 3 rows: 2 ordered, 0 skipped (already in fulfillment), 0 failed, 1 invalid, 0 not ordered"},
			[]string{"line 4 lars.nilsson@example.com: invalid: secondEmail: required"}},
		// A header in any case, padded, with a byte order mark.
		{"workday header case", []string{"-csv", "testdata/workday-case.csv", "-mapping", "workday"}, 0,
			[]string{"] ordered amelie.dubois@example.com",
				"batch: 1 rows: 1 ordered, 0 skipped (already in fulfillment), 0 failed, 0 invalid, 0 not ordered"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout bytes.Buffer
			code, stderr := runBatchCmd(t, t.Context(), &stdout, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s\nstdout:\n%s", code, tc.code, stderr, stdout.String())
			}
			for _, w := range tc.wantStdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			var got []string
			if s := strings.TrimSpace(stderr); s != "" {
				got = strings.Split(s, "\n")
			}
			if diff := cmp.Diff(tc.wantStderr, got); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBatchUsage(t *testing.T) {
	t.Parallel()
	tokenFile := writeFile(t, "token", "00secret-token\n")
	// Okta attributes without primaryPhone and organization.
	someAttrs := writeFile(t, "some-attrs.csv", "login,firstName,lastName,email,streetAddress,city,zipCode,countryCode\n"+
		"ann@example.com,Ann,Lee,ann@example.com,1 Main St,Dedham,02026,US\n")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-h"}, 0, "usage: preenroll batch"},
		{nil, 2, "preenroll batch: -csv FILE is required"},
		{[]string{"-csv", "x", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"-csv", "x", "-mapping", "sap"}, 2, `-mapping "sap": want workday, servicenow or okta`},
		{[]string{"-csv", "x", "-concurrency", "0"}, 2, `-concurrency "0": want 1 to 64`},
		{[]string{"-csv", "x", "-okta-token-file", tokenFile}, 2, "-okta-token-file needs -okta-org"},
		{[]string{"-csv", "x", "-product", "0"}, 2, `preenroll batch: -product "0": must be a positive decimal integer`},
		{[]string{"-csv", "testdata/missing.csv"}, 1, "preenroll batch: testdata/missing.csv: open testdata/missing.csv: no such file"},
		{[]string{"-csv", "testdata/wrong-header.csv"}, 1, `line 1: the header must be the single column "login"`},
		{[]string{"-csv", "testdata/not-emails.csv"}, 1, "line 2 jdoe: invalid: the fake org refused the user: invalid profile: login: Does not match required pattern; email: Does not match required pattern\n" +
			"preenroll batch: 1 of 2 rows are bad; nobody was ordered"},
		{[]string{"-csv", "testdata/header-only.csv"}, 1, "preenroll batch: testdata/header-only.csv: no user rows after the header"},
		{[]string{"-csv", "testdata/empty.csv"}, 1, "the file is empty"},
		{[]string{"-csv", "testdata/workday.csv", "-mapping", "servicenow"}, 1, "preenroll batch: testdata/workday.csv: 11 problems:\n" +
			`  line 1, column "user_name": malformed HRIS export: mapped column missing from the header (mapping "servicenow")` + "\n" +
			`  line 1, column "email": malformed HRIS export: mapped column missing from the header (mapping "servicenow")` + "\n"},
		{[]string{"-csv", someAttrs}, 1,
			"preenroll batch: " + someAttrs + ": line 1: the header lacks primaryPhone, organization: a file of Okta profile attributes has the columns " +
				"login, email, firstName, lastName, primaryPhone, streetAddress, city, zipCode, countryCode, organization " +
				`(secondEmail and state may be left out; a cell may be empty), or is the single column "login"` + "\n"},
		{[]string{"-csv", "testdata/login-and-note.csv"}, 1, `line 1: the header must be the single column "login", or Okta profile attributes (login, firstName, lastName, email, ...), or give -mapping for an HRIS export; got "login,note"`},
		// Every problem at once.
		{[]string{"-okta-org", "https://example.okta.com", "-product", "x", "-concurrency", "99", "-mapping", "sap"}, 2,
			"preenroll batch: 6 problems with the settings:\n" +
				`  -concurrency "99": want 1 to 64` + "\n" +
				`  -mapping "sap": want workday, servicenow or okta` + "\n" +
				"  -okta-token-file (PREENROLL_OKTA_TOKEN_FILE), or -okta-client-id (PREENROLL_OKTA_CLIENT_ID) with -okta-private-key-file (PREENROLL_OKTA_PRIVATE_KEY_FILE) for an OAuth service app, is required with -okta-org\n" +
				"  -customization (PREENROLL_CUSTOMIZATION) is required with -okta-org\n" +
				`  -product "x": must be a positive decimal integer without sign or leading zeros` + "\n" +
				"  -csv FILE is required\n"},
	} {
		var stdout bytes.Buffer
		code, stderr := runBatchCmd(t, t.Context(), &stdout, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("run(%q) = %d, stderr:\n%s\nwant %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
		if strings.Contains(stderr+stdout.String(), "00secret-token") {
			t.Errorf("run(%q) printed the token", tc.args)
		}
	}
}

// cancelAfter is a stdout that cancels the run after n progress lines
// reporting an order: an interrupt from inside the progress callback.
type cancelAfter struct {
	mu     sync.Mutex
	n      int
	cancel context.CancelFunc
	buf    bytes.Buffer
}

func (c *cancelAfter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if bytes.Contains(p, []byte("] ordered ")) {
		if c.n--; c.n == 0 {
			c.cancel()
		}
	}
	return c.buf.Write(p)
}

// TestResume interrupts a batch against an org, runs it again with the
// same -state, and checks that every user was ordered exactly once at
// Okta; then a fulfillment Service sharing the state creates exactly one
// Yubico shipment per user.
func TestResume(t *testing.T) {
	t.Parallel()
	// The CLI orders at the World's Okta; the World's Service stays idle
	// (the CLI is under test) and a Service on the CLI's store ships.
	w := fulfillmenttest.New(t, fulfillmenttest.WithoutEventHook())
	osrv, ysrv := w.Okta, w.Yubico
	dir := t.TempDir()
	var logins []string
	for i := range 8 {
		login := fmt.Sprintf("user%d@example.com", i)
		p := addresses[i%len(addresses)]
		p.Login, p.Email, p.SecondEmail = login, login, fmt.Sprintf("user%d@home.example.net", i)
		p.FirstName, p.LastName, p.Organization = firstNames[i], lastNames[i], "Example Inc."
		w.AddUser(fulfillmenttest.User{Profile: p, Status: okta.UserStaged})
		logins = append(logins, login)
	}
	csvFile := filepath.Join(dir, "users.csv")
	if err := os.WriteFile(csvFile, []byte("login\n"+strings.Join(logins, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(osrv.Token()), 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state.db")
	args := []string{"-csv", csvFile, "-okta-org", osrv.URL(), "-okta-token-file", tokenFile, "-rp-id", testRPID, "-customization", "RXJN83",
		"-store", state, "-concurrency", "4"}

	ordered := func() map[string]int {
		n := map[string]int{}
		for _, e := range osrv.Events() {
			if e.EventType == okta.EventTypePreregisterInitiate {
				n[e.UserLogin]++
			}
		}
		return n
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &cancelAfter{n: 3, cancel: cancel}
	report1 := filepath.Join(dir, "report1.csv")
	code, stderr := runBatchCmd(t, ctx, out, append(args, "-report", report1)...)
	if code != 1 || !strings.Contains(stderr, "preenroll batch: interrupted (context canceled); rerun with the same -store to order the rest") {
		t.Fatalf("interrupted run: exit %d, stderr:\n%s\nstdout:\n%s", code, stderr, out.buf.String())
	}
	first := ordered()
	if len(first) < 3 || len(first) == len(logins) {
		t.Fatalf("after the interrupt %d users were ordered (%v), want at least 3 and not all", len(first), first)
	}
	results := map[string]int{}
	for _, r := range readReport(t, report1) {
		results[r[2]]++
	}
	if results[resultOrdered] != len(first) || results[resultNotOrdered] != len(logins)-len(first) {
		t.Errorf("interrupted run's report: %v, want %d ordered and the rest not-ordered", results, len(first))
	}

	var stdout bytes.Buffer
	report2 := filepath.Join(dir, "report2.csv")
	code, stderr = runBatchCmd(t, t.Context(), &stdout, append(args, "-report", report2)...)
	if code != 0 {
		t.Fatalf("rerun: exit %d, stderr:\n%s\nstdout:\n%s", code, stderr, stdout.String())
	}
	want := fmt.Sprintf("batch: 8 rows: %d ordered, %d skipped (already in fulfillment), 0 failed, 0 invalid, 0 not ordered",
		len(logins)-len(first), len(first))
	if !strings.Contains(stdout.String(), want) {
		t.Errorf("rerun stdout lacks %q:\n%s", want, stdout.String())
	}
	for _, r := range readReport(t, report2) {
		wantResult := resultOrdered
		if first[r[1]] > 0 {
			wantResult = resultSkipped
		}
		if r[2] != wantResult {
			t.Errorf("rerun report row %v, want result %s", r, wantResult)
		}
	}
	all := ordered()
	for _, l := range logins {
		if all[l] != 1 {
			t.Errorf("%s ordered %d times at Okta, want 1", l, all[l])
		}
	}

	// A Service running Sync on the same store ships one key per user.
	store, err := fulfillment.OpenSQLite(t.Context(), state)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg := w.Config
	cfg.Store = store
	svc, err := fulfillment.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := svc.Sync(t.Context())
	if err != nil || len(rep.Failures) != 0 {
		t.Fatalf("Sync = %+v, %v", rep, err)
	}
	perUser := map[string]int{}
	for _, sh := range ysrv.Shipments() {
		perUser[sh.RecipientEmail]++
	}
	if len(ysrv.Shipments()) != len(logins) {
		t.Errorf("%d Yubico shipments, want %d: %v", len(ysrv.Shipments()), len(logins), perUser)
	}
	for r, n := range perUser {
		if n != 1 {
			t.Errorf("%d shipments to %s, want 1", n, r)
		}
	}
}

func TestProgressBar(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := &progress{w: &buf, tty: true, total: 4}
	p.update(fulfillment.Progress{Total: 4, Done: 1, Ordered: 1})
	p.update(fulfillment.Progress{Total: 4, Done: 4, Ordered: 2, Skipped: 1, Failed: 1})
	p.done()
	want := "\r[#######.......................] 1/4  ordered 1  skipped 0  failed 0" +
		"\r[##############################] 4/4  ordered 2  skipped 1  failed 1\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("bar (-want +got):\n%s", diff)
	}
	if newProgress(&buf, 1).tty {
		t.Error("a buffer is a terminal")
	}
}

// TestInvalidAtOkta: rows Okta cannot order for (an unknown login, a
// profile without an address) are reported with their lines, and by
// default nobody is ordered; with -skip-invalid the good row is.
func TestInvalidAtOkta(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	good := addresses[0]
	good.Login, good.Email, good.SecondEmail = "good@example.com", "good@example.com", "good@home.example.net"
	good.FirstName, good.LastName, good.Organization = "Good", "User", "Example Inc."
	if _, err := srv.AddUser(good, okta.UserStaged); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.AddUser(okta.Profile{Login: "noaddr@example.com", Email: "noaddr@example.com", FirstName: "No", LastName: "Address"}, okta.UserActive); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	csvFile := filepath.Join(dir, "users.csv")
	if err := os.WriteFile(csvFile, []byte("login\ngood@example.com\nghost@example.com\nnoaddr@example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(srv.Token()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-csv", csvFile, "-okta-org", srv.URL(), "-okta-token-file", tokenFile, "-rp-id", testRPID, "-customization", "RXJN83"}

	var stdout bytes.Buffer
	code, stderr := runBatchCmd(t, t.Context(), &stdout, args...)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if code != 1 || len(lines) != 3 ||
		!strings.HasPrefix(lines[0], "line 3 ghost@example.com: invalid: Okta: HTTP 404 E0000007: Not found") || !strings.Contains(lines[0], "(Okta request ID ") ||
		lines[1] != "line 4 noaddr@example.com: invalid: organization: required; secondEmail: required; primaryPhone: required; streetAddress: required; city: required; zipCode: required; countryCode: required" ||
		lines[2] != "preenroll batch: 2 of 3 rows are bad; nobody was ordered (fix them, or use -skip-invalid to order the valid rows)" {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	if n := len(srv.Events()); n != 0 {
		t.Errorf("%d events at Okta, want none", n)
	}
	if strings.Contains(stderr+stdout.String(), srv.Token()) {
		t.Error("the token was printed")
	}

	stdout.Reset()
	code, stderr = runBatchCmd(t, t.Context(), &stdout, append(args, "-skip-invalid")...)
	if code != 0 || !strings.Contains(stdout.String(), "[1/1] ordered good@example.com: Fulfillment started") ||
		!strings.Contains(stdout.String(), "batch: 3 rows: 1 ordered, 0 skipped (already in fulfillment), 0 failed, 2 invalid, 0 not ordered") {
		t.Errorf("-skip-invalid: exit %d, stdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr)
	}
	if evs := srv.Events(); len(evs) != 1 || evs[0].UserLogin != "good@example.com" {
		t.Errorf("events %+v, want one order for good@example.com", evs)
	}
}

// TestOktaAttributeCSV runs CSVs whose header is Okta's own profile
// attribute names, found by the header without -mapping (in any case,
// padded, after a byte order mark, with a column batch does not use),
// against the fakes, where their users are new hires.
func TestOktaAttributeCSV(t *testing.T) {
	t.Parallel()
	ordered := []string{"jan.lindberg", "lena.vogel", "sigrun.jonsdottir", "wanjiru.kamau"}
	for _, args := range [][]string{{"-csv", "testdata/okta.csv"}, {"-csv", "testdata/okta.csv", "-mapping", "okta"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			report := filepath.Join(t.TempDir(), "report.csv")
			var stdout bytes.Buffer
			code, stderr := runBatchCmd(t, t.Context(), &stdout, append(args, "-report", report)...)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr:\n%s\nstdout:\n%s", code, stderr, stdout.String())
			}
			if want := "batch: 4 rows: 4 ordered, 0 skipped (already in fulfillment), 0 failed, 0 invalid, 0 not ordered"; !strings.Contains(stdout.String(), want) {
				t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
			}
			var want [][]string
			for i, l := range ordered {
				want = append(want, []string{fmt.Sprint(i + 2), l + "@example.com", "ordered", "FULFILLMENT_STARTED", ""})
			}
			if diff := cmp.Diff(want, readReport(t, report)); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSeedProblem: the reason a seed failed is taken from the fake's
// *oktatest.AddUserError (wrapped or not), never cut from its text; any
// other error is given whole.
func TestSeedProblem(t *testing.T) {
	t.Parallel()
	invalid := &oktatest.AddUserError{Login: "jan", Causes: []string{"login: Does not match required pattern", "email: Does not match required pattern"}}
	taken := &oktatest.AddUserError{Login: "ada@example.com", Exists: true}
	var got, want []string
	for _, tc := range []struct {
		err  error
		want string
	}{
		{invalid, "invalid profile: login: Does not match required pattern; email: Does not match required pattern"},
		{fmt.Errorf("seed: %w", taken), `login "ada@example.com" already exists`},
		{fmt.Errorf("oktatest: AddUser: something else"), "oktatest: AddUser: something else"},
	} {
		got, want = append(got, seedProblem(tc.err)), append(want, tc.want)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("seedProblem (-want +got):\n%s", diff)
	}
}

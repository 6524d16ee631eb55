package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/internal/httpclient"
	"github.com/preenroll/preenroll/internal/testclock"
	"github.com/preenroll/preenroll/okta"
)

// Logins with escape sequences (a colour, an OSC window title, a bidi
// override) are printed escaped, on the terminal and in the report.
func TestControlCharactersEscaped(t *testing.T) {
	t.Parallel()
	csvFile := writeFile(t, "users.csv", "login\n\"\x1b[31mred@example.com\"\n\"\x1b]0;pwned\x07osc@example.com\"\n\"\u202egnp.exe@example.com\"\njan@example.com\n")
	reportFile := filepath.Join(t.TempDir(), "report.csv")
	r := runCLI(t, "batch", "-csv", csvFile, "-report", reportFile)
	if r.code != ExitFailed {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	want := []string{
		`line 2 "\x1b[31mred@example.com": invalid: login contains white space or control characters`,
		`line 3 "\x1b]0;pwned\aosc@example.com": invalid: login contains white space or control characters`,
		`line 4 "\u202egnp.exe@example.com": invalid: login contains white space or control characters`,
		"preenroll batch: 3 of 4 rows are bad; nobody was ordered (fix them, or use -skip-invalid to order the valid rows)",
		"(none)",
	}
	got := append(lines(r.stderr), "(none)")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
	data, err := os.ReadFile(reportFile)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsAny(data, "\x1b\x07") || bytes.Contains(data, []byte("\u202e")) {
		t.Errorf("the report holds raw control characters:\n%q", data)
	}
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5 || recs[1][1] != `"\x1b[31mred@example.com"` {
		t.Errorf("report rows %q", recs)
	}

	// A user argument with escape sequences is refused, escaped.
	o := newOrg(t)
	r = runCLI(t, append([]string{"order", "-user", "\x1b]0;pwned\x07jan@example.com", "-customization", "C1"}, o.args()...)...)
	if r.code != ExitFailed || strings.ContainsAny(r.stderr+r.stdout, "\x1b\x07") || !strings.Contains(r.stderr, `\x1b]0;pwned\ajan@example.com`) {
		t.Errorf("order: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestDescribeEscapes: text from Okta (an error summary naming a value)
// reaches the terminal escaped.
func TestDescribeEscapes(t *testing.T) {
	err := fmt.Errorf("fulfillment: order: %w", &okta.APIError{Op: "get user", StatusCode: 404, ErrorCode: "E0000007",
		ErrorSummary: "Not found: Resource not found: \x1b[2J\x1b]0;x\x07jan (User)", RequestID: "req1"})
	got := describe(t.Context(), err)
	if strings.ContainsAny(got, "\x1b\x07") || !strings.Contains(got, `\x1b[2J`) || !strings.Contains(got, "Okta request ID req1") {
		t.Errorf("describe = %q", got)
	}
	var b strings.Builder
	report(t.Context(), &b, "preenroll order", err)
	if strings.ContainsAny(b.String(), "\x1b\x07") {
		t.Errorf("report = %q", b.String())
	}
}

// TestDescribeToken: Okta's refusal of a token request reads the same
// wherever it is reported (describe, doctor's lines, sync's catch-up):
// what was asked for, status, error code, description, the hint given,
// the request ID; quoted for the terminal when Okta's text holds an
// escape.
func TestDescribeToken(t *testing.T) {
	t.Parallel()
	te := &okta.TokenError{Op: "list users", StatusCode: 400, ErrorCode: "invalid_scope",
		Description: "The following scopes are not granted to the client: okta.logs.read\x1b[2J", RequestID: "req1"}
	noID := &okta.TokenError{Op: "list users", StatusCode: 401, ErrorCode: "invalid_client", Description: "The client_assertion signature is invalid."}
	for _, tc := range []struct {
		name, asked, hint string
		te                *okta.TokenError
		want              string
	}{
		{"describe's", "", tokenHints["invalid_scope"], te,
			`"Okta refused the service app's token request: HTTP 400 invalid_scope: The following scopes are not granted to the client: okta.logs.read\x1b[2J` +
				` (grant the scopes to the app in Okta, or ask for fewer with -okta-scopes) (Okta request ID req1)"`},
		{"a scope, no hint", "for okta.logs.read", "", te,
			`"Okta refused the service app a token for okta.logs.read: HTTP 400 invalid_scope: The following scopes are not granted to the client: okta.logs.read\x1b[2J (Okta request ID req1)"`},
		{"no request ID", "", "", noID, "Okta refused the service app's token request: HTTP 401 invalid_client: The client_assertion signature is invalid."},
	} {
		if diff := cmp.Diff(tc.want, describeToken(tc.te, tc.asked, tc.hint)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	if got, want := describe(t.Context(), fmt.Errorf("okta: list users: %w", te)), describeToken(te, "", tokenHints["invalid_scope"]); got != want {
		t.Errorf("describe = %q, want describeToken's %q", got, want)
	}
}

// TestBatchOktaUnreachable: every row fails with "Okta unreachable" (not
// "invalid, fix them"), with one notice per retry, after one user's
// retries rather than every user's.
func TestBatchOktaUnreachable(t *testing.T) {
	t.Parallel()
	org := unreachableURL(t)
	token := writeFile(t, "token", "00token")
	reportFile := filepath.Join(t.TempDir(), "report.csv")
	clock := testclock.New(time.Time{})
	r := invocation{clock: clock}.run(t, "batch", "-csv", "testdata/logins.csv", "-okta-org", org, "-okta-token-file", token, "-rp-id", testRPID,
		"-customization", "C1", "-report", reportFile)
	if r.code != ExitFailed || strings.Contains(r.stderr, "invalid") || strings.Contains(r.stderr, "fix them") ||
		!strings.Contains(r.stdout, "batch: 6 rows: 0 ordered, 0 skipped (already in fulfillment), 6 failed, 0 invalid, 0 not ordered") ||
		!strings.Contains(r.stderr, "line 2 jan.lindberg@example.com: failed: Okta unreachable: ") ||
		!strings.Contains(r.stderr, "preenroll batch: Okta is unreachable; nobody was ordered; run the batch again when it is back") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if len(clock.Sleeps()) != 3 || strings.Count(r.stderr, "connection refused; retrying in ") != 3 {
		t.Errorf("%d waits, want the 3 retries of one look-up; stderr:\n%s", len(clock.Sleeps()), r.stderr)
	}
	data, err := os.ReadFile(reportFile)
	if err != nil {
		t.Fatal(err)
	}
	if n, m := strings.Count(string(data), `,failed,,"Okta unreachable: `), strings.Count(string(data), ",failed,,not checked: Okta unreachable (see line 2)"); n != 1 || m != 5 {
		t.Errorf("%d failed rows in the report, want 6:\n%s", n, data)
	}
}

// TestBatchOktaDownMidway: rows Okta stops answering for during the
// look-ups fail; they are not reported as bad.
func TestBatchOktaDownMidway(t *testing.T) {
	t.Parallel()
	o := newOrg(t)
	for _, l := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		o.addUser(t, l)
	}
	target, err := url.Parse(o.srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var n atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "c@example.com") && n.Add(1) > 1 {
			http.Error(w, "down", http.StatusServiceUnavailable) // the look-up before the batch passes
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	csvFile := writeFile(t, "users.csv", "login\nc@example.com\na@example.com\nb@example.com\n")
	r := runCLI(t, "batch", "-csv", csvFile, "-okta-org", front.URL, "-okta-token-file", o.tokenFile, "-rp-id", testRPID, "-customization", "C1", "-concurrency", "1")
	if r.code != ExitFailed || strings.Contains(r.stderr, "invalid") ||
		!strings.Contains(r.stderr, "line 2 c@example.com: failed: Okta unreachable: ") ||
		!strings.Contains(r.stdout, "batch: 3 rows: 0 ordered, 0 skipped (already in fulfillment), 1 failed, 0 invalid, 2 not ordered") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if len(o.srv.Events()) != 0 {
		t.Error("something was ordered")
	}
}

// TestBatchInterruptDuringLookups: the first Ctrl-C while users are being
// looked up ends the batch at once; nobody is ordered.
func TestBatchInterruptDuringLookups(t *testing.T) {
	t.Parallel()
	o := newOrg(t)
	for _, l := range []string{"a@example.com", "b@example.com"} {
		o.addUser(t, l)
	}
	target, err := url.Parse(o.srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	blocked := make(chan struct{})
	var once atomic.Bool
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "b@example.com") {
			if once.CompareAndSwap(false, true) {
				close(blocked)
			}
			<-r.Context().Done() // Okta is slow to answer this one
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		<-blocked
		cancel() // Ctrl-C
	}()
	csvFile := writeFile(t, "users.csv", "login\na@example.com\nb@example.com\n")
	r := invocation{ctx: ctx}.run(t, "batch", "-csv", csvFile, "-okta-org", front.URL, "-okta-token-file", o.tokenFile, "-rp-id", testRPID, "-customization", "C1")
	if r.code != ExitFailed || !strings.Contains(r.stderr, "preenroll batch: interrupted (context canceled)") ||
		!strings.Contains(r.stdout, "batch: 2 rows: 0 ordered, 0 skipped (already in fulfillment), 0 failed, 0 invalid, 2 not ordered") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if len(o.srv.Events()) != 0 {
		t.Error("something was ordered after the interrupt")
	}
}

// A wait the wall clock refuses (it would pass the command's deadline) is
// reported as not made, not as "retrying in"; one inside the deadline is
// reported as before (see TestWaitReporterReasons).
func TestWaitReporterRefusedWait(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	const problem = "Okta answered GET /x with HTTP 503"
	for _, tc := range []struct {
		name    string
		why     httpclient.WaitReason
		problem string
		wait    time.Duration
		want    string
		refused bool
	}{
		{"reset, inside", httpclient.WaitReset, "", time.Millisecond, "", false}, // under a second: not announced
		{"reset, past", httpclient.WaitReset, "", time.Hour, "preenroll: not waiting 1h0m0s for Okta's rate limit to reset: that is past the command's deadline\n", true},
		{"pacing, past", httpclient.WaitPacing, "", time.Hour, "preenroll: not waiting 1h0m0s to pace requests within Okta's rate limit: that is past the command's deadline\n", true},
		{"retry, inside", httpclient.WaitRetry, problem, time.Millisecond, "preenroll: " + problem + "; retrying in 1ms\n", false},
		{"retry, past", httpclient.WaitRetry, problem, time.Hour, "preenroll: " + problem + "; not retrying in 1h0m0s: that is past the command's deadline\n", true},
		{"429, past", httpclient.WaitRateLimited, "", time.Hour, "preenroll: Okta refused a request with HTTP 429 (rate limit); not retrying in 1h0m0s: that is past the command's deadline\n", true},
		{"not told, past", httpclient.WaitUnknown, problem, time.Hour, "preenroll: not waiting 1h0m0s before the next request to Okta: that is past the command's deadline\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			r := &waitReporter{service: "Okta", w: &out, clock: httpclient.WallClock{}, problem: tc.problem}
			err := r.Sleep(httpclient.WithWaitReason(ctx, tc.why), tc.wait)
			if diff := cmp.Diff(tc.want, out.String()); diff != "" {
				t.Errorf("printed (-want +got):\n%s", diff)
			}
			if got := errors.Is(err, httpclient.ErrPastDeadline); got != tc.refused || (!tc.refused && err != nil) {
				t.Errorf("Sleep = %v; want refused %v", err, tc.refused)
			}
		})
	}
}

// Each wait is announced for the reason the client gives, not guessed from
// its last problem. The okta client paces a batch's requests over Okta's
// rate-limit window, waiting a little before most of them: that is
// announced once a command, however long the waits (below one request a
// second they are longer than a second each, and are no resets). A wait
// for the window's reset is announced once, not again by each request
// waiting for the same reset; so is a 429's, which the client's other
// requests wait out too. A retry is announced with the last problem, or
// without one when another request's success cleared it.
func TestWaitReporterReasons(t *testing.T) {
	t.Parallel()
	const (
		retry = "Okta answered POST /x with HTTP 429"
		other = "Okta answered POST /y with HTTP 503"
		down  = "Okta answered POST /x with HTTP 503"
	)
	var (
		pacing      = httpclient.WaitPacing
		reset       = httpclient.WaitReset
		rateLimited = httpclient.WaitRateLimited
		again       = httpclient.WaitRetry
		pacingLine  = "pacing requests to stay within Okta's rate limit (waits before most requests)"
	)
	type sleep struct {
		at      time.Duration // when the wait starts, from the test's start
		why     httpclient.WaitReason
		problem string
		wait    time.Duration
	}
	for _, tc := range []struct {
		name   string
		sleeps []sleep
		want   []string
	}{
		{"pacing", []sleep{{0, pacing, "", 100 * time.Millisecond}, {100 * time.Millisecond, pacing, "", 250 * time.Millisecond}, {time.Second, pacing, "", 999 * time.Millisecond}},
			[]string{pacingLine}},
		{"pacing below one request a second", []sleep{{0, pacing, "", 1500 * time.Millisecond}, {1500 * time.Millisecond, pacing, "", 1500 * time.Millisecond},
			{3 * time.Second, pacing, "", 1500 * time.Millisecond}, {4500 * time.Millisecond, pacing, "", 2 * time.Second}},
			[]string{pacingLine}},
		{"pacing, then a reset", []sleep{{0, pacing, "", 300 * time.Millisecond}, {time.Second, reset, "", 10 * time.Second}, {11 * time.Second, pacing, "", 300 * time.Millisecond}},
			[]string{pacingLine, "waiting 10s for Okta's rate limit to reset"}},
		{"one reset, four requests", []sleep{{0, reset, "", 10 * time.Second}, {10 * time.Millisecond, reset, "", 9990 * time.Millisecond},
			{20 * time.Millisecond, reset, "", 9980 * time.Millisecond}, {500 * time.Millisecond, reset, "", 9600 * time.Millisecond}},
			[]string{"waiting 10s for Okta's rate limit to reset"}},
		{"reset after reset", []sleep{{0, reset, "", 10 * time.Second}, {10 * time.Second, reset, "", 10 * time.Second}},
			[]string{"waiting 10s for Okta's rate limit to reset", "waiting 10s for Okta's rate limit to reset"}},
		{"one 429, four requests waiting", []sleep{{0, rateLimited, retry, 3 * time.Second}, {10 * time.Millisecond, rateLimited, retry, 3200 * time.Millisecond},
			{20 * time.Millisecond, rateLimited, retry, 2500 * time.Millisecond}, {30 * time.Millisecond, rateLimited, "", 3900 * time.Millisecond}},
			[]string{retry + "; retrying in 3s"}},
		{"a 429 whose problem another request's success cleared", []sleep{{0, rateLimited, "", 500 * time.Millisecond}},
			[]string{"Okta refused a request with HTTP 429 (rate limit); retrying in 500ms"}},
		{"a 429, then the window's reset", []sleep{{0, rateLimited, retry, 3 * time.Second}, {time.Second, reset, "", 2500 * time.Millisecond}, {4 * time.Second, reset, "", 60 * time.Second}},
			[]string{retry + "; retrying in 3s", "waiting 1m0s for Okta's rate limit to reset"}},
		{"retry after retry", []sleep{{0, again, down, 50 * time.Millisecond}, {100 * time.Millisecond, again, down, 100 * time.Millisecond}},
			[]string{down + "; retrying in 50ms", down + "; retrying in 100ms"}},
		{"retries of different requests", []sleep{{0, again, down, 50 * time.Millisecond}, {10 * time.Millisecond, again, other, 50 * time.Millisecond}},
			[]string{down + "; retrying in 50ms", other + "; retrying in 50ms"}},
		{"one outage, two requests retried together", []sleep{{0, again, down, 2 * time.Second}, {10 * time.Millisecond, again, down, 2 * time.Second}},
			[]string{down + "; retrying in 2s"}},
		{"a later wait after the same problem", []sleep{{0, again, down, 3 * time.Second}, {10 * time.Millisecond, again, down, 5 * time.Second}},
			[]string{down + "; retrying in 3s", down + "; retrying in 5s"}},
		{"a retry whose problem another request's success cleared", []sleep{{0, again, "", 2 * time.Second}},
			[]string{"a request to Okta failed; retrying in 2s"}},
		{"not told why", []sleep{{0, httpclient.WaitUnknown, down, 100 * time.Millisecond}, {time.Second, httpclient.WaitUnknown, "", 5 * time.Second}},
			[]string{"waiting 5s before the next request to Okta"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			clock := &concurrentClock{}
			r := &waitReporter{service: "Okta", w: &out, clock: clock}
			for _, s := range tc.sleeps {
				clock.now = testStart.Add(s.at)
				r.problem = s.problem
				if err := r.Sleep(httpclient.WithWaitReason(t.Context(), s.why), s.wait); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for line := range strings.Lines(out.String()) {
				got = append(got, strings.TrimPrefix(strings.TrimSuffix(line, "\n"), "preenroll: "))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("printed (-want +got):\n%s", diff)
			}
		})
	}
}

// concurrentClock stands for the clock of requests waiting at the same
// time: Sleep returns at once, and the test sets when each wait starts.
type concurrentClock struct{ now time.Time }

func (c *concurrentClock) Now() time.Time                                   { return c.now }
func (c *concurrentClock) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/internal/testclock"
	"github.com/preenroll/preenroll/okta"
)

func TestOrderOnFakes(t *testing.T) {
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
			r := runCLI(t, append([]string{"order"}, tc.args...)...)
			if r.code != ExitOK {
				t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
		})
	}
}

// TestOrderBadProfileListsEveryField: every problem of the profile, each
// value as it was typed ("Mass.", not the normalised "MASS.").
func TestOrderBadProfileListsEveryField(t *testing.T) {
	t.Parallel()
	r := runCLI(t, "order", "-profile", "testdata/bad-profile.json")
	if r.code != ExitFailed {
		t.Fatalf("exit %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	want := []string{
		"preenroll order: the user's Okta profile cannot be shipped to (6 problems):",
		"  organization: required",
		"  secondEmail: required",
		`  primaryPhone "12": too short for +1 (US)`,
		"  streetAddress: required",
		`  state "Mass.": must be a two-letter USPS code for US`,
		`  zipCode "2026": not a valid US postal code (like "12345 or 12345-6789")`,
	}
	if diff := cmp.Diff(want, lines(r.stderr)); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
	if strings.Contains(r.stdout, "ordered") {
		t.Errorf("stdout says ordered:\n%s", r.stdout)
	}
}

func TestOrderBadProfileFile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ file, want string }{
		{"testdata/not-a-profile.json", "preenroll order: -profile testdata/not-a-profile.json: not an Okta profile JSON object"},
		{"testdata/missing.json", "preenroll order: -profile: open testdata/missing.json: no such file"},
	} {
		r := runCLI(t, "order", "-profile", tc.file)
		if r.code != ExitFailed || !strings.HasPrefix(r.stderr, tc.want) {
			t.Errorf("-profile %s: exit %d, stderr %q; want 1 and %q", tc.file, r.code, r.stderr, tc.want)
		}
	}
}

// TestOrderFakeRefusesSeed: on the fakes, a -user or -profile the fake org
// cannot hold is reported by the flag that gave it, not by the fake's call.
func TestOrderFakeRefusesSeed(t *testing.T) {
	t.Parallel()
	profile := writeFile(t, "no-names.json", `{"login":"ann@example.com","countryCode":"US"}`)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"login not an email", []string{"-user", "jan"},
			`preenroll order: -user "jan": the in-process fake org cannot seed this user: invalid profile: login: Does not match required pattern; email: Does not match required pattern` + "\n"},
		{"profile without names", []string{"-profile", profile},
			"preenroll order: -profile " + profile + ": the in-process fake org cannot seed this user: invalid profile: email: The field cannot be left blank; firstName: The field cannot be left blank; lastName: The field cannot be left blank\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, append([]string{"order"}, tc.args...)...)
			if r.code != ExitFailed {
				t.Errorf("exit %d, want %d", r.code, ExitFailed)
			}
			if diff := cmp.Diff(tc.want, r.stderr); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
		})
	}
}

// TestOrderAgainstOrg runs order against an Okta org given with -okta-org
// (the fake, reached over HTTP like a real one).
func TestOrderAgainstOrg(t *testing.T) {
	t.Parallel()
	o := newOrg(t)
	u := o.addUser(t, "jan@example.com")
	base := append(o.args(), "-customization", "RXJN83")

	// Unknown user: Okta's 404 with status, errorCode, summary and request ID.
	r := runCLI(t, append([]string{"order", "-user", "nobody@example.com"}, base...)...)
	if r.code != ExitFailed || !strings.Contains(r.stderr, "preenroll order: Okta refused (get user): HTTP 404 E0000007: Not found: Resource not found: nobody@example.com (User)") ||
		!strings.Contains(r.stderr, "Okta request ID: ") {
		t.Errorf("unknown user: exit %d, stderr:\n%s", r.code, r.stderr)
	}

	// A wrong token: 401, and the token is not printed.
	const wrong = "00wrong-token-value-0123456789"
	wrongFile := writeFile(t, "wrong.token", wrong)
	r = runCLI(t, "order", "-user", u.ID, "-okta-org", o.srv.URL(), "-okta-token-file", wrongFile, "-rp-id", testRPID, "-customization", "RXJN83")
	if r.code != ExitFailed || !strings.Contains(r.stderr, "HTTP 401 E0000011") || strings.Contains(r.stderr+r.stdout, wrong) {
		t.Errorf("wrong token: exit %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
	}

	// By ID, recorded in a store: ordered.
	store := filepath.Join(t.TempDir(), "orders.db")
	withStore := append(base, "-store", store)
	r = runCLI(t, append([]string{"order", "-user", u.ID, "-v"}, withStore...)...)
	if r.code != ExitOK || !strings.Contains(r.stdout, "ordered a YubiKey for jan@example.com ("+u.ID+"): Fulfillment started") ||
		!strings.Contains(r.stdout, "relying party "+testRPID) {
		t.Fatalf("order: exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, `msg="fulfillment: intent"`) {
		t.Errorf("-v logged no intent:\n%s", r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, o.srv.Token()) {
		t.Error("the token was printed or logged")
	}
	events := o.srv.Events()
	if len(events) != 1 || events[0].EventType != okta.EventTypePreregisterInitiate || events[0].UserID != u.ID ||
		events[0].Order != (okta.FulfillmentOrder{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"}) {
		t.Errorf("events = %+v", events)
	}

	// By login, again: the store knows the key is in fulfillment.
	r = runCLI(t, append([]string{"order", "-user", "jan@example.com"}, withStore...)...)
	if r.code != ExitFailed || !strings.HasPrefix(r.stderr, "preenroll order: not ordered: ") || !strings.Contains(r.stderr, "already in fulfillment") {
		t.Errorf("second order: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if n := len(o.srv.Events()); n != 1 {
		t.Errorf("%d events after the refused order, want 1", n)
	}
}

// TestOrderWithoutStoreAsksOkta: without -store, a user whose key the
// service has enrolled is refused because Okta lists the enrollment in
// fulfillment, not ordered again.
func TestOrderWithoutStoreAsksOkta(t *testing.T) {
	t.Parallel()
	w := fulfillmenttest.New(t, fulfillmenttest.WithoutEventHook(), fulfillmenttest.WithUsers(fulfillmenttest.NewHire("jan")))
	o := org{srv: w.Okta, tokenFile: writeFile(t, "okta.token", w.Okta.Token())}
	args := append([]string{"order", "-user", "jan@example.com", "-customization", "RXJN83"}, o.args()...)
	r := runCLI(t, args...)
	if r.code != ExitOK || !strings.Contains(r.stdout, "Without -store this order is recorded nowhere but at Okta") {
		t.Fatalf("first order: exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	// The service, with its own store, enrolls the key at Okta.
	if _, err := w.Service.Order(t.Context(), "jan@example.com", fulfillment.Item{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"}); err != nil {
		t.Fatal(err)
	}
	w.Sync(t.Context())
	r = runCLI(t, args...)
	if r.code != ExitFailed || !strings.Contains(r.stderr, "preenroll order: not ordered: ") ||
		!strings.Contains(r.stderr, "is FULFILLMENT_PENDING") || strings.Contains(r.stdout, "ordered a YubiKey") {
		t.Errorf("second order without -store: exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestOrderUnresponsiveOrg: against an org that accepts connections but
// never answers, order says what it is waiting for, and an interrupt ends
// it at once.
func TestOrderUnresponsiveOrg(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 16)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	}))
	defer hang.Close()
	token := writeFile(t, "token", "00token")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	waiting := &notify{want: "waiting for Okta to answer GET /api/v1/users/jan@example.com", seen: make(chan struct{})}
	go func() {
		<-waiting.seen
		cancel() // the administrator presses Ctrl-C
	}()
	r := invocation{ctx: ctx, stderr: waiting, slow: time.Millisecond}.run(t,
		"order", "-user", "jan@example.com", "-customization", "RXJN83", "-okta-org", hang.URL, "-okta-token-file", token, "-rp-id", testRPID)
	if r.code != ExitFailed || !strings.Contains(r.stderr, "preenroll: waiting for Okta to answer GET /api/v1/users/jan@example.com: no answer after 1ms (each try gives up after 30s)") ||
		!strings.Contains(r.stderr, "preenroll order: interrupted") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// TestOrderUnreachableOrg: a refused connection is retried, and every
// retry says why and how long it waits.
func TestOrderUnreachableOrg(t *testing.T) {
	t.Parallel()
	url := unreachableURL(t)
	token := writeFile(t, "token", "00token")
	clock := testclock.New(time.Time{})
	r := invocation{clock: clock}.run(t, "order", "-user", "jan@example.com", "-customization", "RXJN83", "-okta-org", url, "-okta-token-file", token, "-rp-id", testRPID)
	notices := 0
	for _, l := range lines(r.stderr) {
		if strings.HasPrefix(l, "preenroll: Okta GET /api/v1/users/jan@example.com failed: ") && strings.Contains(l, "connection refused; retrying in ") {
			notices++
		}
	}
	if r.code != ExitFailed || notices != 3 || len(clock.Sleeps()) != 3 ||
		!strings.Contains(r.stderr, "preenroll order: Okta unreachable: ") || !strings.Contains(r.stderr, "get user: attempt 4: ") {
		t.Errorf("exit %d, %d retry notices, %d waits; stderr:\n%s", r.code, notices, len(clock.Sleeps()), r.stderr)
	}
}

// notify is a writer that closes seen once want was written.
type notify struct {
	mu   sync.Mutex
	want string
	buf  strings.Builder
	seen chan struct{}
	done bool
}

func (n *notify) Write(p []byte) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.buf.Write(p)
	if !n.done && strings.Contains(n.buf.String(), n.want) {
		n.done = true
		close(n.seen)
	}
	return len(p), nil
}

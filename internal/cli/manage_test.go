package cli

import (
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/internal/pgtest"
	"github.com/preenroll/preenroll/okta"
)

// TestManageLifecycle orders a key with a store and then manages it with
// every admin command against a fake org and a fake Yubico reached over
// HTTP, as a real deployment is.
func TestManageLifecycle(t *testing.T) {
	t.Parallel()
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		manageLifecycle(t, filepath.Join(t.TempDir(), "keys.db"))
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		_, url := pgtest.Schema(t, "cli_test")
		manageLifecycle(t, url)
	})
}

// manageLifecycle is TestManageLifecycle on the store -store names.
func manageLifecycle(t *testing.T, store string) {
	// The World's fakes, reached over HTTP; the commands are the only
	// Service here (the World's own Service is not used).
	w := fulfillmenttest.New(t, fulfillmenttest.WithoutEventHook(), fulfillmenttest.WithUsers(fulfillmenttest.NewHire("jan")))
	u := w.User("jan@example.com")
	o := org{srv: w.Okta, tokenFile: writeFile(t, "okta.token", w.Okta.Token())}
	ysrv := w.Yubico
	yubicoToken := writeFile(t, "yubico.token", ysrv.Token()+"\n")
	env := map[string]string{
		"PREENROLL_OKTA_ORG": o.srv.URL(), "PREENROLL_OKTA_TOKEN_FILE": o.tokenFile, "PREENROLL_STORE": store,
		"PREENROLL_YUBICO_API": ysrv.URL(), "PREENROLL_YUBICO_JWKS": ysrv.ConsoleURL(), "PREENROLL_YUBICO_TOKEN_FILE": yubicoToken,
		"PREENROLL_CUSTOMIZATION": "RXJN83", "PREENROLL_RP_ID": testRPID,
	}
	iv := invocation{env: env}
	step := func(want int, wantOut string, args ...string) result {
		t.Helper()
		r := iv.run(t, args...)
		if r.code != want || !strings.Contains(r.stdout+r.stderr, wantOut) {
			t.Fatalf("%q: exit %d (want %d), want %q; stdout:\n%s\nstderr:\n%s", args, r.code, want, wantOut, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, o.srv.Token()) || strings.Contains(r.stdout+r.stderr, ysrv.Token()) {
			t.Fatalf("%q printed a token", args)
		}
		return r
	}

	step(ExitOK, "no records in the store", "status")
	step(ExitOK, "no record in the store; Okta lists 0 preregistered enrollments", "status", "jan@example.com")
	r := step(ExitFailed, "preenroll status ghost@example.com: Okta refused (get user): HTTP 404 E0000007", "status", "ghost@example.com")
	if !strings.Contains(r.stderr, "Okta request ID: ") {
		t.Errorf("no request ID:\n%s", r.stderr)
	}
	step(ExitOK, "ordered a YubiKey for jan@example.com", "order", "-user", "jan@example.com")
	step(ExitOK, "jan@example.com ("+u.ID+"): Fulfillment started, step initiated, attempt 1", "status", u.ID)
	step(ExitFailed, "preenroll resend-pin jan@example.com: fulfillment: resend PIN", "resend-pin", "jan@example.com")
	step(ExitFailed, "invalid status transition", "retry", "jan@example.com")

	// Sync enrolls and ships; the fake factory programs and ships the key.
	step(ExitOK, "sync: 1 records in flight checked: 1 advanced", "sync")
	r = step(ExitOK, "Fulfillment started", "status", "jan@example.com")
	if !strings.Contains(r.stdout, "Yubico shipment ") || !strings.Contains(r.stdout, "Okta enrollment ") {
		t.Errorf("status after sync:\n%s", r.stdout)
	}
	w.AdvanceClockTo(fulfillmenttest.Shipped)
	// The fakes' clocks moved, the CLI's did not: the shipment's next poll
	// is not due for sync; check polls at once.
	r = step(ExitOK, "sync: 0 records in flight checked: 0 advanced", "sync")
	if !strings.Contains(r.stdout, "; 1 not due (see check)") {
		t.Errorf("sync does not count the record not due:\n%s", r.stdout)
	}
	step(ExitOK, "Shipped", "check", "jan@example.com")
	step(ExitOK, "Shipped", "status", "jan@example.com")
	statusJSONShipped(t, step, w.Okta.Enrollments(u.ID), env)
	pins := func() int {
		n := 0
		for _, m := range o.srv.Outbox() {
			if m.Subject == "Your YubiKey PIN" {
				n++
			}
		}
		return n
	}
	before := pins()
	step(ExitOK, "Shipped", "resend-pin", "jan@example.com")
	if pins() != before+1 {
		t.Errorf("%d PIN emails after resend-pin, want %d", pins(), before+1)
	}
	step(ExitOK, "Deleted", "delete", "jan@example.com")
	step(ExitOK, "Deleted", "status")

	// Without the Yubico token: order-only mode. status works; sync is
	// refused before anything runs.
	delete(env, "PREENROLL_YUBICO_TOKEN_FILE")
	step(ExitOK, "Deleted", "status", "jan@example.com")
	step(ExitUsage, "-yubico-token-file (PREENROLL_YUBICO_TOKEN_FILE) is required for sync with -okta-org", "sync")
}

// statusJSONShipped checks status -json on a shipped key: the record
// reconciled with Okta's enrollments (oktaEs, as the fake org holds them),
// and Okta's view of them from a store without the record.
func statusJSONShipped(t *testing.T, step func(int, string, ...string) result, oktaEs []okta.Enrollment, env map[string]string) {
	t.Helper()
	if len(oktaEs) == 0 {
		t.Fatal("the fake org lists no enrollment of the shipped key")
	}
	var mine, view []statusEnrollment
	for _, e := range oktaEs {
		mine = append(mine, statusEnrollment{ID: e.ID, Status: ptr(string(e.Status))})
		view = append(view, statusEnrollment{ID: e.ID, Status: ptr(string(e.Status)), KeyStatus: ptr("SHIPPED"),
			AuthenticatorName: ptr(e.Profile.AuthenticatorName), PresetPINAvailable: ptr(true)})
	}
	// what a report reads of a shipped key
	type shipped struct {
		Record              bool
		Status, Step        *string
		HasShipment, Serial bool
		ShippedState        bool // 103 shipped or 104 delivered: either may be read
		Enrollments         []statusEnrollment
		LastHistoryStep     *string
	}
	got := decodeStatusLines(t, step(ExitOK, `"status":"SHIPPED"`, "status", "-json", "jan@example.com").stdout)
	if len(got) != 1 {
		t.Fatalf("%d lines, want 1", len(got))
	}
	g := got[0]
	have := shipped{Record: g.Record, Status: g.Status, Step: g.Step, HasShipment: g.ShipmentID != nil, Serial: g.Serial != nil,
		ShippedState: g.ShipmentState != nil && (*g.ShipmentState == 103 || *g.ShipmentState == 104), Enrollments: g.Enrollments}
	if n := len(g.History); n > 0 {
		have.LastHistoryStep = g.History[n-1].Step
	}
	want := shipped{Record: true, Status: ptr("SHIPPED"), Step: ptr("pin-sent"), HasShipment: true, Serial: true, ShippedState: true,
		Enrollments: mine, LastHistoryStep: ptr("pin-sent")}
	if diff := cmp.Diff(want, have); diff != "" {
		t.Errorf("status -json of the shipped key (-want +got):\n%s", diff)
	}
	if g.NextCheck == nil {
		t.Error("a key awaiting its first sign-in has no nextCheck")
	}

	// On a store without the record: Okta's view of the same enrollments.
	other := maps.Clone(env)
	other["PREENROLL_STORE"] = filepath.Join(t.TempDir(), "other.db")
	r := invocation{env: other}.run(t, "status", "-json", "jan@example.com")
	if r.code != ExitOK {
		t.Fatalf("status -json on another store: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	got = decodeStatusLines(t, r.stdout)
	if len(got) != 1 {
		t.Fatalf("%d lines, want 1", len(got))
	}
	if diff := cmp.Diff(view, got[0].Enrollments); diff != "" || got[0].Record || got[0].Status != nil || len(got[0].History) != 0 {
		t.Errorf("Okta's view: record %v, status %v, %d history entries; enrollments (-want +got):\n%s", got[0].Record, got[0].Status, len(got[0].History), diff)
	}
}

// TestManageOnFakes: without an org the admin commands run on empty fakes.
func TestManageOnFakes(t *testing.T) {
	t.Parallel()
	r := runCLI(t, "status", "jan@example.com")
	if r.code != ExitFailed || !strings.Contains(r.stderr, "HTTP 404 E0000007") {
		t.Errorf("status: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runCLI(t, "sync")
	if r.code != ExitOK || !strings.Contains(r.stdout, "sync: 0 records in flight checked") {
		t.Errorf("sync: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, "retry", "jan@example.com", "-store", filepath.Join(t.TempDir(), "k.db"))
	if r.code != ExitUsage || !strings.Contains(r.stderr, "-store needs -okta-org") {
		t.Errorf("retry: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestDemo plays the demo through the command line.
func TestDemo(t *testing.T) {
	t.Parallel()
	r := runCLI(t, "demo", "-users", "1")
	if r.code != ExitOK || !strings.Contains(r.stdout, "1 users: 1 Active, PIN wiped in Okta for 1") {
		t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, "demo", "-users", "0")
	if r.code != ExitUsage || !strings.Contains(r.stderr, `-users "0": want 1 to 2000`) {
		t.Errorf("-users 0: exit %d, stderr %q", r.code, r.stderr)
	}
}

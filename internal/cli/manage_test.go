package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/internal/pgtest"
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
		"PREENROLL_CUSTOMIZATION": "RXJN83", "PREENROLL_RP_ID": "example.okta.com",
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

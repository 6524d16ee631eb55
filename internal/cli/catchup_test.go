package cli

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/internal/testclock"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// TestSyncCatchUp: sync -catch-up records the orders placed in Okta since
// the last catch-up on the store (no event hook here), once; the first run
// on a store reads nothing.
func TestSyncCatchUp(t *testing.T) {
	t.Parallel()
	// Okta's clock is the wall clock, as the command's is (below).
	w := fulfillmenttest.New(t, fulfillmenttest.WithoutEventHook(), fulfillmenttest.WithUsers(fulfillmenttest.NewHire("jan")),
		fulfillmenttest.WithOkta(oktatest.WithRealTime(), oktatest.WithNow(time.Now())))
	env := map[string]string{
		"PREENROLL_OKTA_ORG": w.Okta.URL(), "PREENROLL_OKTA_TOKEN_FILE": writeFile(t, "okta.token", w.Okta.Token()),
		"PREENROLL_STORE":      filepath.Join(t.TempDir(), "keys.db"),
		"PREENROLL_YUBICO_API": w.Yubico.URL(), "PREENROLL_YUBICO_JWKS": w.Yubico.ConsoleURL(),
		"PREENROLL_YUBICO_TOKEN_FILE": writeFile(t, "yubico.token", w.Yubico.Token()),
		"PREENROLL_RP_ID":             "example.okta.com", "PREENROLL_CATCH_UP": "true",
	}
	step := func(wantOut ...string) string {
		t.Helper()
		// The command's clock is the wall clock, as Okta's is.
		r := invocation{env: env, clock: testclock.New(time.Now())}.run(t, "sync")
		for _, want := range wantOut {
			if r.code != ExitOK || !strings.Contains(r.stdout, want) {
				t.Fatalf("sync: exit %d, want %q; stdout:\n%s\nstderr:\n%s", r.code, want, r.stdout, r.stderr)
			}
		}
		return r.stdout
	}
	// The first run on the store says where the catch-up starts, not a
	// zero "since".
	if out := step("catch-up: the first on this store: it records the orders placed from ", "sync: 0 records in flight"); strings.Contains(out, "0001-01-01") {
		t.Errorf("the first run names a zero time:\n%s", out)
	}
	if err := w.Okta.SetNow(time.Now()); err != nil {
		t.Fatal(err)
	}
	err := w.OktaClient.InitiateFulfillment(t.Context(), okta.FulfillmentRequest{UserID: w.User("jan@example.com").ID,
		FulfillmentData: okta.FulfillmentData{{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"}}})
	if err != nil {
		t.Fatal(err)
	}
	step("catch-up: 1 orders recorded that no event hook delivered (1 events read", "sync: 1 records in flight checked: 1 advanced")
	step("catch-up: 0 orders recorded that no event hook delivered (1 events read")
	if n := len(w.Yubico.Shipments()); n != 1 {
		t.Errorf("%d shipments, want 1", n)
	}
}

// TestSyncCatchUpNeedsStore: with an org, sync -catch-up without -store is
// bad usage: its checkpoint would be in memory, so every run would be the
// first, which records nothing.
func TestSyncCatchUpNeedsStore(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"PREENROLL_OKTA_ORG": "https://example.okta.com", "PREENROLL_OKTA_TOKEN_FILE": writeFile(t, "okta.token", "00okta"),
		"PREENROLL_YUBICO_TOKEN_FILE": writeFile(t, "yubico.token", "yubico"), "PREENROLL_CATCH_UP": "true",
	}
	r := invocation{env: env}.run(t, "sync")
	if want := "-catch-up needs -store (PREENROLL_STORE) with -okta-org"; r.code != ExitUsage || !strings.Contains(r.stderr, want) {
		t.Errorf("sync -catch-up without -store: exit %d, want %d and %q; stderr:\n%s", r.code, ExitUsage, want, r.stderr)
	}
}

package cli

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

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

// TestSyncCatchUpWithAnOAuthApp: an OAuth service app's catch-up asks for
// okta.logs.read with a token of its own; without that grant the pass
// still runs, sync exits 1, and stderr says to grant the scope (not to
// change -okta-scopes, which the catch-up's token does not use).
func TestSyncCatchUpWithAnOAuthApp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		granted  []string
		wantCode int
		wantOut  string
		wantErr  []string // in stderr
	}{
		{"okta.logs.read granted", append(oauthScopes("sync"), okta.ScopeLogsRead), ExitOK, "catch-up: the first on this store", nil},
		{"okta.logs.read not granted", oauthScopes("sync"), ExitFailed, "sync: 0 records in flight", []string{
			"preenroll sync: catch-up from Okta's System Log (the next run tries again from the same point): Okta refused the service app a token for okta.logs.read: HTTP 400 invalid_scope",
			"grant the service app the okta.logs.read scope in Okta (the catch-up asks for it alone, whatever -okta-scopes says), or run sync without -catch-up",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := fulfillmenttest.New(t, fulfillmenttest.WithoutEventHook(), fulfillmenttest.WithOkta(oktatest.WithRealTime(), oktatest.WithNow(time.Now())))
			key := newServiceKey(t, false)
			if err := w.Okta.AddServiceApp(oktatest.ServiceApp{ClientID: "0oaSync", Keys: []jose.JSONWebKey{key.public}, Scopes: slices.Clone(tc.granted)}); err != nil {
				t.Fatal(err)
			}
			w.Okta.RevokeToken(w.Okta.Token())
			env := map[string]string{
				"PREENROLL_OKTA_ORG": w.Okta.URL(), "PREENROLL_OKTA_CLIENT_ID": "0oaSync", "PREENROLL_OKTA_PRIVATE_KEY_FILE": key.file,
				"PREENROLL_OKTA_DPOP": "false", "PREENROLL_STORE": filepath.Join(t.TempDir(), "keys.db"),
				"PREENROLL_YUBICO_API": w.Yubico.URL(), "PREENROLL_YUBICO_JWKS": w.Yubico.ConsoleURL(),
				"PREENROLL_YUBICO_TOKEN_FILE": writeFile(t, "yubico.token", w.Yubico.Token()),
				"PREENROLL_RP_ID":             "example.okta.com", "PREENROLL_CATCH_UP": "true",
			}
			r := invocation{env: env, clock: testclock.New(time.Now())}.run(t, "sync")
			if r.code != tc.wantCode || !strings.Contains(r.stdout, tc.wantOut) {
				t.Fatalf("sync: exit %d, want %d and %q in stdout:\n%s\nstderr:\n%s", r.code, tc.wantCode, tc.wantOut, r.stdout, r.stderr)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
				}
			}
			if strings.Contains(r.stderr, "ask for fewer with -okta-scopes") {
				t.Errorf("stderr suggests -okta-scopes, which the catch-up's token does not use:\n%s", r.stderr)
			}
			if s := key.printedIn(r.stdout + r.stderr); s != "" {
				t.Errorf("sync printed %q", s)
			}
		})
	}
}

// TestReportCatchUp: a catch-up Okta refused says what to grant; another
// failure is reported as any other.
func TestReportCatchUp(t *testing.T) {
	t.Parallel()
	const prefix = "preenroll sync: catch-up from Okta's System Log (the next run tries again from the same point): "
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"scope not granted", fmt.Errorf("fulfillment: catch up: %w", &okta.TokenError{Op: "list log events", StatusCode: 400, ErrorCode: "invalid_scope",
			Description: "The following scopes are not granted to the client: okta.logs.read", RequestID: "req1"}),
			prefix + "Okta refused the service app a token for okta.logs.read: HTTP 400 invalid_scope: The following scopes are not granted to the client: okta.logs.read (Okta request ID req1)\n" +
				"  grant the service app the okta.logs.read scope in Okta (the catch-up asks for it alone, whatever -okta-scopes says), or run sync without -catch-up\n"},
		{"System Log forbidden", fmt.Errorf("fulfillment: catch up: %w", &okta.APIError{Op: "list log events", StatusCode: 403, ErrorCode: "E0000006",
			ErrorSummary: "You do not have permission to perform the requested action", RequestID: "req2"}),
			prefix + "Okta refused (list log events): HTTP 403 E0000006: You do not have permission to perform the requested action\n" +
				"  Okta request ID: req2\n" +
				"  the token may not read Okta's System Log: an API token's admin needs a role that reads it; a service app the okta.logs.read scope; or run sync without -catch-up\n"},
		{"store down", errors.New("fulfillment: catch-up checkpoint: the store is down"),
			prefix + "fulfillment: catch-up checkpoint: the store is down\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			reportCatchUp(t.Context(), &b, tc.err)
			if diff := cmp.Diff(tc.want, b.String()); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
		})
	}
}

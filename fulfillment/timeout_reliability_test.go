package fulfillment_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// TestClientTimeoutIsAnUnknownOutcome: when Okta answers an order's
// initiate-fulfillment-request only after the HTTP client's timeout, the
// request may have taken effect; the order must stay recorded at its
// intent for Sync to resume, not be marked errored (finding F1 of
// internal/reliability's fault suite).
func TestClientTimeoutIsAnUnknownOutcome(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOption{})
	slow, err := e.ok.Client(okta.WithHTTPClient(&http.Client{Timeout: 50 * time.Millisecond}), okta.WithRetryPolicy(okta.NoRetries()))
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.cfg
	cfg.Okta = slow
	svc, err := fulfillment.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	u := e.addUser(1, okta.UserActive, nil)
	e.ok.InjectFault(oktatest.Fault{Method: "POST", PathPrefix: "/webauthn-registration/api/v1/initiate-fulfillment-request", Latency: 2 * time.Second})
	rec, err := svc.Order(t.Context(), u.ID)
	if !errors.Is(err, fulfillment.ErrOutcomeUnknown) {
		t.Fatalf("Order with a timed-out initiate = %v, want ErrOutcomeUnknown", err)
	}
	if rec.Status != fulfillment.FulfillmentStarted || rec.Step != fulfillment.StepInitiating {
		t.Fatalf("record %s at %s (reason %q), want FulfillmentStarted at initiating", rec.Status, rec.Step, rec.Reason)
	}
	if _, err := svc.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, err := svc.Status(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != fulfillment.FulfillmentStarted || got.Step == fulfillment.StepInitiating || got.Step == fulfillment.StepErrored {
		t.Errorf("after Sync: %s at %s (reason %q), want the order resumed past initiating", got.Status, got.Step, got.Reason)
	}
}

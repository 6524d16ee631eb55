package fulfillment_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
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
	const initiate = "/webauthn-registration/api/v1/initiate-fulfillment-request"
	// Only the faulted request has a time limit: every other request of
	// Order and Sync takes what it takes, so a loaded machine under -race
	// cannot time one out (a client-wide 1 s timeout left them about
	// 0.5 s, measured under load).
	svc := serviceWithHTTPClient(t, e, &http.Client{Transport: timeoutFor{
		base: http.DefaultTransport, d: time.Second,
		match: func(r *http.Request) bool { return r.Method == http.MethodPost && r.URL.Path == initiate },
	}})
	u := e.addUser(1, okta.UserActive, nil)
	if err := e.Okta.InjectHTTPFault(oktatest.HTTPFaultRule{Method: "POST", PathPrefix: initiate, Latency: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
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

// timeoutFor is an http.RoundTripper that gives up on the requests match
// selects after d, as an http.Client's Timeout would, and sets no limit on
// the others.
type timeoutFor struct {
	base  http.RoundTripper
	match func(*http.Request) bool
	d     time.Duration
}

func (t timeoutFor) RoundTrip(r *http.Request) (*http.Response, error) {
	if !t.match(r) {
		return t.base.RoundTrip(r)
	}
	ctx, cancel := context.WithTimeout(r.Context(), t.d)
	resp, err := t.base.RoundTrip(r.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = cancelOnClose{resp.Body, cancel}
	return resp, nil
}

// cancelOnClose cancels a request's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// lateEnroll is an http.RoundTripper that, once armed, enrolls the user
// again through another client right after the Service's next enrollment
// DELETE went through: an enroll that Okta processes late, after the
// Service listed and deleted the strays (found by internal/reliability's
// two-instance test).
type lateEnroll struct {
	base  http.RoundTripper
	armed chan func()
}

func (l *lateEnroll) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.base.RoundTrip(r)
	if r.Method == http.MethodDelete {
		select {
		case f := <-l.armed:
			f()
		default:
		}
	}
	return resp, err
}

// TestEnrollRefusedForALateStrayIsResumed: when Okta refuses an enroll
// because a pending enrollment the record does not know appeared after
// the strays were deleted (an earlier enroll processed late), the record
// stays at its enroll intent with an unknown outcome, and the next pass
// deletes the stray and enrolls: one enrollment at Okta, known to the
// record, not an errored user with an orphan enrollment.
func TestEnrollRefusedForALateStrayIsResumed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOption{})
	ctx := t.Context()
	late := &lateEnroll{base: http.DefaultTransport, armed: make(chan func(), 1)}
	svc := serviceWithHTTPClient(t, e, &http.Client{Transport: late})
	u := e.addUser(1, okta.UserActive, nil)
	if _, err := svc.Order(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	// The first enroll takes effect, its answer is lost.
	if err := e.Okta.InjectHTTPFault(oktatest.HTTPFaultRule{Method: "POST", PathPrefix: "/webauthn-registration/api/v1/enroll", DropResponse: true}); err != nil {
		t.Fatal(err)
	}
	if rep, err := svc.Sync(ctx); err != nil || len(rep.Failures) != 1 || !errors.Is(rep.Failures[0].Err, fulfillment.ErrOutcomeUnknown) {
		t.Fatalf("Sync with a lost enroll answer: %+v, %v; want one unknown outcome", rep, err)
	}
	// The next pass deletes that stray; right after, a late enroll lands.
	tk := e.Yubico.TransportJWKS().Keys[0]
	late.armed <- func() {
		_, err := e.OktaClient.Enroll(context.WithoutCancel(ctx), okta.EnrollRequest{UserID: u.ID, FulfillmentProvider: okta.ProviderYubico,
			RPIDs: []string{rpID}, TransportKey: tk})
		if err != nil {
			t.Errorf("late enroll: %v", err)
		}
	}
	rep, err := svc.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failures) != 1 || !errors.Is(rep.Failures[0].Err, fulfillment.ErrOutcomeUnknown) {
		t.Fatalf("Sync refused by Okta for a late stray: %+v; want one unknown outcome", rep)
	}
	if rec, _ := svc.Status(ctx, u.ID); rec.Status != fulfillment.FulfillmentStarted || rec.Step != fulfillment.StepEnrolling {
		t.Fatalf("record %s at %s (%q), want FulfillmentStarted at enrolling", rec.Status, rec.Step, rec.Reason)
	}
	if _, err := svc.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	rec, err := svc.Status(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	es := e.Okta.Enrollments(u.ID)
	if rec.Status != fulfillment.FulfillmentStarted || len(rec.Enrollments) != 1 || len(es) != 1 || es[0].ID != rec.Enrollments[0].ID {
		t.Errorf("after the resume: %s at %s, record enrollments %+v, Okta %+v; want one enrollment known to the record", rec.Status, rec.Step, rec.Enrollments, es)
	}
}

// lateActivate is an http.RoundTripper that, once armed, sends the
// Service's next activate request twice: a copy first (an earlier
// activation that Okta processes late), then the request itself.
type lateActivate struct {
	base  http.RoundTripper
	armed atomic.Bool
}

func (l *lateActivate) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/activate") && l.armed.CompareAndSwap(true, false) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		first := r.Clone(r.Context())
		first.Body = io.NopCloser(bytes.NewReader(body))
		resp, err := l.base.RoundTrip(first)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	return l.base.RoundTrip(r)
}

// TestActivateRefusedAsAlreadyActiveIsDone: when Okta refuses an
// activation because the enrollments are already ACTIVE (an earlier
// activation of ours, whose answer was lost, was processed late), the
// activation happened: the record goes on to Shipped instead of erroring
// (found by internal/reliability's crash suite).
func TestActivateRefusedAsAlreadyActiveIsDone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOption{})
	ctx := t.Context()
	late := &lateActivate{base: http.DefaultTransport}
	svc := serviceWithHTTPClient(t, e, &http.Client{Transport: late})
	u := e.addUser(1, okta.UserActive, nil)
	if _, err := svc.Order(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	late.armed.Store(true)
	e.Advance(30 * time.Minute) // address validation
	e.Advance(e.Yubico.NextBatch().Sub(e.Yubico.Now()) + time.Minute)
	e.Advance(25 * time.Hour) // shipped: 103
	if _, err := svc.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if late.armed.Load() {
		t.Fatal("the Service sent no activation")
	}
	rec, err := svc.Status(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != fulfillment.Shipped {
		t.Errorf("record %s at %s (%q), want Shipped", rec.Status, rec.Step, rec.Reason)
	}
}

// serviceWithHTTPClient is e's Service with an Okta client that sends
// through hc and never retries, so a test sees each fault it arranges.
func serviceWithHTTPClient(t *testing.T, e *env, hc *http.Client) *fulfillment.Service {
	t.Helper()
	return serviceWithOktaClient(t, e, okta.WithHTTPClient(hc), okta.WithRetryPolicy(okta.NoRetries()))
}

// serviceWithOktaClient returns a Service like e's whose Okta client is
// built with opts.
func serviceWithOktaClient(t testing.TB, e *env, opts ...okta.Option) *fulfillment.Service {
	t.Helper()
	oc, err := e.Okta.Client(opts...)
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.Config
	cfg.Okta = oc
	svc, err := fulfillment.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

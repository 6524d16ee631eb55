package fulfillment_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// The Okta Workflows flowpack (or an administrator) enrolls the user behind
// the Service's back: the Service must never delete or replace that
// enrollment, wherever it meets it.

const enrollPath = "/webauthn-registration/api/v1/enroll"

// flowpackWorld is a World with one employee, ada.
func flowpackWorld(t *testing.T) (*fulfillmenttest.World, okta.User) {
	t.Helper()
	w := fulfillmenttest.New(t, fulfillmenttest.WithoutEventHook())
	return w, w.AddUser(fulfillmenttest.Employee("ada"))
}

// orderedWorld is flowpackWorld with a key ordered for ada.
func orderedWorld(t *testing.T) (*fulfillmenttest.World, okta.User) {
	t.Helper()
	w, u := flowpackWorld(t)
	if _, err := w.Service.Order(t.Context(), u.ID); err != nil {
		t.Fatal(err)
	}
	return w, u
}

// enrollFailed is orderedWorld after a Sync pass in which Okta answered
// the order's enroll with status; it returns the pass's report.
func enrollFailed(t *testing.T, status int) (*fulfillmenttest.World, okta.User, fulfillment.SyncReport) {
	t.Helper()
	w, u := orderedWorld(t)
	injectFault(t, w, oktatest.HTTPFaultRule{Method: http.MethodPost, PathPrefix: enrollPath, Status: status})
	return w, u, w.Sync(t.Context())
}

// injectFault adds an HTTP fault to the fake Okta.
func injectFault(t *testing.T, w *fulfillmenttest.World, r oktatest.HTTPFaultRule) {
	t.Helper()
	if err := w.Okta.InjectHTTPFault(r); err != nil {
		t.Fatal(err)
	}
}

// enrollBehindTheBack enrolls the user as the flowpack does, through its
// own Okta client, and returns the enrollment ID.
func enrollBehindTheBack(t *testing.T, w *fulfillmenttest.World, userID string) string {
	t.Helper()
	resp, err := w.OktaClient.Enroll(t.Context(), okta.EnrollRequest{UserID: userID, FulfillmentProvider: okta.ProviderYubico,
		RPIDs: []string{fulfillmenttest.DefaultRPID}, TransportKey: w.Yubico.TransportJWKS().Keys[0]})
	if err != nil {
		t.Fatalf("the flowpack's enroll: %v", err)
	}
	return resp.CredRequests[0].AuthenticatorEnrollmentID
}

// wantLeftAlone fails unless Okta still lists the foreign enrollment, in
// fulfillment, as the user's only one, and Yubico has no shipment.
func wantLeftAlone(t *testing.T, w *fulfillmenttest.World, userID, foreign string) {
	t.Helper()
	es := w.Okta.Enrollments(userID)
	if len(es) != 1 || es[0].ID != foreign || es[0].Status != okta.StatusFulfillmentPending {
		t.Errorf("Okta enrollments %+v, want only the flowpack's %s, FULFILLMENT_PENDING", es, foreign)
	}
	if shs := w.Yubico.Shipments(); len(shs) != 0 {
		t.Errorf("Yubico has %d shipments, want none (the flowpack ships the key)", len(shs))
	}
}

// wantManagedElsewhere fails unless the user's record rests at
// managed-elsewhere, FulfillmentStarted, naming the foreign enrollment, in
// the store and through Service.Status, and the foreign enrollment is left
// alone (see wantLeftAlone).
func wantManagedElsewhere(t *testing.T, w *fulfillmenttest.World, userID, foreign string) fulfillment.Record {
	t.Helper()
	wantLeftAlone(t, w, userID, foreign)
	rec := w.Status(t.Context(), userID)
	if rec.Status != fulfillment.FulfillmentStarted || rec.Step != fulfillment.StepManagedElsewhere ||
		!strings.Contains(rec.Reason, "managed elsewhere") || !strings.Contains(rec.Reason, foreign) || len(rec.Enrollments) != 0 {
		t.Errorf("record %s at %s with %d enrollments (reason %q), want FulfillmentStarted at managed-elsewhere naming %s",
			rec.Status, rec.Step, len(rec.Enrollments), rec.Reason, foreign)
	}
	return rec
}

// TestFlowpackEnrollmentBeforeOursIsLeftAlone: the flowpack enrolled first
// (both reacted to the same order). The Service does not enroll, records
// the user as managed elsewhere, reports it in the pass (not as a
// failure), does not look again on later passes, and Retry takes the
// order over once the flowpack's enrollment is gone.
func TestFlowpackEnrollmentBeforeOursIsLeftAlone(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	w, u := orderedWorld(t)
	foreign := enrollBehindTheBack(t, w, u.ID)
	rep := w.Sync(ctx)
	if rep.ManagedElsewhere != 1 || len(rep.Failures) != 0 {
		t.Errorf("Sync: %+v, want 1 managed elsewhere and no failure", rep)
	}
	rec := wantManagedElsewhere(t, w, u.ID, foreign)
	w.Advance(2 * time.Hour)
	if rep := w.Sync(ctx); rep.Checked != 0 || rep.ManagedElsewhere != 0 {
		t.Errorf("second Sync: %+v, want the record skipped", rep)
	}
	if again := w.Status(ctx, u.ID); again.Version != rec.Version {
		t.Errorf("the record changed on a later pass: version %d → %d", rec.Version, again.Version)
	}
	wantLeftAlone(t, w, u.ID, foreign)

	// Retry while the flowpack's enrollment is there: it rests again.
	if rec, err := w.Service.Retry(ctx, u.ID); err != nil || rec.Step != fulfillment.StepManagedElsewhere {
		t.Fatalf("Retry with the flowpack's enrollment: %s at %s, %v; want managed-elsewhere", rec.Status, rec.Step, err)
	}
	wantLeftAlone(t, w, u.ID, foreign)
	// The administrator disables the flowpack and deletes its enrollment:
	// Retry takes the order over.
	if err := w.OktaClient.DeleteEnrollment(ctx, u.ID, foreign); err != nil {
		t.Fatal(err)
	}
	rec, err := w.Service.Retry(ctx, u.ID)
	if err != nil || rec.Status != fulfillment.FulfillmentStarted || rec.Step != fulfillment.StepShipmentCreated || len(rec.Enrollments) != 1 {
		t.Fatalf("Retry once the flowpack's enrollment is gone: %s at %s with %d enrollments, %v; want a shipment created",
			rec.Status, rec.Step, len(rec.Enrollments), err)
	}
	w.AdvanceUntil(ctx, u.ID, fulfillment.Shipped)
}

// TestFlowpackEnrollmentAtInitiateRecovery: the order's initiate had an
// unknown outcome; while it waits to be resumed, the flowpack enrolls.
// The resumed order does not enroll over it.
func TestFlowpackEnrollmentAtInitiateRecovery(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	w, u := flowpackWorld(t)
	injectFault(t, w, oktatest.HTTPFaultRule{Method: http.MethodPost, PathPrefix: "/webauthn-registration/api/v1/initiate-fulfillment-request", Status: http.StatusServiceUnavailable})
	if _, err := w.Service.Order(ctx, u.ID); !errors.Is(err, fulfillment.ErrOutcomeUnknown) {
		t.Fatalf("Order with Okta unavailable = %v, want ErrOutcomeUnknown", err)
	}
	foreign := enrollBehindTheBack(t, w, u.ID)
	if rep := w.Sync(ctx); rep.ManagedElsewhere != 1 || len(rep.Failures) != 0 {
		t.Errorf("Sync: %+v, want 1 managed elsewhere and no failure", rep)
	}
	wantManagedElsewhere(t, w, u.ID, foreign)
	w.Sync(ctx)
	wantLeftAlone(t, w, u.ID, foreign)
}

// TestFlowpackEnrollmentAtStrayDeletion: our enroll had an unknown outcome
// (Okta answered 503: it created nothing); an hour later, before the next
// pass, the flowpack enrolls. Resuming the enroll deletes the strays of
// our own call, and this one Okta created long after that call: it is
// left alone. (An enrollment our lost call did create is deleted:
// TestResumeAfterCrashDuringEnroll, TestEnrollRefusedForALateStrayIsResumed.)
func TestFlowpackEnrollmentAtStrayDeletion(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	w, u, rep := enrollFailed(t, http.StatusServiceUnavailable)
	if len(rep.Failures) != 1 || !errors.Is(rep.Failures[0].Err, fulfillment.ErrOutcomeUnknown) {
		t.Fatalf("Sync with enroll unavailable: %+v; want one unknown outcome", rep)
	}
	if rec := w.Status(ctx, u.ID); rec.Step != fulfillment.StepEnrolling {
		t.Fatalf("record at %s, want enrolling", rec.Step)
	}
	w.Advance(time.Hour)
	foreign := enrollBehindTheBack(t, w, u.ID)
	if rep := w.Sync(ctx); rep.ManagedElsewhere != 1 || len(rep.Failures) != 0 {
		t.Errorf("Sync resuming the enroll: %+v, want 1 managed elsewhere and no failure", rep)
	}
	wantManagedElsewhere(t, w, u.ID, foreign)
}

// TestFlowpackEnrollmentAtRetry: Okta refused our enroll, so the record
// errored with no enrollment; then the flowpack enrolled. Retry deletes
// the record's own enrollments only: the flowpack's stays, and the record
// rests as managed elsewhere instead of enrolling a second key.
func TestFlowpackEnrollmentAtRetry(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	w, u, rep := enrollFailed(t, http.StatusBadRequest)
	if rep.Errored != 1 {
		t.Fatalf("Sync with enroll refused: %+v; want the record errored", rep)
	}
	foreign := enrollBehindTheBack(t, w, u.ID)
	rec, err := w.Service.Retry(ctx, u.ID)
	if err != nil {
		t.Fatalf("Retry: %v", err)
	}
	if rec.Step != fulfillment.StepManagedElsewhere {
		t.Errorf("Retry: %s at %s (%q), want managed-elsewhere", rec.Status, rec.Step, rec.Reason)
	}
	if i := slices.IndexFunc(rec.History, func(c fulfillment.Change) bool {
		return strings.Contains(c.Reason, "left enrollment "+foreign+" alone")
	}); i < 0 {
		t.Errorf("the retry's history does not say it left %s alone", foreign)
	}
	wantManagedElsewhere(t, w, u.ID, foreign)
}

// TestFlowpackEnrollmentAtDelete: deleting the Service's record of an
// order the flowpack enrolled leaves the flowpack's enrollment, and says so.
func TestFlowpackEnrollmentAtDelete(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	w, u := orderedWorld(t)
	foreign := enrollBehindTheBack(t, w, u.ID)
	if err := w.Service.Delete(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	rec := w.Status(ctx, u.ID)
	if rec.Status != fulfillment.Deleted || !strings.Contains(rec.Reason, "left enrollment "+foreign+" alone") {
		t.Errorf("record %s (reason %q), want Deleted saying it left %s alone", rec.Status, rec.Reason, foreign)
	}
	wantLeftAlone(t, w, u.ID, foreign)
}

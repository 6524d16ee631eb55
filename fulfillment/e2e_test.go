package fulfillment_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/internal/syncio"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/yubico"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// rpID is the relying-party ID the World registers keys for.
const rpID = fulfillmenttest.DefaultRPID

var defaultItem = fulfillment.Item{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"}

// env is a fulfillmenttest World (both fakes on one clock, a Service, its
// event hook) with the Service's log captured for the secrecy checks.
type env struct {
	*fulfillmenttest.World
	t    testing.TB
	logs *syncio.Buffer
}

type envOption struct {
	okta   []oktatest.Option
	yubico []yubicotest.Option
	// yubicoClient are options of the Service's Yubico client.
	yubicoClient []yubico.Option
	config       func(*fulfillment.Config)
	noHook       bool
}

func newEnv(t testing.TB, o envOption) *env {
	t.Helper()
	e := &env{t: t, logs: &syncio.Buffer{}}
	opts := []fulfillmenttest.Option{
		fulfillmenttest.WithOkta(o.okta...), fulfillmenttest.WithYubico(o.yubico...), fulfillmenttest.WithYubicoClient(o.yubicoClient...),
		fulfillmenttest.WithConfig(func(c *fulfillment.Config) {
			c.Logger = slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			if o.config != nil {
				o.config(c)
			}
		}),
	}
	if o.noHook {
		opts = append(opts, fulfillmenttest.WithoutEventHook())
	}
	e.World = fulfillmenttest.New(t, opts...)
	return e
}

// profile returns a valid shipping profile for user n.
func profile(n int) okta.Profile { return fulfillmenttest.Profile(fmt.Sprintf("user%04d", n)) }

// addUser seeds an Okta user with a valid profile.
func (e *env) addUser(n int, status okta.UserStatus, change func(*okta.Profile)) okta.User {
	e.t.Helper()
	u := fulfillmenttest.User{Profile: profile(n), Status: status}
	if change != nil {
		change(&u.Profile)
	}
	return e.AddUser(u)
}

// noRetryEnv is an env whose Yubico client does not retry by itself, so
// that the Service's own resume is what repeats a shipment create, with
// Config.IdempotentShipments set to idempotent.
func noRetryEnv(t testing.TB, idempotent bool) *env {
	t.Helper()
	return newEnv(t, envOption{
		yubicoClient: []yubico.Option{yubico.WithRetryPolicy(yubico.NoRetries())},
		config:       func(c *fulfillment.Config) { c.IdempotentShipments = idempotent },
	})
}

// orderedUser seeds ACTIVE user n and orders a key for them.
func (e *env) orderedUser(n int) okta.User {
	e.t.Helper()
	u := e.addUser(n, okta.UserActive, nil)
	if _, err := e.Service.Order(e.t.Context(), u.ID); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// orderAtOkta orders item for the user at Okta, as an administrator does
// in Okta's console: Okta emits the event to the hooks.
func (e *env) orderAtOkta(userID string, item fulfillment.Item) {
	e.t.Helper()
	if err := e.OktaClient.InitiateFulfillment(e.t.Context(), okta.FulfillmentRequest{UserID: userID, FulfillmentData: okta.FulfillmentData{
		{ProductID: item.ProductID, InventoryProductID: item.InventoryProductID, CustomizationID: item.CustomizationID}}}); err != nil {
		e.t.Fatal(err)
	}
}

// awaitDeliveries waits until Okta recorded n deliveries of its event
// hooks and returns them.
func (e *env) awaitDeliveries(n int) []oktatest.Delivery {
	e.t.Helper()
	ds, err := e.Okta.AwaitDeliveries(e.t.Context(), n)
	if err != nil {
		e.t.Fatal(err)
	}
	return ds
}

func (e *env) sync() fulfillment.SyncReport {
	e.t.Helper()
	return e.Sync(e.t.Context())
}

func (e *env) status(userID string) fulfillment.Record {
	e.t.Helper()
	return e.Status(e.t.Context(), userID)
}

func (e *env) wantStatus(userID string, st fulfillment.Status, step fulfillment.Step) fulfillment.Record {
	e.t.Helper()
	rec := e.WantStatus(e.t.Context(), userID, st)
	if rec.Step != step {
		e.t.Fatalf("user %s: status %s step %s (reason %q), want step %s", userID, rec.Status, rec.Step, rec.Reason, step)
	}
	return rec
}

// shipmentCreates counts the FIDO Pre-reg shipment creates Yubico was sent.
func (e *env) shipmentCreates() int {
	n := 0
	for _, r := range e.Yubico.RequestLog() {
		if r.Method == http.MethodPost && r.Path == "/v1/fpr/shipments" {
			n++
		}
	}
	return n
}

// shipThrough runs the World until every shipment has shipped (103),
// syncing after each of Yubico's transitions.
func (e *env) shipThrough() {
	e.t.Helper()
	e.AdvanceTo(e.t.Context(), fulfillmenttest.Shipped)
}

// pinFor returns the PIN of the last PIN email sent to address.
func (e *env) pinFor(address string) string {
	e.t.Helper()
	pin, err := e.Okta.PIN(address)
	if err != nil {
		e.t.Fatal(err)
	}
	return pin
}

// signIn opens the user's parcel, checks it holds the recorded key, and
// signs in with it as the user does.
func (e *env) signIn(u okta.User, rec fulfillment.Record, pin string) {
	e.t.Helper()
	ctx := e.t.Context()
	key := e.Parcel(ctx, u.ID)
	if rec.Serial != fmt.Sprint(key.Serial()) {
		e.t.Errorf("record serial %q, key serial %d", rec.Serial, key.Serial())
	}
	e.SignIn(ctx, u.ID, key, pin)
}

// checkNoSecrets fails if a PIN or token appears in the Service's log.
func (e *env) checkNoSecrets(secrets ...string) {
	e.t.Helper()
	logs := e.logs.String()
	for _, s := range append(secrets, e.Okta.Token(), e.Yubico.Token(), e.Config.EventHookSecret.Reveal(), fulfillmenttest.NewPIN) {
		if s != "" && strings.Contains(logs, s) {
			e.t.Errorf("a secret (%d chars) appears in the Service's log", len(s))
		}
	}
	// Nor the sealed requests and responses (compact JWEs start "eyJ").
	if strings.Contains(logs, "eyJ") {
		e.t.Error("a JWE appears in the Service's log")
	}
	if !strings.Contains(logs, `"step":"pin-sent"`) {
		e.t.Error("the log does not record the steps")
	}
}

func TestLifecycleNewAndExistingUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOption{})
	ctx := t.Context()
	staged := e.addUser(1, okta.UserStaged, nil)
	existing := e.addUser(2, okta.UserActive, nil)

	for _, u := range []okta.User{staged, existing} {
		rec, err := e.Service.Order(ctx, u.Profile.Login)
		if err != nil {
			t.Fatalf("Order(%s): %v", u.Profile.Login, err)
		}
		if rec.Status != fulfillment.FulfillmentStarted || rec.Step != fulfillment.StepInitiated || rec.UserID != u.ID {
			t.Fatalf("after Order: %+v", rec)
		}
		// A second order while the first is in flight is refused.
		if _, err := e.Service.Order(ctx, u.ID); !errors.Is(err, fulfillment.ErrOrderInFlight) {
			t.Errorf("second Order = %v, want ErrOrderInFlight", err)
		}
	}
	e.awaitDeliveries(2)

	rep := e.sync()
	if rep.Advanced != 2 || len(rep.Failures) != 0 {
		t.Fatalf("first Sync: %+v", rep)
	}
	for _, u := range []okta.User{staged, existing} {
		rec := e.wantStatus(u.ID, fulfillment.FulfillmentStarted, fulfillment.StepShipmentCreated)
		if len(rec.Enrollments) != 1 || rec.ShipmentID == "" {
			t.Fatalf("user %s: enrollments %+v shipment %q", u.ID, rec.Enrollments, rec.ShipmentID)
		}
	}
	e.shipThrough()

	for _, u := range []okta.User{staged, existing} {
		rec := e.wantStatus(u.ID, fulfillment.Shipped, fulfillment.StepPINSent)
		to := u.Profile.Email
		if u.Status == okta.UserStaged {
			to = u.Profile.SecondEmail
		}
		pin := e.pinFor(to)
		if err := e.Service.ResendPIN(ctx, u.ID); err != nil {
			t.Fatalf("ResendPIN while shipped: %v", err)
		}
		if again := e.pinFor(to); again != pin {
			t.Errorf("resent PIN differs from the first")
		}
		e.signIn(u, rec, pin)
		e.sync()
		rec = e.wantStatus(u.ID, fulfillment.Active, fulfillment.StepActive)
		if !e.Okta.PINWiped(rec.Enrollments[0].ID) {
			t.Errorf("user %s: Okta still holds the PIN after the first sign-in", u.ID)
		}
		if err := e.Service.ResendPIN(ctx, u.ID); !errors.Is(err, fulfillment.ErrInvalidTransition) {
			t.Errorf("ResendPIN when active = %v, want ErrInvalidTransition", err)
		}
		e.checkNoSecrets(pin)
	}
	// Exactly one shipment per user at Yubico, one enrollment at Okta.
	if n := len(e.Yubico.Shipments()); n != 2 {
		t.Errorf("Yubico holds %d shipments, want 2", n)
	}
	for _, u := range []okta.User{staged, existing} {
		if n := len(e.Okta.Enrollments(u.ID)); n != 1 {
			t.Errorf("user %s has %d enrollments at Okta, want 1", u.ID, n)
		}
	}
}

func TestUndeliverableThenFixedAndRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOption{})
	ctx := t.Context()
	u := e.addUser(1, okta.UserActive, func(p *okta.Profile) {
		p.StreetAddress, p.City, p.State, p.ZipCode = "123 XYZ", "Nowhere", "NY", "11111"
	})
	if _, err := e.Service.Order(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	e.sync()
	first := e.wantStatus(u.ID, fulfillment.FulfillmentStarted, fulfillment.StepShipmentCreated)
	e.Advance(30 * time.Minute) // address validation: state 7
	rep := e.sync()
	if rep.Errored != 1 {
		t.Errorf("Sync report %+v, want 1 errored", rep)
	}
	// The failure is loud: the record that errored is in the report, with
	// its step and the reason.
	if len(rep.Failures) != 1 {
		t.Fatalf("Sync failures %+v, want the errored record", rep.Failures)
	}
	if f := rep.Failures[0]; f.UserID != u.ID || f.Step != fulfillment.StepShipmentCreated || f.Status != fulfillment.FulfillmentErrored ||
		!errors.Is(f.Err, fulfillment.ErrStepFailed) || !strings.Contains(f.Err.Error(), "state 7") {
		t.Errorf("Sync failure %+v (err %v), want %s failed at %s with the state-7 reason", f, f.Err, u.ID, fulfillment.StepShipmentCreated)
	}
	rec := e.wantStatus(u.ID, fulfillment.FulfillmentErrored, fulfillment.StepErrored)
	if rec.FailedStep != fulfillment.StepShipmentCreated || rec.ShipmentState != 7 || !strings.Contains(rec.Reason, "state 7") {
		t.Errorf("errored record: failed step %s, shipment state %d, reason %q", rec.FailedStep, rec.ShipmentState, rec.Reason)
	}
	if es := e.Okta.Enrollments(u.ID); len(es) != 1 || es[0].Status != okta.StatusFulfillmentErrored {
		t.Errorf("Okta enrollments after the failure: %+v, want one FULFILLMENT_ERRORED", es)
	}
	// A second order is refused while errored; Sync leaves it alone.
	if _, err := e.Service.Order(ctx, u.ID); !errors.Is(err, fulfillment.ErrOrderInFlight) {
		t.Errorf("Order while errored = %v, want ErrOrderInFlight", err)
	}
	if rep := e.sync(); rep.Advanced != 0 {
		t.Errorf("Sync touched an errored record: %+v", rep)
	}

	// Retry with a profile that became invalid: refused, still errored.
	if _, err := e.OktaClient.UpdateProfile(ctx, u.ID, okta.Profile{ZipCode: "1111"}); err != nil {
		t.Fatal(err)
	}
	var verr *fulfillment.ValidationError
	if _, err := e.Service.Retry(ctx, u.ID); !errors.As(err, &verr) || !errors.Is(err, fulfillment.ErrInvalidShipping) {
		t.Fatalf("Retry with a bad zip = %v, want a shipping ValidationError", err)
	} else if _, ok := verr.Field("zipCode"); !ok {
		t.Errorf("ValidationError %v does not name zipCode", verr)
	}
	e.wantStatus(u.ID, fulfillment.FulfillmentErrored, fulfillment.StepErrored)

	// Fix the address and retry: old shipment cancelled, old enrollment
	// deleted, a new one shipped.
	fixed := profile(1)
	if _, err := e.OktaClient.UpdateProfile(ctx, u.ID, okta.Profile{StreetAddress: fixed.StreetAddress, City: fixed.City, State: fixed.State, ZipCode: fixed.ZipCode}); err != nil {
		t.Fatal(err)
	}
	rec, err := e.Service.Retry(ctx, u.ID)
	if err != nil {
		t.Fatalf("Retry: %v", err)
	}
	if rec.Status != fulfillment.FulfillmentStarted || rec.Step != fulfillment.StepShipmentCreated || rec.Attempts != 2 {
		t.Fatalf("after Retry: status %s step %s attempts %d", rec.Status, rec.Step, rec.Attempts)
	}
	if rec.ShipmentID == first.ShipmentID || rec.Enrollments[0].ID == first.Enrollments[0].ID {
		t.Errorf("Retry reused shipment %s or enrollment %s", rec.ShipmentID, rec.Enrollments[0].ID)
	}
	if _, ok := e.Yubico.FPRShipment(first.ShipmentID); ok {
		if sh, _ := e.Yubico.FPRShipment(first.ShipmentID); sh.State.ID == yubico.StateUndeliverable {
			t.Errorf("the undeliverable shipment %s was not cancelled", first.ShipmentID)
		}
	}
	if es := e.Okta.Enrollments(u.ID); len(es) != 1 || es[0].ID != rec.Enrollments[0].ID {
		t.Errorf("Okta enrollments after Retry: %+v, want only %s", es, rec.Enrollments[0].ID)
	}
	e.shipThrough()
	rec = e.wantStatus(u.ID, fulfillment.Shipped, fulfillment.StepPINSent)
	e.signIn(u, rec, e.pinFor(u.Profile.Email))
	e.sync()
	rec = e.wantStatus(u.ID, fulfillment.Active, fulfillment.StepActive)
	var steps []string
	for _, c := range rec.History {
		steps = append(steps, string(c.Step))
	}
	for _, want := range []string{"errored", "initiated", "active"} {
		if !strings.Contains(strings.Join(steps, " "), want) {
			t.Errorf("history %v lacks %s", steps, want)
		}
	}
}

func TestDeleteMidShipment(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOption{})
	ctx := t.Context()
	early, late := e.orderedUser(1), e.orderedUser(2)
	e.sync()
	// early: deleted while the shipment awaits validation (cancellable).
	recEarly := e.wantStatus(early.ID, fulfillment.FulfillmentStarted, fulfillment.StepShipmentCreated)
	if err := e.Service.Delete(ctx, early.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	rec := e.wantStatus(early.ID, fulfillment.Deleted, fulfillment.StepDeleted)
	if sh, ok := e.Yubico.FPRShipment(recEarly.ShipmentID); ok && !sh.State.ID.Failed() && sh.State.ID != yubico.ShipmentState(0) {
		t.Errorf("shipment %s still live after Delete: state %d", recEarly.ShipmentID, sh.State.ID)
	}
	if es := e.Okta.Enrollments(early.ID); len(es) != 0 {
		t.Errorf("Okta still has enrollments of a deleted key: %+v", es)
	}
	if err := e.Service.Delete(ctx, early.ID); err != nil {
		t.Errorf("second Delete = %v, want nil", err)
	}
	_ = rec

	// late: deleted after the shipment was locked for fulfillment.
	e.Advance(30 * time.Minute)
	e.Advance(e.Yubico.NextBatch().Sub(e.Yubico.Now()) + time.Minute)
	e.sync()
	recLate := e.wantStatus(late.ID, fulfillment.FulfillmentStarted, fulfillment.StepShipmentCreated)
	if recLate.ShipmentState < 10 {
		t.Fatalf("late shipment in state %d, want locked (≥ 10)", recLate.ShipmentState)
	}
	if err := e.Service.Delete(ctx, late.ID); err != nil {
		t.Fatalf("Delete after lock: %v", err)
	}
	rec = e.wantStatus(late.ID, fulfillment.Deleted, fulfillment.StepDeleted)
	if !strings.Contains(rec.Reason, "past cancelling") {
		t.Errorf("reason %q does not say the shipment could not be cancelled", rec.Reason)
	}
	if es := e.Okta.Enrollments(late.ID); len(es) != 0 {
		t.Errorf("Okta still has enrollments of a deleted key: %+v", es)
	}
	// The key ships anyway, but nothing activates it.
	e.Advance(25 * time.Hour)
	if rep := e.sync(); rep.Checked != 0 {
		t.Errorf("Sync looked at deleted records: %+v", rep)
	}

	// A deleted key allows a new order.
	if _, err := e.Service.Order(ctx, early.ID); err != nil {
		t.Errorf("Order after Delete: %v", err)
	}
}

func TestOrderFromOktaEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOption{})
	u := e.addUser(1, okta.UserStaged, nil)
	// An administrator orders in Okta's console: Okta emits the event.
	e.orderAtOkta(u.ID, fulfillment.Item{ProductID: "29", InventoryProductID: "106", CustomizationID: "CONSOLE1"})
	ds := e.awaitDeliveries(1)
	if ds[0].Status != 200 {
		t.Fatalf("event delivery: %+v", ds[0])
	}
	rec := e.wantStatus(u.ID, fulfillment.FulfillmentStarted, fulfillment.StepInitiated)
	if want := (fulfillment.Item{ProductID: "29", InventoryProductID: "106", CustomizationID: "CONSOLE1"}); len(rec.Items) != 1 || rec.Items[0] != want {
		t.Errorf("items from the event: %+v, want %+v", rec.Items, want)
	}
	if rec.EventID != e.Okta.Events()[0].UUID {
		t.Errorf("record event ID %q, want %q", rec.EventID, e.Okta.Events()[0].UUID)
	}
	e.sync()
	rec = e.wantStatus(u.ID, fulfillment.FulfillmentStarted, fulfillment.StepShipmentCreated)
	sh, ok := e.Yubico.FPRShipment(rec.ShipmentID)
	if !ok || sh.Items[0].ProductID != 29 || sh.Recipient.Email != u.Profile.SecondEmail {
		t.Errorf("shipment %+v: want product 29 to the secondary email %s", sh, u.Profile.SecondEmail)
	}
}

func TestOrderChecksBeforeCalling(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOption{noHook: true})
	ctx := t.Context()
	bad := e.addUser(1, okta.UserStaged, func(p *okta.Profile) { p.SecondEmail, p.ZipCode, p.PrimaryPhone = "", "ABCDE", "" })
	_, err := e.Service.Order(ctx, bad.ID)
	var verr *fulfillment.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Order(bad profile) = %v, want a ValidationError", err)
	}
	var fields []string
	for _, f := range verr.Fields {
		fields = append(fields, f.Field)
	}
	if diff := strings.Join(fields, ","); diff != "secondEmail,primaryPhone,zipCode" {
		t.Errorf("fields named: %s, want secondEmail,primaryPhone,zipCode", diff)
	}
	for _, r := range e.Okta.RequestLog() {
		if r.Method != "GET" {
			t.Errorf("Order with an invalid profile sent %s %s", r.Method, r.Path)
		}
	}
	if _, err := e.Service.Order(ctx, bad.ID, defaultItem, defaultItem); !errors.Is(err, fulfillment.ErrInvalidOrder) {
		t.Errorf("Order with two items = %v, want ErrInvalidOrder", err)
	}
	if _, err := e.Service.Order(ctx, bad.ID, fulfillment.Item{ProductID: "x"}); !errors.Is(err, fulfillment.ErrInvalidOrder) {
		t.Errorf("Order with a bad item = %v, want ErrInvalidOrder", err)
	}

	// A key in flight at Okta (ordered by another tool) refuses the order
	// even though this Service's store knows nothing of it.
	good := e.addUser(2, okta.UserActive, nil)
	other := e.Config
	other.Store = fulfillment.NewMemoryStore()
	svc2, err := fulfillment.New(other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc2.Order(ctx, good.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc2.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.Order(ctx, good.ID); !errors.Is(err, fulfillment.ErrOrderInFlight) {
		t.Errorf("Order while Okta has a key in flight = %v, want ErrOrderInFlight", err)
	}
}

// TestResumeAfterCrashDuringEnroll: an instance recorded the intent to
// enroll, Okta enrolled, and the instance died before recording the
// result. Another instance must wait for the lease, then delete the
// enrollment it cannot use and enroll again: one enrollment in the end.
func TestResumeAfterCrashDuringEnroll(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOption{config: func(c *fulfillment.Config) { c.Lease = time.Minute }})
	ctx := t.Context()
	u := e.orderedUser(1)
	rec, err := e.Config.Store.Get(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	rec.Step = fulfillment.StepEnrolling
	rec.Keys = map[fulfillment.Step]string{fulfillment.StepEnrolling: "enrolling-dead"}
	rec.Lease = fulfillment.Lease{Owner: "svc-dead", Until: e.Yubico.Now().Add(time.Minute)}
	if _, err := e.Config.Store.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
	tk := e.Yubico.TransportJWKS().Keys[0]
	stray, err := e.OktaClient.Enroll(ctx, okta.EnrollRequest{UserID: u.ID, RPIDs: []string{rpID},
		TransportKey: tk})
	if err != nil {
		t.Fatal(err)
	}

	if rep := e.sync(); rep.Busy != 1 || rep.Advanced != 0 {
		t.Errorf("Sync under another instance's lease: %+v, want 1 busy", rep)
	}
	e.Advance(2 * time.Minute)
	e.sync()
	rec = e.wantStatus(u.ID, fulfillment.FulfillmentStarted, fulfillment.StepShipmentCreated)
	es := e.Okta.Enrollments(u.ID)
	if len(es) != 1 || es[0].ID != rec.Enrollments[0].ID || es[0].ID == stray.CredRequests[0].AuthenticatorEnrollmentID {
		t.Fatalf("Okta enrollments after resume: %+v; record %+v; stray %s", es, rec.Enrollments, stray.CredRequests[0].AuthenticatorEnrollmentID)
	}
	e.shipThrough()
	e.wantStatus(u.ID, fulfillment.Shipped, fulfillment.StepPINSent)
}

// TestResumeAfterLostRequests loses the answers of the initiate, the
// shipment create (Yubico made the shipment, the connection dropped before
// the answer) and the activate calls. Each leaves its intent recorded and a
// later Sync finishes the job with no duplicate at Okta or Yubico. The
// Yubico client does not retry by itself here, so the Service's own resume
// is what repeats the create: with IdempotentShipments it sends the same
// key and gets the shipment already made; without, it stops and asks a
// person.
func TestResumeAfterLostRequests(t *testing.T) {
	t.Parallel()
	for _, idempotent := range []bool{true, false} {
		t.Run(fmt.Sprintf("IdempotentShipments=%v", idempotent), func(t *testing.T) {
			t.Parallel()
			e := noRetryEnv(t, idempotent)
			ctx := t.Context()
			warm := e.addUser(1, okta.UserActive, nil)
			u := e.addUser(2, okta.UserActive, nil)
			if _, err := e.Service.Order(ctx, warm.ID); err != nil {
				t.Fatal(err)
			}
			e.sync() // fetches and caches Yubico's keys
			// Deleted, so that Sync sends nothing more for it.
			if err := e.Service.Delete(ctx, warm.ID); err != nil {
				t.Fatal(err)
			}

			if err := e.Okta.InjectHTTPFault(oktatest.HTTPFaultRule{Method: "POST", PathPrefix: "/webauthn-registration/api/v1/initiate-fulfillment-request", Drop: true}); err != nil {
				t.Fatal(err)
			}
			rec, err := e.Service.Order(ctx, u.ID)
			if !errors.Is(err, fulfillment.ErrOutcomeUnknown) || rec.Step != fulfillment.StepInitiating {
				t.Fatalf("Order with a dropped initiate = %v at step %s, want ErrOutcomeUnknown at initiating", err, rec.Step)
			}
			// net/http's Transport itself resends a request carrying an
			// Idempotency-Key once when the connection breaks, so with keys
			// two answers must be lost for the Service to see the failure.
			drops := 1
			if idempotent {
				drops = 2
			}
			if err := e.Yubico.DropResponseAfterCommit(drops); err != nil {
				t.Fatal(err)
			}
			rep := e.sync()
			if len(rep.Failures) != 1 || !errors.Is(rep.Failures[0].Err, fulfillment.ErrOutcomeUnknown) {
				r := e.status(u.ID)
				t.Fatalf("Sync with a lost create answer: %+v, want one ErrOutcomeUnknown; record at %s %s", rep, r.Step, r.Reason)
			}
			e.wantStatus(u.ID, fulfillment.FulfillmentStarted, fulfillment.StepShipmentCreating)
			e.sync()
			rec = e.status(u.ID)
			mine := func() []string {
				var ids []string
				for _, sh := range e.Yubico.Shipments() {
					if f, ok := e.Yubico.FPRShipment(sh.ID); ok && (f.Recipient.Email == u.Profile.Email || f.Recipient.Email == u.Profile.SecondEmail) {
						ids = append(ids, sh.ID)
					}
				}
				return ids
			}
			if ids := mine(); len(ids) != 1 {
				t.Fatalf("Yubico holds %d shipments for the user, want exactly 1", len(ids))
			}
			if idempotent {
				replayed := 0
				for _, r := range e.Yubico.RequestLog() {
					if r.Replayed {
						replayed++
					}
				}
				if replayed == 0 {
					t.Error("the resumed create was not answered from Yubico's idempotency record")
				}
				if rec.Step != fulfillment.StepShipmentCreated || rec.ShipmentID != mine()[0] {
					t.Fatalf("after resume: step %s shipment %q, want the shipment Yubico made (%s)", rec.Step, rec.ShipmentID, mine()[0])
				}
			} else {
				if rec.Step != fulfillment.StepErrored || rec.FailedStep != fulfillment.StepShipmentCreating || !strings.Contains(rec.Reason, "unknown") {
					t.Fatalf("after resume: step %s failed %s reason %q, want errored asking a person", rec.Step, rec.FailedStep, rec.Reason)
				}
				// The person finds the orphan in the Yubico console, cancels
				// it, and retries.
				if err := e.Config.Yubico.CancelFPRShipment(ctx, mine()[0]); err != nil {
					t.Fatal(err)
				}
				if rec, err = e.Service.Retry(ctx, u.ID); err != nil || rec.Step != fulfillment.StepShipmentCreated {
					t.Fatalf("Retry: step %s, %v", rec.Step, err)
				}
			}

			if err := e.Okta.InjectHTTPFault(oktatest.HTTPFaultRule{Method: "POST", PathPrefix: "/webauthn-registration/api/v1/activate", Drop: true}); err != nil {
				t.Fatal(err)
			}
			e.shipThrough()
			rec = e.status(u.ID)
			if rec.Step != fulfillment.StepPINSent && rec.Step != fulfillment.StepActivating {
				t.Fatalf("after the lost activate: step %s", rec.Step)
			}
			e.sync()
			e.wantStatus(u.ID, fulfillment.Shipped, fulfillment.StepPINSent)
			if n := len(e.Okta.Enrollments(u.ID)); n != 1 {
				t.Errorf("user has %d enrollments at Okta, want 1", n)
			}
			initiates := 0
			for _, ev := range e.Okta.Events() {
				if ev.UserID == u.ID && ev.EventType == okta.EventTypePreregisterInitiate {
					initiates++
				}
			}
			if initiates != 1 {
				t.Errorf("%d initiate events for the user, want 1 (the dropped request never reached Okta)", initiates)
			}
		})
	}
}

// TestResumedCreatePastIdempotencyWindow: a shipment create whose answer
// was lost is not sent again once Config.IdempotencyWindow has passed since
// its intent (Yubico may have forgotten the key, and a resend would make a
// second shipment): the record is errored for a person, and a Delete says
// to look in the Yubico console rather than resending to find the shipment.
func TestResumedCreatePastIdempotencyWindow(t *testing.T) {
	t.Parallel()
	e := noRetryEnv(t, true)
	ctx := t.Context()
	u := e.orderedUser(1)
	// Two lost answers: net/http resends a keyed request once by itself.
	if err := e.Yubico.DropResponseAfterCommit(2); err != nil {
		t.Fatal(err)
	}
	if rep := e.sync(); len(rep.Failures) != 1 || !errors.Is(rep.Failures[0].Err, fulfillment.ErrOutcomeUnknown) {
		t.Fatalf("Sync with a lost create answer: %+v, want one ErrOutcomeUnknown", rep)
	}
	e.wantStatus(u.ID, fulfillment.FulfillmentStarted, fulfillment.StepShipmentCreating)
	creates := e.shipmentCreates
	before := creates()
	if before == 0 {
		t.Fatal("no shipment create in Yubico's request log")
	}

	e.Advance(fulfillment.DefaultIdempotencyWindow)
	e.sync()
	rec := e.wantStatus(u.ID, fulfillment.FulfillmentErrored, fulfillment.StepErrored)
	if rec.FailedStep != fulfillment.StepShipmentCreating || !strings.Contains(rec.Reason, "IdempotencyWindow") ||
		!strings.Contains(rec.Reason, "Yubico console") {
		t.Errorf("errored at %s with reason %q; want the create, naming the window and the console", rec.FailedStep, rec.Reason)
	}
	if n := creates(); n != before {
		t.Errorf("%d creates sent after the window passed, want none", n-before)
	}
	if n := len(e.Yubico.Shipments()); n != 1 {
		t.Errorf("Yubico holds %d shipments, want the 1 first made", n)
	}
	if err := e.Service.Delete(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	rec = e.wantStatus(u.ID, fulfillment.Deleted, fulfillment.StepDeleted)
	if n := creates(); n != before || !strings.Contains(rec.Reason, "cancel it") {
		t.Errorf("Delete sent %d creates, reason %q; want none, and a reason asking a person to cancel the shipment", n-before, rec.Reason)
	}
}

// TestSQLiteStoreSurvivesRestart runs a key's lifecycle across three Service
// instances over one SQLite file, as a program restarted between steps.
func TestSQLiteStoreSurvivesRestart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	open := func() *fulfillment.SQLiteStore {
		s, err := fulfillment.OpenSQLite(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	store := open()
	e := newEnv(t, envOption{config: func(c *fulfillment.Config) { c.Store = store }})
	u := e.orderedUser(1)
	restart := func() {
		t.Helper()
		if err := store.Close(); err != nil {
			t.Fatal(err)
		}
		store = open()
		cfg := e.Config
		cfg.Store = store
		svc, err := fulfillment.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		e.Service = svc
	}
	restart()
	e.sync()
	e.wantStatus(u.ID, fulfillment.FulfillmentStarted, fulfillment.StepShipmentCreated)
	restart()
	e.shipThrough()
	rec := e.wantStatus(u.ID, fulfillment.Shipped, fulfillment.StepPINSent)
	if len(rec.History) < 10 {
		t.Errorf("history after restarts has %d changes: %+v", len(rec.History), rec.History)
	}
	t.Cleanup(func() { store.Close() })
}

func TestPrepareUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOption{noHook: true})
	newGroup, existingGroup := e.Okta.AddGroup("YubiKey new users"), e.Okta.AddGroup("YubiKey existing users")
	cfg := e.Config
	cfg.NewUsersGroupID, cfg.ExistingUsersGroupID = newGroup, existingGroup
	svc, err := fulfillment.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	p := profile(7)
	staged := fulfillment.Profile{Login: p.Login, Email: p.Email, SecondEmail: p.SecondEmail, FirstName: p.FirstName,
		LastName: p.LastName, PrimaryPhone: "(617) 555-0100", StreetAddress: p.StreetAddress, City: p.City, State: "ma",
		ZipCode: p.ZipCode, CountryCode: "us", Organization: p.Organization}

	// A new user without a secondary email is refused before Okta sees it.
	noSecond := staged
	noSecond.SecondEmail = ""
	if _, err := svc.PrepareUser(ctx, noSecond, fulfillment.NewUser); !errors.Is(err, fulfillment.ErrInvalidShipping) {
		t.Fatalf("PrepareUser without secondEmail = %v, want ErrInvalidShipping", err)
	}
	if n := len(e.Okta.Users()); n != 0 {
		t.Fatalf("a refused profile created %d users", n)
	}
	id, err := svc.PrepareUser(ctx, staged, fulfillment.NewUser)
	if err != nil {
		t.Fatalf("PrepareUser(NewUser): %v", err)
	}
	u, ok := e.Okta.User(id)
	if !ok || u.Status != okta.UserStaged || u.Profile.SecondEmail != p.SecondEmail {
		t.Fatalf("created user %+v, want STAGED with the secondary email", u)
	}
	if members := e.Okta.GroupMembers(newGroup); len(members) != 1 || members[0] != id {
		t.Errorf("new-users group members %v, want [%s]", members, id)
	}
	if _, err := svc.PrepareUser(ctx, staged, fulfillment.NewUser); !errors.Is(err, okta.ErrValidation) {
		t.Errorf("PrepareUser with a duplicate login = %v, want okta.ErrValidation", err)
	}

	// An existing user gets the shipping attributes and the group.
	existing := e.addUser(8, okta.UserActive, func(p *okta.Profile) { p.City, p.ZipCode = "", "" })
	move := fulfillment.Profile{Login: existing.Profile.Login, City: "Cambridge", ZipCode: "02139"}
	id, err = svc.PrepareUser(ctx, move, fulfillment.ExistingUser)
	if err != nil || id != existing.ID {
		t.Fatalf("PrepareUser(ExistingUser) = %q, %v; want %s", id, err, existing.ID)
	}
	u, _ = e.Okta.User(existing.ID)
	if u.Profile.City != "Cambridge" || u.Profile.ZipCode != "02139" || u.Profile.Login != existing.Profile.Login {
		t.Errorf("existing user's profile %+v", u.Profile)
	}
	if members := e.Okta.GroupMembers(existingGroup); len(members) != 1 || members[0] != existing.ID {
		t.Errorf("existing-users group members %v", members)
	}
	if _, err := svc.PrepareUser(ctx, fulfillment.Profile{Login: "ghost@example.com"}, fulfillment.ExistingUser); !errors.Is(err, okta.ErrNotFound) {
		t.Errorf("PrepareUser(unknown existing user) = %v, want okta.ErrNotFound", err)
	}
	if _, err := svc.PrepareUser(ctx, staged, fulfillment.UserKind(9)); err == nil {
		t.Error("PrepareUser with an unknown kind succeeded")
	}
	if _, err := svc.Order(ctx, id); err != nil {
		t.Errorf("Order after PrepareUser: %v", err)
	}
}

func TestBatchFromChannelAndStopOnInvalid(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOption{noHook: true})
	ctx := t.Context()
	_, logins := seedUsers(e, 5)
	bad := e.addUser(99, okta.UserActive, func(p *okta.Profile) { p.CountryCode = "XX" })

	rep, err := e.Service.OrderBatch(ctx, append(logins, bad.ID), fulfillment.BatchOptions{StopOnInvalid: true})
	if !errors.Is(err, fulfillment.ErrInvalidBatch) || len(rep.Invalid) != 1 || rep.Ordered != 0 {
		t.Fatalf("StopOnInvalid batch: %+v, %v; want ErrInvalidBatch, 1 invalid, none ordered", rep, err)
	}
	var verr *fulfillment.ValidationError
	if !errors.As(rep.Invalid[0].Err, &verr) || rep.Invalid[0].Index != 5 {
		t.Errorf("invalid row %+v, want a ValidationError at index 5", rep.Invalid[0])
	} else if _, ok := verr.Field("countryCode"); !ok {
		t.Errorf("ValidationError %v does not name countryCode", verr)
	}
	for _, r := range e.Okta.RequestLog() {
		if r.Method == "POST" {
			t.Fatalf("a refused batch sent %s %s", r.Method, r.Path)
		}
	}
	if _, err := e.Service.OrderBatch(ctx, logins, fulfillment.BatchOptions{Items: []fulfillment.Item{{ProductID: "1"}}}); err != nil {
		t.Fatal(err)
	} else if rep, _ := e.Service.OrderBatch(ctx, logins[:1], fulfillment.BatchOptions{Items: []fulfillment.Item{{ProductID: "1"}}}); len(rep.Invalid) != 1 || !errors.Is(rep.Invalid[0].Err, fulfillment.ErrInvalidOrder) {
		t.Errorf("batch with a bad item: %+v, want every user invalid with ErrInvalidOrder", rep)
	}

	ch := make(chan string)
	go func() {
		defer close(ch)
		for _, l := range logins {
			ch <- l
		}
	}()
	rep, err = e.Service.OrderBatchFrom(ctx, ch, fulfillment.BatchOptions{Items: []fulfillment.Item{{ProductID: "29", InventoryProductID: "106", CustomizationID: "RXJN83"}}})
	if err != nil || rep.Ordered != 5 {
		t.Fatalf("OrderBatchFrom: %+v, %v", rep, err)
	}
	for i, r := range rep.Results {
		rec, err := e.Config.Store.Get(ctx, r.UserID)
		if err != nil || rec.Items[0].ProductID != "29" || r.Index != i || r.Status != fulfillment.FulfillmentStarted {
			t.Errorf("result %d: %+v, record %+v, %v", i, r, rec.Items, err)
		}
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.Service.OrderBatchFrom(canceled, make(chan string), fulfillment.BatchOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("OrderBatchFrom with a canceled context = %v", err)
	}
}

func TestTransitionsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOption{noHook: true})
	ctx := t.Context()
	u := e.addUser(1, okta.UserActive, nil)
	if _, err := e.Service.Status(ctx, u.ID); !errors.Is(err, fulfillment.ErrRecordNotFound) {
		t.Errorf("Status without a record = %v, want ErrRecordNotFound", err)
	}
	for name, err := range map[string]error{
		"Retry":     func() error { _, err := e.Service.Retry(ctx, u.ID); return err }(),
		"Delete":    e.Service.Delete(ctx, u.ID),
		"ResendPIN": e.Service.ResendPIN(ctx, u.ID),
	} {
		if !errors.Is(err, fulfillment.ErrRecordNotFound) {
			t.Errorf("%s without a record = %v, want ErrRecordNotFound", name, err)
		}
	}
	if _, err := e.Service.Order(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	e.sync()
	if _, err := e.Service.Retry(ctx, u.ID); !errors.Is(err, fulfillment.ErrInvalidTransition) {
		t.Errorf("Retry of a started key = %v, want ErrInvalidTransition", err)
	}
	if err := e.Service.ResendPIN(ctx, u.ID); !errors.Is(err, fulfillment.ErrInvalidTransition) {
		t.Errorf("ResendPIN before shipping = %v, want ErrInvalidTransition", err)
	}
	e.shipThrough()
	rec := e.wantStatus(u.ID, fulfillment.Shipped, fulfillment.StepPINSent)
	// Deleted in Okta's console: Status notices.
	if err := e.OktaClient.DeleteEnrollment(ctx, u.ID, rec.Enrollments[0].ID); err != nil {
		t.Fatal(err)
	}
	rec = e.wantStatus(u.ID, fulfillment.Deleted, fulfillment.StepDeleted)
	if !strings.Contains(rec.Reason, "deleted at Okta") {
		t.Errorf("reason %q", rec.Reason)
	}
}

// TestRetryFailedActivation: Okta refuses the activation once; the record
// is errored, and Retry activates the same shipped key again instead of
// ordering a second one.
func TestRetryFailedActivation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOption{})
	ctx := t.Context()
	u := e.orderedUser(1)
	e.sync()
	if err := e.Okta.InjectHTTPFault(oktatest.HTTPFaultRule{Method: "POST", PathPrefix: "/webauthn-registration/api/v1/activate", Status: 403}); err != nil {
		t.Fatal(err)
	}
	e.shipThrough()
	rec := e.wantStatus(u.ID, fulfillment.FulfillmentErrored, fulfillment.StepErrored)
	if rec.FailedStep != fulfillment.StepActivating {
		t.Fatalf("failed step %s (%s), want activating", rec.FailedStep, rec.Reason)
	}
	shipment := rec.ShipmentID
	rec, err := e.Service.Retry(ctx, u.ID)
	if err != nil {
		t.Fatalf("Retry: %v", err)
	}
	if rec.Status != fulfillment.Shipped || rec.Step != fulfillment.StepPINSent || rec.ShipmentID != shipment {
		t.Fatalf("after Retry: %s %s shipment %s, want shipped with shipment %s", rec.Status, rec.Step, rec.ShipmentID, shipment)
	}
	if n := len(e.Yubico.Shipments()); n != 1 {
		t.Errorf("Yubico holds %d shipments, want 1", n)
	}
	e.signIn(u, rec, e.pinFor(u.Profile.Email))
	e.sync()
	e.wantStatus(u.ID, fulfillment.Active, fulfillment.StepActive)
}

// TestDeleteAfterLostCreate: the answer to the shipment create was lost;
// Delete still finds the shipment (same idempotency key) and cancels it.
func TestDeleteAfterLostCreate(t *testing.T) {
	t.Parallel()
	// No keep-alives: net/http replays a request with an Idempotency-Key
	// header by itself when a reused connection closes, so with connection
	// reuse the number of drops the create needs would depend on it.
	noReuse := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	e := newEnv(t, envOption{yubicoClient: []yubico.Option{yubico.WithRetryPolicy(yubico.NoRetries()), yubico.WithHTTPClient(noReuse)}})
	ctx := t.Context()
	u := e.orderedUser(1)
	if err := e.Yubico.DropResponseAfterCommit(1); err != nil {
		t.Fatal(err)
	}
	e.sync()
	e.wantStatus(u.ID, fulfillment.FulfillmentStarted, fulfillment.StepShipmentCreating)
	shipments := e.Yubico.Shipments()
	if len(shipments) != 1 {
		t.Fatalf("Yubico holds %d shipments, want the 1 whose answer was lost", len(shipments))
	}
	if err := e.Service.Delete(ctx, u.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	rec := e.wantStatus(u.ID, fulfillment.Deleted, fulfillment.StepDeleted)
	if rec.ShipmentID != shipments[0].ID {
		t.Errorf("record names shipment %q, want %q", rec.ShipmentID, shipments[0].ID)
	}
	if sh, ok := e.Yubico.FPRShipment(shipments[0].ID); ok && sh.State.ID == yubico.StateAwaitingValidation {
		t.Errorf("shipment %s still awaits validation after Delete", sh.ID)
	}
	if n := len(e.Yubico.Shipments()); n > 1 {
		t.Errorf("Delete made %d shipments", n)
	}
	if es := e.Okta.Enrollments(u.ID); len(es) != 0 {
		t.Errorf("Okta enrollments after Delete: %+v", es)
	}
}

// TestDeleteAfterLostCreateWithoutKeys: without IdempotentShipments a
// Delete cannot learn the shipment of a create whose answer was lost; it
// sends no create and its reason asks a person to look in the Yubico
// console.
func TestDeleteAfterLostCreateWithoutKeys(t *testing.T) {
	t.Parallel()
	e := noRetryEnv(t, false)
	u := e.orderedUser(1)
	if err := e.Yubico.DropResponseAfterCommit(1); err != nil {
		t.Fatal(err)
	}
	e.sync()
	e.wantStatus(u.ID, fulfillment.FulfillmentStarted, fulfillment.StepShipmentCreating)
	before := e.shipmentCreates()
	if before == 0 {
		t.Fatal("no shipment create in Yubico's request log")
	}
	if err := e.Service.Delete(t.Context(), u.ID); err != nil {
		t.Fatal(err)
	}
	rec := e.wantStatus(u.ID, fulfillment.Deleted, fulfillment.StepDeleted)
	if n := e.shipmentCreates() - before; n != 0 || !strings.Contains(rec.Reason, "Yubico console has a shipment to "+u.Profile.Email) {
		t.Errorf("Delete sent %d creates, reason %q; want none, and a reason asking a person to cancel the shipment", n, rec.Reason)
	}
}

// TestDeleteAfterRefusedCreate: Yubico refused the shipment create (a
// definite answer: it made no shipment), so Delete, inside the idempotency
// window or past it, sends no create to look for a shipment and asks no
// person to look for one in the Yubico console.
func TestDeleteAfterRefusedCreate(t *testing.T) {
	t.Parallel()
	for _, wait := range []time.Duration{0, fulfillment.DefaultIdempotencyWindow} {
		t.Run(fmt.Sprintf("after %v", wait), func(t *testing.T) {
			t.Parallel()
			// Yubico knows no customization of the Service's orders.
			e := newEnv(t, envOption{yubico: []yubicotest.Option{yubicotest.WithCustomizationIDs("OTHER-CUSTOMIZATION")}})
			u := e.orderedUser(1)
			e.sync()
			rec := e.wantStatus(u.ID, fulfillment.FulfillmentErrored, fulfillment.StepErrored)
			if rec.FailedStep != fulfillment.StepShipmentCreating || !strings.Contains(rec.Reason, "customization") {
				t.Fatalf("errored at %s with reason %q; want Yubico's refusal of the create", rec.FailedStep, rec.Reason)
			}
			before := e.shipmentCreates()
			if before == 0 {
				t.Fatal("no shipment create in Yubico's request log")
			}
			e.Advance(wait)
			if err := e.Service.Delete(t.Context(), u.ID); err != nil {
				t.Fatal(err)
			}
			rec = e.wantStatus(u.ID, fulfillment.Deleted, fulfillment.StepDeleted)
			if n := e.shipmentCreates() - before; n != 0 || strings.Contains(rec.Reason, "Yubico console") {
				t.Errorf("Delete sent %d creates, reason %q; want none, and no shipment to look for", n, rec.Reason)
			}
		})
	}
}

// TestResendPINRecordsStep: ResendPIN is the send-PIN step: its intent
// (with an idempotency key) and its result are in the record's history,
// and a refused resend leaves the key Shipped at PINSent (the PIN was sent
// once already) with the refusal recorded.
func TestResendPINRecordsStep(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOption{})
	ctx := t.Context()
	u := e.orderedUser(1)
	e.sync()
	e.shipThrough()
	before := e.wantStatus(u.ID, fulfillment.Shipped, fulfillment.StepPINSent)
	type entry struct {
		Step   fulfillment.Step
		HasKey bool
		Reason string
	}
	tail := func(rec fulfillment.Record) []entry {
		var got []entry
		for _, c := range rec.History[len(before.History):] {
			got = append(got, entry{c.Step, c.Key != "", c.Reason})
		}
		return got
	}

	if err := e.Service.ResendPIN(ctx, u.ID); err != nil {
		t.Fatalf("ResendPIN: %v", err)
	}
	rec := e.wantStatus(u.ID, fulfillment.Shipped, fulfillment.StepPINSent)
	want := []entry{{fulfillment.StepPINSending, true, ""}, {fulfillment.StepPINSent, false, "PIN resent"}}
	if d := cmp.Diff(want, tail(rec)); d != "" {
		t.Errorf("history of ResendPIN (-want +got):\n%s", d)
	}

	before = rec
	if err := e.Okta.InjectHTTPFault(oktatest.HTTPFaultRule{Method: "POST", PathPrefix: "/webauthn-registration/api/v1/send-pin", Status: 403}); err != nil {
		t.Fatal(err)
	}
	if err := e.Service.ResendPIN(ctx, u.ID); err == nil {
		t.Fatal("ResendPIN refused by Okta succeeded")
	}
	rec = e.wantStatus(u.ID, fulfillment.Shipped, fulfillment.StepPINSent)
	got := tail(rec)
	if len(got) != 2 || got[0] != (entry{fulfillment.StepPINSending, true, ""}) ||
		got[1].Step != fulfillment.StepPINSent || !strings.HasPrefix(got[1].Reason, "send PIN failed: ") {
		t.Errorf("history of a refused ResendPIN: %+v, want the intent then PINSent with the refusal", got)
	}
	if rec.Lease != (fulfillment.Lease{}) {
		t.Errorf("lease %+v left after a refused ResendPIN", rec.Lease)
	}
}

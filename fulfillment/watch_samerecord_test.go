package fulfillment_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// TestSubscriberRetriesFromFn: Okta refuses ada's order (403), and the
// record errors. A subscriber told of FULFILLMENT_ERRORED retries the
// record from fn, in the goroutine that stored the change (Order's): the
// change reaches fn after Order has released the record's lock, so Retry
// reads the errored record and sends the order again, and Order returns.
// Retry's changes are delivered after fn returns, before Order returns.
func TestSubscriberRetriesFromFn(t *testing.T) {
	ctx := t.Context()
	w, listened, ids := feedWorld(t, "ada")
	ada := ids[0]
	if err := w.Okta.InjectHTTPFault(oktatest.HTTPFaultRule{Method: "POST",
		PathPrefix: "/webauthn-registration/api/v1/initiate-fulfillment-request", Status: 403}); err != nil {
		t.Fatal(err)
	}
	var got []fulfillment.RecordChange // appended by one delivery at a time
	var retried fulfillment.Record
	var retryErr error
	retries := 0
	w.Service.Subscribe(ctx, func(c fulfillment.RecordChange) { // until the test ends: a cancel would wait on a deadlock
		if c.Resync {
			return
		}
		got = append(got, c)
		if c.UserID == ada && c.Status == fulfillment.FulfillmentErrored && retries == 0 {
			retries++
			retried, retryErr = w.Service.Retry(ctx, c.UserID)
		}
	})
	bounded(t, listened, "the feed listens")
	if err := await(t, "ada's order, whose subscriber retries it", func() error {
		_, err := w.Service.Order(ctx, ada)
		return err
	}); err == nil {
		t.Error("Order succeeded; want Okta's 403")
	}
	if retries != 1 || retryErr != nil {
		t.Fatalf("Retry from fn: %d calls, %v; want one, no error", retries, retryErr)
	}
	if retried.Status != fulfillment.FulfillmentStarted || retried.Attempts != 2 {
		t.Errorf("Retry returned %s at %s, attempt %d; want %s, attempt 2",
			retried.Status, retried.Step, retried.Attempts, fulfillment.FulfillmentStarted)
	}
	if rec := w.Status(ctx, "ada@example.com"); rec.Version != retried.Version {
		t.Errorf("stored record at %s, version %d; want Retry's (%s, version %d)", rec.Step, rec.Version, retried.Step, retried.Version)
	}
	// Every write once, in order: the order's two, then Retry's (from the
	// errored record, up to the record it returned).
	type change struct {
		Version int64
		Status  fulfillment.Status
		Step    fulfillment.Step
	}
	var want, changes []change
	for v := range retried.Version {
		want = append(want, change{Version: v + 1})
	}
	want[0].Status, want[0].Step = fulfillment.FulfillmentStarted, fulfillment.StepInitiating
	want[1].Status, want[1].Step = fulfillment.FulfillmentErrored, fulfillment.StepErrored
	want[len(want)-1].Status, want[len(want)-1].Step = retried.Status, retried.Step
	for i, c := range got {
		if c.UserID != ada || c.Login != "ada@example.com" || c.Remote {
			t.Errorf("change %+v: want ada's own", c)
		}
		if i < 2 || i == len(got)-1 {
			changes = append(changes, change{c.Version, c.Status, c.Step})
		} else {
			changes = append(changes, change{Version: c.Version})
		}
	}
	if diff := cmp.Diff(want, changes); diff != "" {
		t.Errorf("changes delivered before Order returned (-want +got):\n%s", diff)
	}
}

// TestSubscriberOrdersSameUserFromFn: a subscriber told that ada's key
// was deleted orders a new one for ada from fn, in the goroutine that
// deleted it: Delete returns, and the new order is recorded on the
// deleted record, its changes delivered before Delete returns.
func TestSubscriberOrdersSameUserFromFn(t *testing.T) {
	ctx := t.Context()
	w, listened, ids := feedWorld(t, "ada")
	ada := ids[0]
	var got []fulfillment.RecordChange // appended by one delivery at a time
	var again fulfillment.Record
	var orderErr error
	orders := 0
	w.Service.Subscribe(ctx, func(c fulfillment.RecordChange) { // until the test ends
		if c.Resync {
			return
		}
		got = append(got, c)
		if c.UserID == ada && c.Status == fulfillment.Deleted && orders == 0 {
			orders++
			again, orderErr = w.Service.Order(ctx, ada)
		}
	})
	bounded(t, listened, "the feed listens")
	first, err := w.Service.Order(ctx, ada)
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	if err := await(t, "ada's Delete, whose subscriber orders for ada again", func() error {
		return w.Service.Delete(ctx, ada)
	}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if orders != 1 || orderErr != nil {
		t.Fatalf("Order from fn: %d calls, %v; want one, no error", orders, orderErr)
	}
	if again.Status != fulfillment.FulfillmentStarted || again.Step != fulfillment.StepInitiated || again.Version <= first.Version {
		t.Errorf("the new order: %s at %s, version %d; want %s at %s after version %d",
			again.Status, again.Step, again.Version, fulfillment.FulfillmentStarted, fulfillment.StepInitiated, first.Version)
	}
	want := []step{
		{ada, "ada@example.com", fulfillment.StepDeleting, false}, {ada, "ada@example.com", fulfillment.StepDeleted, false},
		{ada, "ada@example.com", fulfillment.StepInitiating, false}, {ada, "ada@example.com", fulfillment.StepInitiated, false},
	}
	if diff := cmp.Diff(want, steps(t, got, "")); diff != "" {
		t.Errorf("changes delivered before Delete returned (-want +got):\n%s", diff)
	}
}

// TestSubscribeEventDeliveredBeforeReturn: the event hook's write holds no
// record lock; with no other delivery running, its change is delivered
// before RecordEvent returns, not left queued for a later write.
func TestSubscribeEventDeliveredBeforeReturn(t *testing.T) {
	ctx := t.Context()
	w, listened, ids := feedWorld(t, "ada")
	ada := ids[0]
	log := subscribe(t, w.Service)
	bounded(t, listened, "the feed listens")
	log.resync()
	out, err := w.Service.RecordEvent(ctx, fulfillment.HookEvent{ID: "ev-1", UserID: ada, Items: []fulfillment.Item{w.Config.Defaults}})
	if out != fulfillment.EventRecorded || err != nil {
		t.Fatalf("RecordEvent = %v, %v; want recorded", out, err)
	}
	select {
	case c := <-log.ch:
		if diff := cmp.Diff([]step{{ada, "ada@example.com", fulfillment.StepInitiated, false}}, steps(t, []fulfillment.RecordChange{c}, "")); diff != "" {
			t.Errorf("the event's change (-want +got):\n%s", diff)
		}
	default:
		t.Fatal("RecordEvent returned before its change was delivered")
	}
	log.empty()
}

// failingStore is a Store (no ChangeFeed: no other goroutine delivers)
// whose Put panics while panics is set.
type failingStore struct {
	fulfillment.Store
	panics atomic.Bool
}

func (s *failingStore) Put(ctx context.Context, r fulfillment.Record) (fulfillment.Record, error) {
	if s.panics.Load() && r.Version == 1 {
		panic("fulfillment test: Put")
	}
	return s.Store.Put(ctx, r)
}

// TestSubscribeStorePanicUnderLock: the Store panics on the second write
// of an order (recovered by an HTTP server, say). The change of the first,
// queued under the record's lock, is delivered as the panic leaves Order,
// not left queued until another write; and the user is not left locked.
func TestSubscribeStorePanicUnderLock(t *testing.T) {
	ctx := t.Context()
	store := &failingStore{Store: fulfillment.NewMemoryStore()}
	store.panics.Store(true)
	w := fulfillmenttest.New(t, fulfillmenttest.WithStore(store), fulfillmenttest.WithoutEventHook(),
		fulfillmenttest.WithUsers(fulfillmenttest.Employee("ada")))
	ada := w.User("ada@example.com").ID
	log := subscribe(t, w.Service)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Order did not panic")
			}
		}()
		w.Service.Order(ctx, ada)
	}()
	select {
	case c := <-log.ch:
		if diff := cmp.Diff([]step{{ada, "ada@example.com", fulfillment.StepInitiating, false}}, steps(t, []fulfillment.RecordChange{c}, "")); diff != "" {
			t.Errorf("the change of the write before the panic (-want +got):\n%s", diff)
		}
	default:
		t.Fatal("the change of the write before the panic was not delivered")
	}
	log.empty()
	store.panics.Store(false)
	if err := await(t, "Status after the panic", func() error {
		_, err := w.Service.Status(ctx, ada)
		return err
	}); err != nil {
		t.Errorf("Status after the panic: %v", err)
	}
}

// TestSubscriberRetriesFromFnDuringSync: Okta refuses the enroll of a Sync
// pass (403) and ada's record errors, in one of the pass's goroutines. A
// subscriber retries it from fn: the change reaches fn when the pass is
// done with ada (her lock released), in that goroutine, before Sync
// returns; Retry enrolls her again.
func TestSubscriberRetriesFromFnDuringSync(t *testing.T) {
	ctx := t.Context()
	store := &failingStore{Store: fulfillment.NewMemoryStore()} // no feed: the pass's goroutine delivers
	w := fulfillmenttest.New(t, fulfillmenttest.WithStore(store), fulfillmenttest.WithoutEventHook(),
		fulfillmenttest.WithUsers(fulfillmenttest.Employee("ada")))
	ada := w.User("ada@example.com").ID
	if _, err := w.Service.Order(ctx, ada); err != nil {
		t.Fatal(err)
	}
	if err := w.Okta.InjectHTTPFault(oktatest.HTTPFaultRule{Method: "POST",
		PathPrefix: "/webauthn-registration/api/v1/enroll", Status: 403}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex // fn runs in a goroutine of the pass
	var errored []fulfillment.RecordChange
	var retried fulfillment.Record
	var retryErr error
	w.Service.Subscribe(ctx, func(c fulfillment.RecordChange) { // until the test ends
		mu.Lock()
		defer mu.Unlock()
		if c.Status == fulfillment.FulfillmentErrored {
			errored = append(errored, c)
			if len(errored) == 1 {
				retried, retryErr = w.Service.Retry(ctx, c.UserID)
			}
		}
	})
	if err := await(t, "a Sync pass whose subscriber retries ada", func() error {
		_, err := w.Service.Sync(ctx)
		return err
	}); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(errored) != 1 || errored[0].UserID != ada {
		t.Fatalf("errored changes delivered before Sync returned: %+v; want ada's", errored)
	}
	if retryErr != nil || retried.Status != fulfillment.FulfillmentStarted || retried.Attempts != 2 || len(retried.Enrollments) != 1 {
		t.Errorf("Retry from fn: %s at %s, attempt %d, %d enrollments, %v; want %s, attempt 2, enrolled",
			retried.Status, retried.Step, retried.Attempts, len(retried.Enrollments), retryErr, fulfillment.FulfillmentStarted)
	}
}

// TestSubscribeNilFn: a nil fn panics in the caller's goroutine, where it
// can be recovered and points at the call, not later in the goroutine of
// a write or of the change feed (which crashed the process).
func TestSubscribeNilFn(t *testing.T) {
	t.Parallel()
	w := fulfillmenttest.New(t)
	defer func() {
		if r := recover(); r != "fulfillment: Subscribe with a nil fn" {
			t.Errorf("recover() = %v, want Subscribe's panic", r)
		}
	}()
	w.Service.Subscribe(t.Context(), nil)
	t.Error("Subscribe(nil) returned")
}

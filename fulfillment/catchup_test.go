package fulfillment_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/okta"
)

// orderAtOkta is an administrator ordering a key for login in Okta's admin
// console: Okta emits system.mfa.preregister.initiate.
func orderAtOkta(t *testing.T, w *fulfillmenttest.World, login string) {
	t.Helper()
	err := w.OktaClient.InitiateFulfillment(t.Context(), okta.FulfillmentRequest{UserID: w.User(login).ID,
		FulfillmentData: okta.FulfillmentData{{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"}}})
	if err != nil {
		t.Fatal(err)
	}
}

// outcomes is a CatchUpReport's counts, for cmp.Diff.
type outcomes struct {
	Events, Skipped             int
	Recorded, Duplicate, Flight int
}

func counts(rep fulfillment.CatchUpReport) outcomes {
	return outcomes{Events: rep.Events, Skipped: rep.Skipped, Recorded: rep.Outcomes[fulfillment.EventRecorded],
		Duplicate: rep.Outcomes[fulfillment.EventDuplicate], Flight: rep.Outcomes[fulfillment.EventInFlight]}
}

// TestCatchUpRecordsWhatTheHookMissed: orders placed at Okta while no
// event hook received them are recorded from the System Log, once; a
// catch-up over events the hook delivered records nothing new.
func TestCatchUpRecordsWhatTheHookMissed(t *testing.T) {
	for _, hook := range []bool{false, true} {
		name := map[bool]string{false: "no hook", true: "hook delivered"}[hook]
		t.Run(name, func(t *testing.T) {
			opts := []fulfillmenttest.Option{fulfillmenttest.WithUsers(fulfillmenttest.Employee("ada"), fulfillmenttest.Employee("bo"))}
			if !hook {
				opts = append(opts, fulfillmenttest.WithoutEventHook())
			}
			w := fulfillmenttest.New(t, opts...)
			ctx := t.Context()

			start, err := w.Service.CatchUp(ctx, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			// Okta's clock to the second, a second early.
			if !start.Until.Equal(w.Now().Add(-time.Second)) || start.Events != 0 {
				t.Fatalf("CatchUp(zero) = %+v, want nothing read, Until a second before now", start)
			}
			w.Advance(time.Minute)
			orderAtOkta(t, w, "ada@example.com")
			orderAtOkta(t, w, "bo@example.com")
			w.AwaitEvents(ctx)
			w.Advance(time.Minute)

			first, err := w.Service.CatchUp(ctx, start.Until.Add(-fulfillment.CatchUpOverlap))
			if err != nil {
				t.Fatal(err)
			}
			want := outcomes{Events: 2, Recorded: 2}
			if hook {
				want = outcomes{Events: 2, Duplicate: 2}
			}
			if diff := cmp.Diff(want, counts(first)); diff != "" {
				t.Errorf("first catch-up (-want +got):\n%s", diff)
			}
			again, err := w.Service.CatchUp(ctx, first.Until.Add(-fulfillment.CatchUpOverlap))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(outcomes{Events: 2, Duplicate: 2}, counts(again)); diff != "" {
				t.Errorf("second catch-up over the same events (-want +got):\n%s", diff)
			}
			for _, login := range []string{"ada@example.com", "bo@example.com"} {
				w.AdvanceUntil(ctx, login, fulfillment.Shipped)
			}
			if n := len(w.Yubico.Shipments()); n != 2 {
				t.Errorf("%d shipments, want 2", n)
			}
		})
	}
}

// TestCatchUpKeepsItsPlace: a catch-up that cannot save an order stops
// there with the error, and the event stays unmarked: the next one from
// the same since records it. A mark that fails after the save loses
// nothing either: the order is recorded, and the next catch-up marks it.
func TestCatchUpKeepsItsPlace(t *testing.T) {
	for _, tc := range []struct {
		name      string
		failPut   bool
		failMark  bool
		wantFirst outcomes
		firstErr  bool
	}{
		{name: "save fails", failPut: true, wantFirst: outcomes{Events: 1}, firstErr: true},
		{name: "mark fails", failMark: true, wantFirst: outcomes{Events: 1, Recorded: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &faultyStore{MemoryStore: fulfillment.NewMemoryStore()}
			w := fulfillmenttest.New(t, fulfillmenttest.WithStore(store), fulfillmenttest.WithoutEventHook(),
				fulfillmenttest.WithUsers(fulfillmenttest.Employee("ada")))
			ctx := t.Context()
			since := w.Now()
			w.Advance(time.Minute)
			orderAtOkta(t, w, "ada@example.com")
			w.Advance(time.Minute)
			store.set(tc.failPut, tc.failMark)
			rep, err := w.Service.CatchUp(ctx, since)
			if tc.firstErr != errors.Is(err, errStoreFault) || (!tc.firstErr && err != nil) {
				t.Fatalf("CatchUp with the store failing: error %v, want error %v", err, tc.firstErr)
			}
			if diff := cmp.Diff(tc.wantFirst, counts(rep)); diff != "" {
				t.Errorf("CatchUp with the store failing (-want +got):\n%s", diff)
			}
			store.set(false, false)
			rep, err = w.Service.CatchUp(ctx, since)
			if err != nil {
				t.Fatal(err)
			}
			want := outcomes{Events: 1, Recorded: 1}
			if !tc.firstErr {
				want = outcomes{Events: 1, Duplicate: 1}
			}
			if diff := cmp.Diff(want, counts(rep)); diff != "" {
				t.Errorf("CatchUp again (-want +got):\n%s", diff)
			}
			if marked, err := store.EventMarked(ctx, w.Okta.Events()[0].UUID); err != nil || !marked {
				t.Errorf("the event is not marked after the second catch-up (%v)", err)
			}
			w.WantStatus(ctx, "ada@example.com", fulfillment.FulfillmentStarted)
		})
	}
}

// TestCatchUpFromCheckpointKeepsItsPlace: a catch-up that fails part way
// moves the checkpoint to the last event it handled, so that the next one
// goes on from there (CatchUpOverlap before it) instead of reading every
// event again; one that handled nothing leaves the checkpoint alone.
func TestCatchUpFromCheckpointKeepsItsPlace(t *testing.T) {
	store := &faultyStore{MemoryStore: fulfillment.NewMemoryStore()}
	w := fulfillmenttest.New(t, fulfillmenttest.WithStore(store), fulfillmenttest.WithoutEventHook(),
		fulfillmenttest.WithUsers(fulfillmenttest.Employee("ada"), fulfillmenttest.Employee("bo"), fulfillmenttest.Employee("cy")))
	ctx := t.Context()
	checkpoint := func() time.Time {
		t.Helper()
		d, err := store.GetDocument(ctx, fulfillment.CheckpointCollection, "okta-system-log")
		if err != nil {
			t.Fatal(err)
		}
		var cp struct{ Until time.Time }
		if err := json.Unmarshal(d.Data, &cp); err != nil {
			t.Fatal(err)
		}
		return cp.Until
	}
	first, err := w.Service.CatchUpFromCheckpoint(ctx) // serve starts here
	if err != nil {
		t.Fatal(err)
	}
	// Three orders, ten minutes apart: more than the overlap.
	for _, login := range []string{"ada", "bo", "cy"} {
		w.Advance(10 * time.Minute)
		orderAtOkta(t, w, login+"@example.com")
	}
	w.Advance(time.Minute)
	ev := w.Okta.Events()
	if len(ev) != 3 {
		t.Fatalf("%d events at Okta, want 3", len(ev))
	}

	// Nothing handled: the checkpoint stays.
	store.set(true, false)
	if _, err := w.Service.CatchUpFromCheckpoint(ctx); !errors.Is(err, errStoreFault) {
		t.Fatalf("catch-up with every save failing: %v, want the store's error", err)
	}
	if got := checkpoint(); !got.Equal(first.Until) {
		t.Errorf("after a catch-up that handled nothing, checkpoint %v, want %v (unmoved)", got, first.Until)
	}

	// ada and bo recorded, cy's save fails: the checkpoint is bo's event.
	store.set(false, false)
	store.mu.Lock()
	store.failLogin = "cy@example.com"
	store.mu.Unlock()
	rep, err := w.Service.CatchUpFromCheckpoint(ctx)
	if !errors.Is(err, errStoreFault) {
		t.Fatalf("catch-up with cy's save failing: %v, want the store's error", err)
	}
	if diff := cmp.Diff(outcomes{Events: 3, Recorded: 2}, counts(rep)); diff != "" {
		t.Errorf("catch-up with cy's save failing (-want +got):\n%s", diff)
	}
	if got := checkpoint(); !got.Equal(ev[1].Published) || !rep.Through.Equal(ev[1].Published) {
		t.Errorf("after the failed catch-up: checkpoint %v, Through %v; want bo's event's %v", got, rep.Through, ev[1].Published)
	}

	// The next goes on from bo's event: bo again (the overlap: a duplicate), then cy.
	store.mu.Lock()
	store.failLogin = ""
	store.mu.Unlock()
	rep, err = w.Service.CatchUpFromCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := ev[1].Published.Add(-fulfillment.CatchUpOverlap); !rep.Since.Equal(want) {
		t.Errorf("next catch-up from %v, want %v (bo's event less the overlap)", rep.Since, want)
	}
	if diff := cmp.Diff(outcomes{Events: 2, Recorded: 1, Duplicate: 1}, counts(rep)); diff != "" {
		t.Errorf("next catch-up (-want +got):\n%s", diff)
	}
	if got := checkpoint(); !got.Equal(rep.Until) {
		t.Errorf("checkpoint %v after the last catch-up, want its Until %v", got, rep.Until)
	}
}

// TestCatchUpReadsAt90DaysMost: a since beyond Okta's retention starts at
// the retention.
func TestCatchUpReadsAt90DaysMost(t *testing.T) {
	w := fulfillmenttest.New(t, fulfillmenttest.WithoutEventHook())
	rep, err := w.Service.CatchUp(t.Context(), w.Now().AddDate(-1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if want := w.Now().Add(-fulfillment.SystemLogRetention); !rep.Since.Equal(want) {
		t.Errorf("Since = %v, want %v", rep.Since, want)
	}
}

var errStoreFault = errors.New("test: the store fails")

// faultyStore is a MemoryStore (an EventChecker) whose Put and MarkEvent
// fail while told to.
type faultyStore struct {
	*fulfillment.MemoryStore
	mu                sync.Mutex
	failPut, failMark bool
	failLogin         string // Put fails for this login's records too
}

func (s *faultyStore) set(put, mark bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failPut, s.failMark = put, mark
}

func (s *faultyStore) Put(ctx context.Context, r fulfillment.Record) (fulfillment.Record, error) {
	s.mu.Lock()
	fail := s.failPut || (s.failLogin != "" && r.Login == s.failLogin)
	s.mu.Unlock()
	if fail {
		return fulfillment.Record{}, errStoreFault
	}
	return s.MemoryStore.Put(ctx, r)
}

func (s *faultyStore) MarkEvent(ctx context.Context, id string, at time.Time) (bool, error) {
	s.mu.Lock()
	fail := s.failMark
	s.mu.Unlock()
	if fail {
		return false, errStoreFault
	}
	return s.MemoryStore.MarkEvent(ctx, id, at)
}

// chanTicker is a Run ticker the test ticks.
type chanTicker chan time.Time

func (c chanTicker) C() <-chan time.Time { return c }
func (chanTicker) Stop()                 {}

// TestRunCatchesUp: with Config.CatchUpEvery, Run catches up from the
// checkpoint after its first pass and at each tick of its catch-up ticker
// (no pass due): orders placed at Okta that no hook delivered are recorded
// and shipped.
func TestRunCatchesUp(t *testing.T) {
	tick := make(chanTicker) // CatchUpEvery's; the passes' never ticks
	w := fulfillmenttest.New(t, fulfillmenttest.WithoutEventHook(),
		fulfillmenttest.WithUsers(fulfillmenttest.Employee("ada"), fulfillmenttest.Employee("bo")),
		fulfillmenttest.WithConfig(func(c *fulfillment.Config) {
			c.CatchUpEvery = time.Minute
			c.NewTicker = func(d time.Duration) fulfillment.Ticker {
				if d == c.CatchUpEvery {
					return tick
				}
				return stillTicker{}
			}
		}))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second) // bounds a failure, never reached when it works
	defer cancel()
	if _, err := w.Service.CatchUpFromCheckpoint(ctx); err != nil { // the checkpoint: serve started here
		t.Fatal(err)
	}
	created := make(chan string, 2)
	w.Service.Subscribe(ctx, func(c fulfillment.RecordChange) {
		if c.Step == fulfillment.StepShipmentCreated {
			created <- c.UserID
		}
	})
	shipped := func(login string) {
		t.Helper()
		select {
		case id := <-created:
			if id != w.User(login).ID {
				t.Errorf("shipment created for %s, want %s's", id, login)
			}
		case <-ctx.Done():
			t.Fatalf("Run did not catch up the order of %s", login)
		}
	}

	w.Advance(time.Minute)
	orderAtOkta(t, w, "ada@example.com")
	w.Advance(time.Minute)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Service.Run(runCtx) }()
	shipped("ada@example.com")

	orderAtOkta(t, w, "bo@example.com")
	w.Advance(time.Minute)
	select {
	case tick <- w.Now():
	case <-ctx.Done():
		t.Fatal("Run does not read its catch-up ticker")
	}
	shipped("bo@example.com")
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
}

// TestRunAfterDrainDoesNotCatchUp: Drain ends a Run that waits between
// passes at once, with ErrDraining, and a catch-up tick that comes with
// it starts no new record: the order placed at Okta is left to the next
// instance's catch-up (the checkpoint did not move).
func TestRunAfterDrainDoesNotCatchUp(t *testing.T) {
	store := fulfillment.NewMemoryStore()
	catchUpTick := make(chanTicker)
	w := fulfillmenttest.New(t, fulfillmenttest.WithStore(store), fulfillmenttest.WithoutEventHook(),
		fulfillmenttest.WithUsers(fulfillmenttest.Employee("ada")),
		fulfillmenttest.WithConfig(func(c *fulfillment.Config) {
			c.CatchUpEvery = time.Minute
			c.NewTicker = func(d time.Duration) fulfillment.Ticker {
				if d == c.CatchUpEvery {
					return catchUpTick
				}
				return stillTicker{}
			}
		}))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second) // bounds a failure, never reached when it works
	defer cancel()
	if _, err := w.Service.CatchUpFromCheckpoint(ctx); err != nil { // the checkpoint
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Service.Run(ctx) }()
	// Taken by Run waiting after its first pass and catch-up: it catches
	// up again (no order to find yet).
	select {
	case catchUpTick <- w.Now():
	case err := <-done:
		t.Fatalf("Run returned %v before the first catch-up tick", err)
	case <-ctx.Done():
		t.Fatal("Run does not take the catch-up tick")
	}
	w.Advance(time.Minute)
	orderAtOkta(t, w, "ada@example.com")
	w.Advance(time.Minute)
	w.Service.Drain()
	var err error
	select {
	case catchUpTick <- w.Now(): // taken before Run saw Drain: it does not catch up
		err = <-done
	case err = <-done:
	case <-ctx.Done():
		t.Fatal("Run did not return after Drain")
	}
	if !errors.Is(err, fulfillment.ErrDraining) {
		t.Fatalf("Run after Drain = %v, want ErrDraining", err)
	}
	if rec, err := store.Get(ctx, w.User("ada@example.com").ID); !errors.Is(err, fulfillment.ErrRecordNotFound) {
		t.Errorf("after a catch-up tick while draining: record %+v, %v; want none", rec, err)
	}
	rep, err := w.Service.CatchUpFromCheckpoint(ctx)
	if err != nil || rep.Recorded() != 1 {
		t.Errorf("the next catch-up = %+v, %v; want the order recorded", counts(rep), err)
	}
}

// TestCatchUpOnOktasClock: the window of a catch-up is Okta's time (the
// events' published times), so a Service whose clock is ahead of Okta's by
// more than CatchUpOverlap still finds an order placed at Okta between two
// catch-ups, and its Until is never ahead of Okta's clock.
func TestCatchUpOnOktasClock(t *testing.T) {
	const ahead = 10 * time.Minute
	var w *fulfillmenttest.World
	w = fulfillmenttest.New(t, fulfillmenttest.WithoutEventHook(), fulfillmenttest.WithUsers(fulfillmenttest.Employee("ada")),
		fulfillmenttest.WithConfig(func(c *fulfillment.Config) {
			c.Clock = func() time.Time { return w.Now().Add(ahead) }
		}))
	ctx := t.Context()
	start := w.Now()
	first, err := w.Service.CatchUp(ctx, start.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if first.Until.After(start) {
		t.Errorf("Until = %v, after Okta's clock %v", first.Until, start)
	}
	findsNextOrder(t, w, first)
}

// TestCatchUpLearnsOktasClock: a process whose clock (the Service's and
// the Okta client's, as in serve) is ahead of Okta's, on its first catch-up
// (the client has no answer of Okta's yet), still ends it with an Until on
// Okta's clock, learned from the answers' Date.
func TestCatchUpLearnsOktasClock(t *testing.T) {
	const ahead = 10 * time.Minute
	var w *fulfillmenttest.World
	local := func() time.Time { return w.Now().Add(ahead) }
	w = fulfillmenttest.New(t, fulfillmenttest.WithoutEventHook(), fulfillmenttest.WithUsers(fulfillmenttest.Employee("ada")),
		fulfillmenttest.WithOktaClient(okta.WithClock(funcClock(local))),
		fulfillmenttest.WithConfig(func(c *fulfillment.Config) { c.Clock = local }))
	ctx := t.Context()
	start := w.Now()
	first, err := w.Service.CatchUp(ctx, start.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// Okta's Date has whole seconds.
	if first.Until.After(start) || first.Until.Before(start.Add(-time.Second)) {
		t.Errorf("Until = %v, want Okta's clock %v (to the second)", first.Until, start)
	}
	findsNextOrder(t, w, first)
}

// findsNextOrder checks that the catch-up after first (CatchUpOverlap
// before its Until, as CatchUpFromCheckpoint does) records an order ada
// places at Okta in between.
func findsNextOrder(t *testing.T, w *fulfillmenttest.World, first fulfillment.CatchUpReport) {
	t.Helper()
	w.Advance(time.Minute)
	orderAtOkta(t, w, "ada@example.com")
	w.Advance(time.Minute)
	second, err := w.Service.CatchUp(t.Context(), first.Until.Add(-fulfillment.CatchUpOverlap))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(outcomes{Events: 1, Recorded: 1}, counts(second)); diff != "" {
		t.Errorf("catch-up after an order at Okta (-want +got):\n%s", diff)
	}
}

// funcClock is an okta.Clock whose time is a function's and whose Sleep
// does not wait.
type funcClock func() time.Time

func (c funcClock) Now() time.Time { return c() }

func (c funcClock) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

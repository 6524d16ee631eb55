package fulfillment_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/okta"
)

// onStep is a Store that calls fn (once) when a record is stored at step,
// and counts its Gets.
type onStep struct {
	fulfillment.Store
	step fulfillment.Step
	fn   func()
	once sync.Once
	gets atomic.Int64
}

func (s *onStep) Get(ctx context.Context, userID string) (fulfillment.Record, error) {
	s.gets.Add(1)
	return s.Store.Get(ctx, userID)
}

func (s *onStep) Put(ctx context.Context, r fulfillment.Record) (fulfillment.Record, error) {
	out, err := s.Store.Put(ctx, r)
	if err == nil && r.Step == s.step {
		s.once.Do(s.fn)
	}
	return out, err
}

func TestDrainFinishesTheStepUnderWay(t *testing.T) {
	t.Parallel()
	store := &onStep{Store: fulfillment.NewMemoryStore(), step: fulfillment.StepEnrolled}
	w := fulfillmenttest.New(t, fulfillmenttest.WithStore(store), fulfillmenttest.WithoutEventHook())
	store.fn = w.Service.Drain // SIGTERM arrives while the enroll step records its result
	ctx := t.Context()
	u := w.AddUser(fulfillmenttest.Employee("dora"))
	if _, err := w.Service.Order(ctx, u.Profile.Login); err != nil {
		t.Fatal(err)
	}
	rep, err := w.Service.Sync(ctx)
	if !errors.Is(err, fulfillment.ErrDraining) || len(rep.Failures) != 0 {
		t.Fatalf("Sync while draining = %+v, %v; want ErrDraining and no failures", rep, err)
	}
	rec := w.Status(ctx, u.ID)
	if rec.Step != fulfillment.StepEnrolled || rec.Lease != (fulfillment.Lease{}) {
		t.Errorf("record at %s with lease %+v, want the enroll step finished (enrolled, no lease) and no new step", rec.Step, rec.Lease)
	}
	if len(w.Yubico.Shipments()) != 0 {
		t.Error("a shipment was created after Drain")
	}
	if err := w.Service.Run(ctx); !errors.Is(err, fulfillment.ErrDraining) {
		t.Errorf("Run after Drain = %v, want ErrDraining", err)
	}
}

// abandonedCreate is a world whose process was stopped hard while the
// shipment create of edda's key was in flight: the record is left at the
// create's intent, under this instance's lease.
func abandonedCreate(t *testing.T) (*fulfillmenttest.World, *onStep, okta.User) {
	t.Helper()
	ctx, abandon := context.WithCancel(t.Context())
	store := &onStep{Store: fulfillment.NewMemoryStore(), step: fulfillment.StepShipmentCreating, fn: abandon}
	w := fulfillmenttest.New(t, fulfillmenttest.WithStore(store), fulfillmenttest.WithoutEventHook())
	u := w.AddUser(fulfillmenttest.Employee("edda"))
	if _, err := w.Service.Order(t.Context(), u.Profile.Login); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Service.Sync(ctx); err == nil {
		t.Fatal("Sync with its context cancelled mid-step returned nil")
	}
	return w, store, u
}

func TestReleaseLeasesLetsTheNextInstanceResume(t *testing.T) {
	t.Parallel()
	w, store, u := abandonedCreate(t)
	rec := w.Status(t.Context(), u.ID)
	if rec.Step != fulfillment.StepShipmentCreating || rec.Lease.Owner == "" {
		t.Fatalf("abandoned record at %s lease %+v, want the create intent held by this instance", rec.Step, rec.Lease)
	}
	// Another instance (the restarted program) must wait for the lease...
	next, err := fulfillment.New(w.Config)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := next.Sync(t.Context()); err != nil || rep.Busy != 1 || !rep.BusyUntil.Equal(rec.Lease.Until) {
		t.Fatalf("next instance before the release: %+v, %v; want the record busy until its lease ends (%v)", rep, err, rec.Lease.Until)
	}
	// ...until the stopping instance releases it.
	n, err := w.Service.ReleaseLeases(t.Context(), 0)
	if err != nil || n != 1 {
		t.Fatalf("ReleaseLeases = %d, %v; want 1", n, err)
	}
	gets := store.gets.Load()
	if n, err := w.Service.ReleaseLeases(t.Context(), 0); err != nil || n != 0 {
		t.Errorf("a second ReleaseLeases = %d, %v; want 0", n, err)
	}
	if n := store.gets.Load() - gets; n != 0 {
		t.Errorf("a second ReleaseLeases read %d records again, want none (it holds none)", n)
	}
	if _, err := next.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	w.Service = next
	rec = w.AdvanceUntil(t.Context(), u.Profile.Login, fulfillment.Shipped)
	if got := len(w.Yubico.Shipments()); got != 1 || rec.ShipmentID == "" {
		t.Errorf("%d shipments after the resumed create, want exactly 1", got)
	}
}

// TestRunResumesWhenTheLeaseEnds: a restarted instance whose first pass
// finds a step abandoned by the stopped one (its lease shortened to a
// grace at shutdown) makes its next pass when the lease ends, not a whole
// poll interval later.
func TestRunResumesWhenTheLeaseEnds(t *testing.T) {
	t.Parallel()
	w, _, _ := abandonedCreate(t)
	const grace = 10 * time.Second
	if n, err := w.Service.ReleaseLeases(t.Context(), grace); err != nil || n != 1 {
		t.Fatalf("ReleaseLeases = %d, %v; want 1", n, err)
	}

	// The restarted instance: its poll ticker never ticks; any other
	// ticker Run makes is handed to the test.
	tickers := make(chan time.Duration, 4)
	freed := make(chanTicker)
	cfg := w.Config
	cfg.PollInterval = 5 * time.Minute
	cfg.NewTicker = func(d time.Duration) fulfillment.Ticker {
		if d == cfg.PollInterval {
			return stillTicker{}
		}
		tickers <- d
		return freed
	}
	next, err := fulfillment.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	created := make(chan struct{}, 1)
	next.Subscribe(t.Context(), func(c fulfillment.RecordChange) {
		if c.Step == fulfillment.StepShipmentCreated {
			select {
			case created <- struct{}{}:
			default:
			}
		}
	})
	runCtx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- next.Run(runCtx) }()
	defer func() {
		stop()
		<-done
	}()
	bound := time.After(10 * time.Second) // bounds a failure, never reached when it works
	select {
	case d := <-tickers:
		if want := grace + time.Second; d != want {
			t.Errorf("Run waits %v for the held record, want %v (the lease's end and a second)", d, want)
		}
	case <-bound:
		t.Fatal("Run made no ticker for the lease's end: it would wait its whole poll interval")
	}
	w.Advance(grace + time.Second)
	select {
	case freed <- w.Now():
	case <-bound:
		t.Fatal("Run does not read the lease's ticker")
	}
	select {
	case <-created:
	case <-bound:
		t.Fatal("the pass at the lease's end did not resume the shipment create")
	}
	if got := len(w.Yubico.Shipments()); got != 1 {
		t.Errorf("%d shipments after the resumed create, want exactly 1", got)
	}
}

func TestSyncReportFreedAfter(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	type got struct {
		D  time.Duration
		OK bool
	}
	for _, tc := range []struct {
		name  string
		until time.Time
		want  got
	}{
		{"none held", time.Time{}, got{0, false}},
		{"ends in 10s", now.Add(10 * time.Second), got{11 * time.Second, true}},
		{"ended already (another clock)", now.Add(-time.Minute), got{time.Second, true}},
	} {
		d, ok := fulfillment.SyncReport{BusyUntil: tc.until}.FreedAfter(now)
		if diff := cmp.Diff(tc.want, got{d, ok}); diff != "" {
			t.Errorf("%s: FreedAfter (-want +got):\n%s", tc.name, diff)
		}
	}
}

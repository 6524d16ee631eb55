package fulfillment_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
)

// stillTicker is a Run ticker that never ticks: every pass after the
// first must be woken.
type stillTicker struct{}

func (stillTicker) C() <-chan time.Time { return nil }
func (stillTicker) Stop()               {}

// listedStore tells when a Sync pass has listed the records in flight
// (it hides the due index, so that Sync lists with List).
type listedStore struct {
	fulfillment.Store
	listed chan struct{}
}

func (s listedStore) List(ctx context.Context, q fulfillment.Query) ([]fulfillment.Record, error) {
	recs, err := s.Store.List(ctx, q)
	select {
	case s.listed <- struct{}{}:
	default:
	}
	return recs, err
}

// TestRunWakesOnOrder: an order made with Service.Order (an onboarding
// handler in the same program as Run) is enrolled and shipped at once, not
// after PollInterval; before, only the event handler woke Run, and Order's
// own event found the order in flight.
func TestRunWakesOnOrder(t *testing.T) {
	t.Parallel()
	store := listedStore{Store: fulfillment.NewMemoryStore(), listed: make(chan struct{}, 1)}
	w := fulfillmenttest.New(t, fulfillmenttest.WithUsers(fulfillmenttest.Employee("grace")), fulfillmenttest.WithStore(store),
		fulfillmenttest.WithConfig(func(c *fulfillment.Config) {
			c.NewTicker = func(time.Duration) fulfillment.Ticker { return stillTicker{} }
		}))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second) // bounds a failure, never reached when it works
	defer cancel()
	created := make(chan string, 1)
	w.Service.Subscribe(ctx, func(c fulfillment.RecordChange) {
		if c.Step == fulfillment.StepShipmentCreated {
			select {
			case created <- c.UserID:
			default:
			}
		}
	})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Service.Run(runCtx) }()
	<-store.listed // Run's first pass found nothing to do; it waits now
	rec, err := w.Service.Order(ctx, "grace@example.com")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-created:
		if id != rec.UserID {
			t.Errorf("shipment created for %s, want %s", id, rec.UserID)
		}
	case <-ctx.Done():
		t.Fatal("Run did not take the order up without a tick")
	}
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
}

// TestRunWakesOnRemoteOrder: an order another instance records on the
// shared store (an order-only Service, as `preenroll order` makes) reaches
// Run through the store's change feed and starts a pass after the random
// delay drawn from RunOptions.RemoteWakeDelay (1 s by default), on a
// ticker from Config.NewTicker, not at the next tick of its interval (an
// hour); the pass enrolls the key and creates its shipment.
func TestRunWakesOnRemoteOrder(t *testing.T) {
	for _, st := range sharedStores {
		t.Run(st.name, func(t *testing.T) {
			delays := make(chan time.Duration, 1)
			fire := make(chanTicker)
			w := fulfillmenttest.New(t, fulfillmenttest.WithoutEventHook(), fulfillmenttest.WithStore(st.open(t)),
				fulfillmenttest.WithUsers(fulfillmenttest.Employee("grace")),
				fulfillmenttest.WithConfig(func(c *fulfillment.Config) {
					c.NewTicker = func(d time.Duration) fulfillment.Ticker {
						if d == fulfillment.DefaultPollInterval {
							return stillTicker{}
						}
						delays <- d
						return fire
					}
				}))
			cfg := w.Config
			cfg.Yubico, cfg.Rand, cfg.NewTicker = nil, nil, nil // order-only, an instance of its own
			orderOnly, err := fulfillment.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // bounds a failure, never reached when it works
			defer cancel()
			passes := make(chan fulfillment.RunPass, 1)
			nextPass := func(what string) fulfillment.RunPass {
				t.Helper()
				select {
				case p := <-passes:
					return p
				case <-ctx.Done():
					t.Fatalf("no %s", what)
				}
				return fulfillment.RunPass{}
			}
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() {
				done <- w.Service.RunWith(runCtx, fulfillment.RunOptions{
					Rand:   func(n time.Duration) time.Duration { return n * 7 / 10 },
					OnPass: func(p fulfillment.RunPass) { passes <- p },
				})
			}()
			if p := nextPass("first pass"); p.Err != nil || p.Report.Checked != 0 {
				t.Fatalf("first pass %+v, want nothing to do", p)
			}
			// Run subscribed before its first pass; the feed listens once
			// a subscriber hears its Resync.
			subscribe(t, w.Service).resync()
			if _, err := orderOnly.Order(ctx, "grace@example.com"); err != nil {
				t.Fatal(err)
			}
			select {
			case d := <-delays:
				if d != 700*time.Millisecond {
					t.Errorf("remote wake delayed %v, want 700ms (the draw of 1 s)", d)
				}
			case <-ctx.Done():
				t.Fatal("Run did not hear the other instance's order")
			}
			select {
			case p := <-passes:
				t.Fatalf("a pass %+v before the delayed wake", p)
			default:
			}
			fire <- w.Now()
			p := nextPass("pass after the delayed wake")
			if p.Err != nil || p.Report.Checked != 1 || p.Report.Advanced != 1 {
				t.Errorf("pass after the delayed wake: %+v, want the order checked and advanced", p)
			}
			if got := len(w.Yubico.Shipments()); got != 1 {
				t.Errorf("%d shipments, want 1", got)
			}
			stop()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("RunWith = %v, want context.Canceled", err)
			}
		})
	}
}

var errStoreDown = errors.New("store down")

// flakyStore fails its first fail Lists (it hides the due index, so that
// Sync lists with List).
type flakyStore struct {
	fulfillment.Store
	fail atomic.Int32
}

func (s *flakyStore) List(ctx context.Context, q fulfillment.Query) ([]fulfillment.Record, error) {
	if s.fail.Add(-1) >= 0 {
		return nil, errStoreDown
	}
	return s.Store.List(ctx, q)
}

// TestRunWithReportsPassesAndBacksOff: OnPass gets each pass once, with
// its error and the failed passes in a row; after a failed pass the wait
// doubles from Interval up to MaxBackoff, plus the jitter drawn, each on
// a ticker from Config.NewTicker; a good pass restores Interval, and
// Service.Wake starts a pass without a tick.
func TestRunWithReportsPassesAndBacksOff(t *testing.T) {
	store := &flakyStore{Store: fulfillment.NewMemoryStore()}
	waits := make(chan time.Duration, 1)
	tick := make(chanTicker)
	w := fulfillmenttest.New(t, fulfillmenttest.WithoutEventHook(), fulfillmenttest.WithStore(store),
		fulfillmenttest.WithConfig(func(c *fulfillment.Config) {
			c.NewTicker = func(d time.Duration) fulfillment.Ticker { waits <- d; return tick }
		}))
	store.fail.Store(4)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second) // bounds a failure, never reached when it works
	defer cancel()
	passes := make(chan fulfillment.RunPass, 1)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- w.Service.RunWith(runCtx, fulfillment.RunOptions{
			Interval: time.Minute, Jitter: 30 * time.Second, MaxBackoff: 10 * time.Minute,
			Rand:   func(n time.Duration) time.Duration { return n * 7 / 10 },
			OnPass: func(p fulfillment.RunPass) { passes <- p },
		})
	}()
	type pass struct {
		Failed    int
		StoreDown bool          // the pass's error is the store's
		Wait      time.Duration // the wait after it
	}
	var got []pass
	for i := range 6 {
		var p fulfillment.RunPass
		select {
		case p = <-passes:
		case <-ctx.Done():
			t.Fatalf("no pass %d", i+1)
		}
		got = append(got, pass{p.Failed, errors.Is(p.Err, errStoreDown), <-waits})
		switch i {
		case 4:
			w.Service.Wake() // the last without a tick
		case 5:
		default:
			tick <- w.Now()
		}
	}
	want := []pass{
		{1, true, 2*time.Minute + 21*time.Second},
		{2, true, 4*time.Minute + 21*time.Second},
		{3, true, 8*time.Minute + 21*time.Second},
		{4, true, 10*time.Minute + 21*time.Second},
		{0, false, time.Minute + 21*time.Second},
		{0, false, time.Minute + 21*time.Second},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("passes (-want +got):\n%s", diff)
	}
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("RunWith = %v, want context.Canceled", err)
	}
	select {
	case p := <-passes:
		t.Errorf("a pass %+v after the last", p)
	default:
	}
}

// TestRunWithRefusesNegativeOptions: negative Interval, Jitter and
// MaxBackoff are refused at once, each named in a *ConfigError.
func TestRunWithRefusesNegativeOptions(t *testing.T) {
	w := fulfillmenttest.New(t, fulfillmenttest.WithoutEventHook())
	err := w.Service.RunWith(t.Context(), fulfillment.RunOptions{Interval: -time.Second, Jitter: -time.Second, MaxBackoff: -time.Minute})
	var ce *fulfillment.ConfigError
	if !errors.As(err, &ce) || !errors.Is(err, fulfillment.ErrInvalidConfig) {
		t.Fatalf("RunWith with negative options = %v, want a *ConfigError", err)
	}
	want := []string{"RunOptions.Interval -1s: must not be negative", "RunOptions.Jitter -1s: must not be negative",
		"RunOptions.MaxBackoff -1m0s: must not be negative"}
	if diff := cmp.Diff(want, ce.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// TestRunWithStop: closing RunOptions.Stop ends a Run waiting between
// passes with ErrDraining, and a Run whose Stop is closed before it
// begins makes no pass; neither drains the Service (an order still goes
// through Order, and a later Run makes passes).
func TestRunWithStop(t *testing.T) {
	w := fulfillmenttest.New(t, fulfillmenttest.WithoutEventHook(), fulfillmenttest.WithUsers(fulfillmenttest.Employee("ada")),
		fulfillmenttest.WithConfig(func(c *fulfillment.Config) {
			c.NewTicker = func(time.Duration) fulfillment.Ticker { return stillTicker{} }
		}))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second) // bounds a failure, never reached when it works
	defer cancel()
	stopped := make(chan struct{})
	close(stopped)
	var passes atomic.Int32
	count := func(fulfillment.RunPass) { passes.Add(1) }
	if err := w.Service.RunWith(ctx, fulfillment.RunOptions{Stop: stopped, OnPass: count}); !errors.Is(err, fulfillment.ErrDraining) {
		t.Errorf("RunWith with Stop closed = %v, want ErrDraining", err)
	}
	if n := passes.Load(); n != 0 {
		t.Errorf("RunWith with Stop closed made %d passes, want 0", n)
	}

	stop := make(chan struct{})
	first := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- w.Service.RunWith(ctx, fulfillment.RunOptions{Stop: stop, OnPass: func(p fulfillment.RunPass) {
			if passes.Add(1) == 1 {
				close(first)
			}
		}})
	}()
	<-first // the first pass is over; Run waits (its ticker never ticks)
	close(stop)
	select {
	case err := <-done:
		if !errors.Is(err, fulfillment.ErrDraining) {
			t.Errorf("RunWith after Stop = %v, want ErrDraining", err)
		}
	case <-ctx.Done():
		t.Fatal("RunWith did not return when Stop was closed")
	}
	if n := passes.Load(); n != 1 {
		t.Errorf("RunWith made %d passes, want 1", n)
	}
	if _, err := w.Service.Order(ctx, "ada@example.com"); err != nil {
		t.Errorf("Order after a stopped Run = %v: Stop must not drain the Service", err)
	}
}

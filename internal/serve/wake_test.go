package serve

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/internal/syncio"
)

// TestRunOptions: serve's Sync loop is the Service's Run with
// SyncInterval, SyncJitter, a backoff up to maxSyncBackoff while passes
// fail, and another instance's order waking it after a random delay of up
// to 1 s (SyncJitter if shorter; at once with none, a negative
// RemoteWakeDelay), the delays drawn by Config.syncRand. (fulfillment's
// tests pin what Run does with them.)
func TestRunOptions(t *testing.T) {
	type paced struct{ Interval, Jitter, MaxBackoff, RemoteWakeDelay time.Duration }
	for _, tc := range []struct {
		name   string
		jitter time.Duration
		want   paced
	}{
		{"default jitter", DefaultSyncJitter, paced{DefaultSyncInterval, DefaultSyncJitter, time.Minute, time.Second}},
		{"a shorter jitter", 200 * time.Millisecond, paced{DefaultSyncInterval, 200 * time.Millisecond, time.Minute, 200 * time.Millisecond}},
		{"no jitter", 0, paced{DefaultSyncInterval, 0, time.Minute, -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var drawn time.Duration
			s := &server{cfg: Config{SyncInterval: DefaultSyncInterval, SyncJitter: tc.jitter,
				syncRand: func(n time.Duration) time.Duration { drawn = n; return n * 7 / 10 }}}
			o := s.runOptions(t.Context())
			if diff := cmp.Diff(tc.want, paced{o.Interval, o.Jitter, o.MaxBackoff, o.RemoteWakeDelay}); diff != "" {
				t.Errorf("RunOptions (-want +got):\n%s", diff)
			}
			if d := o.Rand(time.Second); drawn != time.Second || d != 700*time.Millisecond {
				t.Errorf("RunOptions.Rand(1s) = %v, drew %v: not Config.syncRand", d, drawn)
			}
		})
	}
}

// TestRunOptionsOnPass: each pass of the Service's Run is counted in the
// metrics (the draining one too); after a pass that succeeds the keys are
// counted from the store, and after a failed one the gauge keeps the last
// counts.
func TestRunOptionsOnPass(t *testing.T) {
	ctx := t.Context()
	store := fulfillment.NewMemoryStore()
	put := func(id string) {
		t.Helper()
		if _, err := store.Put(ctx, fulfillment.Record{UserID: id, Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepInitiated}); err != nil {
			t.Fatal(err)
		}
	}
	s := &server{m: newMetrics(func() float64 { return 0 }), store: store, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	onPass := s.runOptions(ctx).OnPass
	started := s.m.keys.WithLabelValues(string(fulfillment.FulfillmentStarted))
	type seen struct {
		OK, Error, Draining, Checked, Started float64
	}
	observed := func() seen {
		return seen{testutil.ToFloat64(s.m.syncPasses.WithLabelValues("ok")), testutil.ToFloat64(s.m.syncPasses.WithLabelValues("error")),
			testutil.ToFloat64(s.m.syncPasses.WithLabelValues("draining")), testutil.ToFloat64(s.m.syncRecords.WithLabelValues("checked")),
			testutil.ToFloat64(started)}
	}
	var got []seen
	put("00u1")
	onPass(fulfillment.RunPass{Report: fulfillment.SyncReport{Checked: 2}, Took: time.Second})
	got = append(got, observed())
	put("00u2")
	onPass(fulfillment.RunPass{Err: errors.New("store down"), Took: time.Second, Failed: 1})
	got = append(got, observed())
	onPass(fulfillment.RunPass{Report: fulfillment.SyncReport{Checked: 1}, Err: fulfillment.ErrDraining, Took: time.Second})
	got = append(got, observed())
	want := []seen{
		{OK: 1, Checked: 2, Started: 1},
		{OK: 1, Error: 1, Checked: 2, Started: 1},
		{OK: 1, Error: 1, Draining: 1, Checked: 3, Started: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metrics after each pass (-want +got):\n%s", diff)
	}
}

// countedStore tells when the keys are counted (serve does after each
// Sync pass that succeeds), once armed.
type countedStore struct {
	*fulfillment.MemoryStore
	armed   atomic.Bool
	counted chan struct{}
}

func (s *countedStore) CountByStatus(ctx context.Context) (map[fulfillment.Status]int, error) {
	armed := s.armed.Load()
	counts, err := s.MemoryStore.CountByStatus(ctx)
	if armed {
		select {
		case s.counted <- struct{}{}:
		default:
		}
	}
	return counts, err
}

// TestSyncLoopIsCountedAndDrains: serve's Sync loop, the Service's Run,
// is wired to serve: its passes are counted in the metrics (passes,
// records, and the keys gauge after each that succeeds), and a graceful
// shutdown of a loop waiting for its next pass (an hour away) ends it at
// Drain, not at the shutdown deadline with the steps abandoned.
func TestSyncLoopIsCountedAndDrains(t *testing.T) {
	f := startFakes(t, 1)
	store := &countedStore{MemoryStore: fulfillment.NewMemoryStore(), counted: make(chan struct{}, 1)}
	cfg := f.config(store)
	logs := &syncio.Buffer{}
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	created := make(chan struct{}, 1)
	var s *server
	cfg.started = func(srv *server) {
		s = srv
		srv.svc.Subscribe(t.Context(), func(c fulfillment.RecordChange) {
			if c.Step == fulfillment.StepShipmentCreated {
				select {
				case created <- struct{}{}:
				default:
				}
			}
		})
	}
	r := start(t, cfg)
	f.order(t, f.users[0])                // its event wakes a pass, which creates the shipment
	bound := time.After(10 * time.Second) // bounds a failure, never reached when it works
	select {
	case <-created:
	case <-bound:
		t.Fatal("the order's pass did not create the shipment")
	}
	// A pass that starts now, after the order's, counts the keys when it
	// succeeds, and Run returns only after its OnPass.
	store.armed.Store(true)
	s.svc.Wake()
	select {
	case <-store.counted:
	case <-bound:
		t.Fatal("no pass counted the keys after the order's")
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run = %v, want nil after a graceful shutdown", err)
	}
	keys := 0.0
	for _, st := range fulfillment.Statuses() {
		keys += testutil.ToFloat64(s.m.keys.WithLabelValues(string(st)))
	}
	type counted struct {
		OKPasses bool // at start and the woken one, at least
		Advanced bool // the order's pass
		Keys     float64
	}
	got := counted{testutil.ToFloat64(s.m.syncPasses.WithLabelValues("ok")) >= 2,
		testutil.ToFloat64(s.m.syncRecords.WithLabelValues("advanced")) >= 1, keys}
	if diff := cmp.Diff(counted{true, true, 1}, got); diff != "" {
		t.Errorf("metrics of the Sync loop (-want +got):\n%s", diff)
	}
	if msgs := messages(logs); hasPrefix(msgs, "serve: shutdown deadline passed") || !hasPrefix(msgs, "serve: stopped") {
		t.Errorf("graceful shutdown logged %q; want it stopped, not at the deadline: the waiting Sync loop ends at Drain", msgs)
	}
}

package reliability_test

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// TestTwoInstancesShareOneStore runs two Service instances (as two
// processes of a deployment would) on one SQLite store, each with its own
// clients, concurrently: both order the same batch and both Sync at every
// point of the lifecycle, under 20% faults on both fakes. The store's
// compare-and-swap and the leases must keep them from ordering, enrolling
// or shipping anything twice.
func TestTwoInstancesShareOneStore(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	const n = 16
	w := newWorld(t, n, 4242)
	path := filepath.Join(t.TempDir(), "shared.db")
	var svcs [2]*fulfillment.Service
	var stores [2]*fulfillment.SQLiteStore
	for i := range svcs {
		st, err := fulfillment.OpenSQLite(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		stores[i] = st
		oc, yc := w.clients(clientOptions{timeout: clientTimeout}, &counters{})
		svcs[i] = w.service(oc, yc, st, func(c *fulfillment.Config) {
			c.Rand = newSeeded(uint64(1000 + i)) // distinct instance IDs and keys
			c.Concurrency = 4
			// Leases expire on the Service clock (Yubico's fake clock),
			// which only moves between phases: a lease taken in one phase
			// is free in the next.
			c.Lease = time.Minute
		})
	}
	// Faults on both fakes until the sign-in (which the other suites cover
	// under faults).
	if err := w.Okta.SetHTTPFaultPlan(oktatest.HTTPFaultPlan{Rate: faultRate, Latency: faultLatency, Seed: 4242, RetryAfter: faultRetryAfter}); err != nil {
		t.Fatal(err)
	}
	if err := w.Yubico.SetHTTPFaultPlan(yubicotest.HTTPFaultPlan{Rate: faultRate, Latency: faultLatency, Seed: 4242}); err != nil {
		t.Fatal(err)
	}
	both := func(f func(svc *fulfillment.Service)) {
		var wg sync.WaitGroup
		for _, svc := range svcs {
			wg.Go(func() { f(svc) })
		}
		wg.Wait()
	}
	for round := 0; ; round++ { // the batch, re-run while some user has no record
		missing := 0
		for _, id := range w.ids() {
			if _, err := stores[0].Get(ctx, id); err != nil {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if round == 10 {
			t.Fatalf("%d users without a record after 10 batches", missing)
		}
		both(func(svc *fulfillment.Service) {
			if _, err := svc.OrderBatch(ctx, w.ids(), fulfillment.BatchOptions{}); err != nil {
				t.Errorf("OrderBatch: %v", err)
			}
		})
	}
	syncBoth := func() {
		for range 2 {
			both(func(svc *fulfillment.Service) { syncUntilQuiet(ctx, t, svc, 12, nil) })
			w.Advance(2 * time.Minute) // past any lease
		}
	}
	syncBoth()
	w.nextTransition()
	syncBoth()
	w.AdvanceClockTo(fulfillmenttest.Programmed)
	syncBoth()
	w.AdvanceClockTo(fulfillmenttest.Shipped)
	syncBoth()
	syncUntil(ctx, t, svcs[0], stores[0], shippedWithPIN, maxPasses, nil)
	oktaFaults := w.Okta.HTTPFaultCounts()
	if err := w.Okta.SetHTTPFaultPlan(oktatest.HTTPFaultPlan{}); err != nil {
		t.Fatal(err)
	}
	oc, _ := w.clients(clientOptions{}, &counters{})
	pins := w.pins()
	for _, p := range w.people {
		rec, err := stores[0].Get(ctx, p.id)
		if err != nil || rec.Status != fulfillment.Shipped {
			continue
		}
		if _, err := w.signIn(ctx, oc, p, rec, pins[p.profile.Email], 3); err != nil {
			t.Errorf("user %s: %v", p.id, err)
		}
	}
	w.Advance(time.Hour)
	syncBoth()
	syncUntil(ctx, t, svcs[1], stores[1], activeOrErrored, maxPasses, nil)
	out := w.check(ctx, stores[1])
	for _, p := range out.problems {
		t.Errorf("invariant: %s", p)
	}
	if out.duplicates != 0 || out.lost != 0 || out.active+len(out.errored) != n {
		t.Errorf("Active %d, errored %d, duplicates %d, lost %d; want %d Active or errored, no duplicates, none lost",
			out.active, len(out.errored), out.duplicates, out.lost, n)
	}
	for id, r := range out.errored {
		t.Logf("user %s errored: %s", id, r)
	}
	t.Logf("two instances: %d users, %d Active, %d errored with a reason; Okta faults %v, Yubico faults %v",
		n, out.active, len(out.errored), oktaFaults, yubicoFaultCounts(w))
}

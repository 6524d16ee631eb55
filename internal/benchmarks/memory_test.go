package benchmarks_test

import (
	"os"
	"runtime"
	"testing"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// liveHeap returns the bytes of live heap objects after a full collection.
func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// memoryResult is the live heap one stage of n orders costs.
type memoryResult struct {
	n        int
	service  float64 // bytes per order held by the Service and its MemoryStore
	fakes    float64 // bytes per order held by the two fakes (beyond the users)
	totalAll uint64  // live heap of the whole process at the end
}

// measureMemory orders n keys as one batch (records in flight at
// FulfillmentStarted/initiated) and, if enroll is set, runs one Sync so
// every record is enrolled at Okta with a FIDO Pre-reg shipment at Yubico
// (the largest in-flight record: enrollments, shipping info, keys). It then
// drops the Service and its store and measures again: the difference is
// the Service's share, the rest of the growth since before the orders is
// the fakes' (their orders, enrollments, shipments, events and request
// log). logLimit bounds both fakes' request logs to their most recent
// entries (0: the fakes' default, every request).
func measureMemory(tb testing.TB, n int, enroll bool, logLimit int) memoryResult {
	tb.Helper()
	ctx := tb.Context()
	o := worldOptions{
		okta:  []oktatest.Option{oktatest.WithoutRateLimits()},
		stock: n,
		config: func(c *fulfillment.Config) {
			c.Concurrency = 8
		},
	}
	if logLimit > 0 {
		o.okta = append(o.okta, oktatest.WithRequestLogLimit(logLimit))
		o.yubico = append(o.yubico, yubicotest.WithRequestLogLimit(logLimit))
	}
	w := newWorld(tb, o)
	users := w.addUsers(n)
	ids := make([]string, n)
	for i, u := range users {
		ids[i] = u.ID
	}
	users = nil
	before := liveHeap()
	rep, err := w.Service.OrderBatch(ctx, ids, fulfillment.BatchOptions{})
	if err != nil || rep.Ordered != n {
		tb.Fatalf("OrderBatch: ordered %d of %d, failed %d, invalid %d: %v", rep.Ordered, n, rep.Failed, len(rep.Invalid), err)
	}
	if enroll {
		w.sync(ctx)
		// Page through the records: a List of all of them would hold a
		// copy of every record at the process's peak.
		for after := ""; ; {
			recs, err := w.Config.Store.List(ctx, fulfillment.Query{InFlight: true, After: after, Limit: 1000})
			if err != nil {
				tb.Fatal(err)
			}
			for _, r := range recs {
				if r.Step != fulfillment.StepShipmentCreated {
					tb.Fatalf("user %s at step %s after Sync, want %s", r.UserID, r.Step, fulfillment.StepShipmentCreated)
				}
			}
			if len(recs) < 1000 {
				break
			}
			after = recs[len(recs)-1].UserID
		}
	}
	withService := liveHeap()
	writeHeapProfile(tb)
	w.Service, w.Config = nil, fulfillment.Config{} // the Service, its store and its configuration
	withoutService := liveHeap()
	res := memoryResult{
		n:        n,
		service:  float64(int64(withService)-int64(withoutService)) / float64(n),
		fakes:    float64(int64(withoutService)-int64(before)) / float64(n),
		totalAll: withService,
	}
	runtime.KeepAlive(w)
	return res
}

// BenchmarkMemory reports the live heap per in-flight order: in the
// Service (MemoryStore records and bookkeeping) and in the fakes, for
// 10,000 orders just ordered and 2,000 orders enrolled with a shipment
// created (a Sync enrolls every order, which costs P-384 crypto at both
// fakes, so that stage uses fewer orders). service-MiB/100k extrapolates
// the Service's share to 100,000 orders (target: under 1 GiB).
func BenchmarkMemory(b *testing.B) {
	for _, c := range []struct {
		name   string
		n      int
		enroll bool
	}{
		{"ordered-10k", 10_000, false},
		{"enrolled-2k", 2_000, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			var r memoryResult
			for b.Loop() {
				r = measureMemory(b, c.n, c.enroll, 0)
			}
			b.ReportMetric(r.service, "service-B/order")
			b.ReportMetric(r.fakes, "fakes-B/order")
			b.ReportMetric(r.service*100_000/(1<<20), "service-MiB/100k")
			b.ReportMetric(float64(r.totalAll)/(1<<20), "heap-MiB")
		})
	}
}

// TestMemory100k orders 100,000 keys in one batch against the fakes and
// checks that the whole process (Service, store, both fakes, 100,000 Okta
// users) stays under 1 GiB of live heap. It takes minutes, so it runs only
// with PREENROLL_MEMORY_100K=1 (scripts/bench.sh sets it);
// PREENROLL_MEMORY_N overrides the count.
func TestMemory100k(t *testing.T) {
	if os.Getenv("PREENROLL_MEMORY_100K") != "1" {
		t.Skip("set PREENROLL_MEMORY_100K=1 to run (minutes)")
	}
	n := envCount(t, "PREENROLL_MEMORY_N", 100_000, 1)
	r := measureMemory(t, n, false, 0)
	t.Logf("orders=%d service-B/order=%.0f fakes-B/order=%.0f heap-MiB=%.1f service-MiB=%.1f",
		r.n, r.service, r.fakes, float64(r.totalAll)/(1<<20), r.service*float64(r.n)/(1<<20))
	if r.totalAll >= 1<<30 {
		t.Errorf("live heap %d MiB with %d orders in flight, want under 1024 MiB", r.totalAll>>20, n)
	}
}

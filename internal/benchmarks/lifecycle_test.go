package benchmarks_test

import (
	"testing"
)

// TestLifecycle runs one key through the lifecycle the benchmarks time, so
// `go test` catches a broken harness without running a benchmark.
func TestLifecycle(t *testing.T) {
	w := newWorld(t, worldOptions{})
	w.lifecycle(t.Context(), w.addUsers(1))
}

// BenchmarkLifecycle is one key's whole life through the fakes over
// loopback HTTP: order → enroll → shipment → factory → activate →
// send-pin → PIN change and sign-in → Active.
func BenchmarkLifecycle(b *testing.B) {
	w := newWorld(b, worldOptions{})
	ctx := b.Context()
	w.lifecycle(ctx, w.addUsers(1)) // warm up: connections, key caches
	for b.Loop() {
		b.StopTimer()
		users := w.addUsers(1)
		b.StartTimer()
		w.lifecycle(ctx, users)
	}
}

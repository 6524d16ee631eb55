package pgstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/internal/pgtest"
)

// BenchmarkPut measures Puts of a record with a dozen history entries:
// one that changes its step (the kind of write a change feed reports, as
// those that add a history entry are: the history is not grown here, so
// that every Put writes the same bytes), one that changes its claim alone
// (a Sync pass's bookkeeping, not reported), and the first Put of a new
// record.
func BenchmarkPut(b *testing.B) {
	s, err := Open(b.Context(), pgtest.ServerURL(b), WithSchema(pgtest.SchemaName(b, "pgstore_bench")))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	ctx := b.Context()
	// Each run of a sub-benchmark (one per -count) writes records of its
	// own: the schema outlives them, and a record written again from
	// version 0 would be a version conflict.
	var runs atomic.Int64
	id := func(kind string) string { return fmt.Sprintf("00ubench-%s-%d", kind, runs.Add(1)) }
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	base := fulfillmenttest.SampleRecord("00ubench")
	for i := range 10 {
		base.History = append(base.History, fulfillment.Change{At: t0.Add(time.Duration(i) * time.Minute),
			Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepShipmentCreated, Attempt: 1})
	}
	for _, bc := range []struct {
		name   string
		change func(r *fulfillment.Record, i int)
	}{
		{"step", func(r *fulfillment.Record, i int) {
			r.Step = []fulfillment.Step{fulfillment.StepShipmentCreating, fulfillment.StepShipmentCreated}[i%2]
		}},
		{"claim", func(r *fulfillment.Record, i int) {
			r.Claim = fulfillment.Lease{Owner: "svc-bench", Until: t0.Add(time.Duration(i))}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := base
			r.UserID = id(bc.name)
			r, err := s.Put(ctx, r)
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; b.Loop(); i++ {
				bc.change(&r, i)
				if r, err = s.Put(ctx, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// The step again while a change feed (another instance's console)
	// listens and reads every notification. The notifications of a
	// burst come a while after its Puts (up to 0.7 s for the first under
	// load): every one is waited for after the timed loop.
	b.Run("step-listened", func(b *testing.B) {
		ctx, stop := context.WithCancel(ctx)
		defer stop()
		listening, done, all := make(chan struct{}), make(chan error, 1), make(chan struct{})
		var heard, want atomic.Int64
		var allOnce sync.Once
		check := func() {
			if w := want.Load(); w > 0 && heard.Load() >= w {
				allOnce.Do(func() { close(all) })
			}
		}
		go func() {
			done <- s.WatchChanges(ctx, func(c fulfillment.RecordChange) {
				if c.Resync {
					close(listening)
					return
				}
				heard.Add(1)
				check()
			})
		}()
		<-listening
		r := base
		r.UserID = id("listened")
		r, err := s.Put(ctx, r)
		if err != nil {
			b.Fatal(err)
		}
		puts := int64(1)
		for i := 0; b.Loop(); i++ {
			r.Step = []fulfillment.Step{fulfillment.StepShipmentCreating, fulfillment.StepShipmentCreated}[i%2]
			if r, err = s.Put(ctx, r); err != nil {
				b.Fatal(err)
			}
			puts++
		}
		want.Store(puts)
		check()
		wait, cancel := context.WithTimeout(ctx, time.Minute) // bounds a feed that lost notifications
		defer cancel()
		select {
		case <-all:
		case <-wait.Done():
			b.Fatalf("the feed heard %d of %d changes", heard.Load(), puts)
		}
		stop()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	})
	b.Run("create", func(b *testing.B) {
		prefix := id("create")
		for i := 0; b.Loop(); i++ {
			r := base
			r.UserID = fmt.Sprintf("%s-%09d", prefix, i)
			if _, err := s.Put(ctx, r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

package benchmarks_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/internal/cputime"
)

// BenchmarkSQLitePut measures one Put of the SQLite store by kind: a step
// (it adds a history entry: committed with an fsync) and bookkeeping (a
// claim or a next check, no history entry: committed without one, see
// OpenSQLite). Each writes one of 64 records in turn. cpu-µs/op is the
// process's CPU time (the fsync's kernel time included); ns/op is wall.
func BenchmarkSQLitePut(b *testing.B) {
	for _, kind := range []string{"step", "bookkeeping"} {
		b.Run(kind, func(b *testing.B) {
			ctx := b.Context()
			s, err := fulfillment.OpenSQLite(ctx, filepath.Join(b.TempDir(), "state.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			recs := make([]fulfillment.Record, 64)
			for i := range recs {
				if recs[i], err = s.Put(ctx, fulfillmenttest.SampleRecord(fmt.Sprintf("00u%03d", i))); err != nil {
					b.Fatal(err)
				}
			}
			at := recs[0].UpdatedAt
			n := 0
			cpu0 := cputime.Process()
			for b.Loop() {
				r := recs[n%len(recs)]
				at = at.Add(time.Second)
				if kind == "step" {
					r.History = append(r.History, fulfillment.Change{At: at, Status: r.Status, Step: r.Step, Reason: "a step"})
				} else {
					r.NextCheck = at.Add(time.Hour)
				}
				if recs[n%len(recs)], err = s.Put(ctx, r); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64((cputime.Process()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

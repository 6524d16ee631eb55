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
// OpenSQLite). Each writes one of 64 records in turn, of the same size for
// both kinds: a step's record grows from putBase+1 to putBase+putGrow
// history entries and is then replaced by a fresh one (untimed), a
// bookkeeping record holds putBase+putGrow/2, so that what is measured is
// the commit, not a longer record's JSON. cpu-µs/op is the process's CPU
// time during the Puts (the fsync's kernel time included); ns/op is wall.
func BenchmarkSQLitePut(b *testing.B) {
	const putBase, putGrow = 12, 8 // a lifecycle's record has about 13 entries
	for _, kind := range []string{"step", "bookkeeping"} {
		b.Run(kind, func(b *testing.B) {
			ctx := b.Context()
			s, err := fulfillment.OpenSQLite(ctx, filepath.Join(b.TempDir(), "state.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			at := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
			step := func(r *fulfillment.Record) {
				at = at.Add(time.Second)
				r.History = append(r.History, fulfillment.Change{At: at, Status: r.Status, Step: r.Step, Reason: "a step"})
			}
			made := 0
			fresh := func(entries int) fulfillment.Record {
				r := fulfillmenttest.SampleRecord(fmt.Sprintf("00u%07d", made))
				made++
				for len(r.History) < entries {
					step(&r)
				}
				if r, err = s.Put(ctx, r); err != nil {
					b.Fatal(err)
				}
				return r
			}
			recs := make([]fulfillment.Record, 64)
			for i := range recs {
				if kind == "step" {
					recs[i] = fresh(putBase)
				} else {
					recs[i] = fresh(putBase + putGrow/2)
				}
			}
			var cpu time.Duration
			n := 0
			for b.Loop() {
				i := n % len(recs)
				n++
				if kind == "step" && len(recs[i].History) == putBase+putGrow {
					b.StopTimer()
					recs[i] = fresh(putBase)
					b.StartTimer()
				}
				r := recs[i]
				if kind == "step" {
					step(&r)
				} else {
					at = at.Add(time.Second)
					r.NextCheck = at.Add(time.Hour)
				}
				c0 := cputime.Process()
				if recs[i], err = s.Put(ctx, r); err != nil {
					b.Fatal(err)
				}
				cpu += cputime.Process() - c0
			}
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

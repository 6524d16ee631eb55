package benchmarks_test

import (
	"fmt"
	"testing"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
)

// countRecords is how many records BenchmarkCountByStatus counts.
const countRecords = 10_000

// listOnly hides a store's own count (fulfillment.StatusCounter), so that
// fulfillment.CountByStatus pages through List: what `preenroll serve`'s
// keys gauge and the console's People page did on every pass and view.
type listOnly struct{ fulfillment.Store }

// BenchmarkCountByStatus counts 10,000 records (fulfillmenttest.SampleRecord:
// every field set, a history of three changes) in the SQLite store by
// status: "count" with the store's GROUP BY over its status index,
// "list" by reading and decoding every record.
func BenchmarkCountByStatus(b *testing.B) {
	ctx := b.Context()
	store := sqliteStore(b)()
	for i := range countRecords {
		r := fulfillmenttest.SampleRecord(fmt.Sprintf("00u%07d", i))
		r.Status = fulfillment.Statuses()[i%len(fulfillment.Statuses())]
		if _, err := store.Put(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		name  string
		store fulfillment.Store
	}{{"count", store}, {"list", listOnly{store}}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				counts, err := fulfillment.CountByStatus(ctx, c.store)
				if err != nil {
					b.Fatal(err)
				}
				total := 0
				for _, n := range counts {
					total += n
				}
				if total != countRecords {
					b.Fatalf("counted %d records, want %d", total, countRecords)
				}
			}
		})
	}
}

package fulfillment_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
)

// readCounter counts the records a Store gives out: Gets and the records
// its Lists return. It hides the store's due index (fulfillment.DueLister):
// a store written without one.
type readCounter struct {
	fulfillment.Store
	gets, listed atomic.Int64
}

func (s *readCounter) Get(ctx context.Context, userID string) (fulfillment.Record, error) {
	s.gets.Add(1)
	return s.Store.Get(ctx, userID)
}

func (s *readCounter) List(ctx context.Context, q fulfillment.Query) ([]fulfillment.Record, error) {
	rs, err := s.Store.List(ctx, q)
	s.listed.Add(int64(len(rs)))
	return rs, err
}

// indexedReadCounter is a readCounter that forwards the due index,
// counting the records ListDue returns as listed.
type indexedReadCounter struct{ readCounter }

func (s *indexedReadCounter) ListDue(ctx context.Context, q fulfillment.DueQuery) ([]fulfillment.Record, error) {
	rs, err := fulfillment.ListDue(ctx, s.Store, q)
	s.listed.Add(int64(len(rs)))
	return rs, err
}

func (s *indexedReadCounter) CountNotDue(ctx context.Context, now time.Time) (int, error) {
	return fulfillment.CountNotDue(ctx, s.Store, now)
}

// TestSyncReadsOnlyDueRecords: on a store with a due index
// (fulfillment.DueLister) a Sync pass reads no record that is not due,
// neither listed nor got, and reports the ones not due in NotDue from the
// store's count; on a store without one it lists every record in flight,
// as it always did. Both make the same remote calls and report the same.
// A record resting at StepErrored is neither read (with the index) nor
// counted as not due.
func TestSyncReadsOnlyDueRecords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		indexed bool
		open    func(t *testing.T) fulfillment.Store
	}{
		{"memory", true, func(t *testing.T) fulfillment.Store { return fulfillment.NewMemoryStore() }},
		{"sqlite", true, func(t *testing.T) fulfillment.Store { return openSQLite(t, filepath.Join(t.TempDir(), "state.db")) }},
		{"memory without index", false, func(t *testing.T) fulfillment.Store { return fulfillment.NewMemoryStore() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			counter := &readCounter{Store: tc.open(t)}
			var store fulfillment.Store = counter
			if tc.indexed {
				ix := &indexedReadCounter{}
				ix.Store = counter.Store
				counter, store = &ix.readCounter, ix
			}
			if _, ok := store.(fulfillment.DueLister); ok != tc.indexed {
				t.Fatalf("the store is a DueLister: %v, want %v", ok, tc.indexed)
			}
			w := fulfillmenttest.New(t, fulfillmenttest.WithoutEventHook(), fulfillmenttest.WithStore(store))
			ctx := t.Context()
			const n = 4
			var ids []string
			for i := range n {
				u := w.AddUser(fulfillmenttest.Employee(fmt.Sprintf("user%d", i)))
				if _, err := w.Service.Order(ctx, u.ID); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, u.ID)
			}
			// A record resting at StepErrored: Sync never acts on it.
			if _, err := store.Put(ctx, fulfillment.Record{UserID: "00uerrored", Status: fulfillment.FulfillmentErrored,
				Step: fulfillment.StepErrored, CreatedAt: w.Now(), UpdatedAt: w.Now()}); err != nil {
				t.Fatal(err)
			}
			type cost struct {
				Gets, Listed, ShipmentGets, Checked, NotDue int
			}
			sync := func() cost {
				t.Helper()
				g, l, y0 := counter.gets.Load(), counter.listed.Load(), len(w.Yubico.RequestLog())
				rep := w.Sync(ctx)
				if len(rep.Failures) > 0 {
					t.Fatalf("Sync: failures %v", rep.Failures)
				}
				return cost{int(counter.gets.Load() - g), int(counter.listed.Load() - l), shipmentGets(w, y0), rep.Checked, rep.NotDue}
			}
			// listed is what a pass lists: the due records with the index,
			// every record in flight without.
			listed := func(due int) int {
				if tc.indexed {
					return due
				}
				return n + 1
			}

			// The first pass enrolls and creates every shipment (due at
			// once); the first poll is due 15 minutes later.
			if got, want := sync(), (cost{Gets: n, Listed: listed(n), Checked: n}); got != want {
				t.Errorf("first pass (-want +got):\n%s", cmp.Diff(want, got))
			}
			// None due: with the index nothing is read.
			if got, want := sync(), (cost{Listed: listed(0), NotDue: n}); got != want {
				t.Errorf("pass with none due (-want +got):\n%s", cmp.Diff(want, got))
			}
			// One due (its next check put back, as a record stored before
			// NextCheck existed): it alone is read and polled.
			r, err := store.Get(ctx, ids[2])
			if err != nil {
				t.Fatal(err)
			}
			r.NextCheck = time.Time{}
			if _, err := store.Put(ctx, r); err != nil {
				t.Fatal(err)
			}
			if got, want := sync(), (cost{Gets: 1, Listed: listed(1), ShipmentGets: 1, Checked: 1, NotDue: n - 1}); got != want {
				t.Errorf("pass with one due (-want +got):\n%s", cmp.Diff(want, got))
			}
			// The validation check comes for all, 15 minutes after the
			// create; then none is due until Yubico's batch.
			w.Advance(15 * time.Minute)
			if got, want := sync(), (cost{Gets: n, Listed: listed(n), ShipmentGets: n, Checked: n}); got != want {
				t.Errorf("pass at the validation check (-want +got):\n%s", cmp.Diff(want, got))
			}
			if got, want := sync(), (cost{Listed: listed(0), NotDue: n}); got != want {
				t.Errorf("pass after the validation check (-want +got):\n%s", cmp.Diff(want, got))
			}
		})
	}
}

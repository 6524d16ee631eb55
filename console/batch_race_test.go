package console

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/internal/testclock"
)

// gatedDocs holds the next PutDocument to the collection (a rows
// document's if empty) once armed: it says so on entered and waits for
// released.
type gatedDocs struct {
	fulfillment.DocumentStore
	collection string
	mu         sync.Mutex
	armed      bool
	entered    chan struct{}
	released   chan struct{}
}

// arm holds the next write of a rows document.
func (g *gatedDocs) arm() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed, g.entered, g.released = true, make(chan struct{}), make(chan struct{})
}

func (g *gatedDocs) PutDocument(ctx context.Context, d fulfillment.Document) (fulfillment.Document, error) {
	g.mu.Lock()
	collection := g.collection
	if collection == "" {
		collection = batchCollection
	}
	hold := g.armed && d.Collection == collection
	if hold {
		g.armed = false
	}
	entered, released := g.entered, g.released
	g.mu.Unlock()
	if hold {
		close(entered)
		<-released
	}
	return g.DocumentStore.PutDocument(ctx, d)
}

// TestBatchStateChangeDuringAWrite: a progress write (a beat) writing the
// rows while the batch's state changes (the check or the order ends) never
// leaves a summary in the new state naming a rows document of the old one,
// even if the instance stops before its final write: another instance
// then neither orders rows that were not checked, nor shows a batch done
// with rows that are not its results.
func TestBatchStateChangeDuringAWrite(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to string
		final    batchRow // row 1 once the state changed
	}{
		{name: "checked", from: batchChecking, to: batchChecked,
			final: batchRow{Line: 3, Login: "bob@example.com", UserID: "00u2", Result: resultInvalid, Problem: "no address"}},
		{name: "done", from: batchOrdering, to: batchDone,
			final: batchRow{Line: 3, Login: "bob@example.com", UserID: "00u2", Result: resultOrdered}},
	} {
		for _, store := range documentStores {
			t.Run(tc.name+"/"+store.name, func(t *testing.T) {
				ctx := t.Context()
				clk := testclock.New(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))
				docs := &gatedDocs{DocumentStore: store.open(t)}
				b := newBatches(docs, DefaultBatchRetention, clk.Now, discard)
				other := newBatches(docs, DefaultBatchRetention, clk.Now, discard)
				j := &batchJob{ID: "race", File: "race.csv", Format: "Okta logins", Owner: "root@example.com", Created: clk.Now(), state: tc.from, total: 2,
					rows: []batchRow{
						{Line: 2, Login: "ada@example.com", Result: resultNotOrdered},
						{Line: 3, Login: "bob@example.com", Result: resultNotOrdered},
					}}
				if err := b.add(ctx, j); err != nil {
					t.Fatal(err)
				}
				// Row 0 progresses; the rows are due at the next beat.
				j.mu.Lock()
				j.rows[0].UserID, j.done = "00u1", 1
				j.changed()
				j.mu.Unlock()
				clk.Sleep(ctx, batchBeat)
				docs.arm()
				wrote := make(chan struct{})
				go func() {
					defer close(wrote)
					b.write(ctx, j) // the beat
				}()
				<-docs.entered
				// The last row is done and the state changes while the
				// beat's rows are being written.
				j.mu.Lock()
				j.rows[1] = tc.final
				j.state, j.done = tc.to, 0
				j.changed()
				j.mu.Unlock()
				close(docs.released)
				<-wrote
				// The instance stops here, before finish.

				v, err := other.get(ctx, j.ID)
				if err != nil {
					t.Fatal(err)
				}
				switch v.State {
				case tc.from:
				case tc.to:
					if diff := cmp.Diff(tc.final, v.Rows[1]); diff != "" {
						t.Errorf("another instance shows the batch %s with row 1 (-want +got):\n%s", v.State, diff)
					}
				default:
					t.Errorf("another instance shows the batch %s, want %s or %s", v.State, tc.from, tc.to)
				}
				if tc.to != batchChecked {
					return
				}
				o, err := other.claim(ctx, j.ID)
				var refused notOrderable
				switch {
				case err == nil:
					if diff := cmp.Diff(tc.final, o.rows[1]); diff != "" {
						t.Errorf("another instance claimed the batch to order row 1 (-checked +claimed):\n%s", diff)
					}
				case errors.As(err, &refused), errors.Is(err, fulfillment.ErrVersionConflict):
				default:
					t.Fatal(err)
				}
			})
		}
	}
}

// TestBatchBeatAfterStateChange: a beat that comes after the check ended
// but before its final write, the rows not due by time, writes them: the
// summary saying checked names the checked rows, and another instance
// orders those.
func TestBatchBeatAfterStateChange(t *testing.T) {
	for _, store := range documentStores {
		t.Run(store.name, func(t *testing.T) {
			ctx := t.Context()
			clk := testclock.New(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))
			docs := store.open(t)
			b := newBatches(docs, DefaultBatchRetention, clk.Now, discard)
			other := newBatches(docs, DefaultBatchRetention, clk.Now, discard)
			j := &batchJob{ID: "beat", File: "beat.csv", Format: "Okta logins", Owner: "root@example.com", Created: clk.Now(), state: batchChecking, total: 1,
				rows: []batchRow{{Line: 2, Login: "ada@example.com", Result: resultNotOrdered}}}
			if err := b.add(ctx, j); err != nil {
				t.Fatal(err)
			}
			checked := batchRow{Line: 2, Login: "ada@example.com", UserID: "00u1", Result: resultNotOrdered}
			j.mu.Lock()
			j.rows[0] = checked
			j.state, j.done, j.total = batchChecked, 0, 1
			j.changed()
			j.mu.Unlock()
			clk.Sleep(ctx, batchSaveEvery) // less than batchRowsEvery since the upload wrote the rows
			b.write(ctx, j)
			// The instance stops here, before finish.

			o, err := other.claim(ctx, j.ID)
			var refused notOrderable
			switch {
			case err == nil:
				if diff := cmp.Diff([]batchRow{checked}, o.rows); diff != "" {
					t.Errorf("another instance claimed the batch to order (-checked +claimed):\n%s", diff)
				}
			case errors.As(err, &refused), errors.Is(err, fulfillment.ErrVersionConflict):
			default:
				t.Fatal(err)
			}
		})
	}
}

// TestBatchWithoutSummaryClaimedOnce: two instances claiming at once a
// batch kept without a summary (both read it without one): the summary
// each creates is the claim, and only one is created.
func TestBatchWithoutSummaryClaimedOnce(t *testing.T) {
	for _, store := range documentStores {
		t.Run(store.name, func(t *testing.T) {
			ctx := t.Context()
			t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
			clk := testclock.New(t0)
			docs := &gatedDocs{DocumentStore: store.open(t), collection: batchSummaryCollection}
			data, err := encodeBatch(batchDoc{batchInfo: batchInfo{ID: "old", File: "old.csv", Created: t0.Add(-time.Hour), State: batchChecked, Total: 1, Beat: t0.Add(-time.Hour)},
				Rows: []batchRow{{Line: 2, Login: "ada@example.com", UserID: "00u1", Result: resultNotOrdered}}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := docs.PutDocument(ctx, fulfillment.Document{Collection: batchCollection, ID: "old", Created: t0.Add(-time.Hour), Data: data}); err != nil {
				t.Fatal(err)
			}
			b := newBatches(docs, DefaultBatchRetention, clk.Now, discard)
			other := newBatches(docs, DefaultBatchRetention, clk.Now, discard)
			docs.arm()
			var first error
			claimed := make(chan struct{})
			go func() {
				defer close(claimed)
				_, first = b.claim(ctx, "old")
			}()
			<-docs.entered // b read no summary and is writing its own
			_, second := other.claim(ctx, "old")
			close(docs.released)
			<-claimed
			if second != nil {
				t.Fatalf("the second instance's claim, made first: %v", second)
			}
			if !errors.Is(first, fulfillment.ErrVersionConflict) {
				t.Errorf("the first instance's claim, made second: %v, want a version conflict", first)
			}
		})
	}
}

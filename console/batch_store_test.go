package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/internal/batchcsv"
	"github.com/preenroll/preenroll/internal/testclock"
)

// documentStores are the stores the batch tests run on: a MemoryStore and
// a SQLite store in a temporary directory.
var documentStores = []struct {
	name string
	open func(t *testing.T) fulfillment.DocumentStore
}{
	{"memory", func(*testing.T) fulfillment.DocumentStore { return fulfillment.NewMemoryStore() }},
	{"sqlite", func(t *testing.T) fulfillment.DocumentStore {
		s, err := fulfillment.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "docs.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
}

// countingDocs counts the bytes written to and read from each collection.
type countingDocs struct {
	fulfillment.DocumentStore
	mu      sync.Mutex
	written []docWrite
	read    map[string]int
}

// docWrite is one PutDocument that succeeded.
type docWrite struct {
	Collection string
	Bytes      int
}

func (c *countingDocs) PutDocument(ctx context.Context, d fulfillment.Document) (fulfillment.Document, error) {
	stored, err := c.DocumentStore.PutDocument(ctx, d)
	if err == nil {
		c.mu.Lock()
		c.written = append(c.written, docWrite{d.Collection, len(d.Data)})
		c.mu.Unlock()
	}
	return stored, err
}

func (c *countingDocs) GetDocument(ctx context.Context, collection, id string) (fulfillment.Document, error) {
	d, err := c.DocumentStore.GetDocument(ctx, collection, id)
	c.count(collection, d)
	return d, err
}

func (c *countingDocs) ListDocuments(ctx context.Context, collection string, limit int) ([]fulfillment.Document, error) {
	ds, err := c.DocumentStore.ListDocuments(ctx, collection, limit)
	c.count(collection, ds...)
	return ds, err
}

func (c *countingDocs) count(collection string, ds ...fulfillment.Document) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.read == nil {
		c.read = map[string]int{}
	}
	for _, d := range ds {
		c.read[collection] += len(d.Data)
	}
}

// take returns the writes and the bytes read since the last take.
func (c *countingDocs) take() ([]docWrite, map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w, r := c.written, c.read
	c.written, c.read = nil, nil
	return w, r
}

// collections names the collections written, in order.
func collections(ws []docWrite) []string {
	out := []string{}
	for _, w := range ws {
		out = append(out, w.Collection)
	}
	return out
}

var discard = slog.New(slog.DiscardHandler)

// largestJob returns a batch as large as the default MaxUpload allows
// (1 MiB of logins: 65,536 rows), just uploaded.
func largestJob(id string, created time.Time) *batchJob {
	n := DefaultMaxUpload / len("jsmith@acme.com\n")
	j := &batchJob{ID: id, File: "everybody.csv", Format: "Okta logins", Owner: "root@example.com", Created: created, state: batchChecking, total: n}
	for i := range n {
		j.rows = append(j.rows, batchRow{Line: i + 2, Login: fmt.Sprintf("u%05d@acme.com", i), Result: resultNotOrdered})
	}
	return j
}

// noAddress is the problem of a row whose Okta user has no address.
var noAddress = "the Okta profile cannot be shipped to: " + batchcsv.Problem(fulfillment.ShippingInfoFromProfile(fulfillment.Profile{
	Login: "jsmith@acme.com", Email: "jsmith@acme.com", FirstName: "J", LastName: "Smith"}).Check())

// progressShown is what another instance shows of a running batch.
type progressShown struct {
	State       string
	Done, Total int
	Bad         int
}

func shown(v batchView) progressShown {
	return progressShown{State: v.State, Done: v.Done, Total: v.Total, Bad: len(v.Bad)}
}

// TestBatchProgressWrites: while the largest batch is checked, each
// progress write (every batchSaveEvery) writes its summary, a few hundred
// bytes, and its rows (what every write was before) only when they
// changed and were last written batchRowsEvery ago or more; another
// instance shows the progress of the last write and the rows of the last
// rows write; its end writes both.
func TestBatchProgressWrites(t *testing.T) {
	for _, store := range documentStores {
		t.Run(store.name, func(t *testing.T) {
			ctx := t.Context()
			clk := testclock.New(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))
			docs := &countingDocs{DocumentStore: store.open(t)}
			b := newBatches(docs, DefaultBatchRetention, clk.Now, discard)
			other := newBatches(docs, DefaultBatchRetention, clk.Now, discard)
			j := largestJob("large", clk.Now())
			n := len(j.rows)
			if err := b.add(ctx, j); err != nil {
				t.Fatal(err)
			}
			w, _ := docs.take()
			if diff := cmp.Diff([]string{batchCollection, batchSummaryCollection}, collections(w)); diff != "" {
				t.Fatalf("the upload wrote (-want +got):\n%s", diff)
			}
			t.Logf("upload: rows document %d bytes, summary %d bytes", w[0].Bytes, w[1].Bytes)

			// 40 writes 2 s apart, each after 1/40 of the rows were found
			// bad: the rows are written at the 15th and the 30th (30 s and
			// 60 s after the upload).
			const beats = 40
			chunk := (n + beats - 1) / beats
			var got, want [][]string
			maxSummary, rowsBytes := 0, 0
			for beat := 1; beat <= beats; beat++ {
				j.mu.Lock()
				for i := (beat - 1) * chunk; i < min(beat*chunk, n); i++ {
					j.rows[i].UserID, j.rows[i].Result, j.rows[i].Problem = fmt.Sprintf("00u%017d", i), resultInvalid, noAddress
					j.done++
				}
				j.changed()
				j.mu.Unlock()
				clk.Sleep(ctx, batchSaveEvery)
				b.progress(ctx, j)
				w, _ := docs.take()
				got = append(got, collections(w))
				if beat%15 == 0 {
					want = append(want, []string{batchCollection, batchSummaryCollection})
				} else {
					want = append(want, []string{batchSummaryCollection})
				}
				for _, w := range w {
					if w.Collection == batchSummaryCollection {
						maxSummary = max(maxSummary, w.Bytes)
					} else {
						rowsBytes = w.Bytes
					}
				}
				if beat == 20 {
					v, err := other.get(ctx, j.ID)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(progressShown{batchChecking, 20 * chunk, n, 15 * chunk}, shown(v)); diff != "" {
						t.Errorf("another instance after 20 writes (-want +got):\n%s", diff)
					}
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("the collections each progress write wrote (-want +got):\n%s", diff)
			}
			if maxSummary > 512 {
				t.Errorf("a summary is %d bytes, want at most 512", maxSummary)
			}
			t.Logf("per progress write: summary at most %d bytes; rows document (%d of %d rows bad) %d bytes, written at most every %v",
				maxSummary, 30*chunk, n, rowsBytes, batchRowsEvery)

			// The beat while the batch waits: the rows that changed since
			// the 30th write, then nothing new.
			for _, want := range [][]string{{batchCollection, batchSummaryCollection}, {batchSummaryCollection}} {
				clk.Sleep(ctx, batchBeat)
				b.write(ctx, j)
				w, _ := docs.take()
				if diff := cmp.Diff(want, collections(w)); diff != "" {
					t.Errorf("a beat wrote (-want +got):\n%s", diff)
				}
			}

			j.mu.Lock()
			j.state, j.done, j.total = batchChecked, 0, 0
			j.changed()
			j.mu.Unlock()
			b.finish(ctx, j)
			w, _ = docs.take()
			if diff := cmp.Diff([]string{batchCollection, batchSummaryCollection}, collections(w)); diff != "" {
				t.Errorf("the end of the check wrote (-want +got):\n%s", diff)
			}
			t.Logf("checked, every row bad: rows document %d bytes (what every progress write wrote before)", w[0].Bytes)
			v, err := other.get(ctx, j.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(progressShown{State: batchChecked, Bad: n}, shown(v)); diff != "" {
				t.Errorf("another instance once checked (-want +got):\n%s", diff)
			}
		})
	}
}

// listed is what the upload page shows of a batch.
type listed struct{ ID, File, State string }

func listing(vs []batchView) []listed {
	var out []listed
	for _, v := range vs {
		out = append(out, listed{v.ID, v.File, v.State})
	}
	return out
}

// TestBatchListReadsSummaries: the upload page lists the newest batches
// from their summaries, reading none of their rows (but once per instance
// while fewer than batchRecent are kept: the batches kept without a
// summary, see TestBatchKeptWithoutSummary); on a store with more, the
// newest batchRecent, newest first, the running one as its instance
// shows it.
func TestBatchListReadsSummaries(t *testing.T) {
	for _, store := range documentStores {
		t.Run(store.name, func(t *testing.T) {
			ctx := t.Context()
			clk := testclock.New(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))
			docs := &countingDocs{DocumentStore: store.open(t)}
			b := newBatches(docs, DefaultBatchRetention, clk.Now, discard)
			var want []listed
			for i := range batchRecent + 2 {
				j := &batchJob{ID: fmt.Sprintf("b%02d", i), File: fmt.Sprintf("f%02d.csv", i), Created: clk.Now(), state: batchChecking,
					rows: []batchRow{{Line: 2, Login: "ada@example.com", Result: resultNotOrdered}}}
				if err := b.add(ctx, j); err != nil {
					t.Fatal(err)
				}
				if i != batchRecent+1 {
					j.mu.Lock()
					j.state = batchChecked
					j.mu.Unlock()
					b.finish(ctx, j)
				}
				want = append([]listed{{j.ID, j.File, j.state}}, want...)
				clk.Sleep(ctx, time.Second)
			}
			want = want[:batchRecent]
			docs.take()

			for name, b := range map[string]*batches{"the instance running the newest": b, "another": newBatches(docs, DefaultBatchRetention, clk.Now, discard)} {
				for range 2 {
					got, err := b.recent(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(want, listing(got)); diff != "" {
						t.Errorf("%s lists (-want +got):\n%s", name, diff)
					}
					_, read := docs.take()
					if read[batchCollection] != 0 {
						t.Errorf("%s read %d bytes of rows to list the batches", name, read[batchCollection])
					}
				}
			}
		})
	}
}

// TestBatchKeptWithoutSummary: a batch kept by a console that kept no
// summaries (its rows document alone) is listed once the first list
// wrote its summary, shown and ordered (once) as before; one created
// after the instance started is not given a summary by the list (it may
// be an upload whose summary is being written) but is shown.
func TestBatchKeptWithoutSummary(t *testing.T) {
	for _, store := range documentStores {
		t.Run(store.name, func(t *testing.T) {
			ctx := t.Context()
			t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
			clk := testclock.New(t0)
			docs := store.open(t)
			rows := []batchRow{{Line: 2, Login: "ada@example.com", UserID: "00u1", Result: resultNotOrdered},
				{Line: 3, Login: "ghost@example.com", Result: resultInvalid, Problem: "Okta has no user with this login"}}
			for _, d := range []batchDoc{
				{batchInfo: batchInfo{ID: "checked", File: "checked.csv", Created: t0.Add(-time.Hour), State: batchChecked, Total: 1, Beat: t0.Add(-50 * time.Minute)}, Rows: rows},
				{batchInfo: batchInfo{ID: "stopped", File: "stopped.csv", Created: t0.Add(-2 * time.Hour), State: batchChecking, Total: 1, Beat: t0.Add(-2 * time.Hour)}, Rows: rows},
				{batchInfo: batchInfo{ID: "new", File: "new.csv", Created: t0.Add(-time.Second), State: batchChecked, Total: 1, Beat: t0}, Rows: rows},
			} {
				data, err := encodeBatch(d)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := docs.PutDocument(ctx, fulfillment.Document{Collection: batchCollection, ID: d.ID, Created: d.Created, Data: data}); err != nil {
					t.Fatal(err)
				}
			}
			b := newBatches(docs, DefaultBatchRetention, clk.Now, discard)
			got, err := b.recent(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]listed{{"checked", "checked.csv", batchChecked}, {"stopped", "stopped.csv", batchInterrupted}}, listing(got)); diff != "" {
				t.Errorf("recent (-want +got):\n%s", diff)
			}
			for id, want := range map[string]progressShown{"checked": {State: batchChecked, Total: 1, Bad: 1}, "new": {State: batchChecked, Total: 1, Bad: 1}} {
				v, err := b.get(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, shown(v)); diff != "" {
					t.Errorf("%s shown (-want +got):\n%s", id, diff)
				}
			}
			other := newBatches(docs, DefaultBatchRetention, clk.Now, discard)
			for _, id := range []string{"checked", "new"} {
				j, err := b.claim(ctx, id)
				if err != nil {
					t.Fatalf("claiming %s: %v", id, err)
				}
				if j.state != batchOrdering || len(j.rows) != 2 {
					t.Errorf("the claimed %s: %s, %d rows", id, j.state, len(j.rows))
				}
				var refused notOrderable
				if _, err := other.claim(ctx, id); !errors.As(err, &refused) || refused.state != batchOrdering {
					t.Errorf("claiming %s again on another instance: %v, want it refused: ordering", id, err)
				}
			}
		})
	}
}

// TestBatchRetentionDeletesBothDocuments: an upload deletes the rows and
// the summary of the batches older than the retention.
func TestBatchRetentionDeletesBothDocuments(t *testing.T) {
	for _, store := range documentStores {
		t.Run(store.name, func(t *testing.T) {
			ctx := t.Context()
			clk := testclock.New(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))
			docs := store.open(t)
			b := newBatches(docs, 48*time.Hour, clk.Now, discard)
			for _, id := range []string{"old", "kept", "new"} {
				if err := b.add(ctx, &batchJob{ID: id, Created: clk.Now(), state: batchChecking}); err != nil {
					t.Fatal(err)
				}
				clk.Sleep(ctx, 24*time.Hour+time.Second)
			}
			for _, collection := range []string{batchCollection, batchSummaryCollection} {
				ds, err := docs.ListDocuments(ctx, collection, 0)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, d := range ds {
					ids = append(ids, d.ID)
				}
				if diff := cmp.Diff("new kept", strings.Join(ids, " ")); diff != "" {
					t.Errorf("%s keeps (-want +got):\n%s", collection, diff)
				}
			}
		})
	}
}

// failOnce fails the first PutDocument to collection after arm.
type failOnce struct {
	fulfillment.DocumentStore
	collection string
	armed      atomic.Bool
}

func (f *failOnce) arm() { f.armed.Store(true) }

func (f *failOnce) PutDocument(ctx context.Context, d fulfillment.Document) (fulfillment.Document, error) {
	if d.Collection == f.collection && f.armed.Swap(false) {
		return fulfillment.Document{}, errors.New("test: the store fails")
	}
	return f.DocumentStore.PutDocument(ctx, d)
}

// TestBatchClaimHeldWritesRowsNotKept: a checked batch whose result
// could not be written is still held by the instance that checked it,
// which orders it: the claim writes its rows only when the checked rows
// were not kept (then another instance shows the checked batch's bad rows
// along with its state), else its summary alone.
func TestBatchClaimHeldWritesRowsNotKept(t *testing.T) {
	for _, store := range documentStores {
		for _, tc := range []struct {
			name        string
			failed      string   // the collection whose write of the result failed
			claimWrites []string // what the claim writes
		}{
			{"rows not kept", batchCollection, []string{batchCollection, batchSummaryCollection}},
			{"summary not kept", batchSummaryCollection, []string{batchSummaryCollection}},
		} {
			t.Run(store.name+"/"+tc.name, func(t *testing.T) {
				ctx := t.Context()
				clk := testclock.New(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))
				fail := &failOnce{DocumentStore: store.open(t), collection: tc.failed}
				docs := &countingDocs{DocumentStore: fail}
				b := newBatches(docs, DefaultBatchRetention, clk.Now, discard)
				other := newBatches(docs, DefaultBatchRetention, clk.Now, discard)
				j := &batchJob{ID: "held", File: "held.csv", Created: clk.Now(), state: batchChecking, total: 2,
					rows: []batchRow{{Line: 2, Login: "ada@example.com", Result: resultNotOrdered}, {Line: 3, Login: "ghost@example.com", Result: resultNotOrdered}}}
				if err := b.add(ctx, j); err != nil {
					t.Fatal(err)
				}
				clk.Sleep(ctx, time.Second)
				j.mu.Lock()
				j.rows[0].UserID = "00u1"
				j.rows[1].Result, j.rows[1].Problem = resultInvalid, "Okta has no user with this login"
				j.state, j.done, j.total = batchChecked, 0, 1
				j.changed()
				j.mu.Unlock()
				fail.arm()
				b.finish(ctx, j)
				b.mu.Lock()
				held := b.running[j.ID] == j
				b.mu.Unlock()
				if !held {
					t.Fatal("the batch whose result was not kept is no longer held")
				}
				docs.take()

				claimed, err := b.claim(ctx, j.ID)
				if err != nil || claimed != j {
					t.Fatalf("claim = %p, %v; want the held job %p", claimed, err, j)
				}
				w, _ := docs.take()
				if diff := cmp.Diff(tc.claimWrites, collections(w)); diff != "" {
					t.Errorf("the claim wrote (-want +got):\n%s", diff)
				}
				v, err := other.get(ctx, j.ID)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(progressShown{State: batchOrdering, Total: 1, Bad: 1}, shown(v)); diff != "" {
					t.Errorf("another instance shows (-want +got):\n%s", diff)
				}
			})
		}
	}
}

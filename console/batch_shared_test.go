package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/internal/batchcsv"
)

// sharedRig returns a rig whose console keeps its batches and audit trail
// in docs, and a second instance of the console (its own memory, the same
// Service, store and session key), as two `preenroll serve` behind one
// address are.
func sharedRig(t *testing.T, users ...fulfillmenttest.User) (r *rig, other *console) {
	t.Helper()
	docs := fulfillment.NewMemoryStore()
	r = newRig(t, func(c *Config) { c.Documents, c.Audit = docs, NewStoreAudit(docs, 0) }, users...)
	other, err := newConsole(r.w.Service, r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r, other
}

// TestBatchOnAnotherInstance: a batch uploaded to one instance is shown,
// listed, ordered and downloaded through another, and its audit entries
// are on every instance's Audit page.
func TestBatchOnAnotherInstance(t *testing.T) {
	r, other := sharedRig(t, fulfillmenttest.Employee("bo"))
	hc := r.signIn("root@example.com")
	code, loc, _ := r.upload(hc, "people.csv", []byte("login\nada@example.com\nghost@example.com\nbo@example.com\n"), map[string]string{"format": "auto"})
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/batch/") {
		t.Fatalf("upload = %d to %q", code, loc)
	}
	r.c.work.Wait()

	r.h = other.routes()
	_, page := r.get(hc, loc)
	wantContains(t, "the checked batch on the other instance", page, `id="batch-state">checked`, `id="bad-line-3"`, "Okta has no user with this login", "Order the 2 valid rows")
	_, page = r.get(hc, "/batch")
	wantContains(t, "the upload page's recent batches on the other instance", page, `href="`+loc+`"`, "people.csv")
	_, page = r.get(hc, "/audit")
	wantContains(t, "the other instance's Audit page", page, "batch upload", "people.csv: 3 rows, 0 bad")

	if code, _ := r.post(hc, loc+"/order", nil); code != http.StatusSeeOther {
		t.Fatalf("order through the other instance = %d, want 303", code)
	}
	other.work.Wait()
	for _, login := range []string{"ada@example.com", "bo@example.com"} {
		r.w.WantStatus(t.Context(), login, fulfillment.FulfillmentStarted)
	}

	r.h = r.c.routes()
	_, page = r.get(hc, loc)
	wantContains(t, "the done batch on the first instance", page, `id="batch-state">done`, `id="batch-done"`, "Ordered 2")
	if code, _ := r.post(hc, loc+"/order", nil); code != http.StatusConflict {
		t.Errorf("ordering again through the first instance = %d, want 409", code)
	}
	_, csv := r.get(hc, loc+"/results.csv")
	wantContains(t, "the results", csv, ",ada@example.com,", ",ordered,", ",ghost@example.com,", ",invalid,")
	es, err := r.c.audit.Recent(t.Context(), 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range es {
		actions = append(actions, e.Action+"/"+e.Outcome)
	}
	for _, want := range []string{"batch upload/ok", "batch order/ok", "batch order finished/ok", "batch order/refused"} {
		if !strings.Contains(strings.Join(actions, " "), want) {
			t.Errorf("the shared audit trail lacks %s: %v", want, actions)
		}
	}
}

// TestBatchOrderedOnce: two instances ordering one checked batch at once:
// exactly one claims it.
func TestBatchOrderedOnce(t *testing.T) {
	r, other := sharedRig(t)
	hc := r.signIn("root@example.com")
	_, loc, _ := r.upload(hc, "one.csv", []byte("login\nada@example.com\n"), nil)
	r.c.work.Wait()
	id := strings.TrimPrefix(loc, "/batch/")
	for range 20 {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, c := range []*console{r.c, other} {
			wg.Go(func() { _, errs[i] = c.batches.claim(t.Context(), id) })
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			var refused notOrderable
			switch {
			case err == nil:
				won++
			case errors.As(err, &refused), errors.Is(err, fulfillment.ErrVersionConflict):
			default:
				t.Fatalf("claim: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d instances claimed the batch, want 1 (errors %v)", won, errs)
		}
		// Put the batch back to checked for the next round.
		for _, c := range []*console{r.c, other} {
			c.batches.mu.Lock()
			j := c.batches.running[id]
			delete(c.batches.running, id)
			c.batches.mu.Unlock()
			if j != nil {
				j.state = batchChecked
				if err := c.batches.save(t.Context(), j, true); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// TestBatchInterrupted: a batch left running by an instance that stopped
// writing it shows as interrupted elsewhere, with what to do, and cannot
// be ordered; the instance still running it shows its progress.
func TestBatchInterrupted(t *testing.T) {
	r, other := sharedRig(t)
	hc := r.signIn("root@example.com")
	held := &batchJob{ID: "held", File: "held.csv", Format: "Okta logins", Owner: "root@example.com", Created: r.w.Now(), state: batchOrdering, total: 2}
	if err := r.c.batches.add(t.Context(), held); err != nil {
		t.Fatal(err)
	}
	r.h = other.routes()
	_, page := r.get(hc, "/batch/held")
	wantContains(t, "a batch another instance runs", page, `id="batch-state">ordering`, `id="batch-progress"`)

	r.w.Advance(batchStale + time.Second)
	hc = r.signIn("root@example.com")
	_, page = r.get(hc, "/batch/held")
	wantContains(t, "a batch whose instance stopped", page, `id="batch-state">interrupted`, "stopped while ordering", "Upload the file again")
	if strings.Contains(page, `id="batch-progress"`) {
		t.Error("an interrupted batch shows progress")
	}
	if code, _ := r.post(hc, "/batch/held/order", nil); code != http.StatusConflict {
		t.Errorf("ordering an interrupted batch = %d, want 409", code)
	}
	r.h = r.c.routes()
	_, page = r.get(hc, "/batch/held")
	wantContains(t, "the batch on the instance running it", page, `id="batch-state">ordering`)
}

// TestBatchRetention: an upload deletes the batches older than
// Config.BatchRetention.
func TestBatchRetention(t *testing.T) {
	r := newRig(t, func(c *Config) { c.BatchRetention = 48 * time.Hour })
	hc := r.signIn("root@example.com")
	_, old, _ := r.upload(hc, "old.csv", []byte("login\nada@example.com\n"), nil)
	r.c.work.Wait()
	r.w.Advance(24 * time.Hour)
	hc = r.signIn("root@example.com")
	_, kept, _ := r.upload(hc, "kept.csv", []byte("login\nada@example.com\n"), nil)
	r.c.work.Wait()
	r.w.Advance(24*time.Hour + time.Second)
	hc = r.signIn("root@example.com")
	_, _, _ = r.upload(hc, "new.csv", []byte("login\nada@example.com\n"), nil)
	r.c.work.Wait()
	if code, _ := r.get(hc, old); code != http.StatusNotFound {
		t.Errorf("a batch older than the retention = %d, want 404", code)
	}
	if code, _ := r.get(hc, kept); code != http.StatusOK {
		t.Errorf("a batch within the retention = %d, want 200", code)
	}
}

// TestLargestBatchKept: the document of a batch as large as the default
// MaxUpload allows (1 MiB of logins, 65,536 rows) is kept once checked,
// every row with its problem (Okta's users have no address), so another
// instance shows it; its JSON alone is larger than
// fulfillment.MaxDocumentSize.
func TestLargestBatchKept(t *testing.T) {
	r, other := sharedRig(t)
	problem := "the Okta profile cannot be shipped to: " + batchcsv.Problem(fulfillment.ShippingInfoFromProfile(fulfillment.Profile{
		Login: "jsmith@acme.com", Email: "jsmith@acme.com", FirstName: "J", LastName: "Smith"}).Check())
	n := DefaultMaxUpload / len("jsmith@acme.com\n")
	j := &batchJob{ID: "large", File: "everybody.csv", Format: "Okta logins", Owner: "root@example.com", Created: r.w.Now(), state: batchChecking}
	for i := range n {
		j.rows = append(j.rows, batchRow{Line: i + 2, Login: fmt.Sprintf("u%05d@acme.com", i), UserID: fmt.Sprintf("00u%017d", i),
			Result: resultInvalid, Problem: problem})
	}
	if err := r.c.batches.add(t.Context(), j); err != nil {
		t.Fatal(err)
	}
	j.state = batchChecked
	if err := r.c.batches.save(t.Context(), j, true); err != nil {
		t.Fatalf("keeping the checked batch: %v", err)
	}
	v, err := other.batches.get(t.Context(), "large")
	if err != nil {
		t.Fatal(err)
	}
	if v.State != batchChecked || len(v.Rows) != n || v.Counts[resultInvalid] != n || v.Rows[n-1] != j.rows[n-1] {
		t.Errorf("the batch on another instance: %s, %d rows (%d invalid), last %+v; want checked, %d invalid rows, last %+v",
			v.State, len(v.Rows), v.Counts[resultInvalid], v.Rows[len(v.Rows)-1], n, j.rows[n-1])
	}
}

// TestBatchOrderedAfterItsResultWasNotKept: when the write of a checked
// batch's result fails, the instance that checked it still holds it and
// orders it (once), as it shows it checked.
func TestBatchOrderedAfterItsResultWasNotKept(t *testing.T) {
	docs := &failingDocs{DocumentStore: fulfillment.NewMemoryStore(), failState: batchChecked}
	r := newRig(t, func(c *Config) { c.Documents = docs })
	hc := r.signIn("root@example.com")
	_, loc, _ := r.upload(hc, "one.csv", []byte("login\nada@example.com\n"), nil)
	r.c.work.Wait()
	if !docs.failed.Load() {
		t.Fatal("the checked batch's write did not fail")
	}
	_, page := r.get(hc, loc)
	wantContains(t, "the batch whose result was not kept", page, `id="batch-state">checked`)
	codes := make([]int, 2)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Go(func() { codes[i], _ = r.post(hc, loc+"/order", nil) })
	}
	wg.Wait()
	slices.Sort(codes)
	if want := []int{http.StatusSeeOther, http.StatusConflict}; !slices.Equal(codes, want) {
		t.Fatalf("ordering it twice at once = %v, want %v", codes, want)
	}
	r.c.work.Wait()
	r.w.WantStatus(t.Context(), "ada@example.com", fulfillment.FulfillmentStarted)
	v, err := newBatchesOver(r, docs).get(t.Context(), strings.TrimPrefix(loc, "/batch/"))
	if err != nil || v.State != batchDone || v.Counts[resultOrdered] != 1 {
		t.Errorf("the batch in the store = %s %v, %v; want done, 1 ordered", v.State, v.Counts, err)
	}
}

// newBatchesOver returns the batches another instance of r's console on
// docs reads.
func newBatchesOver(r *rig, docs fulfillment.DocumentStore) *batches {
	return newBatches(docs, DefaultBatchRetention, r.w.Now, r.c.log)
}

// failingDocs fails the first PutDocument of a batch in failState.
type failingDocs struct {
	fulfillment.DocumentStore
	failState string
	failed    atomic.Bool
}

func (f *failingDocs) PutDocument(ctx context.Context, d fulfillment.Document) (fulfillment.Document, error) {
	if b, err := decodeBatch(d.Data); err == nil && b.State == f.failState && !f.failed.Swap(true) {
		return fulfillment.Document{}, errors.New("test: the store fails")
	}
	return f.DocumentStore.PutDocument(ctx, d)
}

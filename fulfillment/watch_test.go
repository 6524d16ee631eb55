package fulfillment_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
)

func TestSubscribeSeesEveryStoredStep(t *testing.T) {
	ctx := context.Background()
	store, listened := listenedStore()
	w := fulfillmenttest.New(t, fulfillmenttest.WithStore(store), fulfillmenttest.WithUsers(fulfillmenttest.Employee("ada")))
	var (
		mu    sync.Mutex
		steps []fulfillment.Step
	)
	cancel := w.Service.Subscribe(ctx, func(c fulfillment.RecordChange) {
		mu.Lock()
		defer mu.Unlock()
		if c.Resync { // the MemoryStore's feed listens; no other Service writes
			return
		}
		if c.Remote {
			t.Errorf("change %+v of the only Service: Remote set", c)
		}
		if c.Login != "ada@example.com" || c.UserID == "" || c.Version == 0 {
			t.Errorf("change %+v: want ada's login, a user ID and a stored version", c)
		}
		steps = append(steps, c.Step)
	})
	bounded(t, listened, "the feed listens") // no delivery of the feed runs: Order's changes are delivered before it returns
	if _, err := w.Service.Order(ctx, w.User("ada@example.com").ID); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := append([]fulfillment.Step(nil), steps...)
	mu.Unlock()
	if diff := cmp.Diff([]fulfillment.Step{fulfillment.StepInitiating, fulfillment.StepInitiated}, got); diff != "" {
		t.Errorf("changes of an order (-want +got):\n%s", diff)
	}
	cancel()
	w.AdvanceUntil(ctx, "ada@example.com", fulfillment.Shipped)
	mu.Lock()
	defer mu.Unlock()
	if len(steps) != len(got) {
		t.Errorf("after cancel, %d more changes were delivered", len(steps)-len(got))
	}
	recs, err := w.Service.List(ctx, fulfillment.Query{Statuses: []fulfillment.Status{fulfillment.Shipped}})
	if err != nil || len(recs) != 1 || recs[0].Login != "ada@example.com" {
		t.Errorf("List(Shipped) = %d records, %v; want ada's", len(recs), err)
	}
}

func TestSubscribeEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	w := fulfillmenttest.New(t, fulfillmenttest.WithUsers(fulfillmenttest.Employee("bo")))
	var n atomic.Int64
	w.Service.Subscribe(ctx, func(c fulfillment.RecordChange) {
		if !c.Resync { // the store's feed may say it listens before cancel
			n.Add(1)
		}
	})
	cancel()
	if _, err := w.Service.Order(context.Background(), w.User("bo@example.com").ID); err != nil {
		t.Fatal(err)
	}
	if n := n.Load(); n != 0 {
		t.Errorf("%d changes delivered after the context ended", n)
	}
}

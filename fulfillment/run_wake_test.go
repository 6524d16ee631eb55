package fulfillment_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
)

// stillTicker is a Run ticker that never ticks: every pass after the
// first must be woken.
type stillTicker struct{}

func (stillTicker) C() <-chan time.Time { return nil }
func (stillTicker) Stop()               {}

// listedStore tells when a Sync pass has listed the records in flight
// (it hides the due index, so that Sync lists with List).
type listedStore struct {
	fulfillment.Store
	listed chan struct{}
}

func (s listedStore) List(ctx context.Context, q fulfillment.Query) ([]fulfillment.Record, error) {
	recs, err := s.Store.List(ctx, q)
	select {
	case s.listed <- struct{}{}:
	default:
	}
	return recs, err
}

// TestRunWakesOnOrder: an order made with Service.Order (an onboarding
// handler in the same program as Run) is enrolled and shipped at once, not
// after PollInterval; before, only the event handler woke Run, and Order's
// own event found the order in flight.
func TestRunWakesOnOrder(t *testing.T) {
	t.Parallel()
	store := listedStore{Store: fulfillment.NewMemoryStore(), listed: make(chan struct{}, 1)}
	w := fulfillmenttest.New(t, fulfillmenttest.WithUsers(fulfillmenttest.Employee("grace")), fulfillmenttest.WithStore(store),
		fulfillmenttest.WithConfig(func(c *fulfillment.Config) {
			c.NewTicker = func(time.Duration) fulfillment.Ticker { return stillTicker{} }
		}))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second) // bounds a failure, never reached when it works
	defer cancel()
	created := make(chan string, 1)
	w.Service.Subscribe(ctx, func(c fulfillment.RecordChange) {
		if c.Step == fulfillment.StepShipmentCreated {
			select {
			case created <- c.UserID:
			default:
			}
		}
	})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Service.Run(runCtx) }()
	<-store.listed // Run's first pass found nothing to do; it waits now
	rec, err := w.Service.Order(ctx, "grace@example.com")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-created:
		if id != rec.UserID {
			t.Errorf("shipment created for %s, want %s", id, rec.UserID)
		}
	case <-ctx.Done():
		t.Fatal("Run did not take the order up without a tick")
	}
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
}

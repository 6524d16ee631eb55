package fulfillment_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/okta"
)

// ExampleService_QueuedEventHandler mounts Okta's event hook in a program's
// own http.ServeMux and answers each delivery as soon as its events are
// queued, never after a call to Okta or a write to the store, so Okta's
// 3-second limit holds whatever the load; workers of the program record
// the events with RecordEvent. A full queue answers 503 and Okta delivers
// once more. An event that still fails after a few tries is left to the
// catch-up from Okta's System Log (Config.CatchUpEvery), which records the
// orders no delivery brought. (Service.EventHandler, which records before
// it answers, needs no queue; `preenroll serve` has one like this.)
func ExampleService_QueuedEventHandler() {
	ctx := context.Background()
	w := fulfillmenttest.New(fulfillmenttest.LogFatal{}, fulfillmenttest.WithoutEventHook(),
		fulfillmenttest.WithUsers(fulfillmenttest.Employee("grace")))
	defer w.Close()
	svc := w.Service

	// The queue: enqueue must not block, so a delivery that does not fit
	// whole is refused with ErrQueueFull.
	var mu sync.Mutex
	queue := make(chan fulfillment.HookEvent, 100)
	enqueue := func(_ context.Context, events []fulfillment.HookEvent) error {
		mu.Lock()
		defer mu.Unlock()
		if len(events) > cap(queue)-len(queue) {
			return fmt.Errorf("hook: %d events: %w", len(events), fulfillment.ErrQueueFull)
		}
		for _, ev := range events {
			queue <- ev
		}
		return nil
	}
	// A worker: RecordEvent de-duplicates redeliveries, and asks Okta
	// about the user before it records an order.
	recorded := make(chan fulfillment.EventOutcome)
	go func() {
		for ev := range queue {
			outcome, err := svc.RecordEvent(ctx, ev)
			for try, wait := 1, time.Second; outcome == fulfillment.EventFailed && try < 3; try, wait = try+1, 2*wait {
				// Okta or the store could not be asked: try again shortly.
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return
				}
				outcome, err = svc.RecordEvent(ctx, ev)
			}
			if outcome == fulfillment.EventFailed {
				log.Printf("event %s: %v (the catch-up will record it)", ev.ID, err)
			}
			recorded <- outcome
		}
	}()

	mux := http.NewServeMux()
	mux.Handle("/okta/events", svc.QueuedEventHandler(enqueue))
	srv := httptest.NewServer(mux) // your http.Server
	defer srv.Close()
	// Registering the hook at Okta verifies it (a GET the handler answers).
	if _, err := w.Okta.AddEventHook(ctx, srv.URL+"/okta/events", w.Config.EventHookSecret.Reveal(), okta.EventTypePreregisterInitiate); err != nil {
		log.Fatal(err)
	}

	// An administrator orders a key in Okta's Admin Console.
	grace := w.User("grace@example.com")
	if err := w.OktaClient.InitiateFulfillment(ctx, okta.FulfillmentRequest{UserID: grace.ID, FulfillmentProvider: okta.ProviderYubico,
		FulfillmentData: okta.FulfillmentData{{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"}}}); err != nil {
		log.Fatal(err)
	}
	fmt.Println("event:", <-recorded)
	deliveries, err := w.Okta.AwaitDeliveries(ctx, 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("answered:", deliveries[0].Status)
	rec, err := svc.Status(ctx, grace.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("record:", rec.Status.Label(), rec.Step)
	// Output:
	// event: recorded
	// answered: 200
	// record: Fulfillment started initiated
}

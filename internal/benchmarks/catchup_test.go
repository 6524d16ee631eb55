package benchmarks_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/internal/cputime"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// catchUpEvents is how many orders a catch-up pass reads.
const catchUpEvents = 1000

// BenchmarkCatchUp measures a Service.CatchUp pass over 1,000 orders
// placed at Okta with no event hook, on the memory store: "new" records
// them (each: the System Log page it is on, Okta's user read, the record's
// write and the event's mark), "duplicates" reads them again (what every
// pass's overlap costs: no call to Okta but the pages). It reports Okta
// requests and CPU per event (the fakes' share included: one process).
func BenchmarkCatchUp(b *testing.B) {
	users := make([]fulfillmenttest.User, catchUpEvents)
	for i := range users {
		users[i] = fulfillmenttest.Employee(fmt.Sprintf("u%04d", i))
	}
	w := fulfillmenttest.New(b, fulfillmenttest.WithoutEventHook(), fulfillmenttest.WithUsers(users...),
		fulfillmenttest.WithOkta(oktatest.WithoutRateLimits()))
	ctx := b.Context()
	if _, err := w.Service.CatchUp(ctx, w.Now()); err != nil { // nothing yet: warms the client
		b.Fatal(err)
	}
	since := w.Now()
	w.Advance(time.Minute)
	for _, u := range users {
		err := w.OktaClient.InitiateFulfillment(ctx, okta.FulfillmentRequest{UserID: w.User(u.Profile.Login).ID,
			FulfillmentData: okta.FulfillmentData{{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"}}})
		if err != nil {
			b.Fatal(err)
		}
	}
	w.Advance(time.Minute)
	// pass runs one catch-up with svc and returns the Okta requests and
	// the process CPU it took.
	pass := func(b *testing.B, svc *fulfillment.Service, want fulfillment.EventOutcome) (int, time.Duration) {
		b.Helper()
		before, cpu := len(w.Okta.RequestLog()), cputime.Process()
		rep, err := svc.CatchUp(ctx, since)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Events != catchUpEvents || rep.Outcomes[want] != catchUpEvents {
			b.Fatalf("catch-up = %+v, want %d events %v", rep, catchUpEvents, want)
		}
		return len(w.Okta.RequestLog()) - before, cputime.Process() - cpu
	}
	report := func(b *testing.B, requests int, cpu time.Duration) {
		events := float64(b.N * catchUpEvents)
		b.ReportMetric(float64(requests)/events, "okta-requests/event")
		b.ReportMetric(float64(cpu.Microseconds())/events, "cpu-µs/event")
	}
	b.Run("new", func(b *testing.B) {
		var requests int
		var cpu time.Duration
		for range b.N {
			// A Service on an empty store of its own: the orders are new
			// to it.
			b.StopTimer()
			cfg := w.Config
			cfg.Store = fulfillment.NewMemoryStore()
			svc, err := fulfillment.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			r, c := pass(b, svc, fulfillment.EventRecorded)
			requests, cpu = requests+r, cpu+c
		}
		report(b, requests, cpu)
	})
	pass(b, w.Service, fulfillment.EventRecorded) // the World's Service records them once
	b.Run("duplicates", func(b *testing.B) {
		var requests int
		var cpu time.Duration
		for range b.N {
			r, c := pass(b, w.Service, fulfillment.EventDuplicate)
			requests, cpu = requests+r, cpu+c
		}
		report(b, requests, cpu)
	})
}

package fulfillment_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
)

// idleTicker never ticks: the example's passes are those at start and
// those that orders wake.
type idleTicker struct{}

func (idleTicker) C() <-chan time.Time { return nil }
func (idleTicker) Stop()               {}

// ExampleService_RunWith runs the loop of Sync passes a service runs,
// with a report of each pass where a program counts passes, records moved
// and failures in its metrics. A new order wakes it at once; so does one
// another instance records on a store with a change feed (pgstore), after
// a random delay of up to a second. The fakes' tickers never tick here;
// a program leaves Config.NewTicker nil.
func ExampleService_RunWith() {
	w := fulfillmenttest.New(fulfillmenttest.LogFatal{}, fulfillmenttest.WithoutEventHook(),
		fulfillmenttest.WithUsers(fulfillmenttest.Employee("ada")),
		fulfillmenttest.WithConfig(func(c *fulfillment.Config) {
			c.NewTicker = func(time.Duration) fulfillment.Ticker { return idleTicker{} }
		}))
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	passes := make(chan fulfillment.RunPass, 8)
	done := make(chan error, 1)
	go func() {
		done <- w.Service.RunWith(ctx, fulfillment.RunOptions{
			Interval:   5 * time.Minute,  // between passes
			Jitter:     30 * time.Second, // plus up to this much
			MaxBackoff: time.Minute,      // waits doubled up to this while passes fail
			OnPass: func(p fulfillment.RunPass) {
				passes <- p // a program adds p.Report's counts to its metrics here
			},
		})
	}()
	show := func(what string) {
		var p fulfillment.RunPass
		select {
		case p = <-passes:
		case err := <-done: // Run returned before the pass: say why instead of waiting
			log.Fatalf("Run returned early: %v", err)
		}
		fmt.Printf("%-13s checked %d, advanced %d, failures %d, failed passes in a row %d, error %v\n",
			what, p.Report.Checked, p.Report.Advanced, len(p.Report.Failures), p.Failed, p.Err)
	}
	show("at start:")
	if _, err := w.Service.Order(ctx, "ada@example.com"); err != nil {
		log.Fatal(err)
	}
	show("on the order:")
	cancel()
	fmt.Println("Run:", <-done)
	// Output:
	// at start:     checked 0, advanced 0, failures 0, failed passes in a row 0, error <nil>
	// on the order: checked 1, advanced 1, failures 0, failed passes in a row 0, error <nil>
	// Run: context canceled
}

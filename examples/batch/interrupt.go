package main

import (
	"context"
	"errors"

	"github.com/preenroll/preenroll/fulfillment"
)

// errInterrupted is why a user was not ordered after an interrupt.
var errInterrupted = errors.New("batch: interrupted before this user's order started")

// gatedStore is the Service's store during a batch. Once stop is closed
// (the first interrupt) it refuses to read a record, which is the first
// thing an order does: no new order starts, while the orders in flight
// (past that read) finish and record their outcome. So an interrupt never
// leaves an order half-recorded (sent to Okta with its result unsaved),
// and a rerun with the same -state orders exactly the users not yet
// ordered.
//
// The orders in flight must not be cancelled for this to hold: the batch
// runs them on a context without the interrupt's cancellation, and a
// second interrupt kills the program.
type gatedStore struct {
	fulfillment.Store
	stop <-chan struct{}
}

// Get refuses after the interrupt.
func (g *gatedStore) Get(ctx context.Context, userID string) (fulfillment.Record, error) {
	select {
	case <-g.stop:
		return fulfillment.Record{}, errInterrupted
	default:
	}
	return g.Store.Get(ctx, userID)
}

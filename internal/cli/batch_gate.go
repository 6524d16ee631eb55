package cli

import (
	"context"
	"errors"
	"sync"

	"github.com/preenroll/preenroll/fulfillment"
)

// errInterrupted is why a user was not ordered after an interrupt.
var errInterrupted = errors.New("batch: interrupted before this user's order started")

// gatedStore is the Service's store during a batch. An order begins by
// reading the user's record, so the first read marks the end of the
// look-ups. An interrupt before that cancels the batch (nothing was sent
// that changes anything); after it, reads are refused: no new order
// starts, while the orders in flight (past that read) finish and record
// their outcome. So an interrupt never leaves an order half-recorded (sent
// to Okta with its result unsaved), and a rerun with the same -store orders
// exactly the users not yet ordered.
//
// The orders in flight must not be cancelled for this to hold: the batch
// runs them on a context without the interrupt's cancellation, and a
// second interrupt kills the program.
type gatedStore struct {
	fulfillment.Store
	stop   <-chan struct{}    // closed by the first interrupt
	cancel context.CancelFunc // cancels the batch while users are looked up

	mu       sync.Mutex
	ordering bool // an order has read its record
	stopped  bool // interrupted
}

// interrupt is called on the first interrupt.
func (g *gatedStore) interrupt() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopped = true
	if !g.ordering {
		g.cancel()
	}
}

// Get refuses after the interrupt.
func (g *gatedStore) Get(ctx context.Context, userID string) (fulfillment.Record, error) {
	g.mu.Lock()
	select {
	case <-g.stop:
		g.stopped = true
	default:
	}
	if g.stopped {
		g.mu.Unlock()
		return fulfillment.Record{}, errInterrupted
	}
	g.ordering = true
	g.mu.Unlock()
	return g.Store.Get(ctx, userID)
}

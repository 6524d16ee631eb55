package cli

import (
	"context"
	"errors"
	"sync"
	"time"

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

// The optional interfaces of the store, forwarded (embedding hides them):
// reads that are not the gate's, through the fulfillment functions that
// fall back to listing for a store without them.
var (
	_ fulfillment.StatusCounter = (*gatedStore)(nil)
	_ fulfillment.DueLister     = (*gatedStore)(nil)
)

// CountByStatus implements [fulfillment.StatusCounter].
func (g *gatedStore) CountByStatus(ctx context.Context) (map[fulfillment.Status]int, error) {
	return fulfillment.CountByStatus(ctx, g.Store)
}

// ListDue implements [fulfillment.DueLister].
func (g *gatedStore) ListDue(ctx context.Context, q fulfillment.DueQuery) ([]fulfillment.Record, error) {
	return fulfillment.ListDue(ctx, g.Store, q)
}

// CountNotDue implements [fulfillment.DueLister].
func (g *gatedStore) CountNotDue(ctx context.Context, now time.Time) (int, error) {
	return fulfillment.CountNotDue(ctx, g.Store, now)
}

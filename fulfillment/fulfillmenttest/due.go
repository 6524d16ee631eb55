package fulfillmenttest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
)

// MakeDue clears the next check ([fulfillment.Record.NextCheck]) of every
// record in flight in store, so that the next Sync pass looks at each
// waiting record at once, as if its schedule had come. It is for tests
// whose Service keeps a clock that does not follow the fakes' (a `preenroll
// serve` process on the wall clock while the test moves the fakes' time
// on by days); a test whose Service runs on the World's clock moves that
// clock instead ([World.AdvanceUntil]). A record another writer changes
// meanwhile (a Service sharing the store) is left as that writer stored it.
// It returns how many records it made due.
func MakeDue(ctx context.Context, store fulfillment.Store) (int, error) {
	recs, err := store.List(ctx, fulfillment.Query{InFlight: true})
	if err != nil {
		return 0, fmt.Errorf("fulfillmenttest: make due: %w", err)
	}
	n := 0
	for _, r := range recs {
		if r.NextCheck.IsZero() {
			continue
		}
		r.NextCheck = time.Time{}
		switch _, err := store.Put(ctx, r); {
		case errors.Is(err, fulfillment.ErrVersionConflict):
		case err != nil:
			return n, fmt.Errorf("fulfillmenttest: make due: %w", err)
		default:
			n++
		}
	}
	return n, nil
}

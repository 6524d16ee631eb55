package cli

import (
	"testing"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
)

// TestGatedStoreConformance: before an interrupt the batch's gated store is
// its store, optional interfaces included: it passes the store suite (the
// due index and the counts by status among its cases) over the
// MemoryStore, whose DueLister and StatusCounter it forwards.
func TestGatedStoreConformance(t *testing.T) {
	t.Parallel()
	fulfillmenttest.RunStoreConformance(t, func(t *testing.T) fulfillment.Store {
		return &gatedStore{Store: fulfillment.NewMemoryStore(), stop: make(chan struct{}), cancel: func() {}}
	})
}

package cli

import (
	"testing"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
)

// TestGatedStoreConformance: before an interrupt the batch's gated store is
// its store, optional interfaces included: it passes the store suite (the
// due index and the counts by status among its cases) over the
// MemoryStore, whose DueLister and StatusCounter it forwards. The suite
// would pass through the listing fallback too, so the test also asserts,
// on the value the suite is given, that both interfaces are there.
func TestGatedStoreConformance(t *testing.T) {
	t.Parallel()
	fulfillmenttest.RunStoreConformance(t, func(t *testing.T) fulfillment.Store {
		var s fulfillment.Store = &gatedStore{Store: fulfillment.NewMemoryStore(), stop: make(chan struct{}), cancel: func() {}}
		if _, ok := s.(fulfillment.DueLister); !ok {
			t.Fatal("the gated store hides its store's DueLister")
		}
		if _, ok := s.(fulfillment.StatusCounter); !ok {
			t.Fatal("the gated store hides its store's StatusCounter")
		}
		return s
	})
}

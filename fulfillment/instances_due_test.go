package fulfillment_test

import (
	"testing"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
)

// makeDue makes every waiting record due (fulfillmenttest.MakeDue): the
// instance tests exercise the claims that share the due records between
// instances, whatever the schedule makes due.
func makeDue(t *testing.T, store fulfillment.Store) {
	t.Helper()
	if _, err := fulfillmenttest.MakeDue(t.Context(), store); err != nil {
		t.Fatal(err)
	}
}

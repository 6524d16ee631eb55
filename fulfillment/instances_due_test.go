package fulfillment_test

import (
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
)

// makeDue clears the next check (Record.NextCheck) of every record in
// flight, so that the next Sync pass looks at each as it did before the
// schedule: the instance tests exercise the claims that share the due
// records between instances, whatever the schedule makes due.
func makeDue(t *testing.T, store fulfillment.Store) {
	t.Helper()
	recs, err := store.List(t.Context(), fulfillment.Query{InFlight: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.NextCheck.IsZero() {
			continue
		}
		r.NextCheck = time.Time{}
		if _, err := store.Put(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
}

package yubicotest_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/yubico"
)

// TestNextTransitionStepsThroughTheLifecycle walks an exact shipment from
// creation to delivery by moving the clock only to NextTransition.
func TestNextTransitionStepsThroughTheLifecycle(t *testing.T) {
	s := newServer(t)
	if at, ok := s.NextTransition(); ok {
		t.Fatalf("NextTransition with no shipment = %v, want none", at)
	}
	c := s.Client()
	sh, err := c.CreateShipment(t.Context(), exactRequest())
	if err != nil {
		t.Fatal(err)
	}
	var got []yubico.ShipmentState
	for range 10 {
		at, ok := s.NextTransition()
		if !ok {
			break
		}
		if !at.After(s.Now()) {
			t.Fatalf("NextTransition %v is not after Now %v", at, s.Now())
		}
		if err := s.SetNow(at); err != nil {
			t.Fatal(err)
		}
		if st := mustShipment(t, c, sh.ID).State; len(got) == 0 || got[len(got)-1] != st {
			got = append(got, st)
		}
	}
	// Validation leaves the state at 3; the batch, the pick-up and the
	// delivery each move it.
	want := []yubico.ShipmentState{yubico.StateAwaitingValidation, yubico.StateSentToFulfillment, yubico.StateShipped, yubico.StateDelivered}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("states seen (-want +got):\n%s", diff)
	}
}

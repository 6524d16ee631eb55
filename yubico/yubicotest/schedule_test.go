package yubicotest_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/yubico"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// TestOneAdvanceRunsEveryTransition: one Advance over several of each
// shipment's transitions (validation, the batch, pick-up, delivery, for
// shipments created at different times) leaves the shipments as stepping
// the clock from one transition to the next does.
func TestOneAdvanceRunsEveryTransition(t *testing.T) {
	t.Parallel()
	setUp := func() *yubicotest.Server {
		srv := newServer(t)
		for i := range 3 {
			if i > 0 {
				advance(t, srv, 20*time.Minute)
			}
			if _, err := srv.Client().CreateShipment(t.Context(), exactRequest()); err != nil {
				t.Fatal(err)
			}
		}
		return srv
	}
	leap, steps := setUp(), setUp()
	target := leap.Now().Add(4 * 24 * time.Hour)
	must(t, leap.SetNow(target))
	n := 0
	for next, ok := steps.NextTransition(); ok && !next.After(target); next, ok = steps.NextTransition() {
		must(t, steps.SetNow(next))
		n++
	}
	must(t, steps.SetNow(target))
	if n < 4 {
		t.Fatalf("stepped through %d transition times, want at least 4", n)
	}
	got, want := leap.Shipments(), steps.Shipments()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("one Advance (+) vs one step per transition (-):\n%s", d)
	}
	for _, sh := range got {
		if sh.State != yubico.StateDelivered {
			t.Errorf("shipment %s is in state %d, want 104 Delivered", sh.ID, int(sh.State))
		}
	}
}

// TestDeletedWhileScheduled: a shipment cancelled while awaiting
// validation, or validated and awaiting the batch, drops out of the
// schedule: the others move on without it and it takes no inventory.
func TestDeletedWhileScheduled(t *testing.T) {
	t.Parallel()
	srv := newServer(t, yubicotest.WithInventory(yubicotest.Bucket{ProductID: 1, Quantity: 10, InventoryType: 1}))
	c := srv.Client()
	ids := createShipments(t, c, 3, nil)
	tick, ok := srv.NextTransition()
	if !ok {
		t.Fatal("nothing scheduled after three creates")
	}
	must(t, c.DeleteShipment(t.Context(), ids[0])) // awaiting validation
	if next, _ := srv.NextTransition(); !next.Equal(tick) {
		t.Errorf("next transition after a delete = %v, want the validation tick %v", next, tick)
	}
	must(t, srv.SetNow(tick))
	must(t, c.DeleteShipment(t.Context(), ids[1])) // validated, awaiting the batch
	if next, _ := srv.NextTransition(); !next.Equal(srv.NextBatch()) {
		t.Errorf("next transition = %v, want the batch at %v", next, srv.NextBatch())
	}
	advance(t, srv, 4*24*time.Hour)
	got := srv.Shipments()
	if len(got) != 1 || got[0].ID != ids[2] || got[0].State != yubico.StateDelivered {
		t.Fatalf("shipments = %+v, want only %s, delivered", got, ids[2])
	}
	if q := bucketQuantity(srv, 1); q != 8 {
		t.Errorf("bucket 1 holds %d, want 8 (only the remaining shipment's 2 taken)", q)
	}
	if _, ok := srv.NextTransition(); ok {
		t.Error("a transition is still scheduled with every shipment delivered")
	}
}

// TestClockBackwardsLeavesScheduleAlone: moving the clock back is refused
// and changes nothing scheduled.
func TestClockBackwardsLeavesScheduleAlone(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	id := createShipments(t, srv.Client(), 1, nil)[0]
	now := srv.Now()
	next, _ := srv.NextTransition()
	if err := srv.SetNow(now.Add(-time.Minute)); !errors.Is(err, yubicotest.ErrClockBackwards) {
		t.Fatalf("SetNow(a minute ago) = %v, want ErrClockBackwards", err)
	}
	if err := srv.Advance(-time.Minute); !errors.Is(err, yubicotest.ErrClockBackwards) {
		t.Fatalf("Advance(-1m) = %v, want ErrClockBackwards", err)
	}
	if again, _ := srv.NextTransition(); !again.Equal(next) || !srv.Now().Equal(now) {
		t.Fatalf("after refused moves: now %v, next %v; want %v, %v", srv.Now(), again, now, next)
	}
	must(t, srv.SetNow(next))
	if sh, _ := srv.Shipment(id); sh.State != yubico.StateAwaitingValidation || sh.StateMessage != "Awaiting Validation" {
		t.Fatalf("at the validation tick: %+v", sh)
	}
}

// TestBatchTakesShipmentsInCreationOrder: the batch fulfills its shipments
// in creation order, whenever each was validated: shipments edited (and so
// validated again) after later ones still take the inventory first. Here
// the three are validated last-created first.
func TestBatchTakesShipmentsInCreationOrder(t *testing.T) {
	t.Parallel()
	srv := newServer(t, yubicotest.WithInventory(yubicotest.Bucket{ProductID: 1, Quantity: 2, InventoryType: 1}))
	c := srv.Client()
	ids := createShipments(t, c, 3, nil) // 2 keys each: enough for one
	advance(t, srv, 15*time.Minute)      // all three validated
	for _, i := range []int{1, 0} {
		if _, err := c.UpdateShipment(t.Context(), ids[i], exactRequest()); err != nil {
			t.Fatal(err)
		}
		advance(t, srv, 15*time.Minute) // validated again, after the later ones
	}
	must(t, srv.SetNow(srv.NextBatch()))
	var got []yubico.ShipmentState
	for _, id := range ids {
		sh, _ := srv.Shipment(id)
		got = append(got, sh.State)
	}
	want := []yubico.ShipmentState{yubico.StateSentToFulfillment, yubico.StateProcessingError, yubico.StateProcessingError}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("states after the batch (-want +got), the first created should take the inventory:\n%s", diff)
	}
}

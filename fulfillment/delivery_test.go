package fulfillment_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/yubico"
)

// shipmentReads counts the GETs of one FIDO Pre-reg shipment at Yubico.
func shipmentReads(w *fulfillmenttest.World, id string) int {
	n := 0
	for _, r := range w.Yubico.RequestLog() {
		if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/fpr/shipments/"+id) {
			n++
		}
	}
	return n
}

// shipmentGets counts the GETs of FIDO Pre-reg shipments at Yubico from
// the from'th request of its log on.
func shipmentGets(w *fulfillmenttest.World, from int) int {
	n := 0
	for _, r := range w.Yubico.RequestLog()[from:] {
		if r.Method == http.MethodGet && strings.HasPrefix(r.Path, "/v1/fpr/shipments/") {
			n++
		}
	}
	return n
}

// TestDeliveryIsRecorded: after the key shipped, the Service keeps
// reading the shipment, at most once per 12 hours however often Sync
// runs, until Yubico reports it delivered; then it records the delivery
// (state 104 and the time it saw it), shows it in Status and the pass's
// report, and reads the shipment no more.
func TestDeliveryIsRecorded(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	w, _ := orderedWorld(t)
	rec := w.AdvanceUntil(ctx, "ada@example.com", fulfillment.Shipped)
	if rec.ShipmentState != yubico.StateShipped || !rec.DeliveredAt.IsZero() {
		t.Fatalf("shipped record: state %d, delivered at %v; want 103, not delivered", rec.ShipmentState, rec.DeliveredAt)
	}
	// Twenty hourly passes while the parcel travels: one read, 12 h after
	// the one that activated the key.
	reads := shipmentReads(w, rec.ShipmentID)
	for range 20 {
		w.Advance(time.Hour)
		w.Sync(ctx)
	}
	if got := shipmentReads(w, rec.ShipmentID) - reads; got != 1 {
		t.Errorf("%d reads of the shipped key's shipment in 20 hourly passes, want 1 (one per 12 h)", got)
	}
	rep := w.AdvanceTo(ctx, fulfillmenttest.Delivered)
	saw := w.Now()
	if rep.Delivered != 1 {
		t.Errorf("passes up to the delivery: %+v, want 1 delivered", rep)
	}
	rec = w.Status(ctx, "ada@example.com")
	if rec.Status != fulfillment.Shipped || rec.ShipmentState != yubico.StateDelivered || rec.DeliveredAt.IsZero() ||
		rec.DeliveredAt.After(saw) || saw.Sub(rec.DeliveredAt) > 12*time.Hour {
		t.Errorf("record %s, state %d, delivered at %v; want Shipped, 104, delivered within 12 h before %v", rec.Status, rec.ShipmentState, rec.DeliveredAt, saw)
	}
	if last := rec.History[len(rec.History)-1]; !strings.Contains(last.Reason, "delivered (state 104)") {
		t.Errorf("last history entry %+v, want the delivery", last)
	}
	reads = shipmentReads(w, rec.ShipmentID)
	for range 3 {
		w.Advance(13 * time.Hour)
		w.Sync(ctx)
	}
	if got := shipmentReads(w, rec.ShipmentID) - reads; got != 0 {
		t.Errorf("%d reads of a delivered shipment, want none", got)
	}
	w.SignIn(ctx, "ada@example.com", w.Parcel(ctx, "ada@example.com"), w.PIN("ada@example.com"))
	if rec := w.AdvanceUntil(ctx, "ada@example.com", fulfillment.Active); rec.DeliveredAt.IsZero() {
		t.Error("the Active record lost its delivery")
	}
}

// TestActiveBeforeDeliveryStopsPolling: a key whose user signs in before
// Yubico reports the delivery is Active, and its shipment is not read
// again.
func TestActiveBeforeDeliveryStopsPolling(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	w, _ := orderedWorld(t)
	w.AdvanceUntil(ctx, "ada@example.com", fulfillment.Shipped)
	w.SignIn(ctx, "ada@example.com", w.Parcel(ctx, "ada@example.com"), w.PIN("ada@example.com"))
	rec := w.AdvanceUntil(ctx, "ada@example.com", fulfillment.Active)
	reads := shipmentReads(w, rec.ShipmentID)
	w.AdvanceTo(ctx, fulfillmenttest.Delivered)
	if got := shipmentReads(w, rec.ShipmentID) - reads; got != 0 {
		t.Errorf("%d reads of an Active key's shipment, want none", got)
	}
	if rec := w.Status(ctx, "ada@example.com"); !rec.DeliveredAt.IsZero() {
		t.Errorf("Active key recorded delivered at %v without a read", rec.DeliveredAt)
	}
}

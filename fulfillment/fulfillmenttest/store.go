package fulfillmenttest

import (
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
)

// storeT0 is the time the conformance suite's records are stamped with: it
// has nanoseconds, which a store must keep.
var storeT0 = time.Date(2026, 11, 29, 15, 0, 0, 123456789, time.UTC)

// SampleRecord returns a record of userID with every field set (two
// enrollments, idempotency keys, a lease, a history of three changes, times
// with nanoseconds), the kind a store must give back unchanged. Its Version
// is 0: Put it to create it.
func SampleRecord(userID string) fulfillment.Record {
	t0 := storeT0
	return fulfillment.Record{
		UserID:     userID,
		Login:      userID + "@example.com",
		Status:     fulfillment.FulfillmentErrored,
		Step:       fulfillment.StepErrored,
		FailedStep: fulfillment.StepShipmentCreated,
		Items:      []fulfillment.Item{{ProductID: "55", InventoryProductID: "106", CustomizationID: "RXJN83"}},
		Enrollments: []fulfillment.Enrollment{
			{ID: "fwf1", KeyID: "key1", CredRequest: "jwe1", Status: "FULFILLMENT_ERRORED"},
			{ID: "fwf2", KeyID: "key2", CredRequest: "jwe2", Status: "FULFILLMENT_ERRORED"},
		},
		PINRequest:        "pinjwe",
		TransportKeyID:    "APCS-Ttrans-1",
		ShipmentID:        "U89bvfKKCtQfhnqaFBrAZW",
		ShipmentState:     7,
		ShipmentCheckedAt: t0.Add(30 * time.Minute),
		DeliveredAt:       t0.Add(40 * time.Minute),
		NextCheck:         t0.Add(12 * time.Hour),
		Serial:            "3632071",
		Firmware:          "5.7.1",
		Reason:            "yubico: shipment state 7 (undeliverable)",
		Attempts:          2,
		Keys: map[fulfillment.Step]string{
			fulfillment.StepShipmentCreating: "k1", fulfillment.StepEnrolling: "k2",
		},
		Lease:     fulfillment.Lease{Owner: "svc-1", Until: t0.Add(time.Minute)},
		EventID:   "evt-1",
		CreatedAt: t0,
		UpdatedAt: t0.Add(time.Hour),
		History: []fulfillment.Change{
			{At: t0, Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepInitiated, Attempt: 1},
			{At: t0.Add(time.Minute), Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepShipmentCreating, Attempt: 1, Key: "k1"},
			{At: t0.Add(time.Hour), Status: fulfillment.FulfillmentErrored, Step: fulfillment.StepErrored, Attempt: 2, Reason: "undeliverable"},
		},
	}
}

// RunStoreConformance runs the conformance suite of [fulfillment.Store]
// against the stores open returns: round trips of every field (a store
// gives back what it was put, Version excepted, and stamps no time of its
// own: the Service sets CreatedAt and UpdatedAt on its clock), the
// compare-and-swap of Put (sequential and from many goroutines at once,
// creates included), history that only grows, validation of IDs (an
// invalid one's error matches fulfillment.ErrInvalidID and holds a
// *fulfillment.IDError) and records, copies that do not share memory with the store, List's filters,
// order and paging, event de-duplication (also concurrent), lease hand-over
// between two instances, a next check (Record.NextCheck) written alone, the
// due index (fulfillment.DueLister: the records due at a time, by
// fulfillment.Record.DueAt, and the count of those not due, through the
// listing fallback for a store without one), and canceled contexts. For a
// store that is a fulfillment.DocumentStore it checks the documents too
// (round trips of opaque bytes and of Created to the nanosecond at its
// offset, the compare-and-swap of PutDocument, also from eight goroutines,
// validation, separate collections, ListDocuments' order and limit,
// DeleteDocuments, canceled contexts); those cases skip for a store that
// is not one. For a fulfillment.EventChecker it checks EventMarked (it
// tells exactly the events MarkEvent marked, and marks none); that case
// skips for a store that is not one. For a fulfillment.ChangeFeed it
// checks the feed (a Resync once it listens, then to two watchers the
// creates and the Puts that add a history entry or change the status or
// step, in order, and none of the bookkeeping Puts or failed ones; nil
// once the context ends); that case skips for a store that is not one.
// Every store in this module passes it; run it against a store of your
// own:
//
//	func TestMyStore(t *testing.T) {
//		fulfillmenttest.RunStoreConformance(t, func(t *testing.T) fulfillment.Store {
//			return openMyStore(t) // empty, closed by t.Cleanup
//		})
//	}
//
// open is called once per subtest, which run in parallel; each call must
// return an empty store that no other call shares, and arrange its own
// cleanup with t.Cleanup.
func RunStoreConformance(t *testing.T, open func(t *testing.T) fulfillment.Store) {
	t.Helper()
	// One case a subtest, in the order they run; names are the subtests'.
	for _, c := range storeCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, open(t))
		})
	}
}

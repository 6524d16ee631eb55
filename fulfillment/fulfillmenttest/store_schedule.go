package fulfillmenttest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
)

// storeNextCheck checks that a store keeps Record.NextCheck, the time the
// Service skips a waiting record until: a Put that changes only it (no
// history entry, as the Service records a check that found nothing new)
// is read back by Get and List with its nanoseconds, a record without one
// reads as zero (due at once), and a stale Put of it is refused like any
// other.
func storeNextCheck(t *testing.T, s fulfillment.Store) {
	ctx := t.Context()
	waiting := fulfillment.Record{UserID: "00u1", Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepShipmentCreated,
		ShipmentID: "S1", CreatedAt: storeT0, UpdatedAt: storeT0}
	plain := fulfillment.Record{UserID: "00u2", Status: fulfillment.Shipped, Step: fulfillment.StepPINSent, CreatedAt: storeT0, UpdatedAt: storeT0}
	for _, r := range []fulfillment.Record{waiting, plain} {
		if _, err := s.Put(ctx, r); err != nil {
			t.Fatalf("Put %s: %v", r.UserID, err)
		}
	}
	got, err := s.Get(ctx, "00u2")
	if err != nil {
		t.Fatal(err)
	}
	if !got.NextCheck.IsZero() {
		t.Errorf("a record stored without NextCheck reads %v, want zero (due at once)", got.NextCheck)
	}
	r1, err := s.Get(ctx, "00u1")
	if err != nil {
		t.Fatal(err)
	}
	next := storeT0.Add(15*time.Minute + 987654321)
	r1.NextCheck, r1.UpdatedAt = next, storeT0.Add(time.Second)
	stored, err := s.Put(ctx, r1)
	if err != nil {
		t.Fatalf("Put with a new NextCheck: %v", err)
	}
	if stored.Version != 2 || !stored.NextCheck.Equal(next) {
		t.Errorf("Put returned version %d, NextCheck %v; want 2, %v", stored.Version, stored.NextCheck, next)
	}
	got, err = s.Get(ctx, "00u1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(stored, got); diff != "" {
		t.Errorf("Get after a NextCheck-only Put (-want +got):\n%s", diff)
	}
	list, err := s.List(ctx, fulfillment.Query{InFlight: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || !list[0].NextCheck.Equal(next) || !list[1].NextCheck.IsZero() {
		t.Errorf("List: %d records, NextCheck %v; want 2, the first's %v, the second's zero", len(list), nextChecks(list), next)
	}
	r1.NextCheck = storeT0.Add(time.Hour) // r1 is at version 1: stale
	if _, err := s.Put(ctx, r1); err == nil {
		t.Error("a stale Put of NextCheck succeeded")
	}
	if got, err := s.Get(ctx, "00u1"); err != nil || !got.NextCheck.Equal(next) {
		t.Errorf("after a stale Put: NextCheck %v (%v), want %v", got.NextCheck, err, next)
	}
}

func nextChecks(rs []fulfillment.Record) []time.Time {
	out := make([]time.Time, len(rs))
	for i, r := range rs {
		out[i] = r.NextCheck
	}
	return out
}

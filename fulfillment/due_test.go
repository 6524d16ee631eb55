package fulfillment_test

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
)

// TestRecordDueAt: when Sync acts on a record, by status and step: never
// for a record not in flight or resting at errored or managed-elsewhere,
// at its NextCheck at a waiting step (at once without one), at once at any
// other step.
func TestRecordDueAt(t *testing.T) {
	t.Parallel()
	next := time.Date(2026, 12, 6, 3, 30, 0, 5, time.UTC)
	type due struct {
		At time.Time
		OK bool
	}
	for _, tc := range []struct {
		status fulfillment.Status
		step   fulfillment.Step
		next   time.Time
		want   due
	}{
		{fulfillment.FulfillmentStarted, fulfillment.StepInitiating, next, due{OK: true}},
		{fulfillment.FulfillmentStarted, fulfillment.StepInitiated, next, due{OK: true}},
		{fulfillment.FulfillmentStarted, fulfillment.StepEnrolled, time.Time{}, due{OK: true}},
		{fulfillment.FulfillmentStarted, fulfillment.StepShipmentCreating, next, due{OK: true}},
		{fulfillment.FulfillmentStarted, fulfillment.StepShipmentCreated, next, due{next, true}},
		{fulfillment.FulfillmentStarted, fulfillment.StepShipmentCreated, time.Time{}, due{OK: true}},
		{fulfillment.FulfillmentStarted, fulfillment.StepActivating, next, due{OK: true}},
		{fulfillment.FulfillmentStarted, fulfillment.StepPINSending, next, due{OK: true}},
		{fulfillment.Shipped, fulfillment.StepPINSent, next, due{next, true}},
		{fulfillment.Shipped, fulfillment.StepPINSent, time.Time{}, due{OK: true}},
		{fulfillment.FulfillmentErrored, fulfillment.StepMarkingError, next, due{OK: true}},
		{fulfillment.FulfillmentErrored, fulfillment.StepErrored, next, due{}},
		{fulfillment.FulfillmentStarted, fulfillment.StepManagedElsewhere, time.Time{}, due{}},
		{fulfillment.Active, fulfillment.StepActive, next, due{}},
		{fulfillment.Deleted, fulfillment.StepDeleted, time.Time{}, due{}},
		{fulfillment.Deleted, fulfillment.StepDeleting, time.Time{}, due{}},
		{fulfillment.StatusNone, fulfillment.StepInitiated, time.Time{}, due{}},
	} {
		at, ok := fulfillment.Record{Status: tc.status, Step: tc.step, NextCheck: tc.next}.DueAt()
		if diff := cmp.Diff(tc.want, due{at, ok}); diff != "" {
			t.Errorf("%s at %s, NextCheck %v: DueAt (-want +got):\n%s", tc.status, tc.step, tc.next, diff)
		}
	}
}

// TestDueKey: DueKey orders as the times do, to the nanosecond, and clamps
// the times outside int64 nanoseconds (the zero time first).
func TestDueKey(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 6, 3, 30, 0, 5, time.FixedZone("PST", -8*3600))
	for _, tc := range []struct {
		t    time.Time
		want int64
	}{
		{t0, t0.UnixNano()},
		{time.Unix(0, 0), 0},
		{time.Time{}, math.MinInt64},
		{time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), math.MinInt64},
		{time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), math.MaxInt64},
		{time.Unix(0, math.MaxInt64), math.MaxInt64},
		{time.Unix(0, math.MinInt64), math.MinInt64},
	} {
		if got := fulfillment.DueKey(tc.t); got != tc.want {
			t.Errorf("DueKey(%v) = %d, want %d", tc.t, got, tc.want)
		}
	}
	if a, b := fulfillment.DueKey(t0), fulfillment.DueKey(t0.Add(time.Nanosecond)); a >= b {
		t.Errorf("DueKey does not order a nanosecond: %d, %d", a, b)
	}
}

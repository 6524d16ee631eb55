package fulfillmenttest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
)

// storeDue checks the store's due index ([fulfillment.DueLister], through
// fulfillment.ListDue and fulfillment.CountNotDue, which fall back to
// listing for a store without one): a record with a step to make is due at
// once, a waiting one (StepShipmentCreated, StepPINSent) from its
// NextCheck to the nanosecond (a zero NextCheck is due at once, a time
// past 2262 never is before it), a record resting at StepErrored or
// StepManagedElsewhere and one not in flight never; paging with After and
// Limit; records that move in and out of due after a Put; the count of the
// records not due; and agreement, at every time, with
// fulfillment.Record.DueAt of every record the store lists and with the
// fallback's answer.
func storeDue(t *testing.T, s fulfillment.Store) {
	ctx := t.Context()
	t0 := storeT0 // has nanoseconds
	far := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := func(id string, st fulfillment.Status, step fulfillment.Step, next time.Time) fulfillment.Record {
		return fulfillment.Record{UserID: id, Status: st, Step: step, NextCheck: next, CreatedAt: t0, UpdatedAt: t0}
	}
	stored := map[string]fulfillment.Record{}
	for _, r := range []fulfillment.Record{
		rec("00u1", fulfillment.FulfillmentStarted, fulfillment.StepInitiated, time.Time{}),                    // at once
		rec("00u2", fulfillment.FulfillmentStarted, fulfillment.StepShipmentCreated, t0.Add(time.Hour)),        // waiting
		rec("00u3", fulfillment.Shipped, fulfillment.StepPINSent, time.Time{}),                                 // waiting, no next check: at once
		rec("00u4", fulfillment.FulfillmentErrored, fulfillment.StepErrored, time.Time{}),                      // rests
		rec("00u5", fulfillment.FulfillmentStarted, fulfillment.StepManagedElsewhere, time.Time{}),             // rests
		rec("00u6", fulfillment.Active, fulfillment.StepActive, time.Time{}),                                   // not in flight
		rec("00u7", fulfillment.Deleted, fulfillment.StepDeleted, t0.Add(-time.Hour)),                          // not in flight
		rec("00u8", fulfillment.Shipped, fulfillment.StepPINSent, t0.Add(time.Hour+time.Nanosecond)),           // waiting
		rec("00u9", fulfillment.FulfillmentErrored, fulfillment.StepMarkingError, t0.Add(time.Hour)),           // at once: not a waiting step
		rec("00ua", fulfillment.FulfillmentStarted, fulfillment.StepShipmentCreated, far),                      // waiting past 2262
		rec("00ub", fulfillment.FulfillmentStarted, fulfillment.StepShipmentCreated, t0.Add(-time.Nanosecond)), // waiting, past
	} {
		got, err := s.Put(ctx, r)
		if err != nil {
			t.Fatalf("Put %s: %v", r.UserID, err)
		}
		stored[r.UserID] = got
	}
	_, indexed := s.(fulfillment.DueLister)
	t.Logf("store implements fulfillment.DueLister: %v", indexed)

	// check compares ListDue and CountNotDue at now with want and with
	// what DueAt says of every record the store lists.
	check := func(when string, now time.Time, wantDue []string, wantNotDue int) {
		t.Helper()
		got, err := fulfillment.ListDue(ctx, s, fulfillment.DueQuery{Now: now})
		if err != nil {
			t.Fatalf("%s: ListDue: %v", when, err)
		}
		if diff := cmp.Diff(wantDue, userIDs(got)); diff != "" {
			t.Errorf("%s: ListDue(%v) (-want +got):\n%s", when, now, diff)
		}
		for _, r := range got {
			if diff := cmp.Diff(stored[r.UserID], r); diff != "" {
				t.Errorf("%s: ListDue's record %s differs from the stored one (-want +got):\n%s", when, r.UserID, diff)
			}
		}
		n, err := fulfillment.CountNotDue(ctx, s, now)
		if err != nil {
			t.Fatalf("%s: CountNotDue: %v", when, err)
		}
		if n != wantNotDue {
			t.Errorf("%s: CountNotDue(%v) = %d, want %d", when, now, n, wantNotDue)
		}
		all, err := s.List(ctx, fulfillment.Query{})
		if err != nil {
			t.Fatal(err)
		}
		byDueAt, notDue := []string{}, 0
		for _, r := range all {
			if at, ok := r.DueAt(); ok && !now.Before(at) {
				byDueAt = append(byDueAt, r.UserID)
			} else if ok {
				notDue++
			}
		}
		if diff := cmp.Diff(byDueAt, userIDs(got)); diff != "" || notDue != n {
			t.Errorf("%s: the store disagrees with Record.DueAt: %d not due, want %d; due (-DueAt +store):\n%s", when, n, notDue, diff)
		}
		// The fallback for a store without a due index says the same.
		fb, err := fulfillment.ListDue(ctx, listOnly{s}, fulfillment.DueQuery{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		fbn, err := fulfillment.CountNotDue(ctx, listOnly{s}, now)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(userIDs(got), userIDs(fb)); diff != "" || fbn != n {
			t.Errorf("%s: listing finds %d not due, the store %d; due (-store +listing):\n%s", when, fbn, n, diff)
		}
	}
	check("at t0", t0, []string{"00u1", "00u3", "00u9", "00ub"}, 3)
	check("1ns before 00u2's next check", t0.Add(time.Hour-time.Nanosecond), []string{"00u1", "00u3", "00u9", "00ub"}, 3)
	check("at 00u2's next check", t0.Add(time.Hour), []string{"00u1", "00u2", "00u3", "00u9", "00ub"}, 2)
	check("at 00u8's next check", t0.Add(time.Hour+time.Nanosecond), []string{"00u1", "00u2", "00u3", "00u8", "00u9", "00ub"}, 1)
	check("a year later", t0.AddDate(1, 0, 0), []string{"00u1", "00u2", "00u3", "00u8", "00u9", "00ub"}, 1)

	// Paging with After and Limit, at 00u2's next check.
	at := t0.Add(time.Hour)
	for _, tc := range []struct {
		q    fulfillment.DueQuery
		want []string
	}{
		{fulfillment.DueQuery{Now: at, Limit: 2}, []string{"00u1", "00u2"}},
		{fulfillment.DueQuery{Now: at, After: "00u2", Limit: 2}, []string{"00u3", "00u9"}},
		{fulfillment.DueQuery{Now: at, After: "00u9", Limit: 2}, []string{"00ub"}},
		{fulfillment.DueQuery{Now: at, After: "00ub", Limit: 2}, []string{}},
		{fulfillment.DueQuery{Now: at, After: "00u4"}, []string{"00u9", "00ub"}},
	} {
		got, err := fulfillment.ListDue(ctx, s, tc.q)
		if err != nil {
			t.Fatalf("ListDue(%+v): %v", tc.q, err)
		}
		if diff := cmp.Diff(tc.want, userIDs(got)); diff != "" {
			t.Errorf("ListDue(%+v) (-want +got):\n%s", tc.q, diff)
		}
	}

	// Records move: 00u2's next check is put earlier (due now), 00u1 comes
	// to wait for a check in two hours, 00u4 is retried (due at once), 00u3
	// becomes Active and 00ua is deleted (never due again).
	move := func(id string, change func(r *fulfillment.Record)) {
		t.Helper()
		r := stored[id]
		change(&r)
		got, err := s.Put(ctx, r)
		if err != nil {
			t.Fatalf("Put %s: %v", id, err)
		}
		stored[id] = got
	}
	move("00u2", func(r *fulfillment.Record) { r.NextCheck = t0.Add(-time.Minute) })
	move("00u1", func(r *fulfillment.Record) {
		r.Step, r.NextCheck = fulfillment.StepShipmentCreated, t0.Add(2*time.Hour)
	})
	move("00u4", func(r *fulfillment.Record) {
		r.Status, r.Step = fulfillment.FulfillmentStarted, fulfillment.StepInitiated
	})
	move("00u3", func(r *fulfillment.Record) { r.Status, r.Step = fulfillment.Active, fulfillment.StepActive })
	move("00ua", func(r *fulfillment.Record) { r.Status, r.Step = fulfillment.Deleted, fulfillment.StepDeleted })
	check("after the moves, at t0", t0, []string{"00u2", "00u4", "00u9", "00ub"}, 2)
	check("after the moves, at t0+2h", t0.Add(2*time.Hour), []string{"00u1", "00u2", "00u4", "00u8", "00u9", "00ub"}, 0)

	// A stale Put changes nothing, the index included.
	stale := stored["00u8"]
	stale.Version--
	stale.NextCheck = time.Time{}
	if _, err := s.Put(ctx, stale); err == nil {
		t.Fatal("a stale Put succeeded")
	}
	check("after a stale Put", t0, []string{"00u2", "00u4", "00u9", "00ub"}, 2)
}

// DueMigrationRecords returns records at every kind of due-ness (due at
// once, waiting with and without a next check, with nanoseconds and in
// another time zone, resting, not in flight), for the test of a store's
// migration to a due index: write them as the schema before the index
// wrote them (a Store at that version, or SQL), open the store at the new
// version, and call [CheckDueMigration].
func DueMigrationRecords() []fulfillment.Record {
	t0 := storeT0
	rec := func(id string, st fulfillment.Status, step fulfillment.Step, next time.Time) fulfillment.Record {
		return fulfillment.Record{UserID: id, Status: st, Step: step, NextCheck: next, CreatedAt: t0, UpdatedAt: t0}
	}
	return []fulfillment.Record{
		rec("00u1", fulfillment.FulfillmentStarted, fulfillment.StepEnrolled, time.Time{}),                                  // due at once
		rec("00u2", fulfillment.FulfillmentStarted, fulfillment.StepShipmentCreated, t0.Add(time.Hour)),                     // waiting
		rec("00u3", fulfillment.Shipped, fulfillment.StepPINSent, t0.Add(-time.Nanosecond)),                                 // waiting, due
		rec("00u4", fulfillment.FulfillmentErrored, fulfillment.StepErrored, time.Time{}),                                   // rests
		rec("00u5", fulfillment.Active, fulfillment.StepActive, time.Time{}),                                                // not in flight
		rec("00u6", fulfillment.Shipped, fulfillment.StepPINSent, time.Time{}),                                              // stored before NextCheck: due
		rec("00u7", fulfillment.Shipped, fulfillment.StepPINSent, t0.Add(time.Hour+123*time.Nanosecond)),                    // waiting
		rec("00u8", fulfillment.FulfillmentStarted, fulfillment.StepManagedElsewhere, time.Time{}),                          // rests
		rec("00u9", fulfillment.FulfillmentStarted, fulfillment.StepShipmentCreated, t0.In(time.FixedZone("PST", -8*3600))), // due, other zone
	}
}

// CheckDueMigration checks that s, opened on a database holding
// [DueMigrationRecords] written before its due index existed, is a
// [fulfillment.DueLister] whose index its migration filled in: ListDue and
// CountNotDue select by [fulfillment.Record.DueAt] to the nanosecond, and
// a Put after the migration keeps the index.
func CheckDueMigration(t *testing.T, s fulfillment.Store) {
	t.Helper()
	ctx := t.Context()
	d, ok := s.(fulfillment.DueLister)
	if !ok {
		t.Fatalf("%T is not a fulfillment.DueLister", s)
	}
	t0 := storeT0
	check := func(when string, now time.Time, wantDue []string, wantNotDue int) {
		t.Helper()
		got, err := d.ListDue(ctx, fulfillment.DueQuery{Now: now})
		if err != nil {
			t.Fatalf("%s: ListDue: %v", when, err)
		}
		if diff := cmp.Diff(wantDue, userIDs(got)); diff != "" {
			t.Errorf("%s: ListDue after the migration (-want +got):\n%s", when, diff)
		}
		if n, err := d.CountNotDue(ctx, now); err != nil || n != wantNotDue {
			t.Errorf("%s: CountNotDue after the migration = %d, %v; want %d", when, n, err, wantNotDue)
		}
	}
	check("at t0", t0, []string{"00u1", "00u3", "00u6", "00u9"}, 2)
	check("at 00u2's check", t0.Add(time.Hour), []string{"00u1", "00u2", "00u3", "00u6", "00u9"}, 1)
	check("1ns before 00u7's check", t0.Add(time.Hour+122*time.Nanosecond), []string{"00u1", "00u2", "00u3", "00u6", "00u9"}, 1)
	check("at 00u7's check", t0.Add(time.Hour+123*time.Nanosecond), []string{"00u1", "00u2", "00u3", "00u6", "00u7", "00u9"}, 0)

	r, err := s.Get(ctx, "00u1")
	if err != nil {
		t.Fatal(err)
	}
	r.Step, r.NextCheck = fulfillment.StepShipmentCreated, t0.Add(2*time.Hour)
	if _, err := s.Put(ctx, r); err != nil {
		t.Fatal(err)
	}
	check("after 00u1 came to wait", t0, []string{"00u3", "00u6", "00u9"}, 3)
}

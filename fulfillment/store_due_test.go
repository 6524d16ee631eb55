package fulfillment_test

import (
	"database/sql"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
)

// TestSQLiteDueMigration: a database made by the schema before the due
// index (version 1), holding records, is opened by this version: the
// migration fills in the due column of the existing rows, so ListDue and
// CountNotDue select by Record.DueAt at once, and a later Put keeps it.
func TestSQLiteDueMigration(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	// The schema at version 1, as OpenSQLite made it before migration 2.
	for _, q := range []string{
		`CREATE TABLE migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`,
		fulfillment.SQLiteMigration(1),
		`INSERT INTO migrations(version, applied_at) VALUES (1, '2026-11-01T00:00:00Z')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t0 := storeT0
	rec := func(id string, st fulfillment.Status, step fulfillment.Step, next time.Time) fulfillment.Record {
		return fulfillment.Record{UserID: id, Status: st, Step: step, NextCheck: next, CreatedAt: t0, UpdatedAt: t0}
	}
	for _, r := range []fulfillment.Record{
		rec("00u1", fulfillment.FulfillmentStarted, fulfillment.StepEnrolled, time.Time{}),                                  // due at once
		rec("00u2", fulfillment.FulfillmentStarted, fulfillment.StepShipmentCreated, t0.Add(time.Hour)),                     // waiting
		rec("00u3", fulfillment.Shipped, fulfillment.StepPINSent, t0.Add(-time.Nanosecond)),                                 // waiting, due
		rec("00u4", fulfillment.FulfillmentErrored, fulfillment.StepErrored, time.Time{}),                                   // rests
		rec("00u5", fulfillment.Active, fulfillment.StepActive, time.Time{}),                                                // not in flight
		rec("00u6", fulfillment.Shipped, fulfillment.StepPINSent, time.Time{}),                                              // stored before NextCheck: due
		rec("00u7", fulfillment.Shipped, fulfillment.StepPINSent, t0.Add(time.Hour+123*time.Nanosecond)),                    // waiting
		rec("00u8", fulfillment.FulfillmentStarted, fulfillment.StepManagedElsewhere, time.Time{}),                          // rests
		rec("00u9", fulfillment.FulfillmentStarted, fulfillment.StepShipmentCreated, t0.In(time.FixedZone("PST", -8*3600))), // due, other zone
	} {
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO records(user_id, status, step, version, history_len, updated_at, data)
			VALUES (?, ?, ?, 1, 0, ?, ?)`, r.UserID, string(r.Status), string(r.Step), r.UpdatedAt.Format(time.RFC3339Nano), string(data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openSQLite(t, path)
	check := func(when string, now time.Time, wantDue []string, wantNotDue int) {
		t.Helper()
		got, err := s.ListDue(ctx, fulfillment.DueQuery{Now: now})
		if err != nil {
			t.Fatalf("%s: ListDue: %v", when, err)
		}
		ids := []string{}
		for _, r := range got {
			ids = append(ids, r.UserID)
		}
		if diff := cmp.Diff(wantDue, ids); diff != "" {
			t.Errorf("%s: ListDue (-want +got):\n%s", when, diff)
		}
		if n, err := s.CountNotDue(ctx, now); err != nil || n != wantNotDue {
			t.Errorf("%s: CountNotDue = %d, %v; want %d", when, n, err, wantNotDue)
		}
	}
	check("at t0", t0, []string{"00u1", "00u3", "00u6", "00u9"}, 2)
	check("at 00u2's check", t0.Add(time.Hour), []string{"00u1", "00u2", "00u3", "00u6", "00u9"}, 1)
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

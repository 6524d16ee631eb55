package pgstore

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/preenroll/preenroll/fulfillment"
)

// TestDueMigration: a schema made before the due index (version 1),
// holding records, is opened by this version: migration 0002 fills in the
// due column of the existing rows from each record, so ListDue and
// CountNotDue select by Record.DueAt at once, to the nanosecond.
func TestDueMigration(t *testing.T) {
	t.Parallel()
	url, schema := serverURL(t), freshSchema(t)
	ctx := t.Context()
	migrations, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	old, err := open(ctx, pool, schema, migrations[:1]) // the schema at version 1
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 29, 15, 0, 0, 123456789, time.UTC)
	rec := func(id string, st fulfillment.Status, step fulfillment.Step, next time.Time) fulfillment.Record {
		return fulfillment.Record{UserID: id, Status: st, Step: step, NextCheck: next, CreatedAt: t0, UpdatedAt: t0}
	}
	for _, r := range []fulfillment.Record{
		rec("00u1", fulfillment.FulfillmentStarted, fulfillment.StepEnrolled, time.Time{}),               // due at once
		rec("00u2", fulfillment.FulfillmentStarted, fulfillment.StepShipmentCreated, t0.Add(time.Hour)),  // waiting
		rec("00u3", fulfillment.Shipped, fulfillment.StepPINSent, t0.Add(-time.Nanosecond)),              // waiting, due
		rec("00u4", fulfillment.FulfillmentErrored, fulfillment.StepErrored, time.Time{}),                // rests
		rec("00u5", fulfillment.Active, fulfillment.StepActive, time.Time{}),                             // not in flight
		rec("00u6", fulfillment.Shipped, fulfillment.StepPINSent, time.Time{}),                           // no NextCheck: due
		rec("00u7", fulfillment.Shipped, fulfillment.StepPINSent, t0.Add(time.Hour+123*time.Nanosecond)), // waiting
	} {
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		// Written as version 1 wrote them: no due column.
		if _, err := pool.Exec(ctx, `INSERT INTO `+old.records+` (user_id, status, step, version, history_len, updated_at, data)
			VALUES ($1, $2, $3, 1, 0, $4, $5::text::json)`, r.UserID, string(r.Status), string(r.Step), r.UpdatedAt, string(data)); err != nil {
			t.Fatal(err)
		}
	}

	s := openStore(t, url, WithSchema(schema))
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
	check("at t0", t0, []string{"00u1", "00u3", "00u6"}, 2)
	check("at 00u2's check", t0.Add(time.Hour), []string{"00u1", "00u2", "00u3", "00u6"}, 1)
	check("1ns before 00u7's check", t0.Add(time.Hour+122*time.Nanosecond), []string{"00u1", "00u2", "00u3", "00u6"}, 1)
	check("at 00u7's check", t0.Add(time.Hour+123*time.Nanosecond), []string{"00u1", "00u2", "00u3", "00u6", "00u7"}, 0)
}

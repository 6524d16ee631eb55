package fulfillment_test

import (
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
)

// TestSQLiteRowidMigration: a database at schema version 3, whose records
// table is WITHOUT ROWID, holding records (one of them larger than a page,
// stored with overflow pages), is opened by this version. Migration 4
// moves the records into a rowid table: every record reads back as it was,
// with its version; the due and status indexes are there again (ListDue
// and CountNotDue select as before, a Put keeps them); the user ID is
// still the key (a second record for a user is a version conflict).
func TestSQLiteRowidMigration(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path, db := oldSQLite(t, 3)
	big := fulfillmenttest.SampleRecord("00ubig")
	for i := range 60 { // about 6 KB of JSON: overflow pages in the WITHOUT ROWID table
		big.History = append(big.History, fulfillment.Change{At: big.CreatedAt.Add(time.Duration(i) * time.Minute),
			Status: big.Status, Step: big.Step, Attempt: 2, Reason: strings.Repeat("r", 40)})
	}
	recs := append(fulfillmenttest.DueMigrationRecords(), big)
	for i, r := range recs {
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var due sql.NullInt64
		if at, ok := r.DueAt(); ok {
			due = sql.NullInt64{Int64: fulfillment.DueKey(at), Valid: true}
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO records(user_id, status, step, version, history_len, updated_at, due, data)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.UserID, string(r.Status), string(r.Step), i+1, len(r.History),
			r.UpdatedAt.UTC().Format(time.RFC3339Nano), due, string(data)); err != nil {
			t.Fatal(err)
		}
		recs[i].Version = int64(i + 1)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openSQLite(t, path)
	if v, err := s.SchemaVersion(ctx); err != nil || v != fulfillment.SQLiteMigrations {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, fulfillment.SQLiteMigrations)
	}
	for _, want := range recs {
		got, err := s.Get(ctx, want.UserID)
		if err != nil {
			t.Fatalf("Get(%s) after the migration: %v", want.UserID, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Get(%s) after the migration (-want +got):\n%s", want.UserID, diff)
		}
	}

	// The table has a rowid now, and the indexes of migrations 1 and 2.
	raw := fulfillment.SQLiteDB(s)
	var rows int
	if err := raw.QueryRowContext(ctx, `SELECT count(rowid) FROM records`).Scan(&rows); err != nil || rows != len(recs) {
		t.Errorf("count(rowid) of records = %d, %v; want %d (a rowid table)", rows, err, len(recs))
	}
	// names lists the names a query of sqlite_master returns.
	names := func(query string) []string {
		t.Helper()
		rows, err := raw.QueryContext(ctx, query)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			out = append(out, name)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			t.Fatal(err)
		}
		return out
	}
	indexes := names(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records' AND sql IS NOT NULL ORDER BY name`)
	if diff := cmp.Diff([]string{"records_due", "records_status"}, indexes); diff != "" {
		t.Errorf("indexes of records (-want +got):\n%s", diff)
	}
	tables := names(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if !slices.Equal(tables, []string{"documents", "events", "migrations", "records"}) {
		t.Errorf("tables after the migration: %q", tables)
	}

	// The user ID is still the key.
	dup := fulfillmenttest.SampleRecord(big.UserID)
	if _, err := s.Put(ctx, dup); !errors.Is(err, fulfillment.ErrVersionConflict) {
		t.Errorf("Put of a second record for %s: %v, want ErrVersionConflict", big.UserID, err)
	}
	counts, err := s.CountByStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := map[fulfillment.Status]int{fulfillment.FulfillmentStarted: 4, fulfillment.Shipped: 3, fulfillment.FulfillmentErrored: 2, fulfillment.Active: 1}
	if diff := cmp.Diff(wantCounts, counts); diff != "" {
		t.Errorf("CountByStatus after the migration (-want +got):\n%s", diff)
	}
	fulfillmenttest.CheckDueMigration(t, s)
}

package fulfillment_test

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
)

// storeFactories lists the Store implementations of package fulfillment;
// the conformance suite runs against each.
var storeFactories = []struct {
	name string
	open func(t *testing.T) fulfillment.Store
}{
	{"memory", func(t *testing.T) fulfillment.Store { return fulfillment.NewMemoryStore() }},
	{"memory-zero", func(t *testing.T) fulfillment.Store { return &fulfillment.MemoryStore{} }}, // its zero value is usable
	{"sqlite", func(t *testing.T) fulfillment.Store { return openSQLite(t, filepath.Join(t.TempDir(), "state.db")) }},
}

// openSQLite opens the SQLite store at path, closed when t ends.
// oldSQLite creates a SQLite file in a new temporary directory with the
// schema at version (as OpenSQLite made it before migration version+1)
// and returns its path and a plain handle on it, for a migration test to
// fill before it closes the handle and opens the file with OpenSQLite.
func oldSQLite(t *testing.T, version int) (string, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	qs := []string{`CREATE TABLE migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`}
	for v := 1; v <= version; v++ {
		qs = append(qs, fulfillment.SQLiteMigration(v),
			fmt.Sprintf(`INSERT INTO migrations(version, applied_at) VALUES (%d, '2026-11-01T00:00:00Z')`, v))
	}
	for _, q := range qs {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return path, db
}

func openSQLite(t *testing.T, path string) *fulfillment.SQLiteStore {
	t.Helper()
	s, err := fulfillment.OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestStoreConformance(t *testing.T) {
	t.Parallel()
	for _, f := range storeFactories {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			fulfillmenttest.RunStoreConformance(t, f.open)
		})
	}
}

// TestSQLiteConnectionSettings: every connection of the store's pool runs
// in WAL mode with synchronous=FULL (2) and the busy timeout. With WAL,
// NORMAL (1) may lose the last commits on a power loss, and with them an
// intent whose remote call took effect. The second handle, which commits
// only Puts that add no history entry (TestSQLiteBookkeepingHandle), runs
// with NORMAL. Several connections are held at once so that the check
// reaches more than the first one each pool made.
func TestSQLiteConnectionSettings(t *testing.T) {
	t.Parallel()
	s := openSQLite(t, filepath.Join(t.TempDir(), "state.db"))
	type settings struct {
		JournalMode string
		Synchronous int
		BusyTimeout int
	}
	for _, h := range []struct {
		name string
		db   *sql.DB
		want settings
	}{
		{"durable", fulfillment.SQLiteDB(s), settings{JournalMode: "wal", Synchronous: 2, BusyTimeout: 10000}},
		{"bookkeeping", fulfillment.SQLiteLazyDB(s), settings{JournalMode: "wal", Synchronous: 1, BusyTimeout: 10000}},
	} {
		var conns []*sql.Conn
		for i := range 3 {
			c, err := h.db.Conn(t.Context())
			if err != nil {
				t.Fatalf("%s handle, connection %d: %v", h.name, i, err)
			}
			conns = append(conns, c)
			var got settings
			for _, q := range []struct {
				pragma string
				into   any
			}{{"journal_mode", &got.JournalMode}, {"synchronous", &got.Synchronous}, {"busy_timeout", &got.BusyTimeout}} {
				if err := c.QueryRowContext(t.Context(), "PRAGMA "+q.pragma).Scan(q.into); err != nil {
					t.Fatalf("%s handle, connection %d: PRAGMA %s: %v", h.name, i, q.pragma, err)
				}
			}
			if diff := cmp.Diff(h.want, got); diff != "" {
				t.Errorf("%s handle, connection %d settings (-want +got):\n%s", h.name, i, diff)
			}
		}
		for _, c := range conns {
			c.Close()
		}
	}
}

// TestSQLiteBookkeepingHandle checks which handle commits each write: a
// Put that adds no history entry (a claim, a next check) goes through the
// synchronous=NORMAL handle, every other write (a new record, a step, an
// event mark) through the synchronous=FULL one. With the NORMAL handle
// closed, everything but bookkeeping can still be written.
func TestSQLiteBookkeepingHandle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openSQLite(t, filepath.Join(t.TempDir(), "state.db"))
	rec, err := s.Put(ctx, fulfillmenttest.SampleRecord("00u1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := fulfillment.SQLiteLazyDB(s).Close(); err != nil {
		t.Fatal(err)
	}

	step := rec
	step.History = append(slices.Clone(step.History), fulfillment.Change{At: storeT0.Add(3 * time.Hour),
		Status: step.Status, Step: step.Step, Reason: "a step"})
	step.UpdatedAt = storeT0.Add(3 * time.Hour)
	if rec, err = s.Put(ctx, step); err != nil {
		t.Errorf("Put of a step with the bookkeeping handle closed: %v", err)
	}
	if _, err := s.Put(ctx, fulfillmenttest.SampleRecord("00u2")); err != nil {
		t.Errorf("Put of a new record with the bookkeeping handle closed: %v", err)
	}
	if _, err := s.MarkEvent(ctx, "evt-9", storeT0); err != nil {
		t.Errorf("MarkEvent with the bookkeeping handle closed: %v", err)
	}

	claimed := rec
	claimed.Claim = fulfillment.Lease{Owner: "svc-2", Until: storeT0.Add(4 * time.Hour)}
	claimed.NextCheck = storeT0.Add(13 * time.Hour)
	if _, err := s.Put(ctx, claimed); err == nil {
		t.Error("Put of a claim succeeded with the bookkeeping handle closed: it was committed with an fsync")
	}
	got, err := s.Get(ctx, "00u1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rec, got); diff != "" {
		t.Errorf("record after the refused claim (-want +got):\n%s", diff)
	}
}

// TestSQLitePutGuess checks that Put tries the bookkeeping UPDATE first for
// a record this store returned at the same version and history, and the
// durable one otherwise: with the durable handle closed, only the first
// kind of claim can commit. TestSQLitePutStaleGuess checks that a wrong
// guess still ends right.
func TestSQLitePutGuess(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	s := openSQLite(t, path)
	other := openSQLite(t, path)
	for _, id := range []string{"00u1", "00u2", "00u3", "00u4"} {
		r := fulfillmenttest.SampleRecord(id)
		if id == "00u3" { // waiting for its shipment, due: for ListDue
			r.Status, r.Step, r.FailedStep = fulfillment.FulfillmentStarted, fulfillment.StepShipmentCreated, ""
		}
		if _, err := other.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	claim := func(r fulfillment.Record) fulfillment.Record {
		r.Claim = fulfillment.Lease{Owner: "svc-2", Until: storeT0.Add(4 * time.Hour)}
		return r
	}
	got, err := s.Get(ctx, "00u1")
	if err != nil {
		t.Fatal(err)
	}
	listed, err := s.List(ctx, fulfillment.Query{After: "00u1", Limit: 1})
	if err != nil || len(listed) != 1 {
		t.Fatalf("List: %d records, %v", len(listed), err)
	}
	due, err := s.ListDue(ctx, fulfillment.DueQuery{Now: storeT0.Add(24 * time.Hour), After: "00u2", Limit: 1})
	if err != nil || len(due) != 1 {
		t.Fatalf("ListDue: %d records, %v", len(due), err)
	}
	notSeen, err := other.Get(ctx, "00u4") // read by the other store only
	if err != nil {
		t.Fatal(err)
	}
	if err := fulfillment.SQLiteDB(s).Close(); err != nil {
		t.Fatal(err)
	}

	for _, r := range []fulfillment.Record{got, listed[0], due[0]} {
		put, err := s.Put(ctx, claim(r))
		if err != nil {
			t.Errorf("claim of %s as Get/List/ListDue returned it, durable handle closed: %v", r.UserID, err)
			continue
		}
		// What Put returned is known too.
		put.NextCheck = storeT0.Add(13 * time.Hour)
		if _, err := s.Put(ctx, put); err != nil {
			t.Errorf("next check of %s as Put returned it, durable handle closed: %v", r.UserID, err)
		}
	}
	if _, err := s.Put(ctx, claim(notSeen)); err == nil {
		t.Error("claim of a record this store never returned committed without the durable handle: Put did not try the durable UPDATE first")
	}
	step := got
	step.History = append(slices.Clone(step.History), fulfillment.Change{At: storeT0.Add(3 * time.Hour),
		Status: step.Status, Step: step.Step, Reason: "a step"})
	step.Version += 2 // as the claim and the next check above left it
	if _, err := s.Put(ctx, step); err == nil {
		t.Error("a step committed without the durable handle")
	}
}

// TestSQLitePutStaleGuess: the record changed under the store (another
// process's write) after the store returned it; Put's guess is then wrong
// and every outcome is still the compare-and-swap's.
func TestSQLitePutStaleGuess(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	s := openSQLite(t, path)
	other := openSQLite(t, path)
	rec, err := s.Put(ctx, fulfillmenttest.SampleRecord("00u1"))
	if err != nil {
		t.Fatal(err)
	}
	// The other process adds a step; s still remembers rec.
	theirs, err := other.Get(ctx, "00u1")
	if err != nil {
		t.Fatal(err)
	}
	theirs.History = append(slices.Clone(theirs.History), fulfillment.Change{At: storeT0.Add(time.Hour),
		Status: theirs.Status, Step: theirs.Step, Reason: "their step"})
	if theirs, err = other.Put(ctx, theirs); err != nil {
		t.Fatal(err)
	}

	stale := rec
	stale.Claim = fulfillment.Lease{Owner: "svc-1", Until: storeT0.Add(2 * time.Hour)}
	if _, err := s.Put(ctx, stale); !errors.Is(err, fulfillment.ErrVersionConflict) {
		t.Errorf("bookkeeping Put of a stale record: %v, want ErrVersionConflict", err)
	}
	// A caller that read the record elsewhere: s has not seen this version.
	theirs.Claim = fulfillment.Lease{Owner: "svc-1", Until: storeT0.Add(2 * time.Hour)}
	put, err := s.Put(ctx, theirs)
	if err != nil {
		t.Fatalf("bookkeeping Put of the current record (not seen by this store): %v", err)
	}
	got, err := other.Get(ctx, "00u1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(put, got); diff != "" {
		t.Errorf("stored record (-Put returned +other store reads):\n%s", diff)
	}
}

var storeT0 = time.Date(2026, 11, 29, 15, 0, 0, 123456789, time.UTC)

func TestSQLiteReopen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := fulfillment.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.Put(ctx, fulfillmenttest.SampleRecord("00u1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.MarkEvent(ctx, "evt-1", storeT0); err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := fulfillment.SQLiteDB(s).QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = fulfillment.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	got, err := s.Get(ctx, "00u1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("record after reopen (-want +got):\n%s", diff)
	}
	if first, err := s.MarkEvent(ctx, "evt-1", storeT0); err != nil || first {
		t.Errorf("MarkEvent(evt-1) after reopen = %v, %v; want false, nil", first, err)
	}
	var migrations int
	if err := fulfillment.SQLiteDB(s).QueryRowContext(ctx, "SELECT COUNT(*) FROM migrations").Scan(&migrations); err != nil {
		t.Fatal(err)
	}
	if migrations != fulfillment.SQLiteMigrations {
		t.Errorf("migrations rows = %d, want %d", migrations, fulfillment.SQLiteMigrations)
	}
}

func TestOpenSQLiteErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := t.Context()

	newer := filepath.Join(dir, "newer.db")
	s, err := fulfillment.OpenSQLite(ctx, newer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fulfillment.SQLiteDB(s).ExecContext(ctx, "INSERT INTO migrations(version, applied_at) VALUES (?, 'later')", fulfillment.SQLiteMigrations+1); err != nil {
		t.Fatal(err)
	}
	s.Close()

	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, path := range []string{"", ":memory:", "file:x.db", filepath.Join(dir, "a?b.db"), newer, garbage,
		filepath.Join(dir, "missing-dir", "x.db")} {
		if s, err := fulfillment.OpenSQLite(ctx, path); err == nil {
			s.Close()
			t.Errorf("fulfillment.OpenSQLite(%q) succeeded, want an error", path)
		}
	}
}

func TestSQLiteCorruptRecord(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, err := fulfillment.OpenSQLite(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for id, data := range map[string]string{"00ubad": "{not json", "00uother": `{"userId":"00usomeoneelse"}`} {
		if _, err := fulfillment.SQLiteDB(s).ExecContext(ctx, `INSERT INTO records(user_id, status, step, version, history_len, updated_at, data)
			VALUES (?, 'x', 'y', 1, 0, '', ?)`, id, data); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, id); err == nil || errors.Is(err, sql.ErrNoRows) {
			t.Errorf("Get(%s) with corrupt data: error = %v, want a corruption error", id, err)
		}
	}
	if _, err := s.List(ctx, fulfillment.Query{}); err == nil {
		t.Error("List over corrupt rows succeeded")
	}
}

// TestStoresAgree checks that the two stores end in the same state after the
// same sequence of puts.
func TestStoresAgree(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	var results [][]fulfillment.Record
	for _, f := range storeFactories {
		s := f.open(t)
		for i := range 20 {
			id := fmt.Sprintf("00u%02d", i%7)
			r, err := s.Get(ctx, id)
			if errors.Is(err, fulfillment.ErrRecordNotFound) {
				r = fulfillment.Record{UserID: id, Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepInitiated, CreatedAt: storeT0}
			} else if err != nil {
				t.Fatal(err)
			}
			r.Attempts++
			r.History = append(r.History, fulfillment.Change{At: storeT0.Add(time.Duration(i) * time.Second), Status: r.Status, Step: r.Step})
			if i%3 == 0 {
				r.Status = fulfillment.Shipped
			}
			if _, err := s.Put(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		all, err := s.List(ctx, fulfillment.Query{})
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, all)
	}
	if diff := cmp.Diff(results[0], results[1]); diff != "" {
		t.Errorf("memory and sqlite disagree (-memory +sqlite):\n%s", diff)
	}
}

// TestLegacyDeletedEnrollment checks that a record stored before
// Enrollment.Deleted existed, whose deleted enrollment carried the status
// "DELETED", still reads as deleted, from JSON and from the SQLite store,
// and is written back in the new form.
func TestLegacyDeletedEnrollment(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	data, err := os.ReadFile(filepath.Join("testdata", "record_legacy_deleted.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []fulfillment.Enrollment{{ID: "aen1", KeyID: "k1", Deleted: true}, {ID: "aen2", KeyID: "k2", Status: "ACTIVE"}}
	var rec fulfillment.Record
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, rec.Enrollments); d != "" {
		t.Errorf("decoded enrollments (-want +got):\n%s", d)
	}
	out, err := json.Marshal(rec.Enrollments)
	if err != nil {
		t.Fatal(err)
	}
	if got, wantJSON := string(out), `[{"id":"aen1","keyId":"k1","deleted":true},{"id":"aen2","keyId":"k2","status":"ACTIVE"}]`; got != wantJSON {
		t.Errorf("encoded enrollments = %s, want %s", got, wantJSON)
	}

	s, err := fulfillment.OpenSQLite(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := fulfillment.SQLiteDB(s).ExecContext(ctx, `INSERT INTO records(user_id, status, step, version, history_len, updated_at, data)
		VALUES (?, 'DELETED', 'deleted', 1, 0, '', ?)`, rec.UserID, string(data)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, rec.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got.Enrollments); d != "" {
		t.Errorf("enrollments read from SQLite (-want +got):\n%s", d)
	}
}

// listOnlyStore hides every method of a store but those of
// fulfillment.Store: a store that cannot count.
type listOnlyStore struct{ fulfillment.Store }

// TestCountByStatusPages: a store that cannot count is counted by listing
// it a page (1,000 records) at a time: every record once, over several
// pages and a last one that is empty.
func TestCountByStatusPages(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := fulfillment.NewMemoryStore()
	const n = 2000
	for i := range n {
		st := fulfillment.Active
		if i%4 == 0 {
			st = fulfillment.Shipped
		}
		if _, err := store.Put(ctx, fulfillment.Record{UserID: fmt.Sprintf("00u%05d", i), Status: st, Step: fulfillment.StepInitiated}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := fulfillment.CountByStatus(ctx, listOnlyStore{store})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[fulfillment.Status]int{fulfillment.Active: 1500, fulfillment.Shipped: 500}, got); diff != "" {
		t.Errorf("CountByStatus by listing (-want +got):\n%s", diff)
	}
}

// TestSQLiteSchemaVersion: SchemaVersion reads the number of migrations
// recorded in the file: OpenSQLite's, and one more once a (newer) program
// records another.
func TestSQLiteSchemaVersion(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, err := fulfillment.OpenSQLite(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := s.SchemaVersion(ctx)
	if err != nil || v != fulfillment.SQLiteMigrations {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, fulfillment.SQLiteMigrations)
	}
	if _, err := fulfillment.SQLiteDB(s).ExecContext(ctx, `INSERT INTO migrations(version, applied_at) VALUES (?, 'now')`, v+1); err != nil {
		t.Fatal(err)
	}
	if got, err := s.SchemaVersion(ctx); err != nil || got != v+1 {
		t.Errorf("SchemaVersion after a newer migration = %d, %v; want %d", got, err, v+1)
	}
	// An error names the package and the file.
	s.Close()
	if _, err := s.SchemaVersion(ctx); err == nil || !strings.Contains(err.Error(), "fulfillment: sqlite: ") || !strings.Contains(err.Error(), "state.db") {
		t.Errorf("SchemaVersion after Close = %v, want an error naming the file", err)
	}
}

// TestListPages: every record once, a page at a time, until yield stops;
// a page size that is not positive is an error, not a panic (with 0, the
// "no limit" of Query, the page after the last record is empty and its
// last record was read out of range).
func TestListPages(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := fulfillment.NewMemoryStore()
	for _, id := range []string{"00u1", "00u2", "00u3", "00u4", "00u5"} {
		if _, err := store.Put(ctx, fulfillment.Record{UserID: id, Status: fulfillment.FulfillmentStarted}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		q       fulfillment.Query
		stop    int // yield returns false at this record (0: never)
		want    []string
		wantErr string
	}{
		{name: "pages of 2", q: fulfillment.Query{Limit: 2}, want: []string{"00u1", "00u2", "00u3", "00u4", "00u5"}},
		{name: "page of 5", q: fulfillment.Query{Limit: 5}, want: []string{"00u1", "00u2", "00u3", "00u4", "00u5"}},
		{name: "after", q: fulfillment.Query{Limit: 2, After: "00u3"}, want: []string{"00u4", "00u5"}},
		{name: "stopped", q: fulfillment.Query{Limit: 2}, stop: 3, want: []string{"00u1", "00u2", "00u3"}},
		{name: "no limit", q: fulfillment.Query{}, wantErr: "fulfillment: list pages: Limit 0: the page size must be positive"},
		{name: "negative", q: fulfillment.Query{Limit: -1}, wantErr: "fulfillment: query: Limit -1: must not be negative (0: no limit)"},
		{name: "bad status", q: fulfillment.Query{Limit: 2, Statuses: []fulfillment.Status{"SHIPED"}}, wantErr: `fulfillment: query: Statuses[0] "SHIPED": not a status`},
	} {
		var got []string
		err := fulfillment.ListPages(ctx, store, tc.q, func(r fulfillment.Record) bool {
			got = append(got, r.UserID)
			return len(got) != tc.stop
		})
		if tc.wantErr != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) || got != nil {
				t.Errorf("%s: %v, yielded %v; want error %q, nothing yielded", tc.name, err, got, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: yielded (-want +got):\n%s", tc.name, diff)
		}
	}
}

// TestCheckID: CheckID's texts (quoting the ID only when it is printable
// and short), and every error matches ErrInvalidID through an *IDError
// that names the ID and the problem.
func TestCheckID(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("u", fulfillment.MaxIDLen+1)
	for _, tc := range []struct {
		what, id string
		want     string // the error's text; "" for none
		problem  string
	}{
		{"user ID", "00u1", "", ""},
		{"user ID", strings.Repeat("u", fulfillment.MaxIDLen), "", ""},
		{"user ID", "", "fulfillment: store: user ID is empty", "is empty"},
		{"event ID", "evt\x00", `fulfillment: store: event ID "evt\x00" contains a control character`, "contains a control character"},
		{"document ID", "d\n1", `fulfillment: store: document ID "d\n1" contains a control character`, "contains a control character"},
		{"user ID", "00u\xff", "fulfillment: store: user ID is not valid UTF-8", "is not valid UTF-8"},
		{"user ID", long, "fulfillment: store: user ID is 257 bytes, longer than 256", "is 257 bytes, longer than 256"},
	} {
		err := fulfillment.CheckID(tc.what, tc.id)
		if tc.want == "" {
			if err != nil {
				t.Errorf("CheckID(%q, %q) = %v, want nil", tc.what, tc.id, err)
			}
			continue
		}
		var ie *fulfillment.IDError
		if err == nil || err.Error() != tc.want || !errors.Is(err, fulfillment.ErrInvalidID) || !errors.As(err, &ie) {
			t.Errorf("CheckID(%q, %q) = %v, want %q matching ErrInvalidID with an *IDError", tc.what, tc.id, err, tc.want)
			continue
		}
		if diff := cmp.Diff(fulfillment.IDError{What: tc.what, ID: tc.id, Problem: tc.problem}, *ie); diff != "" {
			t.Errorf("CheckID(%q, %q): IDError (-want +got):\n%s", tc.what, tc.id, diff)
		}
	}
}

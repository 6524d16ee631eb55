package fulfillment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// storeFactories lists every Store implementation; the conformance suite
// runs against each.
var storeFactories = []struct {
	name string
	open func(t *testing.T) Store
}{
	{"memory", func(t *testing.T) Store { return NewMemoryStore() }},
	{"sqlite", func(t *testing.T) Store {
		s, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "state.db"))
		if err != nil {
			t.Fatalf("OpenSQLite: %v", err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}},
}

func TestStoreConformance(t *testing.T) {
	t.Parallel()
	for _, f := range storeFactories {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			runStoreSuite(t, f.open)
		})
	}
}

var t0 = time.Date(2026, 11, 29, 15, 0, 0, 123456789, time.UTC)

// fullRecord returns a record with every field set.
func fullRecord(userID string) Record {
	return Record{
		UserID:     userID,
		Login:      userID + "@example.com",
		Status:     FulfillmentErrored,
		Step:       StepErrored,
		FailedStep: StepShipmentCreated,
		Items:      []Item{{ProductID: "55", InventoryProductID: "106", CustomizationID: "RXJN83"}},
		Enrollments: []Enrollment{
			{ID: "fwf1", KeyID: "key1", CredRequest: "jwe1", Status: "FULFILLMENT_ERRORED"},
			{ID: "fwf2", KeyID: "key2", CredRequest: "jwe2", Status: "FULFILLMENT_ERRORED"},
		},
		PINRequest:     "pinjwe",
		TransportKeyID: "APCS-Ttrans-1",
		ShipmentID:     "U89bvfKKCtQfhnqaFBrAZW",
		ShipmentState:  7,
		Serial:         "3632071",
		Firmware:       "5.7.1",
		Reason:         "yubico: shipment state 7 (undeliverable)",
		Attempts:       2,
		Keys:           map[Step]string{StepShipmentCreating: "k1", StepEnrolling: "k2"},
		Lease:          Lease{Owner: "svc-1", Until: t0.Add(time.Minute)},
		EventID:        "evt-1",
		CreatedAt:      t0,
		UpdatedAt:      t0.Add(time.Hour),
		History: []Change{
			{At: t0, Status: FulfillmentStarted, Step: StepInitiated, Attempt: 1},
			{At: t0.Add(time.Minute), Status: FulfillmentStarted, Step: StepShipmentCreating, Attempt: 1, Key: "k1"},
			{At: t0.Add(time.Hour), Status: FulfillmentErrored, Step: StepErrored, Attempt: 2, Reason: "undeliverable"},
		},
	}
}

func runStoreSuite(t *testing.T, open func(t *testing.T) Store) {
	t.Run("GetMissing", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		_, err := s.Get(t.Context(), "00unobody")
		if !errors.Is(err, ErrRecordNotFound) {
			t.Fatalf("Get(missing) error = %v, want ErrRecordNotFound", err)
		}
	})

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		in := fullRecord("00u1")
		got, err := s.Put(t.Context(), in)
		if err != nil {
			t.Fatalf("Put: %v", err)
		}
		want := in
		want.Version = 1
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Put returned (-want +got):\n%s", diff)
		}
		got, err = s.Get(t.Context(), "00u1")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Get (-want +got):\n%s", diff)
		}
	})

	t.Run("CompareAndSwap", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := t.Context()
		r := Record{UserID: "00u1", Status: FulfillmentStarted, Step: StepInitiated}
		v1, err := s.Put(ctx, r)
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if _, err := s.Put(ctx, r); !errors.Is(err, ErrVersionConflict) {
			t.Errorf("second create error = %v, want ErrVersionConflict", err)
		}
		v1.Step = StepEnrolling
		v2, err := s.Put(ctx, v1)
		if err != nil {
			t.Fatalf("update: %v", err)
		}
		if v2.Version != 2 {
			t.Errorf("version after update = %d, want 2", v2.Version)
		}
		v1.Step = StepEnrolled // stale: still version 1
		if _, err := s.Put(ctx, v1); !errors.Is(err, ErrVersionConflict) {
			t.Errorf("stale update error = %v, want ErrVersionConflict", err)
		}
		got, err := s.Get(ctx, "00u1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Step != StepEnrolling || got.Version != 2 {
			t.Errorf("after stale update: step %q version %d, want %q 2", got.Step, got.Version, StepEnrolling)
		}
		ghost := Record{UserID: "00ughost", Status: FulfillmentStarted, Version: 3}
		if _, err := s.Put(ctx, ghost); !errors.Is(err, ErrVersionConflict) {
			t.Errorf("update of missing record error = %v, want ErrVersionConflict", err)
		}
	})

	t.Run("HistoryOnlyGrows", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := t.Context()
		r, err := s.Put(ctx, fullRecord("00u1"))
		if err != nil {
			t.Fatal(err)
		}
		r.History = r.History[:1]
		if _, err := s.Put(ctx, r); err == nil || errors.Is(err, ErrVersionConflict) {
			t.Errorf("Put with shorter history error = %v, want a validation error", err)
		}
		r, err = s.Get(ctx, "00u1")
		if err != nil {
			t.Fatal(err)
		}
		r.History = append(r.History, Change{At: t0, Status: FulfillmentStarted, Step: StepEnrolling, Reason: "retry"})
		if r, err = s.Put(ctx, r); err != nil {
			t.Fatalf("Put with longer history: %v", err)
		}
		if got, want := len(r.History), 4; got != want {
			t.Errorf("history length = %d, want %d", got, want)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		for _, r := range []Record{
			{Status: FulfillmentStarted},
			{UserID: "00u1"},
			{UserID: strings.Repeat("u", maxIDLen+1), Status: FulfillmentStarted},
			{UserID: "00u\xff", Status: FulfillmentStarted},
			{UserID: "00u1", Status: FulfillmentStarted, Version: -1},
		} {
			if _, err := s.Put(t.Context(), r); err == nil || errors.Is(err, ErrVersionConflict) {
				t.Errorf("Put(%+v) error = %v, want a validation error", r, err)
			}
		}
		if _, err := s.Get(t.Context(), ""); err == nil || errors.Is(err, ErrRecordNotFound) {
			t.Errorf("Get(\"\") error = %v, want a validation error", err)
		}
	})

	t.Run("Isolation", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := t.Context()
		in := fullRecord("00u1")
		got, err := s.Put(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		in.Items[0].ProductID = "changed"
		in.Keys[StepEnrolling] = "changed"
		got.Enrollments[0].ID = "changed"
		got.History[0].Reason = "changed"
		again, err := s.Get(ctx, "00u1")
		if err != nil {
			t.Fatal(err)
		}
		want := fullRecord("00u1")
		want.Version = 1
		if diff := cmp.Diff(want, again); diff != "" {
			t.Errorf("stored record changed through a caller's copy (-want +got):\n%s", diff)
		}
		again.Keys[StepEnrolling] = "changed"
		list, err := s.List(ctx, Query{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].Keys[StepEnrolling] != "k2" {
			t.Errorf("List after mutating a Get copy = %+v, want key k2", list)
		}
	})

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := t.Context()
		statuses := map[string]Status{
			"00u5": Active, "00u1": FulfillmentStarted, "00u4": Deleted,
			"00u2": Shipped, "00u3": FulfillmentErrored, "00u6": FulfillmentStarted,
		}
		for id, st := range statuses {
			if _, err := s.Put(ctx, Record{UserID: id, Status: st, Step: StepInitiated}); err != nil {
				t.Fatal(err)
			}
		}
		ids := func(rs []Record) []string {
			out := []string{}
			for _, r := range rs {
				out = append(out, r.UserID)
			}
			return out
		}
		for _, tc := range []struct {
			name string
			q    Query
			want []string
		}{
			{"all", Query{}, []string{"00u1", "00u2", "00u3", "00u4", "00u5", "00u6"}},
			{"in-flight", Query{InFlight: true}, []string{"00u1", "00u2", "00u3", "00u6"}},
			{"started", Query{Statuses: []Status{FulfillmentStarted}}, []string{"00u1", "00u6"}},
			{"shipped or active", Query{Statuses: []Status{Shipped, Active}}, []string{"00u2", "00u5"}},
			{"in-flight active", Query{InFlight: true, Statuses: []Status{Active}}, []string{}},
			{"page 1", Query{Limit: 2}, []string{"00u1", "00u2"}},
			{"page 2", Query{After: "00u2", Limit: 2}, []string{"00u3", "00u4"}},
			{"after last", Query{After: "00u6"}, []string{}},
			{"in-flight page", Query{InFlight: true, After: "00u1", Limit: 2}, []string{"00u2", "00u3"}},
		} {
			got, err := s.List(ctx, tc.q)
			if err != nil {
				t.Fatalf("List(%+v): %v", tc.q, err)
			}
			if diff := cmp.Diff(tc.want, ids(got)); diff != "" {
				t.Errorf("%s: List(%+v) (-want +got):\n%s", tc.name, tc.q, diff)
			}
		}
	})

	t.Run("MarkEvent", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := t.Context()
		for _, tc := range []struct {
			id   string
			want bool
		}{{"evt-1", true}, {"evt-1", false}, {"evt-2", true}, {"evt-1", false}} {
			got, err := s.MarkEvent(ctx, tc.id, t0)
			if err != nil {
				t.Fatalf("MarkEvent(%q): %v", tc.id, err)
			}
			if got != tc.want {
				t.Errorf("MarkEvent(%q) = %v, want %v", tc.id, got, tc.want)
			}
		}
		if _, err := s.MarkEvent(ctx, "", t0); err == nil {
			t.Error("MarkEvent(\"\") succeeded, want an error")
		}
	})

	t.Run("ConcurrentCAS", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := t.Context()
		if _, err := s.Put(ctx, Record{UserID: "00u1", Status: FulfillmentStarted}); err != nil {
			t.Fatal(err)
		}
		const workers, increments = 8, 10
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for range workers {
			wg.Go(func() {
				for range increments {
					if err := bump(ctx, s, "00u1"); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "00u1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Attempts != workers*increments || got.Version != workers*increments+1 {
			t.Errorf("after %d increments: attempts %d version %d, want %d and %d",
				workers*increments, got.Attempts, got.Version, workers*increments, workers*increments+1)
		}
	})

	t.Run("CanceledContext", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := s.Put(ctx, Record{UserID: "00u1", Status: FulfillmentStarted}); err == nil {
			t.Error("Put with a canceled context succeeded")
		}
		if _, err := s.Get(ctx, "00u1"); err == nil {
			t.Error("Get with a canceled context succeeded")
		}
		if _, err := s.List(ctx, Query{}); err == nil {
			t.Error("List with a canceled context succeeded")
		}
	})
}

// bump increments the record's Attempts with a read-modify-write loop that
// retries on version conflicts.
func bump(ctx context.Context, s Store, userID string) error {
	for {
		r, err := s.Get(ctx, userID)
		if err != nil {
			return err
		}
		r.Attempts++
		_, err = s.Put(ctx, r)
		if !errors.Is(err, ErrVersionConflict) {
			return err
		}
	}
}

func TestSQLiteReopen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.Put(ctx, fullRecord("00u1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.MarkEvent(ctx, "evt-1", t0); err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = OpenSQLite(ctx, path)
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
	if first, err := s.MarkEvent(ctx, "evt-1", t0); err != nil || first {
		t.Errorf("MarkEvent(evt-1) after reopen = %v, %v; want false, nil", first, err)
	}
	var migrations int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM migrations").Scan(&migrations); err != nil {
		t.Fatal(err)
	}
	if migrations != len(sqliteMigrations) {
		t.Errorf("migrations rows = %d, want %d", migrations, len(sqliteMigrations))
	}
}

func TestOpenSQLiteErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := t.Context()

	newer := filepath.Join(dir, "newer.db")
	s, err := OpenSQLite(ctx, newer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, "INSERT INTO migrations(version, applied_at) VALUES (?, 'later')", len(sqliteMigrations)+1); err != nil {
		t.Fatal(err)
	}
	s.Close()

	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, path := range []string{"", ":memory:", "file:x.db", filepath.Join(dir, "a?b.db"), newer, garbage,
		filepath.Join(dir, "missing-dir", "x.db")} {
		if s, err := OpenSQLite(ctx, path); err == nil {
			s.Close()
			t.Errorf("OpenSQLite(%q) succeeded, want an error", path)
		}
	}
}

func TestSQLiteCorruptRecord(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for id, data := range map[string]string{"00ubad": "{not json", "00uother": `{"userId":"00usomeoneelse"}`} {
		if _, err := s.db.ExecContext(ctx, `INSERT INTO records(user_id, status, step, version, history_len, updated_at, data)
			VALUES (?, 'x', 'y', 1, 0, '', ?)`, id, data); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, id); err == nil || errors.Is(err, sql.ErrNoRows) {
			t.Errorf("Get(%s) with corrupt data: error = %v, want a corruption error", id, err)
		}
	}
	if _, err := s.List(ctx, Query{}); err == nil {
		t.Error("List over corrupt rows succeeded")
	}
}

// TestStoresAgree checks that the two stores end in the same state after the
// same sequence of puts.
func TestStoresAgree(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	var results [][]Record
	for _, f := range storeFactories {
		s := f.open(t)
		for i := range 20 {
			id := fmt.Sprintf("00u%02d", i%7)
			r, err := s.Get(ctx, id)
			if errors.Is(err, ErrRecordNotFound) {
				r = Record{UserID: id, Status: FulfillmentStarted, Step: StepInitiated, CreatedAt: t0}
			} else if err != nil {
				t.Fatal(err)
			}
			r.Attempts++
			r.History = append(r.History, Change{At: t0.Add(time.Duration(i) * time.Second), Status: r.Status, Step: r.Step})
			if i%3 == 0 {
				r.Status = Shipped
			}
			if _, err := s.Put(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		all, err := s.List(ctx, Query{})
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, all)
	}
	if diff := cmp.Diff(results[0], results[1]); diff != "" {
		t.Errorf("memory and sqlite disagree (-memory +sqlite):\n%s", diff)
	}
}

package fulfillment_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
)

// TestSQLiteDocumentsDurable: every document write is committed through
// the durable handle (synchronous=FULL), never the bookkeeping one: with
// the durable handle closed, no PutDocument (create or update) nor
// DeleteDocuments commits, as another store on the same file sees; with
// the bookkeeping handle closed, all of them do.
func TestSQLiteDocumentsDurable(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	s := openSQLite(t, path)
	other := openSQLite(t, path)
	if _, err := s.PutDocument(ctx, fulfillment.Document{Collection: "test.durable", ID: "kept", Created: storeT0, Data: []byte("v1")}); err != nil {
		t.Fatal(err)
	}

	lazyClosed := openSQLite(t, path)
	if err := fulfillment.SQLiteLazyDB(lazyClosed).Close(); err != nil {
		t.Fatal(err)
	}
	d, err := lazyClosed.PutDocument(ctx, fulfillment.Document{Collection: "test.durable", ID: "other", Created: storeT0})
	if err != nil {
		t.Fatalf("PutDocument (create), bookkeeping handle closed: %v", err)
	}
	if _, err := lazyClosed.PutDocument(ctx, d); err != nil {
		t.Fatalf("PutDocument (update), bookkeeping handle closed: %v", err)
	}
	if n, err := lazyClosed.DeleteDocuments(ctx, "test.durable", storeT0.Add(time.Nanosecond)); err != nil || n != 2 {
		t.Fatalf("DeleteDocuments, bookkeeping handle closed = %d, %v; want 2", n, err)
	}
	kept, err := s.PutDocument(ctx, fulfillment.Document{Collection: "test.durable", ID: "kept", Created: storeT0, Data: []byte("v1")})
	if err != nil {
		t.Fatal(err)
	}

	if err := fulfillment.SQLiteDB(s).Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutDocument(ctx, fulfillment.Document{Collection: "test.durable", ID: "new", Created: storeT0}); err == nil {
		t.Error("PutDocument (create) committed with the durable handle closed")
	}
	update := kept
	update.Data = []byte("v2")
	if _, err := s.PutDocument(ctx, update); err == nil {
		t.Error("PutDocument (update) committed with the durable handle closed")
	}
	if _, err := s.DeleteDocuments(ctx, "test.durable", storeT0.Add(time.Hour)); err == nil {
		t.Error("DeleteDocuments committed with the durable handle closed")
	}
	list, err := other.ListDocuments(ctx, "test.durable", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != "kept" || string(list[0].Data) != "v1" || list[0].Version != 1 {
		t.Errorf("documents after the refused writes = %+v, want kept at version 1 with v1", list)
	}
}

// TestSQLiteDocumentsMigration: a database at schema version 2 (before
// documents), holding a record, is opened by this version: migration 3
// adds the documents table, the record is kept, and a document put then
// is there, Created at its offset, after the store is reopened.
func TestSQLiteDocumentsMigration(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path, db := oldSQLite(t, 2)
	rec := fulfillmenttest.SampleRecord("00u1")
	data, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO records(user_id, status, step, version, history_len, updated_at, data)
		VALUES (?, ?, ?, 1, ?, ?, ?)`, rec.UserID, string(rec.Status), string(rec.Step), len(rec.History),
		rec.UpdatedAt.Format(time.RFC3339Nano), string(data)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := fulfillment.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatalf("OpenSQLite of a version 2 database: %v", err)
	}
	created := time.Date(2026, 12, 7, 10, 0, 0, 987654321, time.FixedZone("", -5*3600))
	put, err := s.PutDocument(ctx, fulfillment.Document{Collection: "console.batch", ID: "b1", Created: created, Data: []byte(`{"n":1}`)})
	if err != nil {
		t.Fatalf("PutDocument after migration: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openSQLite(t, path)
	got, err := s.GetDocument(ctx, "console.batch", "b1")
	if err != nil {
		t.Fatalf("GetDocument after reopen: %v", err)
	}
	if diff := cmp.Diff(put, got); diff != "" || got.Created.Format(time.RFC3339Nano) != created.Format(time.RFC3339Nano) {
		t.Errorf("document after reopen (-put +got):\n%s\nCreated %s, want %s", diff,
			got.Created.Format(time.RFC3339Nano), created.Format(time.RFC3339Nano))
	}
	gotRec, err := s.Get(ctx, "00u1")
	if err != nil {
		t.Fatal(err)
	}
	rec.Version = 1
	if diff := cmp.Diff(rec, gotRec); diff != "" {
		t.Errorf("record after migration 3 (-want +got):\n%s", diff)
	}
	var migrations int
	if err := fulfillment.SQLiteDB(s).QueryRowContext(ctx, "SELECT COUNT(*) FROM migrations").Scan(&migrations); err != nil {
		t.Fatal(err)
	}
	if migrations != fulfillment.SQLiteMigrations {
		t.Errorf("migrations rows = %d, want %d (each migration since version 2 applied once)", migrations, fulfillment.SQLiteMigrations)
	}
}

// TestSQLiteDocumentsTwoStores: two stores on one file (two processes)
// creating the same document at once: the database decides, and exactly
// one of the eight writers wins.
func TestSQLiteDocumentsTwoStores(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	stores := []*fulfillment.SQLiteStore{openSQLite(t, path), openSQLite(t, path)}
	const workers = 8
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			_, errs[i] = stores[i%2].PutDocument(ctx, fulfillment.Document{Collection: "test.two", ID: "b1", Created: storeT0,
				Data: fmt.Appendf(nil, "writer %d", i)})
		})
	}
	wg.Wait()
	winner := ""
	for i, err := range errs {
		switch {
		case err == nil && winner != "":
			t.Errorf("writer %d and %s both created the document", i, winner)
		case err == nil:
			winner = fmt.Sprintf("writer %d", i)
		case !errors.Is(err, fulfillment.ErrVersionConflict):
			t.Fatalf("writer %d: %v, want nil or ErrVersionConflict", i, err)
		}
	}
	for _, s := range stores {
		got, err := s.GetDocument(ctx, "test.two", "b1")
		if err != nil {
			t.Fatal(err)
		}
		if winner == "" || string(got.Data) != winner || got.Version != 1 {
			t.Errorf("stored %q at version %d, want the winner's (%q) at version 1", got.Data, got.Version, winner)
		}
	}
}

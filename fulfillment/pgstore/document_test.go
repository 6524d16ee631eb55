package pgstore

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
)

// TestDocumentsMigration: a schema at version 2 (before documents),
// holding a record, is opened by this version: migration 0003 adds the
// documents table and keeps the record, and a document put then reads
// back, Created at its offset, through a second Store.
func TestDocumentsMigration(t *testing.T) {
	t.Parallel()
	url, schema := serverURL(t), freshSchema(t)
	ctx := t.Context()
	migrations, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	if got := migrations[2].name; got != "0003_documents.sql" {
		t.Fatalf("migration 3 is %q, want 0003_documents.sql", got)
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	old, err := open(ctx, pool, schema, migrations[:2]) // the schema at version 2
	if err != nil {
		t.Fatal(err)
	}
	rec, err := old.Put(ctx, fulfillmenttest.SampleRecord("00u1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.GetDocument(ctx, "console.batch", "b1"); err == nil || errors.Is(err, fulfillment.ErrDocumentNotFound) {
		t.Fatalf("GetDocument at schema version 2: error = %v, want one for the missing table", err)
	}

	s := openStore(t, url, WithSchema(schema))
	created := time.Date(2026, 12, 7, 10, 0, 0, 987654321, time.FixedZone("", -5*3600))
	put, err := s.PutDocument(ctx, fulfillment.Document{Collection: "console.batch", ID: "b1", Created: created, Data: []byte("{\"n\":1}\x00")})
	if err != nil {
		t.Fatalf("PutDocument after migration: %v", err)
	}
	got, err := openStore(t, url, WithSchema(schema)).GetDocument(ctx, "console.batch", "b1")
	if err != nil {
		t.Fatalf("GetDocument through another Store: %v", err)
	}
	if diff := cmp.Diff(put, got); diff != "" || got.Created.Format(time.RFC3339Nano) != created.Format(time.RFC3339Nano) {
		t.Errorf("document through another Store (-put +got):\n%s\nCreated %s, want %s", diff,
			got.Created.Format(time.RFC3339Nano), created.Format(time.RFC3339Nano))
	}
	gotRec, err := s.Get(ctx, "00u1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rec, gotRec); diff != "" {
		t.Errorf("record after migration 0003 (-want +got):\n%s", diff)
	}
}

// TestDocumentsTwoInstances races two Stores with pools of their own (two
// service instances) on one document: the database decides each
// compare-and-swap, so of the writers of each version exactly one wins.
func TestDocumentsTwoInstances(t *testing.T) {
	t.Parallel()
	url, schema := serverURL(t), freshSchema(t)
	ctx := t.Context()
	instances := []*Store{openStore(t, url, WithSchema(schema)), openStore(t, url, WithSchema(schema))}
	const workers = 8
	base := fulfillment.Document{Collection: "test.two", ID: "b1", Created: time.Date(2026, 12, 7, 9, 0, 0, 1, time.UTC)}
	for round := range 3 {
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for i := range workers {
			wg.Go(func() {
				d := base
				d.Data = fmt.Appendf(nil, "writer %d", i)
				_, errs[i] = instances[i%2].PutDocument(ctx, d)
			})
		}
		wg.Wait()
		winner := ""
		for i, err := range errs {
			switch {
			case err == nil && winner != "":
				t.Fatalf("round %d: writer %d and %s both won", round, i, winner)
			case err == nil:
				winner = fmt.Sprintf("writer %d", i)
			case !errors.Is(err, fulfillment.ErrVersionConflict):
				t.Fatalf("round %d: writer %d: %v, want nil or ErrVersionConflict", round, i, err)
			}
		}
		for _, s := range instances {
			got, err := s.GetDocument(ctx, base.Collection, base.ID)
			if err != nil {
				t.Fatal(err)
			}
			if winner == "" || string(got.Data) != winner || got.Version != int64(round+1) {
				t.Fatalf("round %d: stored %q at version %d, want the winner's (%q) at version %d", round, got.Data, got.Version, winner, round+1)
			}
			base = got
		}
	}
}

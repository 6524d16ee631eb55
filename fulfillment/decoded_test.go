package fulfillment

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestDecodedRecords checks the SQLite store's memory of the records it
// decoded: a document read again comes back as a fresh decode would give
// it, at the version read, and as a copy (changing what one read returned
// changes nothing another returns); a document that differs in a byte is
// decoded; and the memory stays under maxDecoded however many records are
// read.
func TestDecodedRecords(t *testing.T) {
	var d decodedRecords
	t0 := time.Date(2026, 12, 8, 3, 0, 0, 5, time.FixedZone("", 3600))
	doc := func(id, step string) string {
		return fmt.Sprintf(`{"userId":%q,"status":"FULFILLMENT_STARTED","step":%q,"keys":{"enrolling":"k1"},"createdAt":%q,"updatedAt":%q,"history":[{"at":%q,"status":"FULFILLMENT_STARTED","step":%q}]}`,
			id, step, t0.Format(time.RFC3339Nano), t0.Format(time.RFC3339Nano), t0.Format(time.RFC3339Nano), step)
	}
	read := func(id, data string, version int64) Record {
		t.Helper()
		got, err := d.decode(id, data, version)
		if err != nil {
			t.Fatalf("decode(%s): %v", id, err)
		}
		want, err := decodeRecord(id, data, version)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("decode(%s) at version %d, against decodeRecord (-want +got):\n%s", id, version, diff)
		}
		return got
	}
	change := func(r Record) { // what a caller may do to the record it is given
		r.History[0].Step, r.Keys[StepEnrolling] = "changed", "changed"
	}
	change(read("00u1", doc("00u1", "enrolling"), 3)) // decoded
	change(read("00u1", doc("00u1", "enrolling"), 3)) // remembered
	read("00u1", doc("00u1", "enrolling"), 4)         // remembered, unchanged by the callers; the version read
	read("00u1", doc("00u1", "enrolled"), 4)          // another document at the same version: decoded
	if _, err := d.decode("00u1", `{"userId":"00u2","status":"ACTIVE","step":"active"}`, 5); err == nil {
		t.Error("a document naming another user: no error")
	}
	read("00u1", doc("00u1", "enrolled"), 5)

	for i := range 3*maxDecoded + 5 {
		id := fmt.Sprintf("00u%d", i)
		read(id, doc(id, "enrolling"), 1)
		if len(d.m) > maxDecoded {
			t.Fatalf("after %d records read, %d remembered, want at most %d", i+1, len(d.m), maxDecoded)
		}
	}
}

// TestSQLitePutForgetsDecoded checks that a Put drops what the store
// remembers of the record it replaced, and that a read after it returns
// the new document.
func TestSQLitePutForgetsDecoded(t *testing.T) {
	ctx := t.Context()
	s, err := OpenSQLite(ctx, t.TempDir()+"/state.db")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC)
	r, err := s.Put(ctx, Record{UserID: "00u1", Status: FulfillmentStarted, Step: StepInitiated, CreatedAt: t0, UpdatedAt: t0,
		History: []Change{{At: t0, Status: FulfillmentStarted, Step: StepInitiated}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "00u1"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.decoded.m["00u1"]; !ok {
		t.Fatal("a Get did not remember the record it decoded")
	}
	r.Reason = "changed"
	if _, err := s.Put(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.decoded.m["00u1"]; ok {
		t.Error("the store still remembers the document a Put replaced")
	}
	got, err := s.Get(ctx, "00u1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Reason != "changed" || got.Version != r.Version+1 {
		t.Errorf("Get after Put: reason %q, version %d; want %q, %d", got.Reason, got.Version, "changed", r.Version+1)
	}
}

package fulfillmenttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
)

// documentCase makes a case of [RunStoreConformance] of a check of a
// [fulfillment.DocumentStore]: it runs fn on the store if the store is one
// and skips the subtest if it is not.
func documentCase(fn func(t *testing.T, s fulfillment.DocumentStore)) func(t *testing.T, s fulfillment.Store) {
	return func(t *testing.T, s fulfillment.Store) {
		ds, ok := s.(fulfillment.DocumentStore)
		if !ok {
			t.Skipf("the store (%T) does not implement fulfillment.DocumentStore", s)
		}
		fn(t, ds)
	}
}

// The times the document cases use: docT0 has nanoseconds.
var (
	docT0 = time.Date(2026, 12, 7, 9, 30, 15, 123456789, time.UTC)
	// docFirst and docLast are the first and last times whose Unix
	// nanoseconds fit in an int64, the range [fulfillment.Document.Created]
	// may take.
	docFirst = time.Unix(0, math.MinInt64).UTC()
	docLast  = time.Unix(0, math.MaxInt64).UTC()
)

// bigDocumentData returns MaxDocumentSize+1 bytes of a pattern (not all
// zeros), allocated once for every store the suite runs against; the
// cases use it read-only.
var bigDocumentData = sync.OnceValue(func() []byte {
	b := make([]byte, fulfillment.MaxDocumentSize+1)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
})

// diffDocument describes how got differs from want, "" if it does not: the
// same collection, ID and version, the same bytes (empty and nil alike),
// and Created the same instant at the same offset from UTC.
func diffDocument(want, got fulfillment.Document) string {
	var diffs []string
	if !bytes.Equal(want.Data, got.Data) {
		if len(want.Data)+len(got.Data) > 4096 {
			diffs = append(diffs, fmt.Sprintf("Data: %d bytes, want %d other bytes", len(got.Data), len(want.Data)))
		} else {
			diffs = append(diffs, fmt.Sprintf("Data: %q, want %q", got.Data, want.Data))
		}
	}
	_, wantOffset := want.Created.Zone()
	_, gotOffset := got.Created.Zone()
	if !got.Created.Equal(want.Created) || gotOffset != wantOffset {
		diffs = append(diffs, fmt.Sprintf("Created: %s, want %s",
			got.Created.Format(time.RFC3339Nano), want.Created.Format(time.RFC3339Nano)))
	}
	want.Data, got.Data = nil, nil
	want.Created, got.Created = time.Time{}, time.Time{}
	if d := cmp.Diff(want, got); d != "" {
		diffs = append(diffs, "(-want +got):\n"+d)
	}
	return strings.Join(diffs, "; ")
}

// documentIDs returns the IDs of ds, in order.
func documentIDs(ds []fulfillment.Document) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

// mustPutDocument puts d and fails the test on an error.
func mustPutDocument(t *testing.T, s fulfillment.DocumentStore, d fulfillment.Document) fulfillment.Document {
	t.Helper()
	got, err := s.PutDocument(t.Context(), d)
	if err != nil {
		t.Fatalf("PutDocument(%q of %q, version %d): %v", d.ID, d.Collection, d.Version, err)
	}
	return got
}

// docGetMissing checks that GetDocument of a document never put fails
// with [fulfillment.ErrDocumentNotFound].
func docGetMissing(t *testing.T, s fulfillment.DocumentStore) {
	_, err := s.GetDocument(t.Context(), "test.batch", "b1")
	if !errors.Is(err, fulfillment.ErrDocumentNotFound) {
		t.Fatalf("GetDocument(missing) error = %v, want ErrDocumentNotFound", err)
	}
}

// docRoundTrip checks that PutDocument, GetDocument and ListDocuments give
// back a document as it was put, at version 1: opaque bytes (NUL, bytes
// that are not UTF-8, empty data, the largest data allowed) and Created to
// the nanosecond at its offset from UTC, before 1970 and at the ends of
// the range included; and that the data a caller passes or gets shares no
// memory with the store.
func docRoundTrip(t *testing.T, s fulfillment.DocumentStore) {
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		d    fulfillment.Document
	}{
		{"binary", fulfillment.Document{ID: "d1", Created: docT0,
			Data: []byte("{\"k\":\"NUL \x00 and not UTF-8 \xff\xfe\xc3\x28\"}\x00")}},
		{"empty", fulfillment.Document{ID: "d2", Created: docT0, Data: []byte{}}},
		{"nil", fulfillment.Document{ID: "d3", Created: docT0}},
		{"zone east", fulfillment.Document{ID: "d4", Data: []byte("x"),
			Created: time.Date(2026, 3, 29, 2, 30, 0, 1, time.FixedZone("CEST", 2*3600))}},
		{"zone west, odd offset", fulfillment.Document{ID: "d5", Data: []byte("x"),
			Created: time.Date(2026, 11, 1, 1, 59, 59, 999999999, time.FixedZone("NST", -(3*3600+30*60)))}},
		{"before 1970", fulfillment.Document{ID: "d6", Data: []byte("x"),
			Created: time.Date(1969, 12, 31, 23, 59, 59, 1, time.FixedZone("", 5*3600+45*60))}},
		{"first nanosecond", fulfillment.Document{ID: "d7", Data: []byte("x"), Created: docFirst}},
		{"last nanosecond", fulfillment.Document{ID: "d8", Data: []byte("x"), Created: docLast}},
		{"largest", fulfillment.Document{ID: "d9", Created: docT0, Data: bigDocumentData()[:fulfillment.MaxDocumentSize]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.d
			in.Collection = "test.roundtrip"
			want := in
			want.Version = 1
			put := mustPutDocument(t, s, in)
			if diff := diffDocument(want, put); diff != "" {
				t.Errorf("PutDocument returned %s", diff)
			}
			got, err := s.GetDocument(ctx, in.Collection, in.ID)
			if err != nil {
				t.Fatalf("GetDocument: %v", err)
			}
			if diff := diffDocument(want, got); diff != "" {
				t.Errorf("GetDocument: %s", diff)
			}
		})
	}
	list, err := s.ListDocuments(ctx, "test.roundtrip", 0)
	if err != nil {
		t.Fatalf("ListDocuments: %v", err)
	}
	// Newest first: the last nanosecond, docT0's four (by ID descending),
	// then the rest by their instants.
	if diff := cmp.Diff([]string{"d8", "d9", "d3", "d2", "d1", "d5", "d4", "d6", "d7"}, documentIDs(list)); diff != "" {
		t.Errorf("ListDocuments (-want +got):\n%s", diff)
	}
	for _, d := range list {
		if d.ID == "d4" && d.Created.Format(time.RFC3339Nano) != "2026-03-29T02:30:00.000000001+02:00" {
			t.Errorf("ListDocuments gave d4 Created %s, want 2026-03-29T02:30:00.000000001+02:00", d.Created.Format(time.RFC3339Nano))
		}
	}

	// Isolation: the caller's slices, passed or returned, are its own.
	in := fulfillment.Document{Collection: "test.isolation", ID: "iso", Created: docT0, Data: []byte("original")}
	put := mustPutDocument(t, s, in)
	in.Data[0] = 'X'
	put.Data[1] = 'X'
	got, err := s.GetDocument(ctx, "test.isolation", "iso")
	if err != nil {
		t.Fatal(err)
	}
	got.Data[2] = 'X'
	list, err = s.ListDocuments(ctx, "test.isolation", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != "iso" {
		t.Fatalf("ListDocuments(limit 1) = %v, want iso", documentIDs(list))
	}
	list[0].Data[3] = 'X'
	if got, err = s.GetDocument(ctx, "test.isolation", "iso"); err != nil {
		t.Fatal(err)
	}
	if string(got.Data) != "original" {
		t.Errorf("stored data changed through a caller's slice: %q, want %q", got.Data, "original")
	}
}

// docCompareAndSwap checks PutDocument's compare-and-swap: a create at
// version 0, a second create, an update at the stored version, a stale
// update, an update from a version ahead and an update of a missing
// document; the failed ones match [fulfillment.ErrVersionConflict] and
// change nothing.
func docCompareAndSwap(t *testing.T, s fulfillment.DocumentStore) {
	ctx := t.Context()
	doc := func(data string, version int64) fulfillment.Document {
		return fulfillment.Document{Collection: "test.cas", ID: "b1", Created: docT0, Data: []byte(data), Version: version}
	}
	v1 := mustPutDocument(t, s, doc("first", 0))
	if v1.Version != 1 {
		t.Errorf("version after create = %d, want 1", v1.Version)
	}
	v2 := mustPutDocument(t, s, doc("second", 1))
	if v2.Version != 2 {
		t.Errorf("version after update = %d, want 2", v2.Version)
	}
	for _, tc := range []struct {
		name string
		d    fulfillment.Document
	}{
		{"create again", doc("again", 0)},
		{"stale", doc("stale", 1)},
		{"ahead", doc("ahead", 3)},
		{"far ahead", doc("far ahead", 99)},
	} {
		_, err := s.PutDocument(ctx, tc.d)
		if !errors.Is(err, fulfillment.ErrVersionConflict) {
			t.Errorf("%s: PutDocument at version %d error = %v, want ErrVersionConflict", tc.name, tc.d.Version, err)
		}
		got, err := s.GetDocument(ctx, "test.cas", "b1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := diffDocument(doc("second", 2), got); diff != "" {
			t.Errorf("%s: stored document after a refused PutDocument: %s", tc.name, diff)
		}
	}
	ghost := fulfillment.Document{Collection: "test.cas", ID: "ghost", Created: docT0, Version: 3}
	if _, err := s.PutDocument(ctx, ghost); !errors.Is(err, fulfillment.ErrVersionConflict) {
		t.Errorf("PutDocument of a missing document at version 3 error = %v, want ErrVersionConflict", err)
	}
	if _, err := s.GetDocument(ctx, "test.cas", "ghost"); !errors.Is(err, fulfillment.ErrDocumentNotFound) {
		t.Errorf("GetDocument after a refused update of a missing document: error = %v, want ErrDocumentNotFound", err)
	}
	// The update replaces Created too.
	later := doc("third", 2)
	later.Created = docT0.Add(time.Hour)
	mustPutDocument(t, s, later)
	got, err := s.GetDocument(ctx, "test.cas", "b1")
	if err != nil {
		t.Fatal(err)
	}
	later.Version = 3
	if diff := diffDocument(later, got); diff != "" {
		t.Errorf("after the third put: %s", diff)
	}
}

// docInvalid checks that documents, collections and IDs that are empty,
// too long, not UTF-8 or carry control characters, a negative version, a
// Created outside 1678–2262 and data over [fulfillment.MaxDocumentSize]
// are refused with a validation error (not a conflict, nor "not found";
// GetDocument, ListDocuments and DeleteDocuments of a bad collection or
// ID, one matching [fulfillment.ErrInvalidID]) and store nothing; and that a collection and ID of
// [fulfillment.MaxIDLen] bytes are accepted.
func docInvalid(t *testing.T, s fulfillment.DocumentStore) {
	ctx := t.Context()
	long := strings.Repeat("c", fulfillment.MaxIDLen+1)
	valid := fulfillment.Document{Collection: "test.invalid", ID: "d1", Created: docT0, Data: []byte("x")}
	with := func(f func(d *fulfillment.Document)) fulfillment.Document {
		d := valid
		f(&d)
		return d
	}
	for _, tc := range []struct {
		name string
		d    fulfillment.Document
	}{
		{"empty collection", with(func(d *fulfillment.Document) { d.Collection = "" })},
		{"empty ID", with(func(d *fulfillment.Document) { d.ID = "" })},
		{"long collection", with(func(d *fulfillment.Document) { d.Collection = long })},
		{"long ID", with(func(d *fulfillment.Document) { d.ID = long })},
		{"control character in the collection", with(func(d *fulfillment.Document) { d.Collection = "test\x00invalid" })},
		{"control character in the ID", with(func(d *fulfillment.Document) { d.ID = "d\n1" })},
		{"collection not UTF-8", with(func(d *fulfillment.Document) { d.Collection = "test\xff" })},
		{"ID not UTF-8", with(func(d *fulfillment.Document) { d.ID = "d\xc3" })},
		{"negative version", with(func(d *fulfillment.Document) { d.Version = -1 })},
		{"data too big", with(func(d *fulfillment.Document) { d.Data = bigDocumentData() })},
		{"zero Created", with(func(d *fulfillment.Document) { d.Created = time.Time{} })},
		{"Created after 2262", with(func(d *fulfillment.Document) { d.Created = docLast.Add(time.Nanosecond) })},
		{"Created before 1678", with(func(d *fulfillment.Document) { d.Created = docFirst.Add(-time.Nanosecond) })},
	} {
		_, err := s.PutDocument(ctx, tc.d)
		if err == nil || errors.Is(err, fulfillment.ErrVersionConflict) {
			t.Errorf("%s: PutDocument error = %v, want a validation error", tc.name, err)
		}
	}
	if _, err := s.GetDocument(ctx, valid.Collection, valid.ID); !errors.Is(err, fulfillment.ErrDocumentNotFound) {
		t.Errorf("GetDocument after refused PutDocuments: error = %v, want ErrDocumentNotFound", err)
	}
	if list, err := s.ListDocuments(ctx, valid.Collection, 0); err != nil || len(list) != 0 {
		t.Errorf("ListDocuments after refused PutDocuments = %v, %v; want none", documentIDs(list), err)
	}
	for _, name := range []struct{ collection, id string }{
		{"", "d1"}, {"test.invalid", ""}, {long, "d1"}, {"test.invalid", long},
		{"test\tinvalid", "d1"}, {"test.invalid", "d\x001"}, {"test\xff", "d1"},
	} {
		if _, err := s.GetDocument(ctx, name.collection, name.id); !errors.Is(err, fulfillment.ErrInvalidID) {
			t.Errorf("GetDocument(%q, %q) error = %v, want one matching fulfillment.ErrInvalidID", name.collection, name.id, err)
		}
	}
	for _, c := range []string{"", long, "test\ninvalid", "test\xff"} {
		if _, err := s.ListDocuments(ctx, c, 0); !errors.Is(err, fulfillment.ErrInvalidID) {
			t.Errorf("ListDocuments(%q) error = %v, want one matching fulfillment.ErrInvalidID", c, err)
		}
		if _, err := s.DeleteDocuments(ctx, c, docT0); !errors.Is(err, fulfillment.ErrInvalidID) {
			t.Errorf("DeleteDocuments(%q) error = %v, want one matching fulfillment.ErrInvalidID", c, err)
		}
	}
	longest := fulfillment.Document{Collection: strings.Repeat("c", fulfillment.MaxIDLen), ID: strings.Repeat("i", fulfillment.MaxIDLen), Created: docT0}
	mustPutDocument(t, s, longest)
	if _, err := s.GetDocument(ctx, longest.Collection, longest.ID); err != nil {
		t.Errorf("GetDocument of a %d-byte collection and ID: %v", fulfillment.MaxIDLen, err)
	}
}

// docCollections checks that collections are separate: the same ID in two
// collections names two documents, each with its own data and version,
// listed and deleted in its own collection only.
func docCollections(t *testing.T, s fulfillment.DocumentStore) {
	ctx := t.Context()
	a := mustPutDocument(t, s, fulfillment.Document{Collection: "test.a", ID: "same", Created: docT0, Data: []byte("in a")})
	a = mustPutDocument(t, s, a) // version 2
	b := mustPutDocument(t, s, fulfillment.Document{Collection: "test.b", ID: "same", Created: docT0, Data: []byte("in b")})
	for _, want := range []fulfillment.Document{
		{Collection: "test.a", ID: "same", Created: docT0, Data: []byte("in a"), Version: 2},
		{Collection: "test.b", ID: "same", Created: docT0, Data: []byte("in b"), Version: 1},
	} {
		got, err := s.GetDocument(ctx, want.Collection, want.ID)
		if err != nil {
			t.Fatalf("GetDocument(%q): %v", want.Collection, err)
		}
		if diff := diffDocument(want, got); diff != "" {
			t.Errorf("GetDocument(%q): %s", want.Collection, diff)
		}
		list, err := s.ListDocuments(ctx, want.Collection, 0)
		if err != nil {
			t.Fatalf("ListDocuments(%q): %v", want.Collection, err)
		}
		if len(list) != 1 {
			t.Fatalf("ListDocuments(%q) = %d documents, want 1", want.Collection, len(list))
		}
		if diff := diffDocument(want, list[0]); diff != "" {
			t.Errorf("ListDocuments(%q): %s", want.Collection, diff)
		}
	}
	if _, err := s.GetDocument(ctx, "test.c", "same"); !errors.Is(err, fulfillment.ErrDocumentNotFound) {
		t.Errorf("GetDocument in a third collection: error = %v, want ErrDocumentNotFound", err)
	}
	if n, err := s.DeleteDocuments(ctx, "test.a", docT0.Add(time.Second)); err != nil || n != 1 {
		t.Errorf("DeleteDocuments(test.a) = %d, %v; want 1", n, err)
	}
	if _, err := s.GetDocument(ctx, "test.a", "same"); !errors.Is(err, fulfillment.ErrDocumentNotFound) {
		t.Errorf("GetDocument(test.a) after its deletion: error = %v, want ErrDocumentNotFound", err)
	}
	got, err := s.GetDocument(ctx, "test.b", "same")
	if err != nil || got.Version != b.Version {
		t.Errorf("GetDocument(test.b) after test.a's deletion = version %d, %v; want version %d", got.Version, err, b.Version)
	}
	if _, err := s.PutDocument(ctx, a); !errors.Is(err, fulfillment.ErrVersionConflict) {
		t.Errorf("PutDocument of a deleted document at its old version: error = %v, want ErrVersionConflict", err)
	}
	again := mustPutDocument(t, s, fulfillment.Document{Collection: "test.a", ID: "same", Created: docT0})
	if again.Version != 1 {
		t.Errorf("a document created again after its deletion has version %d, want 1", again.Version)
	}
}

// docList checks ListDocuments' order (newest Created first, by the
// instant whatever the offset; equal instants by ID descending, comparing
// the IDs' bytes) and its limit, and that an update that changes Created
// moves the document.
func docList(t *testing.T, s fulfillment.DocumentStore) {
	ctx := t.Context()
	const c = "test.list"
	east := time.FixedZone("", 9*3600)
	for _, d := range []fulfillment.Document{
		{ID: "old", Created: docT0.Add(-time.Hour)},
		{ID: "a", Created: docT0},
		{ID: "B", Created: docT0.In(east)}, // the same instant as a's
		{ID: "ä", Created: docT0},
		{ID: "_", Created: docT0},
		{ID: "next", Created: docT0.Add(time.Nanosecond)},
		{ID: "prev", Created: docT0.Add(-time.Nanosecond)},
		{ID: "wall", Created: time.Date(2026, 12, 7, 12, 0, 0, 0, time.FixedZone("", 12*3600))}, // 00:00 UTC: older than docT0
	} {
		d.Collection = c
		d.Data = []byte(d.ID)
		mustPutDocument(t, s, d)
	}
	mustPutDocument(t, s, fulfillment.Document{Collection: "test.other", ID: "zzz", Created: docT0.Add(time.Hour)})
	all := []string{"next", "ä", "a", "_", "B", "prev", "old", "wall"}
	for _, tc := range []struct {
		limit int
		want  []string
	}{
		{0, all},
		{-1, all},
		{1, all[:1]},
		{3, all[:3]},
		{len(all), all},
		{100, all},
	} {
		got, err := s.ListDocuments(ctx, c, tc.limit)
		if err != nil {
			t.Fatalf("ListDocuments(limit %d): %v", tc.limit, err)
		}
		if diff := cmp.Diff(tc.want, documentIDs(got)); diff != "" {
			t.Errorf("ListDocuments(limit %d) (-want +got):\n%s", tc.limit, diff)
		}
		for _, d := range got {
			if string(d.Data) != d.ID || d.Collection != c || d.Version != 1 {
				t.Errorf("ListDocuments(limit %d) gave %q of %q with data %q at version %d, want its own data at version 1",
					tc.limit, d.ID, d.Collection, d.Data, d.Version)
			}
		}
	}
	// Moving "old" to the newest.
	old, err := s.GetDocument(ctx, c, "old")
	if err != nil {
		t.Fatal(err)
	}
	old.Created = docT0.Add(time.Minute)
	mustPutDocument(t, s, old)
	got, err := s.ListDocuments(ctx, c, 2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"old", "next"}, documentIDs(got)); diff != "" {
		t.Errorf("ListDocuments after an update of Created (-want +got):\n%s", diff)
	}
	if got, err := s.ListDocuments(ctx, "test.empty", 0); err != nil || len(got) != 0 {
		t.Errorf("ListDocuments of an empty collection = %v, %v; want none", documentIDs(got), err)
	}
}

// docDelete checks DeleteDocuments: it deletes the documents of its
// collection created strictly before the time (compared as instants),
// reports how many, and leaves the other collections alone; a time before
// 1678 deletes none and one after 2262 all.
func docDelete(t *testing.T, s fulfillment.DocumentStore) {
	ctx := t.Context()
	const c = "test.delete"
	for _, d := range []fulfillment.Document{
		{ID: "first", Created: docFirst},
		{ID: "early", Created: docT0.Add(-time.Hour)},
		{ID: "just-before", Created: docT0.Add(-time.Nanosecond)},
		{ID: "at", Created: docT0},
		{ID: "after", Created: docT0.Add(time.Nanosecond)},
		{ID: "last", Created: docLast},
	} {
		d.Collection = c
		mustPutDocument(t, s, d)
	}
	other := mustPutDocument(t, s, fulfillment.Document{Collection: "test.kept", ID: "early", Created: docT0.Add(-time.Hour)})
	for _, tc := range []struct {
		name   string
		before time.Time
		n      int
		left   []string
	}{
		{"before 1678", docFirst.Add(-time.Hour), 0, []string{"last", "after", "at", "just-before", "early", "first"}},
		{"at the first", docFirst, 0, []string{"last", "after", "at", "just-before", "early", "first"}},
		{"strictly before", docT0, 3, []string{"last", "after", "at"}},
		{"again", docT0, 0, []string{"last", "after", "at"}},
		{"same instant, other offset", docT0.In(time.FixedZone("", -7*3600)), 0, []string{"last", "after", "at"}},
		{"a nanosecond later", docT0.Add(time.Nanosecond), 1, []string{"last", "after"}},
		{"at the last", docLast, 1, []string{"last"}},
		{"after 2262", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), 1, []string{}},
	} {
		n, err := s.DeleteDocuments(ctx, c, tc.before)
		if err != nil {
			t.Fatalf("%s: DeleteDocuments: %v", tc.name, err)
		}
		if n != tc.n {
			t.Errorf("%s: DeleteDocuments(%s) = %d, want %d", tc.name, tc.before.Format(time.RFC3339Nano), n, tc.n)
		}
		list, err := s.ListDocuments(ctx, c, 0)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.left, documentIDs(list)); diff != "" {
			t.Errorf("%s: left after DeleteDocuments (-want +got):\n%s", tc.name, diff)
		}
	}
	got, err := s.GetDocument(ctx, "test.kept", "early")
	if err != nil {
		t.Fatalf("GetDocument of another collection's document: %v", err)
	}
	if diff := diffDocument(other, got); diff != "" {
		t.Errorf("another collection's document after DeleteDocuments: %s", diff)
	}
	if n, err := s.DeleteDocuments(ctx, "test.nothing", docT0); err != nil || n != 0 {
		t.Errorf("DeleteDocuments of an empty collection = %d, %v; want 0", n, err)
	}
}

// docConcurrentPut checks that of eight goroutines putting the same new
// document at once exactly one wins, the others get
// [fulfillment.ErrVersionConflict], and the store holds the winner's data;
// and the same for eight updates of one version.
func docConcurrentPut(t *testing.T, s fulfillment.DocumentStore) {
	ctx := t.Context()
	const workers = 8
	base := fulfillment.Document{Collection: "test.race", ID: "b1", Created: docT0}
	for round := range 3 {
		errs := concurrently(workers, func(i int) error {
			d := base
			d.Data = fmt.Appendf(nil, "writer %d", i)
			_, err := s.PutDocument(ctx, d)
			return err
		})
		winner, won := "", 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
				winner = fmt.Sprintf("writer %d", i)
			case !errors.Is(err, fulfillment.ErrVersionConflict):
				t.Fatalf("round %d: writer %d: %v, want nil or ErrVersionConflict", round, i, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d of %d writers of version %d won, want exactly 1", round, won, workers, base.Version)
		}
		got, err := s.GetDocument(ctx, base.Collection, base.ID)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Data) != winner || got.Version != int64(round+1) {
			t.Fatalf("round %d: stored %q at version %d, want the winner's (%q) at version %d", round, got.Data, got.Version, winner, round+1)
		}
		base = got
	}
}

// docCanceledContext checks that every method fails with a canceled
// context (an error matching context.Canceled), and that a canceled
// PutDocument stores nothing and a canceled DeleteDocuments deletes
// nothing.
func docCanceledContext(t *testing.T, s fulfillment.DocumentStore) {
	kept := mustPutDocument(t, s, fulfillment.Document{Collection: "test.cancel", ID: "kept", Created: docT0, Data: []byte("x")})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.PutDocument(ctx, fulfillment.Document{Collection: "test.cancel", ID: "new", Created: docT0}); !errors.Is(err, context.Canceled) {
		t.Errorf("PutDocument with a canceled context: error = %v, want context.Canceled", err)
	}
	if _, err := s.PutDocument(ctx, kept); !errors.Is(err, context.Canceled) {
		t.Errorf("PutDocument (an update) with a canceled context: error = %v, want context.Canceled", err)
	}
	if _, err := s.GetDocument(ctx, "test.cancel", "kept"); !errors.Is(err, context.Canceled) {
		t.Errorf("GetDocument with a canceled context: error = %v, want context.Canceled", err)
	}
	if _, err := s.ListDocuments(ctx, "test.cancel", 0); !errors.Is(err, context.Canceled) {
		t.Errorf("ListDocuments with a canceled context: error = %v, want context.Canceled", err)
	}
	if _, err := s.DeleteDocuments(ctx, "test.cancel", docT0.Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Errorf("DeleteDocuments with a canceled context: error = %v, want context.Canceled", err)
	}
	if _, err := s.GetDocument(t.Context(), "test.cancel", "new"); !errors.Is(err, fulfillment.ErrDocumentNotFound) {
		t.Errorf("GetDocument of the document a canceled PutDocument tried to create: error = %v, want ErrDocumentNotFound", err)
	}
	got, err := s.GetDocument(t.Context(), "test.cancel", "kept")
	if err != nil {
		t.Fatalf("GetDocument of the document a canceled DeleteDocuments and PutDocument were given: %v", err)
	}
	if diff := diffDocument(kept, got); diff != "" {
		t.Errorf("document after a canceled PutDocument and DeleteDocuments: %s", diff)
	}
}

package fulfillmenttest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
)

// storeCase is one subtest of [RunStoreConformance]: run gets the
// (parallel) test of the subtest and an empty store of its own.
type storeCase struct {
	name string
	run  func(t *testing.T, s fulfillment.Store)
}

// storeCases are the subtests of [RunStoreConformance], by name.
var storeCases = []storeCase{
	{"GetMissing", storeGetMissing},
	{"RoundTrip", storeRoundTrip},
	{"CompareAndSwap", storeCompareAndSwap},
	{"HistoryOnlyGrows", storeHistoryOnlyGrows},
	{"Invalid", storeInvalid},
	{"InvalidID", storeInvalidID},
	{"Isolation", storeIsolation},
	{"List", storeList},
	{"ListByteOrder", storeListByteOrder},
	{"CountByStatus", storeCountByStatus},
	{"MarkEvent", storeMarkEvent},
	{"EventMarked", storeEventMarked},
	{"ConcurrentMarkEvent", storeConcurrentMarkEvent},
	{"ConcurrentCAS", storeConcurrentCAS},
	{"ConcurrentCASOneWinner", storeConcurrentCASOneWinner},
	{"LeaseHandOver", storeLeaseHandOver},
	{"NextCheck", storeNextCheck},
	{"Due", storeDue},
	{"CanceledContext", storeCanceledContext},
	// fulfillment.ChangeFeed (store_feed.go); skips for a store that is
	// not one.
	{"ChangeFeed", storeChangeFeed},
	// fulfillment.DocumentStore (store_documents.go); each skips for a
	// store that is not one.
	{"DocumentGetMissing", documentCase(docGetMissing)},
	{"DocumentRoundTrip", documentCase(docRoundTrip)},
	{"DocumentCompareAndSwap", documentCase(docCompareAndSwap)},
	{"DocumentInvalid", documentCase(docInvalid)},
	{"DocumentCollections", documentCase(docCollections)},
	{"DocumentList", documentCase(docList)},
	{"DocumentDelete", documentCase(docDelete)},
	{"DocumentConcurrentPut", documentCase(docConcurrentPut)},
	{"DocumentCanceledContext", documentCase(docCanceledContext)},
}

// storeGetMissing checks that Get of a user with no record fails with
// [fulfillment.ErrRecordNotFound].
func storeGetMissing(t *testing.T, s fulfillment.Store) {
	_, err := s.Get(t.Context(), "00unobody")
	if !errors.Is(err, fulfillment.ErrRecordNotFound) {
		t.Fatalf("Get(missing) error = %v, want ErrRecordNotFound", err)
	}
}

// storeRoundTrip checks that Put and Get give back every field of a record,
// unusual text and time zones included, at version 1.
func storeRoundTrip(t *testing.T, s fulfillment.Store) {
	unusual := SampleRecord("00u2")
	unusual.Reason = "NUL \x00, tab \t, quote \", emoji \U0001F511, backslash \\"
	unusual.Login = "ünïcödé@example.com"
	unusual.UpdatedAt = time.Date(2026, 3, 29, 2, 30, 0, 1, time.FixedZone("CEST", 2*3600))
	for _, in := range []fulfillment.Record{SampleRecord("00u1"), unusual} {
		got, err := s.Put(t.Context(), in)
		if err != nil {
			t.Fatalf("Put: %v", err)
		}
		want := in
		want.Version = 1
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Put returned (-want +got):\n%s", diff)
		}
		got, err = s.Get(t.Context(), in.UserID)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Get (-want +got):\n%s", diff)
		}
	}
}

// storeCompareAndSwap checks Put's compare-and-swap: a second create, a
// stale update, an update from a version ahead and an update of a missing
// record all fail with [fulfillment.ErrVersionConflict] and change nothing.
func storeCompareAndSwap(t *testing.T, s fulfillment.Store) {
	ctx := t.Context()
	r := fulfillment.Record{UserID: "00u1", Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepInitiated}
	v1, err := s.Put(ctx, r)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if _, err := s.Put(ctx, r); !errors.Is(err, fulfillment.ErrVersionConflict) {
		t.Errorf("second create error = %v, want ErrVersionConflict", err)
	}
	v1.Step = fulfillment.StepEnrolling
	v2, err := s.Put(ctx, v1)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if v2.Version != 2 {
		t.Errorf("version after update = %d, want 2", v2.Version)
	}
	v1.Step = fulfillment.StepEnrolled // stale: still version 1
	if _, err := s.Put(ctx, v1); !errors.Is(err, fulfillment.ErrVersionConflict) {
		t.Errorf("stale update error = %v, want ErrVersionConflict", err)
	}
	v3 := v2
	v3.Version = 7 // from the future
	if _, err := s.Put(ctx, v3); !errors.Is(err, fulfillment.ErrVersionConflict) {
		t.Errorf("update with a version ahead of the store's error = %v, want ErrVersionConflict", err)
	}
	got, err := s.Get(ctx, "00u1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Step != fulfillment.StepEnrolling || got.Version != 2 {
		t.Errorf("after stale update: step %q version %d, want %q 2", got.Step, got.Version, fulfillment.StepEnrolling)
	}
	ghost := fulfillment.Record{UserID: "00ughost", Status: fulfillment.FulfillmentStarted, Version: 3}
	if _, err := s.Put(ctx, ghost); !errors.Is(err, fulfillment.ErrVersionConflict) {
		t.Errorf("update of missing record error = %v, want ErrVersionConflict", err)
	}
	if _, err := s.Get(ctx, "00ughost"); !errors.Is(err, fulfillment.ErrRecordNotFound) {
		t.Errorf("Get after a failed update of a missing record: error = %v, want ErrRecordNotFound", err)
	}
}

// storeHistoryOnlyGrows checks that a Put shortening a record's history is
// refused and one lengthening it is stored.
func storeHistoryOnlyGrows(t *testing.T, s fulfillment.Store) {
	t0 := storeT0
	ctx := t.Context()
	r, err := s.Put(ctx, SampleRecord("00u1"))
	if err != nil {
		t.Fatal(err)
	}
	r.History = r.History[:1]
	if _, err := s.Put(ctx, r); err == nil || errors.Is(err, fulfillment.ErrVersionConflict) {
		t.Errorf("Put with shorter history error = %v, want a validation error", err)
	}
	r, err = s.Get(ctx, "00u1")
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != 1 || len(r.History) != 3 {
		t.Errorf("after a refused Put: version %d, %d changes; want 1 and 3", r.Version, len(r.History))
	}
	r.History = append(r.History, fulfillment.Change{At: t0, Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepEnrolling, Reason: "retry"})
	if r, err = s.Put(ctx, r); err != nil {
		t.Fatalf("Put with longer history: %v", err)
	}
	if got, want := len(r.History), 4; got != want {
		t.Errorf("history length = %d, want %d", got, want)
	}
}

// storeInvalid checks that records and IDs that are empty, too long, not
// UTF-8 or carry control bytes are refused with a validation error, and
// that an ID of [fulfillment.MaxIDLen] bytes is accepted.
func storeInvalid(t *testing.T, s fulfillment.Store) {
	for _, r := range []fulfillment.Record{
		{Status: fulfillment.FulfillmentStarted},
		{UserID: "00u1"},
		{UserID: strings.Repeat("u", fulfillment.MaxIDLen+1), Status: fulfillment.FulfillmentStarted},
		{UserID: "00u\xff", Status: fulfillment.FulfillmentStarted},
		{UserID: "00u\x00", Status: fulfillment.FulfillmentStarted},
		{UserID: "00u1", Status: fulfillment.FulfillmentStarted, Version: -1},
	} {
		if _, err := s.Put(t.Context(), r); err == nil || errors.Is(err, fulfillment.ErrVersionConflict) {
			t.Errorf("Put(%+v) error = %v, want a validation error", r, err)
		}
	}
	for _, id := range []string{"", "00u\x00", "00u\n", strings.Repeat("u", fulfillment.MaxIDLen+1)} {
		if _, err := s.Get(t.Context(), id); err == nil || errors.Is(err, fulfillment.ErrRecordNotFound) {
			t.Errorf("Get(%q) error = %v, want a validation error", id, err)
		}
	}
	longest := fulfillment.Record{UserID: strings.Repeat("u", fulfillment.MaxIDLen), Status: fulfillment.FulfillmentStarted}
	if _, err := s.Put(t.Context(), longest); err != nil {
		t.Errorf("Put of a %d-byte user ID: %v", fulfillment.MaxIDLen, err)
	}
}

// storeInvalidID checks that an ID no store can key ([fulfillment.CheckID])
// is refused with an error matching [fulfillment.ErrInvalidID], through
// which errors.As finds the [*fulfillment.IDError] naming it; and that a
// record refused for something else (no status) does not match it.
func storeInvalidID(t *testing.T, s fulfillment.Store) {
	ctx := t.Context()
	checker, _ := s.(fulfillment.EventChecker)
	for _, tc := range []struct {
		name string
		id   string
		want string // the IDError's Problem
	}{
		{"empty", "", "is empty"},
		{"NUL", "00u\x00", "contains a control character"},
		{"newline", "00u\n1", "contains a control character"},
		{"not UTF-8", "00u\xff", "is not valid UTF-8"},
		{"too long", strings.Repeat("u", fulfillment.MaxIDLen+1), fmt.Sprintf("is %d bytes, longer than %d", fulfillment.MaxIDLen+1, fulfillment.MaxIDLen)},
	} {
		calls := []struct {
			call, what string
			err        error
		}{
			{"Get", "user ID", second(s.Get(ctx, tc.id))},
			{"Put", "user ID", second(s.Put(ctx, fulfillment.Record{UserID: tc.id, Status: fulfillment.FulfillmentStarted}))},
			{"MarkEvent", "event ID", second(s.MarkEvent(ctx, tc.id, storeT0))},
		}
		if checker != nil {
			calls = append(calls, struct {
				call, what string
				err        error
			}{"EventMarked", "event ID", second(checker.EventMarked(ctx, tc.id))})
		}
		for _, c := range calls {
			var ie *fulfillment.IDError
			if !errors.Is(c.err, fulfillment.ErrInvalidID) || !errors.As(c.err, &ie) {
				t.Errorf("%s of a %s ID: error = %v, want one matching fulfillment.ErrInvalidID with a *fulfillment.IDError", c.call, tc.name, c.err)
				continue
			}
			if diff := cmp.Diff(fulfillment.IDError{What: c.what, ID: tc.id, Problem: tc.want}, *ie); diff != "" {
				t.Errorf("%s of a %s ID: IDError (-want +got):\n%s", c.call, tc.name, diff)
			}
		}
	}
	if _, err := s.Put(ctx, fulfillment.Record{UserID: "00u1"}); err == nil || errors.Is(err, fulfillment.ErrInvalidID) {
		t.Errorf("Put of a record without a status: error = %v, want a validation error not matching fulfillment.ErrInvalidID", err)
	}
}

// second returns the error of a call that returns a value and an error.
func second[V any](_ V, err error) error { return err }

// storeIsolation checks that records a caller passes to Put or gets from
// Put and Get share no memory with the store.
func storeIsolation(t *testing.T, s fulfillment.Store) {
	ctx := t.Context()
	in := SampleRecord("00u1")
	got, err := s.Put(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	in.Items[0].ProductID = "changed"
	in.Keys[fulfillment.StepEnrolling] = "changed"
	got.Enrollments[0].ID = "changed"
	got.History[0].Reason = "changed"
	again, err := s.Get(ctx, "00u1")
	if err != nil {
		t.Fatal(err)
	}
	want := SampleRecord("00u1")
	want.Version = 1
	if diff := cmp.Diff(want, again); diff != "" {
		t.Errorf("stored record changed through a caller's copy (-want +got):\n%s", diff)
	}
	again.Keys[fulfillment.StepEnrolling] = "changed"
	list, err := s.List(ctx, fulfillment.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Keys[fulfillment.StepEnrolling] != "k2" {
		t.Errorf("List after mutating a Get copy = %+v, want key k2", list)
	}
}

// storeList checks List's status and in-flight filters, its order and its
// paging with After and Limit.
func storeList(t *testing.T, s fulfillment.Store) {
	ctx := t.Context()
	statuses := map[string]fulfillment.Status{
		"00u5": fulfillment.Active, "00u1": fulfillment.FulfillmentStarted, "00u4": fulfillment.Deleted,
		"00u2": fulfillment.Shipped, "00u3": fulfillment.FulfillmentErrored, "00u6": fulfillment.FulfillmentStarted,
	}
	for id, st := range statuses {
		if _, err := s.Put(ctx, fulfillment.Record{UserID: id, Status: st, Step: fulfillment.StepInitiated}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		q    fulfillment.Query
		want []string
	}{
		{"all", fulfillment.Query{}, []string{"00u1", "00u2", "00u3", "00u4", "00u5", "00u6"}},
		{"in-flight", fulfillment.Query{InFlight: true}, []string{"00u1", "00u2", "00u3", "00u6"}},
		{"started", fulfillment.Query{Statuses: []fulfillment.Status{fulfillment.FulfillmentStarted}}, []string{"00u1", "00u6"}},
		{"shipped or active", fulfillment.Query{Statuses: []fulfillment.Status{fulfillment.Shipped, fulfillment.Active}}, []string{"00u2", "00u5"}},
		{"in-flight active", fulfillment.Query{InFlight: true, Statuses: []fulfillment.Status{fulfillment.Active}}, []string{}},
		{"page 1", fulfillment.Query{Limit: 2}, []string{"00u1", "00u2"}},
		{"page 2", fulfillment.Query{After: "00u2", Limit: 2}, []string{"00u3", "00u4"}},
		{"after last", fulfillment.Query{After: "00u6"}, []string{}},
		{"in-flight page", fulfillment.Query{InFlight: true, After: "00u1", Limit: 2}, []string{"00u2", "00u3"}},
	} {
		got, err := s.List(ctx, tc.q)
		if err != nil {
			t.Fatalf("List(%+v): %v", tc.q, err)
		}
		if diff := cmp.Diff(tc.want, userIDs(got)); diff != "" {
			t.Errorf("%s: List(%+v) (-want +got):\n%s", tc.name, tc.q, diff)
		}
	}
}

// storeCountByStatus checks that fulfillment.CountByStatus (the store's own
// count if it is a fulfillment.StatusCounter) agrees with what the store
// holds, before and after a record changes status, and with the count
// made by listing.
func storeCountByStatus(t *testing.T, s fulfillment.Store) {
	ctx := t.Context()
	count := func(s fulfillment.Store) map[fulfillment.Status]int {
		t.Helper()
		got, err := fulfillment.CountByStatus(ctx, s)
		if err != nil {
			t.Fatalf("CountByStatus: %v", err)
		}
		for st, n := range got {
			if n == 0 {
				delete(got, st) // a status held by none may be absent or 0
			}
		}
		return got
	}
	if got := count(s); len(got) != 0 {
		t.Errorf("CountByStatus of an empty store = %v, want none", got)
	}
	var recs []fulfillment.Record
	for i, st := range []fulfillment.Status{fulfillment.Active, fulfillment.FulfillmentStarted, fulfillment.Active,
		fulfillment.Shipped, fulfillment.Deleted, fulfillment.Active, fulfillment.FulfillmentErrored} {
		r, err := s.Put(ctx, fulfillment.Record{UserID: fmt.Sprintf("00u%d", i), Status: st, Step: fulfillment.StepInitiated})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	want := map[fulfillment.Status]int{fulfillment.Active: 3, fulfillment.FulfillmentStarted: 1, fulfillment.Shipped: 1,
		fulfillment.Deleted: 1, fulfillment.FulfillmentErrored: 1}
	if diff := cmp.Diff(want, count(s)); diff != "" {
		t.Errorf("CountByStatus (-want +got):\n%s", diff)
	}
	moved := recs[1]
	moved.Status = fulfillment.Shipped
	if _, err := s.Put(ctx, moved); err != nil {
		t.Fatal(err)
	}
	want[fulfillment.FulfillmentStarted], want[fulfillment.Shipped] = 0, 2
	delete(want, fulfillment.FulfillmentStarted)
	if diff := cmp.Diff(want, count(s)); diff != "" {
		t.Errorf("CountByStatus after a record moved (-want +got):\n%s", diff)
	}
	// The same counts by listing (the fallback for a store that cannot count).
	if diff := cmp.Diff(want, count(listOnly{s})); diff != "" {
		t.Errorf("CountByStatus by listing (-want +got):\n%s", diff)
	}
}

// listOnly hides every method of a store but those of fulfillment.Store.
type listOnly struct{ fulfillment.Store }

// storeListByteOrder checks that user IDs are ordered by their bytes
// (Go's string order), whatever the database's collation would say: paging
// with After depends on it.
func storeListByteOrder(t *testing.T, s fulfillment.Store) {
	ctx := t.Context()
	ids := []string{"00ua", "00uB", "00u_", "00u-", "00uZ", "00uä", "00u10", "00u9", "00U1"}
	for _, id := range ids {
		if _, err := s.Put(ctx, fulfillment.Record{UserID: id, Status: fulfillment.Shipped}); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"00U1", "00u-", "00u10", "00u9", "00uB", "00uZ", "00u_", "00ua", "00uä"}
	got, err := s.List(ctx, fulfillment.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, userIDs(got)); diff != "" {
		t.Errorf("List order (-want +got):\n%s", diff)
	}
	var paged []string
	for after := ""; ; {
		page, err := s.List(ctx, fulfillment.Query{After: after, Limit: 2, InFlight: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, userIDs(page)...)
		after = page[len(page)-1].UserID
	}
	if diff := cmp.Diff(want, paged); diff != "" {
		t.Errorf("List paged by 2 (-want +got):\n%s", diff)
	}
}

// storeEventMarked checks, for a store that is a
// [fulfillment.EventChecker], that EventMarked tells the events MarkEvent
// marked, exactly, without marking any, and refuses invalid IDs.
func storeEventMarked(t *testing.T, s fulfillment.Store) {
	c, ok := s.(fulfillment.EventChecker)
	if !ok {
		t.Skip("the store is not a fulfillment.EventChecker")
	}
	ctx := t.Context()
	marked := func(id string) bool {
		t.Helper()
		got, err := c.EventMarked(ctx, id)
		if err != nil {
			t.Fatalf("EventMarked(%q): %v", id, err)
		}
		return got
	}
	if marked("evt-1") {
		t.Error("EventMarked of an event never marked = true")
	}
	if first, err := s.MarkEvent(ctx, "evt-1", storeT0); err != nil || !first {
		t.Fatalf("MarkEvent after EventMarked = %v, %v; want first: EventMarked must not mark", first, err)
	}
	got := map[string]bool{}
	for _, id := range []string{"evt-1", "EVT-1", "evt-2", "evt-1 "} {
		got[id] = marked(id)
	}
	if diff := cmp.Diff(map[string]bool{"evt-1": true, "EVT-1": false, "evt-2": false, "evt-1 ": false}, got); diff != "" {
		t.Errorf("EventMarked (-want +got):\n%s", diff)
	}
	for _, id := range []string{"", "evt\x00", strings.Repeat("e", fulfillment.MaxIDLen+1)} {
		if _, err := c.EventMarked(ctx, id); err == nil {
			t.Errorf("EventMarked(%q) succeeded, want an error", id)
		}
	}
}

// storeMarkEvent checks that MarkEvent reports an event ID first only the
// first time, compares IDs exactly and refuses invalid IDs.
func storeMarkEvent(t *testing.T, s fulfillment.Store) {
	t0 := storeT0
	ctx := t.Context()
	for _, tc := range []struct {
		id   string
		want bool
	}{{"evt-1", true}, {"evt-1", false}, {"evt-2", true}, {"evt-1", false}, {"EVT-1", true}} {
		got, err := s.MarkEvent(ctx, tc.id, t0)
		if err != nil {
			t.Fatalf("MarkEvent(%q): %v", tc.id, err)
		}
		if got != tc.want {
			t.Errorf("MarkEvent(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
	for _, id := range []string{"", "evt\x00", strings.Repeat("e", fulfillment.MaxIDLen+1)} {
		if _, err := s.MarkEvent(ctx, id, t0); err == nil {
			t.Errorf("MarkEvent(%q) succeeded, want an error", id)
		}
	}
}

// storeConcurrentMarkEvent checks that of concurrent MarkEvent calls
// for one event exactly one reports it first: event hook deliveries of one
// event may reach several instances at once, and exactly one of them may
// handle it.
func storeConcurrentMarkEvent(t *testing.T, s fulfillment.Store) {
	t0 := storeT0
	ctx := t.Context()
	const workers = 8
	var firsts [workers]bool
	errs := concurrently(workers, func(i int) (err error) {
		firsts[i], err = s.MarkEvent(ctx, "evt-race", t0)
		return err
	})
	won := 0
	for i := range workers {
		if errs[i] != nil {
			t.Fatalf("MarkEvent: %v", errs[i])
		}
		if firsts[i] {
			won++
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent MarkEvent calls reported first, want exactly 1", won, workers)
	}
}

// storeConcurrentCAS checks that read-modify-write loops from many
// goroutines lose no update.
func storeConcurrentCAS(t *testing.T, s fulfillment.Store) { CheckConcurrentUpdates(t, "00u1", s) }

// CheckConcurrentUpdates checks that read-modify-write loops from eight
// goroutines, spread over stores, lose no update of the record of userID:
// each goroutine increments the record's Attempts ten times with Get and
// Put, retrying on [fulfillment.ErrVersionConflict], and the record must
// end with every increment and one version per write. Pass one store, or
// several instances of a store sharing one database (each with
// connections of its own) to check that the database, not the instance,
// decides the compare-and-swap. It creates the record through stores[0].
func CheckConcurrentUpdates(t *testing.T, userID string, stores ...fulfillment.Store) {
	t.Helper()
	ctx := t.Context()
	if _, err := stores[0].Put(ctx, fulfillment.Record{UserID: userID, Status: fulfillment.FulfillmentStarted}); err != nil {
		t.Fatal(err)
	}
	const workers, increments = 8, 10
	errs := concurrently(workers, func(w int) error {
		for range increments {
			if err := bumpAttempts(ctx, stores[w%len(stores)], userID); err != nil {
				return err
			}
		}
		return nil
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range stores {
		got, err := s.Get(ctx, userID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Attempts != workers*increments || got.Version != workers*increments+1 {
			t.Errorf("after %d increments: attempts %d version %d, want %d and %d",
				workers*increments, got.Attempts, got.Version, workers*increments, workers*increments+1)
		}
	}
}

// storeConcurrentCASOneWinner checks that of many writers holding the
// same version (or creating the same record) at once, exactly one wins, the
// others get [fulfillment.ErrVersionConflict], and the store holds the
// winner's write.
func storeConcurrentCASOneWinner(t *testing.T, s fulfillment.Store) {
	ctx := t.Context()
	const workers = 8
	race := func(base fulfillment.Record) (winner string) {
		t.Helper()
		errs := concurrently(workers, func(i int) error {
			r := base
			r.Reason = fmt.Sprintf("writer %d", i)
			_, err := s.Put(ctx, r)
			return err
		})
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
				winner = fmt.Sprintf("writer %d", i)
			case !errors.Is(err, fulfillment.ErrVersionConflict):
				t.Fatalf("writer %d: %v, want nil or ErrVersionConflict", i, err)
			}
		}
		if won != 1 {
			t.Fatalf("%d of %d writers of version %d won, want exactly 1", won, workers, base.Version)
		}
		return winner
	}
	base := fulfillment.Record{UserID: "00u1", Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepInitiated}
	for round := range 5 {
		winner := race(base)
		got, err := s.Get(ctx, "00u1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Reason != winner || got.Version != int64(round+1) {
			t.Fatalf("round %d: stored reason %q version %d, want the winner's (%q) at version %d",
				round, got.Reason, got.Version, winner, round+1)
		}
		base = got
	}
}

// storeLeaseHandOver checks the hand-over of a lease: an instance holds a
// lease on an intent; after it expires, a second instance claims the record.
// The store does not read clocks: the claim is a Put of the version the
// claimer read, so the first instance, coming back and writing the version
// it read, loses, and two claimers of one expired lease cannot both win.
func storeLeaseHandOver(t *testing.T, s fulfillment.Store) {
	t0 := storeT0
	ctx := t.Context()
	expired := func(r fulfillment.Record, now time.Time) bool { return !now.Before(r.Lease.Until) }
	a := fulfillment.Record{UserID: "00u1", Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepShipmentCreating,
		Lease: fulfillment.Lease{Owner: "instance-a", Until: t0.Add(2 * time.Minute)}}
	a, err := s.Put(ctx, a)
	if err != nil {
		t.Fatal(err)
	}

	seen, err := s.Get(ctx, "00u1")
	if err != nil {
		t.Fatal(err)
	}
	if seen.Lease.Owner != "instance-a" || !seen.Lease.Until.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("stored lease = %+v, want instance-a's until %v", seen.Lease, t0.Add(2*time.Minute))
	}
	if expired(seen, t0.Add(time.Minute)) {
		t.Fatal("lease expired after one minute of two")
	}
	if !expired(seen, t0.Add(2*time.Minute)) {
		t.Fatal("lease not expired at its Until")
	}

	// Instance b claims the expired lease; instance a, back from a
	// pause, tries to renew with the version it read before.
	claim := seen
	claim.Lease = fulfillment.Lease{Owner: "instance-b", Until: t0.Add(4 * time.Minute)}
	claimed, err := s.Put(ctx, claim)
	if err != nil {
		t.Fatalf("claim by instance-b: %v", err)
	}
	renew := a
	renew.Lease.Until = t0.Add(5 * time.Minute)
	if _, err := s.Put(ctx, renew); !errors.Is(err, fulfillment.ErrVersionConflict) {
		t.Errorf("stale renewal by instance-a: error = %v, want ErrVersionConflict", err)
	}

	// Several instances find b's lease expired at once: one claims it.
	var wg sync.WaitGroup
	const claimers = 6
	var errs [claimers]error
	for i := range claimers {
		c := claimed
		c.Lease = fulfillment.Lease{Owner: fmt.Sprintf("instance-%d", i), Until: t0.Add(10 * time.Minute)}
		wg.Go(func() { _, errs[i] = s.Put(ctx, c) })
	}
	wg.Wait()
	winner := ""
	for i, err := range errs {
		switch {
		case err == nil:
			if winner != "" {
				t.Errorf("instance-%d and %s both claimed the lease", i, winner)
			}
			winner = fmt.Sprintf("instance-%d", i)
		case !errors.Is(err, fulfillment.ErrVersionConflict):
			t.Fatalf("claim by instance-%d: %v", i, err)
		}
	}
	got, err := s.Get(ctx, "00u1")
	if err != nil {
		t.Fatal(err)
	}
	want := fulfillment.Lease{Owner: winner, Until: t0.Add(10 * time.Minute)}
	if diff := cmp.Diff(want, got.Lease); winner == "" || diff != "" {
		t.Errorf("lease after the race (-want +got):\n%s", diff)
	}

	// Releasing the lease (reaching the result step) clears it.
	got.Step, got.Lease = fulfillment.StepShipmentCreated, fulfillment.Lease{}
	if _, err := s.Put(ctx, got); err != nil {
		t.Fatal(err)
	}
	if got, err = s.Get(ctx, "00u1"); err != nil {
		t.Fatal(err)
	}
	if got.Lease != (fulfillment.Lease{}) {
		t.Errorf("lease after release = %+v, want none", got.Lease)
	}
}

// storeCanceledContext checks that Put, Get, List and MarkEvent fail
// with a canceled context, and that a canceled Put stores nothing.
func storeCanceledContext(t *testing.T, s fulfillment.Store) {
	t0 := storeT0
	if _, err := s.Put(t.Context(), fulfillment.Record{UserID: "00u2", Status: fulfillment.FulfillmentStarted}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Put(ctx, fulfillment.Record{UserID: "00u1", Status: fulfillment.FulfillmentStarted}); err == nil {
		t.Error("Put with a canceled context succeeded")
	}
	if _, err := s.Get(ctx, "00u2"); err == nil {
		t.Error("Get with a canceled context succeeded")
	}
	if _, err := s.List(ctx, fulfillment.Query{}); err == nil {
		t.Error("List with a canceled context succeeded")
	}
	if _, err := s.MarkEvent(ctx, "evt-1", t0); err == nil {
		t.Error("MarkEvent with a canceled context succeeded")
	}
	if _, err := s.Get(t.Context(), "00u1"); !errors.Is(err, fulfillment.ErrRecordNotFound) {
		t.Errorf("Get of the record a canceled Put tried to create: error = %v, want ErrRecordNotFound", err)
	}
}

// concurrently calls fn(0) to fn(n-1), each in a goroutine of its own, and
// returns their errors by i once all have returned.
func concurrently(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = fn(i) })
	}
	wg.Wait()
	return errs
}

// userIDs returns the user IDs of rs, in order.
func userIDs(rs []fulfillment.Record) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.UserID)
	}
	return out
}

// bumpAttempts increments the record's Attempts with a read-modify-write
// loop that retries on version conflicts.
func bumpAttempts(ctx context.Context, s fulfillment.Store, userID string) error {
	for {
		r, err := s.Get(ctx, userID)
		if err != nil {
			return err
		}
		r.Attempts++
		_, err = s.Put(ctx, r)
		if !errors.Is(err, fulfillment.ErrVersionConflict) {
			return err
		}
	}
}

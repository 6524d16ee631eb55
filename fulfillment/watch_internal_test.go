package fulfillment

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestWatchersEchoes: the bookkeeping that delivers this Service's own
// writes once. A change the feed reports for a write in flight is held
// until the Put's outcome: dropped if the Put stored it (its echo),
// delivered if the Put lost (another instance's write of that version).
// A change for a write stored earlier is dropped once; any other change
// is delivered, and one of a stopped feed is not. At most echoLimit
// writes are remembered.
func TestWatchersEchoes(t *testing.T) {
	var w watchers
	var got []RecordChange
	w.fns = map[int]subscriber{0: {context.Background(), func(c RecordChange) { got = append(got, c) }}}
	run := &feedRun{stop: func() {}}
	w.feed = run
	rec := func(user string, version int64) Record { return Record{UserID: user, Version: version} }
	heard := func(user string, version int64) RecordChange {
		return RecordChange{UserID: user, Status: FulfillmentStarted, Step: StepInitiated, Version: version}
	}
	remote := func(c RecordChange) RecordChange { c.Remote = true; return c }
	var want []RecordChange

	// Heard while in flight, then stored: an echo.
	k, ok := w.expect(rec("u1", 0))
	if !ok || k != (echoKey{"u1", 1}) {
		t.Fatalf("expect = %v, %v; want u1 at version 1, true", k, ok)
	}
	w.remote(run, heard("u1", 1))
	w.settle(k, true)
	// Heard while in flight, then lost: another instance's write.
	k, _ = w.expect(rec("u2", 3))
	w.remote(run, heard("u2", 4))
	w.settle(k, false)
	want = append(want, remote(heard("u2", 4)))
	// Stored, then heard: an echo, dropped once; heard again (the same
	// version can be written once): delivered.
	k, _ = w.expect(rec("u3", 1))
	w.settle(k, true)
	w.remote(run, heard("u3", 2))
	w.remote(run, heard("u3", 2))
	want = append(want, remote(heard("u3", 2)))
	// Two writers of one version, one stores it: the change is its echo.
	k, _ = w.expect(rec("u4", 1))
	w.expect(rec("u4", 1))
	w.remote(run, heard("u4", 2))
	w.settle(k, false)
	w.settle(k, true)
	// Lost with nothing heard: the change that comes later is delivered.
	k, _ = w.expect(rec("u5", 1))
	w.settle(k, false)
	w.remote(run, heard("u5", 2))
	want = append(want, remote(heard("u5", 2)))
	// A change of a stopped feed: nobody's.
	w.remote(&feedRun{}, heard("u6", 1))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
	if len(w.pending) != 0 || len(w.echoes) != 0 {
		t.Errorf("left %d pending and %d echoes, want none", len(w.pending), len(w.echoes))
	}

	// More stored writes than echoLimit whose echoes never come: the
	// oldest are forgotten (their late echo would be delivered).
	got, want = nil, nil
	for i := range echoLimit + 1 {
		k, _ := w.expect(rec("u7", int64(i)))
		w.settle(k, true)
	}
	if len(w.echoes) != echoLimit || len(w.echoOrder) != echoLimit {
		t.Errorf("%d echoes remembered (%d in order), want %d", len(w.echoes), len(w.echoOrder), echoLimit)
	}
	w.remote(run, heard("u7", 1))           // forgotten
	w.remote(run, heard("u7", echoLimit+1)) // remembered
	want = append(want, remote(heard("u7", 1)))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivered after the limit (-want +got):\n%s", diff)
	}

	// A key stored again after its echo was heard (a record removed and
	// made again, its versions from 1): the old slot, once the oldest,
	// does not forget the new echo.
	got, want = nil, nil
	w.echoes, w.echoOrder = nil, nil
	k, _ = w.expect(rec("u9", 0))
	w.settle(k, true)
	w.remote(run, heard("u9", 1)) // its echo: the slot stays
	k, _ = w.expect(rec("u9", 0))
	w.settle(k, true) // stored again, a new slot
	for i := range echoLimit - 1 {
		k, _ := w.expect(rec("u10", int64(i)))
		w.settle(k, true) // the last pushes the first u9 slot out
	}
	w.remote(run, heard("u9", 1)) // the second write's echo
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivered for a key stored again (-want +got):\n%s", diff)
	}

	// Without a feed nothing is noted.
	w.feed = nil
	if _, ok := w.expect(rec("u8", 0)); ok || len(w.pending) != 0 {
		t.Errorf("expect without a feed noted a write")
	}
}

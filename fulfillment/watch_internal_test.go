package fulfillment

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

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
	w := watchers{feedable: true}
	var got []RecordChange
	w.subs = []*subscriber{{ctx: context.Background(), fn: func(c RecordChange) { got = append(got, c) }}}
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
	w.settle(context.Background(), k, true)
	// Heard while in flight, then lost: another instance's write.
	k, _ = w.expect(rec("u2", 3))
	w.remote(run, heard("u2", 4))
	w.settle(context.Background(), k, false)
	want = append(want, remote(heard("u2", 4)))
	// Stored, then heard: an echo, dropped once; heard again (the same
	// version can be written once): delivered.
	k, _ = w.expect(rec("u3", 1))
	w.settle(context.Background(), k, true)
	w.remote(run, heard("u3", 2))
	w.remote(run, heard("u3", 2))
	want = append(want, remote(heard("u3", 2)))
	// Two writers of one version, one stores it: the change is its echo.
	k, _ = w.expect(rec("u4", 1))
	w.expect(rec("u4", 1))
	w.remote(run, heard("u4", 2))
	w.settle(context.Background(), k, false)
	w.settle(context.Background(), k, true)
	// Lost with nothing heard: the change that comes later is delivered.
	k, _ = w.expect(rec("u5", 1))
	w.settle(context.Background(), k, false)
	w.remote(run, heard("u5", 2))
	want = append(want, remote(heard("u5", 2)))
	// A change of a stopped feed: nobody's.
	w.remote(&feedRun{}, heard("u6", 1))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
	if len(w.pending) != 0 || w.echoes.len() != 0 {
		t.Errorf("left %d pending and %d echoes, want none", len(w.pending), w.echoes.len())
	}

	// More stored writes than echoLimit whose echoes never come: the
	// oldest are forgotten (their late echo would be delivered).
	got, want = nil, nil
	for i := range echoLimit + 1 {
		k, _ := w.expect(rec("u7", int64(i)))
		w.settle(context.Background(), k, true)
	}
	if w.echoes.len() != echoLimit || len(w.echoes.order) != echoLimit {
		t.Errorf("%d echoes remembered (%d in order), want %d", w.echoes.len(), len(w.echoes.order), echoLimit)
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
	w.echoes.reset()
	k, _ = w.expect(rec("u9", 0))
	w.settle(context.Background(), k, true)
	w.remote(run, heard("u9", 1)) // its echo: the slot stays
	k, _ = w.expect(rec("u9", 0))
	w.settle(context.Background(), k, true) // stored again, a new slot
	for i := range echoLimit - 1 {
		k, _ := w.expect(rec("u10", int64(i)))
		w.settle(context.Background(), k, true) // the last pushes the first u9 slot out
	}
	w.remote(run, heard("u9", 1)) // the second write's echo
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivered for a key stored again (-want +got):\n%s", diff)
	}

	// With a Store that is no ChangeFeed nothing is noted.
	w.feed, w.feedable = nil, false
	if _, ok := w.expect(rec("u8", 0)); ok || len(w.pending) != 0 {
		t.Errorf("expect with a Store that has no feed noted a write")
	}
}

// TestWatchersFeedStartsDuringPut: with a Store that is a ChangeFeed, a
// write is noted even while no feed runs. A feed that starts while the
// Put is in flight and reports the Put's change (it listened first) has
// it held, and dropped when the Put stores it: the change is delivered
// once, by the Service that stored it. A write settled before any feed
// started leaves nothing behind.
func TestWatchersFeedStartsDuringPut(t *testing.T) {
	w := watchers{feedable: true}
	var got []RecordChange
	w.subs = []*subscriber{{ctx: context.Background(), fn: func(c RecordChange) { got = append(got, c) }}}
	rec := Record{UserID: "u1", Login: "u1@example.com", Status: FulfillmentStarted, Step: StepInitiating}

	k, ok := w.expect(rec)
	if !ok {
		t.Fatal("expect with no feed running noted nothing")
	}
	run := &feedRun{stop: func() {}}
	w.feed = run // the first Subscribe
	w.remote(run, RecordChange{Resync: true})
	stored := rec
	stored.Version = 1
	w.remote(run, RecordChange{UserID: "u1", Status: FulfillmentStarted, Step: StepInitiating, Version: 1}) // its echo, held
	w.notify(context.Background(), stored, true)
	w.settle(context.Background(), k, true)
	want := []RecordChange{{Remote: true, Resync: true}, {UserID: "u1", Login: "u1@example.com", Status: FulfillmentStarted, Step: StepInitiating, Version: 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}

	w.feed = nil // the last subscriber left
	k, _ = w.expect(stored)
	w.settle(context.Background(), k, true)
	if len(w.pending) != 0 || w.echoes.len() != 0 {
		t.Errorf("a write settled with no feed left %d pending and %d echoes, want none", len(w.pending), w.echoes.len())
	}
}

// TestWatchersDeliverInVersionOrder: a subscriber never gets a version
// of a record after a later one it got. A change the feed reports for a
// write in flight is held until the Put's outcome; a later change of
// the record delivered meanwhile makes the held one stale, and it is
// dropped when the Put loses. A change the feed reports late (its queue
// behind this Service's own writes) is dropped too, and so is a second
// delivery of a version. A removal (Version 0) and a Resync start the
// record's versions over: it may have been removed and made again.
func TestWatchersDeliverInVersionOrder(t *testing.T) {
	w := watchers{feedable: true}
	var got []RecordChange
	w.subs = []*subscriber{{ctx: context.Background(), fn: func(c RecordChange) { got = append(got, c) }}}
	run := &feedRun{stop: func() {}}
	w.feed = run
	heard := func(user string, version int64) RecordChange {
		return RecordChange{UserID: user, Status: FulfillmentStarted, Step: StepInitiated, Version: version}
	}
	remote := func(c RecordChange) RecordChange { c.Remote = true; return c }
	local := func(user string, version int64) RecordChange {
		return RecordChange{UserID: user, Login: user + "@example.com", Status: FulfillmentStarted, Step: StepInitiated, Version: version}
	}
	notify := func(user string, version int64) {
		w.notify(context.Background(), Record{UserID: user, Login: user + "@example.com", Status: FulfillmentStarted, Step: StepInitiated, Version: version}, false)
	}
	var want []RecordChange

	// A write in flight loses to another instance's write of its version,
	// whose next change is delivered before the Put's outcome: the held
	// change is older than the record's last delivered, dropped.
	k, _ := w.expect(Record{UserID: "u1", Version: 0})
	w.remote(run, heard("u1", 1)) // held
	w.remote(run, heard("u1", 2))
	w.remote(run, heard("u2", 1)) // another record: its own versions
	w.settle(context.Background(), k, false)
	want = append(want, remote(heard("u1", 2)), remote(heard("u2", 1)))
	// This Service's own write, then a change of another instance that
	// the feed reports late: dropped; so is a second delivery of a
	// version.
	notify("u3", 5)
	w.remote(run, heard("u3", 4))
	w.remote(run, heard("u3", 5))
	w.remote(run, heard("u3", 6))
	notify("u3", 6)
	want = append(want, local("u3", 5), remote(heard("u3", 6)))
	// A removal starts the record over: version 1 of the new one is
	// delivered.
	w.remote(run, RecordChange{UserID: "u3"})
	w.remote(run, heard("u3", 1))
	want = append(want, RecordChange{UserID: "u3", Remote: true}, remote(heard("u3", 1)))
	// So does a Resync: the removal may have been missed.
	w.remote(run, heard("u3", 2))
	w.remote(run, RecordChange{Resync: true})
	w.remote(run, heard("u3", 1))
	want = append(want, remote(heard("u3", 2)), RecordChange{Remote: true, Resync: true}, remote(heard("u3", 1)))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}

	// At most echoLimit records' last versions are remembered: the record
	// delivered longest ago is forgotten first.
	w.remote(run, RecordChange{Resync: true}) // start over
	w.remote(run, heard("u4", 7))
	got, want = nil, nil
	for i := range echoLimit {
		w.remote(run, heard(fmt.Sprintf("v%d", i), 1))
	}
	if n := w.delivered.len(); n != echoLimit {
		t.Errorf("%d records' versions remembered, want %d", n, echoLimit)
	}
	w.remote(run, heard("u4", 6)) // forgotten: delivered
	w.remote(run, heard("v1", 1)) // remembered: dropped
	want = append(want, remote(heard("u4", 6)))
	if diff := cmp.Diff(want, got[echoLimit:]); diff != "" {
		t.Errorf("delivered after the limit (-want +got):\n%s", diff)
	}
}

// TestWatchersLocalCreationAfterUnreportedRemoval: another instance's
// change of u1 is delivered; an operator removes u1 and, before the feed
// reports the removal, this Service orders u1 anew (its record starts at
// version 1). The new record's changes are delivered, and the removal,
// reported after them, precedes them in the store: it is not delivered
// (the page would show the new order removed); the feed's next change
// of the record, after their echoes, is.
func TestWatchersLocalCreationAfterUnreportedRemoval(t *testing.T) {
	w := watchers{feedable: true}
	var got []RecordChange
	w.subs = []*subscriber{{ctx: context.Background(), fn: func(c RecordChange) { got = append(got, c) }}}
	run := &feedRun{stop: func() {}}
	w.feed = run
	w.remote(run, RecordChange{Resync: true}) // it listens
	rec := func(step Step, version int64) Record {
		return Record{UserID: "u1", Login: "u1@example.com", Status: FulfillmentStarted, Step: step, Version: version}
	}
	local := func(r Record) RecordChange {
		return RecordChange{UserID: r.UserID, Login: r.Login, Status: r.Status, Step: r.Step, Version: r.Version}
	}
	heard := func(r Record) RecordChange { c := local(r); c.Login = ""; return c }
	put := func(r Record) { // this Service's save of r, stored
		prev := r
		prev.Version--
		k, _ := w.expect(prev)
		w.notify(context.Background(), r, true)
		w.settle(context.Background(), k, true)
	}

	old := rec(StepEnrolling, 3)
	w.remote(run, heard(old))
	put(rec(StepInitiating, 1))
	put(rec(StepInitiated, 2))
	w.remote(run, RecordChange{UserID: "u1"}) // the removal, reported late
	w.remote(run, heard(rec(StepInitiating, 1)))
	w.remote(run, heard(rec(StepInitiated, 2)))
	w.remote(run, heard(rec(StepShipmentCreating, 3))) // another instance's, after
	oldC := heard(old)
	oldC.Remote = true
	after := heard(rec(StepShipmentCreating, 3))
	after.Remote = true
	want := []RecordChange{{Remote: true, Resync: true}, oldC, local(rec(StepInitiating, 1)), local(rec(StepInitiated, 2)), after}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
}

// TestWatchersHeldChangeNotAfterResync: a change the feed reports while a
// Put of the same version is in flight is held; the record's next change
// is delivered, then a Resync (an unreadable notification, say: the
// subscribers read the records again). The Put loses: the held change,
// older than what the subscribers read, is not delivered after it.
func TestWatchersHeldChangeNotAfterResync(t *testing.T) {
	w := watchers{feedable: true}
	var got []RecordChange
	w.subs = []*subscriber{{ctx: context.Background(), fn: func(c RecordChange) { got = append(got, c) }}}
	run := &feedRun{stop: func() {}}
	w.feed = run
	heard := func(version int64) RecordChange {
		return RecordChange{UserID: "u1", Status: FulfillmentStarted, Step: StepInitiated, Version: version}
	}
	k, _ := w.expect(Record{UserID: "u1", Version: 1})
	w.remote(run, heard(2)) // held
	w.remote(run, heard(3))
	w.remote(run, RecordChange{Resync: true})
	w.settle(context.Background(), k, false)
	v3 := heard(3)
	v3.Remote = true
	want := []RecordChange{v3, {Remote: true, Resync: true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
}

// TestWatchersAwaitedEchoNotStuck: while the echo of a write of this
// Service is awaited, the feed's other changes of the record are
// dropped; the wait must end even when the echo never comes. It ends at
// a Resync (the feed broke and listens again: the echo may be lost), and
// a write noted before the feed listened (stored, maybe, before it
// listened: no echo), or one not noted (bookkeeping the feed does not
// report), is awaited not at all: the feed's next change of the record
// is delivered.
func TestWatchersAwaitedEchoNotStuck(t *testing.T) {
	w := watchers{feedable: true}
	var got []RecordChange
	w.subs = []*subscriber{{ctx: context.Background(), fn: func(c RecordChange) { got = append(got, c) }}}
	run := &feedRun{stop: func() {}}
	w.feed = run
	rec := func(user string, version int64) Record {
		return Record{UserID: user, Status: FulfillmentStarted, Step: StepInitiated, Version: version}
	}
	change := func(user string, version int64, remote bool) RecordChange {
		return RecordChange{UserID: user, Status: FulfillmentStarted, Step: StepInitiated, Version: version, Remote: remote}
	}
	resync := RecordChange{Remote: true, Resync: true}
	put := func(r Record) { // this Service's save of r, stored
		prev := r
		prev.Version--
		k, _ := w.expect(prev)
		w.notify(context.Background(), r, true)
		w.settle(context.Background(), k, true)
	}

	k, _ := w.expect(rec("u1", 0)) // noted before the feed listened
	w.remote(run, RecordChange{Resync: true})
	w.notify(context.Background(), rec("u1", 1), true) // stored before it listened, or after
	w.settle(context.Background(), k, true)
	w.remote(run, RecordChange{UserID: "u1"})
	put(rec("u2", 1))
	w.broke(run)
	w.remote(run, RecordChange{Resync: true}) // u2's echo was lost
	w.remote(run, change("u2", 2, false))
	w.notify(context.Background(), rec("u3", 1), false)
	w.remote(run, change("u3", 2, false))
	want := []RecordChange{resync, change("u1", 1, false), {UserID: "u1", Remote: true},
		change("u2", 1, false), resync, change("u2", 2, true),
		change("u3", 1, false), change("u3", 2, true)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
}

// panicStore is a Store whose Put panics.
type panicStore struct{ Store }

func (panicStore) Put(context.Context, Record) (Record, error) { panic("fulfillment test: Put") }

// TestSaveSettlesOnPanic: a write noted for its echo is settled when the
// Store's Put panics (recovered by an HTTP server, say): it does not stay
// pending, and the change the feed reports at its version is delivered,
// not held with it forever.
func TestSaveSettlesOnPanic(t *testing.T) {
	s := &Service{store: panicStore{NewMemoryStore()}, now: time.Now}
	s.watch.feedable = true
	var got []RecordChange
	s.watch.subs = []*subscriber{{ctx: context.Background(), fn: func(c RecordChange) { got = append(got, c) }}}
	run := &feedRun{stop: func() {}}
	s.watch.feed = run
	func() {
		defer func() {
			if recover() == nil {
				t.Error("save did not panic")
			}
		}()
		s.save(t.Context(), Record{UserID: "00u1", Status: FulfillmentStarted, Step: StepInitiating}, Change{})
	}()
	if n := len(s.watch.pending); n != 0 {
		t.Errorf("%d writes left pending after a Put that panicked, want none", n)
	}
	c := RecordChange{UserID: "00u1", Status: FulfillmentStarted, Step: StepInitiating, Version: 1}
	s.watch.remote(run, c) // another instance's write of the version
	c.Remote = true
	if diff := cmp.Diff([]RecordChange{c}, got); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
}

// TestWatchersResyncPaced: a Resync that says the feed listens (it
// started or restarted) is delivered at once; one the running feed
// reports (an unreadable notification) less than resyncEvery after the
// last delivered waits until resyncEvery has passed since, and those
// that come meanwhile are delivered with it, once; other changes are not
// held. A restart delivers a Resync at once, and the one that waited is
// not delivered after it.
func TestWatchersResyncPaced(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	w := watchers{feedable: true, clock: func() time.Time { return now }}
	var got []RecordChange
	w.subs = []*subscriber{{ctx: context.Background(), fn: func(c RecordChange) { got = append(got, c) }}}
	run := &feedRun{stop: func() {}}
	w.feed = run
	resync := RecordChange{Remote: true, Resync: true}
	change := RecordChange{UserID: "u1", Status: FulfillmentStarted, Step: StepInitiated, Version: 1}
	remote := change
	remote.Remote = true
	waits := func(wantWait time.Duration) uint64 {
		t.Helper()
		wait, gen := w.remote(run, RecordChange{Resync: true})
		if wait != wantWait {
			t.Errorf("at %v a Resync waits %v, want %v", now.Format(time.StampMilli), wait, wantWait)
		}
		return gen
	}

	waits(0) // the feed listens
	now = now.Add(300 * time.Millisecond)
	gen := waits(700 * time.Millisecond)
	now = now.Add(200 * time.Millisecond)
	waits(0)              // delivered with the one that waits
	w.remote(run, change) // not held
	now = now.Add(500 * time.Millisecond)
	w.dueResync(run, gen)
	w.dueResync(run, gen) // delivered already
	now = now.Add(1500 * time.Millisecond)
	waits(0) // a second after the last: at once
	want := []RecordChange{resync, remote, resync, resync}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}

	got = nil
	now = now.Add(100 * time.Millisecond)
	gen = waits(900 * time.Millisecond)
	w.broke(run)
	waits(0) // the restarted feed listens
	w.dueResync(run, gen)
	if diff := cmp.Diff([]RecordChange{resync}, got); diff != "" {
		t.Errorf("delivered around a restart (-want +got):\n%s", diff)
	}
}

// plainStore is a Store that is no ChangeFeed.
type plainStore struct{ Store }

// TestFlushPanicDeliversToOthers: a subscriber's fn panics in the middle
// of a delivery (after it stored a change of its own, queued). The
// subscribers after it still get the change being delivered, and every
// change queued is delivered by the next delivery, in order; the one that
// panicked gets the changes after.
func TestFlushPanicDeliversToOthers(t *testing.T) {
	var w watchers
	change := func(user string) RecordChange { return RecordChange{UserID: user, Version: 1} }
	notify := func(user string) { w.notify(context.Background(), Record{UserID: user, Version: 1}, false) }
	var gotA, gotB []RecordChange
	panicked := false
	w.subs = []*subscriber{
		{ctx: context.Background(), fn: func(c RecordChange) {
			gotA = append(gotA, c)
			if !panicked {
				panicked = true
				notify("u3") // queued: this delivery runs
				panic("fulfillment test: fn")
			}
		}},
		{ctx: context.Background(), fn: func(c RecordChange) { gotB = append(gotB, c) }},
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the delivery did not panic")
			}
		}()
		notify("u1")
	}()
	notify("u2")
	if diff := cmp.Diff([]RecordChange{change("u1"), change("u3"), change("u2")}, gotA); diff != "" {
		t.Errorf("delivered to the subscriber that panicked (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]RecordChange{change("u1"), change("u3"), change("u2")}, gotB); diff != "" {
		t.Errorf("delivered to the other subscriber (-want +got):\n%s", diff)
	}
}

// TestSubscribePanicLeavesNoSubscriber: a fn that panics on the Resync
// Subscribe delivers (the feed listens): Subscribe panics and returns no
// cancel, so it leaves no subscriber behind (it would be called until
// the process ends, and keep the feed running).
func TestSubscribePanicLeavesNoSubscriber(t *testing.T) {
	s := &Service{store: NewMemoryStore(), now: time.Now}
	stopped := false
	s.watch.feed = &feedRun{stop: func() { stopped = true }, listening: true}
	first := &subscriber{ctx: context.Background(), fn: func(RecordChange) {}}
	s.watch.subs = []*subscriber{first}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Subscribe did not panic")
			}
		}()
		s.Subscribe(ctx, func(RecordChange) { panic("fulfillment test: fn") })
	}()
	if len(s.watch.subs) != 1 || s.watch.subs[0] != first {
		t.Errorf("%d subscribers after a Subscribe that panicked, want the first only", len(s.watch.subs))
	}
	if stopped {
		t.Error("the feed stopped: the first subscriber is still there")
	}
}

// TestFlushTakesChangesQueuedMeanwhile: while one goroutine delivers,
// another stores a change: it is queued (the other's call returns at
// once), and the goroutine that delivers delivers it before its own call
// returns.
func TestFlushTakesChangesQueuedMeanwhile(t *testing.T) {
	var w watchers
	var got []RecordChange
	w.subs = []*subscriber{{ctx: context.Background(), fn: func(c RecordChange) {
		got = append(got, c)
		if c.UserID == "u1" {
			done := make(chan struct{})
			go func() {
				defer close(done)
				w.notify(context.Background(), Record{UserID: "u2", Version: 1}, false)
			}()
			<-done // returns without delivering: this delivery runs
		}
	}}}
	w.notify(context.Background(), Record{UserID: "u1", Version: 1}, false)
	want := []RecordChange{{UserID: "u1", Version: 1}, {UserID: "u2", Version: 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivered before the first notify returned (-want +got):\n%s", diff)
	}
	if w.delivering || len(w.queue) != 0 {
		t.Errorf("after the delivery: delivering %v, %d queued; want false, none", w.delivering, len(w.queue))
	}
}

// TestCancelWhileAnotherGoroutineDelivers: while a goroutine delivers a
// change (in the first subscriber's fn), the test's goroutine cancels the
// second subscriber and stores a change (queued). Once cancel has
// returned, the second subscriber is called with neither: not the change
// being delivered, nor the one queued.
func TestCancelWhileAnotherGoroutineDelivers(t *testing.T) {
	s := &Service{store: plainStore{NewMemoryStore()}, now: time.Now}
	inFirst, proceed := make(chan struct{}), make(chan struct{})
	var first, second []RecordChange
	cancelFirst := s.Subscribe(t.Context(), func(c RecordChange) {
		first = append(first, c)
		if c.UserID == "u1" {
			close(inFirst)
			<-proceed
		}
	})
	defer cancelFirst()
	cancelSecond := s.Subscribe(t.Context(), func(c RecordChange) { second = append(second, c) })
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.watch.notify(context.Background(), Record{UserID: "u1", Version: 1}, false)
	}()
	<-inFirst
	cancelSecond()
	s.watch.notify(context.Background(), Record{UserID: "u2", Version: 1}, false) // queued
	close(proceed)
	<-done
	want := []RecordChange{{UserID: "u1", Version: 1}, {UserID: "u2", Version: 1}}
	if diff := cmp.Diff(want, first); diff != "" {
		t.Errorf("delivered to the first subscriber (-want +got):\n%s", diff)
	}
	if len(second) != 0 {
		t.Errorf("the cancelled subscriber got %+v, want nothing", second)
	}
}

// TestWatchersResyncPacedClockBack: Config.Clock steps back (a wall
// clock corrected) after a Resync was delivered: a Resync the running
// feed reports then waits no more than resyncEvery, not until the clock
// is back at the last one's second.
func TestWatchersResyncPacedClockBack(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	w := watchers{feedable: true, clock: func() time.Time { return now }}
	var got []RecordChange
	w.subs = []*subscriber{{ctx: context.Background(), fn: func(c RecordChange) { got = append(got, c) }}}
	run := &feedRun{stop: func() {}}
	w.feed = run
	w.remote(run, RecordChange{Resync: true}) // the feed listens
	now = now.Add(-time.Hour)
	wait, gen := w.remote(run, RecordChange{Resync: true})
	if wait <= 0 || wait > resyncEvery {
		t.Errorf("after the clock stepped back an hour a Resync waits %v, want at most %v", wait, resyncEvery)
	}
	w.dueResync(run, gen)
	want := []RecordChange{{Remote: true, Resync: true}, {Remote: true, Resync: true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
}

// heldLocks returns the users whose lock s's lock map holds.
func heldLocks(s *Service) []string {
	s.locksMu.Lock()
	defer s.locksMu.Unlock()
	var out []string
	for u := range s.locks {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

// TestLockDeliversAtUnlock: the changes written under a user's lock are
// queued, and delivered by its unlock once the user is released (fn may
// lock the same user); a lock taken under the context of another (nested)
// leaves the delivery to the outer unlock. A write under no lock
// delivers at once.
func TestLockDeliversAtUnlock(t *testing.T) {
	s := &Service{store: plainStore{NewMemoryStore()}, now: time.Now, locks: map[string]*userLock{}}
	var got []RecordChange
	s.Subscribe(t.Context(), func(c RecordChange) {
		got = append(got, c)
		if held := heldLocks(s); len(held) != 0 {
			t.Errorf("fn called with %v locked, want no lock", held)
		} else if c.UserID == "u1" {
			_, unlock := s.lock(t.Context(), c.UserID) // the same user, from fn
			unlock()
		}
	})
	change := func(user string) RecordChange { return RecordChange{UserID: user, Version: 1} }
	ctx, unlock := s.lock(t.Context(), "u1")
	s.watch.notify(ctx, Record{UserID: "u1", Version: 1}, false)
	inner, unlockInner := s.lock(ctx, "u2")
	s.watch.notify(inner, Record{UserID: "u2", Version: 1}, false)
	unlockInner()
	if len(got) != 0 {
		t.Fatalf("delivered under the lock: %+v", got)
	}
	if diff := cmp.Diff([]string{"u1"}, heldLocks(s)); diff != "" {
		t.Errorf("locked after the inner unlock (-want +got):\n%s", diff)
	}
	unlock()
	if diff := cmp.Diff([]RecordChange{change("u1"), change("u2")}, got); diff != "" {
		t.Errorf("delivered by the unlock (-want +got):\n%s", diff)
	}
	s.watch.notify(t.Context(), Record{UserID: "u3", Version: 1}, false)
	if diff := cmp.Diff([]RecordChange{change("u1"), change("u2"), change("u3")}, got); diff != "" {
		t.Errorf("delivered by a write under no lock (-want +got):\n%s", diff)
	}
	if held := heldLocks(s); len(held) != 0 || s.watch.delivering || len(s.watch.queue) != 0 {
		t.Errorf("after the deliveries: %v locked, delivering %v, %d queued; want none, false, none",
			held, s.watch.delivering, len(s.watch.queue))
	}
}

// TestLockUnlockPanics: a subscriber panics in the delivery of an unlock.
// The user is released all the same (the lock map empty, the lock free
// to take), and the change still queued is delivered by the next
// delivery, in order.
func TestLockUnlockPanics(t *testing.T) {
	s := &Service{store: plainStore{NewMemoryStore()}, now: time.Now, locks: map[string]*userLock{}}
	var got []RecordChange
	s.Subscribe(t.Context(), func(c RecordChange) {
		got = append(got, c)
		if len(got) == 1 {
			panic("fulfillment test: fn")
		}
	})
	ctx, unlock := s.lock(t.Context(), "u1")
	s.watch.notify(ctx, Record{UserID: "u1", Version: 1}, false)
	s.watch.notify(ctx, Record{UserID: "u1", Version: 2}, false)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the unlock did not panic")
			}
		}()
		unlock()
	}()
	if held := heldLocks(s); len(held) != 0 {
		t.Fatalf("%v locked after the unlock panicked, want none", held)
	}
	if s.watch.delivering || len(s.watch.queue) != 1 {
		t.Errorf("after the panic: delivering %v, %d queued; want false, 1", s.watch.delivering, len(s.watch.queue))
	}
	ctx, unlock = s.lock(t.Context(), "u1") // free again
	s.watch.notify(ctx, Record{UserID: "u1", Version: 3}, false)
	unlock()
	want := []RecordChange{{UserID: "u1", Version: 1}, {UserID: "u1", Version: 2}, {UserID: "u1", Version: 3}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
}

// TestLockEchoLeavesQueue: while a write made under a record lock waits
// for its unlock, the feed reporting its echo queues nothing and delivers
// nothing: the unlock delivers the change, in its goroutine. A change the
// feed does deliver (another instance's) takes the changes queued before
// it along, in order.
func TestLockEchoLeavesQueue(t *testing.T) {
	s := &Service{store: plainStore{NewMemoryStore()}, now: time.Now, locks: map[string]*userLock{}}
	s.watch.feedable = true
	run := &feedRun{stop: func() {}, listening: true}
	s.watch.feed = run
	var got []RecordChange
	s.watch.subs = []*subscriber{{ctx: context.Background(), fn: func(c RecordChange) { got = append(got, c) }}}
	local := func(user string) RecordChange {
		return RecordChange{UserID: user, Login: user + "@example.com", Version: 1}
	}
	remote := func(user string) RecordChange { return RecordChange{UserID: user, Version: 1, Remote: true} }

	ctx, unlock := s.lock(t.Context(), "u1")
	k, _ := s.watch.expect(Record{UserID: "u1"})
	s.watch.notify(ctx, Record{UserID: "u1", Login: "u1@example.com", Version: 1}, true)
	s.watch.remote(run, RecordChange{UserID: "u1", Version: 1}) // the echo, before the Put returns
	s.watch.settle(ctx, k, true)
	if len(got) != 0 {
		t.Fatalf("delivered before the unlock: %+v", got)
	}
	unlock()
	if diff := cmp.Diff([]RecordChange{local("u1")}, got); diff != "" {
		t.Errorf("delivered by the unlock (-want +got):\n%s", diff)
	}

	got = nil
	ctx, unlock = s.lock(t.Context(), "u2")
	s.watch.notify(ctx, Record{UserID: "u2", Login: "u2@example.com", Version: 1}, false)
	s.watch.remote(run, RecordChange{UserID: "u3", Version: 1}) // another instance's
	if diff := cmp.Diff([]RecordChange{local("u2"), remote("u3")}, got); diff != "" {
		t.Errorf("delivered with another instance's change (-want +got):\n%s", diff)
	}
	unlock()
	if len(got) != 2 || len(s.watch.queue) != 0 {
		t.Errorf("after the unlock: %d delivered, %d queued; want 2, none", len(got), len(s.watch.queue))
	}
}

package fulfillmenttest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
)

// feedWatcher is one WatchChanges call of a conformance case: the changes
// it reported and, once it returned, its error.
type feedWatcher struct {
	changes chan fulfillment.RecordChange
	done    chan error
}

// watchFeed calls WatchChanges in a goroutine until ctx ends, and waits
// for the Resync that says the feed listens.
func watchFeed(t *testing.T, ctx context.Context, feed fulfillment.ChangeFeed) *feedWatcher {
	t.Helper()
	w := &feedWatcher{changes: make(chan fulfillment.RecordChange, 64), done: make(chan error, 1)}
	go func() {
		w.done <- feed.WatchChanges(ctx, func(c fulfillment.RecordChange) {
			select {
			case w.changes <- c:
			case <-ctx.Done():
			}
		})
	}()
	if got := w.next(t); got != (fulfillment.RecordChange{Resync: true}) {
		t.Fatalf("the feed's first change = %+v, want only Resync set", got)
	}
	return w
}

// next returns the next change the feed reported.
func (w *feedWatcher) next(t *testing.T) fulfillment.RecordChange {
	t.Helper()
	wait, cancel := context.WithTimeout(t.Context(), 30*time.Second) // bounds a broken feed's wait
	defer cancel()
	select {
	case c := <-w.changes:
		return c
	case err := <-w.done:
		t.Fatalf("WatchChanges returned %v before the change came", err)
	case <-wait.Done():
		t.Fatal("no change reported within 30 s")
	}
	return fulfillment.RecordChange{}
}

// storeChangeFeed checks a [fulfillment.ChangeFeed]: a first change with
// Resync set once it listens; then, to two watchers alike and in the
// order stored, a change (user, status, step, version; no login) for a
// create, a Put that adds a history entry, one that changes the status
// alone and one that changes the step alone, and none for a Put that does
// neither (a claim, a lease or a next check) or a Put that fails;
// WatchChanges returns nil once its context ends, at once for a context
// already ended. It skips for a store that is not one.
func storeChangeFeed(t *testing.T, s fulfillment.Store) {
	feed, ok := s.(fulfillment.ChangeFeed)
	if !ok {
		t.Skipf("the store (%T) does not implement fulfillment.ChangeFeed", s)
	}
	ended, end := context.WithCancel(t.Context())
	end()
	if err := feed.WatchChanges(ended, func(c fulfillment.RecordChange) {
		t.Errorf("WatchChanges of an ended context reported %+v", c)
	}); err != nil {
		t.Errorf("WatchChanges of an ended context = %v, want nil", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	watchers := []*feedWatcher{watchFeed(t, ctx, feed), watchFeed(t, ctx, feed)}

	t0 := storeT0
	put := func(r fulfillment.Record) fulfillment.Record {
		t.Helper()
		out, err := s.Put(t.Context(), r)
		if err != nil {
			t.Fatalf("Put of %s at version %d: %v", r.UserID, r.Version, err)
		}
		return out
	}
	change := func(r fulfillment.Record) fulfillment.RecordChange {
		return fulfillment.RecordChange{UserID: r.UserID, Status: r.Status, Step: r.Step, Version: r.Version}
	}
	var want []fulfillment.RecordChange

	r := put(fulfillment.Record{UserID: "00u1", Login: "ada@example.com", Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepInitiated,
		CreatedAt: t0, UpdatedAt: t0, History: []fulfillment.Change{{At: t0, Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepInitiated}}})
	want = append(want, change(r)) // a create
	r.Claim = fulfillment.Lease{Owner: "svc-a", Until: t0.Add(time.Minute)}
	r = put(r) // a claim: not reported
	stale := r
	r.Lease = fulfillment.Lease{Owner: "svc-a", Until: t0.Add(2 * time.Minute)}
	r.NextCheck, r.UpdatedAt = t0.Add(time.Hour), t0.Add(time.Second)
	r = put(r) // a lease and a next check: not reported
	stale.Reason = "lost the race"
	stale.History = append(stale.History, fulfillment.Change{At: t0, Status: fulfillment.FulfillmentErrored, Step: fulfillment.StepErrored})
	if _, err := s.Put(t.Context(), stale); !errors.Is(err, fulfillment.ErrVersionConflict) {
		t.Fatalf("a stale Put: %v, want ErrVersionConflict", err) // and not reported
	}
	r.Step = fulfillment.StepEnrolling
	r.History = append(r.History, fulfillment.Change{At: t0, Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepEnrolling, Key: "k1"})
	r = put(r)
	want = append(want, change(r)) // a history entry
	r.Status = fulfillment.FulfillmentErrored
	r = put(r)
	want = append(want, change(r)) // the status alone
	r.Step = fulfillment.StepErrored
	r = put(r)
	want = append(want, change(r)) // the step alone
	r2 := put(fulfillment.Record{UserID: "00u2", Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepInitiating, CreatedAt: t0, UpdatedAt: t0})
	want = append(want, change(r2)) // another create, no history

	for i, w := range watchers {
		var got []fulfillment.RecordChange
		for range want {
			got = append(got, w.next(t))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("watcher %d: the changes reported (-want +got):\n%s", i, diff)
		}
	}
	cancel()
	for i, w := range watchers {
		select {
		case err := <-w.done:
			if err != nil {
				t.Errorf("watcher %d: WatchChanges after its context ended = %v, want nil", i, err)
			}
		case <-time.After(30 * time.Second): // bounds a feed that does not end
			t.Fatalf("watcher %d: WatchChanges did not return after its context ended", i)
		}
	}
}

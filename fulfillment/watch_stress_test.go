package fulfillment_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"

	"github.com/preenroll/preenroll/fulfillment"
)

// TestSubscriberCallsSameRecordUnderLoad: a subscriber that reads the
// record of every change it is told about with Status (which takes that
// record's lock, and may write), while orders, Sync passes and a second
// instance sharing the store (its changes come from the feed) work on the
// same users concurrently: nothing deadlocks, and for each user the last
// change delivered has the status and step the store holds at the end (no
// change is left queued).
func TestSubscriberCallsSameRecordUnderLoad(t *testing.T) {
	ctx := t.Context()
	var names, logins []string
	for i := range 6 {
		names = append(names, fmt.Sprintf("user%d", i))
		logins = append(logins, names[i]+"@example.com")
	}
	w, listened, ids := feedWorld(t, append(names, "zed")...)
	zed := ids[len(names)]
	cfg := w.Config
	cfg.Rand = nil                     // a source of its own
	other, err := fulfillment.New(cfg) // a second instance: shares the store and the fakes
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	last := map[string]fulfillment.RecordChange{}
	statusErrs := 0
	zedSeen := make(chan struct{})
	w.Service.Subscribe(ctx, func(c fulfillment.RecordChange) { // until the test ends
		if c.Resync || c.Version == 0 {
			return
		}
		if c.UserID == zed {
			if c.Step == fulfillment.StepInitiated {
				close(zedSeen)
			}
			return
		}
		mu.Lock()
		last[c.UserID] = c
		mu.Unlock()
		if _, err := w.Service.Status(ctx, c.UserID); err != nil {
			mu.Lock()
			statusErrs++
			mu.Unlock()
		}
	})
	bounded(t, listened, "the feed listens")
	if err := await(t, "orders and passes whose subscriber reads each record", func() error {
		var g errgroup.Group
		for i, l := range logins {
			svc := w.Service
			if i%2 == 1 {
				svc = other
			}
			g.Go(func() error {
				_, err := svc.Order(ctx, w.User(l).ID)
				return err
			})
		}
		for range 3 {
			g.Go(func() error { _, err := w.Service.Sync(ctx); return err })
			g.Go(func() error { _, err := other.Sync(ctx); return err })
		}
		return g.Wait()
	}); err != nil {
		t.Fatal(err)
	}
	// The other instance orders for zed: once its change comes through
	// the feed, every change stored before it has been delivered.
	if _, err := other.Order(ctx, zed); err != nil {
		t.Fatal(err)
	}
	bounded(t, zedSeen, "the other instance's order for zed, from the feed")
	type state struct {
		Status fulfillment.Status
		Step   fulfillment.Step
	}
	want, got := map[string]state{}, map[string]state{}
	for _, l := range logins {
		rec := w.Status(ctx, l)
		want[rec.UserID] = state{rec.Status, rec.Step}
	}
	mu.Lock()
	defer mu.Unlock()
	for id, c := range last {
		got[id] = state{c.Status, c.Step}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("last change delivered of each user vs the store (-store +delivered):\n%s", diff)
	}
	if statusErrs != 0 {
		t.Errorf("%d Status calls from fn failed", statusErrs)
	}
}

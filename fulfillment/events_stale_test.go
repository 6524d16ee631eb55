package fulfillment

import (
	"testing"
	"time"
)

// TestRecordEventAfterDelete: Okta publishes one event per order; when it
// delivers the event of an order after the order was deleted (a delayed
// delivery or a retry), the event must not order the key again. An event
// published after the deletion is a new order.
func TestRecordEventAfterDelete(t *testing.T) {
	t.Parallel()
	cfg := offlineConfig(t)
	ids, _ := withEventOrg(t, &cfg, "gone", "again", "same")
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	deletedAt := t0.Add(-time.Hour)
	for _, name := range []string{"gone", "again", "same"} {
		if _, err := cfg.Store.Put(ctx, Record{UserID: ids[name], Login: name + "@example.com", Status: Deleted,
			Items: []Item{cfg.Defaults}, CreatedAt: deletedAt.Add(-time.Hour), UpdatedAt: deletedAt}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name      string
		ev        HookEvent
		want      EventOutcome
		wantState Status
	}{
		{"published before the deletion", HookEvent{ID: "ev-old", UserID: ids["gone"], Published: deletedAt.Add(-time.Minute)}, EventStale, Deleted},
		{"the same event again", HookEvent{ID: "ev-old", UserID: ids["gone"], Published: deletedAt.Add(-time.Minute)}, EventStale, Deleted},
		// On a fake clock that stands still (Order, then Delete, then the
		// order's own event delivered) the event and the deletion share
		// an instant: the event is the deleted order's.
		{"published at the deletion's instant", HookEvent{ID: "ev-same", UserID: ids["same"], Published: deletedAt}, EventStale, Deleted},
		{"published after the deletion", HookEvent{ID: "ev-new", UserID: ids["again"], Published: deletedAt.Add(time.Minute)}, EventRecorded, FulfillmentStarted},
	} {
		out, err := s.RecordEvent(ctx, tc.ev)
		if err != nil || out != tc.want {
			t.Errorf("%s: RecordEvent = %v, %v; want %v", tc.name, out, err, tc.want)
		}
		rec, err := cfg.Store.Get(ctx, tc.ev.UserID)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Status != tc.wantState {
			t.Errorf("%s: record status %s, want %s", tc.name, rec.Status, tc.wantState)
		}
	}
	if got := EventStale.String(); got != "stale" {
		t.Errorf("EventStale.String() = %q", got)
	}
}

package serve

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
)

// TestRemoteOrderWakeIsJittered: an order of this instance wakes the
// Sync loop at once; another instance's order (from the store's change
// feed) wakes it after a random delay of up to 1 s (-sync-jitter if
// shorter; none with no jitter), so that the syncing instances do not
// all start their pass, and claim, at the same moment. Orders that come
// while a delayed wake waits are coalesced into it; one after it has
// fired waits again. Other steps and a Resync wake nothing.
func TestRemoteOrderWakeIsJittered(t *testing.T) {
	local := fulfillment.RecordChange{UserID: "00u1", Login: "ada@example.com", Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepInitiated, Version: 2}
	remote := fulfillment.RecordChange{UserID: "00u2", Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepInitiated, Version: 2, Remote: true}
	other := remote
	other.Step = fulfillment.StepEnrolling
	resync := fulfillment.RecordChange{Remote: true, Resync: true}
	const fire = "fire" // the pending delayed wake's time comes
	type step struct {
		What   string
		Change *fulfillment.RecordChange // nil: fire
		Woken  bool                      // the loop was woken
		Drawn  time.Duration             // the bound of the delay drawn (0: none)
		Delay  time.Duration             // the delayed wake scheduled (0: none)
	}
	for _, tc := range []struct {
		name   string
		jitter time.Duration
		steps  []step
	}{
		{"default jitter", DefaultSyncJitter, []step{
			{What: "this instance's order", Change: &local, Woken: true},
			{What: "another step", Change: &other},
			{What: "a resync", Change: &resync},
			{What: "another instance's order", Change: &remote, Drawn: time.Second, Delay: 700 * time.Millisecond},
			{What: "another while it waits", Change: &remote},
			{What: "this instance's order while it waits", Change: &local, Woken: true},
			{What: fire, Woken: true},
			{What: "another instance's order after", Change: &remote, Drawn: time.Second, Delay: 700 * time.Millisecond},
			{What: fire, Woken: true},
		}},
		{"a shorter jitter", 200 * time.Millisecond, []step{
			{What: "another instance's order", Change: &remote, Drawn: 200 * time.Millisecond, Delay: 140 * time.Millisecond},
			{What: fire, Woken: true},
		}},
		{"no jitter", 0, []step{
			{What: "another instance's order", Change: &remote, Woken: true},
			{What: "another", Change: &remote, Woken: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var drawn, delay time.Duration
			var pending func()
			s := &server{kick: make(chan struct{}, 1), cfg: Config{SyncJitter: tc.jitter,
				remoteWakeRand: func(n time.Duration) time.Duration { drawn = n; return n * 7 / 10 },
				afterFunc: func(d time.Duration, f func()) {
					if pending != nil {
						t.Errorf("a delayed wake scheduled while one waits")
					}
					delay, pending = d, f
				}}}
			var got []step
			for _, st := range tc.steps {
				drawn, delay = 0, 0
				if st.Change == nil {
					if f := pending; f != nil {
						pending = nil
						f()
					}
				} else {
					s.recordChanged(*st.Change)
				}
				woken := false
				select {
				case <-s.kick:
					woken = true
				default:
				}
				got = append(got, step{What: st.What, Change: st.Change, Woken: woken, Drawn: drawn, Delay: delay})
			}
			if diff := cmp.Diff(tc.steps, got); diff != "" {
				t.Errorf("wakes (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFreedWait: after a pass that found a record held by another
// instance, the loop waits only until the hold ends (and a second), if
// that comes before its interval; not after a failed pass.
func TestFreedWait(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	held := fulfillment.SyncReport{Busy: 1, BusyUntil: now.Add(10 * time.Second)}
	for _, tc := range []struct {
		name string
		wait time.Duration
		rep  fulfillment.SyncReport
		err  error
		want time.Duration
	}{
		{"nothing held", 5 * time.Minute, fulfillment.SyncReport{}, nil, 5 * time.Minute},
		{"a lease ending in 10s", 5 * time.Minute, held, nil, 11 * time.Second},
		{"the interval comes first", 5 * time.Second, held, nil, 5 * time.Second},
		{"a failed pass backs off", time.Minute, held, errors.New("store down"), time.Minute},
	} {
		if got := freedWait(tc.wait, tc.rep, tc.err, now); got != tc.want {
			t.Errorf("%s: freedWait = %v, want %v", tc.name, got, tc.want)
		}
	}
}

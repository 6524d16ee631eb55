package fulfillment

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// oneTick is a Ticker the test fires once; Stop closes stopped.
type oneTick struct {
	c       chan time.Time
	stopped chan struct{}
}

func (o oneTick) C() <-chan time.Time { return o.c }
func (o oneTick) Stop()               { close(o.stopped) }

// TestRunWakerJittersRemoteOrders: an order this Service recorded wakes
// Run at once; another instance's order (from the store's change feed)
// wakes it after a random delay of up to RemoteWakeDelay (1 s by default;
// at once when negative), on a ticker from Config.NewTicker, so that the
// instances do not all start their pass, and claim, at the same moment.
// Orders heard while a delayed wake waits are coalesced into it; one
// after it has fired waits again. Other steps and a Resync wake nothing;
// the end of Run's context ends a delayed wake without waking.
func TestRunWakerJittersRemoteOrders(t *testing.T) {
	local := RecordChange{UserID: "00u1", Login: "ada@example.com", Status: FulfillmentStarted, Step: StepInitiated, Version: 2}
	remote := RecordChange{UserID: "00u2", Status: FulfillmentStarted, Step: StepInitiated, Version: 2, Remote: true}
	other := remote
	other.Step = StepEnrolling
	resync := RecordChange{Remote: true, Resync: true}
	const fire, end = "fire", "end" // the pending delayed wake's time comes; Run's context ends
	type step struct {
		What   string
		Change *RecordChange // nil: fire or end
		Woken  bool          // Run was woken
		Drawn  time.Duration // the bound of the delay drawn (0: none)
		Delay  time.Duration // the delayed wake's ticker (0: none)
	}
	for _, tc := range []struct {
		name  string
		bound time.Duration // RunOptions.RemoteWakeDelay
		steps []step
	}{
		{"default delay", 0, []step{
			{What: "this instance's order", Change: &local, Woken: true},
			{What: "another step", Change: &other},
			{What: "a resync", Change: &resync},
			{What: "another instance's order", Change: &remote, Drawn: time.Second, Delay: 700 * time.Millisecond},
			{What: "another while it waits", Change: &remote},
			{What: "this instance's order while it waits", Change: &local, Woken: true},
			{What: fire, Woken: true},
			{What: "another instance's order after", Change: &remote, Drawn: time.Second, Delay: 700 * time.Millisecond},
			{What: fire, Woken: true},
			{What: "another instance's order before the end", Change: &remote, Drawn: time.Second, Delay: 700 * time.Millisecond},
			{What: end},
		}},
		{"a shorter delay", 200 * time.Millisecond, []step{
			{What: "another instance's order", Change: &remote, Drawn: 200 * time.Millisecond, Delay: 140 * time.Millisecond},
			{What: fire, Woken: true},
		}},
		{"none", -1, []step{
			{What: "another instance's order", Change: &remote, Woken: true},
			{What: "another", Change: &remote, Woken: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var drawn, delay time.Duration
			var pending *oneTick
			s := &Service{kick: make(chan struct{}, 1), newTicker: func(d time.Duration) Ticker {
				if pending != nil {
					t.Errorf("a delayed wake scheduled while one waits")
				}
				delay, pending = d, &oneTick{c: make(chan time.Time), stopped: make(chan struct{})}
				return *pending
			}}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			waker := s.runWaker(ctx, tc.bound, func(n time.Duration) time.Duration { drawn = n; return n * 7 / 10 })
			var got []step
			for _, st := range tc.steps {
				drawn, delay = 0, 0
				switch {
				case st.Change != nil:
					waker(*st.Change)
				case pending == nil:
					t.Fatalf("%s: no delayed wake waits", st.What)
				case st.What == fire:
					p := pending
					pending = nil
					p.c <- time.Time{}
					<-p.stopped // its wake is made before the ticker stops
				default: // end
					p := pending
					pending = nil
					cancel()
					<-p.stopped
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

func TestBackoff(t *testing.T) {
	tests := []struct {
		interval time.Duration
		failed   int
		limit    time.Duration
		want     time.Duration
	}{
		{200 * time.Millisecond, 0, time.Minute, 200 * time.Millisecond},
		{200 * time.Millisecond, 1, time.Minute, 400 * time.Millisecond},
		{200 * time.Millisecond, 3, time.Minute, 1600 * time.Millisecond},
		{200 * time.Millisecond, 8, time.Minute, 51200 * time.Millisecond},
		{200 * time.Millisecond, 9, time.Minute, time.Minute},
		{200 * time.Millisecond, 1000, time.Minute, time.Minute},
		{5 * time.Minute, 0, time.Minute, 5 * time.Minute},
		{5 * time.Minute, 4, time.Minute, 5 * time.Minute}, // an interval over the limit is not stretched
		{40 * time.Second, 1, time.Minute, time.Minute},
		{time.Second, 5, 0, time.Second}, // no limit: no backoff
	}
	for _, tt := range tests {
		if got := backoff(tt.interval, tt.failed, tt.limit); got != tt.want {
			t.Errorf("backoff(%v, %d, %v) = %v, want %v", tt.interval, tt.failed, tt.limit, got, tt.want)
		}
	}
}

// TestFreedFirst: after a pass that found a record held by another
// instance, a paced Run waits only until the hold ends (and a second), if
// that comes before its wait; not after a failed pass.
func TestFreedFirst(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	held := SyncReport{Busy: 1, BusyUntil: now.Add(10 * time.Second)}
	for _, tc := range []struct {
		name string
		wait time.Duration
		rep  SyncReport
		err  error
		want time.Duration
	}{
		{"nothing held", 5 * time.Minute, SyncReport{}, nil, 5 * time.Minute},
		{"a lease ending in 10s", 5 * time.Minute, held, nil, 11 * time.Second},
		{"the wait ends first", 5 * time.Second, held, nil, 5 * time.Second},
		{"a failed pass backs off", time.Minute, held, errors.New("store down"), time.Minute},
	} {
		if got := freedFirst(tc.wait, tc.rep, tc.err, now); got != tc.want {
			t.Errorf("%s: freedFirst = %v, want %v", tc.name, got, tc.want)
		}
	}
}

package okta

import (
	"testing"
	"time"

	"github.com/preenroll/preenroll/internal/httpclient"
)

// A client alone in its bucket sees no other clients when Okta changes the
// bucket's limit in the middle of a window (Okta raises and lowers limits
// without notice): Remaining under the old limit is not comparable with
// Remaining under the new one, the count of requests used is.
func TestPaceLimitChangeMidWindowIsNotOthers(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	reset := t0.Add(60 * time.Second)
	for _, tc := range []struct {
		name           string
		limit1, limit2 int
		wantRemaining  int
	}{
		{"raised", 20, 40, 38},
		{"lowered", 40, 20, 18},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := pace{pending: 2} // two requests of this client in flight
			p.pending--
			p.observe(t0, RateLimit{Limit: tc.limit1, Remaining: tc.limit1 - 1, Reset: reset}, reset.Unix(), 1)
			p.pending--
			p.observe(t0, RateLimit{Limit: tc.limit2, Remaining: tc.limit2 - 2, Reset: reset}, reset.Unix(), 1)
			if p.others != 0 || p.gap != 0 {
				t.Errorf("alone: others %d, gap %d; want 0, 0", p.others, p.gap)
			}
			if p.rep.Remaining != tc.wantRemaining || p.remaining != tc.wantRemaining {
				t.Errorf("Remaining %d (pacing by %d), want %d: 2 of %d used", p.rep.Remaining, p.remaining, tc.wantRemaining, tc.limit2)
			}
		})
	}
}

// Others' requests held back never exceed what a window holds: when Okta
// lowers the limit below what other clients sent between two answers in an
// earlier window, the client still sends in the next window (and its
// answer lets it learn the new window's state) instead of waiting for
// every reset forever.
func TestPaceLowerLimitDoesNotStall(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const window = 60 * time.Second
	obs := func(p *pace, at time.Duration, limit, remaining int, reset time.Duration) {
		r := t0.Add(reset)
		p.observe(t0.Add(at), RateLimit{Limit: limit, Remaining: remaining, Reset: r}, r.Unix(), 1)
	}
	var p pace
	// Window 1, limit 100: another client sends 68 between two answers.
	obs(&p, 0, 100, 99, window)
	obs(&p, time.Second, 100, 30, window)
	if p.gap != 68 {
		t.Fatalf("gap %d, want 68", p.gap)
	}
	// Window 2: the client's first answer says Okta lowered the limit to 50.
	if w, _ := p.admit(t0.Add(window), 1, true); w != 0 {
		t.Fatalf("first request of window 2 waits %v", w)
	}
	p.pending--
	obs(&p, window, 50, 49, 2*window)
	// However long the client asks, a request goes within two windows.
	now := t0.Add(window)
	for range 100 {
		w, why := p.admit(now, 1, true)
		if w == 0 {
			if late := now.Sub(t0.Add(window)); late > 2*window {
				t.Errorf("the next request went %v after window 2 began, want within two windows", late)
			}
			return
		}
		if why != httpclient.WaitReset && why != httpclient.WaitPacing {
			t.Fatalf("wait %v for %v", w, why)
		}
		now = now.Add(w)
	}
	t.Errorf("no request admitted in %v after the limit fell to 50 (staleness %d): the client stalls", now.Sub(t0), p.staleness())
}

// What other clients sent is counted per window: a late answer from the
// previous window does not count as this window's, and the previous
// window's others are not the baseline of this window's gap.
func TestPaceOthersPerWindow(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	obs := func(p *pace, at time.Duration, remaining int, reset time.Duration) {
		r := t0.Add(reset)
		p.observe(t0.Add(at), RateLimit{Limit: 20, Remaining: remaining, Reset: r}, r.Unix(), 1)
	}
	t.Run("a late answer from the previous window", func(t *testing.T) {
		t.Parallel()
		var p pace
		obs(&p, 2*time.Second, 19, 4*time.Second)
		obs(&p, 2*time.Second, 12, 2*time.Second) // late: its request counted in the window before
		// 5 fewer, one of them this client's answer: 4 others'.
		obs(&p, 3*time.Second, 14, 4*time.Second)
		if p.others != 4 || p.gap != 4 {
			t.Errorf("others %d, gap %d; want 4, 4", p.others, p.gap)
		}
	})
	t.Run("the previous window's others", func(t *testing.T) {
		t.Parallel()
		var p pace
		obs(&p, 0, 10, 2*time.Second) // 9 others' before this client's first answer
		obs(&p, 2*time.Second, 19, 4*time.Second)
		obs(&p, 3*time.Second, 15, 4*time.Second)
		if p.others != 3 || p.gap != 3 || p.gapLast != 0 {
			t.Errorf("others %d, gap %d, gapLast %d; want 3, 3, 0", p.others, p.gap, p.gapLast)
		}
	})
}

package okta

import (
	"math"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/internal/httpclient"
)

// paceStep is one event in a bucket's life: a response's rate-limit headers
// (observe), a 429 (refuse), an answer without headers (done) or a request
// asking to go (admit, with the decision it must get).
type paceStep struct {
	at         time.Duration // since t0
	op         string        // "observe", "refuse", "done", "admit"
	limit      int
	remaining  int
	reset      time.Duration         // X-Rate-Limit-Reset − t0 (whole seconds)
	localLate  time.Duration         // how much later than reset this response's local estimate is (Date's resolution)
	wait       time.Duration         // refuse: the 429's wait; admit: the wait wanted
	why        httpclient.WaitReason // admit: why it waits (none without a wait)
	n          int                   // admit: how many times (default 1), each with the same decision
	headerless bool                  // refuse: the 429 had no X-Rate-Limit-* headers
	answers    int                   // observe: how many of this client's requests the report answers (default 1)
}

func TestPaceDecisions(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// gap is the wait for the next token at rate (avail+1)/left.
	gap := func(avail int, left time.Duration) time.Duration {
		return time.Duration(math.Ceil(left.Seconds() / float64(avail+1) * float64(time.Second)))
	}
	tests := []struct {
		name    string
		reserve int
		pace    bool
		steps   []paceStep
	}{
		{"nothing known: requests go at once", 1, true, []paceStep{
			{op: "admit", n: 5},
		}},
		{"a fresh window: a second's worth at once, then evenly over the time to the reset", 1, true, []paceStep{
			{op: "admit"},
			{at: 20 * time.Millisecond, op: "done"}, // its answer:
			{at: 20 * time.Millisecond, op: "observe", limit: 600, remaining: 599, reset: 60 * time.Second},
			// The burst: 600 requests / 60 s × 1 s, rounded: 10.
			{at: 20 * time.Millisecond, op: "admit", n: 10},
			// 599 left − 10 in flight − 1 reserved = 588, and the next
			// window's first share the 59.98 s left.
			{at: 20 * time.Millisecond, op: "admit", wait: gap(588, 59980*time.Millisecond), why: httpclient.WaitPacing},
		}},
		{"answers free their requests' places", 1, true, []paceStep{
			{op: "observe", limit: 60, remaining: 3, reset: 60 * time.Second, answers: 57},
			{op: "admit", n: 1},
			// 3 − 1 in flight − 1 reserved = 1 left, but no token yet.
			{op: "admit", wait: gap(1, 60*time.Second), why: httpclient.WaitPacing},
			{at: gap(1, 60*time.Second), op: "admit"},
			// 3 − 2 − 1 = 0 left: wait for the reset.
			{at: 31 * time.Second, op: "admit", wait: 29 * time.Second, why: httpclient.WaitReset},
			{at: 31 * time.Second, op: "done"},
			{at: 31 * time.Second, op: "done"},
			{at: 31 * time.Second, op: "observe", limit: 60, remaining: 1, reset: 60 * time.Second, answers: 2},
			// 1 − 0 − 1 = 0 left.
			{at: 31 * time.Second, op: "admit", wait: 29 * time.Second, why: httpclient.WaitReset},
		}},
		{"reserve 0 uses the last request", 0, true, []paceStep{
			{op: "observe", limit: 60, remaining: 1, reset: 60 * time.Second},
			{op: "admit"},
			{op: "admit", wait: 60 * time.Second, why: httpclient.WaitReset},
		}},
		{"the reserve is left unused", 5, true, []paceStep{
			{op: "observe", limit: 60, remaining: 5, reset: 60 * time.Second},
			{at: time.Second, op: "admit", wait: 59 * time.Second, why: httpclient.WaitReset},
		}},
		{"at the reset the next window starts at the full rate", 1, true, []paceStep{
			// This client spent the window alone.
			{op: "observe", limit: 120, remaining: 0, reset: 60 * time.Second, answers: 120},
			{at: 10 * time.Second, op: "admit", wait: 50 * time.Second, why: httpclient.WaitReset},
			// Assumed: 120 requests, a 60 s window from now; the burst is
			// 120 / 60 s × 1 s = 2.
			{at: 60 * time.Second, op: "admit", n: 2},
			{at: 60 * time.Second, op: "admit", wait: gap(120-2-1, 60*time.Second), why: httpclient.WaitPacing},
		}},
		{"the lowest remaining and the earliest reset of a window count", 0, true, []paceStep{
			{op: "observe", limit: 60, remaining: 2, reset: 60 * time.Second, localLate: 900 * time.Millisecond},
			{op: "observe", limit: 60, remaining: 5, reset: 60 * time.Second, localLate: 100 * time.Millisecond},
			{op: "admit", n: 1},
			{op: "admit", wait: gap(1, 60100*time.Millisecond), why: httpclient.WaitPacing},
			{op: "done"},
			{op: "observe", limit: 60, remaining: 0, reset: 60 * time.Second, localLate: 500 * time.Millisecond},
			{op: "admit", wait: 60100 * time.Millisecond, why: httpclient.WaitReset},
		}},
		{"a late answer from the previous window changes nothing", 0, true, []paceStep{
			{op: "observe", limit: 60, remaining: 0, reset: 60 * time.Second},
			{at: 61 * time.Second, op: "observe", limit: 60, remaining: 59, reset: 121 * time.Second},
			{at: 61 * time.Second, op: "observe", limit: 60, remaining: 0, reset: 60 * time.Second},
			{at: 61 * time.Second, op: "admit"},
		}},
		{"a 429 holds every request until its wait is over", 1, true, []paceStep{
			{op: "observe", limit: 60, remaining: 50, reset: 60 * time.Second},
			{at: 10 * time.Second, op: "refuse", limit: 60, reset: 30 * time.Second, wait: 21 * time.Second},
			{at: 20 * time.Second, op: "admit", wait: 11 * time.Second, why: httpclient.WaitRateLimited},
			{at: 31 * time.Second, op: "admit"},
		}},
		{"Okta's concurrency 429 (limit 0) blocks, then the window goes on", 0, true, []paceStep{
			{op: "observe", limit: 60, remaining: 1, reset: 60 * time.Second},
			{op: "refuse", limit: 0, reset: 2 * time.Second, wait: 3 * time.Second},
			{at: time.Second, op: "admit", wait: 2 * time.Second, why: httpclient.WaitRateLimited},
			{at: 3 * time.Second, op: "admit"},
			// The window's last request is gone: wait for its reset.
			{at: 3 * time.Second, op: "admit", wait: 57 * time.Second, why: httpclient.WaitReset},
		}},
		{"a 429 without headers ends the window it knows", 0, true, []paceStep{
			{op: "observe", limit: 60, remaining: 30, reset: 60 * time.Second},
			{at: 10 * time.Second, op: "refuse", headerless: true},
			{at: 10 * time.Second, op: "admit", wait: 50 * time.Second, why: httpclient.WaitReset},
		}},
		{"alone: answers and requests in flight account for the drop, nothing more is held back", 1, true, []paceStep{
			{op: "admit"},
			{op: "done"},
			{op: "observe", limit: 20, remaining: 19, reset: 2 * time.Second},
			{op: "admit", n: 3}, // from the burst of 10
			{op: "done"},
			// 4 counted: 2 answered, 2 in flight.
			{op: "observe", limit: 20, remaining: 16, reset: 2 * time.Second},
			{op: "done"},
			{op: "observe", limit: 20, remaining: 16, reset: 2 * time.Second},
			{op: "done"},
			{op: "observe", limit: 20, remaining: 16, reset: 2 * time.Second},
			// 16 − 1 reserved = 15 left: the rest of the burst goes at
			// once, the others are paced.
			{op: "admit", n: 7},
			{op: "admit", wait: gap(15-7, 2*time.Second), why: httpclient.WaitPacing},
		}},
		{"as many requests as other clients sent between two answers are held back, not the reserve besides", 1, true, []paceStep{
			{op: "observe", limit: 20, remaining: 19, reset: 2 * time.Second},
			// Its next answer, 4 fewer: 3 were another client's.
			{op: "observe", limit: 20, remaining: 15, reset: 2 * time.Second},
			// 15 − max(1 reserved, 3 others') = 12: the burst (10) goes,
			// the other two are paced.
			{op: "admit", n: 10},
			{op: "admit", wait: gap(2, 2*time.Second), why: httpclient.WaitPacing},
			{at: 1500 * time.Millisecond, op: "done", n: 10},
			{at: 1500 * time.Millisecond, op: "observe", limit: 20, remaining: 5, reset: 2 * time.Second, answers: 10},
			// 5 − 3 = 2 left, though Remaining says 5 and the reserve is 1.
			{at: 1500 * time.Millisecond, op: "admit", n: 2},
			{at: 1500 * time.Millisecond, op: "admit", wait: 500 * time.Millisecond, why: httpclient.WaitReset},
		}},
		{"the first answer of a window is not a gap: what others spent before it is not held back", 1, true, []paceStep{
			// 10 spent in the window, 1 of them this client's.
			{op: "observe", limit: 20, remaining: 10, reset: 2 * time.Second},
			// 10 − 1 reserved = 9, the burst spent down to them.
			{op: "admit", n: 9},
			{op: "admit", wait: 2 * time.Second, why: httpclient.WaitReset},
		}},
		{"after a window others drew from, the next starts with one request, not a burst", 1, true, []paceStep{
			{op: "observe", limit: 20, remaining: 10, reset: 2 * time.Second},
			{at: 2 * time.Second, op: "admit"},
			// Assumed: 20 − 1 in flight − 1 reserved = 18 over the next 2 s.
			{at: 2 * time.Second, op: "admit", wait: gap(18, 2*time.Second), why: httpclient.WaitPacing},
			{at: 2010 * time.Millisecond, op: "done"},
			// Its answer: others had spent 6 of the new window.
			{at: 2010 * time.Millisecond, op: "observe", limit: 20, remaining: 13, reset: 4 * time.Second},
			// Still paced (no burst): 13 − 1 = 12 over the 1.99 s left.
			{at: 2010 * time.Millisecond, op: "admit", wait: gap(12, 1990*time.Millisecond) - 10*time.Millisecond, why: httpclient.WaitPacing},
		}},
		{"others' gap is held back for one more window, then forgotten", 0, true, []paceStep{
			{op: "observe", limit: 20, remaining: 19, reset: 2 * time.Second},
			{op: "observe", limit: 20, remaining: 16, reset: 2 * time.Second},
			// A new window, alone in it so far: the last window's gap of 2 still holds.
			{at: 2 * time.Second, op: "observe", limit: 20, remaining: 3, reset: 4 * time.Second, answers: 17},
			{at: 2 * time.Second, op: "admit"},
			{at: 2 * time.Second, op: "admit", wait: 2 * time.Second, why: httpclient.WaitReset},
			{at: 2 * time.Second, op: "done"},
			// The next window, alone again: nothing held back.
			{at: 4 * time.Second, op: "observe", limit: 20, remaining: 2, reset: 6 * time.Second, answers: 18},
			{at: 4 * time.Second, op: "admit", n: 2},
			{at: 4 * time.Second, op: "admit", wait: 2 * time.Second, why: httpclient.WaitReset},
		}},
		{"a 429 after this client's own requests: it was alone, the next window starts with its burst", 0, true, []paceStep{
			// 20 of 20 used: 19 answered, 1 still in flight.
			{op: "admit", n: 21},
			{op: "done", n: 19},
			{op: "observe", limit: 20, remaining: 0, reset: 2 * time.Second, answers: 19},
			{op: "done"}, // the 21st: refused
			{op: "refuse", limit: 20, reset: 2 * time.Second, wait: 2 * time.Second},
			{op: "done"},
			{op: "observe", limit: 20, remaining: 0, reset: 2 * time.Second},
			{at: 2 * time.Second, op: "admit", n: 10},
		}},
		{"a 429 where this client left one request: another took it, the next window starts with one request", 0, true, []paceStep{
			{op: "observe", limit: 20, remaining: 1, reset: 2 * time.Second, answers: 19},
			{op: "refuse", limit: 20, reset: 2 * time.Second, wait: 2 * time.Second},
			{at: 2 * time.Second, op: "admit"},
			// Assumed: 20 − 1 in flight − max(0 reserved, 1 others') = 18
			// over the next 2 s.
			{at: 2 * time.Second, op: "admit", wait: gap(18, 2*time.Second), why: httpclient.WaitPacing},
		}},
		{"a window seen only through a 429 was others'", 0, true, []paceStep{
			{op: "refuse", limit: 20, reset: 2 * time.Second, wait: 2 * time.Second},
			{at: 2 * time.Second, op: "admit"},
			{at: 2 * time.Second, op: "admit", wait: gap(19, 2*time.Second), why: httpclient.WaitPacing},
		}},
		{"pacing off: requests go at once, even when none is left", 1, false, []paceStep{
			{op: "observe", limit: 60, remaining: 0, reset: 60 * time.Second},
			{op: "admit", n: 3},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var p pace
			type decision struct {
				Step int
				Wait time.Duration
				Why  httpclient.WaitReason
			}
			var got, want []decision
			for i, s := range tc.steps {
				now := t0.Add(s.at)
				rl := RateLimit{Limit: s.limit, Remaining: s.remaining, Reset: t0.Add(s.reset + s.localLate)}
				resetUnix := t0.Add(s.reset).Unix()
				switch s.op {
				case "observe":
					p.observe(now, rl, resetUnix, max(s.answers, 1))
				case "refuse":
					if s.headerless {
						p.refused(now, RateLimit{}, 0, false, s.wait)
					} else {
						p.refused(now, rl, resetUnix, true, s.wait)
					}
				case "done":
					p.pending -= max(s.n, 1)
				case "admit":
					for range max(s.n, 1) {
						w, why := p.admit(now, tc.reserve, tc.pace)
						got = append(got, decision{i, w, why})
						want = append(want, decision{i, s.wait, s.why})
					}
				default:
					t.Fatalf("step %d: unknown op %q", i, s.op)
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("decisions (-want +got):\n%s", diff)
			}
		})
	}
}

// Rate-limit headers reach the pacer through done, for every bucket apart:
// a report, a 429 and an answer without headers.
func TestPacerDone(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var pc pacer
	h := func(limit, remaining string, reset time.Duration) http.Header {
		return http.Header{
			"Date":                   {t0.Format(http.TimeFormat)},
			"X-Rate-Limit-Limit":     {limit},
			"X-Rate-Limit-Remaining": {remaining},
			"X-Rate-Limit-Reset":     {strconv.FormatInt(t0.Add(reset).Unix(), 10)},
		}
	}
	if w, _, _ := pc.admit("a", t0, 0, true); w != 0 {
		t.Fatalf("first admit waits %v", w)
	}
	pc.done("a", t0, h("10", "0", 40*time.Second), false)
	if w, _, rl := pc.admit("a", t0, 0, true); w != 40*time.Second || rl != (RateLimit{Limit: 10, Remaining: 0, Reset: t0.Add(40 * time.Second)}) {
		t.Errorf("admit after an exhausting report: wait %v, state %+v; want 40s and the report", w, rl)
	}
	if w, _, _ := pc.admit("b", t0, 0, true); w != 0 {
		t.Errorf("another bucket waits %v; buckets are apart", w)
	}
	pc.done("b", t0, h("10", "0", 20*time.Second), true)
	if w, why, _ := pc.admit("b", t0, 0, true); w != 21*time.Second || why != httpclient.WaitRateLimited {
		t.Errorf("admit after a 429: wait %v (%v), want the reset plus a second (rate-limited)", w, why)
	}
	if _, ok := pc.rateLimit("c"); ok {
		t.Error("a bucket never answered has a rate limit")
	}
}

// A report of more requests left than the window's limit is read as the
// limit: the pacer never paces by more than a window holds.
func TestParseRateLimitRemainingAboveLimit(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		limit, remaining string
		want             RateLimit
		ok               bool
	}{
		{"600", "599", RateLimit{Limit: 600, Remaining: 599, Reset: t0.Add(time.Minute)}, true},
		{"600", "5000", RateLimit{Limit: 600, Remaining: 600, Reset: t0.Add(time.Minute)}, true},
		{"0", "3", RateLimit{Limit: 0, Remaining: 0, Reset: t0.Add(time.Minute)}, true},
		{"600", "-1", RateLimit{}, false},
	} {
		h := http.Header{
			"Date":                   {t0.Format(http.TimeFormat)},
			"X-Rate-Limit-Limit":     {tc.limit},
			"X-Rate-Limit-Remaining": {tc.remaining},
			"X-Rate-Limit-Reset":     {strconv.FormatInt(t0.Add(time.Minute).Unix(), 10)},
		}
		got, ok := parseRateLimit(h, t0)
		if ok != tc.ok || !got.Reset.Equal(tc.want.Reset) || got.Limit != tc.want.Limit || got.Remaining != tc.want.Remaining {
			t.Errorf("Limit %s, Remaining %s: got %+v, %v; want %+v, %v", tc.limit, tc.remaining, got, ok, tc.want, tc.ok)
		}
	}
}

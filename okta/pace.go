package okta

import (
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/preenroll/preenroll/internal/httpclient"
)

// pacer spreads each rate-limit bucket's requests over what is left of its
// window, from the X-Rate-Limit-* headers of the responses, instead of
// sending until Okta answers 429 and then sleeping. A Client has one pacer,
// shared by every goroutine and every route that draws from a bucket.
//
// The headers say what is left for everyone using the org's bucket (other
// processes included), so each client that paces by them slows down as the
// others draw from the bucket: together they stay within the limit. What a
// client knows of Remaining is old by the requests the others sent since
// its last answer, so when the headers show other clients (see
// pace.others) it holds back that many (or its reserve, if more), and it
// starts each new window with one request, whose answer tells it what the
// others have already spent, instead of a burst.
type pacer struct {
	mu      sync.Mutex
	buckets map[string]*pace // guarded by mu
}

// pace is the pacing state of one bucket.
type pace struct {
	// rep is what Okta reported for the current window: its latest limit,
	// the Remaining of the response that counted the most requests used
	// (Limit − Remaining; with one limit, the lowest) and the earliest local estimate of its reset (each
	// response's estimate is late by up to a second, as X-Rate-Limit-Reset
	// and Date have one-second resolution, never early). Client.RateLimit
	// returns it.
	rep       RateLimit
	reported  bool
	resetUnix int64 // X-Rate-Limit-Reset of rep's window: tells windows apart

	// The window pacing works with: rep's or, once rep's reset has passed,
	// the next one as assumed by roll until a response reports it.
	remaining int
	reset     time.Time     // zero: nothing known, requests are not paced
	rolled    bool          // remaining and reset are roll's assumption
	window    time.Duration // the longest reset − now reported: the window's length
	blocked   time.Time     // after a 429: nothing is sent before it
	pending   int           // admitted requests not answered yet
	tokens    float64       // requests that may go at once (a token bucket refilled at the pacing rate)
	refilled  time.Time     // when tokens were last refilled

	// Other clients of the bucket, as the headers show them. In rep's
	// window: answered counts this client's answers, others is the fewest
	// requests other clients can have sent (Limit − Remaining, less this
	// client's answered and pending requests: a lower bound; 0 when the
	// client is alone, unless Okta counted requests of its own whose
	// answers it never read, see countOthers), and gap the most of those
	// that fell between two of its answers. gapLast is the gap of the
	// window answered before rep's: windows without answers (an idle
	// client) do not move them.
	answered, others, gap int
	gapLast               int
}

// tokenSlack absorbs float rounding: after waiting the computed time a
// token is there, not 0.9999999 of one.
const tokenSlack = 1e-9

// admit decides whether one more request may go at now. It returns 0 and
// counts the request as pending (every admitted request must be followed
// by one call of done), or how long to wait before asking again and why:
// httpclient.WaitPacing for a token of the pacing rate, httpclient.WaitReset
// for the window's reset (nothing left in it), httpclient.WaitRateLimited
// for a 429's wait (the caller adds jitter). With pace false it admits at
// once and only counts.
//
// Pacing: the requests left for this client in the window, avail =
// remaining − pending − max(reserve, staleness), and the next window's first request share
// the time to the reset evenly, a rate of (avail+1)/(reset−now); a token
// bucket at that rate, holding at most a second's worth of the window's
// limit and never more than avail, lets that many go at once. With avail
// at 0 the request waits for the reset. At the reset the next window
// starts at its full rate (see roll).
func (p *pace) admit(now time.Time, reserve int, pace bool) (wait time.Duration, why httpclient.WaitReason) {
	if pace && now.Before(p.blocked) {
		return p.blocked.Sub(now), httpclient.WaitRateLimited
	}
	if pace && !p.reset.IsZero() && !now.Before(p.reset) {
		p.roll(now)
	}
	if !pace || p.reset.IsZero() {
		p.pending++
		return 0, httpclient.WaitUnknown
	}
	avail := p.remaining - p.pending - max(reserve, p.staleness())
	if avail <= 0 {
		return p.reset.Sub(now), httpclient.WaitReset
	}
	rate := float64(avail+1) / p.reset.Sub(now).Seconds() // requests per second
	p.tokens = min(p.tokens+rate*now.Sub(p.refilled).Seconds(), p.burst(), float64(avail))
	p.refilled = now
	if p.tokens >= 1-tokenSlack {
		p.tokens = max(p.tokens-1, 0)
		p.pending++
		return 0, httpclient.WaitUnknown
	}
	return max(time.Duration(math.Ceil((1-p.tokens)/rate*float64(time.Second))), 1), httpclient.WaitPacing
}

// staleness is how many requests other clients may have sent that the
// last Remaining does not show yet: the most they sent between two of
// this client's answers in this window or the last one it had answers
// in. The client leaves
// that many unused (its reserve, if more), or it and the others would
// spend the same last requests of a window, each seeing them free.
//
// The reserve is not added to it: the requests a client leaves are there
// for the others' unseen ones, so max is enough. With two processes
// sharing a bucket of 100 requests per 10 s (BenchmarkOrderBatchTwoProcesses,
// BENCHMARKS.md), reserve + staleness used 0.960–0.977 of the windows and
// max(reserve, staleness) 0.977–0.990, both with no 429.
//
// It is at most Limit − 1, what others can send between two answers in a
// window of the current limit: a gap seen under a higher limit, before
// Okta lowered it, would otherwise leave nothing to send in every window,
// and with no answer to end it the client would wait for ever.
func (p *pace) staleness() int {
	return min(max(p.gap, p.gapLast), max(p.rep.Limit-1, 0))
}

// burst is how many requests may go at once: a second's worth of the
// window's limit at its full rate, at least one.
func (p *pace) burst() float64 {
	if p.window <= 0 || p.rep.Limit <= 0 {
		return 1
	}
	return max(1, math.Round(float64(p.rep.Limit)*float64(time.Second)/float64(p.window)))
}

// roll starts the window after the one that reset: until a response
// reports it, it is assumed to hold the full limit and to last as long as
// the longest window seen, from now (the latest it can reset if it starts
// now, so pacing over it is never too fast). Without a limit or a window
// length to go by, nothing is known: the next response tells.
//
// If other clients drew from the ending window, the new one starts with
// one request rather than a burst: the others may have started it
// already (each client learns of a reset up to a second late), and that
// request's answer says how much of it they spent; the next follows at
// the pacing rate.
func (p *pace) roll(now time.Time) {
	p.rolled = true
	if p.rep.Limit <= 0 || p.window <= 0 {
		p.reset = time.Time{}
		return
	}
	p.remaining = p.rep.Limit
	p.reset = now.Add(p.window)
	p.tokens, p.refilled = p.burst(), now
	if p.others > 0 {
		p.tokens = min(p.tokens, 1)
	}
}

// observe takes the rate-limit headers of a response received at now:
// answers is how many of this client's requests it answers that Okta
// counted, 1 for an answer, 0 for a 429 (Okta refused the request). Both
// tell what other clients spent (see countOthers): a 429 says the window
// is spent, and what this client did not spend of it, others did.
func (p *pace) observe(now time.Time, rl RateLimit, resetUnix int64, answers int) {
	if resetUnix <= 0 || rl.Reset.IsZero() {
		// No reset to pace by: keep the report for Client.RateLimit only.
		if !p.reported || p.resetUnix == 0 {
			p.rep, p.reported = rl, true
		}
		return
	}
	p.window = max(p.window, rl.Reset.Sub(now))
	first := false
	switch {
	case !p.reported || resetUnix > p.resetUnix: // a new window
		first = true
		p.rep, p.reported, p.resetUnix = rl, true, resetUnix
		if p.reset.IsZero() {
			p.tokens, p.refilled = p.burst(), now
		}
		p.remaining, p.reset, p.rolled = rl.Remaining, rl.Reset, false
		p.blocked = time.Time{}
		p.gapLast = p.gap
		p.answered, p.others, p.gap = 0, 0, 0
	case resetUnix == p.resetUnix: // the same window: the most requests used and earliest reset are the truest
		// Used is Limit − Remaining: with one Limit the lowest Remaining
		// wins, and it stays comparable when Okta changes the limit
		// mid-window (it raises and lowers limits without notice), where
		// a Remaining under the old limit would read as others' requests.
		used := max(p.rep.Limit-p.rep.Remaining, rl.Limit-rl.Remaining)
		p.rep.Limit = rl.Limit
		p.rep.Remaining = max(rl.Limit-used, 0)
		if rl.Reset.Before(p.rep.Reset) {
			p.rep.Reset = rl.Reset
		}
		if !p.rolled {
			p.remaining, p.reset = p.rep.Remaining, p.rep.Reset
		}
	default: // An older window's response, arriving late, says nothing new.
		return
	}
	p.answered += answers
	p.countOthers(first)
}

// countOthers updates others and gap from rep after a response (an answer
// or a 429), the window's first if first. Okta has counted at most
// answered + pending of this client's requests in the window (those
// answered in it, and at most those still in flight; not a refused one),
// so Limit − Remaining less those is a lower bound on the
// others' requests: a request of this client that Okta counted but whose
// answer the client never read (a transport error or cancelled call after
// Okta counted it, a response without usable X-Rate-Limit-* headers)
// counts as another's, which only makes the client more careful.
func (p *pace) countOthers(first bool) {
	others := p.rep.Limit - p.rep.Remaining - p.answered - p.pending
	if others > p.others {
		if !first { // the window's first response has none before it
			p.gap = max(p.gap, others-p.others)
		}
		p.others = others
	}
}

// refused takes a 429 received at now that asked to wait wait (ok says
// it carried X-Rate-Limit-* headers, rl and resetUnix): nothing goes before
// then. A rate 429 also ends the window: no request is left in it, and
// after the wait a new one is assumed (see roll). A 429 with
// X-Rate-Limit-Limit 0 is Okta's concurrency limit: it says nothing about
// the bucket's window, which goes on after the wait.
func (p *pace) refused(now time.Time, rl RateLimit, resetUnix int64, ok bool, wait time.Duration) {
	if ok && rl.Limit > 0 {
		rl.Remaining = 0
		p.observe(now, rl, resetUnix, 0)
	}
	if until := now.Add(wait); until.After(p.blocked) {
		p.blocked = until
	}
	switch {
	case ok && rl.Limit == 0:
		return
	case ok: // its reset is the freshest word on the window's
		p.reset = p.blocked
	case p.reset.Before(p.blocked):
		p.reset = p.blocked
	}
	p.remaining, p.tokens, p.rolled = 0, 0, false
}

// bucket returns the state of bucket, creating it. The caller holds mu.
func (pc *pacer) bucket(name string) *pace {
	if pc.buckets == nil {
		pc.buckets = make(map[string]*pace)
	}
	p := pc.buckets[name]
	if p == nil {
		p = &pace{}
		pc.buckets[name] = p
	}
	return p
}

// admit is [pace.admit] for bucket; rl is the bucket's last report, for
// the caller's error message.
func (pc *pacer) admit(bucket string, now time.Time, reserve int, pace bool) (wait time.Duration, why httpclient.WaitReason, rl RateLimit) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	p := pc.bucket(bucket)
	wait, why = p.admit(now, reserve, pace)
	return wait, why, p.rep
}

// done ends an admitted request of bucket at now: h is its response's
// header (nil when no response came) and tooMany says it was a 429.
func (pc *pacer) done(bucket string, now time.Time, h http.Header, tooMany bool) {
	// The headers are parsed before taking mu, which every request of
	// every bucket takes.
	var (
		rl        RateLimit
		ok        bool
		resetUnix int64
		wait      time.Duration
	)
	if h != nil {
		rl, ok = parseRateLimit(h, now)
		resetUnix, _ = parseReset(h)
		if tooMany {
			wait, _ = rateLimitWait(h, now)
		}
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	p := pc.bucket(bucket)
	p.pending = max(p.pending-1, 0)
	switch {
	case h == nil:
	case tooMany:
		p.refused(now, rl, resetUnix, ok, wait)
	case ok:
		p.observe(now, rl, resetUnix, 1)
	}
}

// rateLimit returns bucket's last report.
func (pc *pacer) rateLimit(bucket string) (RateLimit, bool) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	p := pc.buckets[bucket]
	if p == nil || !p.reported {
		return RateLimit{}, false
	}
	return p.rep, true
}

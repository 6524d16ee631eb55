package okta

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/preenroll/preenroll/internal/httpclient"
	"github.com/preenroll/preenroll/internal/oktarate"
)

// Clock tells the time and waits. The client uses it for rate-limit and
// backoff waits; tests inject one that advances instantly (the fake org's,
// oktatest.Server.Client, moves its clock instead of sleeping). It has the
// methods of yubico.Clock, so one value serves both clients.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Sleep waits d. It must return ctx.Err() when ctx is done before d
	// has passed. The default clock's Sleep also refuses at once a wait
	// that would end after ctx's deadline (the call then fails with
	// ErrRateLimited instead of sleeping into the deadline); a Clock of
	// your own that waits in real time should do the same.
	Sleep(ctx context.Context, d time.Duration) error
}

// RetryPolicy says when and how long the client waits and retries. The zero
// value means: no retries, pace every bucket to use all of its quota (see
// Reserve), wait at most [DefaultMaxRateLimitWait] for a reset.
//
// What is retried:
//   - HTTP 429, for every call (Okta rejected the request without acting on
//     it), after waiting for the bucket's reset;
//   - transport errors and HTTP 5xx, only for idempotent calls (GET, PUT,
//     DELETE, profile updates, mark-error), after Backoff; a redirect the
//     client refused (see [WithHTTPClient]) is not retried.
type RetryPolicy struct {
	// MaxRetries is how many times a request may be re-sent after the first
	// attempt. 0 disables retries.
	MaxRetries int
	// Backoff returns the wait before retry number n (1-based) after a
	// transport error or 5xx. Nil means [DefaultBackoff].
	Backoff func(n int) time.Duration
	// MaxRateLimitWait caps one wait for a rate-limit reset (on 429 or when
	// pacing finds no request left in the window). A longer wait is not
	// attempted: the call returns the 429 *APIError (wrapping
	// ErrRateLimited) or, when pacing, an error wrapping ErrRateLimited. 0
	// means DefaultMaxRateLimitWait.
	MaxRateLimitWait time.Duration
	// Reserve is how many requests of a bucket's quota per window the
	// client leaves unused. Unless Reserve is negative, the client paces
	// each bucket: from the X-Rate-Limit-Limit, -Remaining and -Reset of
	// its responses it spreads the requests it may still send in the
	// window (Remaining minus Reserve minus those in flight) evenly over
	// the time to the reset, after a burst of at most a second's worth of
	// the limit; with none left, a request waits for the reset, and the
	// next window starts at the full rate (Limit per window). The pacing
	// is shared by every goroutine using the client and every route of the
	// bucket, and since Remaining counts every client of the org's bucket,
	// clients in several processes that pace by it slow down for each
	// other and together stay within the limit. When the headers show such
	// other clients, the client leaves unused the most requests they were
	// seen to send between two of its answers in the last two windows it
	// had answers in (at most Limit − 1), if that is more than Reserve: its
	// Remaining may be older than theirs by that many, and otherwise two
	// clients would both spend a window's last request. Negative disables
	// pacing (requests go at once; only a 429 makes the client wait).
	Reserve int
	// RateLimitJitter spreads the waits after a 429: a uniformly random
	// extra wait in [0, RateLimitJitter) is added, so that calls refused
	// together do not all fire at the reset instant (Okta's concurrency
	// limit answers 429 with a reset that is only a suggestion). 0 adds
	// none.
	RateLimitJitter time.Duration
}

// DefaultMaxRateLimitWait is the longest single wait for a rate-limit window
// to reset (Okta's windows are 60 s, plus a margin).
const DefaultMaxRateLimitWait = 75 * time.Second

// DefaultRetryPolicy is what NewClient uses without [WithRetryPolicy]: three
// retries, jittered exponential backoff, pacing with a reserve of one
// request per bucket and window, and up to 1 s of jitter on waits after a
// 429.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxRetries: 3, Reserve: 1, MaxRateLimitWait: DefaultMaxRateLimitWait, RateLimitJitter: time.Second}
}

// withDefaults fills in the zero MaxRateLimitWait and nil Backoff.
func (p RetryPolicy) withDefaults() RetryPolicy {
	httpclient.RetryDefaults(&p.MaxRateLimitWait, DefaultMaxRateLimitWait, &p.Backoff, DefaultBackoff)
	return p
}

// jitter returns a uniformly random duration in [0, d); 0 when d <= 0.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

// NoRetries is a policy that sends every request once and never paces;
// a 429 is returned at once as an *APIError wrapping ErrRateLimited.
func NoRetries() RetryPolicy {
	return RetryPolicy{MaxRetries: 0, Reserve: -1}
}

// DefaultBackoff is exponential backoff with full jitter: a uniformly random
// duration in [0, min(30s, 500ms·2^(n-1))].
func DefaultBackoff(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	ceil := 500 * time.Millisecond
	for i := 1; i < n && ceil < 30*time.Second; i++ {
		ceil *= 2
	}
	ceil = min(ceil, 30*time.Second)
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

// RateLimit is the state of one rate-limit bucket as last reported by Okta.
type RateLimit struct {
	// Limit is X-Rate-Limit-Limit.
	Limit int
	// Remaining is X-Rate-Limit-Remaining.
	Remaining int
	// Reset is X-Rate-Limit-Reset, converted to the local clock using the
	// server's Date header.
	Reset time.Time
}

// parseRateLimit reads the X-Rate-Limit-* headers. The reset time is mapped
// onto the local clock as now + (Reset - Date) so clock skew between us and
// Okta does not matter; without Date, Reset is taken as is.
func parseRateLimit(h http.Header, now time.Time) (RateLimit, bool) {
	limit, err1 := strconv.Atoi(strings.TrimSpace(h.Get("X-Rate-Limit-Limit")))
	remaining, err2 := strconv.Atoi(strings.TrimSpace(h.Get("X-Rate-Limit-Remaining")))
	if err1 != nil || err2 != nil || limit < 0 || remaining < 0 {
		return RateLimit{}, false
	}
	// A Remaining above Limit would let the pacer send more than the
	// window holds: no window has more left than its limit.
	rl := RateLimit{Limit: limit, Remaining: min(remaining, limit)}
	if d, ok := resetDelay(h, now); ok {
		rl.Reset = now.Add(d)
	}
	return rl, true
}

// parseReset returns X-Rate-Limit-Reset, in Unix seconds.
func parseReset(h http.Header) (int64, bool) {
	reset, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-Rate-Limit-Reset")), 10, 64)
	if err != nil || reset <= 0 {
		return 0, false
	}
	return reset, true
}

// resetDelay returns X-Rate-Limit-Reset − Date (or − now without Date).
func resetDelay(h http.Header, now time.Time) (time.Duration, bool) {
	reset, ok := parseReset(h)
	if !ok {
		return 0, false
	}
	delay := time.Unix(reset, 0).Sub(httpclient.ServerNow(h, now))
	return min(max(delay, 0), maxServerWait), true
}

// maxServerWait caps any wait a server asks for (httpclient.MaxServerWait).
const maxServerWait = httpclient.MaxServerWait

// rateLimitWait is how long to wait after a 429: Retry-After if Okta sent
// one, else until X-Rate-Limit-Reset plus one second (Okta's reset has
// second granularity).
func rateLimitWait(h http.Header, now time.Time) (time.Duration, bool) {
	if d, ok := httpclient.RetryAfter(h, now); ok {
		return d, true
	}
	d, ok := resetDelay(h, now)
	if !ok {
		return 0, false
	}
	return d + time.Second, true
}

// RateLimitBucket returns the name of Okta's rate-limit bucket for a
// request (method and path or route template), e.g.
// "GET /api/v1/users/{idOrLogin}" for GET /api/v1/users/00u1 and
// "/api/v1/groups" for both PUT /api/v1/groups/{id}/users/{userId} and GET
// /api/v1/groups/{id}/users. The client keeps one rate-limit state per
// bucket, so a call waits for a budget another route used up. The table is
// the last one Okta published (Workforce Identity limits); the
// /webauthn-registration/api/v1 bucket is our choice, Okta documents none
// (docs/okta.md §Rate limits). For a path Okta does not rate-limit it
// returns "<method> <path>".
func RateLimitBucket(method, path string) string {
	if b, ok := oktarate.Classify(method, path); ok {
		return b.Name
	}
	return method + " " + path
}

// rateLimitKey maps what a caller of Client.RateLimit names — a bucket
// name, or "<method> <route>" — to the client's key for it.
func rateLimitKey(name string) string {
	if _, ok := oktarate.ByName(name); ok {
		return name
	}
	if method, route, ok := strings.Cut(name, " "); ok && strings.HasPrefix(route, "/") {
		return RateLimitBucket(method, route)
	}
	return name
}

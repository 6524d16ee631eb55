package okta

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/preenroll/preenroll/internal/httpclient"
	"github.com/preenroll/preenroll/internal/oktarate"
)

// Clock tells the time and waits: it has two methods, Now() time.Time and
// Sleep(ctx context.Context, d time.Duration) error. The client uses it for
// rate-limit and backoff waits; tests inject one that advances instantly.
// Sleep must return ctx.Err() when ctx is done before d has passed. It is
// the same type as yubico.Clock, so one value serves both clients.
type Clock = httpclient.Clock

// RetryPolicy says when and how long the client waits and retries. The zero
// value means: no retries, throttle only when a bucket has no requests left,
// wait at most [DefaultMaxRateLimitWait] for a reset.
//
// What is retried:
//   - HTTP 429, for every call (Okta rejected the request without acting on
//     it), after waiting for the bucket's reset;
//   - transport errors and HTTP 5xx, only for idempotent calls (GET, PUT,
//     DELETE, profile updates, mark-error), after Backoff.
type RetryPolicy struct {
	// MaxRetries is how many times a request may be re-sent after the first
	// attempt. 0 disables retries.
	MaxRetries int
	// Backoff returns the wait before retry number n (1-based) after a
	// transport error or 5xx. Nil means [DefaultBackoff].
	Backoff func(n int) time.Duration
	// MaxRateLimitWait caps one wait for a rate-limit reset (on 429 or when
	// throttling). A longer wait is not attempted: the call returns the 429
	// *APIError (wrapping ErrRateLimited) or, when throttling, an error
	// wrapping ErrRateLimited. 0 means DefaultMaxRateLimitWait.
	MaxRateLimitWait time.Duration
	// Reserve is how many requests of a bucket's quota the client leaves
	// unused: once the last response of a bucket reported
	// X-Rate-Limit-Remaining <= Reserve, the next request in that bucket
	// waits for X-Rate-Limit-Reset. Negative disables throttling.
	Reserve int
	// RateLimitJitter spreads the waits for a rate-limit reset (after a 429
	// and when throttling): a uniformly random extra wait in
	// [0, RateLimitJitter) is added, so that calls that hit the limit
	// together do not all fire at the reset instant (Okta's concurrency
	// limit answers 429 with a reset that is only a suggestion). 0 adds
	// none.
	RateLimitJitter time.Duration
}

// DefaultMaxRateLimitWait is the longest single wait for a rate-limit window
// to reset (Okta's windows are 60 s, plus a margin).
const DefaultMaxRateLimitWait = 75 * time.Second

// DefaultRetryPolicy is what NewClient uses without [WithRetryPolicy]: three
// retries, jittered exponential backoff, throttling with a reserve of one
// request per bucket, and up to 1 s of jitter on rate-limit waits.
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

// NoRetries is a policy that sends every request once and never throttles;
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

// rateLimits remembers the last RateLimit of each bucket.
type rateLimits struct {
	mu      sync.Mutex
	buckets map[string]RateLimit // guarded by mu
}

func (r *rateLimits) get(bucket string) (RateLimit, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rl, ok := r.buckets[bucket]
	return rl, ok
}

func (r *rateLimits) set(bucket string, rl RateLimit) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.buckets == nil {
		r.buckets = make(map[string]RateLimit)
	}
	r.buckets[bucket] = rl
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
	rl := RateLimit{Limit: limit, Remaining: remaining}
	if d, ok := resetDelay(h, now); ok {
		rl.Reset = now.Add(d)
	}
	return rl, true
}

// resetDelay returns X-Rate-Limit-Reset − Date (or − now without Date).
func resetDelay(h http.Header, now time.Time) (time.Duration, bool) {
	reset, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-Rate-Limit-Reset")), 10, 64)
	if err != nil || reset <= 0 {
		return 0, false
	}
	base := now
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		base = d
	}
	delay := time.Unix(reset, 0).Sub(base)
	return min(max(delay, 0), maxServerWait), true
}

// maxServerWait caps any wait a server asks for. A reset or Retry-After
// further away than this is nonsense (Okta's windows are a minute long) and,
// unclamped, would overflow time.Duration; the retry policy's
// MaxRateLimitWait then refuses to wait that long.
const maxServerWait = 24 * time.Hour

// rateLimitWait is how long to wait after a 429: Retry-After if Okta sent
// one, else until X-Rate-Limit-Reset plus one second (Okta's reset has
// second granularity).
func rateLimitWait(h http.Header, now time.Time) (time.Duration, bool) {
	if ra := strings.TrimSpace(h.Get("Retry-After")); ra != "" {
		if secs, err := strconv.ParseInt(ra, 10, 64); err == nil && secs >= 0 {
			return time.Duration(min(secs, int64(maxServerWait/time.Second))) * time.Second, true
		}
		if t, err := http.ParseTime(ra); err == nil {
			base := now
			if d, err := http.ParseTime(h.Get("Date")); err == nil {
				base = d
			}
			return min(max(t.Sub(base), 0), maxServerWait), true
		}
	}
	d, ok := resetDelay(h, now)
	if !ok {
		return 0, false
	}
	return d + time.Second, true
}

func (r *rateLimits) clear(bucket string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.buckets, bucket)
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

package fakehttp

import (
	"net/http"
	"sync"
	"time"
)

// BucketFunc names the rate-limit bucket a request draws from and the
// bucket's limit per window. An empty name or a limit below 1 means the
// request is not rate limited.
type BucketFunc func(r *http.Request) (name string, limit int)

// Limiter counts requests in fixed-window buckets: a bucket's window starts
// at the whole second of its first request (the first request at or after
// the previous window's end) and lasts the limiter's window. Okta reports a
// window's reset in whole seconds (X-Rate-Limit-Reset); starting windows on
// a whole second makes that report exact, so a client that sends its next
// request at the reported reset is in the new window, not early. It is
// safe for concurrent use.
type Limiter struct {
	window time.Duration
	bucket BucketFunc

	mu      sync.Mutex
	buckets map[string]*window // guarded by mu
}

type window struct {
	start time.Time
	count int
}

// NewLimiter returns a limiter with windows of length w whose buckets
// bucket chooses.
func NewLimiter(w time.Duration, bucket BucketFunc) *Limiter {
	return &Limiter{window: w, bucket: bucket, buckets: map[string]*window{}}
}

// Window returns the length of a window.
func (l *Limiter) Window() time.Duration { return l.window }

// Quota is the state of a request's bucket after [Limiter.Take].
type Quota struct {
	Bucket    string
	Limit     int
	Remaining int
	Reset     time.Time // the end of the bucket's current window, a whole second
	// Allowed is false when the bucket was already exhausted: the request
	// must be refused.
	Allowed bool
}

// Take counts r, at time now, in its bucket. limited is false when r draws
// from no bucket (q is then zero).
func (l *Limiter) Take(r *http.Request, now time.Time) (q Quota, limited bool) {
	name, limit := l.bucket(r)
	if name == "" || limit < 1 {
		return Quota{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[name]
	if b == nil || !now.Before(b.start.Add(l.window)) {
		b = &window{start: now.Truncate(time.Second)}
		l.buckets[name] = b
	}
	q = Quota{Bucket: name, Limit: limit, Reset: b.start.Add(l.window), Allowed: b.count < limit}
	if q.Allowed {
		b.count++
	}
	q.Remaining = max(limit-b.count, 0)
	return q, true
}

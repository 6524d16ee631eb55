package oktatest

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/preenroll/preenroll/internal/fakehttp"
	"github.com/preenroll/preenroll/internal/oktarate"
)

// WithRateLimit makes every path starting with pathPrefix draw from one
// bucket of its own with limit requests per window, in place of Okta's
// buckets for those paths (the longest such prefix wins). A limit of 0 or
// less turns rate limiting off for the prefix. Without it the fake counts
// per Okta's buckets: see [WithBucketLimit].
func WithRateLimit(pathPrefix string, limit int) Option {
	return check("WithRateLimit", fakehttp.Invalid(!strings.HasPrefix(pathPrefix, "/"), "prefix %q does not start with /", pathPrefix),
		func(c *config) { c.limits[pathPrefix] = limit })
}

// WithBucketLimit sets the per-window limit of one of Okta's rate-limit
// buckets, named as Okta's table names it (see [okta.RateLimitBucket]):
// "GET|POST /api/v1/users" (create and list users, default 600),
// "GET /api/v1/users/{idOrLogin}" (2000), "POST|PUT|DELETE /api/v1/users/{id}"
// (600), "/api/v1/groups" (create and list groups and every
// /api/v1/groups/{id}/… path, 500), "/api/v1/groups/{id}" (1000),
// "/api/v1/authn" (500), "/api/v1/authn/factors/{factorIdOrFactorType}/verify"
// (500), "/api/v1/logs" (the System Log, 120), "/api/v1" (every other
// /api/v1 path, 1200) and
// "/webauthn-registration/api/v1" (600). The defaults are the Workforce
// Identity limits of the last tables Okta published; Okta documents no
// limit for /webauthn-registration, its 600 is our choice (docs/okta.md
// §Rate limits, docs/decisions.md §Okta rate limits). /.well-known is never
// limited. A limit of 0 or less turns the bucket off.
func WithBucketLimit(bucket string, limit int) Option {
	_, known := oktarate.ByName(bucket)
	return check("WithBucketLimit", fakehttp.Invalid(!known, "%q is not one of Okta's rate-limit buckets", bucket),
		func(c *config) { c.bucketLimits[bucket] = limit })
}

// WithoutRateLimits turns every rate-limit bucket off (no X-Rate-Limit
// headers, never 429 except by fault injection).
func WithoutRateLimits() Option {
	return func(c *config) error {
		clear(c.limits)
		c.table = false
		return nil
	}
}

// WithRateLimitWindow sets the length of a rate-limit window (default 60 s;
// a window starts at the whole second of the first request in the bucket,
// not on the minute, so X-Rate-Limit-Reset, in whole seconds, is exact).
// With [WithRealTime], a one-second window keeps the wall-clock wait of a
// client that sleeps until X-Rate-Limit-Reset (Okta's Go SDK) short.
func WithRateLimitWindow(d time.Duration) Option {
	return check("WithRateLimitWindow", fakehttp.Invalid(d < time.Second, "%v is shorter than a second", d),
		func(c *config) { c.window = d })
}

// prefixLimit is one configured bucket.
type prefixLimit struct {
	prefix string
	n      int
}

// sortedLimits returns the WithRateLimit prefixes, longest first.
func sortedLimits(limits map[string]int) []prefixLimit {
	var out []prefixLimit
	for p, n := range limits {
		out = append(out, prefixLimit{p, n})
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i].prefix) > len(out[j].prefix) })
	return out
}

// bucketFor names the rate-limit bucket r draws from and its limit per
// window (0: not limited): a WithRateLimit prefix if one matches, else
// Okta's bucket from the table in internal/oktarate, with its
// WithBucketLimit override. It is the one place that decides buckets.
func (s *Server) bucketFor(r *http.Request) (string, int) {
	path := r.URL.Path
	if strings.HasPrefix(path, "/.well-known/") {
		return "", 0
	}
	for _, l := range s.limits {
		if strings.HasPrefix(path, l.prefix) {
			return "prefix " + l.prefix, l.n
		}
	}
	if !s.table {
		return "", 0
	}
	b, ok := oktarate.Classify(r.Method, path)
	if !ok {
		return "", 0
	}
	if n, ok := s.bucketLimits[b.Name]; ok {
		return b.Name, n
	}
	return b.Name, b.Limit
}

// rateLimit counts the request in its bucket, sets the X-Rate-Limit-*
// headers and answers 429 E0000047 once the bucket is exhausted.
func (s *Server) rateLimit(x *exchange, now time.Time) bool {
	q, limited := s.limiter.Take(x.r, now)
	if !limited {
		return true
	}
	setRateLimitHeaders(x, q.Limit, q.Remaining, q.Reset)
	if !q.Allowed {
		x.detail("rate limit of bucket %s exhausted", q.Bucket)
		s.failStatus(x, http.StatusTooManyRequests)
		return false
	}
	return true
}

// setRateLimitHeaders writes Okta's X-Rate-Limit-Limit, -Remaining and
// -Reset (Unix seconds) headers. A reset between two seconds is rounded up:
// the header says when the window has reset, never a moment before.
func setRateLimitHeaders(x *exchange, limit, remaining int, reset time.Time) {
	secs := reset.Unix()
	if reset.After(time.Unix(secs, 0)) {
		secs++
	}
	x.setHeader("X-Rate-Limit-Limit", strconv.Itoa(limit))
	x.setHeader("X-Rate-Limit-Remaining", strconv.Itoa(remaining))
	x.setHeader("X-Rate-Limit-Reset", strconv.FormatInt(secs, 10))
}

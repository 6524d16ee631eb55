// Package oktarate is the one table of Okta's rate-limit buckets, shared by
// the okta client (which keys its rate-limit state by bucket, so it sees
// that two routes share a budget) and the fake org in okta/oktatest
// (which counts requests per bucket).
//
// Okta counts requests per bucket, a set of endpoints sharing a quota per
// 60-second window; a request's path is matched exactly first, then by the
// longest prefix (https://developer.okta.com/docs/reference/rate-limits/).
// Okta's current pages publish no per-endpoint numbers; the limits below
// are the Workforce Identity column of the last tables Okta published:
// management limits (docs/reference/rl-global-mgmt, removed from
// https://github.com/okta/okta-developer-docs in December 2025) and
// authentication limits
// (https://developer.okta.com/docs/reference/rl-global-enduser/). See
// docs/okta.md §Rate limits. The System Log's bucket, /api/v1/logs (120
// per minute for Workforce Identity, 50 for Enterprise), is a row of that
// management table.
//
// Okta documents no bucket for /webauthn-registration/api/v1; its bucket
// and limit here are our choice (Bucket.Documented is false), see
// docs/decisions.md §Okta rate limits. Paths no rule matches (for example
// /.well-known/openid-configuration) are not rate limited.
package oktarate

import (
	"slices"
	"strings"
)

// Bucket is one of Okta's rate-limit buckets.
type Bucket struct {
	// Name names the bucket after Okta's table row, e.g.
	// "GET /api/v1/users/{idOrLogin}" or "/api/v1/groups".
	Name string
	// Limit is the requests per minute Okta published for Workforce
	// Identity orgs.
	Limit int
	// Documented is false for a bucket that is our choice.
	Documented bool
}

// The buckets (unexported so that no caller can change the table; use
// [Buckets], [ByName] or [Classify]).
var (
	usersCreateList = Bucket{"GET|POST /api/v1/users", 600, true}
	userGet         = Bucket{"GET /api/v1/users/{idOrLogin}", 2000, true}
	userUpdate      = Bucket{"POST|PUT|DELETE /api/v1/users/{id}", 600, true}
	groups          = Bucket{"/api/v1/groups", 500, true}
	group           = Bucket{"/api/v1/groups/{id}", 1000, true}
	authn           = Bucket{"/api/v1/authn", 500, true}
	authnVerify     = Bucket{"/api/v1/authn/factors/{factorIdOrFactorType}/verify", 500, true}
	logs            = Bucket{"/api/v1/logs", 120, true}
	apiV1           = Bucket{"/api/v1", 1200, true}
	preregistration = Bucket{"/webauthn-registration/api/v1", 600, false}
)

// rule maps requests to a bucket: methods (nil: any) and path segments
// ("*" matches one non-empty segment), exactly or as a prefix.
type rule struct {
	methods []string
	pattern []string
	prefix  bool
	bucket  Bucket
}

func exact(methods, pattern string, b Bucket) rule {
	return rule{methods: splitMethods(methods), pattern: segments(pattern), bucket: b}
}

func prefix(pattern string, b Bucket) rule {
	return rule{pattern: segments(pattern), prefix: true, bucket: b}
}

func splitMethods(m string) []string {
	if m == "" {
		return nil
	}
	return strings.Split(m, "|")
}

func segments(p string) []string { return strings.Split(strings.Trim(p, "/"), "/") }

// exactRules are tried first, then prefixRules, longest first.
var (
	exactRules = []rule{
		exact("GET|POST", "/api/v1/users", usersCreateList),
		exact("GET", "/api/v1/users/*", userGet),
		exact("POST|PUT|DELETE", "/api/v1/users/*", userUpdate),
		exact("", "/api/v1/groups/*", group),
		exact("", "/api/v1/authn/factors/*/verify", authnVerify),
	}
	prefixRules = []rule{
		prefix("/webauthn-registration/api/v1", preregistration),
		prefix("/api/v1/groups", groups),
		prefix("/api/v1/authn", authn),
		prefix("/api/v1/logs", logs),
		prefix("/api/v1", apiV1),
	}
)

// Classify returns the bucket of a request with method and path (a path
// or a route template such as "/api/v1/users/{id}"; a query is ignored).
// ok is false when Okta does not rate-limit the path.
func Classify(method, path string) (b Bucket, ok bool) {
	path, _, _ = strings.Cut(path, "?")
	segs := segments(path)
	for _, r := range exactRules {
		if (r.methods == nil || slices.Contains(r.methods, method)) && matches(r.pattern, segs, false) {
			return r.bucket, true
		}
	}
	for _, r := range prefixRules {
		if matches(r.pattern, segs, true) {
			return r.bucket, true
		}
	}
	return Bucket{}, false
}

func matches(pattern, segs []string, asPrefix bool) bool {
	if len(segs) < len(pattern) || (!asPrefix && len(segs) != len(pattern)) {
		return false
	}
	for i, p := range pattern {
		if segs[i] == "" || (p != "*" && p != segs[i]) {
			return false
		}
	}
	return true
}

// Buckets returns every bucket of the table.
func Buckets() []Bucket {
	return []Bucket{usersCreateList, userGet, userUpdate, groups, group, authn, authnVerify, logs, apiV1, preregistration}
}

// ByName returns the bucket named name.
func ByName(name string) (Bucket, bool) {
	for _, b := range Buckets() {
		if b.Name == name {
			return b, true
		}
	}
	return Bucket{}, false
}

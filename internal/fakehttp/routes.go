package fakehttp

import (
	"fmt"
	"slices"
	"strings"
)

// Route is one route a fake serves: Method and a path Pattern whose
// segments in braces ("{id}") stand for any one non-empty segment. A fake
// gives its routes to [NewFaults] so that a rule or plan whose Method and
// PathPrefix reach none of them is refused instead of waiting for a
// request that never comes.
type Route struct {
	Method  string
	Pattern string
}

// reaches reports whether some request to rt has method (empty: any) and a
// path that begins with prefix (empty: any).
func (rt Route) reaches(method, prefix string) bool {
	if method != "" && method != rt.Method {
		return false
	}
	if prefix == "" {
		return true
	}
	if !strings.HasPrefix(prefix, "/") {
		return false
	}
	pat := strings.Split(strings.TrimPrefix(rt.Pattern, "/"), "/")
	segs := strings.Split(strings.TrimPrefix(prefix, "/"), "/")
	if len(segs) > len(pat) {
		return false
	}
	for i, s := range segs {
		last := i == len(segs)-1
		switch p := pat[i]; {
		case strings.HasPrefix(p, "{"):
			// Any non-empty segment: a whole one must not be empty; the
			// last, partial one can be the start of any.
			if !last && s == "" {
				return false
			}
		case last:
			if !strings.HasPrefix(p, s) {
				return false
			}
		case s != p:
			return false
		}
	}
	return true
}

// checkReach reports an error when routes is not nil and none of them is
// reached by method and prefix; what names the rule or plan in the error.
func checkReach(routes []Route, what, method, prefix string) error {
	if routes == nil || anyReaches(routes, method, prefix) {
		return nil
	}
	req := "request"
	if method != "" {
		req = method + " request"
	}
	msg := fmt.Sprintf("%s: no %s the fake serves has a path beginning with PathPrefix %q, so it would never fire", what, req, prefix)
	if up := strings.ToUpper(method); up != method && anyReaches(routes, up, prefix) {
		msg += fmt.Sprintf(" (a request's method is upper case: %q)", up)
	} else if hint := suggest(routes, method, prefix); hint != "" {
		msg += fmt.Sprintf(" (the fake serves %q: PathPrefix is the path from the fake's root)", hint)
	}
	return fmt.Errorf("%s", msg)
}

// anyReaches reports whether a request of method (any, if "") whose path
// begins with prefix can reach one of routes.
func anyReaches(routes []Route, method, prefix string) bool {
	return slices.ContainsFunc(routes, func(rt Route) bool { return rt.reaches(method, prefix) })
}

// suggest returns the start of a route's pattern, up to and including
// prefix, when prefix appears in it after its first segment (a path copied
// from under a client's base URL: "/fpr/shipments" for
// "/v1/fpr/shipments"), or "".
func suggest(routes []Route, method, prefix string) string {
	p := strings.TrimSuffix(prefix, "/")
	if p == "" || !strings.HasPrefix(p, "/") {
		return ""
	}
	for _, rt := range routes {
		if method != "" && method != rt.Method {
			continue
		}
		if i := strings.Index(rt.Pattern, p); i > 0 {
			return rt.Pattern[:i] + prefix
		}
	}
	return ""
}

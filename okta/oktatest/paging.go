package oktatest

import (
	"fmt"
	"net/url"
	"strconv"
)

// pageLimit reads the limit query parameter: def when absent, capped at
// max (Okta answers with at most its maximum rather than failing) and at
// the server's [WithMaxPageSize]. ok is false when the value is not a
// positive integer; the caller answers 400.
func (s *Server) pageLimit(q url.Values, def, max int) (n int, ok bool) {
	n = def
	if v := q.Get("limit"); v != "" {
		i, err := strconv.Atoi(v)
		if err != nil || i < 1 {
			return 0, false
		}
		n = i
	}
	return min(n, max, s.page), true
}

// badLimit answers an invalid limit parameter.
func (s *Server) badLimit(x *exchange) {
	v := x.r.URL.Query().Get("limit")
	s.validation(x, "limit", "limit: Invalid value "+strconv.Quote(v))
}

// setPageLinks adds Okta's pagination headers: Link rel="self" (the
// request's own URL, with its query when it has one) and, when after is
// not empty, Link rel="next" (the same query with the after cursor and the
// page's limit), each as its own header line, as Okta sends them
// (https://developer.okta.com/docs/api/#pagination).
func (s *Server) setPageLinks(x *exchange, after string, limit int) {
	self := s.srv.URL + x.r.URL.EscapedPath()
	if x.r.URL.RawQuery != "" {
		self += "?" + x.r.URL.RawQuery
	}
	x.w.Header().Add("Link", fmt.Sprintf("<%s>; rel=\"self\"", self))
	if after == "" {
		return
	}
	q := x.r.URL.Query()
	q.Set("after", after)
	q.Set("limit", strconv.Itoa(limit))
	x.w.Header().Add("Link", fmt.Sprintf("<%s%s?%s>; rel=\"next\"", s.srv.URL, x.r.URL.EscapedPath(), q.Encode()))
}

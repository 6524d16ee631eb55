package oktatest

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/preenroll/preenroll/internal/fakehttp"
)

// pageLimit reads the limit query parameter: def when absent, capped at
// max (Okta answers with at most its maximum rather than failing) and at
// the server's [WithMaxPageSize], if set. ok is false when the value is not
// a positive integer; the caller answers 400.
func (s *Server) pageLimit(q url.Values, def, max int) (n int, ok bool) {
	n = def
	if v := q.Get("limit"); v != "" {
		i, err := strconv.Atoi(v)
		if err != nil || i < 1 {
			return 0, false
		}
		n = i
	}
	if s.page > 0 { // WithMaxPageSize
		n = min(n, s.page)
	}
	return min(n, max), true
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
	var next url.Values
	if after != "" {
		next = x.r.URL.Query()
		next.Set("after", after)
		next.Set("limit", strconv.Itoa(limit))
	}
	s.setLinks(x, next)
}

// setLinks adds Link rel="self" (the request's own URL) and, when next is
// not nil, Link rel="next" (the request's path with the query next), each
// as its own header line.
func (s *Server) setLinks(x *exchange, next url.Values) {
	self := s.srv.URL + x.r.URL.EscapedPath()
	if x.r.URL.RawQuery != "" {
		self += "?" + x.r.URL.RawQuery
	}
	x.w.Header().Add("Link", fmt.Sprintf("<%s>; rel=\"self\"", self))
	if next == nil {
		return
	}
	x.w.Header().Add("Link", fmt.Sprintf("<%s%s?%s>; rel=\"next\"", s.srv.URL, x.r.URL.EscapedPath(), next.Encode()))
}

// listing is one list endpoint for serveList. The functions run with s.mu
// held.
type listing struct {
	search, filter                exprDialect
	defLimit, qDefLimit, maxLimit int
	order                         func() []string                    // IDs in creation order
	attr                          func(id, name string) attrValue    // an attribute for expressions and sortBy
	include                       func(id string, lq listQuery) bool // the endpoint's own rules (q, hidden statuses)
	startAfter                    func(cursor string) int            // the index in order after an after cursor
	wire                          func(id string) any                // the JSON of one item
}

// serveList answers a list request: q, search, filter, sortBy and
// sortOrder select and order, limit and after page, Link headers link.
// A q query is not paged (no rel="next"), as at Okta.
func (s *Server) serveList(x *exchange, l listing) {
	params := x.r.URL.Query()
	lq, ok := s.parseListQuery(x, l.search, l.filter)
	if !ok {
		return
	}
	def := l.defLimit
	if lq.q != "" {
		def = l.qDefLimit
	}
	lim, ok := s.pageLimit(params, def, l.maxLimit)
	if !ok {
		s.badLimit(x)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	match := func(id string) bool {
		get := func(name string) attrValue { return l.attr(id, name) }
		return l.include(id, lq) && (lq.search == nil || lq.search.eval(get)) && (lq.filter == nil || lq.filter.eval(get))
	}
	ids, start := l.order(), 0
	after := params.Get("after")
	if lq.sortBy != "" && lq.search != nil {
		key := func(id string) attrValue { return l.attr(id, lq.sortBy) }
		ids, start = sortedPage(ids, match, key, lq, after)
		match = func(string) bool { return true }
	} else if after != "" {
		start = l.startAfter(after)
	}
	page, more := pageIDs(ids, start, lim, match)
	out := fakehttp.Map(page, l.wire)
	next := ""
	if more && lq.q == "" {
		next = page[len(page)-1]
	}
	s.setPageLinks(x, next, lim)
	s.writeJSON(x, http.StatusOK, out)
}

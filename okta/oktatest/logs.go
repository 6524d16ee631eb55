package oktatest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/preenroll/preenroll/okta"
)

// The System Log API, GET /api/v1/logs, over the events the fake emitted
// (docs/okta.md §System Log; what the fake leaves out is in
// docs/decisions.md §Okta System Log in the fake).

const scopeLogsRead = "okta.logs.read"

// The System Log's documented numbers.
const (
	logsDefaultLimit = 100                  // limit's default
	logsMaxLimit     = 1000                 // limit's maximum
	logsDefaultSpan  = 7 * 24 * time.Hour   // since defaults to until minus this
	logsRetention    = 90 * 24 * time.Hour  // older events are not returned
	logsMaxSinceAge  = 180 * 24 * time.Hour // an older since is refused
)

// logsCursorPrefix starts every decoded after cursor. A cursor is a
// position in the event log (between two events), base64url-encoded so
// that clients treat it as opaque, as Okta's are.
const logsCursorPrefix = "oktatest-log:"

func encodeLogCursor(pos int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(logsCursorPrefix + strconv.Itoa(pos)))
}

func decodeLogCursor(c string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	n, ok := strings.CutPrefix(string(b), logsCursorPrefix)
	if !ok {
		return 0, false
	}
	pos, err := strconv.Atoi(n)
	return pos, err == nil && pos >= 0
}

// logQuery is a parsed System Log request.
type logQuery struct {
	since, until time.Time // since inclusive, until exclusive
	bounded      bool      // until given
	polling      bool      // no until and ASCENDING: a next link on every page
	desc         bool
	limit        int
	after        int             // a cursor's position in the event log; -1 when absent
	types        map[string]bool // the filter's event types; nil: every event
	next         url.Values      // the next link's query, without after
}

// handleListLogs is GET /api/v1/logs: the events emitted so far (those
// whose hook delivery failed, or that no hook was subscribed to, as well),
// oldest first (sortOrder=DESCENDING: newest first), limit per page, with
// an opaque after cursor in Link rel="next". A polling query (no until,
// ASCENDING) has a next link on every page, an empty one too; a bounded
// one has none on its last page. since is inclusive, until exclusive.
func (s *Server) handleListLogs(x *exchange) {
	s.mu.Lock()
	defer s.mu.Unlock() // events are added under mu: the log holds still
	lq, ok := s.parseLogQuery(x)
	if !ok {
		return
	}
	held, dropped := s.events.Len(), s.events.Dropped()
	if lq.after > dropped+held {
		s.validation(x, "after", "after: Invalid value")
		return
	}
	// The events are in published order (the fake clock never goes back),
	// so the time bounds are positions; a cursor narrows them.
	published := func(i int) time.Time { return s.events.Slice(i, i+1)[0].Published }
	lo := sort.Search(held, func(i int) bool { return !published(i).Before(lq.since) })
	hi := held
	if lq.bounded {
		hi = sort.Search(held, func(i int) bool { return !published(i).Before(lq.until) })
	}
	switch {
	case lq.after < 0:
	case lq.desc:
		hi = min(hi, lq.after-dropped)
	default:
		lo = max(lo, lq.after-dropped)
	}
	hi = max(hi, lo)
	scan := s.events.Slice(lo, hi)
	var picked []int // indices into scan, in the page's order
	more := false
	for k := range scan {
		i := k
		if lq.desc {
			i = len(scan) - 1 - k
		}
		if lq.types != nil && !lq.types[scan[i].EventType] {
			continue
		}
		if len(picked) == lq.limit {
			more = true
			break
		}
		picked = append(picked, i)
	}
	page := make([]okta.LogEvent, len(picked))
	for n, i := range picked {
		e := scan[i]
		page[n] = s.logEventFor(e, s.displayNameLocked(e.UserID))
	}
	next := -1 // the next page's cursor position; -1: no next link
	switch {
	case more && lq.desc:
		next = dropped + lo + picked[len(picked)-1] // before the last event returned
	case more:
		next = dropped + lo + picked[len(picked)-1] + 1 // after it
	case lq.polling:
		next = dropped + hi // after every event scanned: the next page has only newer ones
	}
	s.setLogLinks(x, lq, next)
	s.writeJSON(x, http.StatusOK, page)
}

// displayNameLocked is a user's "first last" name as events show it; ""
// for a user since deleted.
func (s *Server) displayNameLocked(userID string) string {
	if u, ok := s.users[userID]; ok {
		return u.profile.FirstName + " " + u.profile.LastName
	}
	return ""
}

// setLogLinks adds Link rel="self" and, when next is not -1, rel="next":
// the request's query with since made explicit, the page's limit and the
// cursor, so that the next page selects what the first one did whenever it
// is asked for (without until, the cursor bounds a DESCENDING query's next
// page from above).
func (s *Server) setLogLinks(x *exchange, lq logQuery, next int) {
	var nq url.Values
	if next >= 0 {
		nq = lq.next
		nq.Set("after", encodeLogCursor(next))
	}
	s.setLinks(x, nq)
}

// parseLogQuery reads the System Log's parameters, answering 400 and
// returning false when one is invalid or one the fake does not support.
func (s *Server) parseLogQuery(x *exchange) (logQuery, bool) {
	params := x.r.URL.Query()
	now := s.now()
	lq := logQuery{after: -1, next: x.r.URL.Query()}
	if params.Get("q") != "" {
		x.detail("keyword search (q) is not supported by oktatest")
		s.validation(x, "q", "q: oktatest does not support keyword search; use filter")
		return lq, false
	}
	switch o := params.Get("sortOrder"); o {
	case "", "ASCENDING":
	case "DESCENDING":
		lq.desc = true
	default:
		s.validation(x, "sortOrder", "sortOrder: Invalid value "+strconv.Quote(o)+"; expected ASCENDING or DESCENDING")
		return lq, false
	}
	var since, until time.Time
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &since}, {"until", &until}} {
		v := params.Get(p.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			x.detail("%s %q: %v", p.name, v, err)
			s.validation(x, p.name, p.name+": The date format in your query is not recognized. Please enter dates using ISO8601 string format.",
				p.name+": must be a valid date-time or empty.")
			return lq, false
		}
		*p.dst = t
	}
	lq.polling = until.IsZero() && !lq.desc
	if lq.bounded = !until.IsZero(); !lq.bounded {
		until = now // for since's default; every event so far is before now
	}
	if since.IsZero() {
		since = until.Add(-logsDefaultSpan)
		lq.next.Set("since", since.UTC().Format(time.RFC3339Nano))
	} else if since.Before(now.Add(-logsMaxSinceAge)) {
		x.detail("since %v is more than 180 days before %v", since, now)
		s.fail(x, http.StatusBadRequest, "E0000053", "Invalid parameter: The since parameter is over 180 days prior to the current day.")
		return lq, false
	}
	if lq.bounded && !since.Before(until) {
		s.validation(x, "since", "since: must be before until")
		return lq, false
	}
	lq.since, lq.until = maxTime(since, now.Add(-logsRetention)), until
	lq.limit = logsDefaultLimit
	if v := params.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > logsMaxLimit {
			s.validation(x, "limit", fmt.Sprintf("limit: Invalid value %q; expected an integer from 1 to %d", v, logsMaxLimit))
			return lq, false
		}
		lq.limit = n
	}
	if s.page > 0 { // WithMaxPageSize
		lq.limit = min(lq.limit, s.page)
	}
	lq.next.Set("limit", strconv.Itoa(lq.limit))
	if v := params.Get("after"); v != "" {
		pos, ok := decodeLogCursor(v)
		if !ok {
			s.validation(x, "after", "after: Invalid value")
			return lq, false
		}
		lq.after = pos
	}
	if f := params.Get("filter"); f != "" {
		types, err := parseLogFilter(f)
		if err != nil {
			s.fail(x, http.StatusBadRequest, "E0000031", "Bad request. Invalid filter parameter.", "filter: "+err.Error())
			return lq, false
		}
		lq.types = types
	}
	return lq, true
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// errLogFilter says which filters the fake takes.
var errLogFilter = errors.New(`oktatest supports only eventType eq "<type>", alone or joined with or`)

// parseLogFilter returns the event types of a System Log filter of the
// one form the fake supports: `eventType eq "a"`, or several such terms
// joined with "or" (operators in any case, values quoted with \" and \\
// escapes).
func parseLogFilter(f string) (map[string]bool, error) {
	toks, err := lexExpr(f)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errLogFilter, err)
	}
	types := map[string]bool{}
	for i := 0; ; i++ {
		if i+3 > len(toks) {
			return nil, fmt.Errorf("%w: the expression ends early", errLogFilter)
		}
		attr, op, v := toks[i], toks[i+1], toks[i+2]
		if attr.quoted || attr.text != "eventType" || op.quoted || !strings.EqualFold(op.text, "eq") || !v.quoted {
			return nil, fmt.Errorf("%w, not %q", errLogFilter, attr.text+" "+op.text+" "+v.text)
		}
		types[v.text] = true
		if i += 3; i == len(toks) {
			return types, nil
		}
		if toks[i].quoted || !strings.EqualFold(toks[i].text, "or") {
			return nil, fmt.Errorf("%w, not %q", errLogFilter, toks[i].text)
		}
	}
}

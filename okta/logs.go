package okta

import (
	"context"
	"iter"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The System Log API (GET /api/v1/logs): the reference is the SystemLog tag
// of https://developer.okta.com/docs/api/openapi/okta-management/management/tag/SystemLog/
// and its companion guide https://developer.okta.com/docs/reference/system-log-query/
// (docs/okta.md §System Log).

// DefaultLogLimit is the page size of [Client.ListLogEvents] when
// [LogQuery.Limit] is 0 (Okta's default).
const DefaultLogLimit = 100

// MaxLogLimit is the largest [LogQuery.Limit] (Okta's documented maximum).
const MaxLogLimit = 1000

// logsRoute is the System Log's path; it names the rate-limit bucket
// "/api/v1/logs" (120 requests per minute in Okta's last published table).
const logsRoute = "/api/v1/logs"

// LogQuery selects System Log events for [Client.ListLogEvents].
type LogQuery struct {
	// Since is the lower time bound, required (not zero). Okta returns
	// nothing older than 90 days, and its documentation shows a Since more
	// than 180 days ago refused with 400.
	Since time.Time
	// Until is the upper time bound; it must be after Since. Zero makes a
	// polling query, up to now.
	Until time.Time
	// Filter is a filter expression (for example one made by
	// [LogFilterEventType]); empty selects every event. It must not hold
	// control characters.
	Filter string
	// Limit is the number of events per page: 0 means [DefaultLogLimit];
	// otherwise 1 to [MaxLogLimit]. Every page must fit in the client's
	// body bound ([WithMaxBodySize], 1 MiB by default), and Okta's events
	// take a few KiB each: raise the bound before asking for large pages.
	Limit int
}

// ListLogEvents iterates over the System Log events q selects, oldest
// first (sortOrder=ASCENDING), following Okta's Link rel="next"
// pagination (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/SystemLog/,
// https://developer.okta.com/docs/reference/system-log-query/). Pages are
// fetched lazily as the loop advances; stopping the loop stops fetching.
// An error is yielded once, as the last element, with a zero LogEvent; an
// invalid q is that error before any request is sent.
//
// The events have the shape event hooks deliver ([LogEvent]), so one
// receiver can read both. They are not validated: a malformed event (no
// uuid, say) is yielded like any other, so that one bad event cannot stop a
// caller from reading past it; the caller checks what it uses, as it
// checks a hook delivery. The same event may be returned by an event hook
// and by this call, and by two overlapping queries: de-duplicate by UUID.
//
// With q.Until set the query is bounded: Okta filters on the events'
// published times, returns them in published order, and the iteration
// ends at the page without a next link. An event can still reach the log
// late and be missing from a bounded query that has run. With q.Until
// zero the query is a polling query: Okta filters on the time each event
// was stored (so a delayed event is not skipped), may return events out of
// published order, and always sends a next link, even after an empty page;
// the iteration ends at the first empty page.
//
// The rate-limit bucket is "/api/v1/logs" (see [Client.RateLimit]). With
// OAuth the call needs the scope [ScopeLogsRead].
//
// Errors: ErrInvalidArgument; *APIError wrapping ErrValidation (Okta
// refused the query, e.g. a Since over 180 days back), ErrForbidden,
// ErrRateLimited (a 429 is waited out and retried as the [RetryPolicy]
// says, as for every call); an error if a next link points outside the
// org's System Log, or after 10000 pages.
func (c *Client) ListLogEvents(ctx context.Context, q LogQuery) iter.Seq2[LogEvent, error] {
	const op = "list log events"
	query, err := q.values(op)
	if err != nil {
		return func(yield func(LogEvent, error) bool) { yield(LogEvent{}, err) }
	}
	var endAt func(int) bool
	if q.Until.IsZero() {
		endAt = func(n int) bool { return n == 0 } // a polling query's next link never ends
	}
	k := &call{op: op, method: "GET", route: logsRoute, idempotent: true, query: query}
	return pages[LogEvent](ctx, c, k, logsRoute, "the org's System Log", endAt)
}

// values validates q and returns the query parameters of its first page.
func (q LogQuery) values(op string) (url.Values, error) {
	bad := func(arg, format string, args ...any) error { return argError(op, arg, format, args...) }
	switch {
	case q.Since.IsZero():
		return nil, bad("Since", "is required")
	case q.Since.Year() < 1 || q.Since.Year() > 9999:
		return nil, bad("Since", "%v is out of range", q.Since)
	case !q.Until.IsZero() && (q.Until.Year() < 1 || q.Until.Year() > 9999):
		return nil, bad("Until", "%v is out of range", q.Until)
	case !q.Until.IsZero() && !q.Until.After(q.Since):
		return nil, bad("Until", "%v is not after Since %v", q.Until, q.Since)
	case q.Limit < 0 || q.Limit > MaxLogLimit:
		return nil, bad("Limit", "%d is not between 0 and %d", q.Limit, MaxLogLimit)
	case strings.ContainsFunc(q.Filter, unicode.IsControl):
		return nil, bad("Filter", "contains a control character")
	}
	limit := q.Limit
	if limit == 0 {
		limit = DefaultLogLimit
	}
	// Okta's times have milliseconds: the bounds are widened to whole
	// milliseconds, never narrowed.
	v := url.Values{
		"since":     {q.Since.UTC().Truncate(time.Millisecond).Format(oktaTimeLayout)},
		"limit":     {strconv.Itoa(limit)},
		"sortOrder": {"ASCENDING"},
	}
	if !q.Until.IsZero() {
		u := q.Until.UTC()
		if t := u.Truncate(time.Millisecond); t.Before(u) {
			u = t.Add(time.Millisecond)
		}
		v.Set("until", u.Format(oktaTimeLayout))
	}
	if q.Filter != "" {
		v.Set("filter", q.Filter)
	}
	return v, nil
}

// LogFilterEventType returns the System Log filter expression that selects
// events of any of types: `eventType eq "a" or eventType eq "b"`, each type
// quoted with its backslashes and double quotes escaped. With no types it
// returns "", which selects every event.
func LogFilterEventType(types ...string) string {
	terms := make([]string, len(types))
	for i, t := range types {
		terms[i] = "eventType eq " + quoteExpr(t)
	}
	return strings.Join(terms, " or ")
}

// quoteExpr quotes s as a string of Okta's filter and search expressions:
// in double quotes, its backslashes and double quotes escaped.
func quoteExpr(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}

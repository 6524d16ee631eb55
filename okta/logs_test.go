package okta_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/internal/testclock"
	"github.com/preenroll/preenroll/okta"
)

// logPage is one scripted answer of the System Log server.
type logPage struct {
	status int      // 0: 200
	uuids  []string // the events of a 200
	next   string   // the after cursor of a rel="next" link to this server; "" none
	link   string   // a Link header used as is (for foreign next links)
}

// logServer is a loopback System Log whose answers a test scripts, by the
// after cursor of the request ("" for the first page); a cursor's answers
// are used in order, the last one again once they run out.
type logServer struct {
	*httptest.Server
	script map[string][]logPage

	mu       sync.Mutex
	requests []url.Values
	served   map[string]int
}

func newLogServer(t *testing.T, script map[string][]logPage) *logServer {
	t.Helper()
	ls := &logServer{script: script, served: map[string]int{}}
	ls.Server = httptest.NewServer(http.HandlerFunc(ls.serve))
	t.Cleanup(ls.Close)
	return ls
}

func (ls *logServer) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	after := q.Get("after")
	ls.mu.Lock()
	ls.requests = append(ls.requests, q)
	answers := ls.script[after]
	n := ls.served[after]
	ls.served[after]++
	ls.mu.Unlock()
	w.Header().Set("Date", epoch.Format(http.TimeFormat))
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path != "/api/v1/logs" || len(answers) == 0 {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"errorCode":"E0000007","errorSummary":"Not found"}`))
		return
	}
	p := answers[min(n, len(answers)-1)]
	switch {
	case p.link != "":
		w.Header().Set("Link", p.link)
	case p.next != "":
		nq := r.URL.Query()
		nq.Set("after", p.next)
		w.Header().Set("Link", "<"+ls.URL+r.URL.Path+"?"+nq.Encode()+`>; rel="next"`)
	}
	if p.status == http.StatusTooManyRequests {
		w.Header().Set("X-Rate-Limit-Limit", "120")
		w.Header().Set("X-Rate-Limit-Remaining", "0")
		w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(epoch.Add(10*time.Second).Unix(), 10))
		w.WriteHeader(p.status)
		_, _ = w.Write([]byte(`{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}`))
		return
	}
	if p.status != 0 {
		w.WriteHeader(p.status)
		_, _ = w.Write([]byte(`{"errorCode":"E0000006","errorSummary":"You do not have permission to perform the requested action"}`))
		return
	}
	events := make([]okta.LogEvent, len(p.uuids))
	for i, u := range p.uuids {
		events[i] = okta.LogEvent{UUID: u, Published: epoch, EventType: okta.EventTypePreregisterInitiate}
	}
	_ = json.NewEncoder(w).Encode(events)
}

func (ls *logServer) afters() []string {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	out := []string{}
	for _, q := range ls.requests {
		out = append(out, q.Get("after"))
	}
	return out
}

func TestListLogEvents(t *testing.T) {
	t.Parallel()
	since := epoch.Add(-time.Hour)
	bounded := okta.LogQuery{Since: since, Until: epoch}
	polling := okta.LogQuery{Since: since}
	retry := okta.RetryPolicy{MaxRetries: 2, Backoff: func(n int) time.Duration { return time.Duration(n) * time.Second }}
	for _, tc := range []struct {
		name   string
		q      okta.LogQuery
		policy okta.RetryPolicy
		script map[string][]logPage // "evil" in a link is replaced by the server's URL
		want   []string             // the UUIDs yielded
		afters []string             // the after cursor of each request sent
		err    error                // the last element's error, by errors.Is
		errHas string               // or a part of its message
		wait   bool                 // the client waited for the rate-limit reset
	}{
		{
			name: "bounded query over three pages", q: bounded, policy: retry,
			script: map[string][]logPage{"": {{uuids: []string{"a", "b"}, next: "p2"}}, "p2": {{uuids: []string{"c", "d"}, next: "p3"}}, "p3": {{uuids: []string{"e"}}}},
			want:   []string{"a", "b", "c", "d", "e"}, afters: []string{"", "p2", "p3"},
		},
		{
			name: "bounded query goes on past an empty page with a next link", q: bounded, policy: retry,
			script: map[string][]logPage{"": {{next: "p2"}}, "p2": {{uuids: []string{"a"}}}},
			want:   []string{"a"}, afters: []string{"", "p2"},
		},
		{
			name: "polling query stops at the first empty page", q: polling, policy: retry,
			script: map[string][]logPage{"": {{uuids: []string{"a"}, next: "p2"}}, "p2": {{uuids: []string{"b"}, next: "p3"}}, "p3": {{next: "p4"}}, "p4": {{uuids: []string{"never"}}}},
			want:   []string{"a", "b"}, afters: []string{"", "p2", "p3"},
		},
		{
			name: "polling query stops without a next link too", q: polling, policy: retry,
			script: map[string][]logPage{"": {{uuids: []string{"a"}}}},
			want:   []string{"a"}, afters: []string{""},
		},
		{
			name: "foreign next link refused", q: bounded, policy: retry,
			script: map[string][]logPage{"": {{uuids: []string{"a"}, link: `<https://evil.example/api/v1/logs?after=x>; rel="next"`}}},
			want:   []string{"a"}, afters: []string{""}, errHas: "outside the org's System Log",
		},
		{
			name: "next link to another path of the org refused", q: bounded, policy: retry,
			script: map[string][]logPage{"": {{uuids: []string{"a"}, link: `<ORG/api/v1/users?after=x>; rel="next"`}}},
			want:   []string{"a"}, afters: []string{""}, errHas: "outside the org's System Log",
		},
		{
			name: "429 waited out and retried", q: bounded, policy: retry,
			script: map[string][]logPage{"": {{status: 429}, {uuids: []string{"a"}}}},
			want:   []string{"a"}, afters: []string{"", ""}, wait: true,
		},
		{
			name: "429 without retries", q: bounded, policy: okta.NoRetries(),
			script: map[string][]logPage{"": {{status: 429}}},
			afters: []string{""}, err: okta.ErrRateLimited,
		},
		{
			name: "429 on a later page", q: bounded, policy: okta.NoRetries(),
			script: map[string][]logPage{"": {{uuids: []string{"a"}, next: "p2"}}, "p2": {{status: 429}}},
			want:   []string{"a"}, afters: []string{"", "p2"}, err: okta.ErrRateLimited,
		},
		{
			name: "403", q: bounded, policy: retry,
			script: map[string][]logPage{"": {{status: 403}}},
			afters: []string{""}, err: okta.ErrForbidden,
		},
		{name: "no since", q: okta.LogQuery{Until: epoch}, err: okta.ErrInvalidArgument, afters: []string{}},
		{name: "until before since", q: okta.LogQuery{Since: epoch, Until: since}, err: okta.ErrInvalidArgument, afters: []string{}},
		{name: "until equal to since", q: okta.LogQuery{Since: epoch, Until: epoch}, err: okta.ErrInvalidArgument, afters: []string{}},
		{name: "since out of range", q: okta.LogQuery{Since: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, err: okta.ErrInvalidArgument, afters: []string{}},
		{name: "until out of range", q: okta.LogQuery{Since: since, Until: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, err: okta.ErrInvalidArgument, afters: []string{}},
		{name: "negative limit", q: okta.LogQuery{Since: since, Limit: -1}, err: okta.ErrInvalidArgument, afters: []string{}},
		{name: "limit above the maximum", q: okta.LogQuery{Since: since, Limit: okta.MaxLogLimit + 1}, err: okta.ErrInvalidArgument, afters: []string{}},
		{name: "control character in filter", q: okta.LogQuery{Since: since, Filter: "eventType eq \"a\"\n"}, err: okta.ErrInvalidArgument, afters: []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ls := newLogServer(t, tc.script)
			for _, pages := range tc.script {
				for i := range pages {
					pages[i].link = strings.ReplaceAll(pages[i].link, "ORG", ls.URL)
				}
			}
			clk := testclock.New(epoch)
			c, err := okta.NewClient(ls.URL, token, okta.WithHTTPClient(ls.Client()), okta.WithClock(clk), okta.WithRetryPolicy(tc.policy))
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			var last error
			n := 0
			for e, err := range c.ListLogEvents(t.Context(), tc.q) {
				if n++; n > 20 {
					t.Fatal("more than 20 elements")
				}
				if err != nil {
					if last != nil {
						t.Errorf("second error %v after %v", err, last)
					}
					last = err
					if e.UUID != "" {
						t.Errorf("error came with event %q", e.UUID)
					}
					continue
				}
				if last != nil {
					t.Errorf("event %q after the error %v", e.UUID, last)
				}
				got = append(got, e.UUID)
			}
			if tc.want == nil {
				tc.want = []string{}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.afters, ls.afters()); diff != "" {
				t.Errorf("requests' after cursors (-want +got):\n%s", diff)
			}
			switch {
			case tc.err != nil && !errors.Is(last, tc.err):
				t.Errorf("error = %v, want %v", last, tc.err)
			case tc.errHas != "" && (last == nil || !strings.Contains(last.Error(), tc.errHas)):
				t.Errorf("error = %v, want one saying %q", last, tc.errHas)
			case tc.err == nil && tc.errHas == "" && last != nil:
				t.Errorf("error = %v", last)
			}
			// The 429's reset is 10 s after its Date, and the client waits
			// a second more.
			if waited := slices.Contains(clk.Sleeps(), 11*time.Second); waited != tc.wait {
				t.Errorf("waits %v; want the 11 s wait for the reset: %v", clk.Sleeps(), tc.wait)
			}
			if last != nil && strings.Contains(last.Error(), token) {
				t.Errorf("error %q shows the token", last)
			}
		})
	}
}

// The first request carries the query: the bounds widened to whole
// milliseconds in UTC, the default limit, ASCENDING, the filter.
func TestListLogEventsQuery(t *testing.T) {
	t.Parallel()
	east := time.FixedZone("east", 2*3600)
	for _, tc := range []struct {
		name string
		q    okta.LogQuery
		want url.Values
	}{
		{
			name: "polling", q: okta.LogQuery{Since: time.Date(2026, 3, 1, 14, 0, 0, 123456789, east)},
			want: url.Values{"since": {"2026-03-01T12:00:00.123Z"}, "limit": {"100"}, "sortOrder": {"ASCENDING"}},
		},
		{
			name: "bounded with filter and limit",
			q: okta.LogQuery{Since: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Until: time.Date(2026, 3, 1, 13, 0, 0, 1, time.UTC),
				Filter: okta.LogFilterEventType(okta.EventTypePreregisterInitiate), Limit: okta.MaxLogLimit},
			want: url.Values{"since": {"2026-03-01T12:00:00.000Z"}, "until": {"2026-03-01T13:00:00.001Z"}, "limit": {"1000"},
				"sortOrder": {"ASCENDING"}, "filter": {`eventType eq "system.mfa.preregister.initiate"`}},
		},
		{
			name: "until on a millisecond stays", q: okta.LogQuery{Since: epoch.Add(-time.Second), Until: epoch.Add(5 * time.Millisecond), Limit: 1},
			want: url.Values{"since": {"2026-03-01T11:59:59.000Z"}, "until": {"2026-03-01T12:00:00.005Z"}, "limit": {"1"}, "sortOrder": {"ASCENDING"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ls := newLogServer(t, map[string][]logPage{"": {{}}})
			c, err := okta.NewClient(ls.URL, token, okta.WithHTTPClient(ls.Client()), okta.WithRetryPolicy(okta.NoRetries()))
			if err != nil {
				t.Fatal(err)
			}
			for _, err := range c.ListLogEvents(t.Context(), tc.q) {
				if err != nil {
					t.Fatal(err)
				}
			}
			ls.mu.Lock()
			defer ls.mu.Unlock()
			if len(ls.requests) != 1 {
				t.Fatalf("%d requests, want 1", len(ls.requests))
			}
			if diff := cmp.Diff(tc.want, ls.requests[0]); diff != "" {
				t.Errorf("query (-want +got):\n%s", diff)
			}
		})
	}
}

// Breaking out of the loop fetches no further page.
func TestListLogEventsStopsWithTheLoop(t *testing.T) {
	t.Parallel()
	ls := newLogServer(t, map[string][]logPage{"": {{uuids: []string{"a", "b"}, next: "p2"}}, "p2": {{uuids: []string{"c"}}}})
	c, err := okta.NewClient(ls.URL, token, okta.WithHTTPClient(ls.Client()), okta.WithRetryPolicy(okta.NoRetries()))
	if err != nil {
		t.Fatal(err)
	}
	for range c.ListLogEvents(t.Context(), okta.LogQuery{Since: epoch.Add(-time.Hour), Until: epoch}) {
		break
	}
	if diff := cmp.Diff([]string{""}, ls.afters()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestLogFilterEventType(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		types []string
		want  string
	}{
		{nil, ""},
		{[]string{"system.mfa.preregister.initiate"}, `eventType eq "system.mfa.preregister.initiate"`},
		{[]string{"a", "b"}, `eventType eq "a" or eventType eq "b"`},
		{[]string{`we"ird\`}, `eventType eq "we\"ird\\"`},
	} {
		if got := okta.LogFilterEventType(tc.types...); got != tc.want {
			t.Errorf("LogFilterEventType(%q) = %s, want %s", tc.types, got, tc.want)
		}
	}
}

package oktatest_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// logsFixture is a fake with events a minute apart: group additions and,
// every third minute, an order (system.mfa.preregister.initiate).
type logsFixture struct {
	srv    *oktatest.Server
	c      *okta.Client
	events []oktatest.Event // as emitted
	start  time.Time        // the fake clock before the first event
}

func newLogsFixture(t *testing.T, n int, opts ...oktatest.Option) *logsFixture {
	t.Helper()
	srv, c := newServerClient(t, opts...)
	f := &logsFixture{srv: srv, c: c, start: srv.Now()}
	u := seedUser(t, srv, "logs@example.com", okta.UserStaged)
	gid := srv.AddGroup("Logs")
	for i := range n {
		must(t, srv.Advance(time.Minute))
		f.emit(t, u.ID, gid, i%3 == 2)
	}
	f.events = srv.Events()
	if len(f.events) != n {
		t.Fatalf("%d events, want %d", len(f.events), n)
	}
	return f
}

// emit makes the fake emit one event: an order or a group addition.
func (f *logsFixture) emit(t *testing.T, userID, groupID string, order bool) {
	t.Helper()
	if order {
		must(t, f.c.InitiateFulfillment(t.Context(), okta.FulfillmentRequest{UserID: userID, FulfillmentData: okta.FulfillmentData{
			{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"}}}))
		return
	}
	must(t, f.c.AddUserToGroup(t.Context(), groupID, userID))
}

// at is the time of the i-th minute after start, as a query value.
func (f *logsFixture) at(i int, layout string) string {
	return f.start.Add(time.Duration(i) * time.Minute).Format(layout)
}

func (f *logsFixture) uuids(keep func(i int, e oktatest.Event) bool) []string {
	out := []string{}
	for i, e := range f.events {
		if keep(i, e) {
			out = append(out, e.UUID)
		}
	}
	return out
}

// logsGet sends GET /api/v1/logs?query with the API token and returns the
// status, the events' UUIDs, the next link ("" when none) and the body.
func logsGet(t *testing.T, srv *oktatest.Server, query, auth string) (int, []string, string, []byte) {
	t.Helper()
	path := "/api/v1/logs"
	if query != "" {
		path += "?" + query
	}
	if strings.HasPrefix(query, srv.URL()) { // a next link
		path = strings.TrimPrefix(query, srv.URL())
	}
	status, hdr, body := raw(t, srv, "GET", path, auth, "")
	if status != http.StatusOK {
		return status, nil, "", body
	}
	var events []okta.LogEvent
	if err := json.Unmarshal(body, &events); err != nil {
		t.Fatalf("page %s: %v", body, err)
	}
	if events == nil {
		t.Errorf("page is %s, want a JSON array", body)
	}
	ids := []string{}
	for _, e := range events {
		ids = append(ids, e.UUID)
	}
	var self, next string
	for _, l := range hdr.Values("Link") {
		target, rel, _ := strings.Cut(l, ">; rel=")
		target = strings.TrimPrefix(target, "<")
		switch rel {
		case `"self"`:
			self = target
		case `"next"`:
			next = target
		}
	}
	if self != srv.URL()+path {
		t.Errorf("self link %q, want %q", self, srv.URL()+path)
	}
	if got := hdr.Get("X-Rate-Limit-Limit"); got != "120" {
		t.Errorf("X-Rate-Limit-Limit %q, want the System Log bucket's 120", got)
	}
	return status, ids, next, body
}

// logsAll follows next links from query until a page without one or, when
// polling, the first empty page; it returns every UUID and the number of
// pages.
func logsAll(t *testing.T, srv *oktatest.Server, query string, polling bool) ([]string, int) {
	t.Helper()
	all := []string{}
	for pages := 1; pages <= 100; pages++ {
		status, ids, next, body := logsGet(t, srv, query, "SSWS "+srv.Token())
		if status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", query, status, body)
		}
		all = append(all, ids...)
		if polling && next == "" {
			t.Fatalf("polling page %d has no next link", pages)
		}
		if next == "" || (polling && len(ids) == 0) {
			return all, pages
		}
		query = next
	}
	t.Fatal("more than 100 pages")
	return nil, 0
}

func TestSystemLogQueries(t *testing.T) {
	t.Parallel()
	f := newLogsFixture(t, 9) // events at minutes 1..9; orders at 3, 6, 9
	all := func(int, oktatest.Event) bool { return true }
	minutes := func(from, to int) func(int, oktatest.Event) bool { // [from, to)
		return func(i int, _ oktatest.Event) bool { return i+1 >= from && i+1 < to }
	}
	orders := func(_ int, e oktatest.Event) bool { return e.EventType == okta.EventTypePreregisterInitiate }
	reversed := func(s []string) []string { s = slices.Clone(s); slices.Reverse(s); return s }
	east := time.FixedZone("east", 2*3600)
	for _, tc := range []struct {
		name    string
		query   url.Values
		polling bool
		want    []string
		pages   int
	}{
		{"polling from the start", url.Values{"since": {f.at(0, time.RFC3339)}}, true, f.uuids(all), 2},
		{"polling, since inclusive", url.Values{"since": {f.at(4, time.RFC3339)}}, true, f.uuids(minutes(4, 99)), 2},
		{"polling without since: the last 7 days", url.Values{}, true, f.uuids(all), 2},
		{"bounded, until exclusive", url.Values{"since": {f.at(2, time.RFC3339)}, "until": {f.at(5, time.RFC3339Nano)}}, false, f.uuids(minutes(2, 5)), 1},
		{"bounded, times with fractions and offsets", url.Values{
			"since": {f.start.Add(2*time.Minute - time.Millisecond).In(east).Format("2006-01-02T15:04:05.000Z07:00")},
			"until": {f.start.Add(5*time.Minute + time.Nanosecond).In(east).Format(time.RFC3339Nano)}}, false, f.uuids(minutes(2, 6)), 1},
		{"bounded, paged by 2", url.Values{"since": {f.at(0, time.RFC3339)}, "until": {f.at(99, time.RFC3339)}, "limit": {"2"}}, false, f.uuids(all), 5},
		{"bounded, paged by 3: no empty last page", url.Values{"since": {f.at(0, time.RFC3339)}, "until": {f.at(99, time.RFC3339)}, "limit": {"3"}}, false, f.uuids(all), 3},
		{"polling, paged by 4", url.Values{"since": {f.at(0, time.RFC3339)}, "limit": {"4"}}, true, f.uuids(all), 4},
		{"descending, bounded", url.Values{"since": {f.at(2, time.RFC3339)}, "until": {f.at(5, time.RFC3339)}, "sortOrder": {"DESCENDING"}}, false, reversed(f.uuids(minutes(2, 5))), 1},
		{"descending without until, paged by 2", url.Values{"sortOrder": {"DESCENDING"}, "limit": {"2"}}, false, reversed(f.uuids(all)), 5},
		{"filter on the order event", url.Values{"since": {f.at(0, time.RFC3339)}, "filter": {okta.LogFilterEventType(okta.EventTypePreregisterInitiate)}}, true, f.uuids(orders), 2},
		{"filter paged by 1", url.Values{"since": {f.at(0, time.RFC3339)}, "until": {f.at(99, time.RFC3339)}, "limit": {"1"},
			"filter": {okta.LogFilterEventType(okta.EventTypePreregisterInitiate)}}, false, f.uuids(orders), 3},
		{"filter with or, upper-case operators", url.Values{"since": {f.at(0, time.RFC3339)},
			"filter": {`eventType EQ "group.user_membership.add" OR eventType eq "system.mfa.preregister.initiate"`}}, true, f.uuids(all), 2},
		{"filter on a type never emitted", url.Values{"since": {f.at(0, time.RFC3339)}, "filter": {`eventType eq "user.session.start"`}}, true, []string{}, 1},
		{"empty q and until are absent", url.Values{"since": {f.at(0, time.RFC3339)}, "q": {""}, "until": {""}}, true, f.uuids(all), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, pages := logsAll(t, f.srv, tc.query.Encode(), tc.polling)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if pages != tc.pages {
				t.Errorf("%d pages, want %d", pages, tc.pages)
			}
		})
	}
}

// The page's events are those the fake emitted, rendered as event hooks
// deliver them.
func TestSystemLogEventShape(t *testing.T) {
	t.Parallel()
	f := newLogsFixture(t, 3)
	var got []okta.LogEvent
	for e, err := range f.c.ListLogEvents(t.Context(), okta.LogQuery{Since: f.start, Filter: okta.LogFilterEventType(okta.EventTypePreregisterInitiate)}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	if len(got) != 1 {
		t.Fatalf("%d events, want 1", len(got))
	}
	e, want := got[0], f.events[2]
	if e.UUID != want.UUID || !e.Published.Equal(want.Published) || e.EventType != want.EventType ||
		len(e.Target) != 2 || e.Target[0].ID != want.UserID || e.Target[1].DetailEntry["yubicoInventoryProductId"] != "106" ||
		e.Transaction == nil || e.Transaction.ID != want.RequestID {
		t.Errorf("event %+v does not show %+v", e, want)
	}
}

// Cursors: paging by the client while events are emitted between pages
// returns every event once, in order; a descending listing is not
// disturbed by newer events.
func TestSystemLogPagingWhileEmitting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		bounded bool
	}{{"polling", false}, {"bounded up to the future", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newLogsFixture(t, 5)
			u := seedUser(t, f.srv, "more@example.com", okta.UserStaged)
			gid := f.srv.AddGroup("More")
			q := okta.LogQuery{Since: f.start, Limit: 2}
			if tc.bounded {
				q.Until = f.start.Add(time.Hour)
			}
			var got []string
			for e, err := range f.c.ListLogEvents(t.Context(), q) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, e.UUID)
				// Within a page, and before the last page is asked for:
				// a bounded query does not see events emitted after its
				// last page.
				if len(got)%2 == 1 && len(got) < 7 {
					must(t, f.srv.Advance(time.Second))
					f.emit(t, u.ID, gid, len(got) == 3)
				}
			}
			want := []string{}
			for _, e := range f.srv.Events() {
				want = append(want, e.UUID)
			}
			if len(want) != 8 {
				t.Fatalf("%d events emitted, want 8", len(want))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("descending", func(t *testing.T) {
		t.Parallel()
		f := newLogsFixture(t, 5)
		ssws := "SSWS " + f.srv.Token()
		_, first, next, _ := logsGet(t, f.srv, "sortOrder=DESCENDING&limit=2", ssws)
		u := seedUser(t, f.srv, "more@example.com", okta.UserStaged)
		must(t, f.srv.Advance(time.Second))
		f.emit(t, u.ID, f.srv.AddGroup("More"), false)
		got := first
		for next != "" {
			var ids []string
			_, ids, next, _ = logsGet(t, f.srv, next, ssws)
			got = append(got, ids...)
		}
		want := f.uuids(func(int, oktatest.Event) bool { return true })
		slices.Reverse(want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
	})
}

// Events older than the 90 days Okta keeps are not returned, and a since
// more than 180 days back is refused, as Okta documents.
func TestSystemLogRetention(t *testing.T) {
	t.Parallel()
	f := newLogsFixture(t, 2)
	must(t, f.srv.Advance(90*24*time.Hour-30*time.Second)) // the first event is 90 days and 30 s old, the second 30 s younger than 90 days
	got, _ := logsAll(t, f.srv, url.Values{"since": {f.at(0, time.RFC3339)}}.Encode(), true)
	if diff := cmp.Diff([]string{f.events[1].UUID}, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	must(t, f.srv.Advance(90*24*time.Hour))
	status, _, _, body := logsGet(t, f.srv, url.Values{"since": {f.at(0, time.RFC3339)}}.Encode(), "SSWS "+f.srv.Token())
	if status != http.StatusBadRequest {
		t.Fatalf("since 180 days ago: %d %s", status, body)
	}
	checkErrorBody(t, body, "E0000053", "Invalid parameter: The since parameter is over 180 days prior to the current day.")
}

// Every event is in the System Log, those no hook received and those whose
// delivery failed too.
func TestSystemLogHasUndeliveredEvents(t *testing.T) {
	t.Parallel()
	srv, c := newServerClient(t)
	ep := newEndpoint(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			answerCorrectly(w, r)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	start := srv.Now()
	u := seedUser(t, srv, "undelivered@example.com", okta.UserStaged)
	order := okta.FulfillmentRequest{UserID: u.ID, FulfillmentData: okta.FulfillmentData{{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"}}}
	must(t, c.InitiateFulfillment(t.Context(), order)) // no hook yet
	if _, err := srv.AddEventHook(t.Context(), ep.URL, endpointSecret); err != nil {
		t.Fatal(err)
	}
	must(t, c.InitiateFulfillment(t.Context(), order)) // the hook answers 503, twice
	ds, err := srv.AwaitQueuedDeliveries(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].Status != http.StatusServiceUnavailable || ds[1].Status != http.StatusServiceUnavailable {
		t.Fatalf("deliveries %+v, want two failed attempts", ds)
	}
	var got []string
	for e, err := range c.ListLogEvents(t.Context(), okta.LogQuery{Since: start, Filter: okta.LogFilterEventType(okta.EventTypePreregisterInitiate)}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.UUID)
	}
	want := []string{srv.Events()[0].UUID, ds[0].EventUUIDs[0]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// Bad parameters are 400 with Okta's error body naming the parameter;
// filters other than eventType eq … or … are refused as unsupported.
func TestSystemLogBadParameters(t *testing.T) {
	t.Parallel()
	f := newLogsFixture(t, 2)
	since := f.at(0, time.RFC3339)
	const invalidFilter = "Bad request. Invalid filter parameter."
	for _, tc := range []struct {
		query         url.Values
		code, summary string
		causeHas      string
		afterOutOfLog bool
	}{
		{query: url.Values{"since": {"yesterday"}}, code: "E0000001", summary: "Api validation failed: since", causeHas: "since: The date format"},
		{query: url.Values{"since": {since}, "until": {"2026-13-01T00:00:00Z"}}, code: "E0000001", summary: "Api validation failed: until", causeHas: "until: The date format"},
		{query: url.Values{"since": {"2026-01-01 00:00:00"}}, code: "E0000001", summary: "Api validation failed: since", causeHas: "since:"},
		{query: url.Values{"since": {since}, "until": {since}}, code: "E0000001", summary: "Api validation failed: since", causeHas: "before until"},
		{query: url.Values{"since": {since}, "limit": {"0"}}, code: "E0000001", summary: "Api validation failed: limit", causeHas: "limit:"},
		{query: url.Values{"since": {since}, "limit": {"1001"}}, code: "E0000001", summary: "Api validation failed: limit", causeHas: "limit:"},
		{query: url.Values{"since": {since}, "limit": {"ten"}}, code: "E0000001", summary: "Api validation failed: limit", causeHas: "limit:"},
		{query: url.Values{"since": {since}, "sortOrder": {"asc"}}, code: "E0000001", summary: "Api validation failed: sortOrder", causeHas: "sortOrder:"},
		{query: url.Values{"since": {since}, "after": {"not-a-cursor"}}, code: "E0000001", summary: "Api validation failed: after", causeHas: "after:"},
		{query: url.Values{"since": {since}}, code: "E0000001", summary: "Api validation failed: after", causeHas: "after:", afterOutOfLog: true},
		{query: url.Values{"since": {since}, "q": {"Jane"}}, code: "E0000001", summary: "Api validation failed: q", causeHas: "keyword search"},
		{query: url.Values{"since": {since}, "filter": {`target.id eq "00u1"`}}, code: "E0000031", summary: invalidFilter, causeHas: "filter: oktatest supports only"},
		{query: url.Values{"since": {since}, "filter": {`eventType sw "user."`}}, code: "E0000031", summary: invalidFilter, causeHas: "filter: oktatest supports only"},
		{query: url.Values{"since": {since}, "filter": {`eventType eq "a" and eventType eq "b"`}}, code: "E0000031", summary: invalidFilter, causeHas: "filter: oktatest supports only"},
		{query: url.Values{"since": {since}, "filter": {`(eventType eq "a")`}}, code: "E0000031", summary: invalidFilter, causeHas: "filter: oktatest supports only"},
		{query: url.Values{"since": {since}, "filter": {`eventType eq a`}}, code: "E0000031", summary: invalidFilter, causeHas: "filter: oktatest supports only"},
		{query: url.Values{"since": {since}, "filter": {`eventType eq "a" or`}}, code: "E0000031", summary: invalidFilter, causeHas: "filter: oktatest supports only"},
		{query: url.Values{"since": {since}, "filter": {`eventType eq "a`}}, code: "E0000031", summary: invalidFilter, causeHas: "filter: oktatest supports only"},
	} {
		q := tc.query
		if tc.afterOutOfLog {
			// A well-formed cursor past the end of the log: taken from a
			// fake with more events.
			g := newLogsFixture(t, 5)
			_, _, next, _ := logsGet(t, g.srv, "limit=4&since="+url.QueryEscape(since), "SSWS "+g.srv.Token())
			nu, err := url.Parse(next)
			if err != nil || nu.Query().Get("after") == "" {
				t.Fatalf("next link %q", next)
			}
			q.Set("after", nu.Query().Get("after"))
		}
		status, _, _, body := logsGet(t, f.srv, q.Encode(), "SSWS "+f.srv.Token())
		if status != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", q.Encode(), status, body)
			continue
		}
		var eb struct {
			ErrorCode, ErrorSummary string
			ErrorCauses             []struct{ ErrorSummary string }
		}
		if err := json.Unmarshal(body, &eb); err != nil {
			t.Fatal(err)
		}
		causes := ""
		for _, c := range eb.ErrorCauses {
			causes += c.ErrorSummary + "|"
		}
		if eb.ErrorCode != tc.code || eb.ErrorSummary != tc.summary || !strings.Contains(causes, tc.causeHas) {
			t.Errorf("%s: %s %q causes %q; want %s %q with a cause containing %q", q.Encode(), eb.ErrorCode, eb.ErrorSummary, causes, tc.code, tc.summary, tc.causeHas)
		}
	}
}

// The System Log needs a token, and with a scoped token okta.logs.read;
// service apps' tokens (bearer and DPoP-bound) work like an API token.
func TestSystemLogAuthorization(t *testing.T) {
	t.Parallel()
	f := newLogsFixture(t, 1)
	query := url.Values{"since": {f.at(0, time.RFC3339)}}.Encode()
	f.srv.AddToken("users-only", okta.ScopeUsersRead)
	f.srv.AddToken("logs-reader", okta.ScopeLogsRead)
	for _, tc := range []struct {
		auth   string
		status int
	}{
		{"", http.StatusUnauthorized},
		{"SSWS unknown", http.StatusUnauthorized},
		{"SSWS users-only", http.StatusForbidden},
		{"SSWS logs-reader", http.StatusOK},
		{"SSWS " + f.srv.Token(), http.StatusOK},
	} {
		if status, _, _, body := logsGet(t, f.srv, query, tc.auth); status != tc.status {
			t.Errorf("%q: %d %s, want %d", tc.auth, status, body, tc.status)
		}
	}
	for _, tc := range []struct {
		name   string
		scope  string
		dpop   bool
		wantOK bool
	}{
		{"bearer with okta.logs.read", okta.ScopeLogsRead, false, true},
		{"DPoP with okta.logs.read", okta.ScopeLogsRead, true, true},
		{"bearer without okta.logs.read", okta.ScopeUsersRead, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := okta.NewPrivateKey(newECKey(t), "")
			if err != nil {
				t.Fatal(err)
			}
			clientID := "0oa" + strings.NewReplacer(" ", "", ".", "").Replace(tc.name)
			must(t, f.srv.AddServiceApp(oktatest.ServiceApp{ClientID: clientID, Keys: []jose.JSONWebKey{key.PublicJWK()}, Scopes: []string{tc.scope}, DPoP: tc.dpop}))
			c, err := f.srv.OAuthClient(okta.OAuthConfig{ClientID: clientID, PrivateKey: key, Scopes: []string{tc.scope}, DPoP: tc.dpop})
			if err != nil {
				t.Fatal(err)
			}
			n, last := 0, error(nil)
			for _, err := range c.ListLogEvents(t.Context(), okta.LogQuery{Since: f.start}) {
				if err != nil {
					last = err
					continue
				}
				n++
			}
			if tc.wantOK && (last != nil || n != 1) {
				t.Errorf("%d events, error %v; want 1, nil", n, last)
			}
			if !tc.wantOK && !errors.Is(last, okta.ErrForbidden) {
				t.Errorf("error %v, want ErrForbidden", last)
			}
		})
	}
}

// The route draws from its own bucket and takes the fault injection of
// its path.
func TestSystemLogRateLimitAndFaults(t *testing.T) {
	t.Parallel()
	f := newLogsFixture(t, 1, oktatest.WithBucketLimit("/api/v1/logs", 2))
	q := okta.LogQuery{Since: f.start}
	list := func(c *okta.Client) error {
		for _, err := range c.ListLogEvents(t.Context(), q) {
			if err != nil {
				return err
			}
		}
		return nil
	}
	noRetry, err := f.srv.Client(okta.WithRetryPolicy(okta.NoRetries()))
	if err != nil {
		t.Fatal(err)
	}
	// A polling query of one event takes two requests: the bucket's two.
	if err := list(noRetry); err != nil {
		t.Fatalf("first listing: %v", err)
	}
	if err := list(noRetry); !errors.Is(err, okta.ErrRateLimited) {
		t.Fatalf("second listing without retries: %v, want ErrRateLimited", err)
	}
	if _, err := noRetry.GetUser(t.Context(), f.events[0].UserID); err != nil {
		t.Errorf("GetUser, another bucket: %v", err)
	}
	// The default client waits for the window's reset (on the fake clock).
	if err := list(f.c); err != nil {
		t.Errorf("listing with retries: %v", err)
	}
	if rl, ok := f.c.RateLimit("/api/v1/logs"); !ok || rl.Limit != 2 {
		t.Errorf("RateLimit(/api/v1/logs) = %+v, %v; want the bucket's limit 2", rl, ok)
	}

	must(t, f.srv.InjectHTTPFault(oktatest.HTTPFaultRule{Method: "GET", PathPrefix: "/api/v1/logs", Status: http.StatusServiceUnavailable}))
	must(t, f.srv.Advance(time.Minute))
	if err := list(noRetry); !errors.Is(err, okta.ErrServer) {
		t.Errorf("listing after an injected 503: %v, want ErrServer", err)
	}
	must(t, f.srv.InjectHTTPFault(oktatest.HTTPFaultRule{Method: "GET", PathPrefix: "/api/v1/logs", Status: http.StatusServiceUnavailable}))
	if err := list(f.c); err != nil {
		t.Errorf("listing with retries after an injected 503: %v", err)
	}
}

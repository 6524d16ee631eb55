package fakehttp

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/httpfault"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestClockManualNeverMovesBackwards(t *testing.T) {
	c := NewClock(t0, false)
	if got, err := c.Advance(time.Hour); err != nil || !got.Equal(t0.Add(time.Hour)) {
		t.Fatalf("Advance(1h) = %v, %v", got, err)
	}
	if _, err := c.Advance(-time.Second); !errors.Is(err, ErrClockBackwards) {
		t.Errorf("Advance(-1s) error = %v, want ErrClockBackwards", err)
	}
	if _, err := c.AdvanceTo(t0); !errors.Is(err, ErrClockBackwards) {
		t.Errorf("AdvanceTo(earlier) error = %v, want ErrClockBackwards", err)
	}
	if got := c.Now(); !got.Equal(t0.Add(time.Hour)) {
		t.Errorf("after refused moves Now = %v, want %v", got, t0.Add(time.Hour))
	}
	if got, err := c.AdvanceTo(t0.Add(2 * time.Hour)); err != nil || !got.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("AdvanceTo(+2h) = %v, %v", got, err)
	}
	if c.RealTime() {
		t.Error("manual clock reports RealTime")
	}
}

func TestClockRealTimeFollowsWallClockWithOffset(t *testing.T) {
	c := NewClock(t0, true)
	a := c.Now()
	if a.Before(t0) || a.After(t0.Add(time.Minute)) {
		t.Fatalf("Now = %v, want just after %v", a, t0)
	}
	got, err := c.Advance(24 * time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got.Before(a.Add(24 * time.Hour)) {
		t.Errorf("after Advance(24h) Now = %v, want at least %v", got, a.Add(24*time.Hour))
	}
	for range 1000 {
		if b := c.Now(); b.Before(got) {
			t.Fatalf("real-time clock went backwards: %v after %v", b, got)
		} else {
			got = b
		}
	}
	if !c.RealTime() {
		t.Error("real-time clock does not report RealTime")
	}
}

func req(method, path string) *http.Request { return httptest.NewRequest(method, path, nil) }

func TestFaultsRulesComeFirstAndCountDown(t *testing.T) {
	f := NewFaults("fake", 1, nil)
	if err := f.SetHTTPFaultPlan(httpfault.Plan{Rate: 1, Kinds: []httpfault.Kind{httpfault.InternalError}}); err != nil {
		t.Fatal(err)
	}
	if err := f.InjectHTTPFault(httpfault.Rule{Method: "POST", PathPrefix: "/a", Count: 2, Status: 503}); err != nil {
		t.Fatal(err)
	}
	if err := f.SetLatency(time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var got []Decision
	for _, r := range []*http.Request{req("POST", "/a/1"), req("GET", "/a/1"), req("POST", "/a/2"), req("POST", "/a/3")} {
		got = append(got, f.Take(r))
	}
	want := []Decision{
		{Status: 503, Latency: time.Millisecond},
		{Status: 500, Latency: time.Millisecond, Planned: httpfault.InternalError},
		{Status: 503, Latency: time.Millisecond},
		{Status: 500, Latency: time.Millisecond, Planned: httpfault.InternalError},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[httpfault.Kind]int{httpfault.InternalError: 2}, f.HTTPFaultCounts()); diff != "" {
		t.Errorf("Counts (-want +got):\n%s", diff)
	}
}

func TestFaultsPlanIsDeterministic(t *testing.T) {
	draw := func() []Decision {
		f := NewFaults("fake", 7, nil)
		if err := f.SetHTTPFaultPlan(httpfault.Plan{Rate: 0.5, Seed: 42, RetryAfter: 3 * time.Second}); err != nil {
			t.Fatal(err)
		}
		var out []Decision
		for range 200 {
			out = append(out, f.Take(req("GET", "/")))
		}
		return out
	}
	a, b := draw(), draw()
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("same seed, different faults (-first +second):\n%s", diff)
	}
	faults := 0
	for _, d := range a {
		if d != (Decision{}) {
			faults++
		}
		if d.Planned == httpfault.TooManyRequests && (d.Status != 429 || d.RetryAfter != 3*time.Second) {
			t.Errorf("429 decision %+v, want Status 429 RetryAfter 3s", d)
		}
		if d.Planned == httpfault.Latency && d.Latency != httpfault.DefaultLatency {
			t.Errorf("latency decision %+v, want the default latency", d)
		}
	}
	if faults < 60 || faults > 140 {
		t.Errorf("%d faults in 200 requests at rate 0.5", faults)
	}
}

func TestFaultsRefuseInvalidInput(t *testing.T) {
	f := NewFaults("fake", 0, nil)
	for _, r := range []httpfault.Rule{{Count: -1, Status: 500}, {Status: 200}, {Status: 700}, {Latency: -1}, {Status: 429, RetryAfter: -1}, {}} {
		if err := f.InjectHTTPFault(r); err == nil {
			t.Errorf("InjectHTTPFault(%+v) = nil, want an error", r)
		}
	}
	for _, p := range []httpfault.Plan{{Rate: -0.1}, {Rate: 1.5}, {Rate: 0.1, Kinds: []httpfault.Kind{99}}, {Rate: 0.1, Latency: -1}, {Rate: 0.1, RetryAfter: -1}} {
		if err := f.SetHTTPFaultPlan(p); err == nil {
			t.Errorf("SetHTTPFaultPlan(%+v) = nil, want an error", p)
		}
	}
	if err := f.SetLatency(-time.Second); err == nil {
		t.Error("SetLatency(-1s) = nil, want an error")
	}
	if err := f.FailNext(0, 500); err == nil {
		t.Error("FailNext(0, 500) = nil, want an error")
	}
	if err := f.DropNext(0); err == nil || !strings.HasPrefix(err.Error(), "fake: DropNext") {
		t.Errorf("DropNext(0) = %v, want an error starting with the fake's name", err)
	}
	if d := f.Take(req("GET", "/")); d != (Decision{}) {
		t.Errorf("after refused input Take = %+v, want no fault", d)
	}
}

func TestLimiterBucketsAndWindows(t *testing.T) {
	l := NewLimiter(time.Minute, func(r *http.Request) (string, int) {
		switch r.URL.Path {
		case "/a":
			return "a", 2
		case "/b":
			return "b", 1
		}
		return "", 0
	})
	type take struct {
		Path    string
		At      time.Duration
		Q       Quota
		Limited bool
	}
	steps := []take{
		{Path: "/a", Q: Quota{Bucket: "a", Limit: 2, Remaining: 1, Reset: t0.Add(time.Minute), Allowed: true}, Limited: true},
		{Path: "/b", Q: Quota{Bucket: "b", Limit: 1, Remaining: 0, Reset: t0.Add(time.Minute), Allowed: true}, Limited: true},
		{Path: "/a", At: time.Second, Q: Quota{Bucket: "a", Limit: 2, Remaining: 0, Reset: t0.Add(time.Minute), Allowed: true}, Limited: true},
		{Path: "/a", At: 2 * time.Second, Q: Quota{Bucket: "a", Limit: 2, Remaining: 0, Reset: t0.Add(time.Minute), Allowed: false}, Limited: true},
		{Path: "/c", At: 2 * time.Second},
		{Path: "/a", At: time.Minute, Q: Quota{Bucket: "a", Limit: 2, Remaining: 1, Reset: t0.Add(2 * time.Minute), Allowed: true}, Limited: true},
		// A window starts at the whole second of its first request, so its
		// reset is a whole second too (Okta reports it in seconds).
		{Path: "/b", At: time.Minute + 1500*time.Millisecond, Q: Quota{Bucket: "b", Limit: 1, Remaining: 0, Reset: t0.Add(2*time.Minute + time.Second), Allowed: true}, Limited: true},
	}
	for i, s := range steps {
		q, limited := l.Take(req("GET", s.Path), t0.Add(s.At))
		got := take{Path: s.Path, At: s.At, Q: q, Limited: limited}
		if diff := cmp.Diff(s, got); diff != "" {
			t.Errorf("step %d (-want +got):\n%s", i, diff)
		}
	}
}

// TestDropConnectionRecordsBeforeClose checks that the request is recorded
// before the client can see its connection close: a test that reads a
// fake's log right after a drop must find the entry.
func TestDropConnectionRecordsBeforeClose(t *testing.T) {
	clientDone := make(chan struct{})
	records := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		DropConnection(w, func() {
			records++
			select {
			case <-clientDone:
				t.Error("the client saw the drop before the request was recorded")
			default:
			}
		})
	}))
	defer srv.Close()
	c := srv.Client()
	c.Transport.(*http.Transport).DisableKeepAlives = true
	_, err := c.Get(srv.URL)
	close(clientDone)
	if err == nil {
		t.Fatal("GET succeeded; want a dropped connection")
	}
	srv.Close() // waits for the handler
	if records != 1 {
		t.Errorf("record ran %d times, want 1", records)
	}
}

func TestLogKeepsOrderAndReturnsCopies(t *testing.T) {
	var l Log[int]
	if got := l.All(); got != nil {
		t.Fatalf("empty log: All() = %#v, want nil", got)
	}
	l.Add(1)
	l.Add(2)
	got := l.All()
	got[0] = 99 // must not reach the log
	l.Add(3)
	if diff := cmp.Diff([]int{1, 2, 3}, l.All()); diff != "" {
		t.Errorf("All() mismatch (-want +got):\n%s", diff)
	}
}

func TestReadBody(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		length int64 // the request's ContentLength; -1 unknown
		limit  int64
		want   string
	}{
		{"length known", "hello", 5, 10, "hello"},
		{"length unknown", "hello", -1, 10, "hello"},
		{"empty", "", 0, 10, ""},
		{"at the limit", "0123456789", 10, 10, "0123456789"},
		{"over the limit: limit+1 bytes", "0123456789abc", 13, 10, "0123456789a"},
		{"over the limit, length unknown", "0123456789abc", -1, 10, "0123456789a"},
		{"length says less than sent", "hello world", 5, 20, "hello world"},
		{"long body, length unknown", strings.Repeat("x", 5000), -1, 1 << 20, strings.Repeat("x", 5000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			r.ContentLength = tt.length
			got, err := ReadBody(r, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("ReadBody (-want +got):\n%s", diff)
			}
		})
	}
}

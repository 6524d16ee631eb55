package oktatest_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/httpfault"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// sendRaw sends one GET /api/v1/users/{login} with the server's token and
// returns the status (0 for a transport error) and the headers.
func sendRaw(t *testing.T, srv *oktatest.Server, hc *http.Client, path string) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "SSWS "+srv.Token())
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}

func TestFaultPlanRateAndDeterminism(t *testing.T) {
	t.Parallel()
	run := func() ([]oktatest.HTTPFault, map[oktatest.HTTPFault]int) {
		srv := oktatest.NewServer(t, oktatest.WithoutRateLimits(), oktatest.WithHTTPFaultPlan(oktatest.HTTPFaultPlan{
			Rate: 0.3, Seed: 42, Kinds: []oktatest.HTTPFault{httpfault.TooManyRequests, httpfault.InternalError,
				httpfault.BadGateway, httpfault.Unavailable, httpfault.Drop},
		}))
		if _, err := srv.AddUser(okta.Profile{Login: "a@example.com", Email: "a@example.com", FirstName: "A", LastName: "B"}, okta.UserActive); err != nil {
			t.Fatal(err)
		}
		// No keep-alive: net/http silently replays a GET whose reused
		// connection was dropped, which would hide the fault.
		hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		var kinds []oktatest.HTTPFault
		for range 400 {
			status, h := sendRaw(t, srv, hc, "/api/v1/users/a@example.com")
			switch status {
			case 0:
				kinds = append(kinds, httpfault.Drop)
			case 200:
				kinds = append(kinds, 0)
			case 429:
				if h.Get("X-Rate-Limit-Reset") == "" || h.Get("X-Rate-Limit-Remaining") != "0" || h.Get("X-Rate-Limit-Limit") == "" {
					t.Errorf("429 without rate-limit headers: %v", h)
				}
				kinds = append(kinds, httpfault.TooManyRequests)
			case 500:
				kinds = append(kinds, httpfault.InternalError)
			case 502:
				kinds = append(kinds, httpfault.BadGateway)
			case 503:
				kinds = append(kinds, httpfault.Unavailable)
			default:
				t.Fatalf("status %d", status)
			}
		}
		// The request log agrees with what the client saw (as counts: a
		// dropped request may be logged after the next one).
		seen, logged := map[oktatest.HTTPFault]int{}, map[oktatest.HTTPFault]int{}
		for _, k := range kinds {
			seen[k]++
		}
		for _, r := range srv.RequestLog() {
			logged[r.HTTPFault]++
		}
		if diff := cmp.Diff(seen, logged); diff != "" {
			t.Errorf("faults seen by the client vs logged (-seen +logged):\n%s", diff)
		}
		return kinds, srv.HTTPFaultCounts()
	}
	kinds1, counts := run()
	kinds2, _ := run()
	if diff := cmp.Diff(kinds1, kinds2); diff != "" {
		t.Errorf("same seed, different faults (-first +second):\n%s", diff)
	}
	total := 0
	for _, k := range []oktatest.HTTPFault{httpfault.TooManyRequests, httpfault.InternalError,
		httpfault.BadGateway, httpfault.Unavailable, httpfault.Drop} {
		if counts[k] == 0 {
			t.Errorf("no %v fault in 400 requests at rate 0.3", k)
		}
		total += counts[k]
	}
	if total < 80 || total > 160 {
		t.Errorf("%d faults in 400 requests, want about 120", total)
	}
}

func TestFaultPlanDropResponseCommits(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t, oktatest.WithoutRateLimits(), oktatest.WithHTTPFaultPlan(oktatest.HTTPFaultPlan{
		Rate: 1, Kinds: []oktatest.HTTPFault{httpfault.DropResponse}, Method: http.MethodPost,
	}))
	c, err := srv.Client(okta.WithRetryPolicy(okta.NoRetries()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateUser(t.Context(), okta.CreateUserRequest{Profile: okta.Profile{
		Login: "new@example.com", Email: "new@example.com", FirstName: "N", LastName: "U"}})
	var ae *okta.APIError
	if err == nil || errors.As(err, &ae) {
		t.Fatalf("CreateUser = %v, want a transport error", err)
	}
	// The user was created although the client never heard back.
	if _, err := c.GetUser(t.Context(), "new@example.com"); err != nil {
		t.Errorf("GetUser after a dropped response = %v, want the user", err)
	}
	if got := srv.HTTPFaultCounts()[httpfault.DropResponse]; got != 1 {
		t.Errorf("drop-response count = %d, want 1", got)
	}
}

func TestFaultPlanLatencyBeyondTimeout(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t, oktatest.WithoutRateLimits(), oktatest.WithHTTPFaultPlan(oktatest.HTTPFaultPlan{
		Rate: 1, Kinds: []oktatest.HTTPFault{httpfault.Latency}, Latency: 20 * time.Second, Method: http.MethodPost,
	}))
	// The timeout leaves the request time to reach the handler on a loaded
	// machine (with 30 ms it sometimes never arrived, and the log below was
	// empty); the latency is far beyond it, so the client gives up first.
	c, err := srv.Client(okta.WithRetryPolicy(okta.NoRetries()), okta.WithHTTPClient(&http.Client{Timeout: 500 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.CreateUser(t.Context(), okta.CreateUserRequest{Profile: okta.Profile{
		Login: "slow@example.com", Email: "slow@example.com", FirstName: "S", LastName: "U"}})
	if err == nil || !strings.Contains(err.Error(), "Timeout") && !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("CreateUser = %v, want a timeout", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the client waited %v for a 20 s latency fault with a 500 ms timeout", d)
	}
	// Close waits for the handler: the request must not be handled once
	// the latency is over either (a POST whose body the fake had not read
	// used to be).
	srv.Close()
	if _, ok := srv.User("slow@example.com"); ok {
		t.Errorf("the request was handled after the client timed out")
	}
	if log := srv.RequestLog(); len(log) != 1 || log[0].Status != 0 {
		t.Errorf("request log %+v, want one request left unanswered", log)
	}
}

func TestFaultPlanValidation(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	for _, p := range []oktatest.HTTPFaultPlan{{Rate: -0.1}, {Rate: 1.5}, {Rate: 0.1, Kinds: []oktatest.HTTPFault{99}}, {Rate: 0.1, Latency: -1}} {
		if err := srv.SetHTTPFaultPlan(p); err == nil {
			t.Errorf("SetFaultPlan(%+v) = nil, want an error", p)
		}
	}
	if err := srv.SetHTTPFaultPlan(oktatest.HTTPFaultPlan{}); err != nil {
		t.Errorf("SetFaultPlan(zero) = %v", err)
	}
}

// TestDeadFaultRuleRefused: a rule or plan whose method and path prefix
// reach no route of the fake could never fire and is refused, with the
// route's path when the prefix was copied from under it.
func TestDeadFaultRuleRefused(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	errText := func(err error) string {
		if err == nil {
			return "<nil>"
		}
		return err.Error()
	}
	started, startErr := oktatest.Start(oktatest.WithHTTPFaultPlan(oktatest.HTTPFaultPlan{Rate: 0.5, PathPrefix: "/v1/users"}))
	if startErr == nil {
		started.Close()
	}
	got := []string{
		errText(srv.InjectHTTPFault(oktatest.HTTPFaultRule{Method: http.MethodPost, PathPrefix: "/initiate-fulfillment-request", Status: 503})),
		errText(srv.InjectHTTPFault(oktatest.HTTPFaultRule{Method: "post", PathPrefix: "/api/v1/users", Status: 503})),
		errText(srv.InjectHTTPFault(oktatest.HTTPFaultRule{Method: http.MethodPut, PathPrefix: "/api/v1/users", Status: 503})),
		errText(srv.SetHTTPFaultPlan(oktatest.HTTPFaultPlan{Rate: 0.5, PathPrefix: "/oauth2/default/"})),
		errText(startErr),
	}
	want := []string{
		`oktatest: InjectHTTPFault: HTTPFaultRule: no POST request the fake serves has a path beginning with PathPrefix "/initiate-fulfillment-request", so it would never fire (the fake serves "/webauthn-registration/api/v1/initiate-fulfillment-request": PathPrefix is the path from the fake's root)`,
		`oktatest: InjectHTTPFault: HTTPFaultRule: no post request the fake serves has a path beginning with PathPrefix "/api/v1/users", so it would never fire (a request's method is upper case: "POST")`,
		`oktatest: InjectHTTPFault: HTTPFaultRule: no PUT request the fake serves has a path beginning with PathPrefix "/api/v1/users", so it would never fire`,
		`oktatest: HTTPFaultPlan: no request the fake serves has a path beginning with PathPrefix "/oauth2/default/", so it would never fire`,
		`oktatest: HTTPFaultPlan: no request the fake serves has a path beginning with PathPrefix "/v1/users", so it would never fire (the fake serves "/api/v1/users": PathPrefix is the path from the fake's root)`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]httpfault.RuleCount{}, srv.HTTPFaultRuleCounts()); diff != "" {
		t.Errorf("refused rules were queued (-want +got):\n%s", diff)
	}
}

// TestFaultRuleCounts: HTTPFaultRuleCounts lists every rule injected, in
// order, with how many requests it made misbehave; one that matched no
// request shows Fired 0.
func TestFaultRuleCounts(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t, oktatest.WithoutRateLimits())
	u, err := srv.AddUser(okta.Profile{Login: "ada@example.com", Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace"}, okta.UserActive)
	if err != nil {
		t.Fatal(err)
	}
	live := oktatest.HTTPFaultRule{Method: http.MethodGet, PathPrefix: "/api/v1/users/", Count: 2, Status: http.StatusServiceUnavailable}
	idle := oktatest.HTTPFaultRule{Method: http.MethodPost, PathPrefix: "/webauthn-registration/api/v1/enroll", Status: http.StatusServiceUnavailable}
	must(t, srv.InjectHTTPFault(live))
	must(t, srv.InjectHTTPFault(idle))
	must(t, srv.FailNext(1, http.StatusInternalServerError))
	hc := &http.Client{Timeout: 5 * time.Second}
	var statuses []int
	for range 4 {
		st, _ := sendRaw(t, srv, hc, "/api/v1/users/"+u.ID)
		statuses = append(statuses, st)
	}
	if diff := cmp.Diff([]int{503, 503, 500, 200}, statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	want := []httpfault.RuleCount{
		{Rule: live, Fired: 2},
		{Rule: idle, Fired: 0},
		{Rule: oktatest.HTTPFaultRule{Count: 1, Status: http.StatusInternalServerError}, Fired: 1},
	}
	if diff := cmp.Diff(want, srv.HTTPFaultRuleCounts()); diff != "" {
		t.Errorf("HTTPFaultRuleCounts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[httpfault.Kind]int{}, srv.HTTPFaultCounts()); diff != "" {
		t.Errorf("HTTPFaultCounts, a plan's, counted rules (-want +got):\n%s", diff)
	}
}

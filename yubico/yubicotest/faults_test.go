package yubicotest_test

import (
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/httpfault"
	"github.com/preenroll/preenroll/yubico"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

func TestHTTPFaultPlanRateAndDeterminism(t *testing.T) {
	t.Parallel()
	run := func() (map[yubicotest.HTTPFault]int, []int) {
		srv := yubicotest.NewServer(t, yubicotest.WithHTTPFaultPlan(yubicotest.HTTPFaultPlan{
			Rate: 0.3, Seed: 7, Kinds: []yubicotest.HTTPFault{httpfault.TooManyRequests,
				httpfault.InternalError, httpfault.BadGateway, httpfault.Unavailable, httpfault.Drop},
		}))
		// No keep-alive: net/http replays a GET whose reused connection
		// was dropped, which would hide the fault.
		hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		var statuses []int
		for range 300 {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL()+"/inventory", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+srv.Token())
			resp, err := hc.Do(req)
			if err != nil {
				statuses = append(statuses, 0)
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != "1" {
				t.Errorf("429 with Retry-After %q, want 1", resp.Header.Get("Retry-After"))
			}
			statuses = append(statuses, resp.StatusCode)
		}
		return srv.HTTPFaultCounts(), statuses
	}
	counts, s1 := run()
	_, s2 := run()
	if diff := cmp.Diff(s1, s2); diff != "" {
		t.Errorf("same seed, different outcomes (-first +second):\n%s", diff)
	}
	seen := map[int]int{}
	for _, st := range s1 {
		seen[st]++
	}
	want := map[int]int{
		200: 300 - counts[httpfault.TooManyRequests] - counts[httpfault.InternalError] -
			counts[httpfault.BadGateway] - counts[httpfault.Unavailable] - counts[httpfault.Drop],
		429: counts[httpfault.TooManyRequests], 500: counts[httpfault.InternalError],
		502: counts[httpfault.BadGateway], 503: counts[httpfault.Unavailable], 0: counts[httpfault.Drop],
	}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("statuses vs fault counts (-want +got):\n%s", diff)
	}
	if n := 300 - seen[200]; n < 60 || n > 120 {
		t.Errorf("%d faults in 300 requests at rate 0.3", n)
	}
}

func TestHTTPFaultPlanDropResponseCommits(t *testing.T) {
	t.Parallel()
	srv := yubicotest.NewServer(t)
	c := srv.Client()
	if err := srv.SetHTTPFaultPlan(yubicotest.HTTPFaultPlan{Rate: 1, Kinds: []yubicotest.HTTPFault{httpfault.DropResponse}, Method: http.MethodPost}); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateShipment(t.Context(), exactRequest())
	var ae *yubico.APIError
	if err == nil || errors.As(err, &ae) {
		t.Fatalf("CreateShipment = %v, want a transport error", err)
	}
	if n := len(srv.Shipments()); n != 1 {
		t.Errorf("%d shipments after a dropped response, want 1 (the create took effect)", n)
	}
	if got := srv.HTTPFaultCounts()[httpfault.DropResponse]; got != 1 {
		t.Errorf("drop-response count = %d, want 1", got)
	}
	log := srv.RequestLog()
	if last := log[len(log)-1]; last.HTTPFault != httpfault.DropResponse || last.Status != http.StatusOK {
		t.Errorf("log entry = %+v, want the drop-response fault over a 200", last)
	}
	if err := srv.SetHTTPFaultPlan(yubicotest.HTTPFaultPlan{Rate: 2}); err == nil {
		t.Errorf("SetHTTPFaultPlan(rate 2) = nil, want an error")
	}
}

// TestDeadFaultRuleRefused: the path in a yubico.APIError is under the
// client's base URL (/fpr/shipments) while the fake serves /v1/fpr/shipments;
// a rule or plan with the copied path could never fire and is refused,
// naming the path to use. So is one whose method no route has.
func TestDeadFaultRuleRefused(t *testing.T) {
	t.Parallel()
	srv := yubicotest.NewServer(t)
	errText := func(err error) string {
		if err == nil {
			return "<nil>"
		}
		return err.Error()
	}
	started, startErr := yubicotest.Start(yubicotest.WithHTTPFaultPlan(yubicotest.HTTPFaultPlan{Rate: 0.5, PathPrefix: "/shipments_exact"}))
	if startErr == nil {
		started.Close()
	}
	got := []string{
		errText(srv.InjectHTTPFault(yubicotest.HTTPFaultRule{Method: http.MethodPost, PathPrefix: "/fpr/shipments", Status: 503})),
		errText(srv.InjectHTTPFault(yubicotest.HTTPFaultRule{Method: http.MethodPut, PathPrefix: "/v1/fpr/shipments", Status: 503})),
		errText(srv.SetHTTPFaultPlan(yubicotest.HTTPFaultPlan{Rate: 0.5, PathPrefix: "/v2/"})),
		errText(startErr),
	}
	want := []string{
		`yubicotest: InjectHTTPFault: HTTPFaultRule: no POST request the fake serves has a path beginning with PathPrefix "/fpr/shipments", so it would never fire (the fake serves "/v1/fpr/shipments": PathPrefix is the path from the fake's root)`,
		`yubicotest: InjectHTTPFault: HTTPFaultRule: no PUT request the fake serves has a path beginning with PathPrefix "/v1/fpr/shipments", so it would never fire`,
		`yubicotest: HTTPFaultPlan: no request the fake serves has a path beginning with PathPrefix "/v2/", so it would never fire`,
		`yubicotest: HTTPFaultPlan: no request the fake serves has a path beginning with PathPrefix "/shipments_exact", so it would never fire (the fake serves "/v1/shipments_exact": PathPrefix is the path from the fake's root)`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]httpfault.RuleCount{}, srv.HTTPFaultRuleCounts()); diff != "" {
		t.Errorf("refused rules were queued (-want +got):\n%s", diff)
	}
	// The console host's JWKS is a route too.
	must(t, srv.InjectHTTPFault(yubicotest.HTTPFaultRule{PathPrefix: yubico.SigningKeysPath, Status: 503}))
}

// TestFaultRuleCounts: HTTPFaultRuleCounts lists every rule injected, in
// order, with how many requests it made misbehave; one that matched no
// request shows Fired 0.
func TestFaultRuleCounts(t *testing.T) {
	t.Parallel()
	srv := yubicotest.NewServer(t)
	c := srv.Client(yubico.WithRetryPolicy(yubico.NoRetries()))
	live := yubicotest.HTTPFaultRule{Method: http.MethodGet, PathPrefix: "/v1/products", Count: 2, Status: http.StatusServiceUnavailable}
	idle := yubicotest.HTTPFaultRule{Method: http.MethodPost, PathPrefix: "/v1/fpr/shipments", Status: http.StatusServiceUnavailable}
	must(t, srv.InjectHTTPFault(live))
	must(t, srv.InjectHTTPFault(idle))
	must(t, srv.FailNext(1, http.StatusBadGateway))
	var failed []bool
	for range 4 {
		_, err := c.Products(t.Context())
		failed = append(failed, err != nil)
	}
	if diff := cmp.Diff([]bool{true, true, true, false}, failed); diff != "" {
		t.Errorf("Products failed (-want +got):\n%s", diff)
	}
	var statuses []int
	for _, r := range srv.RequestLog() {
		statuses = append(statuses, r.Status)
	}
	if diff := cmp.Diff([]int{503, 503, 502, 200}, statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	want := []httpfault.RuleCount{
		{Rule: live, Fired: 2},
		{Rule: idle, Fired: 0},
		{Rule: yubicotest.HTTPFaultRule{Count: 1, Status: http.StatusBadGateway}, Fired: 1},
	}
	if diff := cmp.Diff(want, srv.HTTPFaultRuleCounts()); diff != "" {
		t.Errorf("HTTPFaultRuleCounts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[httpfault.Kind]int{}, srv.HTTPFaultCounts()); diff != "" {
		t.Errorf("HTTPFaultCounts, a plan's, counted rules (-want +got):\n%s", diff)
	}
}

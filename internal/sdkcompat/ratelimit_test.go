package sdkcompat

import (
	"net/http"
	"strings"
	"testing"
	"time"

	sdk "github.com/okta/okta-sdk-golang/v5/okta"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

func TestSDKSees429(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t, oktatest.WithRateLimit("/api/v1/users", 1))
	c := newSDK(t, srv)
	u, err := srv.AddUser(okta.Profile{Login: "rl@example.com", Email: "rl@example.com", FirstName: "R", LastName: "L"}, okta.UserActive)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.UserAPI.GetUser(t.Context(), u.ID).Execute(); err != nil {
		t.Fatal(err)
	}
	// With retries off, okta-sdk-golang v5 drains the 429 and reports only
	// "too many requests" (no status, no body): the fake's log shows what
	// Okta would have answered.
	_, _, err = c.UserAPI.GetUser(t.Context(), u.ID).Execute()
	if err == nil || !strings.Contains(err.Error(), "too many requests") {
		t.Fatalf("second GetUser: %v, want the SDK's too many requests", err)
	}
	log := srv.RequestLog()
	if last := log[len(log)-1]; last.Status != http.StatusTooManyRequests || last.ErrorCode != "E0000047" {
		t.Errorf("fake answered %d %s, want 429 E0000047", last.Status, last.ErrorCode)
	}
}

// advanceOn429 moves the fake clock past the rate-limit window whenever
// the fake answers 429, standing in for the time the SDK would sleep.
type advanceOn429 struct {
	srv  *oktatest.Server
	base http.RoundTripper
}

func (a advanceOn429) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := a.base.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		if err := a.srv.Advance(time.Minute); err != nil {
			resp.Body.Close()
			return nil, err
		}
	}
	return resp, err
}

func TestSDKRetriesAfter429(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t, oktatest.WithRateLimit("/api/v1/users", 1))
	hc := &http.Client{Timeout: 10 * time.Second, Transport: advanceOn429{srv, http.DefaultTransport}}
	// One retry, and no real sleep: MaxBackOff 0 caps the SDK's wait.
	c := newSDKWith(t, srv, hc, sdk.WithRateLimitMaxRetries(1), sdk.WithRateLimitMaxBackOff(0))
	u, err := srv.AddUser(okta.Profile{Login: "retry@example.com", Email: "retry@example.com", FirstName: "R", LastName: "T"}, okta.UserActive)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, _, err := c.UserAPI.GetUser(t.Context(), u.ID).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	log := srv.RequestLog()
	if len(log) != 3 || log[1].Status != 429 || log[2].Status != 200 {
		t.Fatalf("log: %+v", log)
	}
	if log[2].RetryFor != log[1].RequestID || log[2].RetryCount != "1" {
		t.Errorf("retry headers %q %q, want X-Okta-Retry-For %q and X-Okta-Retry-Count 1", log[2].RetryFor, log[2].RetryCount, log[1].RequestID)
	}
}

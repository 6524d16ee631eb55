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

// sdkRetrying are the SDK's 429 settings as its README configures them
// (okta.client.rateLimit.maxRetries: 4), with a back-off cap that never
// shortens the wait for X-Rate-Limit-Reset here. okta-sdk-golang v5.0.6
// itself defaults both to 0 (no retry), so an application that wants the
// SDK to ride out 429s sets them; nothing else in the SDK is changed and
// its requests go over a plain http.Client.
//
// The SDK waits X-Rate-Limit-Reset - Date + 1 seconds (Get429BackoffTime
// in its client.go), measured on the wall clock, before retrying.
var sdkRetrying = []sdk.ConfigSetter{sdk.WithRateLimitMaxRetries(4), sdk.WithRateLimitMaxBackOff(30)}

// tinyBucket is a fake org whose GET /api/v1/users/{id} bucket allows 2
// requests per 1 s window, so the SDK's wait for X-Rate-Limit-Reset is 1-2 s.
func tinyBucket(t *testing.T, opts ...oktatest.Option) (*oktatest.Server, okta.User) {
	t.Helper()
	srv := oktatest.NewServer(t, append([]oktatest.Option{
		oktatest.WithBucketLimit("GET /api/v1/users/{idOrLogin}", 2),
		oktatest.WithRateLimitWindow(time.Second),
	}, opts...)...)
	u, err := srv.AddUser(okta.Profile{Login: "wait@example.com", Email: "wait@example.com", FirstName: "W", LastName: "T"}, okta.UserActive)
	if err != nil {
		t.Fatal(err)
	}
	return srv, u
}

// TestSDKRidesOut429InRealTime: an unmodified okta-sdk-golang client (no
// clock, no transport of ours) that makes more calls than its bucket
// allows gets a 429, sleeps until X-Rate-Limit-Reset and succeeds, because
// with WithRealTime the fake's clock follows the wall clock the SDK sleeps
// on. This is what WithRealTime is for (compare
// TestSDKWithoutRealTimeGets429UntilRetriesRunOut).
func TestSDKRidesOut429InRealTime(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 1-2 s of wall time for the fake's rate-limit window")
	}
	t.Parallel()
	srv, u := tinyBucket(t, oktatest.WithRealTime())
	c := newSDK(t, srv, sdkRetrying...)
	// Three calls in one window are one more than the bucket allows; calls
	// that straddle the end of a window (the fake's windows follow the
	// wall clock) may all pass, so the test calls until one was limited,
	// at most maxCalls times.
	const maxCalls = 9
	calls := 0
	for !limitedOnce(srv) && calls < maxCalls {
		calls++
		got, _, err := c.UserAPI.GetUser(t.Context(), u.ID).Execute()
		if err != nil {
			t.Fatalf("GetUser %d: %v", calls, err)
		}
		if deref(got.Id) != u.ID {
			t.Fatalf("GetUser %d returned user %s, want %s", calls, deref(got.Id), u.ID)
		}
	}
	log := srv.RequestLog()
	var limited, ok []oktatest.Request
	for _, r := range log {
		switch r.Status {
		case http.StatusTooManyRequests:
			limited = append(limited, r)
		case http.StatusOK:
			ok = append(ok, r)
		default:
			t.Errorf("unexpected %d %s for %s %s", r.Status, r.ErrorCode, r.Method, r.Path)
		}
	}
	if len(limited) == 0 {
		t.Fatalf("the fake never answered 429 (log %+v): the test did not exercise the SDK's wait", log)
	}
	if len(ok) != calls {
		t.Errorf("%d calls answered 200, want %d", len(ok), calls)
	}
	// Every 429 was followed by the SDK's retry of it, answered 200 after
	// the window reset on the fake's (wall-following) clock.
	for i, r := range log {
		if r.Status != http.StatusTooManyRequests {
			continue
		}
		if i+1 >= len(log) {
			t.Fatalf("429 %s is the last request: the SDK did not retry", r.RequestID)
		}
		next := log[i+1]
		if next.Status != http.StatusOK || next.RetryFor != r.RequestID {
			t.Errorf("after 429 %s: %d with X-Okta-Retry-For %q, want 200 retrying it", r.RequestID, next.Status, next.RetryFor)
		}
		if !next.Time.After(r.Time) {
			t.Errorf("retry at fake time %v, not after the 429 at %v: the fake's clock did not follow the wall clock", next.Time, r.Time)
		}
	}
}

// limitedOnce reports whether the fake has answered a 429.
func limitedOnce(srv *oktatest.Server) bool {
	for _, r := range srv.RequestLog() {
		if r.Status == http.StatusTooManyRequests {
			return true
		}
	}
	return false
}

// TestSDKWithoutRealTimeGets429UntilRetriesRunOut shows why WithRealTime
// exists: on the fake's default clock, which moves only when the test
// moves it, the SDK sleeps the wall-clock time X-Rate-Limit-Reset asks for,
// but the fake's time has not moved, the window has not reset, and every
// retry gets 429 until the SDK's retries run out (one here, so the test
// fails after a single wait instead of four).
func TestSDKWithoutRealTimeGets429UntilRetriesRunOut(t *testing.T) {
	if testing.Short() {
		t.Skip("the SDK sleeps 2 s of wall time before its retry")
	}
	t.Parallel()
	srv, u := tinyBucket(t)
	c := newSDK(t, srv, sdk.WithRateLimitMaxRetries(1), sdk.WithRateLimitMaxBackOff(30))
	for range 2 {
		if _, _, err := c.UserAPI.GetUser(t.Context(), u.ID).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	_, _, err := c.UserAPI.GetUser(t.Context(), u.ID).Execute()
	waited := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "too many requests") {
		t.Fatalf("third GetUser: %v, want the SDK's too many requests", err)
	}
	if waited < time.Second {
		t.Errorf("the SDK gave up after %v: it did not wait for X-Rate-Limit-Reset", waited)
	}
	log := srv.RequestLog()
	if len(log) != 4 {
		t.Fatalf("log has %d requests, want 2 answered and the third tried twice: %+v", len(log), log)
	}
	first, retry := log[2], log[3]
	if first.Status != http.StatusTooManyRequests || retry.Status != http.StatusTooManyRequests {
		t.Errorf("third call answered %d then %d, want 429 twice", first.Status, retry.Status)
	}
	if retry.RetryFor != first.RequestID || retry.RetryCount != "1" {
		t.Errorf("retry headers %q %q, want X-Okta-Retry-For %q and X-Okta-Retry-Count 1", retry.RetryFor, retry.RetryCount, first.RequestID)
	}
	if !retry.Time.Equal(first.Time) {
		t.Errorf("the fake's clock moved from %v to %v without the test moving it", first.Time, retry.Time)
	}
}

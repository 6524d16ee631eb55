package okta_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/preenroll/preenroll/internal/testhttp"
	"github.com/preenroll/preenroll/okta"
)

// TestThrottleRefusesWaitPastDeadline: a wait for the bucket's reset that
// would outlast the caller's deadline is refused at once, before sending,
// instead of sleeping into the deadline.
func TestThrottleRefusesWaitPastDeadline(t *testing.T) {
	t.Parallel()
	c, mt, clk := newTestClient(t, okta.WithRetryPolicy(okta.RetryPolicy{Reserve: 0, MaxRateLimitWait: time.Minute}))
	mt.RegisterResponder("GET", org+"/api/v1/users/a", func(*http.Request) (*http.Response, error) {
		now := clk.Now()
		return testhttp.JSONResponse(200, `{"id":"a","profile":{}}`, "Date", now.Format(http.TimeFormat),
			"X-Rate-Limit-Limit", "10", "X-Rate-Limit-Remaining", "0", "X-Rate-Limit-Reset", fmt.Sprint(now.Add(40*time.Second).Unix())), nil
	})
	if _, err := c.GetUser(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := c.GetUser(ctx, "a"); !errors.Is(err, okta.ErrRateLimited) {
		t.Fatalf("GetUser with a reset past the deadline = %v, want ErrRateLimited", err)
	}
	if n := mt.GetTotalCallCount(); n != 1 {
		t.Errorf("%d requests sent, want 1 (the second is refused before sending)", n)
	}
	if len(clk.Sleeps()) != 0 {
		t.Errorf("waited %v, want no wait", clk.Sleeps())
	}
	// Without a deadline the same call waits for the reset.
	if _, err := c.GetUser(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	if got := clk.Sleeps(); len(got) != 1 || got[0] < 39*time.Second {
		t.Errorf("waits without a deadline %v, want one of about 40s", got)
	}
}

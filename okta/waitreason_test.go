package okta_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/internal/httpclient"
	"github.com/preenroll/preenroll/internal/testclock"
	"github.com/preenroll/preenroll/okta"
)

// The client tells its clock why it waits: pacing a bucket's requests over
// the window, waiting for a used-up window's reset, waiting out a 429, and
// backing off after a 5xx or a transport error. The server is a real one on
// loopback, answering a script of responses; its dates are the fake clock's.
func TestClientTellsWhyItWaits(t *testing.T) {
	t.Parallel()
	type answer struct {
		status    int
		remaining int // X-Rate-Limit-Remaining of 60, resetting 60 s after the clock's start; -1: no headers
		hangUp    bool
	}
	ok := func(remaining int) answer { return answer{status: http.StatusOK, remaining: remaining} }
	for _, tc := range []struct {
		name    string
		calls   int
		answers []answer
		want    []httpclient.WaitReason
	}{
		// A burst of one (60 a minute), then a token every second or so.
		{"pacing", 3, []answer{ok(59), ok(58), ok(57)}, []httpclient.WaitReason{httpclient.WaitPacing}},
		{"window used up", 2, []answer{ok(0), ok(59)}, []httpclient.WaitReason{httpclient.WaitReset}},
		{"429", 1, []answer{{status: http.StatusTooManyRequests, remaining: 0}, ok(59)}, []httpclient.WaitReason{httpclient.WaitRateLimited}},
		{"5xx", 1, []answer{{status: http.StatusServiceUnavailable, remaining: -1}, ok(-1)}, []httpclient.WaitReason{httpclient.WaitRetry}},
		{"transport error", 1, []answer{{hangUp: true}, ok(-1)}, []httpclient.WaitReason{httpclient.WaitRetry}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := testclock.New(epoch)
			var (
				mu sync.Mutex
				n  int
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				if n >= len(tc.answers) {
					mu.Unlock()
					http.Error(w, "unexpected request", http.StatusTeapot)
					return
				}
				a := tc.answers[n]
				n++
				mu.Unlock()
				if a.hangUp {
					conn, _, err := http.NewResponseController(w).Hijack()
					if err == nil {
						_ = conn.Close()
					}
					return
				}
				h := w.Header()
				h.Set("Content-Type", "application/json")
				h.Set("Date", clk.Now().UTC().Format(http.TimeFormat))
				if a.remaining >= 0 {
					h.Set("X-Rate-Limit-Limit", "60")
					h.Set("X-Rate-Limit-Remaining", strconv.Itoa(a.remaining))
					h.Set("X-Rate-Limit-Reset", strconv.FormatInt(epoch.Add(60*time.Second).Unix(), 10))
				}
				w.WriteHeader(a.status)
				if a.status == http.StatusOK {
					fmt.Fprint(w, `{"id":"x","status":"ACTIVE","profile":{"login":"x@example.com"}}`)
				} else {
					fmt.Fprint(w, `{"errorCode":"E0000047","errorSummary":"no"}`)
				}
			}))
			t.Cleanup(srv.Close)
			c, err := okta.NewClient(srv.URL, token, okta.WithClock(clk),
				okta.WithRetryPolicy(okta.RetryPolicy{MaxRetries: 2, Reserve: 0, MaxRateLimitWait: time.Hour,
					Backoff: func(n int) time.Duration { return time.Duration(n) * time.Second }}))
			if err != nil {
				t.Fatal(err)
			}
			for range tc.calls {
				if _, err := c.GetUser(t.Context(), "x"); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(tc.want, clk.Reasons()); diff != "" {
				t.Errorf("reasons of the waits (-want +got):\n%s", diff)
			}
		})
	}
}

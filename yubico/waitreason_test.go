package yubico_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/internal/httpclient"
	"github.com/preenroll/preenroll/internal/testclock"
	"github.com/preenroll/preenroll/yubico"
)

// The client tells its clock that each of its waits is a retry's, after a
// 5xx and after a 429 alike (Yubico reports no quota to pace by). The
// server is a real one on loopback.
func TestClientTellsWhyItWaits(t *testing.T) {
	t.Parallel()
	statuses := []int{http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusOK}
	var (
		mu sync.Mutex
		n  int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		status := http.StatusTeapot
		if n < len(statuses) {
			status = statuses[n]
		}
		n++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(status)
		if status == http.StatusOK {
			fmt.Fprint(w, `{"shipment_id":"abc","shipment_state_id":10}`)
		} else {
			fmt.Fprint(w, `{"message":"later"}`)
		}
	}))
	t.Cleanup(srv.Close)
	clock := testclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	c, err := yubico.NewClient(srv.URL, testToken, yubico.WithClock(clock),
		yubico.WithRetryPolicy(yubico.RetryPolicy{MaxRetries: 2, Backoff: func(int) time.Duration { return time.Second }}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Shipment(t.Context(), "abc"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]httpclient.WaitReason{httpclient.WaitRetry, httpclient.WaitRetry}, clock.Reasons()); diff != "" {
		t.Errorf("reasons of the waits (-want +got):\n%s", diff)
	}
}

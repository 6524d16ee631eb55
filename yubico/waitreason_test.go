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

// The client tells its clock why it waits, as the okta client does: a
// 429's wait (for its Retry-After, or the backoff without one) is a rate
// limit's, and a backoff after a 5xx (Retry-After or not), a transport
// error or a 409 "still in progress" is a retry's. The server is a real one
// on loopback, answering a script of responses.
func TestClientTellsWhyItWaits(t *testing.T) {
	t.Parallel()
	type answer struct {
		status     int
		retryAfter string // the Retry-After header, if any
		hangUp     bool
	}
	var (
		ok          = answer{status: http.StatusOK}
		rateLimited = httpclient.WaitRateLimited
		retry       = httpclient.WaitRetry
	)
	for _, tc := range []struct {
		name    string
		create  bool // a keyed create instead of a GET
		answers []answer
		want    []httpclient.WaitReason
	}{
		{"429 with Retry-After", false, []answer{{status: http.StatusTooManyRequests, retryAfter: "3"}, ok}, []httpclient.WaitReason{rateLimited}},
		{"429 without Retry-After", false, []answer{{status: http.StatusTooManyRequests}, ok}, []httpclient.WaitReason{rateLimited}},
		{"503", false, []answer{{status: http.StatusServiceUnavailable}, ok}, []httpclient.WaitReason{retry}},
		{"503 with Retry-After", false, []answer{{status: http.StatusServiceUnavailable, retryAfter: "3"}, ok}, []httpclient.WaitReason{retry}},
		{"transport error", false, []answer{{hangUp: true}, ok}, []httpclient.WaitReason{retry}},
		{"503, then 429", false, []answer{{status: http.StatusServiceUnavailable}, {status: http.StatusTooManyRequests, retryAfter: "1"}, ok},
			[]httpclient.WaitReason{retry, rateLimited}},
		{"keyed create: 409 in progress, then 429", true, []answer{{status: http.StatusConflict}, {status: http.StatusTooManyRequests}, ok},
			[]httpclient.WaitReason{retry, rateLimited}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var (
				mu sync.Mutex
				n  int
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				a := answer{status: http.StatusTeapot}
				if n < len(tc.answers) {
					a = tc.answers[n]
				}
				n++
				mu.Unlock()
				if a.hangUp {
					if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
						_ = conn.Close()
					}
					return
				}
				w.Header().Set("Content-Type", "application/json")
				if a.retryAfter != "" {
					w.Header().Set("Retry-After", a.retryAfter)
				}
				w.WriteHeader(a.status)
				if a.status == http.StatusOK {
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
			if tc.create {
				_, err = c.CreateShipment(t.Context(), yubico.ShipmentRequest{Recipient: "Example Inc.", IdempotencyKey: "order-1"})
			} else {
				_, err = c.Shipment(t.Context(), "abc")
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, clock.Reasons()); diff != "" {
				t.Errorf("reasons of the waits (-want +got):\n%s", diff)
			}
		})
	}
}

package yubico_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/preenroll/preenroll/yubico"
)

// TestRefusedRedirectNotRetried: a redirect the client refuses (here from
// https to http) fails the call at once: the refusal is the client's own
// and would come again, so it is no transport error to retry, even for a
// GET.
func TestRefusedRedirectNotRetried(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, yubico.WithRetryPolicy(yubico.RetryPolicy{MaxRetries: 2, Backoff: func(int) time.Duration { return 0 }}))
	var calls atomic.Int32
	mt.RegisterNoResponder(func(r *http.Request) (*http.Response, error) {
		calls.Add(1)
		h := http.Header{"Location": {"http://api.example.test" + r.URL.Path}}
		return &http.Response{StatusCode: http.StatusFound, Header: h, Body: http.NoBody, Request: r}, nil
	})
	_, err := c.ListShipments(t.Context(), yubico.ListOptions{})
	if err == nil || !strings.Contains(err.Error(), "from https to http") {
		t.Errorf("ListShipments redirected to http = %v, want the refusal", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the API got %d requests, want 1 (a refused redirect is not retried)", n)
	}
}

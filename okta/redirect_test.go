package okta_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRefusedRedirectNotRetried: a redirect the client refuses (here from
// https to http) fails the call at once: the refusal is the client's own
// and would come again, so it is no transport error to retry, even for an
// idempotent call.
func TestRefusedRedirectNotRetried(t *testing.T) {
	t.Parallel()
	c, mt, _ := newTestClient(t) // MaxRetries 2
	var calls atomic.Int32
	mt.RegisterNoResponder(func(r *http.Request) (*http.Response, error) {
		calls.Add(1)
		h := http.Header{"Location": {"http://example.okta.com" + r.URL.Path}}
		return &http.Response{StatusCode: http.StatusFound, Header: h, Body: http.NoBody, Request: r}, nil
	})
	_, err := c.GetUser(t.Context(), "00u1")
	if err == nil || !strings.Contains(err.Error(), "from https to http") {
		t.Errorf("GetUser redirected to http = %v, want the refusal", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the org got %d requests, want 1 (a refused redirect is not retried)", n)
	}
}

package serve

import (
	"net/http"
	"testing"
	"time"
)

// TestCredentialsLatestRequestDecides: /readyz judges the credentials by
// the answer to the request sent last: a 200 to a request sent before the
// token was revoked, coming back after a later request's 401, does not
// clear the refusal (this made TestReadyzVendors/Okta_token_revoked fail
// on a loaded machine); an answer to a request sent later does.
func TestCredentialsLatestRequestDecides(t *testing.T) {
	t.Parallel()
	m := newMetrics(func() float64 { return 0 })
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	answer := func(code int) *http.Response { return &http.Response{StatusCode: code, Header: http.Header{}} }
	steps := []struct {
		n    uint64
		code int
		want bool // refused after it
	}{
		{2, http.StatusUnauthorized, true},
		{1, http.StatusOK, true},       // sent before: not heeded
		{3, http.StatusNotFound, true}, // about the request: changes nothing
		{4, http.StatusOK, false},
		{5, http.StatusForbidden, true},
	}
	for _, s := range steps {
		m.credentials(vendorOkta, "GET /api/v1/users/{id}", s.n, answer(s.code), at)
		if got := m.refusedCredentials(vendorOkta) != ""; got != s.want {
			t.Errorf("after request %d answered %d: refused %v, want %v", s.n, s.code, got, s.want)
		}
	}
}

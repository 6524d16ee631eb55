package oktatest_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/okta/oktatest"
)

// WithRequestLogLimit bounds the org's request log to its most recent
// requests and RequestLogDropped counts the others (the log itself is
// fakehttp.Log, tested there).
func TestRequestLogLimit(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t, oktatest.WithRequestLogLimit(2))
	for i := range 4 {
		raw(t, srv, "GET", fmt.Sprintf("/api/v1/users/u%d", i), "SSWS "+srv.Token(), "")
	}
	var paths []string
	for _, r := range srv.RequestLog() {
		paths = append(paths, r.Path)
	}
	if d := cmp.Diff([]string{"/api/v1/users/u2", "/api/v1/users/u3"}, paths); d != "" {
		t.Errorf("logged paths (-want +got):\n%s", d)
	}
	if got := srv.RequestLogDropped(); got != 2 {
		t.Errorf("RequestLogDropped() = %d, want 2", got)
	}
}

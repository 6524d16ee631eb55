package oktatest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/okta/oktatest"
)

// WithRequestLogLimit keeps the most recent requests, in order, and counts
// the ones it dropped; without it every request stays; a limit below one
// is refused.
func TestRequestLogLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		opts        []oktatest.Option
		wantPaths   []string
		wantDropped int
	}{
		{"every request", nil, []string{"/api/v1/users/u0", "/api/v1/users/u1", "/api/v1/users/u2", "/api/v1/users/u3"}, 0},
		{"limit 2", []oktatest.Option{oktatest.WithRequestLogLimit(2)}, []string{"/api/v1/users/u2", "/api/v1/users/u3"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := oktatest.NewServer(t, tc.opts...)
			for i := range 4 {
				raw(t, srv, "GET", fmt.Sprintf("/api/v1/users/u%d", i), "SSWS "+srv.Token(), "")
			}
			var paths []string
			for _, r := range srv.RequestLog() {
				paths = append(paths, r.Path)
			}
			if d := cmp.Diff(tc.wantPaths, paths); d != "" {
				t.Errorf("logged paths (-want +got):\n%s", d)
			}
			if got := srv.RequestLogDropped(); got != tc.wantDropped {
				t.Errorf("RequestLogDropped() = %d, want %d", got, tc.wantDropped)
			}
		})
	}
	if _, err := oktatest.Start(oktatest.WithRequestLogLimit(0)); err == nil || !strings.Contains(err.Error(), "WithRequestLogLimit") {
		t.Errorf("Start(WithRequestLogLimit(0)) = %v, want an error naming WithRequestLogLimit", err)
	}
}

package yubicotest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/internal/testhttp"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// WithRequestLogLimit keeps the most recent requests, in order, and counts
// the ones it dropped; without it every request stays; a limit below one
// is refused.
func TestRequestLogLimit(t *testing.T) {
	t.Parallel()
	paths := []string{"/v1/shipments_exact/a", "/v1/shipments_exact/b", "/v1/shipments_exact/c"}
	for _, tc := range []struct {
		name        string
		opts        []yubicotest.Option
		wantPaths   []string
		wantDropped int
	}{
		{"every request", nil, paths, 0},
		{"limit 1", []yubicotest.Option{yubicotest.WithRequestLogLimit(1)}, paths[2:], 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := yubicotest.NewServer(t, tc.opts...)
			for _, p := range paths {
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL()+strings.TrimPrefix(p, "/v1"), nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+srv.Token())
				testhttp.Do(t, req)
			}
			var got []string
			for _, r := range srv.RequestLog() {
				got = append(got, r.Path)
			}
			if d := cmp.Diff(tc.wantPaths, got); d != "" {
				t.Errorf("logged paths (-want +got):\n%s", d)
			}
			if n := srv.RequestLogDropped(); n != tc.wantDropped {
				t.Errorf("RequestLogDropped() = %d, want %d", n, tc.wantDropped)
			}
		})
	}
	if _, err := yubicotest.Start(yubicotest.WithRequestLogLimit(0)); err == nil || !strings.Contains(err.Error(), "WithRequestLogLimit") {
		t.Errorf("Start(WithRequestLogLimit(0)) = %v, want an error naming WithRequestLogLimit", err)
	}
}

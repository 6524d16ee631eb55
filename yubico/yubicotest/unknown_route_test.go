package yubicotest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/preenroll/preenroll/internal/testhttp"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// recordingTB is a testing.TB whose Errorf is recorded instead of failing.
type recordingTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// A request to a route (or method) the fake does not model fails the test
// loudly, and still gets a 404 unknown_route naming the method and path.
func TestUnknownRouteFailsTest(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ method, path string }{
		{"GET", "/v1/no-such-route"},
		{"PATCH", "/v1/shipments_exact/abc"},
		{"GET", "/v1/nothing/here"},
	} {
		t.Run(tt.method+tt.path, func(t *testing.T) {
			t.Parallel()
			rec := &recordingTB{TB: t}
			srv := yubicotest.NewServer(rec)
			req, err := http.NewRequestWithContext(t.Context(), tt.method, strings.TrimSuffix(srv.URL(), "/v1")+tt.path, strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+srv.Token())
			resp, body := testhttp.Do(t, req)
			var eb struct {
				ErrorCode string `json:"error_code"`
				Message   string `json:"message"`
			}
			if resp.StatusCode != http.StatusNotFound || json.Unmarshal(body, &eb) != nil || eb.ErrorCode != "unknown_route" ||
				!strings.Contains(eb.Message, tt.method+" "+tt.path) {
				t.Errorf("%s %s = %d %s, want 404 unknown_route naming the request", tt.method, tt.path, resp.StatusCode, body)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], tt.method+" "+tt.path) {
				t.Errorf("test failures recorded = %q, want one naming %s %s", rec.errs, tt.method, tt.path)
			}
		})
	}
}

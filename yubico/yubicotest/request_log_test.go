package yubicotest_test

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/internal/testhttp"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// WithRequestLogLimit bounds the fake's request log to its most recent
// requests and RequestLogDropped counts the others (the log itself is
// fakehttp.Log, tested there).
func TestRequestLogLimit(t *testing.T) {
	t.Parallel()
	srv := yubicotest.NewServer(t, yubicotest.WithRequestLogLimit(1))
	for _, id := range []string{"a", "b", "c"} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL()+"/shipments_exact/"+id, nil)
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
	if d := cmp.Diff([]string{"/v1/shipments_exact/c"}, got); d != "" {
		t.Errorf("logged paths (-want +got):\n%s", d)
	}
	if n := srv.RequestLogDropped(); n != 2 {
		t.Errorf("RequestLogDropped() = %d, want 2", n)
	}
}

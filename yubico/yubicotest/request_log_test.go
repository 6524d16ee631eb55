package yubicotest_test

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// WithRequestLogLimit bounds the fake's request log to its most recent
// requests and RequestLogDropped counts the others (the log itself is
// fakehttp.Log, tested there).
func TestRequestLogLimit(t *testing.T) {
	t.Parallel()
	srv := yubicotest.NewServer(t, yubicotest.WithRequestLogLimit(1))
	for _, id := range []string{"a", "b", "c"} {
		send(t, srv, http.MethodGet, srv.URL()+"/shipments_exact/"+id, nil, nil)
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

package httpclient

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAuthorizationOnRedirects: the Authorization header goes with a
// client's request, and with each redirect hop, only to the authorized
// scheme, host (port included) and path prefix, outside the excepted
// prefix; a redirect from elsewhere into them gets it too. A caller's
// CheckRedirect never sees it on the hop it judges.
func TestAuthorizationOnRedirects(t *testing.T) {
	t.Parallel()
	const secret = "Bearer s3cret"
	echo := func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("Authorization"))
	}
	// other has the same host name (127.0.0.1) on another port: net/http
	// copies Authorization to it on a redirect, the client must not.
	other := httptest.NewServer(http.HandlerFunc(echo))
	t.Cleanup(other.Close)
	mux := http.NewServeMux()
	redirect := func(from, to string) {
		mux.HandleFunc(from, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, to, http.StatusFound)
		})
	}
	redirect("/api/to-api", "/api/final")
	redirect("/api/to-open", "/api/open/final")
	redirect("/api/to-public", "/public/final")
	redirect("/api/to-other", other.URL+"/final")
	redirect("/public/to-api", "/api/final")
	mux.HandleFunc("/", echo)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}

	var sawAuth atomic.Int32
	hc := &http.Client{CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.Header.Get("Authorization") != "" {
			sawAuth.Add(1)
		}
		return nil
	}}
	s := DefaultSettings()
	s.HTTPClient = hc
	core := s.Core("test", &Authorizer{Scheme: u.Scheme, Host: u.Host, PathPrefix: "/api/",
		ExceptPrefix: "/api/open/", Header: secret, Name: "test.authorizer"})
	for _, tc := range []struct {
		path string
		want string // the Authorization the last hop carried
	}{
		{"/api/final", secret},
		{"/api/open/final", ""},
		{"/public/final", ""},
		{"/api/to-api", secret},
		{"/api/to-open", ""},
		{"/api/to-public", ""},
		{"/api/to-other", ""},
		{"/public/to-api", secret},
	} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		core.Authorize(req)
		resp, err := core.HTTP.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", tc.path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, string(b)); diff != "" {
			t.Errorf("GET %s: Authorization at the last hop (-want +got):\n%s", tc.path, diff)
		}
	}
	if n := sawAuth.Load(); n != 0 {
		t.Errorf("the caller's CheckRedirect saw Authorization on %d hops, want 0", n)
	}
}

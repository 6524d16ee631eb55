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
// CheckRedirect never sees it on the hop it judges. Core.Plain sends it
// nowhere, and Core.HTTP sends through the caller's transport unwrapped.
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
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.Header.Get("Authorization") != "" {
			sawAuth.Add(1)
		}
		return nil
	}}
	s := DefaultSettings()
	s.HTTPClient = hc
	core := s.Core("test", &Authorizer{Scheme: u.Scheme, Host: u.Host, PathPrefix: "/api/",
		ExceptPrefix: "/api/open/", Header: secret, Name: "test.authorizer"})
	if core.HTTP.Transport != tr || core.Plain.Transport != tr {
		t.Error("Core's HTTP or Plain does not send through the caller's transport as it is")
	}
	// get returns the Authorization the last hop of a GET of path carried.
	get := func(hc *http.Client, path string, authorize bool) string {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if authorize {
			core.Authorize(req)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
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
		if diff := cmp.Diff(tc.want, get(core.HTTP, tc.path, true)); diff != "" {
			t.Errorf("GET %s: Authorization at the last hop (-want +got):\n%s", tc.path, diff)
		}
		if got := get(core.Plain, tc.path, false); got != "" {
			t.Errorf("GET %s through Plain: Authorization %q at the last hop, want none", tc.path, got)
		}
	}
	if n := sawAuth.Load(); n != 0 {
		t.Errorf("the caller's CheckRedirect saw Authorization on %d hops, want 0", n)
	}
}

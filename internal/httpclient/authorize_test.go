package httpclient

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
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
	var viaAuth atomic.Int32
	hc := &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.Header.Get("Authorization") != "" {
			sawAuth.Add(1)
		}
		earlier := via           // a policy that logs its via must log no token
		if req.Response != nil { // nor one that logs the request the redirect answered
			earlier = append(slices.Clone(via), req.Response.Request)
		}
		for _, r := range earlier {
			if r.Header.Get("Authorization") != "" {
				viaAuth.Add(1)
			}
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
	if n := viaAuth.Load(); n != 0 {
		t.Errorf("the caller's CheckRedirect saw Authorization on %d earlier requests (via, req.Response.Request), want 0", n)
	}
	if n := sawAuth.Load(); n != 0 {
		t.Errorf("the caller's CheckRedirect saw Authorization on %d hops, want 0", n)
	}
}

// TestNewRequest: a request of the client accepts JSON, names the client,
// declares a JSON body when it has one and, authorized, carries the
// header; an Add to the values it shares with other requests leaves the
// next request as it was.
func TestNewRequest(t *testing.T) {
	t.Parallel()
	s := DefaultSettings()
	s.UserAgent = "app/1"
	core := s.Core("test", &Authorizer{Scheme: "https", Host: "example.com", PathPrefix: "/", Header: "SSWS t", Name: "test"})
	ua := "app/1 test " + runtime.Version()
	for _, tc := range []struct {
		name string
		body []byte
		want http.Header
	}{
		{"no body", nil, http.Header{"Accept": {"application/json"}, "User-Agent": {ua}, "Authorization": {"SSWS t"}}},
		{"body", []byte(`{}`), http.Header{"Accept": {"application/json"}, "User-Agent": {ua}, "Authorization": {"SSWS t"},
			"Content-Type": {"application/json"}}},
	} {
		for range 2 {
			req, err := core.NewRequest(t.Context(), http.MethodPost, "https://example.com/x", tc.body)
			if err != nil {
				t.Fatal(err)
			}
			core.Authorize(req)
			if diff := cmp.Diff(tc.want, req.Header); diff != "" {
				t.Errorf("%s: header (-want +got):\n%s", tc.name, diff)
			}
			if got := req.ContentLength; got != int64(len(tc.body)) {
				t.Errorf("%s: ContentLength = %d, want %d", tc.name, got, len(tc.body))
			}
			for k := range req.Header {
				req.Header.Add(k, "more")
			}
		}
	}
}

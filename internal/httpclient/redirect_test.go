package httpclient

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestCheckRedirect: a client from Copy follows a redirect of a GET
// anywhere and of a POST on its own host, and refuses a POST's 307 to
// another host (whose body it would send there) and any redirect from
// https to http; a caller's own CheckRedirect is kept.
func TestCheckRedirect(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		io.WriteString(w, "other")
	}))
	t.Cleanup(other.Close)
	// other is 127.0.0.1: this one, named localhost, is another host.
	mux := http.NewServeMux()
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/x", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/here", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/target", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/target", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, "target "+string(b))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	local := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/x", http.StatusFound)
	}))
	t.Cleanup(tlsSrv.Close)

	plain, _ := Copy(nil)
	secure, _ := Copy(tlsSrv.Client())
	for _, tc := range []struct {
		name          string
		hc            *http.Client
		method, url   string
		wantErr       string // empty: followed
		wantBody      string
		wantElsewhere int32
	}{
		{"GET to another host", &plain, "GET", local + "/away", "", "other", 1},
		{"POST on its own host", &plain, "POST", local + "/here", "", "target addresses", 0},
		{"POST to another host", &plain, "POST", local + "/away", "to another host", "", 0},
		{"https to http", &secure, "GET", tlsSrv.URL, "from https to http", "", 0},
	} {
		elsewhere.Store(0)
		req, err := http.NewRequestWithContext(t.Context(), tc.method, tc.url, strings.NewReader("addresses"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := tc.hc.Do(req)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err = %v, want one saying %q", tc.name, err, tc.wantErr)
			}
		} else if err != nil {
			t.Errorf("%s: %v", tc.name, err)
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != tc.wantBody {
				t.Errorf("%s: body %q, want %q", tc.name, b, tc.wantBody)
			}
		}
		if got := elsewhere.Load(); got != tc.wantElsewhere {
			t.Errorf("%s: the other host got %d requests, want %d", tc.name, got, tc.wantElsewhere)
		}
	}

	own := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if c, _ := Copy(&http.Client{CheckRedirect: own}); c.CheckRedirect == nil {
		t.Error("Copy dropped the caller's CheckRedirect")
	}
}

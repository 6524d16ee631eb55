package console

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// sessionCookie returns a sealed session cookie for login in role, as the
// callback sets it.
func (r *rig) sessionCookie(login string, role Role) *http.Cookie {
	r.t.Helper()
	rec := httptest.NewRecorder()
	s := &session{Subject: "sub-" + login, Login: login, Role: role, Expires: r.c.now().Add(r.c.ttl)}
	if err := r.c.setCookie(rec, r.c.sessionCookie(), s, s.Expires); err != nil {
		r.t.Fatal(err)
	}
	return rec.Result().Cookies()[0]
}

// An upload larger than MaxUpload is refused having read at most
// MaxUpload and the multipart overhead of the body: the form is not parsed
// (to memory, then to temporary files) before the bound applies.
func TestUploadBodyIsBoundedBeforeTheFormIsParsed(t *testing.T) {
	r := newRig(t, func(c *Config) { c.MaxUpload = 1 << 10 })
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("format", "auto")
	fw, _ := mw.CreateFormFile("file", "huge.csv")
	fw.Write(bytes.Repeat([]byte("someone@example.com\n"), 400<<10)) // 8 MiB
	mw.Close()
	sent := int64(buf.Len())
	body := &countingReader{r: &buf}
	req := httptest.NewRequestWithContext(t.Context(), "POST", "/batch", body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.AddCookie(r.sessionCookie("root@example.com", RoleAdmin))
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("POST /batch of %d bytes = %d, want 413", sent, rec.Code)
	}
	if limit := r.c.maxUpload + multipartOverhead + 64<<10; body.n > limit {
		t.Errorf("the console read %d bytes of a %d-byte upload, want at most %d (MaxUpload %d)", body.n, sent, limit, r.c.maxUpload)
	}
	if !r.auditHas("root@example.com", "batch upload", outcomeRefused) {
		t.Error("the refused upload is not audited")
	}
}

// Requests anybody can send (a cross-origin POST) and requests of a
// signed-in user carry their path into the audit trail, which keeps it in
// memory (10,000 entries) and in the store: a path of a request line's
// full size (up to http.DefaultMaxHeaderBytes) must not be kept whole.
func TestAuditKeepsNoLongPaths(t *testing.T) {
	r := newRig(t, nil)
	long := strings.Repeat("a", 512<<10)
	for _, tc := range []struct {
		name, path string
		hc         *http.Client // nil: no session
		action     string
	}{
		{"cross-origin POST", "/x" + long, nil, "cross-origin request"},
		{"read-only action", "/users/" + long + "/retry", r.signIn("reader@example.com"), "retry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), "POST", r.srv.URL+tc.path, strings.NewReader(""))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			hc := tc.hc
			if hc == nil {
				hc = http.DefaultClient
				req.Header.Set("Sec-Fetch-Site", "cross-site")
				req.Header.Set("Origin", "https://evil.example")
			} else {
				req.Header.Set("Sec-Fetch-Site", "same-origin")
				req.Header.Set("Origin", r.srv.URL)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("POST = %d, want 403", resp.StatusCode)
			}
			es, _ := r.audit.Recent(context.Background(), 1)
			if len(es) != 1 || es[0].Action != tc.action {
				t.Fatalf("audit %+v, want one %q entry", es, tc.action)
			}
			if n := len(es[0].Target) + len(es[0].Detail); n > 2*maxAuditField+8 {
				t.Errorf("the audit entry keeps %d bytes of target and detail, want at most %d", n, 2*maxAuditField+8)
			}
			if !strings.HasSuffix(es[0].Target, "…") {
				t.Errorf("the cut target %.40q… does not end with …", es[0].Target)
			}
		})
	}
}

// An error redirect is the provider's only when it carries the state of
// the browser's sign-in (RFC 6749 4.1.2.1): one without it is anybody's
// link, and its text is neither shown on the console's page nor audited.
func TestForgedProviderErrorIgnored(t *testing.T) {
	for _, state := range []string{"", "not-the-state"} {
		t.Run("state="+state, func(t *testing.T) {
			r := newRig(t, nil)
			jar, _ := cookiejar.New(nil)
			hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			if resp := r.do(hc, "GET", "/auth/login?next=/", nil, ""); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("GET /auth/login = %d", resp.StatusCode)
			}
			q := url.Values{"error": {"access_denied"}, "error_description": {"Your account is locked: call +1 555 0100"}}
			if state != "" {
				q.Set("state", state)
			}
			code, body := r.get(hc, "/auth/callback?"+q.Encode())
			if code != http.StatusBadRequest || strings.Contains(body, "account is locked") {
				t.Errorf("a forged error redirect = %d, want 400 without its text:\n%s", code, body)
			}
			if es, _ := r.audit.Recent(context.Background(), 10); len(es) != 0 {
				t.Errorf("a forged error redirect is audited: %+v", es)
			}
		})
	}
}

// The cookies are Secure (and __Host- named) whenever the redirect URL is
// https, however its scheme is spelled (URL schemes are case-insensitive,
// and CheckRedirectURL takes any case).
func TestSecureCookiesForEverySpellingOfHTTPS(t *testing.T) {
	r := newRig(t, nil)
	for _, redirect := range []string{"https://console.example.com/auth/callback", "HTTPS://console.example.com/auth/callback", "Https://console.example.com/auth/callback"} {
		cfg := r.cfg
		cfg.OIDC.RedirectURL = redirect
		c, err := newConsole(r.w.Service, cfg)
		if err != nil {
			t.Fatalf("%s: %v", redirect, err)
		}
		rec := httptest.NewRecorder()
		if err := c.setCookie(rec, c.sessionCookie(), &session{Login: "x", Role: RoleAdmin}, c.now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		ck := rec.Result().Cookies()[0]
		if diff := cmp.Diff("__Host-preenroll-session true", fmt.Sprint(ck.Name, " ", ck.Secure)); diff != "" {
			t.Errorf("redirect %s: session cookie name and Secure (-want +got):\n%s", redirect, diff)
		}
	}
}

// A console whose redirect URL is https sends Strict-Transport-Security
// (any spelling of the scheme); one on plain http loopback does not.
func TestHSTSOnlyWhenSecure(t *testing.T) {
	r := newRig(t, nil)
	for _, tc := range []struct {
		redirect, want string
	}{
		{"https://console.example.com/auth/callback", hsts},
		{"HTTPS://console.example.com/auth/callback", hsts},
		{r.cfg.OIDC.RedirectURL, ""}, // the rig's: http on loopback
	} {
		cfg := r.cfg
		cfg.OIDC.RedirectURL = tc.redirect
		c, err := newConsole(r.w.Service, cfg)
		if err != nil {
			t.Fatalf("%s: %v", tc.redirect, err)
		}
		home, _ := url.Parse(tc.redirect)
		req := httptest.NewRequestWithContext(t.Context(), "GET", home.Scheme+"://"+home.Host+"/", nil)
		rec := httptest.NewRecorder()
		c.routes().ServeHTTP(rec, req)
		if got := rec.Header().Get("Strict-Transport-Security"); got != tc.want {
			t.Errorf("redirect %s: Strict-Transport-Security = %q, want %q", tc.redirect, got, tc.want)
		}
	}
}

// The People page repeats at most maxLoginShown characters of the login
// Okta did not find (it comes from the URL: anybody can link to it), with
// control characters dropped.
func TestNotFoundLoginIsCut(t *testing.T) {
	r := newRig(t, nil)
	long := strings.Repeat("a", 5000) + "@example.com"
	req := httptest.NewRequestWithContext(t.Context(), "GET", "/?notfound="+url.QueryEscape("\u202e"+long), nil)
	req.AddCookie(r.sessionCookie("root@example.com", RoleAdmin))
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, req)
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /?notfound= = %d: %s", rec.Code, body)
	}
	if !strings.Contains(body, strings.Repeat("a", maxLoginShown)+"…") || strings.Contains(body, strings.Repeat("a", maxLoginShown+1)) {
		t.Errorf("the page does not show the login cut at %d characters", maxLoginShown)
	}
	if strings.Contains(body, "\u202e") {
		t.Error("the page shows the login's bidirectional control character")
	}
}

// TestCheckRedirectURLHidesPasswords: CheckRedirectURL's errors quote the
// URL, but never a user name and password in it, whether url.Parse finds
// them or not (a '#' or '?' in the password); a URL with them is refused.
func TestCheckRedirectURLHidesPasswords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ raw, want string }{
		{"https://console.example.com/auth/callback", ""},
		{"https://console.example.com/callback", `"https://console.example.com/callback": its path must be "/auth/callback"`},
		{"http://console.example.com/auth/callback", `"http://console.example.com/auth/callback": must be https (http only on a loopback address)`},
		{"console.example.com", `"console.example.com": want an absolute URL`},
		{"https://app:hunter2@console.example.com/auth/callback", "(not shown: it has an @, maybe a password): has a user name or password in it: a redirect URI has none"},
		{"https://app:hunter2@console.example.com/callback", "(not shown: it has an @, maybe a password): has a user name or password in it: a redirect URI has none"},
		{"https://app:hun#ter2@console.example.com/auth/callback", "(not shown: it has an @, maybe a password): want an absolute URL"},
		{"https://app:1?hunter2@console.example.com/auth/callback", "(not shown: it has an @, maybe a password): its path must be \"/auth/callback\""},
	} {
		got := ""
		if err := CheckRedirectURL(tc.raw, ""); err != nil {
			got = err.Error()
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("CheckRedirectURL(%q) (-want +got):\n%s", tc.raw, diff)
		}
	}
}

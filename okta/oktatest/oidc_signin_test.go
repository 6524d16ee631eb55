package oktatest_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// page is a response of the sign-in pages, redirects not followed.
type page struct {
	status   int
	header   http.Header
	body     string
	location *url.URL
}

// pageError is the text of the page's p#error.
func (p page) pageError() string {
	m := regexp.MustCompile(`<p id="error" role="alert">([^<]*)</p>`).FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func (p page) txn() string {
	m := regexp.MustCompile(`name="txn" value="([^"]*)"`).FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return m[1]
}

func browse(t *testing.T, method, target string, form url.Values, header http.Header) page {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), method, target, body)
	must(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	if form != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	p := page{status: resp.StatusCode, header: resp.Header, body: string(b)}
	if loc := resp.Header.Get("Location"); loc != "" {
		p.location, err = url.Parse(loc)
		must(t, err)
	}
	return p
}

const testVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" // RFC 7636 appendix B

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func authorizeParams() url.Values {
	return url.Values{
		"client_id": {consoleID}, "response_type": {"code"}, "scope": {"openid groups"}, "redirect_uri": {callback},
		"state": {"s-1"}, "nonce": {"n-1"}, "code_challenge": {s256(testVerifier)}, "code_challenge_method": {"S256"},
	}
}

func TestOIDCAuthorizeRequest(t *testing.T) {
	t.Parallel()
	o := newOIDCOrg(t)
	type redirect struct{ Error, Description, State string }
	tests := []struct {
		name  string
		edit  func(q url.Values)
		raw   string // appended to the query as is
		page  int    // status of a page answer; 0: a redirect back to the app
		want  string
		wantR redirect
	}{
		{name: "valid", edit: func(url.Values) {}, page: 200},
		{name: "unknown client", edit: func(q url.Values) { q.Set("client_id", "0oanobody") }, page: 400,
			want: "The 'client_id' parameter is missing or names no OpenID Connect app of this org."},
		{name: "no client", edit: func(q url.Values) { q.Del("client_id") }, page: 400,
			want: "The 'client_id' parameter is missing or names no OpenID Connect app of this org."},
		{name: "redirect_uri not exact", edit: func(q url.Values) { q.Set("redirect_uri", callback+"/") }, page: 400,
			want: "The 'redirect_uri' parameter must be a sign-in redirect URI registered for the app."},
		{name: "no redirect_uri", edit: func(q url.Values) { q.Del("redirect_uri") }, page: 400,
			want: "The 'redirect_uri' parameter must be a sign-in redirect URI registered for the app."},
		{name: "repeated parameter", edit: func(url.Values) {}, raw: "&state=again", page: 400,
			want: "The parameter 'state' is repeated."},
		{name: "implicit flow", edit: func(q url.Values) { q.Set("response_type", "id_token token") },
			wantR: redirect{"unsupported_response_type", "The response type 'id_token token' is not supported; use 'code'.", "s-1"}},
		{name: "fragment response mode", edit: func(q url.Values) { q.Set("response_mode", "fragment") },
			wantR: redirect{"invalid_request", "The response mode 'fragment' is not supported; use 'query'.", "s-1"}},
		{name: "no openid scope", edit: func(q url.Values) { q.Set("scope", "profile groups") },
			wantR: redirect{"invalid_scope", "The 'scope' parameter must include 'openid'.", "s-1"}},
		{name: "unsupported scope", edit: func(q url.Values) { q.Set("scope", "openid okta.users.manage") },
			wantR: redirect{"invalid_scope", "The scope 'okta.users.manage' is not supported; the fake grants openid, profile, email, groups.", "s-1"}},
		{name: "no state", edit: func(q url.Values) { q.Del("state") },
			wantR: redirect{"invalid_request", "The 'state' parameter is required.", ""}},
		{name: "state too long", edit: func(q url.Values) { q.Set("state", strings.Repeat("s", 2049)) },
			wantR: redirect{"invalid_request", "The 'state', 'nonce' and 'login_hint' parameters are limited to 2048 characters.", ""}},
		{name: "PKCE required", edit: func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") },
			wantR: redirect{"invalid_request", "PKCE code challenge is required by the app: send 'code_challenge' and 'code_challenge_method=S256'.", "s-1"}},
		{name: "plain PKCE", edit: func(q url.Values) { q.Set("code_challenge", testVerifier); q.Set("code_challenge_method", "plain") },
			wantR: redirect{"invalid_request", "The 'code_challenge_method' must be 'S256'.", "s-1"}},
		{name: "no PKCE method", edit: func(q url.Values) { q.Del("code_challenge_method") },
			wantR: redirect{"invalid_request", "The 'code_challenge_method' must be 'S256'.", "s-1"}},
		{name: "challenge not a SHA-256", edit: func(q url.Values) { q.Set("code_challenge", "abc") },
			wantR: redirect{"invalid_request", "The 'code_challenge' must be the 43-character base64url SHA-256 of the code verifier.", "s-1"}},
		{name: "prompt=none", edit: func(q url.Values) { q.Set("prompt", "none") },
			wantR: redirect{"login_required", "The user is not signed in to the fake org (it keeps no sessions).", "s-1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q := authorizeParams()
			tc.edit(q)
			p := browse(t, "GET", o.srv.URL()+"/oauth2/v1/authorize?"+q.Encode()+tc.raw, nil, nil)
			if tc.page != 0 {
				if p.status != tc.page || p.location != nil {
					t.Fatalf("status %d, Location %v; want a page with %d", p.status, p.location, tc.page)
				}
				if got := p.pageError(); got != tc.want {
					t.Errorf("page error = %q, want %q", got, tc.want)
				}
				if (p.txn() != "") != (tc.page == 200) {
					t.Errorf("sign-in form present = %v on a %d page", p.txn() != "", p.status)
				}
				return
			}
			if p.status != http.StatusFound || p.location == nil {
				t.Fatalf("status %d, want a redirect to the app", p.status)
			}
			got := p.location.Query()
			if base := strings.Split(p.location.String(), "?")[0]; base != callback {
				t.Errorf("redirected to %s, want %s", base, callback)
			}
			if diff := cmp.Diff(tc.wantR, redirect{got.Get("error"), got.Get("error_description"), got.Get("state")}); diff != "" {
				t.Errorf("redirect (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOIDCSignInPage(t *testing.T) {
	t.Parallel()
	o := newOIDCOrg(t)
	for login, status := range map[string]okta.UserStatus{
		"staged@example.com": okta.UserStaged, "suspended@example.com": okta.UserSuspended,
		"gone@example.com": okta.UserDeprovisioned, "locked@example.com": okta.UserLockedOut,
	} {
		_, err := o.srv.AddUser(okta.Profile{Login: login, Email: login, FirstName: "F", LastName: "L"}, status)
		must(t, err)
	}
	const xss = `"><script>alert(1)</script>`
	tests := []struct {
		name       string
		login      string
		form       func(f url.Values) // edits the form after login and txn are set
		header     http.Header
		before     func(t *testing.T)
		wantStatus int
		wantError  string // p#error, or error= of the redirect
	}{
		{name: "active user", login: "ada@example.com", wantStatus: 303},
		{name: "login in other case, with spaces", login: "  ADA@Example.com ", wantStatus: 303},
		{name: "unknown user", login: "nobody@example.com", wantStatus: 401, wantError: "Unable to sign in."},
		{name: "staged user", login: "staged@example.com", wantStatus: 401, wantError: "Unable to sign in."},
		{name: "suspended user", login: "suspended@example.com", wantStatus: 401, wantError: "Unable to sign in."},
		{name: "deprovisioned user", login: "gone@example.com", wantStatus: 401, wantError: "Unable to sign in."},
		{name: "locked-out user", login: "locked@example.com", wantStatus: 401, wantError: "Unable to sign in."},
		{name: "markup in the login", login: xss, wantStatus: 401, wantError: "Unable to sign in."},
		{name: "empty login", login: "", wantStatus: 400, wantError: "Enter your username."},
		{name: "cancel", login: "", form: func(f url.Values) { f.Set("cancel", "1") }, wantStatus: 303, wantError: "access_denied"},
		{name: "unknown txn", login: "ada@example.com", form: func(f url.Values) { f.Set("txn", "forged") },
			wantStatus: 400, wantError: "This sign-in is unknown or has expired: start again from the app."},
		{name: "expired page", login: "ada@example.com", before: func(t *testing.T) { must(t, o.srv.Advance(time.Hour)) },
			wantStatus: 400, wantError: "This sign-in is unknown or has expired: start again from the app."},
		{name: "cross-site POST", login: "ada@example.com", header: http.Header{"Sec-Fetch-Site": {"cross-site"}},
			wantStatus: 403, wantError: "Cross-origin sign-in requests are refused."},
		{name: "POST from another origin", login: "ada@example.com", header: http.Header{"Origin": {"https://evil.example"}},
			wantStatus: 403, wantError: "Cross-origin sign-in requests are refused."},
		{name: "not a form", login: "ada@example.com", header: http.Header{"Content-Type": {"text/plain"}},
			wantStatus: 415, wantError: "The form must be sent as application/x-www-form-urlencoded."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Not parallel: "expired page" moves the shared clock.
			start := browse(t, "GET", o.srv.URL()+"/oauth2/v1/authorize?"+authorizeParams().Encode(), nil, nil)
			if start.status != 200 || start.txn() == "" {
				t.Fatalf("authorize = %d without a form", start.status)
			}
			if tc.before != nil {
				tc.before(t)
			}
			form := url.Values{"txn": {start.txn()}, "login": {tc.login}}
			if tc.form != nil {
				tc.form(form)
			}
			p := browse(t, "POST", o.srv.URL()+"/login/signin", form, tc.header)
			if p.status != tc.wantStatus {
				t.Fatalf("status = %d (%q), want %d", p.status, p.pageError(), tc.wantStatus)
			}
			if p.status == http.StatusSeeOther {
				q := p.location.Query()
				if q.Get("state") != "s-1" || q.Get("error") != tc.wantError || (q.Get("code") != "") != (tc.wantError == "") {
					t.Errorf("redirect = %s", p.location.Redacted())
				}
				return
			}
			if got := p.pageError(); got != tc.wantError {
				t.Errorf("page error = %q, want %q", got, tc.wantError)
			}
			if strings.Contains(p.body, "<script") || (tc.login == xss && !strings.Contains(p.body, `value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`)) {
				t.Errorf("the login is not escaped:\n%s", p.body)
			}
			// A refused login leaves the page usable.
			if tc.wantStatus == 401 {
				again := browse(t, "POST", o.srv.URL()+"/login/signin", url.Values{"txn": {p.txn()}, "login": {"ada@example.com"}}, nil)
				if again.status != http.StatusSeeOther || again.location.Query().Get("code") == "" {
					t.Errorf("second try with a good login = %d", again.status)
				}
			}
		})
	}
}

func TestOIDCSignInPageMarkupAndHeaders(t *testing.T) {
	t.Parallel()
	o := newOIDCOrg(t)
	q := authorizeParams()
	q.Set("login_hint", `<img src=x onerror=alert(1)>`)
	p := browse(t, "GET", o.srv.URL()+"/oauth2/v1/authorize?"+q.Encode(), nil, nil)
	if p.status != 200 {
		t.Fatalf("status %d", p.status)
	}
	for _, want := range []string{
		`<form id="signin" method="post" action="/login/signin">`,
		`<input id="login" name="login"`,
		`value="&lt;img src=x onerror=alert(1)&gt;"`,
		`<button id="submit" type="submit">`,
		`<button id="cancel" type="submit" name="cancel"`,
		`<p id="app">to continue to <strong>Pre-enrollment console</strong></p>`,
	} {
		if !strings.Contains(p.body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(p.body, "<img") || strings.Contains(p.body, "<script") || strings.Contains(p.body, consoleSecret) {
		t.Errorf("page holds markup from the request or a secret:\n%s", p.body)
	}
	got := map[string]string{}
	for _, h := range []string{"Content-Type", "X-Frame-Options", "Cache-Control", "Referrer-Policy", "X-Content-Type-Options"} {
		got[h] = p.header.Get(h)
	}
	want := map[string]string{
		"Content-Type": "text/html; charset=utf-8", "X-Frame-Options": "DENY", "Cache-Control": "no-store",
		"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	csp := p.header.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'none'", "style-src 'sha256-", "frame-ancestors 'none'", "form-action 'self' https://console.example"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP %q lacks %s", csp, d)
		}
	}
}

func TestOIDCSignInHelper(t *testing.T) {
	t.Parallel()
	o := newOIDCOrg(t)
	cfg := o.config(consoleID, consoleSecret, callback, oauth2.AuthStyleInHeader, oidc.ScopeOpenID)
	_, err := o.srv.SignIn(t.Context(), cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(testVerifier)), "nobody@example.com")
	if !errors.Is(err, oktatest.ErrSignInRefused) || !strings.Contains(err.Error(), "Unable to sign in.") {
		t.Errorf("SignIn(unknown user) = %v, want ErrSignInRefused with the page's message", err)
	}
	loc, err := o.srv.SignIn(t.Context(), cfg.AuthCodeURL("s"), "ada@example.com") // no PKCE: refused by the app's settings
	if err != nil || loc.Query().Get("error") != "invalid_request" {
		t.Errorf("SignIn(no PKCE) = %v, %v; want a redirect with error=invalid_request", loc, err)
	}
	bad := cfg
	bad.ClientID = "0oanobody"
	if _, err := o.srv.SignIn(t.Context(), bad.AuthCodeURL("s"), "ada@example.com"); err == nil || !strings.Contains(err.Error(), "status 400: The 'client_id' parameter") {
		t.Errorf("SignIn(unknown client) = %v", err)
	}
	if _, err := o.srv.SignIn(t.Context(), "https://elsewhere.example/oauth2/v1/authorize", "ada@example.com"); err == nil {
		t.Error("SignIn accepted another host's URL")
	}
}

func TestOIDCLogout(t *testing.T) {
	t.Parallel()
	o := newOIDCOrg(t)
	cfg := o.config(consoleID, consoleSecret, callback, oauth2.AuthStyleInHeader, oidc.ScopeOpenID)
	tok, err := cfg.Exchange(t.Context(), o.code(t, cfg, testVerifier), oauth2.VerifierOption(testVerifier))
	must(t, err)
	idToken, _ := tok.Extra("id_token").(string)

	// An ID token signed by another org's key.
	other := newOIDCOrgWith(t)
	ocfg := other.config(consoleID, consoleSecret, callback, oauth2.AuthStyleInHeader, oidc.ScopeOpenID)
	otok, err := ocfg.Exchange(t.Context(), other.code(t, ocfg, testVerifier), oauth2.VerifierOption(testVerifier))
	must(t, err)
	foreign, _ := otok.Extra("id_token").(string)

	tests := []struct {
		name       string
		method     string
		params     url.Values
		before     func(t *testing.T)
		wantStatus int
		want       string // Location, or the page's p#error
	}{
		{name: "redirect with state", method: "GET", params: url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {signedOut}, "state": {"bye"}},
			wantStatus: 302, want: signedOut + "?state=bye"},
		{name: "form POST", method: "POST", params: url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {signedOut}},
			wantStatus: 303, want: signedOut},
		{name: "no redirect URI", method: "GET", params: url.Values{"id_token_hint": {idToken}}, wantStatus: 200},
		{name: "expired hint still signs out", method: "GET", params: url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {signedOut}},
			before: advanceOrg(o, 2*time.Hour), wantStatus: 302, want: signedOut},
		{name: "unregistered redirect URI", method: "GET", params: url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {callback}},
			wantStatus: 400, want: "The 'post_logout_redirect_uri' is not a sign-out redirect URI registered for the app."},
		{name: "no hint", method: "GET", params: url.Values{"post_logout_redirect_uri": {signedOut}},
			wantStatus: 400, want: "The 'id_token_hint' parameter is required."},
		{name: "not a token", method: "GET", params: url.Values{"id_token_hint": {"garbage"}},
			wantStatus: 400, want: "The 'id_token_hint' is not an ID token of this org."},
		{name: "another org's token", method: "GET", params: url.Values{"id_token_hint": {foreign}},
			wantStatus: 400, want: "The 'id_token_hint' is not an ID token of this org."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before(t)
			}
			var p page
			if tc.method == "GET" {
				p = browse(t, "GET", o.srv.URL()+"/oauth2/v1/logout?"+tc.params.Encode(), nil, nil)
			} else {
				p = browse(t, "POST", o.srv.URL()+"/oauth2/v1/logout", tc.params, nil)
			}
			if p.status != tc.wantStatus {
				t.Fatalf("status = %d (%q), want %d", p.status, p.pageError(), tc.wantStatus)
			}
			switch {
			case p.location != nil:
				if p.location.String() != tc.want {
					t.Errorf("Location = %s, want %s", p.location, tc.want)
				}
			case tc.wantStatus == 200:
				if !strings.Contains(p.body, `<p id="message">You are signed out.</p>`) {
					t.Errorf("page = %s", p.body)
				}
			default:
				if got := p.pageError(); got != tc.want {
					t.Errorf("page error = %q, want %q", got, tc.want)
				}
			}
		})
	}
	for _, e := range o.srv.RequestLog() {
		if strings.Contains(e.Query, idToken) {
			t.Errorf("the request log holds the id_token_hint: %s", e.Query)
		}
	}
}

func advanceOrg(o *oidcOrg, d time.Duration) func(*testing.T) {
	return func(t *testing.T) { must(t, o.srv.Advance(d)) }
}

func TestAddOIDCAppValidation(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	must(t, srv.AddOIDCApp(oktatest.OIDCApp{ClientID: "taken", RedirectURIs: []string{callback}}))
	must(t, srv.AddServiceApp(oktatest.ServiceApp{ClientID: "service", Keys: []jose.JSONWebKey{{Key: &newECKey(t).PublicKey}}, Scopes: []string{okta.ScopeUsersRead}}))
	const secret = "s3cr3t-value"
	ok := oktatest.OIDCApp{ClientID: "app", ClientSecret: secret, RedirectURIs: []string{callback}}
	tests := []struct {
		name string
		edit func(a *oktatest.OIDCApp)
		want string
	}{
		{"no client ID", func(a *oktatest.OIDCApp) { a.ClientID = "" }, "oktatest: AddOIDCApp: ClientID is empty or contains whitespace"},
		{"client ID with a space", func(a *oktatest.OIDCApp) { a.ClientID = "a b" }, "oktatest: AddOIDCApp: ClientID is empty or contains whitespace"},
		{"secret with a newline", func(a *oktatest.OIDCApp) { a.ClientSecret = "a\nb" }, "oktatest: AddOIDCApp: ClientSecret contains whitespace"},
		{"no redirect URI", func(a *oktatest.OIDCApp) { a.RedirectURIs = nil }, "oktatest: AddOIDCApp: no RedirectURIs"},
		{"relative redirect URI", func(a *oktatest.OIDCApp) { a.RedirectURIs = []string{"/callback"} },
			`oktatest: AddOIDCApp: RedirectURIs[0]: "/callback" is not an absolute URL`},
		{"redirect URI with a fragment", func(a *oktatest.OIDCApp) { a.RedirectURIs = []string{callback, callback + "#x"} },
			`oktatest: AddOIDCApp: RedirectURIs[1]: "https://console.example/callback#x" has a fragment`},
		{"sign-out URI without host", func(a *oktatest.OIDCApp) { a.PostLogoutRedirectURIs = []string{"https:///out"} },
			`oktatest: AddOIDCApp: PostLogoutRedirectURIs[0]: "https:///out" has no host`},
		{"taken client ID", func(a *oktatest.OIDCApp) { a.ClientID = "taken" }, `oktatest: AddOIDCApp: client ID "taken" is already registered`},
		{"a service app's client ID", func(a *oktatest.OIDCApp) { a.ClientID = "service" }, `oktatest: AddOIDCApp: client ID "service" is already registered`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := ok
			tc.edit(&a)
			err := srv.AddOIDCApp(a)
			if err == nil || err.Error() != tc.want {
				t.Errorf("AddOIDCApp = %v, want %s", err, tc.want)
			}
		})
	}
	must(t, srv.AddOIDCApp(ok))
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(verb, ok); strings.Contains(s, secret) || !strings.Contains(s, "[REDACTED]") {
			t.Errorf("fmt %s of an OIDCApp shows the secret: %s", verb, s)
		}
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	must(t, err)
	for name, opt := range map[string]oktatest.Option{"nil key": oktatest.WithIDTokenKey(nil), "1024-bit key": oktatest.WithIDTokenKey(small)} {
		if s, err := oktatest.Start(opt); err == nil {
			s.Close()
			t.Errorf("Start(%s) = nil error", name)
		}
	}
}

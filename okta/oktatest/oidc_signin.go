package oktatest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/preenroll/preenroll/okta"
)

// The sign-in page's markup (form#signin, input#login, button#submit,
// button#cancel, p#error, p#app) is documented in the package doc for
// browser tests: keep the two in step.

// signInCSS styles the page; the CSP allows exactly this stylesheet.
const signInCSS = `body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f4f6;color:#1d1d21}
main{max-width:24rem;margin:4rem auto;padding:2rem;background:#fff;border:1px solid #8c8c96;border-radius:6px}
h1{font-size:1.4rem;margin-top:0}label{display:block;font-weight:600;margin-top:1rem}
input{width:100%;box-sizing:border-box;font:inherit;padding:.5rem;border:1px solid #5c5c66;border-radius:4px}
input:focus,button:focus{outline:3px solid #1a5fb4;outline-offset:2px}
button{font:inherit;margin-top:1rem;padding:.5rem 1rem;border-radius:4px;border:1px solid #1a5fb4}
#submit{background:#1a5fb4;color:#fff}#cancel{background:#fff;color:#1a5fb4;margin-left:.5rem}
#error{color:#a51d2d;font-weight:600}.note{color:#4a4a52;font-size:.9rem}`

var signInCSSHash = func() string {
	sum := sha256.Sum256([]byte(signInCSS))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

var signInPage = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{{.Title}} · {{.Org}}</title>
<style>{{.CSS}}</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
{{- if .App}}
<p id="app">to continue to <strong>{{.App}}</strong></p>
{{- end}}
{{- if .Error}}
<p id="error" role="alert">{{.Error}}</p>
{{- end}}
{{- if .Message}}
<p id="message">{{.Message}}</p>
{{- end}}
{{- if .Txn}}
<form id="signin" method="post" action="{{.Action}}">
<input type="hidden" name="txn" value="{{.Txn}}">
<label for="login">Username</label>
<input id="login" name="login" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus value="{{.Login}}">
<p class="note">This is a test org: its users have no passwords, the username of an active user signs in.</p>
<button id="submit" type="submit">Sign in</button><button id="cancel" type="submit" name="cancel" value="1" formnovalidate>Cancel</button>
</form>
{{- end}}
</main>
</body>
</html>
`))

type pageData struct {
	Title, Org, App, Error, Message, Txn, Login, Action string
	CSS                                                 template.CSS
}

// writePage renders the sign-in page (or an error or sign-out page) with
// headers that keep it out of caches and frames and allow no script.
// formAction is the origin the form may finally redirect to.
func (s *Server) writePage(x *exchange, status int, d pageData, formAction string) {
	d.Org, d.CSS, d.Action = s.orgName, template.CSS(signInCSS), SignInPath
	var b bytes.Buffer
	if err := signInPage.Execute(&b, d); err != nil {
		// The template and its data are the fake's own; failing loudly is right.
		panic(fmt.Sprintf("oktatest: render sign-in page: %v", err))
	}
	csp := "default-src 'none'; style-src " + signInCSSHash + "; img-src data:; base-uri 'none'; frame-ancestors 'none'"
	if formAction != "" {
		csp += "; form-action 'self' " + formAction
	}
	h := x.w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	x.status, x.out, x.wrote = status, b.Bytes(), true
	x.entry.Status = status
}

// errorPage answers a request that cannot go back to the app (unknown
// client, unregistered redirect URI, bad logout request) with a page.
func (s *Server) errorPage(x *exchange, status int, code, desc string) {
	x.detail("%s: %s", code, desc)
	x.entry.ErrorCode = code
	s.writePage(x, status, pageData{Title: "Sign-in error", Error: desc}, "")
}

// redirect answers with a redirect to target (302 for GET, 303 for POST).
func (s *Server) redirect(x *exchange, target string) {
	status := http.StatusFound
	if x.r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	x.w.Header().Set("Location", target)
	x.w.Header().Set("Cache-Control", "no-store")
	x.status, x.out, x.wrote = status, nil, true
	x.entry.Status = status
}

// withQuery returns base with the non-empty params added to its query.
func withQuery(base string, params ...string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base // registered URIs were checked by AddOIDCApp
	}
	q := u.Query()
	for i := 0; i+1 < len(params); i += 2 {
		if params[i+1] != "" {
			q.Set(params[i], params[i+1])
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// redirectError sends an authorization error back to the app (RFC 6749
// §4.1.2.1).
func (s *Server) redirectError(x *exchange, redirectURI, state, code, desc string) {
	x.detail("%s: %s", code, desc)
	x.entry.ErrorCode = code
	s.redirect(x, withQuery(redirectURI, "error", code, "error_description", desc, "state", state))
}

// origin is scheme://host of an http(s) URL, "" otherwise.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// maxParamLen bounds state, nonce and login_hint.
const maxParamLen = 2048

// handleAuthorize is GET /oauth2/v1/authorize (docs/okta.md §OIDC
// sign-in). A bad client_id or redirect_uri gets an error page; other
// problems go back to the redirect URI as error and error_description;
// a valid request gets the sign-in page.
func (s *Server) handleAuthorize(x *exchange) {
	q := x.r.URL.Query()
	for k, v := range q {
		if len(v) > 1 {
			s.errorPage(x, http.StatusBadRequest, "invalid_request", "The parameter '"+k+"' is repeated.")
			return
		}
	}
	app := s.oidcApp(q.Get("client_id"))
	if app == nil {
		s.errorPage(x, http.StatusBadRequest, "invalid_client", "The 'client_id' parameter is missing or names no OpenID Connect app of this org.")
		return
	}
	redirectURI := q.Get("redirect_uri")
	if !slices.Contains(app.RedirectURIs, redirectURI) {
		s.errorPage(x, http.StatusBadRequest, "invalid_request", "The 'redirect_uri' parameter must be a sign-in redirect URI registered for the app.")
		return
	}
	state := q.Get("state")
	fail := func(code, desc string) { s.redirectError(x, redirectURI, state, code, desc) }
	if len(state) > maxParamLen || len(q.Get("nonce")) > maxParamLen || len(q.Get("login_hint")) > maxParamLen {
		state = ""
		fail("invalid_request", fmt.Sprintf("The 'state', 'nonce' and 'login_hint' parameters are limited to %d characters.", maxParamLen))
		return
	}
	if rt := q.Get("response_type"); rt != "code" {
		fail("unsupported_response_type", "The response type '"+rt+"' is not supported; use 'code'.")
		return
	}
	if rm := q.Get("response_mode"); rm != "" && rm != "query" {
		fail("invalid_request", "The response mode '"+rm+"' is not supported; use 'query'.")
		return
	}
	scopes := strings.Fields(q.Get("scope"))
	if !slices.Contains(scopes, "openid") {
		fail("invalid_scope", "The 'scope' parameter must include 'openid'.")
		return
	}
	for _, sc := range scopes {
		if !slices.Contains(oidcScopes, sc) {
			fail("invalid_scope", "The scope '"+sc+"' is not supported; the fake grants "+strings.Join(oidcScopes, ", ")+".")
			return
		}
	}
	slices.Sort(scopes)
	scopes = slices.Compact(scopes)
	if state == "" {
		fail("invalid_request", "The 'state' parameter is required.")
		return
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		fail("invalid_request", "The 'code_challenge_method' parameter was sent without a 'code_challenge'.")
		return
	case challenge == "" && app.PKCERequired:
		fail("invalid_request", "PKCE code challenge is required by the app: send 'code_challenge' and 'code_challenge_method=S256'.")
		return
	case challenge != "" && method != "S256":
		fail("invalid_request", "The 'code_challenge_method' must be 'S256'.")
		return
	case challenge != "" && (len(challenge) != 43 || strings.ContainsFunc(challenge, func(r rune) bool { return !isBase64URL(r) })):
		fail("invalid_request", "The 'code_challenge' must be the 43-character base64url SHA-256 of the code verifier.")
		return
	}
	switch q.Get("prompt") {
	case "", "login", "consent", "select_account":
	case "none":
		fail("login_required", "The user is not signed in to the fake org (it keeps no sessions).")
		return
	default:
		fail("invalid_request", "The 'prompt' parameter '"+q.Get("prompt")+"' is not supported.")
		return
	}

	txn := s.randomID("", 32)
	now := s.now()
	s.mu.Lock()
	for id, si := range s.oidc.signIns {
		if !now.Before(si.expiry) {
			delete(s.oidc.signIns, id)
		}
	}
	full := len(s.oidc.signIns) >= maxPendingSignIns
	if !full {
		s.oidc.signIns[txn] = &signIn{
			req:    authRequest{clientID: app.ClientID, redirectURI: redirectURI, scopes: scopes, state: state, nonce: q.Get("nonce"), challenge: challenge},
			expiry: now.Add(signInLifetime),
		}
	}
	s.mu.Unlock()
	if full {
		fail("temporarily_unavailable", "Too many sign-ins are open at once.")
		return
	}
	s.writePage(x, http.StatusOK, pageData{Title: "Sign in", App: app.Name, Txn: txn, Login: q.Get("login_hint")}, origin(redirectURI))
}

func isBase64URL(r rune) bool {
	return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}

// crossOrigin refuses the sign-in and logout POSTs a browser marks as
// cross-origin.
var crossOrigin = http.NewCrossOriginProtection()

// handleSignIn is POST /login/signin, the sign-in page's form.
func (s *Server) handleSignIn(x *exchange) {
	if err := crossOrigin.Check(x.r); err != nil {
		s.errorPage(x, http.StatusForbidden, "access_denied", "Cross-origin sign-in requests are refused.")
		return
	}
	form, ok := s.pageForm(x)
	if !ok {
		return
	}
	txn := form.Get("txn")
	now := s.now()
	s.mu.Lock()
	s.oidc.init()
	si := s.oidc.signIns[txn]
	if si != nil && !now.Before(si.expiry) {
		delete(s.oidc.signIns, txn)
		si = nil
	}
	var app *OIDCApp
	if si != nil {
		app = s.oidc.apps[si.req.clientID]
	}
	s.mu.Unlock()
	if si == nil || app == nil {
		s.errorPage(x, http.StatusBadRequest, "invalid_request", "This sign-in is unknown or has expired: start again from the app.")
		return
	}
	req := si.req
	if form.Has("cancel") {
		s.mu.Lock()
		delete(s.oidc.signIns, txn)
		s.mu.Unlock()
		s.redirectError(x, req.redirectURI, req.state, "access_denied", "The user canceled the sign-in.")
		return
	}
	login := strings.TrimSpace(form.Get("login"))
	if login == "" || len(login) > maxParamLen {
		x.detail("login empty or too long")
		s.writePage(x, http.StatusBadRequest, pageData{Title: "Sign in", App: app.Name, Txn: txn, Error: "Enter your username."}, origin(req.redirectURI))
		return
	}
	code := s.randomID("", 43)
	s.mu.Lock()
	u := s.userByLoginLocked(login)
	active := u != nil && u.status == okta.UserActive
	if active {
		delete(s.oidc.signIns, txn)
		for c, ac := range s.oidc.codes {
			if !now.Before(ac.expiry) {
				delete(s.oidc.codes, c)
			}
		}
		s.oidc.codes[code] = &authCode{req: req, userID: u.id, authTime: now, expiry: now.Add(CodeLifetime)}
		u.lastLogin = now
	}
	var why string
	switch {
	case u == nil:
		why = "no user has this login"
	case !active:
		why = "the user is " + string(u.status) + ", not ACTIVE"
	}
	s.mu.Unlock()
	if !active {
		x.detail("sign-in refused: %s", why)
		s.writePage(x, http.StatusUnauthorized, pageData{Title: "Sign in", App: app.Name, Txn: txn, Login: login, Error: "Unable to sign in."}, origin(req.redirectURI))
		return
	}
	s.redirect(x, withQuery(req.redirectURI, "code", code, "state", req.state))
}

// pageForm reads an application/x-www-form-urlencoded POST body, or
// answers with an error page.
func (s *Server) pageForm(x *exchange) (url.Values, bool) {
	if mt, _, _ := mime.ParseMediaType(x.r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		s.errorPage(x, http.StatusUnsupportedMediaType, "invalid_request", "The form must be sent as application/x-www-form-urlencoded.")
		return nil, false
	}
	form, err := url.ParseQuery(string(x.body))
	if err != nil {
		s.errorPage(x, http.StatusBadRequest, "invalid_request", "The form is not valid.")
		return nil, false
	}
	return form, true
}

// handleLogout is GET or POST /oauth2/v1/logout: id_token_hint (an ID
// token this org signed, expired or not) is required; the browser goes to
// post_logout_redirect_uri (one of the app's PostLogoutRedirectURIs) with
// state, or without one gets a "signed out" page. The fake keeps no
// sessions, so there is nothing else to end.
func (s *Server) handleLogout(x *exchange) {
	params := x.r.URL.Query()
	if x.r.Method == http.MethodPost {
		if err := crossOrigin.Check(x.r); err != nil {
			s.errorPage(x, http.StatusForbidden, "access_denied", "Cross-origin sign-out requests are refused.")
			return
		}
		form, ok := s.pageForm(x)
		if !ok {
			return
		}
		params = form
	} else if params.Has("id_token_hint") {
		// The hint is a signed token about a person: keep it out of the
		// request log.
		redacted := url.Values{}
		for k, v := range params {
			redacted[k] = v
		}
		redacted.Set("id_token_hint", "REDACTED")
		x.entry.Query = redacted.Encode()
	}
	hint := params.Get("id_token_hint")
	if hint == "" {
		s.errorPage(x, http.StatusBadRequest, "invalid_request", "The 'id_token_hint' parameter is required.")
		return
	}
	_, pub, err := s.signingKey()
	if err != nil {
		s.errorPage(x, http.StatusInternalServerError, "server_error", "The sign-out could not be checked.")
		return
	}
	var c jwt.Claims
	tok, err := jwt.ParseSigned(hint, []jose.SignatureAlgorithm{jose.RS256})
	if err == nil {
		err = tok.Claims(pub.Key, &c)
	}
	if err != nil || c.Issuer != s.issuer || len(c.Audience) != 1 {
		s.errorPage(x, http.StatusBadRequest, "invalid_request", "The 'id_token_hint' is not an ID token of this org.")
		return
	}
	app := s.oidcApp(c.Audience[0])
	if app == nil {
		s.errorPage(x, http.StatusBadRequest, "invalid_request", "The 'id_token_hint' names an app that is no longer registered.")
		return
	}
	target := params.Get("post_logout_redirect_uri")
	if target == "" {
		s.writePage(x, http.StatusOK, pageData{Title: "Signed out", Message: "You are signed out."}, "")
		return
	}
	if !slices.Contains(app.PostLogoutRedirectURIs, target) {
		s.errorPage(x, http.StatusBadRequest, "invalid_request", "The 'post_logout_redirect_uri' is not a sign-out redirect URI registered for the app.")
		return
	}
	s.redirect(x, withQuery(target, "state", params.Get("state")))
}

// ErrSignInRefused is wrapped by the error of [Server.SignIn] when the
// sign-in page refuses the login; the error also carries the page's
// message.
var ErrSignInRefused = errors.New("oktatest: sign-in refused")

var (
	txnField  = regexp.MustCompile(`name="txn" value="([^"]*)"`)
	pageError = regexp.MustCompile(`<p id="error" role="alert">([^<]*)</p>`)
)

// SignIn does over HTTP what a person does in a browser: it opens
// authorizeURL (an authorization request to this org, as
// oauth2.Config.AuthCodeURL builds it), submits the sign-in page with
// login, and returns where the org redirects: the app's redirect URI with
// code and state, or with error and error_description when the request
// itself is refused. It does not follow that redirect. A login the page
// refuses is an error wrapping [ErrSignInRefused]. Use it in tests that
// sign in without a browser.
func (s *Server) SignIn(ctx context.Context, authorizeURL, login string) (*url.URL, error) {
	hc := *s.srv.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	do := func(req *http.Request) (*http.Response, []byte, error) {
		resp, err := hc.Do(req)
		if err != nil {
			return nil, nil, fmt.Errorf("oktatest: SignIn: %w", err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxRequestBody))
		if err != nil {
			return nil, nil, fmt.Errorf("oktatest: SignIn: read %s: %w", req.URL.Path, err)
		}
		return resp, body, nil
	}
	page := func(resp *http.Response, body []byte) (*url.URL, error) {
		if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode/100 == 3 {
			return resp.Request.URL.Parse(loc)
		}
		msg := fmt.Sprintf("status %d", resp.StatusCode)
		if m := pageError.FindSubmatch(body); m != nil {
			msg += ": " + html.UnescapeString(string(m[1]))
		}
		if resp.StatusCode == http.StatusUnauthorized {
			return nil, fmt.Errorf("%w: %s", ErrSignInRefused, msg)
		}
		return nil, fmt.Errorf("oktatest: SignIn: %s %s: %s", resp.Request.Method, resp.Request.URL.Path, msg)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authorizeURL, nil)
	if err != nil {
		return nil, fmt.Errorf("oktatest: SignIn: %w", err)
	}
	if !strings.HasPrefix(authorizeURL, s.srv.URL+"/") {
		return nil, fmt.Errorf("oktatest: SignIn: %q is not a URL of this org (%s)", req.URL.Redacted(), s.srv.URL)
	}
	resp, body, err := do(req)
	if err != nil {
		return nil, err
	}
	m := txnField.FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		return page(resp, body)
	}
	form := url.Values{"txn": {html.UnescapeString(string(m[1]))}, "login": {login}}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, s.srv.URL+SignInPath, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("oktatest: SignIn: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, body, err = do(req); err != nil {
		return nil, err
	}
	return page(resp, body)
}

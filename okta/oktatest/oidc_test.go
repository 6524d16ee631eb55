package oktatest_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

const (
	consoleID     = "0oaconsole"
	consoleSecret = "console-secret-0123456789"
	spaID         = "0oaspa"
	plainID       = "0oaplain"
	callback      = "https://console.example/callback"
	signedOut     = "https://console.example/signed-out"
)

// oidcOrg is a fake org with one admin, three OIDC apps and a go-oidc
// provider pointing at it.
type oidcOrg struct {
	srv      *oktatest.Server
	admin    okta.User
	provider *oidc.Provider
}

// sharedIDTokenKey spares each test's server generating its own key.
var sharedIDTokenKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func newOIDCOrg(t *testing.T) *oidcOrg {
	t.Helper()
	return newOIDCOrgWith(t, oktatest.WithIDTokenKey(sharedIDTokenKey()))
}

func newOIDCOrgWith(t *testing.T, opts ...oktatest.Option) *oidcOrg {
	t.Helper()
	srv := oktatest.NewServer(t, opts...)
	admin, err := srv.AddUser(okta.Profile{Login: "ada@example.com", Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace"}, okta.UserActive)
	must(t, err)
	for _, g := range []string{"Everyone", "preenroll-admins", "preenroll-readers"} {
		must(t, srv.AddToGroup(srv.AddGroup(g), admin.ID))
	}
	must(t, srv.AddOIDCApp(oktatest.OIDCApp{
		ClientID: consoleID, ClientSecret: consoleSecret, Name: "Pre-enrollment console",
		RedirectURIs: []string{callback}, PostLogoutRedirectURIs: []string{signedOut}, PKCERequired: true,
		GroupsFilter: regexp.MustCompile(`^preenroll-`),
	}))
	must(t, srv.AddOIDCApp(oktatest.OIDCApp{ClientID: spaID, RedirectURIs: []string{callback}}))
	must(t, srv.AddOIDCApp(oktatest.OIDCApp{ClientID: plainID, ClientSecret: "plain-secret", RedirectURIs: []string{callback + "?tenant=1"}}))
	p, err := oidc.NewProvider(t.Context(), srv.URL())
	must(t, err)
	return &oidcOrg{srv: srv, admin: admin, provider: p}
}

func (o *oidcOrg) config(clientID, secret, redirect string, style oauth2.AuthStyle, scopes ...string) oauth2.Config {
	ep := o.provider.Endpoint()
	ep.AuthStyle = style
	return oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: ep, RedirectURL: redirect, Scopes: scopes}
}

// code signs the admin in and returns the authorization code.
func (o *oidcOrg) code(t *testing.T, cfg oauth2.Config, verifier string) string {
	t.Helper()
	opts := []oauth2.AuthCodeOption{oidc.Nonce("nonce-1")}
	if verifier != "" {
		opts = append(opts, oauth2.S256ChallengeOption(verifier))
	}
	loc, err := o.srv.SignIn(t.Context(), cfg.AuthCodeURL("state-1", opts...), o.admin.Profile.Login)
	must(t, err)
	q := loc.Query()
	if q.Get("state") != "state-1" || q.Get("code") == "" || q.Has("error") {
		t.Fatalf("sign-in redirected to %s", loc.Redacted())
	}
	return q.Get("code")
}

func TestOIDCDiscovery(t *testing.T) {
	t.Parallel()
	o := newOIDCOrgWith(t) // a key of its own, generated
	var got struct {
		Issuer    string   `json:"issuer"`
		Authorize string   `json:"authorization_endpoint"`
		Token     string   `json:"token_endpoint"`
		JWKS      string   `json:"jwks_uri"`
		Userinfo  string   `json:"userinfo_endpoint"`
		Logout    string   `json:"end_session_endpoint"`
		PKCE      []string `json:"code_challenge_methods_supported"`
		Algs      []string `json:"id_token_signing_alg_values_supported"`
		Responses []string `json:"response_types_supported"`
	}
	must(t, o.provider.Claims(&got))
	u := o.srv.URL()
	want := got
	want.Issuer, want.Authorize, want.Token, want.JWKS = u, u+"/oauth2/v1/authorize", u+"/oauth2/v1/token", u+"/oauth2/v1/keys"
	want.Userinfo, want.Logout = u+"/oauth2/v1/userinfo", u+"/oauth2/v1/logout"
	want.PKCE, want.Algs, want.Responses = []string{"S256"}, []string{"RS256"}, []string{"code"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("discovery (-want +got):\n%s", diff)
	}

	// The JWKS: one RSA 2048 signing key with a kid.
	var jwks struct {
		Keys []struct{ Kty, Alg, Use, Kid, N, E string }
	}
	resp, err := http.Get(got.JWKS)
	must(t, err)
	defer resp.Body.Close()
	must(t, json.NewDecoder(resp.Body).Decode(&jwks))
	if len(jwks.Keys) != 1 {
		t.Fatalf("JWKS has %d keys", len(jwks.Keys))
	}
	k := jwks.Keys[0]
	if k.Kty != "RSA" || k.Alg != "RS256" || k.Use != "sig" || k.Kid == "" || len(k.N) != 342 || k.E != "AQAB" {
		t.Errorf("JWKS key = %+v, want RSA 2048 RS256 sig with a kid", k)
	}
}

// idClaims are the claims the tests read.
type idClaims struct {
	Sub               string   `json:"sub"`
	Nonce             string   `json:"nonce"`
	AuthTime          int64    `json:"auth_time"`
	PreferredUsername string   `json:"preferred_username"`
	Name              string   `json:"name"`
	Email             string   `json:"email"`
	Groups            []string `json:"groups"`
}

func TestOIDCCodeFlow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		clientID string
		secret   string
		redirect string
		style    oauth2.AuthStyle
		pkce     bool
		scopes   []string
		want     idClaims
	}{
		{
			name: "web app, client_secret_basic, PKCE, groups filtered", clientID: consoleID, secret: consoleSecret, redirect: callback,
			style: oauth2.AuthStyleInHeader, pkce: true, scopes: []string{oidc.ScopeOpenID, "profile", "email", "groups"},
			want: idClaims{PreferredUsername: "ada@example.com", Name: "Ada Lovelace", Email: "ada@example.com",
				Groups: []string{"preenroll-admins", "preenroll-readers"}},
		},
		{
			name: "web app, client_secret_post, no groups scope", clientID: consoleID, secret: consoleSecret, redirect: callback,
			style: oauth2.AuthStyleInParams, pkce: true, scopes: []string{oidc.ScopeOpenID, "profile"},
			want: idClaims{PreferredUsername: "ada@example.com", Name: "Ada Lovelace"},
		},
		{
			name: "public client with PKCE, every group", clientID: spaID, redirect: callback,
			style: oauth2.AuthStyleInParams, pkce: true, scopes: []string{oidc.ScopeOpenID, "groups"},
			want: idClaims{Groups: []string{"Everyone", "preenroll-admins", "preenroll-readers"}},
		},
		{
			name: "web app without PKCE, redirect URI with a query", clientID: plainID, secret: "plain-secret", redirect: callback + "?tenant=1",
			style: oauth2.AuthStyleAutoDetect, scopes: []string{oidc.ScopeOpenID, "email"},
			want: idClaims{Email: "ada@example.com"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := newOIDCOrg(t)
			ctx := t.Context()
			must(t, o.srv.Advance(42*time.Second))
			signedInAt := o.srv.Now()
			cfg := o.config(tc.clientID, tc.secret, tc.redirect, tc.style, tc.scopes...)
			var verifier string
			var opts []oauth2.AuthCodeOption
			if tc.pkce {
				verifier = oauth2.GenerateVerifier()
				opts = append(opts, oauth2.VerifierOption(verifier))
			}
			code := o.code(t, cfg, verifier)
			must(t, o.srv.Advance(10*time.Second))
			tok, err := cfg.Exchange(ctx, code, opts...)
			must(t, err)
			if tok.TokenType != "Bearer" || tok.AccessToken == "" || !tok.Expiry.After(time.Now()) {
				t.Errorf("token = %s %v, want a Bearer access token", tok.TokenType, tok.Expiry)
			}
			raw, _ := tok.Extra("id_token").(string)
			v := o.provider.VerifierContext(ctx, &oidc.Config{ClientID: tc.clientID, Now: o.srv.Now})
			idt, err := v.Verify(ctx, raw)
			must(t, err)
			must(t, idt.VerifyAccessToken(tok.AccessToken)) // at_hash
			var got idClaims
			must(t, idt.Claims(&got))
			want := tc.want
			want.Sub, want.Nonce, want.AuthTime = o.admin.ID, "nonce-1", signedInAt.Unix()
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ID token claims (-want +got):\n%s", diff)
			}
			if !idt.IssuedAt.Equal(signedInAt.Add(10*time.Second)) || !idt.Expiry.Equal(idt.IssuedAt.Add(time.Hour)) {
				t.Errorf("iat %v exp %v, want the fake clock's time and one hour later", idt.IssuedAt, idt.Expiry)
			}

			// The access token reads the user's claims from userinfo.
			info, err := o.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
			must(t, err)
			if info.Subject != o.admin.ID || info.Email != want.Email {
				t.Errorf("userinfo = %s %q, want %s %q", info.Subject, info.Email, o.admin.ID, want.Email)
			}

			// Nothing secret reaches the request log.
			for _, e := range o.srv.RequestLog() {
				line := e.Path + "?" + e.Query + " " + e.Detail
				for _, secret := range []string{code, verifier, tok.AccessToken, raw, consoleSecret} {
					if secret != "" && strings.Contains(line, secret) {
						t.Errorf("request log entry %q holds a secret", line)
					}
				}
			}

			// Signing in is a login.
			if u, _ := o.srv.User(o.admin.ID); !u.LastLogin.Equal(signedInAt) {
				t.Errorf("lastLogin = %v, want %v", u.LastLogin, signedInAt)
			}
		})
	}
}

// tokenRequest is a code-grant token request a test can spoil.
type tokenRequest struct {
	form   url.Values
	header http.Header
}

func (r tokenRequest) post(t *testing.T, srv *oktatest.Server) reply {
	t.Helper()
	r.header.Set("Content-Type", "application/x-www-form-urlencoded")
	return send(t, "POST", srv.TokenURL(), r.form.Encode(), r.header)
}

func basicAuth(id, secret string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return req.Header.Get("Authorization")
}

func TestOIDCTokenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// before runs after sign-in, before the token request.
		before func(t *testing.T, o *oidcOrg)
		spoil  func(r *tokenRequest)
		// first redeems the code once successfully before the request.
		first bool
		// codeSpent: the refused request used the code up.
		codeSpent  bool
		wantStatus int
		wantError  string
		wantDesc   string
	}{
		{name: "valid request", wantStatus: 200},
		{name: "valid at 299 s", before: advance(299 * time.Second), wantStatus: 200},
		{
			name: "wrong redirect_uri", codeSpent: true, spoil: func(r *tokenRequest) { r.form.Set("redirect_uri", "https://console.example/other") },
			wantStatus: 400, wantError: "invalid_grant", wantDesc: "The 'redirect_uri' does not match the redirection URI used in the authorization request.",
		},
		{
			name: "bad PKCE verifier", codeSpent: true, spoil: func(r *tokenRequest) { r.form.Set("code_verifier", oauth2.GenerateVerifier()) },
			wantStatus: 400, wantError: "invalid_grant", wantDesc: "PKCE verification failed.",
		},
		{
			name: "missing PKCE verifier", codeSpent: true, spoil: func(r *tokenRequest) { r.form.Del("code_verifier") },
			wantStatus: 400, wantError: "invalid_request", wantDesc: "The 'code_verifier' parameter is required: the authorization request had a 'code_challenge'.",
		},
		{
			name: "malformed PKCE verifier", codeSpent: true, spoil: func(r *tokenRequest) { r.form.Set("code_verifier", "short") },
			wantStatus: 400, wantError: "invalid_request", wantDesc: "The 'code_verifier' must be 43 to 128 characters from A-Z, a-z, 0-9, '-', '.', '_' and '~'.",
		},
		{
			name: "reused code", first: true, codeSpent: true,
			wantStatus: 400, wantError: "invalid_grant", wantDesc: "The authorization code is invalid or has expired.",
		},
		{
			name: "expired code (300 s)", codeSpent: true, before: advance(300 * time.Second),
			wantStatus: 400, wantError: "invalid_grant", wantDesc: "The authorization code is invalid or has expired.",
		},
		{
			name: "unknown code", spoil: func(r *tokenRequest) { r.form.Set("code", "not-a-code") },
			wantStatus: 400, wantError: "invalid_grant", wantDesc: "The authorization code is invalid or has expired.",
		},
		{
			name: "no code", spoil: func(r *tokenRequest) { r.form.Del("code") },
			wantStatus: 400, wantError: "invalid_request", wantDesc: "The 'code' parameter is required.",
		},
		{
			name: "wrong client secret (basic)", spoil: func(r *tokenRequest) { r.header.Set("Authorization", basicAuth(consoleID, "wrong")) },
			wantStatus: 401, wantError: "invalid_client", wantDesc: "The client secret supplied for a confidential client is invalid.",
		},
		{
			name: "wrong client secret (post)",
			spoil: func(r *tokenRequest) {
				r.header.Del("Authorization")
				r.form.Set("client_id", consoleID)
				r.form.Set("client_secret", "wrong")
			},
			wantStatus: 401, wantError: "invalid_client", wantDesc: "The client secret supplied for a confidential client is invalid.",
		},
		{
			name: "no client secret",
			spoil: func(r *tokenRequest) {
				r.header.Del("Authorization")
				r.form.Set("client_id", consoleID)
			},
			wantStatus: 401, wantError: "invalid_client", wantDesc: "Client authentication failed: the client needs its client secret (client_secret_basic or client_secret_post).",
		},
		{
			name: "two authentication methods", spoil: func(r *tokenRequest) { r.form.Set("client_secret", consoleSecret) },
			wantStatus: 400, wantError: "invalid_request", wantDesc: "The client used more than one authentication method.",
		},
		{
			name: "unknown client", spoil: func(r *tokenRequest) { r.header.Set("Authorization", basicAuth("0oanobody", "x")) },
			wantStatus: 401, wantError: "invalid_client", wantDesc: "The client_id is not registered.",
		},
		{
			name: "code of another client", spoil: func(r *tokenRequest) { r.header.Set("Authorization", basicAuth(plainID, "plain-secret")) },
			wantStatus: 400, wantError: "invalid_grant", wantDesc: "The authorization code is invalid or has expired.",
		},
		{
			name: "user suspended since sign-in", codeSpent: true,
			before: func(t *testing.T, o *oidcOrg) {
				r := send(t, "POST", o.srv.URL()+"/api/v1/users/"+o.admin.ID+"/lifecycle/suspend", "", http.Header{"Authorization": {"SSWS " + o.srv.Token()}})
				if r.status != 200 {
					t.Fatalf("suspend = %d", r.status)
				}
			},
			wantStatus: 400, wantError: "invalid_grant", wantDesc: "The user of the authorization code can no longer sign in.",
		},
		{
			name: "more than 100 groups", codeSpent: true,
			before: func(t *testing.T, o *oidcOrg) {
				for i := range 100 {
					must(t, o.srv.AddToGroup(o.srv.AddGroup(fmt.Sprintf("preenroll-%03d", i)), o.admin.ID))
				}
			},
			wantStatus: 400, wantError: "invalid_request", wantDesc: "The groups claim would list 102 groups, more than 100; narrow the app's groups filter.",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := newOIDCOrg(t)
			cfg := o.config(consoleID, consoleSecret, callback, oauth2.AuthStyleInHeader, oidc.ScopeOpenID, "groups")
			verifier := oauth2.GenerateVerifier()
			code := o.code(t, cfg, verifier)
			if tc.before != nil {
				tc.before(t, o)
			}
			r := tokenRequest{
				form:   url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback}, "code_verifier": {verifier}},
				header: http.Header{"Authorization": {basicAuth(consoleID, consoleSecret)}},
			}
			var firstAccess string
			if tc.first {
				ok := tokenRequest{form: r.form, header: r.header.Clone()}.post(t, o.srv)
				if ok.status != 200 {
					t.Fatalf("first redemption = %d %v", ok.status, ok.body)
				}
				firstAccess, _ = ok.body["access_token"].(string)
			}
			if tc.spoil != nil {
				tc.spoil(&r)
			}
			got := r.post(t, o.srv)
			if got.status != tc.wantStatus {
				t.Fatalf("status = %d %v, want %d", got.status, got.body, tc.wantStatus)
			}
			if tc.wantStatus == 200 {
				if got.body["id_token"] == nil || got.body["token_type"] != "Bearer" || got.body["expires_in"] != 3600.0 {
					t.Errorf("token response = %v", got.body)
				}
				return
			}
			if diff := cmp.Diff(map[string]any{"error": tc.wantError, "error_description": tc.wantDesc}, got.body); diff != "" {
				t.Errorf("error body (-want +got):\n%s", diff)
			}
			if wa := got.header.Get("WWW-Authenticate"); (got.status == 401 && r.header.Get("Authorization") != "") != (wa != "") {
				t.Errorf("WWW-Authenticate = %q on a %d", wa, got.status)
			}
			if firstAccess != "" {
				// RFC 6749 §4.1.2: reusing a code revokes its tokens.
				info := send(t, "GET", o.srv.URL()+"/oauth2/v1/userinfo", "", http.Header{"Authorization": {"Bearer " + firstAccess}})
				if info.status != 401 {
					t.Errorf("userinfo with the reused code's access token = %d, want 401", info.status)
				}
			}
			// A code is spent by the first request that names it with its
			// own client's credentials; earlier refusals leave it usable.
			r.form.Set("code", code)
			r.form.Set("code_verifier", verifier)
			r.form.Set("redirect_uri", callback)
			r.form.Del("client_id")
			r.form.Del("client_secret")
			r.header.Set("Authorization", basicAuth(consoleID, consoleSecret))
			if again := r.post(t, o.srv); (again.status == 200) == tc.codeSpent {
				t.Errorf("a correct request after the refusal = %d %v; code spent = %v", again.status, again.body, tc.codeSpent)
			}
		})
	}
}

func advance(d time.Duration) func(*testing.T, *oidcOrg) {
	return func(t *testing.T, o *oidcOrg) { must(t, o.srv.Advance(d)) }
}

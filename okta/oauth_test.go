package okta_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

const clientID = "0oaPreenrollService"

// ecKey returns a fresh P-256 key with key ID kid.
func ecKey(t testing.TB, kid string) *okta.PrivateKey {
	t.Helper()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := okta.NewPrivateKey(ec, kid)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// wireCall is what the recorder saw of one request: never the token.
type wireCall struct {
	Method, Path string
	Scheme       string // Authorization scheme
	Proof        *proofClaims
	Status       int
}

type proofClaims struct {
	HTM, HTU, Nonce string
	ATH             bool // present and equal to the hash of the token sent
}

// recorder is a RoundTripper that records every request's shape.
type recorder struct {
	base  http.RoundTripper
	mu    sync.Mutex
	calls []wireCall
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	c := wireCall{Method: req.Method, Path: req.URL.Path}
	scheme, tok, _ := strings.Cut(req.Header.Get("Authorization"), " ")
	c.Scheme = scheme
	if p := req.Header.Get("DPoP"); p != "" {
		c.Proof = decodeProof(p, tok)
	}
	resp, err := r.base.RoundTrip(req)
	if resp != nil {
		c.Status = resp.StatusCode
	}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	return resp, err
}

func (r *recorder) take() []wireCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.calls
	r.calls = nil
	return out
}

// decodeProof reads a proof's claims (its signature is the fake's to check).
func decodeProof(p, token string) *proofClaims {
	parts := strings.Split(p, ".")
	if len(parts) != 3 {
		return &proofClaims{HTM: "malformed"}
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return &proofClaims{HTM: "malformed"}
	}
	var c struct{ HTM, HTU, ATH, Nonce string }
	if json.Unmarshal(b, &c) != nil {
		return &proofClaims{HTM: "malformed"}
	}
	out := &proofClaims{HTM: c.HTM, HTU: c.HTU, Nonce: c.Nonce}
	if c.ATH != "" {
		h := sha256.Sum256([]byte(token))
		out.ATH = c.ATH == base64.RawURLEncoding.EncodeToString(h[:])
	}
	return out
}

// oauthSetup starts a fake org with a service app and returns an OAuth
// client whose wire traffic is recorded.
type oauthSetup struct {
	srv *oktatest.Server
	c   *okta.Client
	rec *recorder
	key *okta.PrivateKey
	// clock is the client's clock when a test replaces the fake's.
	clock *skewClock
}

func newOAuthSetup(t *testing.T, app oktatest.ServiceApp, cfg okta.OAuthConfig, opts ...okta.Option) *oauthSetup {
	t.Helper()
	srv := oktatest.NewServer(t)
	st := &oauthSetup{srv: srv, rec: &recorder{base: http.DefaultTransport}}
	if cfg.PrivateKey == nil {
		cfg.PrivateKey = ecKey(t, "k1")
	}
	st.key = cfg.PrivateKey
	if app.ClientID == "" {
		app.ClientID = clientID
	}
	if app.Keys == nil {
		app.Keys = []jose.JSONWebKey{cfg.PrivateKey.PublicJWK()}
	}
	if cfg.ClientID == "" {
		cfg.ClientID = clientID
	}
	if cfg.Scopes == nil {
		cfg.Scopes = app.Scopes
	}
	if err := srv.AddServiceApp(app); err != nil {
		t.Fatal(err)
	}
	all := append([]okta.Option{okta.WithHTTPClient(&http.Client{Transport: st.rec})}, opts...)
	c, err := srv.OAuthClient(cfg, all...)
	if err != nil {
		t.Fatal(err)
	}
	st.c = c
	return st
}

func (st *oauthSetup) addUser(t *testing.T) okta.User {
	t.Helper()
	u, err := st.srv.AddUser(okta.Profile{Login: "ada@example.com", Email: "ada@example.com", FirstName: "Ada", LastName: "L"}, okta.UserActive)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestOAuthHappyPath(t *testing.T) {
	allScopes := []string{okta.ScopeUsersManage, okta.ScopeGroupsManage}
	tests := []struct {
		name string
		dpop bool
		key  func(t *testing.T) *okta.PrivateKey
		want []wireCall
	}{
		{
			name: "bearer",
			want: []wireCall{
				{Method: "POST", Path: okta.TokenPath, Status: 200},
				{Method: "GET", Path: "/api/v1/users/ada@example.com", Scheme: "Bearer", Status: 200},
				{Method: "GET", Path: "/api/v1/groups/{gid}/users", Scheme: "Bearer", Status: 200},
			},
		},
		{
			name: "dpop",
			dpop: true,
			want: []wireCall{
				{Method: "POST", Path: okta.TokenPath, Proof: &proofClaims{HTM: "POST", HTU: "{org}" + okta.TokenPath}, Status: 400},
				{Method: "POST", Path: okta.TokenPath, Proof: &proofClaims{HTM: "POST", HTU: "{org}" + okta.TokenPath, Nonce: "{nonce}"}, Status: 200},
				{Method: "GET", Path: "/api/v1/users/ada@example.com", Scheme: "DPoP", Proof: &proofClaims{HTM: "GET", HTU: "{org}/api/v1/users/ada@example.com", ATH: true}, Status: 200},
				// htu carries no query (the call sends ?limit=...).
				{Method: "GET", Path: "/api/v1/groups/{gid}/users", Scheme: "DPoP", Proof: &proofClaims{HTM: "GET", HTU: "{org}/api/v1/groups/{gid}/users", ATH: true}, Status: 200},
			},
		},
		{
			name: "dpop with an RSA client key",
			dpop: true,
			key: func(t *testing.T) *okta.PrivateKey {
				rk, err := rsa.GenerateKey(rand.Reader, 2048)
				if err != nil {
					t.Fatal(err)
				}
				k, err := okta.NewPrivateKey(rk, "rsa1")
				if err != nil {
					t.Fatal(err)
				}
				return k
			},
			want: []wireCall{
				{Method: "POST", Path: okta.TokenPath, Proof: &proofClaims{HTM: "POST", HTU: "{org}" + okta.TokenPath}, Status: 400},
				{Method: "POST", Path: okta.TokenPath, Proof: &proofClaims{HTM: "POST", HTU: "{org}" + okta.TokenPath, Nonce: "{nonce}"}, Status: 200},
				{Method: "GET", Path: "/api/v1/users/ada@example.com", Scheme: "DPoP", Proof: &proofClaims{HTM: "GET", HTU: "{org}/api/v1/users/ada@example.com", ATH: true}, Status: 200},
				{Method: "GET", Path: "/api/v1/groups/{gid}/users", Scheme: "DPoP", Proof: &proofClaims{HTM: "GET", HTU: "{org}/api/v1/groups/{gid}/users", ATH: true}, Status: 200},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := okta.OAuthConfig{DPoP: tt.dpop}
			if tt.key != nil {
				cfg.PrivateKey = tt.key(t)
			}
			st := newOAuthSetup(t, oktatest.ServiceApp{Scopes: allScopes, DPoP: tt.dpop}, cfg)
			ctx := context.Background()
			u := st.addUser(t)
			gid := st.srv.AddGroup("yubikey-users")
			got, err := st.c.GetUser(ctx, "ada@example.com")
			if err != nil {
				t.Fatalf("GetUser: %v", err)
			}
			if got.ID != u.ID {
				t.Errorf("GetUser ID = %q, want %q", got.ID, u.ID)
			}
			for _, err := range st.c.ListGroupMembers(ctx, gid) {
				if err != nil {
					t.Fatalf("ListGroupMembers: %v", err)
				}
			}
			calls := st.rec.take()
			org := st.srv.URL()
			for i := range calls {
				calls[i].Path = strings.ReplaceAll(calls[i].Path, gid, "{gid}")
				if p := calls[i].Proof; p != nil {
					p.HTU = strings.ReplaceAll(strings.ReplaceAll(p.HTU, org, "{org}"), gid, "{gid}")
					if p.Nonce != "" {
						p.Nonce = "{nonce}"
					}
				}
			}
			if diff := cmp.Diff(tt.want, calls); diff != "" {
				t.Errorf("wire calls (-want +got):\n%s", diff)
			}
			wantCounts := oktatest.TokenCounts{Issued: 1}
			if tt.dpop {
				wantCounts = oktatest.TokenCounts{Issued: 1, Refused: 1, NonceChallenges: 1}
			}
			if diff := cmp.Diff(wantCounts, st.srv.TokenCounts(clientID)); diff != "" {
				t.Errorf("token counts (-want +got):\n%s", diff)
			}
		})
	}
}

// readingUsers runs f, as subtests with and without DPoP, on a client of a
// service app granted okta.users.read and a user it may read.
func readingUsers(t *testing.T, f func(t *testing.T, st *oauthSetup, u okta.User)) {
	for _, dpop := range []bool{false, true} {
		t.Run(fmt.Sprintf("dpop=%v", dpop), func(t *testing.T) {
			st := newOAuthSetup(t, oktatest.ServiceApp{Scopes: []string{okta.ScopeUsersRead}, DPoP: dpop}, okta.OAuthConfig{DPoP: dpop})
			f(t, st, st.addUser(t))
		})
	}
}

func TestOAuthTokenCachedAcrossCalls(t *testing.T) {
	readingUsers(t, func(t *testing.T, st *oauthSetup, u okta.User) {
		// Sequential and concurrent callers share one token.
		for range 10 {
			if _, err := st.c.GetUser(context.Background(), u.ID); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 16 {
			wg.Go(func() {
				if _, err := st.c.GetUser(context.Background(), u.ID); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if got := st.srv.TokenCounts(clientID).Issued; got != 1 {
			t.Errorf("tokens issued for 26 calls = %d, want 1", got)
		}
	})
}

func TestOAuthRefreshBeforeExpiry(t *testing.T) {
	tests := []struct {
		name        string
		refresh     time.Duration // OAuthConfig.RefreshBefore
		advance     []time.Duration
		wantIssued  []int // after each advance and a call
		wantRefused int
	}{
		{
			name:       "default margin of five minutes",
			advance:    []time.Duration{0, 54 * time.Minute, time.Minute, 54 * time.Minute, time.Minute},
			wantIssued: []int{1, 1, 2, 2, 3},
		},
		{
			name:       "long expired",
			advance:    []time.Duration{0, 3 * time.Hour, 48 * time.Hour},
			wantIssued: []int{1, 2, 3},
		},
		{
			name:       "margin capped at half the lifetime",
			refresh:    2 * time.Hour,
			advance:    []time.Duration{0, 29 * time.Minute, time.Minute},
			wantIssued: []int{1, 1, 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newOAuthSetup(t, oktatest.ServiceApp{Scopes: []string{okta.ScopeUsersRead}, DPoP: true},
				okta.OAuthConfig{DPoP: true, RefreshBefore: tt.refresh})
			u := st.addUser(t)
			var got []int
			for _, d := range tt.advance {
				st.srv.Advance(d)
				if _, err := st.c.GetUser(context.Background(), u.ID); err != nil {
					t.Fatalf("after %v: %v", d, err)
				}
				got = append(got, st.srv.TokenCounts(clientID).Issued)
			}
			if diff := cmp.Diff(tt.wantIssued, got); diff != "" {
				t.Errorf("tokens issued (-want +got):\n%s", diff)
			}
			// No API call was ever refused: every refresh happened before expiry.
			for _, r := range st.srv.RequestLog() {
				if strings.HasPrefix(r.Path, "/api/") && r.Status != http.StatusOK {
					t.Errorf("API call refused: %+v", r)
				}
			}
		})
	}
}

// skewClock is the fake's clock plus a skew: a client whose clock can fall
// behind the server's.
type skewClock struct {
	srv  *oktatest.Server
	skew time.Duration
}

func (c *skewClock) Now() time.Time { return c.srv.Now().Add(c.skew) }

func (c *skewClock) Sleep(ctx context.Context, d time.Duration) error {
	c.srv.Advance(d)
	return ctx.Err()
}

func TestOAuthRefusedTokenIsReplacedOnce(t *testing.T) {
	tests := []struct {
		name      string
		dpop      bool
		refuse    func(st *oauthSetup)
		wantCalls []string // "METHOD path status"
	}{
		{
			name:   "revoked",
			refuse: func(st *oauthSetup) { st.srv.RevokeServiceAppTokens(clientID) },
			wantCalls: []string{
				"GET /api/v1/users/{id} 401", "POST /oauth2/v1/token 200", "GET /api/v1/users/{id} 200",
			},
		},
		{
			// The client's clock falls a minute behind after the token was
			// issued: it still trusts a token the server has expired.
			name: "expired at the server first",
			dpop: true,
			refuse: func(st *oauthSetup) {
				st.clock.skew = -time.Minute
				st.srv.Advance(time.Hour)
			},
			wantCalls: []string{
				"GET /api/v1/users/{id} 401", "POST /oauth2/v1/token 200", "GET /api/v1/users/{id} 200",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &skewClock{}
			st := newOAuthSetup(t, oktatest.ServiceApp{Scopes: []string{okta.ScopeUsersRead}, DPoP: tt.dpop},
				okta.OAuthConfig{DPoP: tt.dpop, RefreshBefore: time.Nanosecond}, okta.WithClock(clock))
			clock.srv = st.srv
			st.clock = clock
			u := st.addUser(t)
			if _, err := st.c.GetUser(context.Background(), u.ID); err != nil {
				t.Fatal(err)
			}
			tt.refuse(st)
			st.rec.take()
			if _, err := st.c.GetUser(context.Background(), u.ID); err != nil {
				t.Fatalf("GetUser after the token was refused: %v", err)
			}
			var got []string
			for _, c := range st.rec.take() {
				got = append(got, fmt.Sprintf("%s %s %d", c.Method, strings.ReplaceAll(c.Path, u.ID, "{id}"), c.Status))
			}
			if diff := cmp.Diff(tt.wantCalls, got); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOAuthTokenErrors(t *testing.T) {
	other := ecKey(t, "k1") // same kid, different key
	tests := []struct {
		name       string
		app        oktatest.ServiceApp
		cfg        okta.OAuthConfig
		wantStatus int
		wantCode   string
		wantIs     error
		wantText   string
	}{
		{
			name:       "wrong key",
			app:        oktatest.ServiceApp{Keys: []jose.JSONWebKey{other.PublicJWK()}, Scopes: []string{okta.ScopeUsersRead}},
			wantStatus: 401, wantCode: "invalid_client", wantIs: okta.ErrUnauthorized,
			wantText: "okta: get user: token request: HTTP 401 invalid_client: The client_assertion signature is invalid.",
		},
		{
			name:       "unknown key ID",
			app:        oktatest.ServiceApp{Scopes: []string{okta.ScopeUsersRead}},
			cfg:        okta.OAuthConfig{KeyID: "k2"},
			wantStatus: 401, wantCode: "invalid_client", wantIs: okta.ErrUnauthorized,
			wantText: "kid is not a key of the client",
		},
		{
			name:       "unknown client",
			app:        oktatest.ServiceApp{Scopes: []string{okta.ScopeUsersRead}},
			cfg:        okta.OAuthConfig{ClientID: "0oaSomeoneElse"},
			wantStatus: 401, wantCode: "invalid_client", wantIs: okta.ErrUnauthorized,
			wantText: "client_id is not registered",
		},
		{
			name:       "scope not granted",
			app:        oktatest.ServiceApp{Scopes: []string{okta.ScopeUsersRead}},
			cfg:        okta.OAuthConfig{Scopes: []string{okta.ScopeUsersRead, okta.ScopeEventHooksManage}},
			wantStatus: 400, wantCode: "invalid_scope", wantIs: okta.ErrValidation,
			wantText: "okta.eventHooks.manage",
		},
		{
			name:       "app requires DPoP",
			app:        oktatest.ServiceApp{Scopes: []string{okta.ScopeUsersRead}, DPoP: true},
			wantStatus: 400, wantCode: "invalid_dpop_proof", wantIs: okta.ErrValidation,
			wantText: "The DPoP proof JWT header is missing. (the service app requires DPoP: set OAuthConfig.DPoP)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newOAuthSetup(t, tt.app, tt.cfg, okta.WithRetryPolicy(okta.RetryPolicy{MaxRetries: 3}))
			_, err := st.c.GetUser(context.Background(), "ada@example.com")
			var te *okta.TokenError
			if !errors.As(err, &te) {
				t.Fatalf("err = %v, want a *okta.TokenError", err)
			}
			if te.StatusCode != tt.wantStatus || te.ErrorCode != tt.wantCode || te.Op != "get user" || te.RequestID == "" {
				t.Errorf("TokenError = %+v, want status %d code %s op %q and a request ID", te, tt.wantStatus, tt.wantCode, "get user")
			}
			if !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(err, %v) = false", tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("err = %q, want it to contain %q", err, tt.wantText)
			}
			// Refused, not retried; the API call was never sent.
			var paths []string
			for _, c := range st.rec.take() {
				paths = append(paths, c.Path)
			}
			if diff := cmp.Diff([]string{okta.TokenPath}, paths); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOAuthMissingScopeIsForbidden(t *testing.T) {
	readingUsers(t, func(t *testing.T, st *oauthSetup, u okta.User) {
		ctx := context.Background()
		if _, err := st.c.GetUser(ctx, u.ID); err != nil {
			t.Fatalf("GetUser with okta.users.read: %v", err)
		}
		_, err := st.c.UpdateProfile(ctx, u.ID, okta.Profile{City: "Paris"})
		var apiErr *okta.APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 403 || apiErr.ErrorCode != "E0000006" || !errors.Is(err, okta.ErrForbidden) {
			t.Fatalf("UpdateProfile without okta.users.manage: %v, want 403 E0000006", err)
		}
		if !strings.Contains(err.Error(), "okta.users.manage") {
			t.Errorf("error %q does not name the missing scope", err)
		}
		// A 403 is not a token problem: no new token was fetched.
		if got := st.srv.TokenCounts(clientID).Issued; got != 1 {
			t.Errorf("tokens issued = %d, want 1", got)
		}
	})
}

func TestOAuthDPoPNonces(t *testing.T) {
	st := newOAuthSetup(t, oktatest.ServiceApp{Scopes: []string{okta.ScopeUsersRead}, DPoP: true}, okta.OAuthConfig{DPoP: true})
	st.srv.RequireDPoPNonceForAPI(true)
	u := st.addUser(t)
	call := func() []string {
		t.Helper()
		if _, err := st.c.GetUser(context.Background(), u.ID); err != nil {
			t.Fatalf("GetUser: %v", err)
		}
		var out []string
		for _, c := range st.rec.take() {
			nonce := "no nonce"
			if c.Proof != nil && c.Proof.Nonce != "" {
				nonce = "nonce"
			}
			out = append(out, fmt.Sprintf("%s %d %s", strings.ReplaceAll(c.Path, u.ID, "{id}"), c.Status, nonce))
		}
		return out
	}
	steps := []struct {
		name   string
		before func()
		want   []string
	}{
		{
			name: "first call: a challenge at the token endpoint and at the API",
			want: []string{
				"/oauth2/v1/token 400 no nonce", "/oauth2/v1/token 200 nonce",
				"/api/v1/users/{id} 401 no nonce", "/api/v1/users/{id} 200 nonce",
			},
		},
		{
			name: "the nonce is remembered",
			want: []string{"/api/v1/users/{id} 200 nonce"},
		},
		{
			name:   "rotation at the API",
			before: st.srv.RotateDPoPNonce,
			want:   []string{"/api/v1/users/{id} 401 nonce", "/api/v1/users/{id} 200 nonce"},
		},
		{
			name: "rotation at the token endpoint",
			before: func() {
				st.srv.RotateDPoPNonce()
				st.srv.Advance(2 * time.Hour)
			},
			want: []string{
				"/oauth2/v1/token 400 nonce", "/oauth2/v1/token 200 nonce",
				"/api/v1/users/{id} 401 nonce", "/api/v1/users/{id} 200 nonce",
			},
		},
		{
			// Okta renews daily and accepts a nonce for three days; the
			// server's new nonce (DPoP-Nonce on every answer) replaces
			// the old one without a challenge.
			name:   "daily renewal without a challenge",
			before: func() { st.srv.Advance(25 * time.Hour) },
			want:   []string{"/oauth2/v1/token 200 nonce", "/api/v1/users/{id} 200 nonce"},
		},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		if diff := cmp.Diff(s.want, call()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", s.name, diff)
		}
	}
	if got := st.srv.TokenCounts(clientID); got.NonceChallenges != 2 {
		t.Errorf("token endpoint nonce challenges = %d, want 2", got.NonceChallenges)
	}
}

func TestOAuthTransientTokenFailureRetried(t *testing.T) {
	st := newOAuthSetup(t, oktatest.ServiceApp{Scopes: []string{okta.ScopeUsersManage}}, okta.OAuthConfig{},
		okta.WithRetryPolicy(okta.RetryPolicy{MaxRetries: 2, Backoff: func(int) time.Duration { return time.Second }}))
	if err := st.srv.InjectHTTPFault(oktatest.HTTPFaultRule{PathPrefix: okta.TokenPath, Status: http.StatusServiceUnavailable}); err != nil {
		t.Fatal(err)
	}
	// CreateUser is not idempotent, but without a token it was never sent.
	u, err := st.c.CreateUser(context.Background(), okta.CreateUserRequest{Profile: okta.Profile{
		Login: "grace@example.com", Email: "grace@example.com", FirstName: "Grace", LastName: "H",
	}})
	if err != nil {
		t.Fatalf("CreateUser after a 503 from the token endpoint: %v", err)
	}
	if u.Status != okta.UserStaged {
		t.Errorf("status = %s", u.Status)
	}
	var got []string
	for _, c := range st.rec.take() {
		got = append(got, fmt.Sprintf("%s %d", c.Path, c.Status))
	}
	want := []string{"/oauth2/v1/token 503", "/oauth2/v1/token 200", "/api/v1/users 200"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestWithOAuthValidation(t *testing.T) {
	key := ecKey(t, "k1")
	good := okta.OAuthConfig{ClientID: clientID, PrivateKey: key, Scopes: []string{okta.ScopeUsersRead}}
	with := func(f func(*okta.OAuthConfig)) okta.OAuthConfig {
		c := good
		f(&c)
		return c
	}
	tests := []struct {
		name  string
		token string
		opts  []okta.Option
		want  string
	}{
		{"no client ID", "", []okta.Option{okta.WithOAuth(with(func(c *okta.OAuthConfig) { c.ClientID = "" }))}, "ClientID is empty"},
		{"client ID with a space", "", []okta.Option{okta.WithOAuth(with(func(c *okta.OAuthConfig) { c.ClientID = "a b" }))}, "ClientID contains a space"},
		{"no key", "", []okta.Option{okta.WithOAuth(with(func(c *okta.OAuthConfig) { c.PrivateKey = nil }))}, "PrivateKey is nil"},
		{"no scopes", "", []okta.Option{okta.WithOAuth(with(func(c *okta.OAuthConfig) { c.Scopes = nil }))}, "Scopes is empty"},
		{"bad scope", "", []okta.Option{okta.WithOAuth(with(func(c *okta.OAuthConfig) { c.Scopes = []string{"okta.users.read okta.users.manage"} }))}, `Scopes[0] "okta.users.read okta.users.manage" is not a valid scope`},
		{"DPoP key without DPoP", "", []okta.Option{okta.WithOAuth(with(func(c *okta.OAuthConfig) { c.DPoPKey = ecKey(t, "") }))}, "DPoPKey is set but DPoP is off"},
		{"DPoP key is the client key", "", []okta.Option{okta.WithOAuth(with(func(c *okta.OAuthConfig) { c.DPoP, c.DPoPKey = true, key }))}, "DPoPKey must differ from PrivateKey"},
		{"plain http token URL", "", []okta.Option{okta.WithOAuth(with(func(c *okta.OAuthConfig) { c.TokenURL = "http://example.okta.com/oauth2/v1/token" }))}, "plain http is only allowed for loopback hosts"},
		{"token URL with a query", "", []okta.Option{okta.WithOAuth(with(func(c *okta.OAuthConfig) { c.TokenURL = "https://example.okta.com/oauth2/v1/token?x=1" }))}, "must not have a query or a fragment"},
		{"negative refresh", "", []okta.Option{okta.WithOAuth(with(func(c *okta.OAuthConfig) { c.RefreshBefore = -time.Second }))}, "RefreshBefore -1s is negative"},
		{"token and OAuth", token, []okta.Option{okta.WithOAuth(good)}, "token must be empty with WithOAuth"},
		{"bearer and OAuth", "", []okta.Option{okta.WithOAuthBearer(), okta.WithOAuth(good)}, "WithOAuth and WithOAuthBearer exclude each other"},
		{"no token, no OAuth", "", nil, "token is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := okta.NewClient(org, tt.token, tt.opts...)
			if !errors.Is(err, okta.ErrInvalidArgument) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewClient = %v, want ErrInvalidArgument containing %q", err, tt.want)
			}
		})
	}
	if _, err := okta.NewClient(org, "", okta.WithOAuth(good)); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestOAuthSecretsNeverPrinted(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := okta.NewPrivateKey(ec, "k1")
	if err != nil {
		t.Fatal(err)
	}
	d, err := ec.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	secret := new(big.Int).SetBytes(d).String()
	secretB64 := base64.RawURLEncoding.EncodeToString(d)
	cfg := okta.OAuthConfig{ClientID: clientID, PrivateKey: key, Scopes: []string{okta.ScopeUsersRead}, DPoP: true, DPoPKey: ecKey(t, "")}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		outs = append(outs, fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, key), fmt.Sprintf(verb, &cfg))
	}
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(j))
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("config", "cfg", cfg, "key", key)
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("config", "cfg", cfg, "key", key)
	outs = append(outs, logBuf.String())
	for _, o := range outs {
		if strings.Contains(o, secret) || strings.Contains(o, secretB64) || strings.Contains(o, `"d"`) {
			t.Errorf("key material printed: %s", o)
		}
	}
	if got, want := key.String(), `okta.PrivateKey(ES256, kid "k1", [REDACTED])`; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestOAuthTokenNeverInErrors(t *testing.T) {
	// A refused API call's error carries Okta's body, never the token sent.
	st := newOAuthSetup(t, oktatest.ServiceApp{Scopes: []string{okta.ScopeUsersRead}, DPoP: true}, okta.OAuthConfig{DPoP: true})
	u := st.addUser(t)
	if _, err := st.c.GetUser(context.Background(), u.ID); err != nil {
		t.Fatal(err)
	}
	_, err := st.c.UpdateProfile(context.Background(), u.ID, okta.Profile{City: "Paris"})
	if err == nil {
		t.Fatal("UpdateProfile without scope succeeded")
	}
	for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", st.c)} {
		if strings.Contains(s, "eyJ") { // every JWT (token, proof, assertion) starts so
			t.Errorf("a JWT leaked: %s", s)
		}
	}
}

func oktatestApp(scope string, dpop bool) oktatest.ServiceApp {
	return oktatest.ServiceApp{Scopes: []string{scope}, DPoP: dpop}
}

// BenchmarkGetUserAuth compares one API call with an API token, a bearer
// OAuth token and a DPoP-bound token (a proof signed per call) against the
// fake.
func BenchmarkGetUserAuth(b *testing.B) {
	for _, mode := range []string{"ssws", "bearer", "dpop"} {
		b.Run(mode, func(b *testing.B) {
			srv := oktatest.NewServer(b, oktatest.WithoutRateLimits())
			u, err := srv.AddUser(okta.Profile{Login: "ada@example.com", Email: "ada@example.com", FirstName: "Ada", LastName: "L"}, okta.UserActive)
			if err != nil {
				b.Fatal(err)
			}
			c, err := srv.Client()
			if mode != "ssws" {
				key := ecKey(b, "k1")
				dpop := mode == "dpop"
				if err := srv.AddServiceApp(oktatest.ServiceApp{ClientID: clientID, Keys: []jose.JSONWebKey{key.PublicJWK()}, Scopes: []string{okta.ScopeUsersRead}, DPoP: dpop}); err != nil {
					b.Fatal(err)
				}
				c, err = srv.OAuthClient(okta.OAuthConfig{ClientID: clientID, PrivateKey: key, Scopes: []string{okta.ScopeUsersRead}, DPoP: dpop})
			}
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			for b.Loop() {
				if _, err := c.GetUser(ctx, u.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

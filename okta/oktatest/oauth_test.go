package oktatest_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// These tests speak to the fake's token endpoint and API by hand, with
// assertions and proofs signed here, so they check the fake independently
// of package okta's client.

const testClient = "0oaTestService"

func newECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func nextJTI() string { return rand.Text() }

// assertion signs a client assertion; edit changes the claims first.
func assertion(t testing.TB, srv *oktatest.Server, key *ecdsa.PrivateKey, kid string, edit func(*jwt.Claims)) string {
	t.Helper()
	now := srv.Now()
	c := jwt.Claims{
		Issuer: testClient, Subject: testClient, Audience: jwt.Audience{srv.TokenURL()}, ID: nextJTI(),
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(5 * time.Minute)),
	}
	if edit != nil {
		edit(&c)
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.Signed(sig).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// proofSpec describes a DPoP proof to sign.
type proofSpec struct {
	key    *ecdsa.PrivateKey // signs
	jwk    any               // embedded; default the public half of key
	typ    string            // default dpop+jwt
	claims map[string]any
}

func signProof(t testing.TB, p proofSpec) string {
	t.Helper()
	typ := p.typ
	if typ == "" {
		typ = "dpop+jwt"
	}
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ))
	switch {
	case p.jwk == nil:
		opts.EmbedJWK = true
	case p.jwk == "none":
	default:
		opts = opts.WithHeader("jwk", p.jwk)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: p.key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(p.claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := sig.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func proofClaims(srv *oktatest.Server, method, path, token, nonce string) map[string]any {
	c := map[string]any{"jti": nextJTI(), "htm": method, "htu": srv.URL() + path, "iat": srv.Now().Unix()}
	if token != "" {
		h := sha256.Sum256([]byte(token))
		c["ath"] = base64.RawURLEncoding.EncodeToString(h[:])
	}
	if nonce != "" {
		c["nonce"] = nonce
	}
	return c
}

type reply struct {
	status int
	body   map[string]any
	header http.Header
}

func send(t testing.TB, method, target string, body string, header http.Header) reply {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header}
	_ = json.Unmarshal(data, &r.body)
	return r
}

func tokenForm(a string) url.Values {
	return url.Values{
		"grant_type": {"client_credentials"}, "scope": {okta.ScopeUsersRead},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a},
	}
}

func postToken(t testing.TB, srv *oktatest.Server, form url.Values, proofs ...string) reply {
	t.Helper()
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	for _, p := range proofs {
		h.Add("DPoP", p)
	}
	return send(t, "POST", srv.TokenURL(), form.Encode(), h)
}

func TestTokenEndpointClientAuthentication(t *testing.T) {
	srv := oktatest.NewServer(t)
	key := newECKey(t)
	if err := srv.AddServiceApp(oktatest.ServiceApp{
		ClientID: testClient, Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1"}}, Scopes: []string{okta.ScopeUsersRead},
	}); err != nil {
		t.Fatal(err)
	}
	replayed := assertion(t, srv, key, "k1", nil)
	if r := postToken(t, srv, tokenForm(replayed)); r.status != 200 || r.body["token_type"] != "Bearer" || r.body["expires_in"] != 3600.0 {
		t.Fatalf("first use of an assertion: %d %v", r.status, r.body)
	}
	other := newECKey(t)
	// claims and form make a valid assertion for key "k1", then alter its
	// claims or the form that carries it.
	claims := func(edit func(*jwt.Claims)) func() url.Values {
		return func() url.Values { return tokenForm(assertion(t, srv, key, "k1", edit)) }
	}
	form := func(edit func(url.Values)) func() url.Values {
		return func() url.Values {
			f := tokenForm(assertion(t, srv, key, "k1", nil))
			edit(f)
			return f
		}
	}
	tests := []struct {
		name     string
		form     func() url.Values
		ctype    string
		wantCode string
		status   int
		wantDesc string
	}{
		{"valid", claims(nil), "", "", 200, ""},
		{"valid without kid (one key)", func() url.Values { return tokenForm(assertion(t, srv, key, "", nil)) }, "", "", 200, ""},
		{"replayed jti", func() url.Values { return tokenForm(replayed) }, "", "invalid_client", 401, "already been used"},
		{"wrong key", func() url.Values { return tokenForm(assertion(t, srv, other, "k1", nil)) }, "", "invalid_client", 401, "signature is invalid"},
		{"unknown kid", func() url.Values { return tokenForm(assertion(t, srv, key, "k9", nil)) }, "", "invalid_client", 401, "kid"},
		{"iss differs from sub", claims(func(c *jwt.Claims) { c.Subject = "someone" }), "", "invalid_client", 401, "iss and sub"},
		{"wrong audience", claims(func(c *jwt.Claims) { c.Audience = jwt.Audience{srv.URL() + "/oauth2/default/v1/token"} }), "", "invalid_client", 401, "aud"},
		{"no exp", claims(func(c *jwt.Claims) { c.Expiry = nil }), "", "invalid_client", 401, "no exp"},
		{"expired", claims(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(srv.Now().Add(-time.Second)) }), "", "invalid_client", 401, "expired"},
		{"exp more than an hour ahead", claims(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(srv.Now().Add(61 * time.Minute)) }), "", "invalid_client", 401, "too far into the future"},
		{"iat in the future", claims(func(c *jwt.Claims) { c.IssuedAt = jwt.NewNumericDate(srv.Now().Add(time.Minute)) }), "", "invalid_client", 401, "iat"},
		{"not a JWT", func() url.Values { return tokenForm("not.a.jwt") }, "", "invalid_client", 401, "not a valid signed JWT"},
		{"client secret", form(func(f url.Values) { f.Set("client_secret", "s3cret") }), "", "invalid_client", 401, "private_key_jwt"},
		{"wrong assertion type", form(func(f url.Values) {
			f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
		}), "", "invalid_request", 400, "client_assertion_type"},
		{"client_id differs", form(func(f url.Values) { f.Set("client_id", "0oaOther") }), "", "invalid_client", 401, "client_id"},
		{"wrong grant", form(func(f url.Values) { f.Set("grant_type", "password") }), "", "unsupported_grant_type", 400, ""},
		{"no scope", form(func(f url.Values) { f.Del("scope") }), "", "invalid_request", 400, "scope"},
		{"scope not granted", form(func(f url.Values) { f.Set("scope", okta.ScopeUsersRead+" "+okta.ScopeUsersManage) }), "", "invalid_scope", 400, okta.ScopeUsersManage},
		{"repeated parameter", form(func(f url.Values) { f.Add("scope", okta.ScopeUsersRead) }), "", "invalid_request", 400, "repeated"},
		{"JSON body", claims(nil), "application/json", "invalid_request", 400, "x-www-form-urlencoded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
			if tt.ctype != "" {
				h.Set("Content-Type", tt.ctype)
			}
			r := send(t, "POST", srv.TokenURL(), tt.form().Encode(), h)
			code, _ := r.body["error"].(string)
			desc, _ := r.body["error_description"].(string)
			if r.status != tt.status || code != tt.wantCode || !strings.Contains(desc, tt.wantDesc) {
				t.Errorf("got %d %q %q, want %d %q containing %q", r.status, code, desc, tt.status, tt.wantCode, tt.wantDesc)
			}
			if tt.status == 200 && (r.header.Get("Cache-Control") != "no-store" || r.body["access_token"] == "") {
				t.Errorf("token response: %v %v", r.header, r.body)
			}
		})
	}
}

// dpopApp registers a DPoP app and returns its client key.
func dpopApp(t *testing.T, srv *oktatest.Server, scopes ...string) *ecdsa.PrivateKey {
	t.Helper()
	key := newECKey(t)
	if err := srv.AddServiceApp(oktatest.ServiceApp{
		ClientID: testClient, Keys: []jose.JSONWebKey{{Key: &key.PublicKey}}, Scopes: scopes, DPoP: true,
	}); err != nil {
		t.Fatal(err)
	}
	return key
}

func TestTokenEndpointDPoP(t *testing.T) {
	srv := oktatest.NewServer(t)
	client := dpopApp(t, srv, okta.ScopeUsersRead)
	pk := newECKey(t)
	// The nonce challenge.
	r := postToken(t, srv, tokenForm(assertion(t, srv, client, "", nil)), signProof(t, proofSpec{key: pk, claims: proofClaims(srv, "POST", okta.TokenPath, "", "")}))
	nonce := r.header.Get("DPoP-Nonce")
	if r.status != 400 || r.body["error"] != "use_dpop_nonce" || nonce == "" {
		t.Fatalf("first token request: %d %v nonce %q, want 400 use_dpop_nonce and a DPoP-Nonce", r.status, r.body, nonce)
	}
	replayedProof := signProof(t, proofSpec{key: pk, claims: proofClaims(srv, "POST", okta.TokenPath, "", nonce)})
	if r := postToken(t, srv, tokenForm(assertion(t, srv, client, "", nil)), replayedProof); r.status != 200 || r.body["token_type"] != "DPoP" {
		t.Fatalf("token request with the nonce: %d %v", r.status, r.body)
	}
	good := func() map[string]any { return proofClaims(srv, "POST", okta.TokenPath, "", nonce) }
	with := func(k string, v any) map[string]any {
		c := good()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	other := newECKey(t)
	private := jose.JSONWebKey{Key: pk, Algorithm: "ES256"}
	tests := []struct {
		name     string
		proofs   []string
		wantCode string
		wantDesc string
	}{
		{"no proof", nil, "invalid_dpop_proof", "The DPoP proof JWT header is missing."},
		{"replayed proof", []string{replayedProof}, "invalid_dpop_proof", "already been used"},
		{"two proofs", []string{signProof(t, proofSpec{key: pk, claims: good()}), signProof(t, proofSpec{key: pk, claims: good()})}, "invalid_dpop_proof", "Multiple"},
		{"typ JWT", []string{signProof(t, proofSpec{key: pk, typ: "JWT", claims: good()})}, "invalid_dpop_proof", "typ"},
		{"no jwk", []string{signProof(t, proofSpec{key: pk, jwk: "none", claims: good()})}, "invalid_dpop_proof", "no jwk"},
		{"private jwk", []string{signProof(t, proofSpec{key: pk, jwk: private, claims: good()})}, "invalid_dpop_proof", "not a valid signed JWT"}, // go-jose refuses a private embedded jwk
		{"jwk of another key", []string{signProof(t, proofSpec{key: pk, jwk: jose.JSONWebKey{Key: &other.PublicKey}, claims: good()})}, "invalid_dpop_proof", "signature"},
		{"wrong htm", []string{signProof(t, proofSpec{key: pk, claims: with("htm", "GET")})}, "invalid_dpop_proof", "htm"},
		{"wrong htu", []string{signProof(t, proofSpec{key: pk, claims: with("htu", srv.URL()+"/oauth2/default/v1/token")})}, "invalid_dpop_proof", "htu"},
		{"no jti", []string{signProof(t, proofSpec{key: pk, claims: with("jti", nil)})}, "invalid_dpop_proof", "jti"},
		{"no iat", []string{signProof(t, proofSpec{key: pk, claims: with("iat", nil)})}, "invalid_dpop_proof", "iat"},
		{"iat as a string", []string{signProof(t, proofSpec{key: pk, claims: with("iat", "now")})}, "invalid_dpop_proof", "claims"},
		{"older than five minutes", []string{signProof(t, proofSpec{key: pk, claims: with("iat", srv.Now().Add(-301*time.Second).Unix())})}, "invalid_dpop_proof", "older than 5 minutes"},
		{"from the future", []string{signProof(t, proofSpec{key: pk, claims: with("iat", srv.Now().Add(time.Minute).Unix())})}, "invalid_dpop_proof", "future"},
		{"unknown nonce", []string{signProof(t, proofSpec{key: pk, claims: with("nonce", "forged")})}, "use_dpop_nonce", "nonce"},
		{"htu with a query is compared without it", []string{signProof(t, proofSpec{key: pk, claims: with("htu", srv.TokenURL()+"?x=1")})}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := postToken(t, srv, tokenForm(assertion(t, srv, client, "", nil)), tt.proofs...)
			code, _ := r.body["error"].(string)
			desc, _ := r.body["error_description"].(string)
			wantStatus := 400
			if tt.wantCode == "" {
				wantStatus = 200
			}
			if r.status != wantStatus || code != tt.wantCode || !strings.Contains(desc, tt.wantDesc) {
				t.Errorf("got %d %q %q, want %d %q containing %q", r.status, code, desc, wantStatus, tt.wantCode, tt.wantDesc)
			}
		})
	}
	// Nonces last three days; a new one is handed out daily.
	srv.Advance(25 * time.Hour)
	r = postToken(t, srv, tokenForm(assertion(t, srv, client, "", nil)), signProof(t, proofSpec{key: pk, claims: good()}))
	if r.status != 200 || r.header.Get("DPoP-Nonce") == nonce || r.header.Get("DPoP-Nonce") == "" {
		t.Errorf("a day later: %d, DPoP-Nonce %q (old %q): want 200 and a new nonce", r.status, r.header.Get("DPoP-Nonce"), nonce)
	}
	srv.Advance(48 * time.Hour)
	if r := postToken(t, srv, tokenForm(assertion(t, srv, client, "", nil)), signProof(t, proofSpec{key: pk, claims: good()})); r.body["error"] != "use_dpop_nonce" {
		t.Errorf("three days later: %d %v, want use_dpop_nonce", r.status, r.body)
	}
}

// dpopToken runs the token flow and returns a DPoP-bound token for pk.
func dpopToken(t *testing.T, srv *oktatest.Server, client, pk *ecdsa.PrivateKey, scope string) string {
	t.Helper()
	var nonce string
	for range 2 {
		f := tokenForm(assertion(t, srv, client, "", nil))
		f.Set("scope", scope)
		r := postToken(t, srv, f, signProof(t, proofSpec{key: pk, claims: proofClaims(srv, "POST", okta.TokenPath, "", nonce)}))
		if r.status == 200 {
			return r.body["access_token"].(string)
		}
		nonce = r.header.Get("DPoP-Nonce")
	}
	t.Fatal("no DPoP token")
	return ""
}

func TestAPIAuthorizationWithIssuedTokens(t *testing.T) {
	srv := oktatest.NewServer(t)
	client := dpopApp(t, srv, okta.ScopeUsersRead)
	bearerKey := newECKey(t)
	if err := srv.AddServiceApp(oktatest.ServiceApp{ClientID: "0oaBearer", Keys: []jose.JSONWebKey{{Key: &bearerKey.PublicKey}}, Scopes: []string{okta.ScopeUsersRead}}); err != nil {
		t.Fatal(err)
	}
	u, err := srv.AddUser(okta.Profile{Login: "ada@example.com", Email: "ada@example.com", FirstName: "A", LastName: "L"}, okta.UserActive)
	if err != nil {
		t.Fatal(err)
	}
	pk := newECKey(t)
	tok := dpopToken(t, srv, client, pk, okta.ScopeUsersRead)
	bearer := func() string {
		r := postToken(t, srv, url.Values{
			"grant_type": {"client_credentials"}, "scope": {okta.ScopeUsersRead},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {assertion(t, srv, bearerKey, "", func(c *jwt.Claims) { c.Issuer, c.Subject = "0oaBearer", "0oaBearer" })},
		})
		return r.body["access_token"].(string)
	}()
	path := "/api/v1/users/" + u.ID
	proof := func(edit func(map[string]any)) string {
		c := proofClaims(srv, "GET", path, tok, "")
		if edit != nil {
			edit(c)
		}
		return signProof(t, proofSpec{key: pk, claims: c})
	}
	replayed := proof(nil)
	get := func(p, auth string, proofs ...string) reply {
		h := http.Header{"Authorization": {auth}}
		for _, pr := range proofs {
			h.Add("DPoP", pr)
		}
		return send(t, "GET", srv.URL()+p, "", h)
	}
	if r := get(path, "DPoP "+tok, replayed); r.status != 200 {
		t.Fatalf("valid DPoP call: %d %v", r.status, r.body)
	}
	tests := []struct {
		name      string
		path      string
		auth      string
		proofs    []string
		status    int
		challenge string // error in WWW-Authenticate
	}{
		{"valid", path, "DPoP " + tok, []string{proof(nil)}, 200, ""},
		{"query ignored in htu", path + "?expand=x", "DPoP " + tok, []string{proof(nil)}, 200, ""},
		{"replayed proof", path, "DPoP " + tok, []string{replayed}, 401, "invalid_dpop_proof"},
		{"no proof", path, "DPoP " + tok, nil, 401, "invalid_request"},
		{"Bearer scheme with a bound token", path, "Bearer " + tok, []string{proof(nil)}, 401, "invalid_request"},
		{"wrong ath", path, "DPoP " + tok, []string{proof(func(c map[string]any) { c["ath"] = "AAAA" })}, 401, "invalid_dpop_proof"},
		{"no ath", path, "DPoP " + tok, []string{proof(func(c map[string]any) { delete(c, "ath") })}, 401, "invalid_dpop_proof"},
		{"other path in htu", path, "DPoP " + tok, []string{proof(func(c map[string]any) { c["htu"] = srv.URL() + "/api/v1/users" })}, 401, "invalid_dpop_proof"},
		{"wrong method in htm", path, "DPoP " + tok, []string{proof(func(c map[string]any) { c["htm"] = "POST" })}, 401, "invalid_dpop_proof"},
		{"proof by another key", path, "DPoP " + tok, []string{signProof(t, proofSpec{key: newECKey(t), claims: proofClaims(srv, "GET", path, tok, "")})}, 401, "invalid_dpop_proof"},
		{"unknown token", path, "DPoP not-a-token", []string{proof(nil)}, 401, "invalid_token"},
		{"bearer token sent as DPoP", path, "DPoP " + bearer, []string{signProof(t, proofSpec{key: pk, claims: proofClaims(srv, "GET", path, bearer, "")})}, 401, "invalid_token"},
		{"bearer token", path, "Bearer " + bearer, nil, 200, ""},
		{"API token (SSWS)", path, "SSWS " + srv.Token(), nil, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(tt.path, tt.auth, tt.proofs...)
			if r.status != tt.status {
				t.Errorf("status %d %v, want %d", r.status, r.body, tt.status)
			}
			if tt.status == 401 && r.body["errorCode"] != "E0000011" {
				t.Errorf("body %v, want E0000011", r.body)
			}
			if got := r.header.Get("WWW-Authenticate"); !strings.Contains(got, `error="`+tt.challenge+`"`) && tt.challenge != "" {
				t.Errorf("WWW-Authenticate %q, want error=%q", got, tt.challenge)
			}
		})
	}

	// A scope the token lacks: 403 E0000006 naming the scope.
	h := http.Header{"Authorization": {"DPoP " + tok}, "DPoP": {signProof(t, proofSpec{key: pk, claims: proofClaims(srv, "POST", path, tok, "")})}, "Content-Type": {"application/json"}}
	r := send(t, "POST", srv.URL()+path, `{"profile":{"city":"Paris"}}`, h)
	if r.status != 403 || r.body["errorCode"] != "E0000006" || !strings.Contains(r.header.Get("WWW-Authenticate"), `scope="okta.users.manage"`) {
		t.Errorf("missing scope: %d %v %q", r.status, r.body, r.header.Get("WWW-Authenticate"))
	}

	// Expiry on the fake clock.
	srv.Advance(oktatest.TokenLifetime)
	if r := get(path, "DPoP "+tok, proof(nil)); r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), "expired") {
		t.Errorf("expired token: %d %q", r.status, r.header.Get("WWW-Authenticate"))
	}
	// Nothing secret in the request log.
	for _, e := range srv.RequestLog() {
		if strings.Contains(e.Detail, tok) || strings.Contains(e.Detail, "eyJ") {
			t.Errorf("request log holds a token: %+v", e)
		}
	}
}

func TestAddServiceAppValidation(t *testing.T) {
	srv := oktatest.NewServer(t)
	k := newECKey(t)
	pub := jose.JSONWebKey{Key: &k.PublicKey, KeyID: "a"}
	tests := []struct {
		name string
		app  oktatest.ServiceApp
		want string
	}{
		{"no client ID", oktatest.ServiceApp{Keys: []jose.JSONWebKey{pub}, Scopes: []string{"s"}}, "ClientID"},
		{"no keys", oktatest.ServiceApp{ClientID: "c", Scopes: []string{"s"}}, "no Keys"},
		{"private key", oktatest.ServiceApp{ClientID: "c", Keys: []jose.JSONWebKey{{Key: k}}, Scopes: []string{"s"}}, "private key"},
		{"duplicate kid", oktatest.ServiceApp{ClientID: "c", Keys: []jose.JSONWebKey{pub, pub}, Scopes: []string{"s"}}, "unique KeyIDs"},
		{"no scopes", oktatest.ServiceApp{ClientID: "c", Keys: []jose.JSONWebKey{pub}}, "no Scopes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := srv.AddServiceApp(tt.app); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("AddServiceApp = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	app := oktatest.ServiceApp{ClientID: "c", Keys: []jose.JSONWebKey{pub}, Scopes: []string{"s"}}
	if err := srv.AddServiceApp(app); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddServiceApp(app); err == nil {
		t.Error("second AddServiceApp with the same client ID succeeded")
	}
	if diff := cmp.Diff(oktatest.TokenCounts{}, srv.TokenCounts("c")); diff != "" {
		t.Error(diff)
	}
}

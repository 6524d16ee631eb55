package oktatest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/preenroll/preenroll/okta"
)

// The org authorization server's OpenID Connect endpoints (docs/okta.md
// §OIDC sign-in), and the fake's own sign-in form.
const (
	// AuthorizePath is the authorization endpoint; a GET shows the sign-in
	// page.
	AuthorizePath = "/oauth2/v1/authorize"
	// KeysPath serves the JWKS that verifies ID tokens.
	KeysPath = "/oauth2/v1/keys"
	// UserinfoPath answers a Bearer access token from the code grant with
	// the user's claims.
	UserinfoPath = "/oauth2/v1/userinfo"
	// LogoutPath ends a sign-in (GET or form POST, id_token_hint required).
	LogoutPath = "/oauth2/v1/logout"
	// SignInPath is where the sign-in page's form posts. It is the fake's
	// own; Okta's hosted sign-in page works differently.
	SignInPath = "/login/signin"
)

// CodeLifetime is how long an authorization code can be redeemed: 300 s
// on the fake clock, as Okta's. A code is redeemed at most once.
const CodeLifetime = 300 * time.Second

// IDTokenLifetime is how long the fake's ID tokens and the access tokens of
// the code grant live: one hour (our choice, docs/decisions.md §Okta OIDC
// sign-in).
const IDTokenLifetime = time.Hour

// signInLifetime is how long a sign-in page stays usable (our choice).
const signInLifetime = time.Hour

// maxPendingSignIns bounds the sign-in pages open at once.
const maxPendingSignIns = 10000

// maxGroupsClaim is the most groups Okta puts into a groups claim; more
// make the request fail.
const maxGroupsClaim = 100

// OIDCApp is an OpenID Connect app registered with the fake org's
// authorization server (in Okta: an "OIDC - OpenID Connect" app integration
// of type Web Application, or Single-Page Application when it has no
// secret). Register it with [Server.AddOIDCApp].
type OIDCApp struct {
	// ClientID identifies the app (required).
	ClientID string
	// ClientSecret authenticates a confidential (web) app at the token
	// endpoint, by client_secret_basic or client_secret_post. Empty makes
	// a public client: no client authentication (method "none"), PKCE
	// required.
	ClientSecret okta.Secret
	// Name is shown on the sign-in page (default: ClientID).
	Name string
	// RedirectURIs are the sign-in redirect URIs (at least one); the
	// authorization request's redirect_uri must equal one exactly.
	RedirectURIs []string
	// PostLogoutRedirectURIs are the sign-out redirect URIs the logout
	// endpoint may send the browser to.
	PostLogoutRedirectURIs []string
	// PKCERequired refuses authorization requests without an S256
	// code_challenge ("Require PKCE as additional verification"). Public
	// clients always require it.
	PKCERequired bool
	// GroupsFilter selects the groups the groups claim lists, by name (the
	// app's "Groups claim filter: Matches regex"). Nil lists every group
	// of the user (".*").
	GroupsFilter *regexp.Regexp
}

// oidcState is the fake's OpenID Connect side: apps, open sign-in pages,
// codes and the access tokens of the code grant. It lives in Server.oidc,
// guarded by Server.mu; the signing key has its own once.
type oidcState struct {
	apps    map[string]*OIDCApp    // by client ID
	signIns map[string]*signIn     // by transaction ID (the form's txn)
	codes   map[string]*authCode   // by code
	access  map[string]*oidcAccess // by access token

	keyOnce sync.Once
	key     *rsa.PrivateKey // WithIDTokenKey's, else generated in keyOnce
	jwk     jose.JSONWebKey // the public key, with kid
	signer  jose.Signer
	keyErr  error
}

// authRequest is a validated authorization request.
type authRequest struct {
	clientID    string
	redirectURI string
	scopes      []string
	state       string
	nonce       string
	challenge   string // S256 code_challenge; "" without PKCE
}

// signIn is an open sign-in page.
type signIn struct {
	req    authRequest
	expiry time.Time
}

// authCode is an issued authorization code.
type authCode struct {
	req      authRequest
	userID   string
	authTime time.Time
	expiry   time.Time
	redeemed bool   // a token request used it; kept until expiry to catch reuse
	access   string // the access token issued for it
}

// oidcAccess is an access token from the code grant.
type oidcAccess struct {
	userID   string
	clientID string
	scopes   []string
	expiry   time.Time
}

func (o *oidcState) init() {
	if o.apps == nil {
		o.apps = map[string]*OIDCApp{}
		o.signIns = map[string]*signIn{}
		o.codes = map[string]*authCode{}
		o.access = map[string]*oidcAccess{}
	}
}

// AddOIDCApp registers an OpenID Connect app. The client ID must be new
// (service apps included), every redirect URI an absolute URL without a
// fragment.
func (s *Server) AddOIDCApp(app OIDCApp) error {
	if app.ClientID == "" || strings.ContainsAny(app.ClientID, " \t\r\n") {
		return errors.New("oktatest: AddOIDCApp: ClientID is empty or contains whitespace")
	}
	if strings.ContainsAny(app.ClientSecret.Reveal(), " \t\r\n") {
		return errors.New("oktatest: AddOIDCApp: ClientSecret contains whitespace")
	}
	if len(app.RedirectURIs) == 0 {
		return errors.New("oktatest: AddOIDCApp: no RedirectURIs")
	}
	for field, uris := range map[string][]string{"RedirectURIs": app.RedirectURIs, "PostLogoutRedirectURIs": app.PostLogoutRedirectURIs} {
		for i, u := range uris {
			if err := checkRedirectURI(u); err != nil {
				return fmt.Errorf("oktatest: AddOIDCApp: %s[%d]: %w", field, i, err)
			}
		}
	}
	if app.Name == "" {
		app.Name = app.ClientID
	}
	if app.ClientSecret == "" {
		app.PKCERequired = true
	}
	app.RedirectURIs = slices.Clone(app.RedirectURIs)
	app.PostLogoutRedirectURIs = slices.Clone(app.PostLogoutRedirectURIs)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oidc.init()
	_, dup := s.oidc.apps[app.ClientID]
	if _, svc := s.oauth.apps[app.ClientID]; dup || svc {
		return fmt.Errorf("oktatest: AddOIDCApp: client ID %q is already registered", app.ClientID)
	}
	s.oidc.apps[app.ClientID] = &app
	return nil
}

// checkRedirectURI accepts an absolute URL without a fragment (RFC 6749
// §3.1.2).
func checkRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs():
		return fmt.Errorf("%q is not an absolute URL", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Errorf("%q has a fragment", raw)
	case (u.Scheme == "http" || u.Scheme == "https") && u.Host == "":
		return fmt.Errorf("%q has no host", raw)
	}
	return nil
}

// oidcApp returns a registered app (nil if none).
func (s *Server) oidcApp(clientID string) *OIDCApp {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oidc.init()
	return s.oidc.apps[clientID]
}

// WithIDTokenKey makes the server sign ID tokens with key, an RSA key of
// at least 2048 bits, instead of one it generates on first use. Tests that
// start many servers can share one key this way (generating a key takes a
// noticeable fraction of a second), and a fixed key gives fixed JWKS.
func WithIDTokenKey(key *rsa.PrivateKey) Option {
	return func(c *config) error {
		if key == nil || key.N.BitLen() < 2048 {
			return errors.New("oktatest: WithIDTokenKey: need an RSA key of at least 2048 bits")
		}
		if err := key.Validate(); err != nil {
			return fmt.Errorf("oktatest: WithIDTokenKey: %w", err)
		}
		c.idTokenKey = key
		return nil
	}
}

// signingKey returns the ID-token signer and public key: the key of
// WithIDTokenKey, or an RSA 2048 key generated from crypto/rand on first
// use (Go's RSA key generation ignores other random sources, so WithRand
// does not make it deterministic), one per Server.
func (s *Server) signingKey() (jose.Signer, jose.JSONWebKey, error) {
	o := &s.oidc
	o.keyOnce.Do(func() {
		key := o.key // set by WithIDTokenKey
		if key == nil {
			var err error
			if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
				o.keyErr = fmt.Errorf("oktatest: generate ID token key: %w", err)
				return
			}
		}
		pub := jose.JSONWebKey{Key: &key.PublicKey, Algorithm: string(jose.RS256), Use: "sig"}
		tp, err := pub.Thumbprint(crypto.SHA256)
		if err != nil {
			o.keyErr = fmt.Errorf("oktatest: ID token key thumbprint: %w", err)
			return
		}
		pub.KeyID = base64.RawURLEncoding.EncodeToString(tp)
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: pub.KeyID}},
			(&jose.SignerOptions{}).WithType("JWT"))
		if err != nil {
			o.keyErr = fmt.Errorf("oktatest: ID token signer: %w", err)
			return
		}
		o.key, o.jwk, o.signer = key, pub, signer
	})
	return o.signer, o.jwk, o.keyErr
}

// handleOpenIDConfig is GET /.well-known/openid-configuration: the org
// authorization server's metadata. The issuer is the org URL (or
// WithIssuer's); the endpoints are the fake's own URL so they are reachable
// even when the issuer is not.
func (s *Server) handleOpenIDConfig(x *exchange) {
	base := s.srv.URL
	s.writeJSON(x, http.StatusOK, map[string]any{
		"issuer":                                s.issuer,
		"authorization_endpoint":                base + AuthorizePath,
		"token_endpoint":                        base + okta.TokenPath,
		"userinfo_endpoint":                     base + UserinfoPath,
		"jwks_uri":                              base + KeysPath,
		"end_session_endpoint":                  base + LogoutPath,
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query"},
		"grant_types_supported":                 []string{"authorization_code", "client_credentials"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{string(jose.RS256)},
		"scopes_supported":                      oidcScopes,
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		"claims_supported": []string{"iss", "sub", "aud", "iat", "exp", "jti", "ver", "auth_time", "nonce", "at_hash",
			"name", "preferred_username", "given_name", "family_name", "email", "email_verified", "groups"},
		"code_challenge_methods_supported":  []string{"S256"},
		"dpop_signing_alg_values_supported": algNames(signingAlgs),
		"request_parameter_supported":       false,
	})
}

// oidcScopes are the scopes an authorization request may ask for.
var oidcScopes = []string{"openid", "profile", "email", "groups"}

func algNames(algs []jose.SignatureAlgorithm) []string {
	out := make([]string, len(algs))
	for i, a := range algs {
		out[i] = string(a)
	}
	return out
}

// handleKeys is GET /oauth2/v1/keys: the JWKS with the ID-token key.
func (s *Server) handleKeys(x *exchange) {
	_, pub, err := s.signingKey()
	if err != nil {
		s.internalError(x, "%v", err)
		return
	}
	s.writeJSON(x, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}})
}

// handleAuthCodeGrant is POST /oauth2/v1/token with
// grant_type=authorization_code (docs/okta.md §OIDC sign-in): client
// authentication, the code (single-use, 300 s), redirect_uri as in the
// authorization request, the PKCE verifier, then an ID token and an access
// token.
func (s *Server) handleAuthCodeGrant(x *exchange, form url.Values) {
	app, ok := s.authenticateOIDCClient(x, form)
	if !ok {
		return
	}
	invalidCode := func() {
		s.oauthError(x, http.StatusBadRequest, "invalid_grant", "The authorization code is invalid or has expired.")
	}
	code := form.Get("code")
	if code == "" {
		s.oauthError(x, http.StatusBadRequest, "invalid_request", "The 'code' parameter is required.")
		return
	}
	now := s.now()
	s.mu.Lock()
	c := s.oidc.codes[code]
	switch {
	case c == nil || c.req.clientID != app.ClientID:
		s.mu.Unlock()
		x.detail("unknown code, or a code of another client")
		invalidCode()
		return
	case c.redeemed:
		// RFC 6749 §4.1.2: a reused code revokes what it was exchanged for.
		delete(s.oidc.access, c.access)
		s.mu.Unlock()
		x.detail("code already redeemed; its access token is revoked")
		invalidCode()
		return
	case !now.Before(c.expiry):
		delete(s.oidc.codes, code)
		s.mu.Unlock()
		x.detail("code expired at %s", c.expiry.Format(time.RFC3339))
		invalidCode()
		return
	}
	c.redeemed = true // whatever happens next, the code is used up
	req, userID, authTime := c.req, c.userID, c.authTime
	s.mu.Unlock()

	if form.Get("redirect_uri") != req.redirectURI {
		s.oauthError(x, http.StatusBadRequest, "invalid_grant", "The 'redirect_uri' does not match the redirection URI used in the authorization request.")
		return
	}
	verifier := form.Get("code_verifier")
	switch {
	case req.challenge == "" && verifier != "":
		s.oauthError(x, http.StatusBadRequest, "invalid_request", "The 'code_verifier' parameter was sent, but the authorization request had no 'code_challenge'.")
		return
	case req.challenge != "" && verifier == "":
		s.oauthError(x, http.StatusBadRequest, "invalid_request", "The 'code_verifier' parameter is required: the authorization request had a 'code_challenge'.")
		return
	case req.challenge != "" && !validVerifier(verifier):
		s.oauthError(x, http.StatusBadRequest, "invalid_request", "The 'code_verifier' must be 43 to 128 characters from A-Z, a-z, 0-9, '-', '.', '_' and '~'.")
		return
	case req.challenge != "" && subtle.ConstantTimeCompare([]byte(s256(verifier)), []byte(req.challenge)) != 1:
		s.oauthError(x, http.StatusBadRequest, "invalid_grant", "PKCE verification failed.")
		return
	}

	tokens, err := s.mintOIDCTokens(x, app, req, userID, authTime, now)
	if err != nil {
		return // mintOIDCTokens wrote the error
	}
	s.mu.Lock()
	c.access = tokens.access
	s.mu.Unlock()
	x.w.Header().Set("Cache-Control", "no-store")
	x.w.Header().Set("Pragma", "no-cache")
	s.writeJSON(x, http.StatusOK, map[string]any{
		"token_type":   "Bearer",
		"expires_in":   int(IDTokenLifetime / time.Second),
		"access_token": tokens.access,
		"scope":        strings.Join(req.scopes, " "),
		"id_token":     tokens.id,
	})
}

// authenticateOIDCClient checks the client authentication of a code grant:
// client_secret_basic or client_secret_post for a confidential app, the
// client_id alone for a public one; one method only.
func (s *Server) authenticateOIDCClient(x *exchange, form url.Values) (*OIDCApp, bool) {
	basicID, basicSecret, basic := x.r.BasicAuth()
	if basic {
		// RFC 6749 §2.3.1: both parts are form-urlencoded inside Basic.
		if id, err := url.QueryUnescape(basicID); err == nil {
			basicID = id
		}
		if sec, err := url.QueryUnescape(basicSecret); err == nil {
			basicSecret = sec
		}
	}
	deny := func(desc string) (*OIDCApp, bool) {
		if basic {
			x.w.Header().Set("WWW-Authenticate", `Basic realm="Okta"`)
		}
		s.oauthError(x, http.StatusUnauthorized, "invalid_client", desc)
		return nil, false
	}
	if form.Has("client_assertion") {
		return deny("Client authentication with a client_assertion is not supported for this client; use its client secret.")
	}
	clientID := form.Get("client_id")
	switch {
	case basic && form.Has("client_secret"):
		s.oauthError(x, http.StatusBadRequest, "invalid_request", "The client used more than one authentication method.")
		return nil, false
	case basic && clientID != "" && clientID != basicID:
		return deny("The client_id does not match the client in the Authorization header.")
	case basic:
		clientID = basicID
	case clientID == "":
		return deny("Client authentication failed: no client_id.")
	}
	app := s.oidcApp(clientID)
	if app == nil {
		return deny("The client_id is not registered.")
	}
	secret := basicSecret
	if !basic {
		secret = form.Get("client_secret")
	}
	if app.ClientSecret == "" {
		if basic || form.Has("client_secret") {
			return deny("The client is public: send no client secret.")
		}
		return app, true
	}
	if !basic && !form.Has("client_secret") {
		return deny("Client authentication failed: the client needs its client secret (client_secret_basic or client_secret_post).")
	}
	if subtle.ConstantTimeCompare([]byte(secret), []byte(app.ClientSecret.Reveal())) != 1 {
		return deny("The client secret supplied for a confidential client is invalid.")
	}
	return app, true
}

// validVerifier reports whether v is a PKCE code verifier (RFC 7636 §4.1).
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, r := range v {
		if !isUnreserved(r) {
			return false
		}
	}
	return true
}

func isUnreserved(r rune) bool {
	return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' || r == '~'
}

// s256 is the S256 code challenge of a verifier (RFC 7636 §4.2).
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// idClaims are the claims of the fake's ID tokens, named as Okta's.
type idClaims struct {
	jwt.Claims
	Version           int      `json:"ver"`
	AuthTime          int64    `json:"auth_time"`
	Nonce             string   `json:"nonce,omitempty"`
	AtHash            string   `json:"at_hash,omitempty"`
	Name              string   `json:"name,omitempty"`
	PreferredUsername string   `json:"preferred_username,omitempty"`
	GivenName         string   `json:"given_name,omitempty"`
	FamilyName        string   `json:"family_name,omitempty"`
	Email             string   `json:"email,omitempty"`
	EmailVerified     *bool    `json:"email_verified,omitempty"`
	Groups            []string `json:"groups,omitempty"`
}

type oidcTokens struct{ id, access string }

// userClaims fills the profile, email and groups claims the scopes ask
// for. ok is false (and the error written) when the user cannot have
// tokens any more or has too many groups.
func (s *Server) userClaimsLocked(x *exchange, app *OIDCApp, scopes []string, userID string, c *idClaims) bool {
	u := s.users[userID]
	if u == nil || u.status != okta.UserActive {
		x.detail("user %s is gone or no longer ACTIVE", userID)
		s.oauthError(x, http.StatusBadRequest, "invalid_grant", "The user of the authorization code can no longer sign in.")
		return false
	}
	p := u.profile
	if slices.Contains(scopes, "profile") {
		c.Name = strings.TrimSpace(p.FirstName + " " + p.LastName)
		c.PreferredUsername, c.GivenName, c.FamilyName = p.Login, p.FirstName, p.LastName
	}
	if slices.Contains(scopes, "email") && p.Email != "" {
		verified := true
		c.Email, c.EmailVerified = p.Email, &verified
	}
	if slices.Contains(scopes, "groups") && app != nil {
		for _, gid := range u.groups {
			g := s.groups[gid]
			if g != nil && (app.GroupsFilter == nil || app.GroupsFilter.MatchString(g.name)) {
				c.Groups = append(c.Groups, g.name)
			}
		}
		if len(c.Groups) > maxGroupsClaim {
			x.detail("%d groups match the app's groups filter", len(c.Groups))
			s.oauthError(x, http.StatusBadRequest, "invalid_request",
				fmt.Sprintf("The groups claim would list %d groups, more than %d; narrow the app's groups filter.", len(c.Groups), maxGroupsClaim))
			return false
		}
	}
	return true
}

// mintOIDCTokens issues the access token and signs the ID token of a code
// grant. On failure it has written the error response.
func (s *Server) mintOIDCTokens(x *exchange, app *OIDCApp, req authRequest, userID string, authTime, now time.Time) (oidcTokens, error) {
	signer, _, err := s.signingKey()
	if err != nil {
		x.detail("%v", err)
		s.oauthError(x, http.StatusInternalServerError, "server_error", "The ID token could not be signed.")
		return oidcTokens{}, err
	}
	access := s.randomID("", 43)
	sum := sha256.Sum256([]byte(access))
	c := idClaims{
		Claims: jwt.Claims{
			ID: s.randomID("ID.", 40), Issuer: s.issuer, Subject: userID, Audience: jwt.Audience{app.ClientID},
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(IDTokenLifetime)),
		},
		Version:  1,
		AuthTime: authTime.Unix(),
		Nonce:    req.nonce,
		AtHash:   base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]),
	}
	s.mu.Lock()
	ok := s.userClaimsLocked(x, app, req.scopes, userID, &c)
	s.mu.Unlock()
	if !ok {
		return oidcTokens{}, errors.New("refused")
	}
	id, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		x.detail("sign ID token: %v", err)
		s.oauthError(x, http.StatusInternalServerError, "server_error", "The ID token could not be signed.")
		return oidcTokens{}, err
	}
	s.mu.Lock()
	s.oidc.access[access] = &oidcAccess{userID: userID, clientID: app.ClientID, scopes: req.scopes, expiry: now.Add(IDTokenLifetime)}
	s.mu.Unlock()
	return oidcTokens{id: id, access: access}, nil
}

// handleUserinfo is GET or POST /oauth2/v1/userinfo with an access token
// of the code grant: sub and the claims the token's scopes allow.
func (s *Server) handleUserinfo(x *exchange) {
	scheme, tok, _ := strings.Cut(x.r.Header.Get("Authorization"), " ")
	deny := func(desc string) {
		x.w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer error="invalid_token", error_description=%q`, desc))
		s.oauthError(x, http.StatusUnauthorized, "invalid_token", desc)
	}
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		deny("The access token is missing.")
		return
	}
	now := s.now()
	s.mu.Lock()
	s.oidc.init()
	a := s.oidc.access[tok]
	var app *OIDCApp
	if a != nil {
		app = s.oidc.apps[a.clientID]
	}
	s.mu.Unlock()
	switch {
	case a == nil:
		deny("The access token is invalid.")
		return
	case !now.Before(a.expiry):
		deny("The access token is expired.")
		return
	}
	c := idClaims{Claims: jwt.Claims{Subject: a.userID}}
	s.mu.Lock()
	ok := s.userClaimsLocked(x, app, a.scopes, a.userID, &c)
	s.mu.Unlock()
	if !ok {
		return
	}
	out := map[string]any{"sub": c.Subject}
	for k, v := range map[string]string{"name": c.Name, "preferred_username": c.PreferredUsername,
		"given_name": c.GivenName, "family_name": c.FamilyName, "email": c.Email} {
		if v != "" {
			out[k] = v
		}
	}
	if c.EmailVerified != nil {
		out["email_verified"] = *c.EmailVerified
	}
	if c.Groups != nil {
		out["groups"] = c.Groups
	}
	s.writeJSON(x, http.StatusOK, out)
}

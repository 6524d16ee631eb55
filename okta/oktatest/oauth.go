package oktatest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/preenroll/preenroll/okta"
)

// TokenLifetime is how long the fake's access tokens live: one hour, fixed,
// as Okta's for service apps (docs/okta.md §OAuth for service apps).
const TokenLifetime = time.Hour

// maxAssertionLifetime is the furthest in the future a client assertion's
// exp may be (Okta: one hour).
const maxAssertionLifetime = time.Hour

// jwtBearer is the client_assertion_type of a JWT client assertion.
const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// signingAlgs are the algorithms Okta accepts for client assertions and
// DPoP proofs.
var signingAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.ES384, jose.ES512}

// ServiceApp is an OAuth 2.0 API service app registered with the fake org
// (in Okta: an "API Services" app with public-key client authentication,
// granted Okta API scopes). Register it with [Server.AddServiceApp].
type ServiceApp struct {
	// ClientID identifies the app (required).
	ClientID string
	// Keys are the app's public keys (at least one). With more than one,
	// each needs a unique KeyID and assertions must name theirs in "kid".
	Keys []jose.JSONWebKey
	// Scopes are the Okta API scopes granted to the app (at least one).
	Scopes []string
	// DPoP requires a DPoP proof on token requests and binds the tokens to
	// the proof key ("Require Demonstrating Proof of Possession header in
	// token requests").
	DPoP bool
}

// oauthState is the fake's authorization server: apps, issued tokens,
// replay caches and DPoP nonces. It lives in Server.oauth, guarded by
// Server.mu.
type oauthState struct {
	apps      map[string]*ServiceApp  // by client ID
	tokens    map[string]*issuedToken // by access token
	assertion replayCache             // client ID + " " + jti of used assertions
	proofs    replayCache             // jti of used DPoP proofs
	nonces    []dpopNonce             // accepted nonces, newest first
	apiNonce  bool                    // the API requires nonces too
	signer    jose.Signer             // signs access tokens; nil until the first
	counts    map[string]*TokenCounts // by client ID
}

// issuedToken is what the fake remembers about an access token.
type issuedToken struct {
	clientID string
	scopes   []string
	expiry   time.Time
	jkt      string // DPoP key thumbprint; "" for a bearer token
}

// TokenCounts counts what the token endpoint did for one app.
type TokenCounts struct {
	// Issued is how many access tokens were issued.
	Issued int
	// Refused is how many token requests were refused (nonce challenges
	// included).
	Refused int
	// NonceChallenges is how many token requests were answered with
	// use_dpop_nonce.
	NonceChallenges int
}

func (o *oauthState) init() {
	if o.apps == nil {
		o.apps = map[string]*ServiceApp{}
		o.tokens = map[string]*issuedToken{}
		o.counts = map[string]*TokenCounts{}
		o.assertion.seen = map[string]time.Time{}
		o.proofs.seen = map[string]time.Time{}
	}
}

// AddServiceApp registers a service app. Keys must be public RSA or EC
// keys, scopes valid scope names; a client ID can be registered once.
func (s *Server) AddServiceApp(app ServiceApp) error {
	if app.ClientID == "" || strings.ContainsAny(app.ClientID, " \t\r\n") {
		return errors.New("oktatest: AddServiceApp: ClientID is empty or contains whitespace")
	}
	if len(app.Keys) == 0 {
		return errors.New("oktatest: AddServiceApp: no Keys")
	}
	kids := map[string]bool{}
	for i, k := range app.Keys {
		switch k.Key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey:
		case *rsa.PrivateKey, *ecdsa.PrivateKey:
			return fmt.Errorf("oktatest: AddServiceApp: Keys[%d] is a private key; register the public key", i)
		default:
			return fmt.Errorf("oktatest: AddServiceApp: Keys[%d]: %T is not an RSA or EC public key", i, k.Key)
		}
		if len(app.Keys) > 1 && (k.KeyID == "" || kids[k.KeyID]) {
			return fmt.Errorf("oktatest: AddServiceApp: Keys[%d]: several keys need unique KeyIDs", i)
		}
		kids[k.KeyID] = true
	}
	if len(app.Scopes) == 0 {
		return errors.New("oktatest: AddServiceApp: no Scopes")
	}
	for i, sc := range app.Scopes {
		if sc == "" || strings.ContainsAny(sc, " \t\r\n") {
			return fmt.Errorf("oktatest: AddServiceApp: Scopes[%d] %q is not a scope", i, sc)
		}
	}
	app.Keys = slices.Clone(app.Keys)
	app.Scopes = slices.Clone(app.Scopes)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oauth.init()
	if _, dup := s.oauth.apps[app.ClientID]; dup {
		return fmt.Errorf("oktatest: AddServiceApp: client ID %q is already registered", app.ClientID)
	}
	s.oauth.apps[app.ClientID] = &app
	s.oauth.counts[app.ClientID] = &TokenCounts{}
	return nil
}

// TokenCounts reports what the token endpoint did for the app (zero for an
// unknown client ID).
func (s *Server) TokenCounts(clientID string) TokenCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.oauth.counts[clientID]; c != nil {
		return *c
	}
	return TokenCounts{}
}

// RevokeServiceAppTokens makes every access token issued to the app
// invalid: API calls with them get 401 E0000011.
func (s *Server) RevokeServiceAppTokens(clientID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for tok, it := range s.oauth.tokens {
		if it.clientID == clientID {
			delete(s.oauth.tokens, tok)
		}
	}
}

// TokenURL returns the fake's token endpoint (the org authorization
// server's, [okta.TokenPath]).
func (s *Server) TokenURL() string { return s.srv.URL + okta.TokenPath }

// OAuthClient returns a production [okta.Client] that authenticates as the
// service app cfg describes (register it first with AddServiceApp). Like
// [Server.Client] it runs on the fake clock, so token expiry follows
// [Server.Advance]. opts are applied after the defaults.
func (s *Server) OAuthClient(cfg okta.OAuthConfig, opts ...okta.Option) (*okta.Client, error) {
	all := append([]okta.Option{okta.WithHTTPClient(s.srv.Client()), okta.WithClock(serverClock{s}), okta.WithOAuth(cfg)}, opts...)
	return okta.NewClient(s.srv.URL, "", all...)
}

// oauthError writes an OAuth error body ({error, error_description}), the
// token endpoint's error shape.
func (s *Server) oauthError(x *exchange, status int, code, desc string) {
	x.detail("%s: %s", code, desc)
	x.entry.ErrorCode = code
	s.writeJSON(x, status, map[string]string{"error": code, "error_description": desc})
}

// handleToken is POST /oauth2/v1/token: the client credentials grant with
// a private_key_jwt client assertion, optionally DPoP-bound
// (docs/okta.md §OAuth for service apps, §DPoP).
func (s *Server) handleToken(x *exchange) {
	mt, _, _ := mime.ParseMediaType(x.r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		s.oauthError(x, http.StatusBadRequest, "invalid_request", "The request body must be application/x-www-form-urlencoded.")
		return
	}
	form, err := url.ParseQuery(string(x.body))
	if err != nil {
		s.oauthError(x, http.StatusBadRequest, "invalid_request", "The request body is not a valid form.")
		return
	}
	for k, v := range form {
		if len(v) > 1 {
			s.oauthError(x, http.StatusBadRequest, "invalid_request", "The parameter '"+k+"' is repeated.")
			return
		}
	}
	if form.Get("grant_type") == "authorization_code" {
		s.handleAuthCodeGrant(x, form) // OpenID Connect sign-in (oidc.go)
		return
	}
	if gt := form.Get("grant_type"); gt != "client_credentials" {
		s.oauthError(x, http.StatusBadRequest, "unsupported_grant_type", "The authorization server does not support the grant type.")
		return
	}
	assertion := form.Get("client_assertion")
	if form.Has("client_secret") || assertion == "" {
		s.oauthError(x, http.StatusUnauthorized, "invalid_client",
			"Client Credentials requests to the Org Authorization Server must use the private_key_jwt token_endpoint_auth_method")
		return
	}
	if form.Get("client_assertion_type") != jwtBearer {
		s.oauthError(x, http.StatusBadRequest, "invalid_request", "The client_assertion_type is invalid.")
		return
	}
	tok, err := jwt.ParseSigned(assertion, signingAlgs)
	if err != nil {
		s.oauthError(x, http.StatusUnauthorized, "invalid_client", "The client_assertion is not a valid signed JWT.")
		return
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		s.oauthError(x, http.StatusUnauthorized, "invalid_client", "The client_assertion claims are invalid.")
		return
	}
	clientID := unverified.Issuer
	if cid := form.Get("client_id"); cid != "" && cid != clientID {
		s.oauthError(x, http.StatusUnauthorized, "invalid_client", "The client_id does not match the client_assertion issuer.")
		return
	}
	s.mu.Lock()
	s.oauth.init()
	app := s.oauth.apps[clientID]
	now := s.now()
	s.mu.Unlock()
	if app == nil {
		s.oauthError(x, http.StatusUnauthorized, "invalid_client", "The client_id is not registered.")
		return
	}

	// DPoP first: a nonce challenge must not use up the assertion.
	jkt, ok := s.tokenProof(x, app, now)
	if !ok {
		s.countToken(clientID, false)
		return
	}
	if !s.verifyAssertion(x, app, tok, now) {
		s.countToken(clientID, false)
		return
	}
	scopes, ok := s.grantScopes(x, app, form.Get("scope"))
	if !ok {
		s.countToken(clientID, false)
		return
	}
	access, err := s.issueToken(app.ClientID, scopes, jkt, now)
	if err != nil {
		s.countToken(clientID, false)
		s.oauthError(x, http.StatusInternalServerError, "server_error", "The access token could not be signed.")
		return
	}
	typ := "Bearer"
	if jkt != "" {
		typ = "DPoP"
	}
	s.countToken(clientID, true)
	x.w.Header().Set("Cache-Control", "no-store")
	x.w.Header().Set("Pragma", "no-cache")
	s.writeJSON(x, http.StatusOK, map[string]any{
		"token_type":   typ,
		"expires_in":   int(TokenLifetime / time.Second),
		"access_token": access,
		"scope":        strings.Join(scopes, " "),
	})
}

func (s *Server) countToken(clientID string, issued bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.oauth.counts[clientID]
	if c == nil {
		return
	}
	if issued {
		c.Issued++
	} else {
		c.Refused++
	}
}

// tokenProof checks the DPoP proof of a token request: required for a
// DPoP app, optional otherwise (a valid one binds the token, RFC 9449 §5).
// It returns the proof key's thumbprint ("" without a proof).
func (s *Server) tokenProof(x *exchange, app *ServiceApp, now time.Time) (jkt string, ok bool) {
	proofs := x.r.Header.Values("DPoP")
	if len(proofs) == 0 {
		if app.DPoP {
			s.oauthError(x, http.StatusBadRequest, "invalid_dpop_proof", "The DPoP proof JWT header is missing.")
			return "", false
		}
		return "", true
	}
	p, err := s.checkProof(proofs, x.r, "", now)
	if err != nil {
		s.oauthError(x, http.StatusBadRequest, "invalid_dpop_proof", err.Error())
		return "", false
	}
	if !s.acceptNonce(p.claims.Nonce, now) {
		s.mu.Lock()
		if c := s.oauth.counts[app.ClientID]; c != nil {
			c.NonceChallenges++
		}
		s.mu.Unlock()
		x.w.Header().Set("DPoP-Nonce", s.currentNonce(now))
		s.oauthError(x, http.StatusBadRequest, "use_dpop_nonce", "Authorization server requires nonce in DPoP proof.")
		return "", false
	}
	x.w.Header().Set("DPoP-Nonce", s.currentNonce(now))
	return p.jkt, true
}

// verifyAssertion checks the client assertion (RFC 7523 §3; docs/okta.md
// §OAuth for service apps): signature by one of the app's keys, iss = sub =
// client ID, aud = the token URL, exp present and at most an hour ahead,
// iat not in the future, jti single-use.
func (s *Server) verifyAssertion(x *exchange, app *ServiceApp, tok *jwt.JSONWebToken, now time.Time) bool {
	fail := func(desc string) bool {
		s.oauthError(x, http.StatusUnauthorized, "invalid_client", desc)
		return false
	}
	kid := tok.Headers[0].KeyID
	var key *jose.JSONWebKey
	switch {
	case kid != "":
		for i := range app.Keys {
			if app.Keys[i].KeyID == kid {
				key = &app.Keys[i]
			}
		}
		if key == nil {
			return fail("The client_assertion kid is not a key of the client.")
		}
	case len(app.Keys) == 1:
		key = &app.Keys[0]
	default:
		return fail("The client_assertion needs a kid: the client has more than one key.")
	}
	var c jwt.Claims
	if err := tok.Claims(key.Key, &c); err != nil {
		return fail("The client_assertion signature is invalid.")
	}
	if c.Issuer != app.ClientID || c.Subject != app.ClientID {
		return fail("The client_assertion iss and sub must both be the client_id.")
	}
	if !c.Audience.Contains(s.srv.URL+okta.TokenPath) && !c.Audience.Contains(s.issuer+okta.TokenPath) {
		return fail("The client_assertion aud must be the token endpoint URL.")
	}
	if c.Expiry == nil {
		return fail("The client_assertion has no exp.")
	}
	exp := c.Expiry.Time()
	if !now.Before(exp) {
		return fail("The client_assertion is expired.")
	}
	if exp.After(now.Add(maxAssertionLifetime)) {
		return fail("The client_assertion expiration is too far into the future.")
	}
	if c.IssuedAt != nil && c.IssuedAt.Time().After(now) {
		return fail("The client_assertion iat is in the future.")
	}
	if c.ID != "" {
		s.mu.Lock()
		fresh := s.oauth.assertion.add(app.ClientID+" "+c.ID, now, now.Add(maxAssertionLifetime))
		s.mu.Unlock()
		if !fresh {
			return fail("The client_assertion token has already been used.")
		}
	}
	return true
}

// grantScopes checks the requested scopes against the app's grants.
func (s *Server) grantScopes(x *exchange, app *ServiceApp, requested string) ([]string, bool) {
	scopes := strings.Fields(requested)
	if len(scopes) == 0 {
		s.oauthError(x, http.StatusBadRequest, "invalid_request", "The scope parameter is required for the client_credentials grant.")
		return nil, false
	}
	var missing []string
	for _, sc := range scopes {
		if !slices.Contains(app.Scopes, sc) {
			missing = append(missing, sc)
		}
	}
	if len(missing) > 0 {
		s.oauthError(x, http.StatusBadRequest, "invalid_scope", "The following scopes are not granted to the client: "+strings.Join(missing, " "))
		return nil, false
	}
	slices.Sort(scopes)
	return slices.Compact(scopes), true
}

// accessClaims are the claims of the fake's access tokens, shaped like
// Okta's org authorization server tokens.
type accessClaims struct {
	jwt.Claims
	ClientID string    `json:"cid"`
	Scopes   []string  `json:"scp"`
	Cnf      *cnfClaim `json:"cnf,omitempty"`
}

type cnfClaim struct {
	JKT string `json:"jkt"`
}

// issueToken signs and records an access token.
func (s *Server) issueToken(clientID string, scopes []string, jkt string, now time.Time) (string, error) {
	s.mu.Lock()
	signer := s.oauth.signer
	s.mu.Unlock()
	if signer == nil {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return "", err
		}
		if signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("JWT")); err != nil {
			return "", err
		}
		s.mu.Lock()
		if s.oauth.signer == nil {
			s.oauth.signer = signer
		}
		signer = s.oauth.signer
		s.mu.Unlock()
	}
	c := accessClaims{
		Claims: jwt.Claims{
			ID: s.randomID("AT.", 40), Issuer: s.issuer, Audience: jwt.Audience{s.issuer}, Subject: clientID,
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(TokenLifetime)),
		},
		ClientID: clientID,
		Scopes:   scopes,
	}
	if jkt != "" {
		c.Cnf = &cnfClaim{JKT: jkt}
	}
	tok, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oauth.tokens[tok] = &issuedToken{clientID: clientID, scopes: scopes, expiry: now.Add(TokenLifetime), jkt: jkt}
	return tok, nil
}

// authorizeOAuth is the router's hook for OAuth access tokens: it handles
// "DPoP <token>" and "Bearer <token>" with a token this fake issued, and
// leaves every other Authorization header (SSWS, tokens added with
// AddToken) to the caller. ok reports whether the request may proceed.
//
// Okta does not document how /api/v1 reports a bad DPoP proof or token;
// the fake answers 401 E0000011 (the cause says why) with a
// WWW-Authenticate challenge (RFC 6750 §3, RFC 9449 §7.1), and a missing
// scope with 403 E0000006 and error="insufficient_scope"
// (docs/decisions.md §Okta OAuth).
func (s *Server) authorizeOAuth(x *exchange, scope string) (ok, handled bool) {
	scheme, tok, _ := strings.Cut(x.r.Header.Get("Authorization"), " ")
	dpop := strings.EqualFold(scheme, "DPoP")
	if !dpop && scheme != "Bearer" {
		return false, false
	}
	s.mu.Lock()
	it := s.oauth.tokens[tok]
	now := s.now()
	apiNonce := s.oauth.apiNonce
	s.mu.Unlock()
	if it == nil {
		if !dpop {
			return false, false // maybe a token from AddToken
		}
		s.denyOAuth(x, "DPoP", "invalid_token", "The access token is invalid.")
		return false, true
	}
	challenge := "Bearer"
	if dpop {
		challenge = "DPoP"
	}
	if !now.Before(it.expiry) {
		s.denyOAuth(x, challenge, "invalid_token", "The access token is expired.")
		return false, true
	}
	switch {
	case dpop && it.jkt == "":
		s.denyOAuth(x, challenge, "invalid_token", "The presented access_token is not DPoP bound.")
		return false, true
	case !dpop && it.jkt != "":
		s.denyOAuth(x, "DPoP", "invalid_request", "The resource request must use the DPoP authentication scheme when using a DPoP bound token.")
		return false, true
	case dpop:
		proofs := x.r.Header.Values("DPoP")
		if len(proofs) == 0 {
			s.denyOAuth(x, challenge, "invalid_request", "The resource request requires a DPoP proof.")
			return false, true
		}
		p, err := s.checkProof(proofs, x.r, tok, now)
		if err != nil {
			s.denyOAuth(x, challenge, "invalid_dpop_proof", err.Error())
			return false, true
		}
		if p.jkt != it.jkt {
			s.denyOAuth(x, challenge, "invalid_dpop_proof", "The access token is not bound to the DPoP proof key.")
			return false, true
		}
		if apiNonce {
			if !s.acceptNonce(p.claims.Nonce, now) {
				x.w.Header().Set("DPoP-Nonce", s.currentNonce(now))
				s.denyOAuth(x, challenge, "use_dpop_nonce", "Resource server requires nonce in DPoP proof.")
				return false, true
			}
			x.w.Header().Set("DPoP-Nonce", s.currentNonce(now))
		}
	}
	if !hasScope(it.scopes, scope) {
		x.w.Header().Set("WWW-Authenticate", fmt.Sprintf(`%s error="insufficient_scope", error_description="The access token provided does not contain the required scopes.", scope=%q`, challenge, scope))
		x.detail("access token lacks scope %s", scope)
		s.failStatus(x, http.StatusForbidden,
			"The access token provided does not contain the required scopes: "+scope)
		return false, true
	}
	return true, true
}

// denyOAuth answers 401 E0000011 with a WWW-Authenticate challenge.
func (s *Server) denyOAuth(x *exchange, scheme, code, desc string) {
	x.w.Header().Set("WWW-Authenticate", fmt.Sprintf(`%s error=%q, error_description=%q`, scheme, code, desc))
	x.detail("%s: %s", code, desc)
	s.failStatus(x, http.StatusUnauthorized, desc)
}

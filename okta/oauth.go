package okta

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/preenroll/preenroll/internal/httpclient"
)

// Okta API scopes a service app asks for (docs/okta.md §OAuth for service
// apps). A manage scope includes its read scope. The WebAuthn
// preregistration operations need ScopeUsersManage, except listing a user's
// enrollments, which needs ScopeUsersRead; the System Log needs
// ScopeLogsRead.
const (
	ScopeUsersRead        = "okta.users.read"
	ScopeUsersManage      = "okta.users.manage"
	ScopeGroupsRead       = "okta.groups.read"
	ScopeGroupsManage     = "okta.groups.manage"
	ScopeEventHooksRead   = "okta.eventHooks.read"
	ScopeEventHooksManage = "okta.eventHooks.manage"
	ScopeLogsRead         = "okta.logs.read"
)

// TokenPath is the token endpoint of the org authorization server, the only
// one that issues tokens for Okta's own APIs (docs/okta.md §OAuth for
// service apps).
const TokenPath = "/oauth2/v1/token"

// DefaultTokenRefreshBefore is how long before an access token expires the
// client fetches a new one (our choice; Okta's tokens live one hour).
const DefaultTokenRefreshBefore = 5 * time.Minute

// defaultTokenLifetime is assumed when a token response has no expires_in:
// Okta documents a fixed one-hour lifetime for these tokens.
const defaultTokenLifetime = time.Hour

// assertionLifetime is how long a client assertion is valid. Okta accepts
// up to one hour; a short one limits the harm of a leaked assertion.
const assertionLifetime = 5 * time.Minute

// jwtBearer is the client_assertion_type of a JWT client assertion
// (RFC 7523 §2.2).
const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// OAuthConfig configures OAuth 2.0 for an Okta API service app, as Okta
// recommends for services: the client credentials grant with a
// private_key_jwt client assertion, optionally with DPoP-bound tokens
// (docs/okta.md §OAuth for service apps, §DPoP). Pass it to [WithOAuth].
//
// Formatting an OAuthConfig (fmt, log/slog, encoding/json) never shows key
// material: a [PrivateKey] prints only its algorithm and key ID.
type OAuthConfig struct {
	// ClientID is the service app's client ID (required).
	ClientID string
	// PrivateKey signs the client assertions (required). Its public key is
	// registered with the app in Okta.
	PrivateKey *PrivateKey
	// KeyID, when set, is the "kid" put in the assertion header instead of
	// PrivateKey.KeyID(). Okta needs it when the app has more than one key.
	KeyID string
	// Scopes are requested for every token (at least one), e.g.
	// ScopeUsersManage. Each must be granted to the app in Okta.
	Scopes []string
	// TokenURL overrides the token endpoint (default the org URL +
	// [TokenPath]). It must be https, or http on a loopback host.
	TokenURL string
	// DPoP binds the tokens to a proof key (RFC 9449) and sends a DPoP
	// proof with every request. Turn it on when the app in Okta requires
	// DPoP ("Require Demonstrating Proof of Possession header in token
	// requests").
	DPoP bool
	// DPoPKey is the proof key (default a fresh P-256 key per Client). It
	// must differ from PrivateKey. Only with DPoP.
	DPoPKey *PrivateKey
	// RefreshBefore is how long before expiry a token is replaced (default
	// DefaultTokenRefreshBefore; at most half the token's lifetime is used).
	RefreshBefore time.Duration
}

// WithOAuth makes the client authenticate as an OAuth 2.0 service app
// instead of with an API token: pass "" as NewClient's token. The client
// fetches an access token from the org's token endpoint with a signed
// client assertion, caches it, and fetches a new one before it expires or
// when Okta refuses it. With cfg.DPoP every request carries a DPoP proof,
// and Okta's DPoP-Nonce challenges are answered (one retry with the new
// nonce). A failed token request is returned as a [*TokenError]; the API
// request was then not sent.
func WithOAuth(cfg OAuthConfig) Option {
	return func(o *options) error {
		if err := cfg.validate(); err != nil {
			return err
		}
		cfg.Scopes = slices.Clone(cfg.Scopes)
		o.oauth = &cfg
		return nil
	}
}

func (c *OAuthConfig) validate() error {
	const op = "WithOAuth"
	if c.ClientID == "" {
		return argError(op, "ClientID", "is empty")
	}
	if strings.ContainsRune(c.ClientID, ' ') {
		return argError(op, "ClientID", "contains a space")
	}
	if err := checkPrintable(op, "ClientID", c.ClientID); err != nil {
		return err
	}
	if c.PrivateKey == nil {
		return argError(op, "PrivateKey", "is nil")
	}
	if err := checkPrintable(op, "KeyID", c.KeyID); err != nil {
		return err
	}
	if len(c.Scopes) == 0 {
		return argError(op, "Scopes", "is empty (ask for at least one, e.g. %s)", ScopeUsersManage)
	}
	for i, s := range c.Scopes {
		if !validScope(s) {
			return argError(op, fmt.Sprintf("Scopes[%d]", i), "%s is not a valid scope", quoted(s))
		}
	}
	if c.TokenURL != "" {
		if _, err := parseTokenURL(c.TokenURL); err != nil {
			return err
		}
	}
	if c.DPoPKey != nil {
		if !c.DPoP {
			return argError(op, "DPoPKey", "is set but DPoP is off")
		}
		if c.DPoPKey.sameKey(c.PrivateKey) {
			return argError(op, "DPoPKey", "must differ from PrivateKey (Okta refuses a proof signed with the client key)")
		}
	}
	if c.RefreshBefore < 0 {
		return argError(op, "RefreshBefore", "%v is negative", c.RefreshBefore)
	}
	return nil
}

// validScope reports whether s is a scope-token (RFC 6749 §3.3).
func validScope(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return r < 0x21 || r > 0x7e || r == '"' || r == '\\'
	})
}

func parseTokenURL(s string) (*url.URL, error) {
	u, err := httpclient.ParseURL(s)
	if err != nil {
		return nil, argError("WithOAuth", "TokenURL", "%v", err)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, argError("WithOAuth", "TokenURL", "must not have a query or a fragment")
	}
	return u, nil
}

// TokenError reports a failed access-token request. The API request that
// needed the token was not sent. It unwraps to the sentinel of its HTTP
// status (ErrUnauthorized for a refused client assertion, ErrValidation for
// a refused DPoP proof or scope, ...) and to the transport error, if any.
type TokenError struct {
	// Op names the client call that needed the token, e.g. "get user".
	Op string
	// StatusCode is the token endpoint's HTTP status, 0 without an answer.
	StatusCode int
	// ErrorCode is the OAuth error, e.g. "invalid_client", "invalid_scope",
	// "invalid_dpop_proof".
	ErrorCode string
	// Description is the error_description.
	Description string
	// RequestID is the X-Okta-Request-Id response header.
	RequestID string
	// Err is the transport or decoding failure when there was no usable
	// answer.
	Err error

	retry bool   // worth retrying: no answer, 429 or 5xx
	hint  string // what the caller can change, appended to Error
}

// Error formats the error as
// "okta: <op>: token request: HTTP <status> <error>: <description>".
func (e *TokenError) Error() string {
	b := errorStart(e.Op)
	b.WriteString("token request")
	if e.StatusCode != 0 {
		b.WriteString(": ")
		writeHTTP(b, e.StatusCode, e.ErrorCode, e.Description)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.hint != "" {
		b.WriteString(" (")
		b.WriteString(e.hint)
		b.WriteString(")")
	}
	writeRequestID(b, e.RequestID)
	return b.String()
}

// Unwrap returns the sentinel matching the status code and Err.
func (e *TokenError) Unwrap() []error {
	errs := statusSentinels.Sentinels(e.StatusCode)
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// asTokenError finds a *TokenError in err's chain.
func asTokenError(err error) (*TokenError, bool) {
	var te *TokenError
	ok := errors.As(err, &te)
	return te, ok
}

// withOp returns a copy of e naming the client call.
func (e *TokenError) withOp(op string) *TokenError {
	c := *e
	c.Op = op
	return &c
}

// accessToken is a cached access token. value is a secret.
type accessToken struct {
	value     string
	scheme    string // "DPoP" or "Bearer"
	expiry    time.Time
	refreshAt time.Time
}

// tokenSource fetches access tokens with client credentials and a client
// assertion, and caches the current one. Concurrent callers share one
// fetch.
type tokenSource struct {
	clientID string
	tokenURL string
	scopes   []string
	signer   jose.Signer // client assertion signer (kid in the header)
	margin   time.Duration
	clock    Clock
	hc       *http.Client // token requests; its transport adds DPoP proofs
	dpop     *dpopProver  // nil without DPoP

	sem chan struct{} // one fetch at a time

	mu  sync.Mutex
	cur *accessToken // guarded by mu
}

// token returns a cached token that is not due for refresh, or fetches one.
func (s *tokenSource) token(ctx context.Context) (*accessToken, error) {
	if t := s.cached(); t != nil {
		return t, nil
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, &TokenError{Err: ctx.Err()}
	}
	defer func() { <-s.sem }()
	if t := s.cached(); t != nil { // fetched while we waited
		return t, nil
	}
	t, err := s.fetch(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.cur = t
	s.mu.Unlock()
	return t, nil
}

func (s *tokenSource) cached() *accessToken {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil && now.Before(s.cur.refreshAt) {
		return s.cur
	}
	return nil
}

// invalidate drops t if it is still the cached token (the server refused it).
func (s *tokenSource) invalidate(t *accessToken) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == t {
		s.cur = nil
	}
}

// fetch runs the client credentials grant through x/oauth2, answering one
// use_dpop_nonce challenge with a new assertion and a proof carrying the
// nonce (docs/okta.md §DPoP).
func (s *tokenSource) fetch(ctx context.Context) (*accessToken, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, s.hc)
	for attempt := 1; ; attempt++ {
		now := s.clock.Now()
		assertion, err := s.assertion(now)
		if err != nil {
			return nil, &TokenError{Err: fmt.Errorf("sign client assertion: %w", err)}
		}
		cc := clientcredentials.Config{
			ClientID: s.clientID,
			TokenURL: s.tokenURL,
			Scopes:   s.scopes,
			EndpointParams: url.Values{
				"client_assertion_type": {jwtBearer},
				"client_assertion":      {assertion},
			},
			AuthStyle: oauth2.AuthStyleInParams,
		}
		tok, err := cc.Token(ctx)
		if err == nil {
			return s.accept(tok, now)
		}
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) {
			if ctx.Err() != nil {
				return nil, &TokenError{Err: ctx.Err()}
			}
			var ue *url.Error
			if errors.As(err, &ue) {
				return nil, &TokenError{Err: err, retry: true}
			}
			// x/oauth2 could not decode the answer; its message may quote the
			// body, which holds the token.
			return nil, &TokenError{Err: errors.New("invalid token response")}
		}
		te := tokenErrorFrom(re)
		if te.ErrorCode == "use_dpop_nonce" && s.dpop != nil && attempt == 1 && s.dpop.asNonce.get() != "" {
			continue
		}
		if te.ErrorCode == "invalid_dpop_proof" && s.dpop == nil {
			te.hint = "the service app requires DPoP: set OAuthConfig.DPoP"
		}
		return nil, te
	}
}

// tokenErrorFrom converts x/oauth2's error, reading Okta's error members
// when the body is not an OAuth error.
func tokenErrorFrom(re *oauth2.RetrieveError) *TokenError {
	te := &TokenError{ErrorCode: re.ErrorCode, Description: re.ErrorDescription}
	if re.Response != nil {
		te.StatusCode = re.Response.StatusCode
		te.RequestID = re.Response.Header.Get("X-Okta-Request-Id")
	}
	if te.ErrorCode == "" {
		var eb errorBody
		if json.Unmarshal(re.Body, &eb) == nil && eb.ErrorCode != "" {
			te.ErrorCode, te.Description = eb.ErrorCode, eb.ErrorSummary
		} else if te.StatusCode != 0 {
			te.Description = http.StatusText(te.StatusCode)
		}
	}
	te.ErrorCode = httpclient.Clip(te.ErrorCode, 64)
	te.Description = httpclient.Clip(te.Description, maxErrorText)
	te.retry = te.StatusCode == http.StatusTooManyRequests || te.StatusCode >= 500
	return te
}

// accept checks a token response and turns it into a cached token.
func (s *tokenSource) accept(tok *oauth2.Token, sent time.Time) (*accessToken, error) {
	t := &accessToken{value: tok.AccessToken}
	for i := 0; i < len(t.value); i++ {
		if t.value[i] <= ' ' || t.value[i] >= 0x7f {
			return nil, &TokenError{Err: errors.New("the access token contains whitespace or control characters")}
		}
	}
	switch strings.ToLower(tok.TokenType) {
	case "dpop":
		if s.dpop == nil {
			return nil, &TokenError{Err: errors.New(`token_type "DPoP" but DPoP is not configured`)}
		}
		t.scheme = "DPoP"
	case "bearer":
		// With DPoP configured, a Bearer answer means the server chose not
		// to bind the token (RFC 9449 §5); it is used as a bearer token.
		t.scheme = "Bearer"
	default:
		return nil, &TokenError{Err: fmt.Errorf("unsupported token_type %q", httpclient.Clip(tok.TokenType, 32))}
	}
	lifetime := defaultTokenLifetime
	if secs, ok := expiresIn(tok.Extra("expires_in")); ok {
		lifetime = time.Duration(secs) * time.Second
	}
	t.expiry = sent.Add(lifetime)
	t.refreshAt = t.expiry.Add(-min(s.margin, lifetime/2))
	return t, nil
}

// expiresIn reads expires_in as decoded by x/oauth2 (a JSON number, or a
// string some servers send).
func expiresIn(v any) (int64, bool) {
	var n int64
	switch x := v.(type) {
	case float64:
		n = int64(x)
	case string:
		i, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, false
		}
		n = i
	default:
		return 0, false
	}
	return n, n > 0 && n <= 365*24*3600
}

// assertion signs a client assertion (RFC 7523 §3; docs/okta.md §OAuth for
// service apps): iss = sub = client ID, aud = token URL, a fresh jti, iat
// now, exp in assertionLifetime.
func (s *tokenSource) assertion(now time.Time) (string, error) {
	claims := jwt.Claims{
		Issuer:   s.clientID,
		Subject:  s.clientID,
		Audience: jwt.Audience{s.tokenURL},
		ID:       newJTI(),
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(assertionLifetime)),
	}
	return jwt.Signed(s.signer).Claims(claims).Serialize()
}

// newJTI returns a random JWT ID (128 bits, base64url).
func newJTI() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// oauthTransport authenticates requests to the org with OAuth access
// tokens (and DPoP proofs). Requests to other hosts pass through untouched.
type oauthTransport struct {
	base   http.RoundTripper
	scheme string
	host   string
	src    *tokenSource
	dpop   *dpopProver // nil without DPoP
}

// newOAuthTransport builds the transport for cfg. hc supplies the timeout
// of token requests; base carries every request.
func newOAuthTransport(org *url.URL, cfg OAuthConfig, base http.RoundTripper, timeout time.Duration, clock Clock) (*oauthTransport, error) {
	tokenURL := org.String() + TokenPath
	if cfg.TokenURL != "" {
		u, err := parseTokenURL(cfg.TokenURL)
		if err != nil {
			return nil, err
		}
		tokenURL = u.String()
	}
	kid := cfg.PrivateKey.KeyID()
	if cfg.KeyID != "" {
		kid = cfg.KeyID
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := jose.NewSigner(cfg.PrivateKey.signingKey(), opts)
	if err != nil {
		return nil, argError("WithOAuth", "PrivateKey", "cannot sign: %v", err)
	}
	var dp *dpopProver
	if cfg.DPoP {
		key := cfg.DPoPKey
		if key == nil {
			ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				return nil, fmt.Errorf("okta: WithOAuth: generate DPoP key: %w", err)
			}
			if key, err = NewPrivateKey(ec, ""); err != nil {
				return nil, err
			}
		}
		if dp, err = newDPoPProver(key, clock); err != nil {
			return nil, err
		}
	}
	margin := DefaultTokenRefreshBefore
	if cfg.RefreshBefore > 0 {
		margin = cfg.RefreshBefore
	}
	src := &tokenSource{
		clientID: cfg.ClientID,
		tokenURL: tokenURL,
		scopes:   cfg.Scopes,
		signer:   signer,
		margin:   margin,
		clock:    clock,
		dpop:     dp,
		sem:      make(chan struct{}, 1),
		hc: &http.Client{
			Transport: &tokenTransport{base: base, dpop: dp},
			Timeout:   timeout,
			// Never follow a redirect with the assertion.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	return &oauthTransport{base: base, scheme: org.Scheme, host: org.Host, src: src, dpop: dp}, nil
}

// String keeps tokens out of any accidental formatting of the transport.
func (t *oauthTransport) String() string { return "okta.oauthTransport([REDACTED])" }

// RoundTrip sends req with the current access token. A 401 is retried once
// with a fresh token, and a DPoP use_dpop_nonce challenge once with the
// server's new nonce (RFC 9449 §9), when the body can be sent again.
func (t *oauthTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != t.scheme || req.URL.Host != t.host {
		return t.base.RoundTrip(req)
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	nonceRetried, tokenRetried := false, false
	for attempt := 1; ; attempt++ {
		tok, err := t.src.token(req.Context())
		if err != nil {
			closeRequestBody(req)
			return nil, err
		}
		r := req.Clone(req.Context())
		if attempt > 1 && req.GetBody != nil {
			if r.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		r.Header.Set("Authorization", tok.scheme+" "+tok.value)
		r.Header.Del("DPoP")
		if tok.scheme == "DPoP" {
			proof, err := t.dpop.proof(r.Method, r.URL, tok.value, t.dpop.rsNonce.get())
			if err != nil {
				closeRequestBody(r)
				return nil, &TokenError{Err: fmt.Errorf("sign DPoP proof: %w", err)}
			}
			r.Header.Set("DPoP", proof)
		}
		resp, err := t.base.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		if t.dpop != nil {
			t.dpop.rsNonce.update(resp.Header.Get("DPoP-Nonce"))
		}
		if resp.StatusCode != http.StatusUnauthorized || !replayable {
			return resp, nil
		}
		switch challenge := authChallengeError(resp.Header); {
		case challenge == "use_dpop_nonce" && tok.scheme == "DPoP" && !nonceRetried && resp.Header.Get("DPoP-Nonce") != "":
			nonceRetried = true
		case challenge != "use_dpop_nonce" && !tokenRetried:
			// Revoked, or expired earlier than we thought: fetch a new one.
			tokenRetried = true
			t.src.invalidate(tok)
		default:
			return resp, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, DefaultMaxBodySize))
		_ = resp.Body.Close()
	}
}

func closeRequestBody(r *http.Request) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
}

// authChallengeError returns the error parameter of a WWW-Authenticate
// challenge (RFC 6750 §3, RFC 9449 §7.1), e.g. "use_dpop_nonce", or "".
func authChallengeError(h http.Header) string {
	for _, v := range h.Values("WWW-Authenticate") {
		for i := 0; i < len(v); {
			j := strings.Index(v[i:], "error=")
			if j < 0 {
				break
			}
			j += i
			if j > 0 && v[j-1] != ' ' && v[j-1] != ',' {
				i = j + len("error=")
				continue
			}
			rest := v[j+len("error="):]
			if strings.HasPrefix(rest, `"`) {
				if end := strings.IndexByte(rest[1:], '"'); end >= 0 {
					return rest[1 : 1+end]
				}
				return ""
			}
			end := strings.IndexAny(rest, ", ")
			if end < 0 {
				end = len(rest)
			}
			return rest[:end]
		}
	}
	return ""
}

package oktatest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// DPoP timing (docs/okta.md §DPoP): a proof older than five minutes is
// refused; a nonce is renewed every 24 hours and stays valid three days.
const (
	proofMaxAge   = 5 * time.Minute
	nonceRenewal  = 24 * time.Hour
	nonceLifetime = 72 * time.Hour
	maxProofSize  = 8 << 10
)

// dpopProof is a parsed DPoP proof whose signature verified against its
// own embedded key.
type dpopProof struct {
	jkt    string // RFC 7638 SHA-256 thumbprint of the proof key, base64url
	claims proofClaims
}

// proofClaims is a DPoP proof's payload (RFC 9449 §4.2).
type proofClaims struct {
	JTI   string   `json:"jti"`
	HTM   string   `json:"htm"`
	HTU   string   `json:"htu"`
	IAT   *float64 `json:"iat"`
	ATH   string   `json:"ath"`
	Nonce string   `json:"nonce"`
}

// parseDPoPProof checks a proof's form (RFC 9449 §4.3 steps 2-7): one
// compact JWS, typ "dpop+jwt", an asymmetric algorithm Okta accepts, a
// public "jwk" in the header that verifies the signature, and the claims
// jti, htm, htu and iat present with the right types. The request-specific
// checks (method, URI, time, replay, ath, nonce) are checkProof's.
func parseDPoPProof(proof string) (*dpopProof, error) {
	if len(proof) > maxProofSize {
		return nil, problem("The DPoP proof is too large.")
	}
	jws, err := jose.ParseSignedCompact(proof, signingAlgs)
	if err != nil {
		return nil, problem("The DPoP proof is not a valid signed JWT.")
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "dpop+jwt" {
		return nil, problem("The DPoP proof typ must be dpop+jwt.")
	}
	if h.JSONWebKey == nil {
		return nil, problem("The DPoP proof header has no jwk.")
	}
	if !h.JSONWebKey.IsPublic() {
		return nil, problem("The DPoP proof jwk must be a public key.")
	}
	switch h.JSONWebKey.Key.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey:
	default:
		return nil, problem("The DPoP proof jwk is not an RSA or EC key.")
	}
	payload, err := jws.Verify(h.JSONWebKey)
	if err != nil {
		return nil, problem("The DPoP proof signature is invalid.")
	}
	var c proofClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, problem("The DPoP proof claims are not valid JSON of the right types.")
	}
	switch {
	case c.JTI == "" || len(c.JTI) > 256:
		return nil, problem("The DPoP proof jti is missing or too long.")
	case c.HTM == "":
		return nil, problem("The DPoP proof htm is missing.")
	case c.HTU == "":
		return nil, problem("The DPoP proof htu is missing.")
	case c.IAT == nil || math.IsNaN(*c.IAT) || math.IsInf(*c.IAT, 0):
		return nil, problem("The DPoP proof iat is missing.")
	}
	tp, err := h.JSONWebKey.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, problem("The DPoP proof jwk has no thumbprint.")
	}
	return &dpopProof{jkt: base64.RawURLEncoding.EncodeToString(tp), claims: c}, nil
}

// checkProof validates the DPoP header values of request r (RFC 9449 §4.3):
// exactly one proof, well formed, htm the request method, htu the request
// URI (without query and fragment) at this server, iat within the last
// five minutes and not in the future, ath the hash of accessToken (when
// there is one), jti not seen before for this key. The nonce is the
// caller's.
func (s *Server) checkProof(values []string, r *http.Request, accessToken string, now time.Time) (*dpopProof, error) {
	if len(values) != 1 {
		return nil, problem("Multiple DPoP proof headers are not allowed.")
	}
	p, err := parseDPoPProof(values[0])
	if err != nil {
		return nil, err
	}
	if p.claims.HTM != r.Method {
		return nil, problem("The DPoP proof htm does not match the request method.")
	}
	if !s.htuMatches(p.claims.HTU, r) {
		return nil, problem("The DPoP proof htu does not match the request URI.")
	}
	iat := time.Unix(int64(*p.claims.IAT), 0)
	if iat.After(now) {
		return nil, problem("The DPoP proof was issued in the future.")
	}
	if now.Sub(iat) > proofMaxAge {
		return nil, problem("The DPoP proof is older than 5 minutes.")
	}
	if accessToken != "" {
		h := sha256.Sum256([]byte(accessToken))
		if p.claims.ATH != base64.RawURLEncoding.EncodeToString(h[:]) {
			return nil, problem("The DPoP proof ath does not match the access token.")
		}
	}
	s.mu.Lock()
	s.oauth.init()
	fresh := s.oauth.proofs.add(p.jkt+" "+p.claims.JTI, now, now.Add(proofMaxAge+time.Minute))
	s.mu.Unlock()
	if !fresh {
		return nil, problem("The DPoP proof jti has already been used.")
	}
	return p, nil
}

// htuMatches compares a proof's htu with the request's URI at this server
// (or at its issuer URL), ignoring query and fragment (RFC 9449 §4.3 step
// 9), scheme and host case, and a default port.
func (s *Server) htuMatches(htu string, r *http.Request) bool {
	u, err := url.Parse(htu)
	if err != nil || u.User != nil {
		return false
	}
	got := normalizeURI(u)
	for _, base := range []string{s.srv.URL, s.issuer} {
		b, err := url.Parse(base)
		if err != nil {
			continue
		}
		want := *b
		want.Path, want.RawPath = r.URL.Path, r.URL.RawPath
		if got == normalizeURI(&want) {
			return true
		}
	}
	return false
}

func normalizeURI(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if p := u.Port(); p != "" && !(scheme == "https" && p == "443") && !(scheme == "http" && p == "80") {
		host += ":" + p
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path
}

// dpopNonce is a nonce the fake handed out.
type dpopNonce struct {
	value  string
	issued time.Time
}

// currentNonce returns the nonce to hand out, renewing it once a day.
func (s *Server) currentNonce(now time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneNoncesLocked(now)
	if len(s.oauth.nonces) == 0 || now.Sub(s.oauth.nonces[0].issued) >= nonceRenewal {
		n := dpopNonce{value: s.randomID("", 32), issued: now}
		s.oauth.nonces = append([]dpopNonce{n}, s.oauth.nonces...)
	}
	return s.oauth.nonces[0].value
}

// acceptNonce reports whether v is a nonce handed out in the last three
// days (and not dropped by RotateDPoPNonce).
func (s *Server) acceptNonce(v string, now time.Time) bool {
	if v == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneNoncesLocked(now)
	for _, n := range s.oauth.nonces {
		if n.value == v {
			return true
		}
	}
	return false
}

func (s *Server) pruneNoncesLocked(now time.Time) {
	kept := s.oauth.nonces[:0]
	for _, n := range s.oauth.nonces {
		if now.Sub(n.issued) < nonceLifetime {
			kept = append(kept, n)
		}
	}
	s.oauth.nonces = kept
}

// RotateDPoPNonce replaces the DPoP nonce and stops accepting every earlier
// one at once, so the next proof carrying an old nonce gets a
// use_dpop_nonce challenge. (Okta renews its nonce daily and accepts an old
// one for three days; Advance shows that behaviour.)
func (s *Server) RotateDPoPNonce() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oauth.nonces = []dpopNonce{{value: s.randomID("", 32), issued: s.now()}}
}

// RequireDPoPNonceForAPI makes API calls with DPoP-bound tokens need a
// server nonce in their proofs too (RFC 9449 §9): a proof without a valid
// one gets 401 with WWW-Authenticate: DPoP error="use_dpop_nonce" and a
// DPoP-Nonce header. Okta says it does not require this today; the default
// is off.
func (s *Server) RequireDPoPNonceForAPI(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oauth.apiNonce = on
}

// replayCache remembers used identifiers (assertion and proof jti) until
// they could no longer be accepted anyway.
type replayCache struct {
	seen  map[string]time.Time // key → forget after
	order []replayEntry        // insertion order; forget times ascend while the clock does
}

type replayEntry struct {
	key   string
	until time.Time
}

// add records key until the given time; false means it was already seen.
func (c *replayCache) add(key string, now, until time.Time) bool {
	for len(c.order) > 0 && !now.Before(c.order[0].until) {
		delete(c.seen, c.order[0].key)
		c.order = c.order[1:]
	}
	if _, dup := c.seen[key]; dup {
		return false
	}
	c.seen[key] = until
	c.order = append(c.order, replayEntry{key, until})
	return true
}

// problem is an error whose text is an OAuth error_description sent to the
// client.
type problem string

func (p problem) Error() string { return string(p) }

package okta

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/go-jose/go-jose/v4"
)

// dpopProver signs DPoP proofs (RFC 9449 §4; docs/okta.md §DPoP) and keeps
// the nonces the servers hand out.
type dpopProver struct {
	signer jose.Signer // typ dpop+jwt, the public key embedded as "jwk"
	clock  Clock

	asNonce nonce // the token endpoint's latest DPoP-Nonce
	rsNonce nonce // the API's latest DPoP-Nonce
}

func newDPoPProver(key *PrivateKey, clock Clock) (*dpopProver, error) {
	opts := (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt")
	signer, err := jose.NewSigner(key.signingKey(), opts)
	if err != nil {
		return nil, argError("WithOAuth", "DPoPKey", "cannot sign: %v", err)
	}
	return &dpopProver{signer: signer, clock: clock}, nil
}

// dpopClaims is a DPoP proof's payload (RFC 9449 §4.2).
type dpopClaims struct {
	JTI   string `json:"jti"`
	HTM   string `json:"htm"`
	HTU   string `json:"htu"`
	IAT   int64  `json:"iat"`
	ATH   string `json:"ath,omitempty"`
	Nonce string `json:"nonce,omitempty"`
}

// proof signs a proof for method and target. accessToken is "" at the
// token endpoint; otherwise its hash goes into "ath". nonce is "" until a
// server has sent one.
func (d *dpopProver) proof(method string, target *url.URL, accessToken, nonce string) (string, error) {
	c := dpopClaims{JTI: newJTI(), HTM: method, HTU: htu(target), IAT: d.clock.Now().Unix(), Nonce: nonce}
	if accessToken != "" {
		c.ATH = accessTokenHash(accessToken)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	jws, err := d.signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// htu is the proof's "htu": the request URI without query and fragment
// (RFC 9449 §4.2).
func htu(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + p
}

// nonce holds the latest DPoP-Nonce a server sent. Servers rotate it; a
// new value replaces the old one (RFC 9449 §8.2).
type nonce struct {
	mu sync.Mutex
	v  string // guarded by mu
}

func (n *nonce) get() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.v
}

// update stores v if it is a syntactically valid nonce (RFC 9449 §8.1:
// NQCHAR, %x21 / %x23-5B / %x5D-7E); anything else is ignored.
func (n *nonce) update(v string) {
	if v == "" || len(v) > 1024 {
		return
	}
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < 0x21 || b > 0x7e || b == '"' || b == '\\' {
			return
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.v = v
}

// tokenTransport adds a DPoP proof to every token request and records the
// token endpoint's DPoP-Nonce. Without DPoP it passes requests through.
type tokenTransport struct {
	base http.RoundTripper
	dpop *dpopProver // nil without DPoP
}

func (t *tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.dpop == nil {
		return t.base.RoundTrip(req)
	}
	proof, err := t.dpop.proof(req.Method, req.URL, "", t.dpop.asNonce.get())
	if err != nil {
		closeRequestBody(req)
		return nil, fmt.Errorf("sign DPoP proof: %w", err)
	}
	r := req.Clone(req.Context())
	r.Header.Set("DPoP", proof)
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	t.dpop.asNonce.update(resp.Header.Get("DPoP-Nonce"))
	return resp, nil
}

package okta

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
)

// minRSABits is the smallest RSA key [PrivateKey] accepts: RS256 needs at
// least 2048 bits (RFC 7518 §3.3, https://www.rfc-editor.org/rfc/rfc7518#section-3.3).
const minRSABits = 2048

// PrivateKey is a private signing key: a service app's key for client
// assertions, or a DPoP proof key. Create it with [ParsePrivateKey] (PEM or
// JWK, as Okta's Admin Console hands it out) or [NewPrivateKey] (a key in
// memory, or a crypto.Signer backed by an HSM, KMS or PIV card).
//
// Okta accepts RS256, RS384, RS512, ES256, ES384 and ES512 for both
// (docs/okta.md §OAuth for service apps): an RSA key signs RS256 unless its
// JWK names RS384 or RS512; an EC key signs ES256, ES384 or ES512 by its
// curve (P-256, P-384, P-521).
//
// A PrivateKey never prints its key material: String, GoString, every fmt
// verb, log/slog and encoding/json show only the algorithm and key ID.
type PrivateKey struct {
	key any // *ecdsa.PrivateKey, *rsa.PrivateKey or jose.OpaqueSigner
	pub crypto.PublicKey
	alg jose.SignatureAlgorithm
	kid string
}

// ParsePrivateKey reads a private key from PEM (PKCS #8 "PRIVATE KEY",
// PKCS #1 "RSA PRIVATE KEY" or SEC 1 "EC PRIVATE KEY"; an "EC PARAMETERS"
// block before it is skipped) or from a private JWK in JSON, whose "kid"
// becomes the key ID and whose "alg", when present, must suit the key.
// Encrypted PEM is refused: decrypt it first. Errors wrap
// [ErrInvalidArgument] and never contain key material.
func ParsePrivateKey(data []byte) (*PrivateKey, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, argError("private key", "", "empty")
	}
	if trimmed[0] == '{' {
		return parseJWK(trimmed)
	}
	rest := trimmed
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, argError("private key", "", "neither a PEM private key nor a JWK")
		}
		if _, encrypted := block.Headers["Proc-Type"]; encrypted || block.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, argError("private key", "", "PEM block %s is encrypted; decrypt it first", quoted(block.Type))
		}
		var key any
		var err error
		switch block.Type {
		case "EC PARAMETERS":
			continue
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			return nil, argError("private key", "", "PEM block %s is not a private key", quoted(block.Type))
		}
		clear(block.Bytes)
		if err != nil {
			// The parser's message is not included: it may quote bytes of the key.
			return nil, argError("private key", "", "PEM block %s does not hold a valid key", quoted(block.Type))
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, argError("private key", "", "unsupported key type %T", key)
		}
		return newPrivateKey(signer, "", "")
	}
}

func parseJWK(data []byte) (*PrivateKey, error) {
	var probe struct {
		Keys json.RawMessage `json:"keys"`
	}
	if json.Unmarshal(data, &probe) == nil && probe.Keys != nil {
		return nil, argError("private key", "", "a JWK set, not a single JWK")
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(data); err != nil {
		// The decoder's message is not included: it may quote bytes of the key.
		return nil, argError("private key", "", "not a valid JWK")
	}
	if jwk.IsPublic() {
		return nil, argError("private key", "", "the JWK holds a public key; the private key is needed")
	}
	signer, ok := jwk.Key.(crypto.Signer)
	if !ok {
		return nil, argError("private key", "", "unsupported JWK key type %T", jwk.Key)
	}
	return newPrivateKey(signer, jwk.KeyID, jwk.Algorithm)
}

// NewPrivateKey wraps a signer with key ID kid ("" for none). The signer's
// public key must be RSA (at least 2048 bits) or ECDSA on P-256, P-384 or
// P-521. Keys of *rsa.PrivateKey and *ecdsa.PrivateKey are used directly;
// any other crypto.Signer (a hardware or cloud key) is called through its
// Sign method. Errors wrap [ErrInvalidArgument].
func NewPrivateKey(signer crypto.Signer, kid string) (*PrivateKey, error) {
	if signer == nil {
		return nil, argError("private key", "", "nil signer")
	}
	return newPrivateKey(signer, kid, "")
}

// newPrivateKey validates signer and picks its algorithm; alg is the JWK's
// "alg" member ("" if none).
func newPrivateKey(signer crypto.Signer, kid, alg string) (*PrivateKey, error) {
	if err := checkPrintable("private key", "key ID", kid); err != nil {
		return nil, err
	}
	k := &PrivateKey{pub: signer.Public(), kid: kid}
	switch pub := k.pub.(type) {
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			k.alg = jose.ES256
		case elliptic.P384():
			k.alg = jose.ES384
		case elliptic.P521():
			k.alg = jose.ES512
		default:
			return nil, argError("private key", "", "EC curve %s is not P-256, P-384 or P-521", pub.Curve.Params().Name)
		}
		if alg != "" && alg != string(k.alg) {
			return nil, argError("private key", "", "JWK alg %s does not suit a %s key", quoted(alg), pub.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		if n := pub.N.BitLen(); n < minRSABits {
			return nil, argError("private key", "", "RSA key of %d bits is shorter than %d", n, minRSABits)
		}
		switch jose.SignatureAlgorithm(alg) {
		case "":
			k.alg = jose.RS256
		case jose.RS256, jose.RS384, jose.RS512:
			k.alg = jose.SignatureAlgorithm(alg)
		default:
			return nil, argError("private key", "", "JWK alg %s is not RS256, RS384 or RS512", quoted(alg))
		}
	default:
		return nil, argError("private key", "", "%T keys are not accepted by Okta (RSA or EC P-256/P-384/P-521)", k.pub)
	}
	switch key := signer.(type) {
	case *ecdsa.PrivateKey, *rsa.PrivateKey:
		k.key = key
	default:
		k.key = cryptosigner.Opaque(signer)
	}
	return k, nil
}

// checkPrintable refuses control characters and non-ASCII in s, op's arg.
func checkPrintable(op, arg, s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return argError(op, arg, "contains a control or non-ASCII character")
		}
	}
	return nil
}

// KeyID returns the key ID ("" when none).
func (k *PrivateKey) KeyID() string { return k.kid }

// Algorithm returns the JWS algorithm the key signs with, e.g. "ES256".
func (k *PrivateKey) Algorithm() string { return string(k.alg) }

// Public returns the public key.
func (k *PrivateKey) Public() crypto.PublicKey { return k.pub }

// PublicJWK returns the public key as a JWK with the key ID, algorithm and
// use "sig": what to register with the service app in Okta (or with
// oktatest's ServiceApp).
func (k *PrivateKey) PublicJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.pub, KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
}

// Thumbprint returns the base64url SHA-256 JWK thumbprint of the public
// key (RFC 7638): the "jkt" a DPoP-bound access token names.
func (k *PrivateKey) Thumbprint() string {
	tp, err := jwkThumbprint(k.pub)
	if err != nil {
		return "" // unreachable: go-jose thumbprints every RSA and EC key newPrivateKey admits
	}
	return tp
}

// sameKey reports whether k and o have the same public key.
func (k *PrivateKey) sameKey(o *PrivateKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := k.pub.(equaler)
	return ok && e.Equal(o.pub)
}

func (k *PrivateKey) signingKey() jose.SigningKey {
	return jose.SigningKey{Algorithm: k.alg, Key: k.key}
}

// String returns the algorithm and key ID, e.g.
// `okta.PrivateKey(ES256, kid "k1", [REDACTED])`.
func (k *PrivateKey) String() string {
	if k == nil {
		return "okta.PrivateKey(<nil>)"
	}
	return fmt.Sprintf("okta.PrivateKey(%s, kid %q, %s)", k.alg, k.kid, redacted)
}

// GoString is String.
func (k *PrivateKey) GoString() string { return k.String() }

// Format prints String for every verb, so no verb reveals the key.
func (k *PrivateKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// LogValue logs the algorithm and key ID only.
func (k *PrivateKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalJSON encodes String as a JSON string, never the key.
func (k *PrivateKey) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }

// MarshalText encodes String, never the key.
func (k *PrivateKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// jwkThumbprint is the RFC 7638 SHA-256 thumbprint of a JWK, base64url.
func jwkThumbprint(pub crypto.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// accessTokenHash is the DPoP "ath" claim: base64url(SHA-256(token)).
func accessTokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

package webauthn

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	cryptorand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
)

// KeyUse is the "use" member of a JWK: what a key is for.
type KeyUse string

const (
	// UseEncryption marks a transport or response key (JWE recipient).
	UseEncryption KeyUse = "enc"
	// UseSigning marks a signing key (JWS signer).
	UseSigning KeyUse = "sig"
)

const (
	// maxJWKSSize bounds the JSON accepted by ParseJWKS.
	maxJWKSSize = 256 << 10
	// maxJWKSKeys bounds the number of keys in a JWKS.
	maxJWKSKeys = 64
	// maxKeyIDLen bounds a "kid".
	maxKeyIDLen = 256
	// p384CoordLen is the length of a P-384 coordinate in bytes.
	p384CoordLen = 48
)

// PublicJWK is an EC P-384 public key as a JSON Web Key (RFC 7517), the
// ECKeyJWK shape Okta and Yubico exchange: {kty, crv, kid, use, x, y}, with
// an optional "alg". It is the one JWK type of the module: package yubico
// returns Yubico's published keys as PublicJWKs and package okta sends them
// in enroll and activate requests as they are. Members other than these
// (such as "x5c") are not kept. The zero value is invalid; see
// [PublicJWK.Validate].
type PublicJWK struct {
	// Kty is the key type, "EC".
	Kty string `json:"kty"`
	// Crv is the curve, "P-384".
	Crv string `json:"crv"`
	// Kid is the key ID that names the key in a JWE or JWS header.
	Kid string `json:"kid"`
	// Use is the key's intended use: "enc" or "sig".
	Use string `json:"use"`
	// X is the point's x coordinate, unpadded base64url (48 bytes).
	X string `json:"x"`
	// Y is the point's y coordinate, unpadded base64url (48 bytes).
	Y string `json:"y"`
	// Alg is the optional algorithm the key is meant for; informative
	// only.
	Alg string `json:"alg,omitempty"`
}

// Validate checks that k is an EC P-384 key whose point is on the curve, with
// a non-empty kid and a "use" of "enc" or "sig". "alg" is informative and not
// checked. Errors wrap [ErrMalformed] (bad encoding) or [ErrWrongKey] (a
// well-formed key of the wrong type or curve).
func (k PublicJWK) Validate() error {
	_, err := k.ecdsa()
	return err
}

// ecdsa validates k and returns it as an *ecdsa.PublicKey.
func (k PublicJWK) ecdsa() (*ecdsa.PublicKey, error) {
	scope := fmt.Sprintf("jwk %q", truncate(k.Kid, 64))
	switch {
	case k.Kid == "":
		return nil, fieldError("jwk", "kid", "missing", ErrMalformed)
	case len(k.Kid) > maxKeyIDLen:
		return nil, fieldError(scope, "kid", fmt.Sprintf("longer than %d bytes", maxKeyIDLen), ErrMalformed)
	case k.Kty != "EC":
		return nil, fieldError(scope, "kty", fmt.Sprintf("%q not supported, want \"EC\"", truncate(k.Kty, 16)), ErrWrongKey)
	case k.Crv != "P-384":
		return nil, fieldError(scope, "crv", fmt.Sprintf("%q not supported, want \"P-384\"", truncate(k.Crv, 16)), ErrWrongKey)
	case k.Use != string(UseEncryption) && k.Use != string(UseSigning):
		return nil, fieldError(scope, "use", fmt.Sprintf("%q not supported, want \"enc\" or \"sig\"", truncate(k.Use, 16)), ErrMalformed)
	}
	x, err := decodeCoord(k.X)
	if err != nil {
		return nil, fieldError(scope, "x", err.Error(), ErrMalformed)
	}
	y, err := decodeCoord(k.Y)
	if err != nil {
		return nil, fieldError(scope, "y", err.Error(), ErrMalformed)
	}
	point := make([]byte, 0, 1+2*p384CoordLen)
	point = append(point, 4)
	point = append(point, x...)
	point = append(point, y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P384(), point)
	if err != nil {
		return nil, fieldError(scope, "x/y", "point is not on curve P-384", ErrMalformed)
	}
	return pub, nil
}

// decodeCoord decodes one base64url (unpadded) P-384 coordinate.
func decodeCoord(s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("missing")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not unpadded base64url")
	}
	if len(b) != p384CoordLen {
		return nil, fmt.Errorf("%d bytes, want %d", len(b), p384CoordLen)
	}
	return b, nil
}

// requireUse returns an error wrapping ErrWrongKey unless k.Use is use.
func (k PublicJWK) requireUse(use KeyUse) error {
	if k.Use != string(use) {
		return fieldError(fmt.Sprintf("jwk %q", truncate(k.Kid, 64)), "use", fmt.Sprintf("%q, want %q", truncate(k.Use, 16), use), ErrWrongKey)
	}
	return nil
}

// JWKS is a JSON Web Key Set of P-384 public keys, as served at Yubico's
// .well-known endpoints. The zero value is an empty set.
type JWKS struct {
	Keys []PublicJWK `json:"keys"`
}

// ParseJWKS parses and validates a JWKS document. Extra members in the set
// or in a key (such as "x5c", "alg", "x5t") are ignored. The input is bounded
// (256 KiB, 64 keys); every key must pass [PublicJWK.Validate] and kids must
// be unique. Errors wrap [ErrMalformed] or [ErrWrongKey] and name the key
// index.
func ParseJWKS(data []byte) (JWKS, error) {
	if err := checkMax("parse jwks", "document", len(data), maxJWKSSize, "bytes"); err != nil {
		return JWKS{}, err
	}
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return JWKS{}, fmt.Errorf("webauthn: parse jwks: %w: %w", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		// dec.More misses a stray closing "]" or "}".
		return JWKS{}, fieldError("parse jwks", "document", "trailing data after JSON object", ErrMalformed)
	}
	if raw.Keys == nil {
		return JWKS{}, fieldError("parse jwks", "keys", "missing", ErrMalformed)
	}
	if len(raw.Keys) > maxJWKSKeys {
		return JWKS{}, fieldError("parse jwks", "keys", fmt.Sprintf("%d keys, limit %d", len(raw.Keys), maxJWKSKeys), ErrMalformed)
	}
	set := JWKS{Keys: make([]PublicJWK, 0, len(raw.Keys))}
	for i, m := range raw.Keys {
		var k PublicJWK
		if err := json.Unmarshal(m, &k); err != nil {
			return JWKS{}, fmt.Errorf("webauthn: parse jwks: keys[%d]: %w: %w", i, ErrMalformed, err)
		}
		set.Keys = append(set.Keys, k)
	}
	if err := set.validate("parse jwks"); err != nil {
		return JWKS{}, err
	}
	return set, nil
}

// Validate checks a set built or decoded by other means as [ParseJWKS]
// does: at most 64 keys, each passing [PublicJWK.Validate], kids unique. An
// empty set is valid. Errors wrap [ErrMalformed] or [ErrWrongKey] and name
// the key index.
func (s JWKS) Validate() error { return s.validate("jwks") }

func (s JWKS) validate(scope string) error {
	if len(s.Keys) > maxJWKSKeys {
		return fieldError(scope, "keys", fmt.Sprintf("%d keys, limit %d", len(s.Keys), maxJWKSKeys), ErrMalformed)
	}
	seen := make(map[string]bool, len(s.Keys))
	for i, k := range s.Keys {
		if err := k.Validate(); err != nil {
			return fmt.Errorf("webauthn: %s: keys[%d]: %w", scope, i, err)
		}
		if seen[k.Kid] {
			return fieldError(scope, fmt.Sprintf("keys[%d].kid", i), fmt.Sprintf("duplicate kid %q", truncate(k.Kid, 64)), ErrMalformed)
		}
		seen[k.Kid] = true
	}
	return nil
}

// Key returns the key with the given kid.
func (s JWKS) Key(kid string) (PublicJWK, bool) {
	for _, k := range s.Keys {
		if k.Kid == kid {
			return k, true
		}
	}
	return PublicJWK{}, false
}

// Random returns a key of the set with the given use, chosen uniformly with
// rand (nil means crypto/rand.Reader), as Okta's Workflows template picks one
// of Yubico's transport keys. Keys that fail [PublicJWK.Validate] are skipped.
// Errors wrap [ErrWrongKey] when no valid key has that use.
func (s JWKS) Random(rand io.Reader, use KeyUse) (PublicJWK, error) {
	var candidates []PublicJWK
	for _, k := range s.Keys {
		if k.Use == string(use) && k.Validate() == nil {
			candidates = append(candidates, k)
		}
	}
	if len(candidates) == 0 {
		return PublicJWK{}, fieldError("pick jwk", "keys", fmt.Sprintf("no valid P-384 key with use %q", use), ErrWrongKey)
	}
	if rand == nil {
		rand = cryptoRand()
	}
	n, err := randInt(rand, len(candidates))
	if err != nil {
		return PublicJWK{}, fmt.Errorf("webauthn: pick jwk: %w", err)
	}
	return candidates[n], nil
}

// randInt returns a uniform integer in [0, n) read from rand.
func randInt(rand io.Reader, n int) (int, error) {
	v, err := cryptorand.Int(rand, big.NewInt(int64(n)))
	if err != nil {
		return 0, err
	}
	return int(v.Int64()), nil
}

// PrivateKey is a P-384 private key with its key ID and use: a receiver's
// transport/response key (use "enc") or a signing key (use "sig"). It is
// immutable and safe for concurrent use. Printing it with fmt shows only the
// kid and use, never key material.
type PrivateKey struct {
	key *ecdsa.PrivateKey
	kid string
	use KeyUse
}

// GenerateKey generates a P-384 key with the given key ID and use. rand is
// the entropy source (nil means crypto/rand.Reader); note that since Go 1.26
// crypto/ecdsa ignores custom readers unless GODEBUG=cryptocustomrand=1.
func GenerateKey(rand io.Reader, kid string, use KeyUse) (*PrivateKey, error) {
	if err := checkKeyMeta(kid, use); err != nil {
		return nil, err
	}
	if rand == nil {
		rand = cryptoRand()
	}
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand)
	if err != nil {
		return nil, fmt.Errorf("webauthn: generate key %q: %w", truncate(kid, 64), err)
	}
	return &PrivateKey{key: k, kid: kid, use: use}, nil
}

// NewPrivateKey wraps an existing P-384 ECDSA key. Errors wrap [ErrWrongKey]
// for another curve and [ErrMalformed] for a bad kid or use.
func NewPrivateKey(key *ecdsa.PrivateKey, kid string, use KeyUse) (*PrivateKey, error) {
	if err := checkKeyMeta(kid, use); err != nil {
		return nil, err
	}
	if key == nil || key.Curve != elliptic.P384() {
		return nil, fieldError(fmt.Sprintf("private key %q", truncate(kid, 64)), "curve", "not P-384", ErrWrongKey)
	}
	return &PrivateKey{key: key, kid: kid, use: use}, nil
}

func checkKeyMeta(kid string, use KeyUse) error {
	switch {
	case kid == "":
		return fieldError("private key", "kid", "missing", ErrMalformed)
	case len(kid) > maxKeyIDLen:
		return fieldError("private key", "kid", fmt.Sprintf("longer than %d bytes", maxKeyIDLen), ErrMalformed)
	case use != UseEncryption && use != UseSigning:
		return fieldError("private key", "use", fmt.Sprintf("%q, want \"enc\" or \"sig\"", truncate(string(use), 16)), ErrMalformed)
	}
	return nil
}

// KeyID returns the key's "kid".
func (k *PrivateKey) KeyID() string { return k.kid }

// Use returns the key's use.
func (k *PrivateKey) Use() KeyUse { return k.use }

// Public returns the public half as a JWK (with "alg" ECDH-ES+A256KW for
// encryption keys and ES384 for signing keys).
func (k *PrivateKey) Public() PublicJWK {
	b, err := k.key.PublicKey.Bytes()
	if err != nil {
		// A P-384 key built by GenerateKey or NewPrivateKey always encodes.
		panic("webauthn: encode P-384 public key: " + err.Error())
	}
	alg := "ES384"
	if k.use == UseEncryption {
		alg = "ECDH-ES+A256KW"
	}
	return PublicJWK{
		Kty: "EC",
		Crv: "P-384",
		Kid: k.kid,
		Use: string(k.use),
		X:   base64.RawURLEncoding.EncodeToString(b[1 : 1+p384CoordLen]),
		Y:   base64.RawURLEncoding.EncodeToString(b[1+p384CoordLen:]),
		Alg: alg,
	}
}

// String describes the key without key material.
func (k *PrivateKey) String() string {
	if k == nil {
		return "webauthn.PrivateKey(nil)"
	}
	return fmt.Sprintf("webauthn.PrivateKey{kid: %q, use: %q}", k.kid, k.use)
}

// GoString describes the key without key material.
func (k *PrivateKey) GoString() string { return k.String() }

// Format prints [PrivateKey.String] for every verb.
func (k *PrivateKey) Format(f fmt.State, verb rune) {
	_, _ = io.WriteString(f, k.String())
}

// Keyring is a receiver's set of private keys. Open functions pick the key
// whose kid equals the JWE "kid" header; the key must have use "enc".
type Keyring []*PrivateKey

// Key returns the key with the given kid.
func (r Keyring) Key(kid string) (*PrivateKey, bool) {
	for _, k := range r {
		if k != nil && k.kid == kid {
			return k, true
		}
	}
	return nil, false
}

// JWKS returns the public keys of the ring, for serving as a JWKS document.
func (r Keyring) JWKS() JWKS {
	s := JWKS{Keys: make([]PublicJWK, 0, len(r))}
	for _, k := range r {
		if k != nil {
			s.Keys = append(s.Keys, k.Public())
		}
	}
	return s
}

func cryptoRand() io.Reader { return cryptorand.Reader }

// truncate shortens untrusted text quoted in errors.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

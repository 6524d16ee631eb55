package yubico

import (
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/preenroll/preenroll/internal/httpclient"
)

// Paths of Yubico's public JWKS below the JWKS base URL (the host root).
const (
	TransportKeysPath = "/.well-known/yubico-transport-keys.jwks"
	SigningKeysPath   = "/.well-known/yubico-sign.jwks"
)

// maxJWKSKeys bounds the number of keys accepted in one JWKS.
const maxJWKSKeys = 100

// JWK is an EC public key in JSON Web Key form, with the members of Okta's
// ECKeyJWK (crv, kid, kty, use, x, y) plus alg; x5c is tolerated and kept.
// It converts to webauthn.PublicJWK member for member.
type JWK struct {
	Kty string   `json:"kty"`           // "EC"
	Crv string   `json:"crv"`           // "P-384"
	Kid string   `json:"kid"`           // key ID
	Use string   `json:"use"`           // "enc" (transport) or "sig" (signing)
	X   string   `json:"x"`             // X coordinate, base64url
	Y   string   `json:"y"`             // Y coordinate, base64url
	Alg string   `json:"alg,omitempty"` // algorithm, if named
	X5C []string `json:"x5c,omitempty"` // certificate chain, if any
}

// JWKS is a JSON Web Key Set.
type JWKS struct {
	Keys []JWK `json:"keys"` // the keys
}

// Validate checks that k is an EC P-384 public key (the curve Okta and Yubico
// agree on) whose point is on the curve, with a kid.
func (k JWK) Validate() error {
	if err := k.validate(); err != nil {
		return fmt.Errorf("yubico: jwk %q: %w", httpclient.Clip(k.Kid, 60), err)
	}
	return nil
}

func (k JWK) validate() error {
	switch {
	case k.Kty != "EC":
		return fmt.Errorf("kty %q, want \"EC\"", httpclient.Clip(k.Kty, 20))
	case k.Crv != "P-384":
		return fmt.Errorf("crv %q, want \"P-384\"", httpclient.Clip(k.Crv, 20))
	case k.Kid == "":
		return errors.New("kid is empty")
	}
	x, errX := base64.RawURLEncoding.DecodeString(k.X)
	y, errY := base64.RawURLEncoding.DecodeString(k.Y)
	if errX != nil || errY != nil || len(x) != 48 || len(y) != 48 {
		return errors.New("x and y must be 48-byte base64url coordinates")
	}
	point := append(append([]byte{4}, x...), y...)
	if _, err := ecdh.P384().NewPublicKey(point); err != nil {
		return errors.New("point is not on P-384")
	}
	return nil
}

// TransportKeys fetches Yubico's transport (encryption) keys from
// <JWKS base>/.well-known/yubico-transport-keys.jwks, without the token.
// IdPs encrypt FIDO Pre-reg requests to one of them. It fails if the set is
// empty or a key is not a valid P-384 key with use "enc" (or no use).
func (c *Client) TransportKeys(ctx context.Context) ([]JWK, error) {
	return c.jwks(ctx, TransportKeysPath, "enc")
}

// SigningKeys fetches Yubico's signing keys from
// <JWKS base>/.well-known/yubico-sign.jwks, without the token. They verify
// the JWS inside FIDO Pre-reg responses (Okta's activate takes them as
// yubicoSigningJwks). It fails if the set is empty or a key is not a valid
// P-384 key with use "sig" (or no use).
func (c *Client) SigningKeys(ctx context.Context) ([]JWK, error) {
	return c.jwks(ctx, SigningKeysPath, "sig")
}

func (c *Client) jwks(ctx context.Context, path, use string) ([]JWK, error) {
	u := *c.jwksBase
	u.Path = c.jwksBase.Path + path
	body, err := c.send(ctx, request{method: http.MethodGet, path: path}, u.String(), path)
	if err != nil {
		return nil, err
	}
	return ParseJWKS(body, use)
}

// ParseJWKS decodes a JWKS document and validates every key; use, if not
// empty, is the required "use" of each key (a key without use is accepted).
// Unknown members are ignored.
func ParseJWKS(data []byte, use string) ([]JWK, error) {
	var set JWKS
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("yubico: jwks: %w", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("yubico: jwks: no keys")
	}
	if len(set.Keys) > maxJWKSKeys {
		return nil, fmt.Errorf("yubico: jwks: %d keys, more than %d", len(set.Keys), maxJWKSKeys)
	}
	seen := make(map[string]bool, len(set.Keys))
	for i, k := range set.Keys {
		if err := k.validate(); err != nil {
			return nil, fmt.Errorf("yubico: jwks: key %d (kid %q): %w", i, httpclient.Clip(k.Kid, 60), err)
		}
		if use != "" && k.Use != "" && k.Use != use {
			return nil, fmt.Errorf("yubico: jwks: key %q: use %q, want %q", httpclient.Clip(k.Kid, 60), httpclient.Clip(k.Use, 20), use)
		}
		if seen[k.Kid] {
			return nil, fmt.Errorf("yubico: jwks: duplicate kid %q", httpclient.Clip(k.Kid, 60))
		}
		seen[k.Kid] = true
	}
	return set.Keys, nil
}

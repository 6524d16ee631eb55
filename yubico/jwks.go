package yubico

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/preenroll/preenroll/internal/httpclient"
	"github.com/preenroll/preenroll/webauthn"
)

// Paths of Yubico's public JWKS below the JWKS base URL (the host root).
const (
	TransportKeysPath = "/.well-known/yubico-transport-keys.jwks"
	SigningKeysPath   = "/.well-known/yubico-sign.jwks"
)

// TransportKeys fetches Yubico's transport (encryption) keys from
// <JWKS base>/.well-known/yubico-transport-keys.jwks (see
// [DefaultJWKSBaseURL]), without the token. IdPs encrypt FIDO Pre-reg
// requests to one of them. Every key must pass [webauthn.PublicJWK.Validate]
// (EC P-384, on the curve, with a kid) with use "enc"; a key published
// without "use" is given "enc", which Okta requires. It fails if the set is
// empty.
func (c *Client) TransportKeys(ctx context.Context) ([]webauthn.PublicJWK, error) {
	return c.jwks(ctx, TransportKeysPath, webauthn.UseEncryption)
}

// SigningKeys fetches Yubico's signing keys from
// <JWKS base>/.well-known/yubico-sign.jwks (see [DefaultJWKSBaseURL]),
// without the token. They verify the JWS inside FIDO Pre-reg responses
// (Okta's activate takes them as yubicoSigningJwks). Keys are checked as in
// [Client.TransportKeys], with use "sig".
func (c *Client) SigningKeys(ctx context.Context) ([]webauthn.PublicJWK, error) {
	return c.jwks(ctx, SigningKeysPath, webauthn.UseSigning)
}

func (c *Client) jwks(ctx context.Context, path string, use webauthn.KeyUse) ([]webauthn.PublicJWK, error) {
	u := *c.jwksBase
	u.Path = c.jwksBase.Path + path
	body, err := c.send(ctx, request{method: http.MethodGet, path: path}, u.String(), path)
	if err != nil {
		return nil, err
	}
	keys, err := parseJWKS(body, use)
	if err != nil {
		return nil, fmt.Errorf("yubico: GET %s: %w", u.Redacted(), err)
	}
	return keys, nil
}

// parseJWKS decodes a JWKS document, gives keys without "use" the use
// expected at their endpoint, and validates the set: keys of another use
// are refused. Unknown members are ignored.
func parseJWKS(data []byte, use webauthn.KeyUse) ([]webauthn.PublicJWK, error) {
	var set webauthn.JWKS
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("jwks: no keys")
	}
	for i := range set.Keys {
		k := &set.Keys[i]
		if k.Use == "" {
			k.Use = string(use)
		}
		if k.Use != string(use) {
			return nil, fmt.Errorf("jwks: key %q: use %q, want %q", httpclient.Clip(k.Kid, 60), httpclient.Clip(k.Use, 20), use)
		}
	}
	if err := set.Validate(); err != nil {
		return nil, err
	}
	return set.Keys, nil
}

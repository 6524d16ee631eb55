package webauthn_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/preenroll/preenroll/webauthn"
)

// TestFieldError: a key PublicJWK.Validate or ParseJWKS refuses for one
// of its members gives a *webauthn.FieldError that errors.As finds (inside
// ParseJWKS's error too, which names the key's index), naming the key,
// the member and the problem, wrapping the sentinel; its text is the one
// the package always had, and Reason is that text without the package's
// prefix and the sentinel's.
func TestFieldError(t *testing.T) {
	t.Parallel()
	coord := strings.Repeat("A", 64) // 48 bytes: a coordinate's size, not a point on the curve
	jwks := func(keys ...webauthn.PublicJWK) func() error {
		return func() error {
			b, err := json.Marshal(webauthn.JWKS{Keys: keys})
			if err != nil {
				return err
			}
			_, err = webauthn.ParseJWKS(b)
			return err
		}
	}
	for _, tc := range []struct {
		name   string
		do     func() error
		want   webauthn.FieldError
		text   string // the whole error's
		reason string
	}{
		{"missing y", webauthn.PublicJWK{Kty: "EC", Crv: "P-384", Kid: "k1", Use: "enc", X: coord}.Validate,
			webauthn.FieldError{Scope: `jwk "k1"`, Field: "y", Problem: "missing", Err: webauthn.ErrMalformed},
			`webauthn: jwk "k1": y: missing: webauthn: malformed input`, `jwk "k1": y: missing`},
		{"wrong curve", webauthn.PublicJWK{Kty: "EC", Crv: "P-256", Kid: "k1", Use: "enc", X: coord, Y: coord}.Validate,
			webauthn.FieldError{Scope: `jwk "k1"`, Field: "crv", Problem: `"P-256" not supported, want "P-384"`, Err: webauthn.ErrWrongKey},
			`webauthn: jwk "k1": crv: "P-256" not supported, want "P-384": webauthn: wrong key`, `jwk "k1": crv: "P-256" not supported, want "P-384"`},
		{"ParseJWKS: point off the curve", jwks(webauthn.PublicJWK{Kty: "EC", Crv: "P-384", Kid: "s1", Use: "sig", X: coord, Y: coord}),
			webauthn.FieldError{Scope: `jwk "s1"`, Field: "x/y", Problem: "point is not on curve P-384", Err: webauthn.ErrMalformed},
			`webauthn: parse jwks: keys[0]: webauthn: jwk "s1": x/y: point is not on curve P-384: webauthn: malformed input`, `jwk "s1": x/y: point is not on curve P-384`},
		{"ParseJWKS: no keys", func() error { _, err := webauthn.ParseJWKS([]byte(`{}`)); return err },
			webauthn.FieldError{Scope: "parse jwks", Field: "keys", Problem: "missing", Err: webauthn.ErrMalformed},
			`webauthn: parse jwks: keys: missing: webauthn: malformed input`, "parse jwks: keys: missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			var fe *webauthn.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) holds no *FieldError", err, err)
			}
			if diff := cmp.Diff(tc.want, *fe, cmpopts.EquateErrors()); diff != "" {
				t.Errorf("FieldError (-want +got):\n%s", diff)
			}
			if !errors.Is(err, tc.want.Err) {
				t.Errorf("error %v does not match %v", err, tc.want.Err)
			}
			if got := err.Error(); got != tc.text {
				t.Errorf("Error() = %q, want %q", got, tc.text)
			}
			if got := fe.Reason(); got != tc.reason {
				t.Errorf("Reason() = %q, want %q", got, tc.reason)
			}
		})
	}
}

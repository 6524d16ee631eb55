package webauthn

import (
	"crypto/rand"
	"strings"
	"testing"
)

// FuzzOpenCredentialResponse feeds arbitrary compact strings to the opener:
// it must never panic, and every failure must wrap one of the sentinels.
func FuzzOpenCredentialResponse(f *testing.F) {
	k := keys(f)
	valid, err := SealCredentialResponse(rand.Reader, k.oktaResponse.Public(), k.yubicoSign, sampleCredentialResponse())
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(valid, ".")
	f.Add(valid)
	f.Add(parts[0] + "....")
	f.Add(strings.Join(parts[:4], "."))
	f.Add("eyJhbGciOiJub25lIn0..AA.AA.AA")
	f.Add("")
	ring := Keyring{k.oktaResponse}
	signers := JWKS{Keys: []PublicJWK{k.yubicoSign.Public()}}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := OpenCredentialResponse(ring, signers, in)
		if err != nil {
			if !wrapsSentinel(err) {
				t.Fatalf("OpenCredentialResponse error %v wraps no sentinel", err)
			}
			return
		}
		if err := got.validate("fuzz"); err != nil {
			t.Fatalf("OpenCredentialResponse accepted an invalid response: %v", err)
		}
	})
}

// FuzzParseJWKS checks that ParseJWKS never panics and that what it accepts
// is valid.
func FuzzParseJWKS(f *testing.F) {
	k := keys(f)
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-384","kid":"a","use":"sig","x":"","y":""}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-384","kid":"` + k.yubicoSign.KeyID() + `","use":"sig","x":"` +
		k.yubicoSign.Public().X + `","y":"` + k.yubicoSign.Public().Y + `","x5c":["MII"]}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		set, err := ParseJWKS(in)
		if err != nil {
			if !wrapsSentinel(err) {
				t.Fatalf("ParseJWKS error %v wraps no sentinel", err)
			}
			return
		}
		for _, key := range set.Keys {
			if err := key.Validate(); err != nil {
				t.Fatalf("ParseJWKS accepted invalid key: %v", err)
			}
		}
	})
}

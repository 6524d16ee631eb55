package webauthn

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzOpenCredentialResponse feeds arbitrary compact strings to the opener:
// it must never panic, and every failure must wrap one of the sentinels.
func FuzzOpenCredentialResponse(f *testing.F) {
	k := keys(f)
	valid, err := SealCredentialResponse(k.oktaResponse.Public(), k.yubicoSign, sampleCredentialResponse())
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

// FuzzParseAssertionJSON checks that browser assertion JSON never panics the
// parser and that failures wrap ErrMalformed.
func FuzzParseAssertionJSON(f *testing.F) {
	trusted, _ := cas(f)
	auth := newTestAuthenticator(f, trusted, testAAGUID)
	s := LoginSession{RPID: testRPID, Challenge: []byte("0123456789abcdef"), UserHandle: []byte("h")}
	f.Add(assertionJSON(auth.assert(f, s, assertParams{counter: 1})))
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		if _, err := ParseAssertionJSON(in); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("ParseAssertionJSON error %v does not wrap ErrMalformed", err)
		}
	})
}

// FuzzVerifyPreregistered feeds arbitrary attestation objects and client
// data to the relying party: no panic, every failure wraps a sentinel, and
// nothing but the genuine registration verifies.
func FuzzVerifyPreregistered(f *testing.F) {
	trusted, _ := cas(f)
	rp, _ := newTestRP(f, nil)
	req := sampleCredentialRequest(f)
	auth := newTestAuthenticator(f, trusted, testAAGUID)
	valid := auth.register(f, req, regParams{})
	f.Add(valid.AttestationObject, valid.ClientDataJSON)
	none := auth.register(f, req, regParams{format: "none"})
	f.Add(none.AttestationObject, none.ClientDataJSON)
	f.Add([]byte{0xa0}, []byte(`{}`))
	f.Fuzz(func(t *testing.T, attObj, clientData []byte) {
		resp := valid
		resp.AttestationObject, resp.ClientDataJSON = attObj, clientData
		_, err := rp.VerifyPreregistered(t.Context(), req, resp)
		if err == nil {
			// The attestation signature covers SHA-256(clientDataJSON), so
			// only the genuine client data can verify (a re-encoded
			// attestation object around the same signed bytes may).
			if !bytes.Equal(clientData, valid.ClientDataJSON) {
				t.Fatalf("VerifyPreregistered accepted altered client data %q", clientData)
			}
			return
		}
		if !wrapsSentinel(err) {
			t.Fatalf("VerifyPreregistered error %v wraps no sentinel", err)
		}
	})
}

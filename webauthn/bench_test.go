package webauthn

import (
	"testing"
)

func BenchmarkSealOpenCredentialResponse(b *testing.B) {
	k := keys(b)
	ring := Keyring{k.oktaResponse}
	signers := JWKS{Keys: []PublicJWK{k.yubicoSign.Public()}}
	trusted, _ := cas(b)
	req := sampleCredentialRequest(b)
	resp := newTestAuthenticator(b, trusted, testAAGUID).register(b, req, regParams{})
	to := k.oktaResponse.Public()
	for b.Loop() {
		jwe, err := SealCredentialResponse(to, k.yubicoSign, resp)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := OpenCredentialResponse(ring, signers, jwe); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyAttestation(b *testing.B) {
	trusted, _ := cas(b)
	rp, _ := newTestRP(b, nil)
	req := sampleCredentialRequest(b)
	resp := newTestAuthenticator(b, trusted, testAAGUID).register(b, req, regParams{})
	for b.Loop() {
		if _, err := rp.VerifyPreregistered(b.Context(), req, resp); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyAssertion(b *testing.B) {
	trusted, _ := cas(b)
	rp, _ := newTestRP(b, nil)
	req := sampleCredentialRequest(b)
	auth := newTestAuthenticator(b, trusted, testAAGUID)
	cred, err := rp.VerifyPreregistered(b.Context(), req, auth.register(b, req, regParams{}))
	if err != nil {
		b.Fatal(err)
	}
	_, s, err := rp.BeginLogin(cred.RPID, cred.UserHandle, []Credential{cred})
	if err != nil {
		b.Fatal(err)
	}
	a := auth.assert(b, s, assertParams{counter: 1})
	creds := []Credential{cred}
	for b.Loop() {
		if _, err := rp.FinishLogin(b.Context(), s, creds, a); err != nil {
			b.Fatal(err)
		}
	}
}

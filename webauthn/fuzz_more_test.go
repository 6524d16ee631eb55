package webauthn

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzOpenRequestsAndPINResponse feeds arbitrary compact strings to the
// openers of the other three envelopes (credential request and PIN request
// from Okta, PIN response from Yubico): never a panic, every failure wraps
// a sentinel, and what is accepted validates.
func FuzzOpenRequestsAndPINResponse(f *testing.F) {
	k := keys(f)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	req := sampleCredentialRequest(f)
	req.ExpiresAt = now.Add(time.Hour)
	credReq, err := SealCredentialRequest(k.yubicoTransport.Public(), req)
	if err != nil {
		f.Fatal(err)
	}
	pinReq, err := SealPINRequest(k.yubicoTransport.Public(), PINRequest{Version: MessageVersion, UserID: "00u1abcd", ResponseKey: k.oktaResponse.Public()})
	if err != nil {
		f.Fatal(err)
	}
	pinResp, err := SealPINResponse(k.oktaResponse.Public(), k.yubicoSign, samplePINResponse())
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{credReq, pinReq, pinResp} {
		f.Add(s)
		parts := strings.Split(s, ".")
		f.Add(parts[0] + ".." + parts[2] + "." + parts[3] + ".")
		f.Add(strings.Join(parts[:3], "."))
	}
	f.Add("e30.e30.e30.e30.e30")
	transport := Keyring{k.yubicoTransport}
	okta := Keyring{k.oktaResponse}
	signers := JWKS{Keys: []PublicJWK{k.yubicoSign.Public()}}
	f.Fuzz(func(t *testing.T, in string) {
		check := func(name string, err error) bool {
			if err != nil && !wrapsSentinel(err) {
				t.Fatalf("%s error %v wraps no sentinel", name, err)
			}
			if err != nil && strings.Contains(err.Error(), testPIN) {
				t.Fatalf("%s error shows the PIN", name)
			}
			return err == nil
		}
		if r, err := OpenCredentialRequest(transport, in, now); check("OpenCredentialRequest", err) {
			if err := r.validate("fuzz"); err != nil {
				t.Fatalf("OpenCredentialRequest accepted an invalid request: %v", err)
			}
			if r.ExpiresAt.Before(now) {
				t.Fatalf("OpenCredentialRequest accepted an expired request")
			}
		}
		if r, err := OpenPINRequest(transport, in); check("OpenPINRequest", err) {
			if err := r.validate("fuzz"); err != nil {
				t.Fatalf("OpenPINRequest accepted an invalid request: %v", err)
			}
		}
		if r, err := OpenPINResponse(okta, signers, in); check("OpenPINResponse", err) {
			if err := r.validate("fuzz"); err != nil {
				t.Fatalf("OpenPINResponse accepted an invalid response: %v", err)
			}
			r.PIN.Zero()
		}
	})
}

// FuzzNewCredentialResponse feeds arbitrary browser-shaped attestation JSON
// (what a browser or a PC/SC bridge hands over) to NewCredentialResponse.
func FuzzNewCredentialResponse(f *testing.F) {
	f.Add([]byte(`{"id":"AQID","rawId":"AQID","type":"public-key","response":{"attestationObject":"o2NmbXRkbm9uZQ","clientDataJSON":"e30","transports":["nfc"]}}`))
	f.Add([]byte(`{"id":"AQID","rawId":"AQIE","type":"public-key","response":{}}`))
	f.Add([]byte(`{"response":{"attestationObject":"!!"}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := NewCredentialResponse("00u1abcd", "pfd1enroll", in)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !wrapsSentinel(err) {
				t.Fatalf("NewCredentialResponse error %v wraps no sentinel", err)
			}
			return
		}
		if err := r.validate("fuzz"); err != nil {
			t.Fatalf("NewCredentialResponse returned an invalid response: %v", err)
		}
	})
}

package webauthn_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/preenroll/preenroll/webauthn"
)

// The Yubico factory seals a credential response to Okta's response key and
// signs it; Okta opens it with its keyring and Yubico's signing JWKS.
func ExampleSealCredentialResponse() {
	oktaKey, _ := webauthn.GenerateKey(nil, "okta-response-1", webauthn.UseEncryption)
	yubicoSigner, _ := webauthn.GenerateKey(nil, "yubico-sign-1", webauthn.UseSigning)

	jwe, err := webauthn.SealCredentialResponse(nil, oktaKey.Public(), yubicoSigner, webauthn.CredentialResponse{
		UserID:            "00u1abcd",
		EnrollmentID:      "pfd1enroll",
		CredentialID:      []byte{0xca, 0xfe},
		AttestationObject: []byte{0xa0},
		ClientDataJSON:    []byte(`{}`),
		Transports:        []string{"nfc", "usb"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	signers := webauthn.Keyring{yubicoSigner}.JWKS()
	resp, err := webauthn.OpenCredentialResponse(webauthn.Keyring{oktaKey}, signers, jwe)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("version %d, enrollment %s, credential %x, transports %v\n",
		resp.Version, resp.EnrollmentID, resp.CredentialID, resp.Transports)

	// A response signed by a key that is not in the signing JWKS is refused.
	rogue, _ := webauthn.GenerateKey(nil, "rogue", webauthn.UseSigning)
	forged, _ := webauthn.SealCredentialResponse(nil, oktaKey.Public(), rogue, resp)
	_, err = webauthn.OpenCredentialResponse(webauthn.Keyring{oktaKey}, signers, forged)
	fmt.Println(errors.Is(err, webauthn.ErrBadSignature))
	// Output:
	// version 1, enrollment pfd1enroll, credential cafe, transports [nfc usb]
	// true
}

// Okta seals a credential request to Yubico's transport key; the factory
// opens it and turns it into WebAuthn creation options.
func ExampleSealCredentialRequest() {
	transport, _ := webauthn.GenerateKey(nil, "yubico-transport-1", webauthn.UseEncryption)
	oktaKey, _ := webauthn.GenerateKey(nil, "okta-response-1", webauthn.UseEncryption)
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

	jwe, err := webauthn.SealCredentialRequest(nil, transport.Public(), webauthn.CredentialRequest{
		UserID:           "00u1abcd",
		EnrollmentID:     "pfd1enroll",
		RPID:             "example.okta.com",
		RPName:           "Example",
		UserHandle:       []byte("handle-1"),
		UserName:         "ada@example.com",
		Challenge:        []byte("0123456789abcdef"),
		Algorithms:       []int{-7},
		UserVerification: "required",
		ExpiresAt:        now.Add(24 * time.Hour),
		ResponseKey:      oktaKey.Public(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	req, err := webauthn.OpenCredentialRequest(webauthn.Keyring{transport}, jwe, now)
	if err != nil {
		fmt.Println(err)
		return
	}
	opts := req.CreationOptions()
	fmt.Println(opts.RelyingParty.ID, opts.Attestation, opts.AuthenticatorSelection.UserVerification, req.ResponseKey.Kid)

	_, err = webauthn.OpenCredentialRequest(webauthn.Keyring{transport}, jwe, now.Add(48*time.Hour))
	fmt.Println(errors.Is(err, webauthn.ErrExpired))
	// Output:
	// example.okta.com direct required okta-response-1
	// true
}

// A PIN response never prints its PIN.
func ExampleSecret() {
	resp := webauthn.PINResponse{Version: 1, UserID: "00u1abcd", PIN: webauthn.Secret("12345678")}
	fmt.Printf("%v\n%+v\n", resp, resp.PIN)
	// Output:
	// {1 00u1abcd [REDACTED]}
	// [REDACTED]
}

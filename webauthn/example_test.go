package webauthn_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/preenroll/preenroll/webauthn"
)

// The Yubico factory seals a credential response to Okta's response key and
// signs it; Okta opens it with its keyring and Yubico's signing JWKS.
func ExampleSealCredentialResponse() {
	oktaKey, _ := webauthn.GenerateKey(nil, "okta-response-1", webauthn.UseEncryption)
	yubicoSigner, _ := webauthn.GenerateKey(nil, "yubico-sign-1", webauthn.UseSigning)

	jwe, err := webauthn.SealCredentialResponse(oktaKey.Public(), yubicoSigner, webauthn.CredentialResponse{
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
	forged, _ := webauthn.SealCredentialResponse(oktaKey.Public(), rogue, resp)
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

	jwe, err := webauthn.SealCredentialRequest(transport.Public(), webauthn.CredentialRequest{
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

// Yubico serves its signing keys as a JWKS with extra members (alg, x5c);
// ParseJWKS keeps the P-384 keys and ignores the rest.
func ExampleParseJWKS() {
	signer, _ := webauthn.GenerateKey(nil, "yubico-sign-1", webauthn.UseSigning)
	pub := signer.Public()
	doc := fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-384","kid":%q,"use":"sig","x":%q,"y":%q,"alg":"ES384","x5c":["MIIB..."]}]}`,
		pub.Kid, pub.X, pub.Y)
	set, err := webauthn.ParseJWKS([]byte(doc))
	if err != nil {
		fmt.Println(err)
		return
	}
	k, ok := set.Key("yubico-sign-1")
	fmt.Println(len(set.Keys), ok, k.Use, k.Alg)

	_, err = webauthn.ParseJWKS([]byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"k","use":"sig","x":"AA","y":"AA"}]}`))
	fmt.Println(err)
	// Output:
	// 1 true sig ES384
	// webauthn: parse jwks: keys[0]: webauthn: jwk "k": crv: "P-256" not supported, want "P-384": webauthn: wrong key
}

// A relying party for one Okta org that admits only attested YubiKey 5 NFC
// credentials chaining to the given FIDO root.
func ExampleNew() {
	rp, err := webauthn.New(webauthn.Config{
		RPIDs:              []string{"example.okta.com"},
		TrustRoots:         nil, // e.g. []*x509.Certificate{simulator.DefaultFIDOCA().Root()}
		AllowedAAGUIDs:     []uuid.UUID{uuid.MustParse("2fc0579f-8113-47ea-b116-bb5a8db9202a")},
		RequireAttestation: true,
	})
	fmt.Println(rp == nil, errors.Is(err, webauthn.ErrConfig))
	fmt.Println(err)
	// Output:
	// true true
	// webauthn: new relying party: TrustRoots: empty while RequireAttestation is set: webauthn: invalid configuration
}

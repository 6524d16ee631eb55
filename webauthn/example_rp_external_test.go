package webauthn_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/google/uuid"

	"github.com/preenroll/preenroll/simulator"
	"github.com/preenroll/preenroll/webauthn"
)

// The relying party verifies a credential created out of band for a
// credential request (as Yubico's factory does for Okta), then signs the
// user in with it. A simulated YubiKey, attested by the simulator's own
// FIDO CA, plays the key.
func ExampleRelyingParty_VerifyPreregistered() {
	ctx := context.Background()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	key, err := simulator.New()
	if err != nil {
		log.Fatal(err)
	}
	platform := simulator.NewPlatform(key) // the browser, with the key plugged in
	const pin = "48213957"
	if err := platform.SetPIN(ctx, pin); err != nil {
		log.Fatal(err)
	}
	okta, err := webauthn.GenerateKey(nil, "okta-response-1", webauthn.UseEncryption)
	if err != nil {
		log.Fatal(err)
	}
	rp, err := webauthn.New(webauthn.Config{
		RPIDs:              []string{"example.okta.com"},
		TrustRoots:         []*x509.Certificate{simulator.DefaultFIDOCA().Root()},
		AllowedAAGUIDs:     []uuid.UUID{key.AAGUID()},
		RequireAttestation: true,
		Now:                func() time.Time { return now },
	})
	if err != nil {
		log.Fatal(err)
	}
	req := webauthn.CredentialRequest{
		Version: webauthn.MessageVersion, UserID: "00u1abcd", EnrollmentID: "pfd1enroll",
		RPID: "example.okta.com", RPName: "Example", UserHandle: []byte("handle-1"), UserName: "ada@example.com",
		Challenge: []byte("0123456789abcdef"), Algorithms: []int{-7}, UserVerification: "required",
		ExpiresAt: now.Add(24 * time.Hour), ResponseKey: okta.Public(),
	}
	credJSON, err := platform.CreateCredential(ctx, "https://"+req.RPID, req.CreationOptions(), pin)
	if err != nil {
		log.Fatal(err)
	}
	resp, err := webauthn.NewCredentialResponse(req.UserID, req.EnrollmentID, credJSON)
	if err != nil {
		log.Fatal(err)
	}
	cred, err := rp.VerifyPreregistered(ctx, req, resp)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cred.AttestationType, cred.AAGUID == key.AAGUID(), cred.SignCount)

	options, session, err := rp.BeginLogin(cred.RPID, cred.UserHandle, []webauthn.Credential{cred})
	if err != nil {
		log.Fatal(err)
	}
	assertionJSON, err := platform.GetAssertion(ctx, "https://"+cred.RPID, options, pin)
	if err != nil {
		log.Fatal(err)
	}
	assertion, err := webauthn.ParseAssertionJSON(assertionJSON)
	if err != nil {
		log.Fatal(err)
	}
	cred, err = rp.FinishLogin(ctx, session, []webauthn.Credential{cred}, assertion)
	fmt.Println(cred.SignCount > 0, err)

	// A replayed assertion (or a cloned key) whose counter does not move
	// forward is flagged.
	_, err = rp.FinishLogin(ctx, session, []webauthn.Credential{cred}, assertion)
	fmt.Println(errors.Is(err, webauthn.ErrClonedKey))
	// Output:
	// basic_full true 1
	// true <nil>
	// true
}

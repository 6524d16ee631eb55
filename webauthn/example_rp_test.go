package webauthn

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// The relying party verifies a credential created out of band for a
// credential request, then signs the user in with it. The hand-built
// authenticator below stands in for a YubiKey (package simulator plays that
// role in the integration tests).
func ExampleRelyingParty_VerifyPreregistered() {
	t := panicTB{}
	ca := newTestCA(t, "Example FIDO Root")
	yubiKey := newTestAuthenticator(t, ca, testAAGUID)
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	okta, _ := GenerateKey(nil, "okta-response-1", UseEncryption)

	rp, err := New(Config{
		RPIDs:              []string{"example.okta.com"},
		TrustRoots:         []*x509.Certificate{ca.root},
		AllowedAAGUIDs:     []uuid.UUID{testAAGUID},
		RequireAttestation: true,
		Now:                func() time.Time { return now },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	req := CredentialRequest{
		Version: MessageVersion, UserID: "00u1abcd", EnrollmentID: "pfd1enroll",
		RPID: "example.okta.com", RPName: "Example", UserHandle: []byte("handle-1"), UserName: "ada@example.com",
		Challenge: []byte("0123456789abcdef"), Algorithms: []int{-7}, UserVerification: "required",
		ExpiresAt: now.Add(24 * time.Hour), ResponseKey: okta.Public(),
	}
	cred, err := rp.VerifyPreregistered(context.Background(), req, yubiKey.register(t, req, regParams{}))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cred.AttestationType, cred.AAGUID, cred.SignCount)

	_, session, err := rp.BeginLogin(cred.RPID, cred.UserHandle, []Credential{cred})
	if err != nil {
		fmt.Println(err)
		return
	}
	cred, err = rp.FinishLogin(context.Background(), session, []Credential{cred}, yubiKey.assert(t, session, assertParams{counter: 1}))
	fmt.Println(cred.SignCount, err)

	// A replayed or cloned key whose counter goes backwards is flagged.
	_, err = rp.FinishLogin(context.Background(), session, []Credential{cred}, yubiKey.assert(t, session, assertParams{counter: 1}))
	fmt.Println(errors.Is(err, ErrClonedKey))
	// Output:
	// basic_full 2fc0579f-8113-47ea-b116-bb5a8db9202a 0
	// 1 <nil>
	// true
}

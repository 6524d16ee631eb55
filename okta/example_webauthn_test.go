package okta_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/simulator"
	"github.com/preenroll/preenroll/webauthn"
)

// ExampleClient_VerifyWebAuthnFactor signs a user in through the Authn API
// with a pre-registered key: the fake Okta org, and a simulated YubiKey
// programmed by hand the way Yubico's factory does (see programKey).
func ExampleClient_VerifyWebAuthnFactor() {
	ctx := context.Background()
	const rpID = "example.okta.com"
	srv, err := oktatest.Start(
		oktatest.WithNow(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)),
		oktatest.WithAttestationRoots(simulator.DefaultFIDOCA().Root()), // the simulator's attestation CA
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	c, err := srv.Client()
	if err != nil {
		fmt.Println(err)
		return
	}
	u, err := srv.AddUser(okta.Profile{
		Login: "isaac@example.com", Email: "isaac@example.com", FirstName: "Isaac", LastName: "Brock",
	}, okta.UserActive)
	if err != nil {
		fmt.Println(err)
		return
	}
	const presetPIN, newPIN = "48213957", "135792468"
	platform, err := programKey(ctx, srv, c, u.ID, rpID, presetPIN)
	if err != nil {
		fmt.Println(err)
		return
	}

	// The user signs in: username, then the WebAuthn factor.
	tx, err := c.Authenticate(ctx, okta.AuthnRequest{Username: "isaac@example.com"})
	if err != nil {
		fmt.Println(err)
		return
	}
	factors := tx.WebAuthnFactors()
	fmt.Println(tx.Status, "factors:", len(factors), factors[0].FactorType)
	tx, err = c.ChallengeWebAuthnFactor(ctx, tx.StateToken, factors[0].ID)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tx.Status)
	options, err := tx.WebAuthnRequestOptions(rpID) // for navigator.credentials.get
	if err != nil {
		fmt.Println(err)
		return
	}
	// The factory forced a PIN change: the key refuses the preset PIN.
	_, err = platform.GetAssertionJSON(ctx, "https://"+rpID, options, presetPIN)
	fmt.Println("preset PIN refused:", errors.Is(err, simulator.ErrPINPolicyViolation))
	if err := platform.ChangePIN(ctx, presetPIN, newPIN); err != nil {
		fmt.Println(err)
		return
	}
	credential, err := platform.GetAssertionJSON(ctx, "https://"+rpID, options, newPIN)
	if err != nil {
		fmt.Println(err)
		return
	}
	assertion, err := okta.ParseWebAuthnAssertion(credential)
	if err != nil {
		fmt.Println(err)
		return
	}
	tx, err = c.VerifyWebAuthnFactor(ctx, tx.StateToken, factors[0].ID, assertion)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tx.Status, "session token:", tx.SessionToken) // a Secret prints redacted

	// The first sign-in ended the preset PIN's life in Okta.
	list, err := c.ListEnrollments(ctx, u.ID)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("enrollment:", list[0].Status, "preset PIN available:", list[0].Profile.PresetPINAvailable)
	// Output:
	// MFA_REQUIRED factors: 1 webauthn
	// MFA_CHALLENGE
	// preset PIN refused: true
	// SUCCESS session token: [REDACTED]
	// enrollment: ACTIVE preset PIN available: false
}

// programKey plays Yubico's side for one user: order, enroll with a
// transport key, open Okta's sealed requests, create the credentials on a
// simulated key with a preset PIN (forcing a PIN change), and activate the
// key with sealed responses. It returns the platform the user signs in
// with.
func programKey(ctx context.Context, srv *oktatest.Server, c *okta.Client, userID, rpID, pin string) (*simulator.Platform, error) {
	transport, err := webauthn.GenerateKey(rand.Reader, "APCS-Ttrans-C19881-I009", webauthn.UseEncryption)
	if err != nil {
		return nil, err
	}
	signer, err := webauthn.GenerateKey(rand.Reader, "APCS-Tsgnkey-C19881-H0027616953", webauthn.UseSigning)
	if err != nil {
		return nil, err
	}
	key, err := simulator.New(simulator.WithSerial(3632071))
	if err != nil {
		return nil, err
	}
	platform := simulator.NewPlatform(key)

	err = c.InitiateFulfillment(ctx, okta.FulfillmentRequest{UserID: userID,
		FulfillmentData: okta.FulfillmentData{{ProductID: "1", InventoryProductID: "12", CustomizationID: "2EZ4RZ"}}})
	if err != nil {
		return nil, err
	}
	enr, err := c.Enroll(ctx, okta.EnrollRequest{UserID: userID, RPIDs: []string{rpID}, TransportKey: transport.Public()})
	if err != nil {
		return nil, err
	}
	ring := webauthn.Keyring{transport}
	pinReq, err := webauthn.OpenPINRequest(ring, enr.PINRequestJWE)
	if err != nil {
		return nil, err
	}
	if err := platform.SetPIN(ctx, pin); err != nil {
		return nil, err
	}
	act := okta.ActivateRequest{
		UserID: userID, Serial: strconv.FormatUint(uint64(key.Serial()), 10), Version: key.Firmware().String(),
		SigningKeys: []webauthn.PublicJWK{signer.Public()},
	}
	for _, cr := range enr.CredRequests {
		req, err := webauthn.OpenCredentialRequest(ring, cr.CredRequestJWE, srv.Now())
		if err != nil {
			return nil, err
		}
		credJSON, err := platform.CreateCredential(ctx, "https://"+req.RPID, req.CreationOptions(), pin)
		if err != nil {
			return nil, err
		}
		resp, err := webauthn.NewCredentialResponse(req.UserID, req.EnrollmentID, credJSON)
		if err != nil {
			return nil, err
		}
		sealed, err := webauthn.SealCredentialResponse(req.ResponseKey, signer, resp)
		if err != nil {
			return nil, err
		}
		act.CredResponses = append(act.CredResponses, okta.CredResponse{AuthenticatorEnrollmentID: cr.AuthenticatorEnrollmentID, CredResponseJWE: sealed})
	}
	if err := platform.ForcePINChange(ctx, pin); err != nil {
		return nil, err
	}
	act.PINResponseJWE, err = webauthn.SealPINResponse(pinReq.ResponseKey, signer,
		webauthn.PINResponse{Version: webauthn.MessageVersion, UserID: pinReq.UserID, PIN: webauthn.Secret(pin)})
	if err != nil {
		return nil, err
	}
	if _, err := c.Activate(ctx, act); err != nil {
		return nil, err
	}
	return platform, nil
}

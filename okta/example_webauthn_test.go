package okta_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/simulator"
)

// ExampleClient_VerifyWebAuthnFactor signs a user in through the Authn API
// with a pre-registered key. fulfillmenttest provides the fake Okta org and
// Yubico, orders the key and delivers it; the sign-in below is what a
// browser and an Okta client do.
func ExampleClient_VerifyWebAuthnFactor() {
	ctx := context.Background()
	w := fulfillmenttest.New(fulfillmenttest.LogFatal{}, fulfillmenttest.WithUsers(fulfillmenttest.Employee("isaac")))
	defer w.Close()
	const login = "isaac@example.com"
	if _, err := w.Service.Order(ctx, login); err != nil {
		log.Fatal(err)
	}
	w.AdvanceTo(ctx, fulfillmenttest.Delivered)
	platform := simulator.NewPlatform(w.Parcel(ctx, login)) // the browser, with the key plugged in
	presetPIN := w.PIN(login)                               // from the PIN email
	const newPIN = "135792468"
	c, u, rpID := w.OktaClient, w.User(login), fulfillmenttest.DefaultRPID

	// The user signs in: username, then the WebAuthn factor.
	tx, err := c.Authenticate(ctx, okta.AuthnRequest{Username: login})
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

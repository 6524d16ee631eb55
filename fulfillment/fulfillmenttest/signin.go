package fulfillmenttest

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/simulator"
)

// NewPIN is the PIN [World.SignIn] chooses when a delivered key demands a
// new one before its first use.
const NewPIN = "31415926"

// PIN returns the PIN in the newest PIN email to the user (login or Okta
// ID), at either of the user's addresses: Okta sends a STAGED user's PIN to
// the secondary email and an ACTIVE user's to the primary one. No PIN email
// fails the test. See [oktatest.Server.PIN] to read a given address.
func (w *World) PIN(login string) string {
	w.tb.Helper()
	u := w.User(login)
	mails := w.Okta.Outbox()
	for i := len(mails) - 1; i >= 0; i-- {
		m := mails[i]
		if m.IsPIN() && (strings.EqualFold(m.To, u.Profile.Email) || (u.Profile.SecondEmail != "" && strings.EqualFold(m.To, u.Profile.SecondEmail))) {
			pin, err := m.PIN()
			if err != nil {
				w.fail("PIN(%s): %v", login, err)
			}
			return pin
		}
	}
	w.fail("PIN(%s): no PIN email to %s or %s in the outbox (%d emails)", login, u.Profile.Email, u.Profile.SecondEmail, len(mails))
	return ""
}

// Parcel opens the parcel Yubico shipped to the user (login or Okta ID):
// the simulated YubiKey programmed for them, once the shipment is
// [Shipped] or [Delivered]. The shipment is the one in the user's record
// in Config.Store; when that store has no record of the user, or one
// without a shipment, the one Service.Status returns (a test that put a
// Service of its own in Service and left Config as it was: the other
// methods use Service too). No shipment yet fails the test.
func (w *World) Parcel(ctx context.Context, login string) *simulator.Key {
	w.tb.Helper()
	id := w.User(login).ID
	rec, err := w.Config.Store.Get(ctx, id)
	if (err == nil && rec.ShipmentID == "") || errors.Is(err, fulfillment.ErrRecordNotFound) {
		// Config.Store may not be Service's: ask Service (a read and
		// a reconciliation with Okta, only on this path).
		rec, err = w.Service.Status(ctx, id)
	}
	if err != nil {
		w.fail("Parcel(%s): %v", login, err)
		return nil
	}
	if rec.ShipmentID == "" {
		w.fail("Parcel(%s): the record has no shipment yet (%s at step %s)", login, rec.Status, rec.Step)
		return nil
	}
	key, err := w.Yubico.Parcel(rec.ShipmentID)
	if err != nil {
		w.fail("Parcel(%s): %v", login, err)
		return nil
	}
	return key
}

// SignIn signs the user (login or Okta ID) in to the Okta org with key, as
// on the first day: a STAGED user's account is activated first (by HR, on
// the first day); if the key demands a new PIN before its first use, as a
// pre-enrolled key does, pin (the PIN from the email) is changed to
// [NewPIN]; then, through Okta's Authn API, the key's WebAuthn factor is
// challenged, the key makes a PIN-verified assertion for the World's RP ID
// (Config.RPIDs[0]) through a [simulator.Platform] (the browser), and Okta
// verifies it. Okta wipes the preset PIN at the first successful sign-in;
// the next Sync sees it and the key becomes Active. A sign-in that does not
// end in SUCCESS fails the test.
func (w *World) SignIn(ctx context.Context, login string, key *simulator.Key, pin string) {
	w.tb.Helper()
	u := w.User(login)
	if err := w.signIn(ctx, u, key, pin); err != nil {
		w.fail("SignIn(%s): %v", login, err)
	}
}

func (w *World) signIn(ctx context.Context, u okta.User, key *simulator.Key, pin string) error {
	if key == nil {
		return fmt.Errorf("no key")
	}
	p := simulator.NewPlatform(key)
	defer p.ForgetKeyAgreement()
	if key.Snapshot().FIDO.ForcePINChange {
		if err := p.ChangePIN(ctx, pin, NewPIN); err != nil {
			return fmt.Errorf("change the emailed PIN: %w", err)
		}
		pin = NewPIN
	}
	if u.Status == okta.UserStaged {
		if err := w.OktaClient.ActivateUser(ctx, u.ID, false); err != nil {
			return fmt.Errorf("activate the STAGED user: %w", err)
		}
	}
	c := w.OktaClient
	tx, err := c.Authenticate(ctx, okta.AuthnRequest{Username: u.Profile.Login})
	if err != nil {
		return err
	}
	factors := tx.WebAuthnFactors()
	if len(factors) == 0 {
		return fmt.Errorf("Okta offers no WebAuthn factor (Authn status %s)", tx.Status)
	}
	if tx, err = c.ChallengeWebAuthnFactor(ctx, tx.StateToken, factors[0].ID); err != nil {
		return err
	}
	rpID := w.Config.RPIDs[0]
	options, err := tx.WebAuthnRequestOptions(rpID)
	if err != nil {
		return err
	}
	credential, err := p.GetAssertionJSON(ctx, "https://"+rpID, options, pin)
	if err != nil {
		return fmt.Errorf("the key's assertion: %w", err)
	}
	assertion, err := okta.ParseWebAuthnAssertion(credential)
	if err != nil {
		return err
	}
	if tx, err = c.VerifyWebAuthnFactor(ctx, tx.StateToken, factors[0].ID, assertion); err != nil {
		return err
	}
	if tx.Status != okta.AuthnSuccess {
		return fmt.Errorf("Authn status %s, want %s", tx.Status, okta.AuthnSuccess)
	}
	return nil
}

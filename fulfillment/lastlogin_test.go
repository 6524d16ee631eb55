package fulfillment_test

import (
	"errors"
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/okta"
)

// TestActiveUserWhoSignedInNeedsNoSecondEmail: Okta's lastLogin decides
// whether an ACTIVE user can read the primary mailbox. One who signed in
// before is ordered without a secondary email, and Yubico and the PIN email
// use the primary one; one who never signed in is refused, naming
// secondEmail.
func TestActiveUserWhoSignedInNeedsNoSecondEmail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOption{})
	ctx := t.Context()
	noSecond := func(p *okta.Profile) { p.SecondEmail = "" }
	never := e.addUser(1, okta.UserActive, noSecond)
	signedIn := e.addUser(2, okta.UserActive, noSecond)
	if err := e.Okta.SetLastLogin(signedIn.ID, e.Okta.Now().Add(-72*time.Hour)); err != nil {
		t.Fatal(err)
	}

	_, err := e.Service.Order(ctx, never.ID)
	var verr *fulfillment.ValidationError
	if !errors.As(err, &verr) || !errors.Is(err, fulfillment.ErrInvalidShipping) ||
		len(verr.Fields) != 1 || verr.Fields[0].Field != "secondEmail" {
		t.Fatalf("Order(ACTIVE, never signed in, no secondEmail) = %v, want ErrInvalidShipping naming only secondEmail", err)
	}
	if es := e.Okta.Enrollments(never.ID); len(es) != 0 {
		t.Errorf("a refused order reached Okta: %+v", es)
	}

	// PrepareUser checks the merged profile the same way.
	if _, err := e.Service.PrepareUser(ctx, fulfillment.Profile{Login: never.Profile.Login, City: "Cambridge"}, fulfillment.ExistingUser); !errors.Is(err, fulfillment.ErrInvalidShipping) {
		t.Errorf("PrepareUser(never signed in) = %v, want ErrInvalidShipping", err)
	}
	if _, err := e.Service.PrepareUser(ctx, fulfillment.Profile{Login: signedIn.Profile.Login, City: "Cambridge"}, fulfillment.ExistingUser); err != nil {
		t.Errorf("PrepareUser(signed in) = %v", err)
	}

	if _, err := e.Service.Order(ctx, signedIn.ID); err != nil {
		t.Fatalf("Order(ACTIVE, signed in, no secondEmail) = %v", err)
	}
	e.sync()
	rec := e.wantStatus(signedIn.ID, fulfillment.FulfillmentStarted, fulfillment.StepShipmentCreated)
	sh, ok := e.Yubico.Shipment(rec.ShipmentID)
	if !ok || sh.RecipientEmail != signedIn.Profile.Email {
		t.Errorf("shipment %s recipient email = %q (found %v), want the primary %q", rec.ShipmentID, sh.RecipientEmail, ok, signedIn.Profile.Email)
	}
	e.shipThrough()
	if pin := e.pinFor(signedIn.Profile.Email); pin == "" {
		t.Error("no PIN in the email to the primary address")
	}
}

package fulfillmenttest_test

import (
	"testing"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
)

// TestNewHireOnboarding is the test a user writes for an onboarding
// service: a new hire's key is ordered, shipped, the PIN emailed, and the
// first sign-in makes it Active and wipes the PIN at Okta.
func TestNewHireOnboarding(t *testing.T) {
	ctx, w := t.Context(), fulfillmenttest.New(t)
	hire := w.AddUser(fulfillmenttest.NewHire("ada"))
	if _, err := w.Service.Order(ctx, hire.Profile.Login); err != nil {
		t.Fatal(err)
	}
	w.AdvanceUntil(ctx, hire.Profile.Login, fulfillment.Shipped)
	pin, err := w.Okta.PIN(hire.Profile.SecondEmail) // a new hire's PIN goes home
	if err != nil {
		t.Fatal(err)
	}
	w.SignIn(ctx, hire.Profile.Login, w.Parcel(ctx, hire.Profile.Login), pin)
	rec := w.AdvanceUntil(ctx, hire.Profile.Login, fulfillment.Active)
	if !w.Okta.PINWiped(rec.Enrollments[0].ID) {
		t.Error("Okta still holds the PIN after the first sign-in")
	}
}

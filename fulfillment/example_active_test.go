package fulfillment_test

import (
	"context"
	"fmt"
	"log"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
)

// ExampleService_active follows a new hire's key all the way with the
// fulfillmenttest harness: ordered, programmed and shipped by the fake
// Yubico, the PIN emailed by the fake Okta, and the first sign-in with the
// delivered (simulated) key, after which Sync sees the preset PIN wiped and
// the key Active. In a test, pass t instead of LogFatal{}.
func ExampleService_active() {
	ctx := context.Background()
	w := fulfillmenttest.New(fulfillmenttest.LogFatal{})
	defer w.Close()
	user, err := w.Service.PrepareUser(ctx, fulfillment.Profile{
		Login: "ada@example.com", Email: "ada@example.com", SecondEmail: "ada@home.example.net",
		FirstName: "Ada", LastName: "Lovelace", PrimaryPhone: "+1 617 555 0100", Organization: "Example Inc",
		StreetAddress: "1 Main Street", City: "Boston", State: "MA", ZipCode: "02110", CountryCode: "US",
	}, fulfillment.NewUser)
	if err != nil {
		log.Fatal(err)
	}
	show := func(when string, rec fulfillment.Record) {
		fmt.Printf("%-10s %-20s %s\n", when, rec.Status.Label(), rec.Step)
	}

	rec, err := w.Service.Order(ctx, user)
	if err != nil {
		log.Fatal(err)
	}
	show("ordered", rec)
	w.AdvanceTo(ctx, fulfillmenttest.Programmed) // the daily fulfillment batch
	show("programmed", w.Status(ctx, user))
	w.AdvanceTo(ctx, fulfillmenttest.Shipped) // the carrier picks the parcel up
	show("shipped", w.Status(ctx, user))
	w.AdvanceTo(ctx, fulfillmenttest.Delivered)
	show("delivered", w.Status(ctx, user))

	// The user reads the PIN email, unpacks the key, and signs in with it
	// (changing the PIN the key asks to change).
	w.SignIn(ctx, user, w.Parcel(ctx, user), w.PIN(user))
	show("signed in", w.AdvanceUntil(ctx, user, fulfillment.Active))
	// Output:
	// ordered    Fulfillment started  initiated
	// programmed Fulfillment started  shipment-created
	// shipped    Shipped              pin-sent
	// delivered  Shipped              pin-sent
	// signed in  Active               active
}

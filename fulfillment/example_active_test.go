package fulfillment_test

import (
	"context"
	"fmt"
	"log"
	"regexp"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/simulator"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// ExampleService_active follows a new hire's key all the way: ordered,
// programmed and shipped by the fake Yubico, the PIN emailed by the fake
// Okta, and the first sign-in with the delivered (simulated) key, after
// which Sync sees the preset PIN wiped and the key Active.
func ExampleService_active() {
	ctx := context.Background()
	const rpID = "example.okta.com"
	ys, err := yubicotest.Start(yubicotest.WithRand(newSeeded(1)))
	if err != nil {
		log.Fatal(err)
	}
	defer ys.Close()
	ok, err := oktatest.Start(oktatest.WithRand(newSeeded(2)), oktatest.WithNow(ys.Now()),
		oktatest.WithAttestationRoots(ys.FIDOCA().Root()))
	if err != nil {
		log.Fatal(err)
	}
	defer ok.Close()
	oc, err := ok.Client()
	if err != nil {
		log.Fatal(err)
	}
	svc, err := fulfillment.New(fulfillment.Config{
		Okta:     oc,
		Yubico:   ys.Client(),
		Store:    fulfillment.NewMemoryStore(),
		RPIDs:    []string{rpID},
		Defaults: fulfillment.Item{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"},
		Clock:    ys.Now,
	})
	if err != nil {
		log.Fatal(err)
	}
	user, err := svc.PrepareUser(ctx, fulfillment.Profile{
		Login: "ada@example.com", Email: "ada@example.com", SecondEmail: "ada@home.example.net",
		FirstName: "Ada", LastName: "Lovelace", PrimaryPhone: "+1 617 555 0100", Organization: "Example Inc",
		StreetAddress: "1 Main Street", City: "Boston", State: "MA", ZipCode: "02110", CountryCode: "US",
	}, fulfillment.NewUser)
	if err != nil {
		log.Fatal(err)
	}
	show := func(when string) fulfillment.Record {
		rec, err := svc.Status(ctx, user)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%-10s %-20s %s\n", when, rec.Status.Label(), rec.Step)
		return rec
	}
	// advance moves both fakes' clocks, then runs the Service's Sync as
	// Service.Run would on its ticker.
	advance := func(d time.Duration) {
		if err := ys.Advance(d); err != nil {
			log.Fatal(err)
		}
		ok.Advance(d)
		if _, err := svc.Sync(ctx); err != nil {
			log.Fatal(err)
		}
	}

	if _, err := svc.Order(ctx, user); err != nil {
		log.Fatal(err)
	}
	show("ordered")
	advance(30 * time.Minute) // Yubico validates the address
	show("validated")
	advance(ys.NextBatch().Sub(ys.Now()) + time.Minute) // the daily fulfillment batch
	show("programmed")
	advance(25 * time.Hour) // the carrier picks the parcel up
	rec := show("shipped")
	advance(48 * time.Hour) // delivered
	show("delivered")

	// The user reads the PIN email, unpacks the key, activates the account,
	// changes the PIN and signs in with the key.
	pinLine := regexp.MustCompile(`\n\s+(\d{4,63})\s*\n`) // the PIN's line in the email
	var pin string
	for _, m := range ok.Outbox() {
		if sm := pinLine.FindStringSubmatch(m.Body); m.Subject == "Your YubiKey PIN" && sm != nil {
			pin = sm[1]
		}
	}
	key, err := ys.Parcel(rec.ShipmentID)
	if err != nil {
		log.Fatal(err)
	}
	platform := simulator.NewPlatform(key)
	const newPIN = "31415926"
	if err := platform.ChangePIN(ctx, pin, newPIN); err != nil {
		log.Fatal(err)
	}
	if err := oc.ActivateUser(ctx, user, false); err != nil {
		log.Fatal(err)
	}
	tx, err := oc.Authenticate(ctx, okta.AuthnRequest{Username: "ada@example.com"})
	if err != nil {
		log.Fatal(err)
	}
	factor := tx.WebAuthnFactors()[0]
	if tx, err = oc.ChallengeWebAuthnFactor(ctx, tx.StateToken, factor.ID); err != nil {
		log.Fatal(err)
	}
	options, err := tx.WebAuthnRequestOptions(rpID)
	if err != nil {
		log.Fatal(err)
	}
	credential, err := platform.GetAssertionJSON(ctx, "https://"+rpID, options, newPIN)
	if err != nil {
		log.Fatal(err)
	}
	assertion, err := okta.ParseWebAuthnAssertion(credential)
	if err != nil {
		log.Fatal(err)
	}
	if tx, err = oc.VerifyWebAuthnFactor(ctx, tx.StateToken, factor.ID, assertion); err != nil {
		log.Fatal(err)
	}
	fmt.Println("sign-in:", tx.Status)
	advance(time.Hour) // the next Sync
	show("signed in")
	// Output:
	// ordered    Fulfillment started  initiated
	// validated  Fulfillment started  shipment-created
	// programmed Fulfillment started  shipment-created
	// shipped    Shipped              pin-sent
	// delivered  Shipped              pin-sent
	// sign-in: SUCCESS
	// signed in  Active               active
}

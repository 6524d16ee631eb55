package fulfillment_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// ExampleService orders a key for one user against the fake Okta and fake
// Yubico, and follows it until Okta has emailed the PIN.
func ExampleService() {
	ctx := context.Background()
	ys, err := yubicotest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer ys.Close()
	ok, err := oktatest.Start(oktatest.WithNow(ys.Now()),
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
		RPIDs:    []string{"example.okta.com"},
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
	show := func(when string) {
		rec, err := svc.Status(ctx, user)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%-22s %-20s %s\n", when, rec.Status.Label(), rec.Step)
	}

	if _, err := svc.Order(ctx, user); err != nil {
		log.Fatal(err)
	}
	show("ordered")
	// step moves both fakes' clocks to the next transition Yubico has
	// scheduled (address validation, the daily batch, the carrier's
	// pick-up), then runs Sync as Service.Run would on its schedule.
	step := func() {
		if next, due := ys.NextTransition(); due {
			if err := ys.SetNow(next); err != nil {
				log.Fatal(err)
			}
			if ok.Now().Before(next) { // Okta's may be ahead: its client waits out rate limits on it
				if err := ok.SetNow(next); err != nil {
					log.Fatal(err)
				}
			}
		}
		if _, err := svc.Sync(ctx); err != nil {
			log.Fatal(err)
		}
	}
	if _, err := svc.Sync(ctx); err != nil {
		log.Fatal(err)
	}
	show("shipment created")
	step()
	show("address validated")
	step()
	show("programmed")
	step()
	show("shipped")
	for _, m := range ok.Outbox() {
		if m.Subject == "Your YubiKey PIN" {
			fmt.Println("PIN emailed to", m.To)
		}
	}
	// Output:
	// ordered                Fulfillment started  initiated
	// shipment created       Fulfillment started  shipment-created
	// address validated      Fulfillment started  shipment-created
	// programmed             Fulfillment started  shipment-created
	// shipped                Shipped              pin-sent
	// PIN emailed to ada@home.example.net
}

// ExampleOpenSQLite keeps the records in an SQLite file, so that a program
// restarted after a crash resumes where it stopped.
func ExampleOpenSQLite() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "preenroll")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := fulfillment.OpenSQLite(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	rec, err := store.Put(ctx, fulfillment.Record{UserID: "00u1", Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepInitiated})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("version", rec.Version)
	// A writer that read an older version loses the compare-and-swap.
	stale := rec
	stale.Version = 0
	_, err = store.Put(ctx, stale)
	fmt.Println(errors.Is(err, fulfillment.ErrVersionConflict))
	// Output:
	// version 1
	// true
}

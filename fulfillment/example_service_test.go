package fulfillment_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
)

// ExampleService builds a Service from its Config and follows one new
// hire's key from the order to the first sign-in. The fake Okta org and
// the fake Yubico, with clients to both, come from a fulfillmenttest
// World; a program passes clients of the real ones (okta.NewClient,
// yubico.NewClient)
// and leaves Clock nil. In a test, pass t instead of LogFatal{}.
func ExampleService() {
	ctx := context.Background()
	w := fulfillmenttest.New(fulfillmenttest.LogFatal{}, fulfillmenttest.WithoutEventHook())
	defer w.Close()
	cfg := fulfillment.Config{
		Okta:     w.OktaClient,
		Yubico:   w.YubicoClient,
		Store:    fulfillment.NewMemoryStore(),
		RPIDs:    []string{"example.okta.com"},
		Defaults: fulfillment.Item{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"},
		Clock:    w.Now, // the fakes' clock
	}
	svc, err := fulfillment.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	w.Service, w.Config = svc, cfg // the World's methods use this Service
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
		fmt.Printf("%-10s %-20s %s\n", when, rec.Status.Label(), rec.Step)
	}

	if _, err := svc.Order(ctx, user); err != nil {
		log.Fatal(err)
	}
	show("ordered")
	// AdvanceTo moves both fakes' clocks through the transitions Yubico
	// has scheduled, running Sync after each as Service.Run would.
	w.AdvanceTo(ctx, fulfillmenttest.Programmed) // the daily fulfillment batch
	show("programmed")
	w.AdvanceTo(ctx, fulfillmenttest.Shipped) // the carrier picks the parcel up
	show("shipped")
	for _, m := range w.Okta.Outbox() {
		if m.IsPIN() {
			fmt.Println("PIN emailed to", m.To)
		}
	}
	w.AdvanceTo(ctx, fulfillmenttest.Delivered)
	show("delivered")

	// The user reads the PIN email, unpacks the key, and signs in with it
	// (changing the PIN the key asks to change); the next Sync sees the
	// preset PIN wiped and the key Active.
	w.SignIn(ctx, user, w.Parcel(ctx, user), w.PIN(user))
	if _, err := svc.Sync(ctx); err != nil {
		log.Fatal(err)
	}
	show("signed in")
	// Output:
	// ordered    Fulfillment started  initiated
	// programmed Fulfillment started  shipment-created
	// shipped    Shipped              pin-sent
	// PIN emailed to ada@home.example.net
	// delivered  Shipped              pin-sent
	// signed in  Active               active
}

// ExampleService_Status shows which name of a user each method takes:
// Order looks a login up at Okta, while Status, Retry, Delete, ResendPIN
// and Check take the Okta user ID the record is kept under
// (Record.UserID), and find no record for a login.
func ExampleService_Status() {
	ctx := context.Background()
	w := fulfillmenttest.New(fulfillmenttest.LogFatal{}, fulfillmenttest.WithUsers(fulfillmenttest.Employee("grace")))
	defer w.Close()
	rec, err := w.Service.Order(ctx, "grace@example.com")
	if err != nil {
		log.Fatal(err)
	}
	_, err = w.Service.Status(ctx, "grace@example.com")
	fmt.Println("by login: no record:", errors.Is(err, fulfillment.ErrRecordNotFound))
	rec, err = w.Service.Status(ctx, rec.UserID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("by user ID:", rec.Login, rec.Status.Label())
	// A login from elsewhere (a form, an HR export): read its ID from Okta.
	u, err := w.OktaClient.GetUser(ctx, "grace@example.com")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same record:", u.ID == rec.UserID)
	// Output:
	// by login: no record: true
	// by user ID: grace@example.com Fulfillment started
	// same record: true
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

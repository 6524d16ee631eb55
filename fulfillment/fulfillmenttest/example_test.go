package fulfillmenttest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/okta"
)

// Example follows a new hire's key from the order to the first sign-in.
// In a test, pass t to New instead of LogFatal{} (and drop the Close).
func Example() {
	ctx := context.Background()
	w := fulfillmenttest.New(fulfillmenttest.LogFatal{})
	defer w.Close()
	login := w.AddUser(fulfillmenttest.NewHire("ada")).Profile.Login
	show := func(when string, rec fulfillment.Record) {
		fmt.Printf("%-10s %-20s %s\n", when, rec.Status.Label(), rec.Step)
	}

	rec, err := w.Service.Order(ctx, login)
	if err != nil {
		log.Fatal(err)
	}
	show("ordered", rec)
	w.AdvanceTo(ctx, fulfillmenttest.Programmed)
	show("programmed", w.Status(ctx, login))
	show("shipped", w.AdvanceUntil(ctx, login, fulfillment.Shipped))
	for _, m := range w.Okta.Outbox() {
		if m.IsPIN() {
			fmt.Println("PIN emailed to", m.To)
		}
	}
	w.AdvanceTo(ctx, fulfillmenttest.Delivered)
	key := w.Parcel(ctx, login)
	fmt.Println("parcel holds the recorded key:", w.Status(ctx, login).Serial == fmt.Sprint(key.Serial()))
	w.SignIn(ctx, login, key, w.PIN(login))
	rec = w.AdvanceUntil(ctx, login, fulfillment.Active)
	show("signed in", rec)
	fmt.Println("PIN wiped at Okta:", w.Okta.PINWiped(rec.Enrollments[0].ID))
	// Output:
	// ordered    Fulfillment started  initiated
	// programmed Fulfillment started  shipment-created
	// shipped    Shipped              pin-sent
	// PIN emailed to ada@home.example.net
	// parcel holds the recorded key: true
	// signed in  Active               active
	// PIN wiped at Okta: true
}

// ExampleWorld_AdvanceTo moves two users' keys through Yubico's
// milestones; the Service activates each key and has Okta email its PIN
// when Yubico ships it, and records the delivery. Each line is the
// Service's record of the key.
func ExampleWorld_AdvanceTo() {
	ctx := context.Background()
	w := fulfillmenttest.New(fulfillmenttest.LogFatal{},
		fulfillmenttest.WithUsers(fulfillmenttest.NewHire("ada"), fulfillmenttest.Employee("grace")))
	defer w.Close()
	users := []string{"ada@example.com", "grace@example.com"}
	for _, login := range users {
		if _, err := w.Service.Order(ctx, login); err != nil {
			log.Fatal(err)
		}
	}
	for _, m := range []fulfillmenttest.Milestone{fulfillmenttest.Programmed, fulfillmenttest.Shipped, fulfillmenttest.Delivered} {
		w.AdvanceTo(ctx, m)
		for _, login := range users {
			rec := w.Status(ctx, login)
			fmt.Printf("%-10s %-17s Yubico state %d, %s, delivered: %v\n", m, login, rec.ShipmentState, rec.Status.Label(), !rec.DeliveredAt.IsZero())
		}
	}
	// Output:
	// programmed ada@example.com   Yubico state 10, Fulfillment started, delivered: false
	// programmed grace@example.com Yubico state 10, Fulfillment started, delivered: false
	// shipped    ada@example.com   Yubico state 103, Shipped, delivered: false
	// shipped    grace@example.com Yubico state 103, Shipped, delivered: false
	// delivered  ada@example.com   Yubico state 104, Shipped, delivered: true
	// delivered  grace@example.com Yubico state 104, Shipped, delivered: true
}

// ExampleWorld_AdvanceUntil_undeliverable: Yubico cannot deliver to the
// address, and the record says so; AdvanceUntil to any other status would
// fail the test with that reason.
func ExampleWorld_AdvanceUntil_undeliverable() {
	ctx := context.Background()
	w := fulfillmenttest.New(fulfillmenttest.LogFatal{})
	defer w.Close()
	bob := fulfillmenttest.Employee("bob")
	bob.Profile.StreetAddress, bob.Profile.City, bob.Profile.State, bob.Profile.ZipCode = "123 XYZ", "Nowhere", "NY", "11111"
	w.AddUser(bob)
	if _, err := w.Service.Order(ctx, "bob@example.com"); err != nil {
		log.Fatal(err)
	}
	rec := w.AdvanceUntil(ctx, "bob@example.com", fulfillment.FulfillmentErrored)
	fmt.Println(rec.Status.Label(), "at", rec.FailedStep)
	fmt.Println("Yubico state", int(rec.ShipmentState), strings.Contains(rec.Reason, "Address is undeliverable"))
	// Output:
	// Fulfillment errored at shipment-created
	// Yubico state 7 true
}

// Example_eventHook shows what an event hook handler receives when a key is
// ordered at Okta itself (in the Admin Console, or by another tool): this
// handler reads the payload, then passes the request on to the Service's
// handler, which records the order.
func Example_eventHook() {
	ctx := context.Background()
	w := fulfillmenttest.New(fulfillmenttest.LogFatal{}, fulfillmenttest.WithoutEventHook())
	defer w.Close()
	hire := w.AddUser(fulfillmenttest.NewHire("ada"))

	type target struct {
		Type        string            `json:"type"`
		AlternateID string            `json:"alternateId"`
		DetailEntry map[string]string `json:"detailEntry"`
	}
	var payload struct {
		EventType string `json:"eventType"`
		Data      struct {
			Events []struct {
				EventType string   `json:"eventType"`
				Target    []target `json:"target"`
			} `json:"events"`
		} `json:"data"`
	}
	service := w.Service.EventHandler()
	hook := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(rw, "cannot read body", http.StatusBadRequest)
				return
			}
			if err := json.Unmarshal(body, &payload); err != nil {
				http.Error(rw, "malformed body", http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		service.ServeHTTP(rw, r) // GET is Okta's one-time verification
	}))
	defer hook.Close()
	if _, err := w.Okta.AddEventHook(ctx, hook.URL, w.Config.EventHookSecret.Reveal(), okta.EventTypePreregisterInitiate); err != nil {
		log.Fatal(err)
	}

	// An administrator orders a key for Ada at Okta.
	if err := w.OktaClient.InitiateFulfillment(ctx, okta.FulfillmentRequest{UserID: hire.ID,
		FulfillmentData: okta.FulfillmentData{{ProductID: "29", InventoryProductID: "106", CustomizationID: "CONSOLE1"}}}); err != nil {
		log.Fatal(err)
	}
	ds, err := w.Okta.AwaitDeliveries(ctx, 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("delivery answered", ds[0].Status)
	fmt.Println(payload.EventType)
	ev := payload.Data.Events[0]
	fmt.Println(ev.EventType)
	for _, t := range ev.Target {
		fmt.Println("target", t.Type, t.AlternateID)
	}
	d := ev.Target[1].DetailEntry
	fmt.Println("detail", d["fulfillmentProvider"], d["yubicoProductId"], d["yubicoInventoryProductId"], d["yubicoCustomizationId"])
	rec := w.Status(ctx, "ada@example.com")
	fmt.Println("recorded:", rec.Status.Label(), rec.Step, rec.Items[0].ProductID)
	// Output:
	// delivery answered 200
	// com.okta.event_hook
	// system.mfa.preregister.initiate
	// target User ada@example.com
	// target PreregistrationMFAFactorResourceDetails webauthn
	// detail yubico 29 106 CONSOLE1
	// recorded: Fulfillment started initiated 29
}

// ExampleWithService tests the Service a program builds (here with a
// SQLite store and its own settings): the World hands over its Config (the
// fakes' clients, the fake clock, the hook's secret), drives the Service
// returned, and registers that Service's event hook at Okta, so a key
// ordered at Okta reaches it. In a test, open the store in t.TempDir()
// before New and close it in a t.Cleanup.
func ExampleWithService() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "fulfillmenttest-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := fulfillment.OpenSQLite(ctx, filepath.Join(dir, "preenroll.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close() // after the World's Close
	w := fulfillmenttest.New(fulfillmenttest.LogFatal{}, fulfillmenttest.WithService(func(cfg *fulfillment.Config) (*fulfillment.Service, error) {
		cfg.Store, cfg.Concurrency = store, 2 // the program's choices
		return fulfillment.New(*cfg)
	}))
	defer w.Close()
	hire := w.AddUser(fulfillmenttest.NewHire("ada"))

	// An administrator orders a key for Ada at Okta.
	if err := w.OktaClient.InitiateFulfillment(ctx, okta.FulfillmentRequest{UserID: hire.ID,
		FulfillmentData: okta.FulfillmentData{{ProductID: "29", InventoryProductID: "106", CustomizationID: "CONSOLE1"}}}); err != nil {
		log.Fatal(err)
	}
	w.AdvanceUntil(ctx, "ada@example.com", fulfillment.Shipped)
	w.SignIn(ctx, "ada@example.com", w.Parcel(ctx, "ada@example.com"), w.PIN("ada@example.com"))
	w.AdvanceUntil(ctx, "ada@example.com", fulfillment.Active)
	rec, err := store.Get(ctx, hire.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("in the program's store:", rec.Status.Label(), rec.Items[0].ProductID)
	// Output:
	// in the program's store: Active 29
}

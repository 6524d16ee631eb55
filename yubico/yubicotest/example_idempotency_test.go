package yubicotest_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/preenroll/preenroll/yubico"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// A create whose response is lost after the shipment was made: with an
// idempotency key the client retries, and the fake answers the retry with
// the shipment it already made instead of making a second one.
func ExampleServer_DropResponseAfterCommit() {
	srv, err := yubicotest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client(yubico.WithRetryPolicy(yubico.RetryPolicy{MaxRetries: 2, Backoff: func(int) time.Duration { return time.Millisecond }}))

	if err := srv.DropResponseAfterCommit(1); err != nil {
		log.Fatal(err)
	}
	s, err := c.CreateShipment(context.Background(), yubico.ShipmentRequest{
		Recipient:          "Example Inc.",
		RecipientTelephone: "555-5555",
		Address: yubico.Address{StreetLine1: "7788 Foxrun Street", City: "Dedham", Region: "MA",
			PostalCode: "02026", CountryCode: "US"},
		Items:          []yubico.ItemRequest{{ProductID: 1, InventoryProductID: 1, Quantity: 1}},
		IdempotencyKey: "order-2026-0042",
	})
	if err != nil {
		log.Fatal(err)
	}
	all := srv.Shipments()
	fmt.Println("shipments:", len(all), "same ID:", all[0].ID == s.ID)
	for _, r := range srv.RequestLog() {
		if r.Method == http.MethodPost {
			fmt.Println(r.Method, r.Path, "status", r.Status, "replayed", r.Replayed)
		}
	}
	// Output:
	// shipments: 1 same ID: true
	// POST /v1/shipments_exact status 0 replayed false
	// POST /v1/shipments_exact status 200 replayed true
}

package yubico_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/preenroll/preenroll/yubico"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

func ExampleNewClient() {
	// Production: yubico.NewClient(yubico.DefaultBaseURL, token,
	//     yubico.WithJWKSBaseURL("https://console.yubico.com")).
	srv, err := yubicotest.Start(yubicotest.WithToken("example-token"))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	c, err := yubico.NewClient(srv.URL(), "example-token")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Replace(c.String(), srv.URL(), "http://127.0.0.1:PORT/v1", 1)) // never prints the token
	inv, err := c.Inventory(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for _, b := range inv[:2] {
		fmt.Println(b.ProductID, b.ProductName, b.Quantity)
	}
	// Output:
	// yubico.Client{http://127.0.0.1:PORT/v1}
	// 1 YubiKey 5 NFC 100
	// 29 YubiKey 5C NFC 100
}

func ExampleClient_SearchShipments() {
	srv, err := yubicotest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client()
	ctx := context.Background()

	for _, street := range []string{"1 Main St", "123 XYZ", "2 Main St"} {
		city, zip := "Dedham", "02026"
		if street == "123 XYZ" {
			city, zip = "Nowhere", "11111" // Yubico's own example of an undeliverable address
		}
		_, err := c.CreateShipment(ctx, yubico.ShipmentRequest{
			Recipient: "Example Inc.", RecipientTelephone: "555-5555", RecipientLastName: street,
			Address: yubico.Address{StreetLine1: street, City: city, Region: "MA", PostalCode: zip, CountryCode: "US"},
			Items:   []yubico.ItemRequest{{ProductID: 1, InventoryProductID: 1, Quantity: 1}},
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	if err := srv.Advance(15 * time.Minute); err != nil { // address validation runs
		log.Fatal(err)
	}
	for s, err := range c.SearchShipments(ctx, "shipment_state_id", "7") {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(s.StreetLine1, "→", s.State)
	}
	// Output:
	// 123 XYZ → Address is undeliverable or could not be understood
}

func ExampleAPIError() {
	srv, err := yubicotest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	_, err = srv.Client().Shipment(context.Background(), "NoSuchShipmentXXXXXXXX")
	var ae *yubico.APIError
	fmt.Println(errors.Is(err, yubico.ErrNotFound), errors.As(err, &ae), ae.StatusCode, ae.Code)
	// Output:
	// true true 400 invalid_shipment_id
}

func ExampleShipmentState() {
	for _, s := range []yubico.ShipmentState{yubico.StateDPLMatch, yubico.StateSentToFulfillment, yubico.StateDelivered} {
		fmt.Printf("%d %q editable=%v ready=%v failed=%v\n", int(s), s, s.Editable(), s.ResponsesReady(), s.Failed())
	}
	// Output:
	// 9 "Error: DPL Match" editable=true ready=false failed=true
	// 10 "Sent to Fulfillment" editable=false ready=false failed=false
	// 104 "Delivered" editable=false ready=true failed=false
}

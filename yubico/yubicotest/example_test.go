package yubicotest_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log"
	"time"

	"github.com/preenroll/preenroll/simulator"
	"github.com/preenroll/preenroll/webauthn"
	"github.com/preenroll/preenroll/yubico"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// A plain shipment through its whole life: the fake's clock moves only when
// told to.
func ExampleServer() {
	srv, err := yubicotest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client()
	ctx := context.Background()

	s, err := c.CreateShipment(ctx, yubico.ShipmentRequest{
		Recipient:          "Example Inc.",
		RecipientTelephone: "555-5555",
		Address: yubico.Address{StreetLine1: "7788 Foxrun Street", City: "Dedham", Region: "MA",
			PostalCode: "02026", CountryCode: "US"},
		Items: []yubico.ItemRequest{{ProductID: 1, InventoryProductID: 1, Quantity: 1}},
	})
	if err != nil {
		log.Fatal(err)
	}
	show := func() {
		s, err := c.Shipment(ctx, s.ID)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(int(s.State), s.State)
	}
	show()
	if err := srv.SetNow(srv.NextBatch()); err != nil { // validation every 15 min, then the 03:00 batch
		log.Fatal(err)
	}
	show()
	if err := srv.Advance(24 * time.Hour); err != nil {
		log.Fatal(err)
	}
	show()
	if err := srv.Advance(48 * time.Hour); err != nil {
		log.Fatal(err)
	}
	show()
	// Output:
	// 3 Awaiting Validation
	// 10 Sent to Fulfillment
	// 103 Shipment Shipped
	// 104 Delivered
}

// A FIDO Pre-reg shipment: the identity provider seals its requests to
// Yubico's transport key, the fake's factory programs a simulated YubiKey,
// and the user receives it with a PIN that must be changed first.
func ExampleServer_Parcel() {
	srv, err := yubicotest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client()
	ctx := context.Background()

	// The identity provider's side (Okta's enroll does this).
	okta, err := webauthn.GenerateKey(rand.Reader, "okta-response-1", webauthn.UseEncryption)
	if err != nil {
		log.Fatal(err)
	}
	tk, err := c.TransportKeys(ctx)
	if err != nil {
		log.Fatal(err)
	}
	to := tk[0]
	pinReq, err := webauthn.SealPINRequest(to, webauthn.PINRequest{Version: webauthn.MessageVersion, UserID: "00u1", ResponseKey: okta.Public()})
	if err != nil {
		log.Fatal(err)
	}
	credReq, err := webauthn.SealCredentialRequest(to, webauthn.CredentialRequest{
		Version: webauthn.MessageVersion, UserID: "00u1", EnrollmentID: "pfd1", RPID: "example.okta.com", RPName: "Example",
		UserHandle: []byte("00u1"), UserName: "jan@example.com", UserDisplayName: "Jan", Challenge: make([]byte, 32),
		Algorithms: []int{-7}, ResidentKey: true, UserVerification: "required",
		ExpiresAt: srv.Now().Add(30 * 24 * time.Hour), ResponseKey: okta.Public(),
	})
	if err != nil {
		log.Fatal(err)
	}

	s, err := c.CreateFPRShipment(ctx, yubico.NewFPRShipmentRequest(
		yubico.FPRRecipient{Company: "Example Inc.", Telephone: "555-5555"},
		yubico.Address{StreetLine1: "1 Main St", City: "Dedham", Region: "MA", PostalCode: "02026", CountryCode: "US"},
		1, 106, "CID-1", pinReq, []string{credReq}))
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.SetNow(srv.NextBatch().Add(24 * time.Hour)); err != nil { // programmed at the batch, shipped a day later
		log.Fatal(err)
	}

	got, err := c.FPRShipment(ctx, s.ID)
	if err != nil {
		log.Fatal(err)
	}
	pd, _ := got.ProductData()
	fmt.Println(int(got.State.ID), "serial", pd.SerialNumber, "responses", len(pd.CredentialResponses))

	// Okta opens the PIN response and emails the PIN.
	pin, err := webauthn.OpenPINResponse(webauthn.Keyring{okta}, srv.SigningJWKS(), pd.PINResponse)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("PIN digits:", len(pin.PIN), "printed as", pin.PIN)

	// The user plugs in the key and must change the PIN.
	key, err := srv.Parcel(s.ID)
	if err != nil {
		log.Fatal(err)
	}
	p := simulator.NewPlatform(key)
	if err := p.ChangePIN(ctx, string(pin.PIN), "58203741"); err != nil {
		log.Fatal(err)
	}
	fmt.Println("PIN changed on key", key.Serial())
	// Output:
	// 103 serial 31000001 responses 1
	// PIN digits: 8 printed as [REDACTED]
	// PIN changed on key 31000001
}

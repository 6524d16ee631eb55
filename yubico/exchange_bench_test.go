package yubico_test

import (
	"testing"

	"github.com/preenroll/preenroll/internal/testhttp"
	"github.com/preenroll/preenroll/yubico"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// BenchmarkExchange measures one HTTP exchange through the production
// client and the fake Yubico over loopback: GET /v1/shipments_exact/{id}
// ("get-shipment", the shape of the lifecycle's shipment reads) and
// GET /.well-known/yubico-transport-keys.jwks ("transport-keys"). cpu-ns/op
// is the process's CPU time (client, server and garbage collector) per
// exchange, which a machine shared with other work does not inflate as it
// does ns/op.
func BenchmarkExchange(b *testing.B) {
	srv := yubicotest.NewServer(b)
	c := srv.Client()
	s, err := c.CreateShipment(b.Context(), yubico.ShipmentRequest{
		DeliveryType: yubico.DeliveryNormal, Recipient: "Example Inc.", RecipientEmail: "jan.lindberg@example.com",
		RecipientFirstName: "Jan", RecipientLastName: "Lindberg", RecipientTelephone: "555-5555",
		Address: yubico.Address{StreetLine1: "7788 Foxrun Street", City: "Dedham", Region: "MA", PostalCode: "02026", CountryCode: "US"},
		Items:   []yubico.ItemRequest{{ProductID: 1, InventoryProductID: 1, Quantity: 1}},
	})
	if err != nil {
		b.Fatal(err)
	}
	testhttp.BenchExchanges(b,
		testhttp.Exchange{Name: "get-shipment", Call: func(b *testing.B) error {
			got, err := c.Shipment(b.Context(), s.ID)
			if err == nil && got.ID != s.ID {
				b.Fatalf("Shipment = %q, want %q", got.ID, s.ID)
			}
			return err
		}},
		testhttp.Exchange{Name: "transport-keys", Call: func(b *testing.B) error {
			keys, err := c.TransportKeys(b.Context())
			if err == nil && len(keys) == 0 {
				b.Fatal("TransportKeys = no keys")
			}
			return err
		}},
	)
}

package yubico_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/preenroll/preenroll/internal/testhttp"
	"github.com/preenroll/preenroll/yubico"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// BenchmarkExchange measures one HTTP exchange through the production
// client and the fake Yubico over loopback, with an http.Client as
// NewClient's default and fulfillmenttest's (30 s timeout, keep-alive
// transport): GET /v1/shipments_exact/{id} ("get-shipment/ours", the
// shape of the lifecycle's shipment reads) and GET
// /.well-known/yubico-transport-keys.jwks ("transport-keys/ours"), each
// followed by bare net/http's exchange of a body of the same size
// ("…/net-http", see testhttp.Floor). cpu-ns/op is the process's CPU time
// (client, server and garbage collector) per exchange, which a machine
// shared with other work does not inflate as it does ns/op.
func BenchmarkExchange(b *testing.B) {
	srv := yubicotest.NewServer(b)
	tr := &http.Transport{}
	b.Cleanup(tr.CloseIdleConnections)
	c := srv.Client(yubico.WithHTTPClient(&http.Client{Transport: tr, Timeout: 30 * time.Second}))
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
		testhttp.Exchange{Name: "get-shipment", Size: testhttp.BodySize(b, srv.URL()+"/shipments_exact/"+s.ID, "Bearer "+srv.Token()), Call: func(b *testing.B) error {
			got, err := c.Shipment(b.Context(), s.ID)
			if err == nil && got.ID != s.ID {
				b.Fatalf("Shipment = %q, want %q", got.ID, s.ID)
			}
			return err
		}},
		testhttp.Exchange{Name: "transport-keys", Size: testhttp.BodySize(b, srv.ConsoleURL()+yubico.TransportKeysPath, ""), Call: func(b *testing.B) error {
			keys, err := c.TransportKeys(b.Context())
			if err == nil && len(keys) == 0 {
				b.Fatal("TransportKeys = no keys")
			}
			return err
		}},
	)
}

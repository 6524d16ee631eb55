package yubicotest_test

import (
	"testing"
	"time"

	"github.com/preenroll/preenroll/yubico"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// BenchmarkFPRFactory measures one FIDO Pre-reg shipment from create to
// shipped: HTTP create, opening the requests, programming a simulated key
// (PIN, one credential through the FIDO2 applet, force-PIN-change), sealing
// the responses, HTTP get.
func BenchmarkFPRFactory(b *testing.B) {
	srv := newServer(b, yubicotest.WithInventory(yubicotest.Bucket{ProductID: 1, Quantity: 1 << 30}))
	c := srv.Client()
	o := newOkta(b, c, srv.Now().Add(50*365*24*time.Hour), "example.okta.com")
	req := fprRequest(o)
	req.Items[0].InventoryProductID = 1
	b.ResetTimer()
	for b.Loop() {
		s, err := c.CreateFPRShipment(b.Context(), req)
		if err != nil {
			b.Fatal(err)
		}
		if err := srv.SetNow(srv.NextBatch().Add(24 * time.Hour)); err != nil {
			b.Fatal(err)
		}
		got, err := c.FPRShipment(b.Context(), s.ID)
		if err != nil || got.State.ID != yubico.StateShipped {
			b.Fatalf("state %v, %v (messages %q)", got.State.ID, err, srv.Messages(s.ID))
		}
	}
}

// BenchmarkCreateShipment measures POST /v1/shipments_exact through the
// production client and the fake's validation.
func BenchmarkCreateShipment(b *testing.B) {
	srv := newServer(b)
	c := srv.Client()
	req := exactRequest()
	for b.Loop() {
		if _, err := c.CreateShipment(b.Context(), req); err != nil {
			b.Fatal(err)
		}
	}
}

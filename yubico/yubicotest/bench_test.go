package yubicotest_test

import (
	"context"
	"fmt"
	"runtime"
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

// BenchmarkListShipments measures GET /v1/shipments_exact through the
// production client with 1,000 and 10,000 shipments: one page of 100 from
// the middle ("page"), the same page with a filter every shipment matches
// ("filter-all") and with one only one shipment matches ("filter-one"), and
// every page in turn, as Client.Shipments reads them ("all-pages"; one op
// is n/100 requests).
func BenchmarkListShipments(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		srv := newServer(b)
		c := srv.Client()
		mid := createShipments(b, c, n, nil)[n/2]
		runtime.GC() // the creates' garbage is not the lists' cost
		listPage := func(b *testing.B, o yubico.ListOptions, want int) {
			for b.Loop() {
				p, err := c.ListShipments(b.Context(), o)
				if err != nil || len(p.Shipments) != want {
					b.Fatalf("ListShipments(%+v) = %d shipments, %v; want %d", o, len(p.Shipments), err, want)
				}
			}
		}
		b.Run(fmt.Sprintf("n=%d/page", n), func(b *testing.B) {
			listPage(b, yubico.ListOptions{Offset: n / 2}, yubico.MaxPageSize)
		})
		b.Run(fmt.Sprintf("n=%d/filter-all", n), func(b *testing.B) {
			listPage(b, yubico.ListOptions{Offset: n / 2, SearchField: "shipment_state_id", Search: "3"}, yubico.MaxPageSize)
		})
		b.Run(fmt.Sprintf("n=%d/filter-one", n), func(b *testing.B) {
			listPage(b, yubico.ListOptions{SearchField: "shipment_id", Search: mid}, 1)
		})
		b.Run(fmt.Sprintf("n=%d/all-pages", n), func(b *testing.B) {
			for b.Loop() {
				got := 0
				for _, err := range c.Shipments(b.Context(), yubico.ListOptions{}) {
					if err != nil {
						b.Fatal(err)
					}
					got++
				}
				if got != n {
					b.Fatalf("listed %d shipments, want %d", got, n)
				}
			}
		})
	}
}

// BenchmarkCreateFPRParallel measures concurrent POST /v1/fpr/shipments
// (one PIN request and one credential request each, opened with the
// transport key: ECDH-ES and AES-GCM per JWE) from GOMAXPROCS goroutines;
// run it with -cpu 2 to compare creates that open their requests under the
// server's lock with creates that do not.
func BenchmarkCreateFPRParallel(b *testing.B) {
	srv := newServer(b)
	c := srv.Client()
	req := fprRequest(newOkta(b, c, srv.Now(), "example.okta.com"))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.CreateFPRShipment(context.Background(), req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

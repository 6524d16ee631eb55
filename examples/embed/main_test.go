package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/okta"
)

// TestServe runs the embedding against the fakes: Okta verifies the hook
// mounted in our server, an order's event arrives through it, and
// Service.Run (woken by the event) enrolls the key and creates the Yubico
// shipment. Cancelling the context shuts everything down cleanly.
func TestServe(t *testing.T) {
	t.Parallel()
	// Both fakes on one clock, with clients; our server builds its own
	// Service, so the World's hook stays unregistered.
	w := fulfillmenttest.New(t, fulfillmenttest.WithoutEventHook())
	osrv, ysrv, oc := w.Okta, w.Yubico, w.OktaClient
	u := w.AddUser(fulfillmenttest.NewHire("jan")) // a valid shipping profile
	store := fulfillment.NewMemoryStore()
	const secret = "hook-secret-0123456789"
	svc, err := fulfillment.New(fulfillment.Config{Okta: oc, Yubico: w.YubicoClient, Store: store,
		RPIDs: []string{"example.okta.com"}, EventHookSecret: secret, Clock: w.Now})
	if err != nil {
		t.Fatal(err)
	}
	// Subscribe tells each change of a record: the test waits for the
	// shipment's creation there, not by polling the store.
	created := make(chan fulfillment.RecordChange, 1)
	defer svc.Subscribe(t.Context(), func(c fulfillment.RecordChange) {
		if c.UserID == u.ID && c.Step == fulfillment.StepShipmentCreated {
			select {
			case created <- c:
			default:
			}
		}
	})()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, svc) }()
	base := "http://" + ln.Addr().String()

	// Your own route answers beside the hook.
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Errorf("/healthz = %d %q", resp.StatusCode, body)
	}
	// Okta refuses to register a hook that does not verify.
	if _, err := osrv.AddEventHook(t.Context(), base+"/okta/events", "wrong-secret"); err == nil {
		t.Error("a hook with the wrong secret verified")
	}
	if _, err := osrv.AddEventHook(t.Context(), base+"/okta/events", secret); err != nil {
		t.Fatal(err)
	}
	// An administrator (or Okta Workflows) orders the key at Okta.
	if err := oc.InitiateFulfillment(t.Context(), okta.FulfillmentRequest{UserID: u.ID, FulfillmentProvider: okta.ProviderYubico,
		FulfillmentData: okta.FulfillmentData{{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"}}}); err != nil {
		t.Fatal(err)
	}
	wait, stop := context.WithTimeout(t.Context(), 30*time.Second)
	defer stop()
	if ds, err := osrv.AwaitDeliveries(wait, 1); err != nil || ds[0].Status != http.StatusOK {
		t.Fatalf("deliveries %+v, %v", ds, err)
	}
	// Run, woken by the event, ships the key within a pass or two.
	select {
	case <-created:
	case <-wait.Done():
		rec, err := store.Get(t.Context(), u.ID)
		t.Fatalf("no shipment after the event; record %+v, %v", rec, err)
	}
	rec, err := store.Get(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if shipments := ysrv.Shipments(); len(shipments) != 1 || rec.Status != fulfillment.FulfillmentStarted {
		t.Errorf("%d shipments, record %s at %s", len(shipments), rec.Status, rec.Step)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve after cancel = %v, want nil", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("the server still answers after shutdown")
	}
}

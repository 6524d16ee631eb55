package fulfillmenttest_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/okta"
)

// TestWithService: a test's own Service (a SQLite store in t.TempDir()),
// built by WithService from the World's Config, gets the orders made at
// Okta through the hook the World registered for it, and the World's
// methods drive it to Active; World.Config is the Config it was built
// with.
func TestWithService(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store, err := fulfillment.OpenSQLite(ctx, filepath.Join(t.TempDir(), "preenroll.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() }) // after the World's Close, registered later
	var given fulfillment.Config
	w := fulfillmenttest.New(t, fulfillmenttest.WithService(func(cfg *fulfillment.Config) (*fulfillment.Service, error) {
		given = *cfg
		cfg.Store = store
		return fulfillment.New(*cfg)
	}))
	if given.Okta != w.OktaClient || given.Yubico != w.YubicoClient || given.Clock == nil || given.EventHookSecret == "" {
		t.Errorf("WithService's function got Config{Okta: %v, Yubico: %v, Clock set: %v, EventHookSecret set: %v}, want the World's clients, clock and secret",
			given.Okta, given.Yubico, given.Clock != nil, given.EventHookSecret != "")
	}
	if w.Config.Store != store {
		t.Errorf("World.Config.Store is %T, want the store the Service was built with", w.Config.Store)
	}

	// An administrator orders a key at Okta: only the hook tells the Service.
	hire := w.AddUser(fulfillmenttest.NewHire("ada"))
	if err := w.OktaClient.InitiateFulfillment(ctx, okta.FulfillmentRequest{UserID: hire.ID,
		FulfillmentData: okta.FulfillmentData{{ProductID: "29", InventoryProductID: "106", CustomizationID: "CONSOLE1"}}}); err != nil {
		t.Fatal(err)
	}
	w.AwaitEvents(ctx)
	if _, err := store.Get(ctx, hire.ID); err != nil {
		t.Fatalf("the order made at Okta is not in the test's store: %v", err)
	}
	w.AdvanceUntil(ctx, hire.ID, fulfillment.Shipped)
	w.SignIn(ctx, hire.ID, w.Parcel(ctx, hire.ID), w.PIN(hire.ID))
	w.AdvanceUntil(ctx, hire.ID, fulfillment.Active)

	rec, err := store.Get(ctx, hire.ID)
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		Status     fulfillment.Status
		Product    string   // the one ordered at Okta, not the Config's default
		Deliveries []string // Okta's deliveries to the hook
	}
	got := outcome{Status: rec.Status, Product: rec.Items[0].ProductID}
	for _, d := range w.Okta.Deliveries() {
		got.Deliveries = append(got.Deliveries, fmt.Sprintf("%s %d", d.EventType, d.Status))
	}
	want := outcome{Status: fulfillment.Active, Product: "29", Deliveries: []string{okta.EventTypePreregisterInitiate + " 200"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the test's Service after the lifecycle (-want +got):\n%s", diff)
	}
}

// TestWithServiceFailures: WithService's function failing, returning no
// Service, or missing fails the test, and nothing is left running.
func TestWithServiceFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		build func(*fulfillment.Config) (*fulfillment.Service, error)
		want  string
	}{
		{"error", func(*fulfillment.Config) (*fulfillment.Service, error) { return nil, errors.New("no database") },
			"fulfillmenttest: WithService: no database"},
		{"nil Service", func(*fulfillment.Config) (*fulfillment.Service, error) { return nil, nil },
			"fulfillmenttest: WithService: the function returned a nil Service and no error"},
		{"nil function", nil, "fulfillmenttest: WithService: nil function"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := &recorder{}
			w := fulfillmenttest.New(r, fulfillmenttest.WithService(tc.build))
			defer w.Close()
			if diff := cmp.Diff(tc.want, r.msg); diff != "" {
				t.Errorf("New's failure (-want +got):\n%s", diff)
			}
			if w.Service != nil {
				t.Error("World.Service is set after a failure")
			}
		})
	}
}

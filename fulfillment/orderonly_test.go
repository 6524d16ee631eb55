package fulfillment_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/okta"
)

// TestOrderOnlyService: a Service made without Config.Yubico orders
// (PrepareUser, Order, OrderBatch, the event hook) into a Store that
// another Service, with Yubico, syncs; it answers Status and ResendPIN; and
// it refuses Sync, Run, Retry and Delete of a shipped key with
// ErrInvalidConfig naming Config.Yubico, changing nothing.
func TestOrderOnlyService(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOption{noHook: true})
	ctx := t.Context()
	cfg := e.Config
	cfg.Yubico = nil
	orders, err := fulfillment.New(cfg)
	if err != nil {
		t.Fatalf("New without Yubico: %v", err)
	}
	hook := httptest.NewServer(orders.EventHandler())
	t.Cleanup(hook.Close)
	if _, err := e.Okta.AddEventHook(ctx, hook.URL, e.Config.EventHookSecret.Reveal(), okta.EventTypePreregisterInitiate); err != nil {
		t.Fatal(err)
	}
	wantConfigErr := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, fulfillment.ErrInvalidConfig) || !strings.Contains(err.Error(), "Config.Yubico") {
			t.Errorf("%s = %v, want ErrInvalidConfig naming Config.Yubico", what, err)
		}
	}

	// Ordering works: one user prepared and ordered, two in a batch, one
	// from an Okta event.
	p := profile(1)
	prepared, err := orders.PrepareUser(ctx, fulfillment.Profile{
		Login: p.Login, Email: p.Email, SecondEmail: p.SecondEmail, FirstName: p.FirstName, LastName: p.LastName,
		PrimaryPhone: p.PrimaryPhone, StreetAddress: p.StreetAddress, City: p.City, State: p.State,
		ZipCode: p.ZipCode, CountryCode: p.CountryCode, Organization: p.Organization,
	}, fulfillment.NewUser)
	if err != nil {
		t.Fatalf("PrepareUser: %v", err)
	}
	if _, err := orders.Order(ctx, prepared); err != nil {
		t.Fatalf("Order: %v", err)
	}
	b1, b2 := e.addUser(2, okta.UserStaged, nil), e.addUser(3, okta.UserActive, nil)
	rep, err := orders.OrderBatch(ctx, []string{b1.ID, b2.Profile.Login}, fulfillment.BatchOptions{})
	if err != nil || rep.Ordered != 2 {
		t.Fatalf("OrderBatch = %+v, %v; want 2 ordered", rep, err)
	}
	ev := e.addUser(4, okta.UserStaged, nil)
	e.orderAtOkta(ev.ID, defaultItem)
	// Okta emits an event for every order, the Service's own included
	// (those the handler de-duplicates by user).
	ds := e.awaitDeliveries(4)
	for _, d := range ds {
		if d.Status != 200 {
			t.Errorf("event delivery %+v, want 200", d)
		}
	}
	ordered := []string{prepared, b1.ID, b2.ID, ev.ID}
	for _, id := range ordered {
		if rec, err := orders.Status(ctx, id); err != nil || rec.Status != fulfillment.FulfillmentStarted || rec.Step != fulfillment.StepInitiated {
			t.Errorf("Status(%s) after ordering = %s/%s, %v; want Fulfillment started/initiated", id, rec.Status, rec.Step, err)
		}
	}

	// What needs Yubico is refused.
	_, err = orders.Sync(ctx)
	wantConfigErr("Sync", err)
	cancelled, cancel := context.WithCancel(ctx)
	cancel() // without the check Run would return context.Canceled
	wantConfigErr("Run", orders.Run(cancelled))
	_, err = orders.Retry(ctx, prepared)
	wantConfigErr("Retry", err)
	if rec := e.status(prepared); rec.Step != fulfillment.StepInitiated || len(rec.History) == 0 {
		t.Errorf("record after the refusals: step %s", rec.Step)
	}

	// The Service with Yubico syncs the shared store; the order-only one
	// cannot delete a key that has a shipment, but can one that has not.
	e.sync()
	shipped := e.wantStatus(b1.ID, fulfillment.FulfillmentStarted, fulfillment.StepShipmentCreated)
	wantConfigErr("Delete(with a shipment)", orders.Delete(ctx, b1.ID))
	if rec := e.status(b1.ID); rec.Status != fulfillment.FulfillmentStarted || rec.Step != fulfillment.StepShipmentCreated || rec.Version != shipped.Version {
		t.Errorf("a refused Delete changed the record: %s/%s version %d, was %d", rec.Status, rec.Step, rec.Version, shipped.Version)
	}
	late := e.addUser(5, okta.UserStaged, nil)
	if _, err := orders.Order(ctx, late.ID); err != nil {
		t.Fatal(err)
	}
	// Okta's event for this order reaches the hook in the background; it
	// is handled (in flight: de-duplicated by user) before the Delete.
	if _, err := e.Okta.AwaitQueuedDeliveries(ctx); err != nil {
		t.Fatal(err)
	}
	if err := orders.Delete(ctx, late.ID); err != nil {
		t.Errorf("Delete(no shipment) = %v", err)
	}
	e.wantStatus(late.ID, fulfillment.Deleted, fulfillment.StepDeleted)

	// Once shipped, the order-only Service resends the PIN.
	e.shipThrough()
	e.wantStatus(b1.ID, fulfillment.Shipped, fulfillment.StepPINSent)
	before := len(e.Okta.Outbox())
	if err := orders.ResendPIN(ctx, b1.ID); err != nil {
		t.Fatalf("ResendPIN: %v", err)
	}
	if out := e.Okta.Outbox(); len(out) != before+1 || out[len(out)-1].To != b1.Profile.SecondEmail {
		t.Errorf("ResendPIN sent %d emails, want 1 to %s", len(out)-before, b1.Profile.SecondEmail)
	}
}

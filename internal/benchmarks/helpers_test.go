package benchmarks_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// world is a fulfillmenttest World (a fake Okta org and a fake Yubico with
// a Service between them, all over loopback HTTP) with plenty of stock
// and no event hook, as the benchmarks measure the Service's own calls.
type world struct {
	*fulfillmenttest.World
	tb   testing.TB
	next int // next user number
}

type worldOptions struct {
	okta   []oktatest.Option
	yubico []yubicotest.Option
	oktaC  []okta.Option
	stock  int
	config func(*fulfillment.Config)
	store  fulfillment.Store // nil: the World's MemoryStore
}

func newWorld(tb testing.TB, o worldOptions) *world {
	tb.Helper()
	stock := max(o.stock, 1_000_000)
	w := fulfillmenttest.New(tb, fulfillmenttest.WithoutEventHook(), fulfillmenttest.WithHTTPTimeout(60*time.Second),
		fulfillmenttest.WithYubico(yubicotest.WithInventory(
			yubicotest.Bucket{ProductID: 1, Quantity: stock},
			yubicotest.Bucket{ProductID: 29, Quantity: stock},
			yubicotest.Bucket{ProductID: 106, Quantity: stock, InventoryType: 3, ProductTier: 3,
				ProductMapping: []int{1, 29}, Subscription: true, Virtual: true},
		)), fulfillmenttest.WithYubico(o.yubico...),
		fulfillmenttest.WithOkta(o.okta...), fulfillmenttest.WithOktaClient(o.oktaC...),
		fulfillmenttest.WithStore(o.store),
		fulfillmenttest.WithConfig(func(c *fulfillment.Config) {
			// The numbers in BENCHMARKS.md were measured without keyed
			// creates (the fake keeps a record per key).
			c.IdempotentShipments = false
			if o.config != nil {
				o.config(c)
			}
		}))
	return &world{World: w, tb: tb}
}

// addUsers seeds n ACTIVE Okta users with valid profiles and returns them.
func (w *world) addUsers(n int) []okta.User {
	w.tb.Helper()
	users := make([]okta.User, n)
	for i := range users {
		users[i] = w.AddUser(fulfillmenttest.Employee(fmt.Sprintf("user%06d", w.next)))
		w.next++
	}
	return users
}

func (w *world) sync(ctx context.Context) {
	w.tb.Helper()
	if rep := w.Sync(ctx); len(rep.Failures) > 0 {
		w.tb.Fatalf("Sync: %d failures, first: %v", len(rep.Failures), rep.Failures[0].Err)
	}
}

// lifecycle takes the given users' keys from order to Active: order, enroll
// and create the shipment, validation, the factory batch (the fake
// programs a simulated key per user), shipping, activate and send-pin, then
// each user changes the PIN and signs in to Okta with the key, and a last
// Sync sees the first sign-in.
func (w *world) lifecycle(ctx context.Context, users []okta.User) {
	w.tb.Helper()
	for _, u := range users {
		if _, err := w.Service.Order(ctx, u.ID); err != nil {
			w.tb.Fatalf("Order: %v", err)
		}
	}
	// enroll, create the shipment, then Sync after validation, the batch
	// and shipping (activate, send-pin)
	if rep := w.AdvanceTo(ctx, fulfillmenttest.Shipped); len(rep.Failures) > 0 {
		w.tb.Fatalf("Sync: %d failures, first: %v", len(rep.Failures), rep.Failures[0].Err)
	}
	for _, u := range users {
		rec, err := w.Service.Status(ctx, u.ID)
		if err != nil || rec.Status != fulfillment.Shipped {
			w.tb.Fatalf("user %s: %s (%q) %v, want Shipped", u.ID, rec.Status, rec.Reason, err)
		}
		w.SignIn(ctx, u.ID, w.Parcel(ctx, u.ID), w.PIN(u.ID))
	}
	w.sync(ctx) // first sign-in seen
	for _, u := range users {
		rec, err := w.Service.Status(ctx, u.ID)
		if err != nil || rec.Status != fulfillment.Active {
			w.tb.Fatalf("user %s: %s (%q) %v, want Active", u.ID, rec.Status, rec.Reason, err)
		}
	}
}

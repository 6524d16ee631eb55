package oktatest_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// ExampleServer seeds a user, drives the fake through the production
// client and inspects what happened.
func ExampleServer() {
	srv, err := oktatest.Start(oktatest.WithNow(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	u, err := srv.AddUser(okta.Profile{
		Login: "isaac@example.com", Email: "isaac@example.com", SecondEmail: "isaac@home.example",
		FirstName: "Isaac", LastName: "Brock",
	}, okta.UserStaged)
	if err != nil {
		fmt.Println(err)
		return
	}
	var events []string
	c, err := srv.Client()
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	err = c.InitiateFulfillment(ctx, okta.FulfillmentRequest{
		UserID:          u.ID,
		FulfillmentData: okta.FulfillmentData{{ProductID: "1", InventoryProductID: "12", CustomizationID: "2EZ4RZ"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range srv.Events() {
		events = append(events, e.EventType+" product "+e.Order.ProductID)
	}
	fmt.Println(strings.Join(events, "\n"))
	if err := c.ActivateUser(ctx, u.ID, true); err != nil {
		fmt.Println(err)
		return
	}
	got, _ := srv.User(u.ID)
	fmt.Println(got.Status, got.Activated.Format(time.RFC3339))
	for _, m := range srv.Outbox() {
		fmt.Println("mail to", m.To+":", m.Subject)
	}
	for _, r := range srv.RequestLog() {
		fmt.Println(r.Method, strings.ReplaceAll(r.Path, u.ID, "{id}"), r.Status)
	}
	// Output:
	// system.mfa.preregister.initiate product 1
	// ACTIVE 2026-03-01T09:00:00Z
	// mail to isaac@example.com: Welcome to Okta
	// mail to isaac@home.example: Welcome to Okta
	// POST /webauthn-registration/api/v1/initiate-fulfillment-request 204
	// POST /api/v1/users/{id}/lifecycle/activate 200
}

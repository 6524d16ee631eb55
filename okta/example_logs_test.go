package okta_test

import (
	"context"
	"fmt"
	"time"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// ExampleClient_ListLogEvents reads back from the System Log an order that
// no event hook received (none was registered when it was placed).
func ExampleClient_ListLogEvents() {
	ctx := context.Background()
	srv, err := oktatest.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	c, err := srv.Client()
	if err != nil {
		fmt.Println(err)
		return
	}
	since := c.Now().Add(-time.Hour)
	u, err := srv.AddUser(okta.Profile{Login: "ada@example.com", Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace"}, okta.UserStaged)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := c.AddUserToGroup(ctx, srv.AddGroup("Engineering"), u.ID); err != nil { // another event
		fmt.Println(err)
		return
	}
	if err := c.InitiateFulfillment(ctx, okta.FulfillmentRequest{UserID: u.ID, FulfillmentData: okta.FulfillmentData{
		{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"}}}); err != nil {
		fmt.Println(err)
		return
	}

	// A polling query (no Until): every order since then, oldest first.
	q := okta.LogQuery{Since: since, Filter: okta.LogFilterEventType(okta.EventTypePreregisterInitiate)}
	seen := map[string]bool{} // by UUID: a hook may have delivered some already
	for e, err := range c.ListLogEvents(ctx, q) {
		if err != nil {
			fmt.Println(err)
			return
		}
		if seen[e.UUID] {
			continue
		}
		seen[e.UUID] = true
		fmt.Println(e.EventType, "for", e.Target[0].AlternateID, "inventory product", e.Target[1].DetailEntry["yubicoInventoryProductId"])
	}
	fmt.Println("filter:", q.Filter)
	// Output:
	// system.mfa.preregister.initiate for ada@example.com inventory product 106
	// filter: eventType eq "system.mfa.preregister.initiate"
}

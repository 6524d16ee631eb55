package okta_test

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// ExampleClient_EnsureEventHook registers a service's event hook at start-up
// (the fake Okta org verifies the endpoint), then receives an event.
func ExampleClient_EnsureEventHook() {
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

	// The service's endpoint, served before registering: Okta calls it to
	// verify. (fulfillment.Service.EventHandler is a complete receiver.)
	const secret = "Bearer 6f1c0e9a-hook-secret"
	received := make(chan string, 1)
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte(secret)) != 1 {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodGet { // the one-time verification
			_ = json.NewEncoder(w).Encode(map[string]string{"verification": r.Header.Get("X-Okta-Verification-Challenge")})
			return
		}
		var delivery struct {
			Data struct{ Events []struct{ EventType string } }
		}
		_ = json.NewDecoder(r.Body).Decode(&delivery)
		w.WriteHeader(http.StatusOK) // answer at once; work happens elsewhere
		received <- delivery.Data.Events[0].EventType
	}))
	defer endpoint.Close()

	hook := okta.EventHook{
		Name:   "preenroll",
		Events: okta.EventSubscriptions{Items: []string{"system.mfa.preregister.initiate"}},
		Channel: okta.EventHookChannel{Config: okta.EventHookChannelConfig{
			URI:        endpoint.URL + "/okta/events",
			AuthScheme: &okta.EventHookAuthScheme{Key: "Authorization", Value: secret},
		}},
	}
	for range 2 { // a restart registers again: still one hook
		h, err := c.EnsureEventHook(ctx, hook)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(h.Name, h.Status, h.VerificationStatus, "auth header:", h.Channel.Config.AuthScheme.Key)
	}
	hooks, err := c.ListEventHooks(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("hooks:", len(hooks))

	// An order for a user makes Okta emit the event the hook subscribes to.
	u, err := srv.AddUser(okta.Profile{Login: "ada@example.com", Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace"}, okta.UserStaged)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := c.InitiateFulfillment(ctx, okta.FulfillmentRequest{UserID: u.ID, FulfillmentData: okta.FulfillmentData{
		{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"}}}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("received:", <-received)
	// Output:
	// preenroll ACTIVE VERIFIED auth header: authorization
	// preenroll ACTIVE VERIFIED auth header: authorization
	// hooks: 1
	// received: system.mfa.preregister.initiate
}

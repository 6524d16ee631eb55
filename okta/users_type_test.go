package okta_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

func TestCreateUserSendsType(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	c := fakeClient(t, srv, okta.WithRetryPolicy(okta.NoRetries()))
	typeID := srv.AddUserType("contractor")
	p := okta.Profile{Login: "typed@example.com", Email: "typed@example.com", FirstName: "T", LastName: "Y"}
	u, err := c.CreateUser(t.Context(), okta.CreateUserRequest{Profile: p, TypeID: typeID})
	if err != nil {
		t.Fatal(err)
	}
	if u.Type.ID != typeID {
		t.Errorf("created user's type = %q, want %q", u.Type.ID, typeID)
	}
	if got, _ := srv.User(u.ID); got.Type.ID != typeID {
		t.Errorf("fake holds type %q, want %q", got.Type.ID, typeID)
	}
	// Without TypeID the org's default type is used.
	p.Login, p.Email = "plain@example.com", "plain@example.com"
	if u, err := c.CreateUser(t.Context(), okta.CreateUserRequest{Profile: p}); err != nil || u.Type.ID != oktatest.DefaultUserTypeID {
		t.Errorf("default type: %q, %v", u.Type.ID, err)
	}
	// An unknown type is Okta's validation error; a malformed one never leaves the client.
	p.Login, p.Email = "other@example.com", "other@example.com"
	if _, err := c.CreateUser(t.Context(), okta.CreateUserRequest{Profile: p, TypeID: "otyUnknown"}); !errors.Is(err, okta.ErrValidation) {
		t.Errorf("unknown type: %v, want ErrValidation", err)
	}
	n := len(srv.RequestLog())
	if _, err := c.CreateUser(t.Context(), okta.CreateUserRequest{Profile: p, TypeID: " oty1"}); !errors.Is(err, okta.ErrInvalidArgument) {
		t.Errorf("malformed type: %v, want ErrInvalidArgument", err)
	}
	if len(srv.RequestLog()) != n {
		t.Error("a malformed type was sent")
	}
}

func TestInitiateFulfillmentRequiresEveryOrderID(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	c := fakeClient(t, srv, okta.WithRetryPolicy(okta.NoRetries()))
	u, err := srv.AddUser(okta.Profile{Login: "order@example.com", Email: "order@example.com", FirstName: "O", LastName: "R"}, okta.UserStaged)
	if err != nil {
		t.Fatal(err)
	}
	full := okta.FulfillmentOrder{ProductID: "55", InventoryProductID: "106", CustomizationID: "RXJN83"}
	for _, tc := range []struct {
		field string
		blank func(*okta.FulfillmentOrder)
	}{
		{"productId", func(o *okta.FulfillmentOrder) { o.ProductID = "" }},
		{"inventoryProductId", func(o *okta.FulfillmentOrder) { o.InventoryProductID = "" }},
		{"customizationId", func(o *okta.FulfillmentOrder) { o.CustomizationID = " " }},
	} {
		o := full
		tc.blank(&o)
		err := c.InitiateFulfillment(t.Context(), okta.FulfillmentRequest{UserID: u.ID, FulfillmentData: okta.FulfillmentData{full, o}})
		if !errors.Is(err, okta.ErrInvalidArgument) || !strings.Contains(err.Error(), "fulfillmentData[1]."+tc.field+" is empty") {
			t.Errorf("order without %s: %v, want ErrInvalidArgument naming fulfillmentData[1].%s", tc.field, err, tc.field)
		}
	}
	if n := len(srv.RequestLog()); n != 0 {
		t.Errorf("%d requests reached the fake, want none", n)
	}
	if err := c.InitiateFulfillment(t.Context(), okta.FulfillmentRequest{UserID: u.ID, FulfillmentData: okta.FulfillmentData{full}}); err != nil {
		t.Errorf("complete order: %v", err)
	}
}

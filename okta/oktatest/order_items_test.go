package oktatest_test

import (
	"testing"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// The fake refuses an order item without any of its three IDs, as a client
// other than ours might send one.
func TestInitiateRefusesIncompleteOrderItem(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	u := seedUser(t, srv, "items@example.com", okta.UserStaged)
	ssws := "SSWS " + srv.Token()
	for _, tc := range []struct{ item, field string }{
		{`{"inventoryProductId":"106","customizationId":"RXJN83"}`, "productId"},
		{`{"productId":"55","customizationId":"RXJN83"}`, "inventoryProductId"},
		{`{"productId":"55","inventoryProductId":"106","customizationId":""}`, "customizationId"},
	} {
		body := `{"userId":"` + u.ID + `","fulfillmentProvider":"yubico","fulfillmentData":[` + tc.item + `]}`
		status, _, resp := raw(t, srv, "POST", "/webauthn-registration/api/v1/initiate-fulfillment-request", ssws, body)
		if status != 400 {
			t.Errorf("item %s: status %d, want 400", tc.item, status)
			continue
		}
		checkErrorBody(t, resp, "E0000001", "Api validation failed: fulfillmentData",
			"fulfillmentData[0]."+tc.field+": The field cannot be left blank")
	}
	if ev := srv.Events(); len(ev) != 0 {
		t.Errorf("refused orders emitted %d events", len(ev))
	}
}

package yubico_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/jarcoal/httpmock"

	"github.com/preenroll/preenroll/yubico"
)

// FuzzResponses feeds arbitrary bodies and statuses to every decoder of the
// client: it must return a value or an error, never panic, and a non-2xx
// status must always be an *APIError.
func FuzzResponses(f *testing.F) {
	f.Add(200, []byte(`{"shipment_id":"a","shipment_state_id":3,"shipment_messages":["x",{"message":"y"}],"shipment_request_date":"2026-01-02"}`))
	f.Add(200, []byte(`{"count":1,"total_count":5,"shipments":[{"shipment_id":"a"}]}`))
	f.Add(200, []byte(`{"shipment_id":"F","shipment_state":{"shipment_state_id":103},"shipment_items":[{"product_data":[{"serial_number":1,"firmware_version":5.7,"fido_pin_response":"p","fido_credential_responses":["c"]}]}]}`))
	f.Add(400, []byte(`{"status":"undeliverable","details":[{"description":"x"}]}`))
	f.Add(400, []byte(`{"error_code":7,"error":{"a":1},"details":[{"field":1}]}`))
	f.Add(200, []byte(`[{"country_code_2":"US"}]`))
	f.Add(200, []byte(`{"keys":[{"kty":"EC","crv":"P-384","kid":"k","x":"","y":""}]}`))
	f.Add(429, []byte(``))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 200 || status > 599 {
			status = 200 + (status&0x7fffffff)%400
		}
		mt := httpmock.NewMockTransport()
		mt.RegisterNoResponder(func(*http.Request) (*http.Response, error) {
			return httpmock.NewBytesResponse(status, body), nil
		})
		c, err := yubico.NewClient(testBase, testToken, yubico.WithHTTPClient(&http.Client{Transport: mt}),
			yubico.WithRetryPolicy(yubico.NoRetries()))
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		check := func(name string, err error) {
			var ae *yubico.APIError
			if status >= 300 && err != nil && !errors.As(err, &ae) && name != "ValidateAddress" {
				t.Errorf("%s: status %d gave %v, want *APIError", name, status, err)
			}
		}
		_, err = c.Shipment(ctx, "a")
		check("Shipment", err)
		_, err = c.ListShipments(ctx, yubico.ListOptions{})
		check("ListShipments", err)
		_, err = c.FPRShipment(ctx, "a")
		check("FPRShipment", err)
		_, err = c.Inventory(ctx)
		check("Inventory", err)
		_, err = c.Countries(ctx)
		check("Countries", err)
		_, err = c.ValidateAddress(ctx, yubico.Address{})
		check("ValidateAddress", err)
		_, err = c.TransportKeys(ctx)
		check("TransportKeys", err)
		var s yubico.Shipment
		if json.Unmarshal(body, &s) == nil {
			if _, err := json.Marshal(s); err != nil {
				t.Errorf("Marshal of a decoded Shipment failed: %v", err)
			}
		}
	})
}

package yubicotest_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/simulator"
	"github.com/preenroll/preenroll/webauthn"
	"github.com/preenroll/preenroll/yubico"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

func TestUnauthorized(t *testing.T) {
	t.Parallel()
	srv := newServer(t, yubicotest.WithToken("good-token"))
	bad, err := yubico.NewClient(srv.URL(), "wrong-token", yubico.WithRetryPolicy(yubico.NoRetries()),
		yubico.WithJWKSBaseURL(srv.ConsoleURL()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := bad.Inventory(ctx); !errors.Is(err, yubico.ErrUnauthorized) {
		t.Errorf("Inventory with a wrong token: error = %v, want ErrUnauthorized", err)
	}
	if _, err := bad.CreateShipment(ctx, exactRequest()); !errors.Is(err, yubico.ErrUnauthorized) {
		t.Errorf("CreateShipment with a wrong token: error = %v, want ErrUnauthorized", err)
	}
	// The JWKS are public.
	if _, err := bad.TransportKeys(ctx); err != nil {
		t.Errorf("TransportKeys without a valid token: %v", err)
	}
	// Tokens can be added and revoked.
	srv.AddToken("wrong-token")
	if _, err := bad.Inventory(ctx); err != nil {
		t.Errorf("Inventory after AddToken: %v", err)
	}
	srv.RevokeToken("good-token")
	if _, err := srv.Client().Inventory(ctx); !errors.Is(err, yubico.ErrUnauthorized) {
		t.Errorf("Inventory after RevokeToken: error = %v, want ErrUnauthorized", err)
	}
	if len(srv.Shipments()) != 0 {
		t.Errorf("an unauthorized create made a shipment")
	}
	for _, r := range srv.RequestLog()[:2] {
		if r.Authorized || r.Status != http.StatusUnauthorized {
			t.Errorf("log entry %+v, want unauthorized 401", r)
		}
	}
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := srv.Client()
	tests := []struct {
		name   string
		edit   func(*yubico.ShipmentRequest)
		fields []string
	}{
		{"empty", func(r *yubico.ShipmentRequest) { *r = yubico.ShipmentRequest{} },
			[]string{"recipient", "recipient_telephone", "country_code_2", "street_line1", "city", "postal_code", "shipment_items"}},
		{"region required for US", func(r *yubico.ShipmentRequest) { r.Region = "" }, []string{"region"}},
		{"region required for CA", func(r *yubico.ShipmentRequest) { r.CountryCode, r.Region = "CA", "" }, []string{"region"}},
		{"region must be USPS code", func(r *yubico.ShipmentRequest) { r.Region = "Massachusetts" }, []string{"region"}},
		{"region optional elsewhere", func(r *yubico.ShipmentRequest) { r.CountryCode, r.Region = "SE", "" }, nil},
		{"country not allowed", func(r *yubico.ShipmentRequest) { r.CountryCode = "JP" }, []string{"country_code_2"}},
		{"country malformed", func(r *yubico.ShipmentRequest) { r.CountryCode = "usa" }, []string{"country_code_2"}},
		{"street 120 bytes ok", func(r *yubico.ShipmentRequest) {
			r.StreetLine1, r.StreetLine2 = strings.Repeat("a", 60), strings.Repeat("b", 60)
		}, nil},
		{"street combined over 120 bytes", func(r *yubico.ShipmentRequest) {
			r.StreetLine1, r.StreetLine2 = strings.Repeat("a", 60), strings.Repeat("b", 61)
		}, []string{"street_line1"}},
		{"multibyte counts in bytes", func(r *yubico.ShipmentRequest) { r.City = strings.Repeat("ö", 31) }, []string{"city"}},
		{"recipient 20 bytes", func(r *yubico.ShipmentRequest) { r.Recipient = strings.Repeat("x", 21) }, []string{"recipient"}},
		{"first name 15 bytes", func(r *yubico.ShipmentRequest) { r.RecipientFirstName = strings.Repeat("x", 16) }, []string{"recipient_firstname"}},
		{"email", func(r *yubico.ShipmentRequest) { r.RecipientEmail = "not-an-email" }, []string{"recipient_email"}},
		{"control characters", func(r *yubico.ShipmentRequest) { r.City = "Ded\nham" }, []string{"city"}},
		{"delivery type", func(r *yubico.ShipmentRequest) { r.DeliveryType = 3 }, []string{"delivery_type"}},
		{"500 items ok", func(r *yubico.ShipmentRequest) { r.Items[0].Quantity = 500 }, nil},
		{"501 items", func(r *yubico.ShipmentRequest) {
			r.Items = append(r.Items, yubico.ItemRequest{ProductID: 29, InventoryProductID: 29, Quantity: 499})
		}, []string{"shipment_items"}},
		{"zero quantity", func(r *yubico.ShipmentRequest) { r.Items[0].Quantity = 0 }, []string{"shipment_items[0].quantity"}},
		{"unknown product", func(r *yubico.ShipmentRequest) { r.Items[0].ProductID = 9999 }, []string{"shipment_items[0].product_id"}},
		{"unknown bucket", func(r *yubico.ShipmentRequest) { r.Items[0].InventoryProductID = 15 }, []string{"shipment_items[0].inventory_product_id"}},
		{"product not in bucket", func(r *yubico.ShipmentRequest) { r.Items[0].InventoryProductID = 29 }, []string{"shipment_items[0].product_id"}},
		{"subscription bucket mapping", func(r *yubico.ShipmentRequest) { r.Items[0].ProductID, r.Items[0].InventoryProductID = 29, 106 }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := exactRequest()
			tt.edit(&req)
			_, err := c.CreateShipment(t.Context(), req)
			if tt.fields == nil {
				if err != nil {
					t.Fatalf("CreateShipment: %v", err)
				}
				return
			}
			var ae *yubico.APIError
			if !errors.As(err, &ae) || !errors.Is(err, yubico.ErrValidation) || ae.Code != yubico.CodeValidationFailed {
				t.Fatalf("CreateShipment error = %v, want a validation_failed *APIError", err)
			}
			var fields []string
			for _, d := range ae.Details {
				fields = append(fields, d.Field)
				if d.Description == "" {
					t.Errorf("detail for %q has no description", d.Field)
				}
			}
			if d := cmp.Diff(tt.fields, fields); d != "" {
				t.Errorf("fields mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestMalformedBodies(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	tests := []struct {
		method, path, body string
		status             int
		field              string
	}{
		{"POST", "/v1/shipments_exact", `not json`, 400, ""},
		{"POST", "/v1/shipments_exact", `[]`, 400, ""},
		{"POST", "/v1/shipments_exact", `{"delivery_type":"fast"}`, 400, "delivery_type"},
		{"POST", "/v1/shipments_exact", `{"shipment_items":[{"product_id":"one"}]}`, 400, "shipment_items.product_id"},
		{"POST", "/v1/fpr/shipments", `{"recipient":"x"}`, 400, "recipient"},
		{"POST", "/v1/validate-address", ``, 400, ""},
		{"GET", "/v1/shipments_exact?limit=abc", ``, 400, "limit"},
		{"GET", "/v1/shipments_exact?search=1&search_field=password", ``, 400, "search"},
		{"GET", "/v1/shipments_exact?advanced_search=true&search=bad", ``, 400, "search"},
		{"GET", "/v1/shipments_exact/unknown", ``, 400, ""},
		{"GET", "/v1/products/abc", ``, 400, ""},
	}
	for _, tt := range tests {
		resp, body := send(t, srv, tt.method, strings.TrimSuffix(srv.URL(), "/v1")+tt.path, []byte(tt.body), nil)
		if resp.StatusCode != tt.status {
			t.Errorf("%s %s: status %d, want %d (%s)", tt.method, tt.path, resp.StatusCode, tt.status, body)
			continue
		}
		var eb struct {
			ErrorCode string               `json:"error_code"`
			Message   string               `json:"message"`
			Details   []yubico.ErrorDetail `json:"details"`
		}
		if err := json.Unmarshal(body, &eb); err != nil || eb.ErrorCode == "" {
			t.Errorf("%s %s: body %s is not a JSON error with error_code", tt.method, tt.path, body)
		}
		if tt.field != "" && (len(eb.Details) == 0 || eb.Details[0].Field != tt.field) {
			t.Errorf("%s %s: details %+v, want field %q", tt.method, tt.path, eb.Details, tt.field)
		}
	}
}

func TestUnknownIDs(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := srv.Client()
	ctx := t.Context()
	if _, err := c.Shipment(ctx, "UnknownUnknownUnknown1"); !errors.Is(err, yubico.ErrNotFound) {
		t.Errorf("Shipment: error = %v, want ErrNotFound", err)
	}
	if _, err := c.UpdateShipment(ctx, "UnknownUnknownUnknown1", exactRequest()); !errors.Is(err, yubico.ErrNotFound) {
		t.Errorf("UpdateShipment: error = %v, want ErrNotFound", err)
	}
	if err := c.DeleteShipment(ctx, "UnknownUnknownUnknown1"); !errors.Is(err, yubico.ErrNotFound) {
		t.Errorf("DeleteShipment: error = %v, want ErrNotFound", err)
	}
	if _, err := c.FPRShipment(ctx, "UnknownUnknownUnknown1"); !errors.Is(err, yubico.ErrNotFound) {
		t.Errorf("FPRShipment: error = %v, want ErrNotFound", err)
	}
	if err := c.CancelFPRShipment(ctx, "UnknownUnknownUnknown1"); !errors.Is(err, yubico.ErrNotFound) {
		t.Errorf("CancelFPRShipment: error = %v, want ErrNotFound", err)
	}
	if _, err := c.Product(ctx, 999); !errors.Is(err, yubico.ErrNotFound) {
		t.Errorf("Product(999): error = %v, want ErrNotFound", err)
	}
	// A plain shipment is not a FIDO Pre-reg shipment.
	s, err := c.CreateShipment(ctx, exactRequest())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.FPRShipment(ctx, s.ID); !errors.Is(err, yubico.ErrNotFound) {
		t.Errorf("FPRShipment of a plain shipment: error = %v, want ErrNotFound", err)
	}
	if _, err := srv.Parcel(s.ID); err == nil {
		t.Errorf("Parcel of a plain shipment succeeded")
	}
	// Delete while editable; afterwards the ID is unknown.
	if err := c.DeleteShipment(ctx, s.ID); err != nil {
		t.Fatalf("DeleteShipment: %v", err)
	}
	if _, err := c.Shipment(ctx, s.ID); !errors.Is(err, yubico.ErrNotFound) {
		t.Errorf("Shipment after delete: error = %v, want ErrNotFound", err)
	}
}

func TestListSearchAndCatalog(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := srv.Client()
	ctx := t.Context()
	const n = 205
	ids := createShipments(t, c, n, func(i int, req *yubico.ShipmentRequest) {
		if i%50 == 0 {
			req.Address = nowhere
		}
	})
	advance(t, srv, 15*time.Minute)
	var got []string
	for s, err := range c.Shipments(ctx, yubico.ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s.ID)
	}
	if d := cmp.Diff(ids, got); d != "" {
		t.Errorf("Shipments mismatch (-want +got):\n%s", d)
	}
	page, err := c.ListShipments(ctx, yubico.ListOptions{Offset: 200})
	if err != nil || page.Count != 5 || page.TotalCount != n {
		t.Errorf("ListShipments(offset 200) = count %d total %d, %v; want 5, %d", page.Count, page.TotalCount, err, n)
	}
	var undeliverable []string
	for s, err := range c.SearchShipments(ctx, "shipment_state_id", "7") {
		if err != nil {
			t.Fatal(err)
		}
		undeliverable = append(undeliverable, s.ID)
	}
	if d := cmp.Diff([]string{ids[0], ids[50], ids[100], ids[150], ids[200]}, undeliverable); d != "" {
		t.Errorf("search state 7 mismatch (-want +got):\n%s", d)
	}
	count := 0
	for _, err := range c.Shipments(ctx, yubico.ListOptions{AdvancedSearch: true, Search: "shipment_state_id::lt::5"}) {
		if err != nil {
			t.Fatal(err)
		}
		count++
	}
	if count != n-5 {
		t.Errorf("advanced search lt 5 = %d shipments, want %d", count, n-5)
	}
	if _, err := c.SearchDescription(ctx); err != nil {
		t.Errorf("SearchDescription: %v", err)
	}

	products, err := c.Products(ctx)
	if err != nil || len(products) < 10 {
		t.Errorf("Products() = %d products, %v", len(products), err)
	}
	p, err := c.Product(ctx, 29)
	if err != nil || p.Name != "YubiKey 5C NFC" {
		t.Errorf("Product(29) = %+v, %v", p, err)
	}
	countries, err := c.Countries(ctx)
	if err != nil || countries[0] != (yubico.Country{Code: "US", Name: "United States"}) {
		t.Errorf("Countries() = %v, %v", countries, err)
	}
	if err := srv.SetInventory(29, 0); err != nil {
		t.Fatal(err)
	}
	keys, err := c.ShippableKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var shippable []int
	for _, k := range keys {
		shippable = append(shippable, k.ProductID)
	}
	if d := cmp.Diff([]int{1, 54, 55, 106}, shippable); d != "" {
		t.Errorf("ShippableKeys mismatch (-want +got):\n%s", d)
	}
	inv, err := c.Inventory(ctx)
	if err != nil || len(inv) != 5 || !inv[4].IsVirtual || inv[4].OrganizationID != srv.OrganizationID() {
		t.Errorf("Inventory() = %+v, %v", inv, err)
	}
}

func TestValidateAddressAgainstFake(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := srv.Client()
	ok, err := c.ValidateAddress(t.Context(), usAddress())
	if err != nil || !ok.Deliverable {
		t.Errorf("ValidateAddress(deliverable) = %+v, %v", ok, err)
	}
	bad, err := c.ValidateAddress(t.Context(), yubico.Address{StreetLine1: "123 XYZ", City: "Nowhere", Region: "NY", PostalCode: "11111", CountryCode: "US"})
	if err != nil || bad.Deliverable || bad.Status != "undeliverable" || len(bad.Details) != 1 {
		t.Errorf("ValidateAddress(Nowhere) = %+v, %v", bad, err)
	}
	_, err = c.ValidateAddress(t.Context(), yubico.Address{StreetLine1: "1 Main St", CountryCode: "US"})
	if !errors.Is(err, yubico.ErrValidation) {
		t.Errorf("ValidateAddress(incomplete) error = %v, want ErrValidation", err)
	}
}

func TestRequestFaults(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	ctx := t.Context()
	retrying := srv.Client(fastRetries)

	must(t, srv.FailNext(2, http.StatusServiceUnavailable))
	if _, err := retrying.Inventory(ctx); err != nil {
		t.Errorf("Inventory after 2 injected 503s with retries: %v", err)
	}
	must(t, srv.InjectHTTPFault(yubicotest.HTTPFaultRule{Status: http.StatusTooManyRequests, RetryAfter: 2 * time.Second}))
	_, err := srv.Client().Inventory(ctx)
	var ae *yubico.APIError
	if !errors.As(err, &ae) || !errors.Is(err, yubico.ErrRateLimited) || ae.RetryAfter != 2*time.Second {
		t.Errorf("injected 429: error = %v, want ErrRateLimited with Retry-After 2s", err)
	}
	// A failed create is not retried and creates nothing.
	must(t, srv.FailNext(1, http.StatusInternalServerError))
	if _, err := retrying.CreateShipment(ctx, exactRequest()); !errors.Is(err, yubico.ErrServer) {
		t.Errorf("CreateShipment under a 500: error = %v, want ErrServer", err)
	}
	if n := len(srv.Shipments()); n != 0 {
		t.Errorf("%d shipments after a failed create, want 0", n)
	}
	// A dropped connection: a create fails (net/http replays only
	// idempotent requests on a reused connection) and creates nothing.
	must(t, srv.DropNext(1))
	if _, err := retrying.CreateShipment(ctx, exactRequest()); err == nil || errors.As(err, &ae) {
		t.Errorf("CreateShipment over a dropped connection: error = %v, want a transport error", err)
	}
	if n := len(srv.Shipments()); n != 0 {
		t.Errorf("%d shipments after a dropped create, want 0", n)
	}
	must(t, srv.DropNext(1))
	if _, err := retrying.Countries(ctx); err != nil {
		t.Errorf("Countries with retries after one dropped connection: %v", err)
	}
	// Latency against a client timeout.
	must(t, srv.SetLatency(time.Second))
	slow := srv.Client(yubico.WithHTTPClient(&http.Client{Timeout: 20 * time.Millisecond}))
	if _, err := slow.Countries(ctx); err == nil {
		t.Errorf("Countries with latency over the client timeout succeeded")
	}
	must(t, srv.SetLatency(0))

	var statuses []int
	for _, r := range srv.RequestLog() {
		statuses = append(statuses, r.Status)
	}
	// The slow request is logged when its handler finishes, which may be
	// after the client gave up: leave it out.
	statuses = statuses[:min(len(statuses), 8)]
	want := []int{503, 503, 200, 429, 500, 0, 0, 200}
	if d := cmp.Diff(want, statuses); d != "" {
		t.Errorf("logged statuses mismatch (-want +got):\n%s", d)
	}
}

func TestFPRValidation(t *testing.T) {
	t.Parallel()
	srv := newServer(t, yubicotest.WithCustomizationIDs("CID-EXAMPLE"))
	c := srv.Client()
	o := newOkta(t, c, srv.Now(), "example.okta.com")
	tests := []struct {
		name   string
		edit   func(*yubico.FPRShipmentRequest)
		fields []string
	}{
		{"quantity 2", func(r *yubico.FPRShipmentRequest) { r.Items[0].Quantity = 2 }, []string{"shipment_items[0].product_quantity"}},
		{"two items", func(r *yubico.FPRShipmentRequest) { r.Items = append(r.Items, r.Items[0]) }, []string{"shipment_items"}},
		{"no customization ID", func(r *yubico.FPRShipmentRequest) { r.Items[0].CustomizationID = "" }, []string{"shipment_items[0].customization_id"}},
		{"unknown customization ID", func(r *yubico.FPRShipmentRequest) { r.Items[0].CustomizationID = "CID-OTHER" }, []string{"shipment_items[0].customization_id"}},
		{"not an FPR model", func(r *yubico.FPRShipmentRequest) {
			r.Items[0].ProductID, r.Items[0].InventoryProductID = 3, 3
		}, []string{"shipment_items[0].inventory_product_id", "shipment_items[0].product_id"}},
		{"no PIN request", func(r *yubico.FPRShipmentRequest) { r.Items[0].Customizations[0].PINRequest = "" },
			[]string{"shipment_items[0].product_customizations[0].fido_pin_request"}},
		{"no credential requests", func(r *yubico.FPRShipmentRequest) { r.Items[0].Customizations[0].CredentialRequests = nil },
			[]string{"shipment_items[0].product_customizations[0].fido_credential_requests"}},
		{"not a JWE", func(r *yubico.FPRShipmentRequest) {
			r.Items[0].Customizations[0].CredentialRequests = []string{"a.b.c"}
		},
			[]string{"shipment_items[0].product_customizations[0].fido_credential_requests[0]"}},
		{"no recipient company", func(r *yubico.FPRShipmentRequest) { r.Recipient.Company = "" }, []string{"recipient.recipient_company"}},
		{"no region", func(r *yubico.FPRShipmentRequest) { r.MailingAddress.Region = "" }, []string{"mailing_address.region"}},
		{"two customizations", func(r *yubico.FPRShipmentRequest) {
			r.Items[0].Customizations = append(r.Items[0].Customizations, r.Items[0].Customizations[0])
		}, []string{"shipment_items[0].product_customizations"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := fprRequest(o)
			tt.edit(&req)
			_, err := c.CreateFPRShipment(t.Context(), req)
			var ae *yubico.APIError
			if !errors.As(err, &ae) || !errors.Is(err, yubico.ErrValidation) {
				t.Fatalf("CreateFPRShipment error = %v, want ErrValidation", err)
			}
			var fields []string
			for _, d := range ae.Details {
				fields = append(fields, d.Field)
			}
			if d := cmp.Diff(tt.fields, fields); d != "" {
				t.Errorf("fields mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestFPRFactoryFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prepare func(t *testing.T, srv *yubicotest.Server, c *yubico.Client) *okta
		wantMsg string
	}{
		{"sealed to another key", func(t *testing.T, srv *yubicotest.Server, c *yubico.Client) *okta {
			o := newOkta(t, c, srv.Now(), "example.okta.com")
			// Re-seal the credential request to a key Yubico does not hold,
			// under the transport key's kid.
			other, err := webauthn.GenerateKey(seeded(9), srv.TransportKeys()[0].KeyID(), webauthn.UseEncryption)
			if err != nil {
				t.Fatal(err)
			}
			if o.credReqs[0], err = webauthn.SealCredentialRequest(other.Public(), o.reqs[0]); err != nil {
				t.Fatal(err)
			}
			return o
		}, "open fido_credential_requests[0]"},
		{"another user's credential request", func(t *testing.T, srv *yubicotest.Server, c *yubico.Client) *okta {
			o := newOkta(t, c, srv.Now(), "example.okta.com")
			transport, err := c.TransportKeys(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			o.reqs[0].UserID = "00u2"
			if o.credReqs[0], err = webauthn.SealCredentialRequest(transport[0], o.reqs[0]); err != nil {
				t.Fatal(err)
			}
			return o
		}, `fido_credential_requests[0] is for user "00u2", the PIN request for "00u1"`},
		{"expired", func(t *testing.T, srv *yubicotest.Server, c *yubico.Client) *okta {
			o := newOkta(t, c, srv.Now().Add(-29*24*time.Hour-23*time.Hour), "example.okta.com") // expires in 1h
			return o
		}, "open fido_credential_requests[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t)
			c := srv.Client()
			o := tt.prepare(t, srv, c)
			s, err := c.CreateFPRShipment(t.Context(), fprRequest(o))
			if err != nil {
				t.Fatalf("CreateFPRShipment: %v", err)
			}
			if err := srv.SetNow(srv.NextBatch()); err != nil {
				t.Fatal(err)
			}
			got, err := c.FPRShipment(t.Context(), s.ID)
			if err != nil {
				t.Fatal(err)
			}
			msgs := strings.Join(srv.Messages(s.ID), "|")
			if got.State.ID != yubico.StateShippingError || !strings.Contains(msgs, tt.wantMsg) {
				t.Errorf("state %v messages %q, want 99 with %q", got.State.ID, msgs, tt.wantMsg)
			}
			if _, ok := srv.Programming(s.ID); ok {
				t.Errorf("a failed shipment reports a programmed key")
			}
			if q := srv.Inventory()[4].Quantity; q != 100 {
				t.Errorf("inventory 106 = %d after a failed programming, want 100", q)
			}
		})
	}
}

func TestFPRCancel(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := srv.Client()
	o := newOkta(t, c, srv.Now(), "example.okta.com")
	s, err := c.CreateFPRShipment(t.Context(), fprRequest(o))
	if err != nil {
		t.Fatal(err)
	}
	// FIDO Pre-reg shipments are listed with the others.
	all := srv.Shipments()
	if len(all) != 1 || all[0].Type != "AUTO FIDO PRE-REG" {
		t.Errorf("Shipments() = %+v, want one AUTO FIDO PRE-REG", all)
	}
	if err := c.CancelFPRShipment(t.Context(), s.ID); err != nil {
		t.Fatalf("CancelFPRShipment: %v", err)
	}
	if _, err := c.FPRShipment(t.Context(), s.ID); !errors.Is(err, yubico.ErrNotFound) {
		t.Errorf("FPRShipment after cancel: error = %v, want ErrNotFound", err)
	}
	// As documented on Server.Shipments: a cancelled shipment is gone.
	if all := srv.Shipments(); len(all) != 0 {
		t.Errorf("Shipments() after cancel = %+v, want none", all)
	}
	if _, ok := srv.Shipment(s.ID); ok {
		t.Error("Shipment(id) found a cancelled shipment")
	}
	if err := srv.SetNow(srv.NextBatch()); err != nil {
		t.Fatal(err)
	}
	if q := srv.Inventory()[4].Quantity; q != 100 {
		t.Errorf("inventory drawn for a cancelled shipment: %d left", q)
	}
}

func TestClock(t *testing.T) {
	t.Parallel()
	srv := newServer(t, yubicotest.WithNow(time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)),
		yubicotest.WithTiming(yubicotest.Timing{BatchHour: 5, ShippingDelay: time.Hour, DeliveryDelay: 2 * time.Hour}))
	if err := srv.Advance(-time.Second); !errors.Is(err, yubicotest.ErrClockBackwards) {
		t.Errorf("Advance(-1s) = %v, want ErrClockBackwards", err)
	}
	if err := srv.SetNow(srv.Now().Add(-time.Hour)); !errors.Is(err, yubicotest.ErrClockBackwards) {
		t.Errorf("SetNow into the past = %v, want ErrClockBackwards", err)
	}
	// 05:00 in Los Angeles in July is PDT, 12:00 UTC.
	want := time.Date(2026, 7, 2, 12, 0, 0, 0, time.UTC)
	if got := srv.NextBatch(); !got.Equal(want) {
		t.Errorf("NextBatch() = %v, want %v", got, want)
	}
	c := srv.Client()
	s, err := c.CreateShipment(t.Context(), exactRequest())
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.SetNow(want.Add(3 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	got := mustShipment(t, c, s.ID)
	if got.State != yubico.StateDelivered || !got.DeliveredDate.Equal(want.Add(3*time.Hour)) {
		t.Errorf("shipment = state %v delivered %v, want 104 at %v", got.State, got.DeliveredDate, want.Add(3*time.Hour))
	}
}

func TestOptionsRejected(t *testing.T) {
	t.Parallel()
	for i, o := range []yubicotest.Option{
		yubicotest.WithPINLength(3), yubicotest.WithPINLength(64), yubicotest.WithToken(""), yubicotest.WithRand(nil),
		yubicotest.WithNow(time.Time{}), yubicotest.WithCountries(yubicotest.Country{Code: "usa"}),
		yubicotest.WithInventory(yubicotest.Bucket{ProductID: 1}, yubicotest.Bucket{ProductID: 1}),
		yubicotest.WithFIDOCA(nil), yubicotest.WithSigningKey(nil), yubicotest.WithTransportKeys(nil),
		yubicotest.WithSerialStart(0), yubicotest.WithRequestLogLimit(0), nil,
	} {
		if s, err := yubicotest.Start(o); err == nil {
			s.Close()
			t.Errorf("option %d accepted", i)
		}
	}
}

func TestPINLengthAndFirmware(t *testing.T) {
	t.Parallel()
	srv := newServer(t, yubicotest.WithPINLength(6), yubicotest.WithFirmware(simulator.Version{Major: 5, Minor: 7, Patch: 4}))
	_, pd, resp := shipOneKey(t, srv, newOkta(t, srv.Client(), srv.Now(), "example.okta.com"))
	if len(resp.PIN) != 6 || fmt.Sprint(resp.PIN) != "[REDACTED]" {
		t.Errorf("PIN length %d, want 6 (and redacted when printed)", len(resp.PIN))
	}
	if pd.FirmwareVersion != "5.7.4" {
		t.Errorf("firmware_version = %q, want 5.7.4", pd.FirmwareVersion)
	}
}

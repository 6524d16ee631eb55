package yubicotest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// FuzzHandlers sends arbitrary methods, paths and bodies to the fake: it must
// answer every one with a JSON body and never a 5xx (a 5xx would mean a bug
// in the fake, not a client error).
func FuzzHandlers(f *testing.F) {
	srv := yubicotest.NewServer(f, yubicotest.WithRand(seeded(3)))
	root := strings.TrimSuffix(srv.URL(), "/v1")
	hc := &http.Client{}
	f.Add("POST", "/v1/shipments_exact", []byte(`{"recipient":"x","country_code_2":"US","shipment_items":[{"product_id":1,"inventory_product_id":1,"shipment_product_quantity":1}]}`))
	f.Add("POST", "/v1/fpr/shipments", []byte(`{"recipient":{"recipient_company":"x"},"mailing_address":{},"shipment_items":[{"product_id":1,"product_quantity":1,"customization_id":"c","product_customizations":[{"fido_pin_request":"a.b.c.d.e","fido_credential_requests":["eyJhbGciOiJ4In0.b.c.d.e"]}]}]}`))
	f.Add("PUT", "/v1/shipments_exact/abc", []byte(`{"shipment_items":null}`))
	f.Add("DELETE", "/v1/fpr/shipments/abc", []byte(nil))
	f.Add("GET", "/v1/shipments_exact?limit=1000&offset=-1&search=a::b::c&advanced_search=true", []byte(nil))
	f.Add("POST", "/v1/validate-address", []byte(`{"street_line1":1}`))
	f.Add("GET", "/v1/countries/csv", []byte(nil))
	f.Add("GET", "/v1/products/-1", []byte(nil))
	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequest(method, root+path, bytes.NewReader(body))
		if err != nil {
			return // not a request a client can send
		}
		req.Header.Set("Authorization", "Bearer "+srv.Token())
		resp, err := hc.Do(req)
		if err != nil {
			return // e.g. a method net/http refuses to send
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %q: status %d: %s", method, path, resp.StatusCode, out)
		}
		if resp.StatusCode != http.StatusNoContent && method != http.MethodHead && resp.Header.Get("Content-Type") == "application/json" && !json.Valid(out) {
			t.Fatalf("%s %q: invalid JSON body %q", method, path, out)
		}
	})
}

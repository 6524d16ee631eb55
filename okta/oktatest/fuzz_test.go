package oktatest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// FuzzServerHandler posts arbitrary bodies to every route that reads one:
// the fake must never panic or answer 5xx, and every refusal must be an
// Okta error object.
func FuzzServerHandler(f *testing.F) {
	srv := oktatest.NewServer(f, oktatest.WithoutRateLimits())
	u, err := srv.AddUser(okta.Profile{Login: "fuzz@example.com", Email: "fuzz@example.com", FirstName: "F", LastName: "Z"}, okta.UserStaged)
	if err != nil {
		f.Fatal(err)
	}
	routes := []struct{ method, path string }{
		{"POST", "/api/v1/users?activate=false"},
		{"POST", "/api/v1/users/" + u.ID},
		{"POST", "/webauthn-registration/api/v1/initiate-fulfillment-request"},
		{"POST", "/webauthn-registration/api/v1/enroll"},
		{"POST", "/webauthn-registration/api/v1/activate"},
		{"POST", "/webauthn-registration/api/v1/send-pin"},
		{"POST", "/webauthn-registration/api/v1/users/" + u.ID + "/enrollments/fwfX/mark-error"},
		{"PUT", "/api/v1/groups/00gX/users/" + u.ID},
		{"POST", "/api/v1/authn"},
		{"POST", "/api/v1/authn/factors/fwfX/verify"},
	}
	seeds := []string{
		`{"userId":"` + u.ID + `","fulfillmentProvider":"yubico","fulfillmentData":[{"productId":"1"}]}`,
		`{"userId":"` + u.ID + `","fulfillmentProvider":"yubico","fulfillmentData":{"productId":"1"}}`,
		`{"userId":"` + u.ID + `","fulfillmentProvider":"yubico","enrollmentRpIds":["a.example"],"yubicoTransportKeyJWK":{"kty":"EC","crv":"P-384","kid":"k","use":"enc","x":"","y":""}}`,
		`{"userId":"` + u.ID + `","fulfillmentProvider":"yubico","serial":"1","version":"5.7.1","pinResponseJwe":"a.b.c.d.e","credResponses":[{"authenticatorEnrollmentId":"fwfX","credResponseJwe":"x"}],"yubicoSigningJwks":[{}]}`,
		`{"profile":{"login":"a@b.c","email":"a@b.c","firstName":"A","lastName":"B","city":7}}`,
		`{"username":"fuzz@example.com","password":"x"}`,
		`{"stateToken":"x","clientData":"!!"}`,
		`null`, `[]`, `"x"`, ``, `{`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	hc := &http.Client{}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		r := routes[int(route)%len(routes)]
		req, err := http.NewRequestWithContext(t.Context(), r.method, srv.URL()+r.path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = int64(len(body))
		req.Header.Set("Authorization", "SSWS "+srv.Token())
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v (did the handler panic?)", r.method, r.path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s %q = %d %s", r.method, r.path, body, resp.StatusCode, b)
		}
		if resp.StatusCode >= 400 && resp.StatusCode != http.StatusLengthRequired {
			var e struct {
				ErrorCode string `json:"errorCode"`
				ErrorID   string `json:"errorId"`
			}
			if json.Unmarshal(b, &e) != nil || e.ErrorCode == "" || e.ErrorID == "" {
				t.Fatalf("%s %s: %d with a non-Okta error body %s", r.method, r.path, resp.StatusCode, b)
			}
		}
	})
}

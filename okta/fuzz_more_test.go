package okta_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/webauthn"
)

// roundTrip answers every request with one fuzzed response.
type roundTrip struct {
	status            int
	body              []byte
	link, reset, left string
}

func (rt roundTrip) RoundTrip(r *http.Request) (*http.Response, error) {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	if rt.link != "" {
		h.Set("Link", rt.link)
	}
	h.Set("X-Rate-Limit-Reset", rt.reset)
	h.Set("X-Rate-Limit-Remaining", rt.left)
	h.Set("X-Rate-Limit-Limit", "600")
	return &http.Response{StatusCode: rt.status, Header: h, Body: io.NopCloser(bytes.NewReader(rt.body)), Request: r}, nil
}

// FuzzClientResponses answers every call of the client with an arbitrary
// status, body, Link header and rate-limit headers: each call returns a
// value or an error, never panics; a non-2xx status is an *APIError; a
// request secret (Authn state token, password, API token) never appears in
// an error.
func FuzzClientResponses(f *testing.F) {
	f.Add(200, []byte(`{"id":"00u1","status":"ACTIVE","profile":{"login":"a@example.com"}}`), `<https://x.okta.com/api/v1/groups/00g1/users?after=1>; rel="next"`, "1767225600", "10")
	f.Add(200, []byte(`[{"id":"00u1","profile":{}}]`), `<https://evil.example/next>; rel="next"`, "", "")
	f.Add(200, []byte(`{"userId":"00u1","pinRequestJwe":"a.b.c.d.e","credRequests":[{"authenticatorEnrollmentId":"fwf1","credRequestJwe":"x","keyId":"k"}]}`), "", "x", "-1")
	f.Add(200, []byte(`{"status":"MFA_CHALLENGE","stateToken":"s","_embedded":{"factor":{"id":"f","_embedded":{"challenge":{"challenge":"AA"}}}}}`), "", "", "")
	f.Add(200, []byte(`{"issuer":"https://x.okta.com"}`), "", "", "")
	f.Add(429, []byte(`{"errorCode":"E0000047"}`), "", "99999999999", "0")
	f.Add(400, []byte(`{"errorCode":"E0000001","errorCauses":[{"errorSummary":"bad"}]}`), "", "", "")
	f.Add(204, []byte(``), "", "", "")
	f.Add(200, []byte(`[{"uuid":"e1","published":"2026-01-01T00:00:00.000Z","eventType":"system.mfa.preregister.initiate","target":[{"id":"00u1","type":"User"}]}]`), `<https://x.okta.com/api/v1/logs?after=e1>; rel="next"`, "", "")
	key, err := webauthn.GenerateKey(rand.Reader, "fuzz-transport", webauthn.UseEncryption)
	if err != nil {
		f.Fatal(err)
	}
	jwk := key.Public()
	const token, state, password = "00apiTokenFuzz0123456789", "00stateFuzz0123456789", "passwordFuzz0123456789"
	f.Fuzz(func(t *testing.T, status int, body []byte, link, reset, left string) {
		if status < 100 || status > 599 {
			status = 200 + (status&0x7fffffff)%400
		}
		c, err := okta.NewClient("https://x.okta.com", token, okta.WithRetryPolicy(okta.NoRetries()),
			okta.WithHTTPClient(&http.Client{Transport: roundTrip{status, body, link, reset, left}}))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		check := func(name string, err error) {
			if err == nil {
				return
			}
			for _, s := range []string{token, state, password} {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("%s: the error shows a secret: %v", name, err)
				}
			}
			var ae *okta.APIError
			if (status < 200 || status > 299) && !errors.As(err, &ae) {
				t.Fatalf("%s: status %d gave %v, want *APIError", name, status, err)
			}
		}
		_, err = c.GetUser(ctx, "00u1")
		check("GetUser", err)
		_, err = c.CreateUser(ctx, okta.CreateUserRequest{Profile: okta.Profile{Login: "a@example.com", Email: "a@example.com", FirstName: "A", LastName: "B"}})
		check("CreateUser", err)
		_, err = c.UpdateProfile(ctx, "00u1", okta.Profile{City: "Boston"})
		check("UpdateProfile", err)
		check("ActivateUser", c.ActivateUser(ctx, "00u1", false))
		check("AddUserToGroup", c.AddUserToGroup(ctx, "00g1", "00u1"))
		n := 0
		for _, err := range c.ListGroupMembers(ctx, "00g1") {
			check("ListGroupMembers", err)
			if n++; n > 5 || err != nil {
				break
			}
		}
		n = 0
		for _, err := range c.ListLogEvents(ctx, okta.LogQuery{Since: time.Unix(0, 0), Filter: okta.LogFilterEventType(okta.EventTypePreregisterInitiate)}) {
			check("ListLogEvents", err)
			if n++; n > 5 || err != nil {
				break
			}
		}
		_, err = c.Issuer(ctx)
		check("Issuer", err)
		_, err = c.DefaultRPID(ctx)
		check("DefaultRPID", err)
		check("InitiateFulfillment", c.InitiateFulfillment(ctx, okta.FulfillmentRequest{UserID: "00u1", FulfillmentProvider: okta.ProviderYubico,
			FulfillmentData: okta.FulfillmentData{{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"}}}))
		_, err = c.Enroll(ctx, okta.EnrollRequest{UserID: "00u1", FulfillmentProvider: okta.ProviderYubico, RPIDs: []string{"x.okta.com"}, TransportKey: jwk})
		check("Enroll", err)
		_, err = c.Activate(ctx, okta.ActivateRequest{UserID: "00u1", FulfillmentProvider: okta.ProviderYubico, Serial: "1", Version: "5.7.1",
			PINResponseJWE: "a.b.c.d.e", CredResponses: []okta.CredResponse{{AuthenticatorEnrollmentID: "fwf1", CredResponseJWE: "a.b.c.d.e"}},
			SigningKeys: []webauthn.PublicJWK{{Kty: jwk.Kty, Crv: jwk.Crv, Kid: jwk.Kid, Use: "sig", X: jwk.X, Y: jwk.Y}}})
		check("Activate", err)
		check("SendPIN", c.SendPIN(ctx, okta.SendPINRequest{UserID: "00u1", FulfillmentProvider: okta.ProviderYubico, AuthenticatorEnrollmentID: "fwf1"}))
		_, err = c.ListEnrollments(ctx, "00u1")
		check("ListEnrollments", err)
		check("DeleteEnrollment", c.DeleteEnrollment(ctx, "00u1", "fwf1"))
		check("MarkError", c.MarkError(ctx, "00u1", "fwf1"))
		tx, err := c.Authenticate(ctx, okta.AuthnRequest{Username: "a@example.com", Password: password})
		check("Authenticate", err)
		if err == nil {
			_, _ = c.WebAuthnRequestOptions(tx, "x.okta.com")
		}
		_, err = c.ChallengeWebAuthnFactor(ctx, state, "f1")
		check("ChallengeWebAuthnFactor", err)
		_, err = c.VerifyWebAuthnFactor(ctx, state, "f1", okta.WebAuthnAssertion{ClientData: []byte("{}"), AuthenticatorData: make([]byte, 37), SignatureData: []byte{0x30}})
		check("VerifyWebAuthnFactor", err)
	})
}

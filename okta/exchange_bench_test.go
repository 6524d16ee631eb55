package okta_test

import (
	"crypto/rand"
	"net/http"
	"testing"
	"time"

	"github.com/preenroll/preenroll/internal/testhttp"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/webauthn"
)

// BenchmarkExchange measures one HTTP exchange through the production
// client and the fake Okta over loopback, as the fulfillment lifecycle makes
// them (rate limits counted, request log kept, an http.Client with
// NewClient's default 30 s timeout over a keep-alive transport, as
// fulfillmenttest's): GET /api/v1/users/{id} ("get-user/ours") and GET
// .../users/{id}/enrollments of a user with one key in fulfillment
// ("list-enrollments/ours"), each followed by bare net/http's exchange
// of a body of the same size ("…/net-http", see testhttp.Floor).
// cpu-ns/op is the process's CPU time (client, server and garbage
// collector) per exchange, which a machine shared with other work does not
// inflate as it does ns/op.
func BenchmarkExchange(b *testing.B) {
	srv := oktatest.NewServer(b)
	tr := &http.Transport{}
	b.Cleanup(tr.CloseIdleConnections)
	c, err := srv.Client(okta.WithHTTPClient(&http.Client{Transport: tr, Timeout: 30 * time.Second}))
	if err != nil {
		b.Fatal(err)
	}
	u, err := srv.AddUser(okta.Profile{Login: "ada@example.com", Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace"}, okta.UserActive)
	if err != nil {
		b.Fatal(err)
	}
	tk, err := webauthn.GenerateKey(rand.Reader, "APCS-Ttrans-C19881-I009", webauthn.UseEncryption)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Enroll(b.Context(), okta.EnrollRequest{UserID: u.ID, RPIDs: []string{"example.okta.com"}, TransportKey: tk.Public()}); err != nil {
		b.Fatal(err)
	}
	size := func(path string) int { return testhttp.BodySize(b, srv.URL()+path, "SSWS "+srv.Token()) }
	testhttp.BenchExchanges(b,
		testhttp.Exchange{Name: "get-user", Size: size("/api/v1/users/" + u.ID), Call: func(b *testing.B) error {
			got, err := c.GetUser(b.Context(), u.ID)
			if err == nil && got.ID != u.ID {
				b.Fatalf("GetUser = %q, want %q", got.ID, u.ID)
			}
			return err
		}},
		testhttp.Exchange{Name: "list-enrollments", Size: size("/webauthn-registration/api/v1/users/" + u.ID + "/enrollments"), Call: func(b *testing.B) error {
			got, err := c.ListEnrollments(b.Context(), u.ID)
			if err == nil && len(got) != 1 {
				b.Fatalf("ListEnrollments = %d enrollments, want 1", len(got))
			}
			return err
		}},
	)
}

package okta_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/webauthn"
)

// ExampleClient_Enroll orders the enrollments of a pre-registered key for a
// STAGED user, against the fake Okta org.
func ExampleClient_Enroll() {
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
	u, err := c.CreateUser(ctx, okta.CreateUserRequest{Profile: okta.Profile{
		Login: "isaac@example.com", Email: "isaac@example.com", SecondEmail: "isaac@home.example",
		FirstName: "Isaac", LastName: "Brock",
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("user:", u.Status)

	// Yubico's transport key (normally from its JWKS).
	tk, err := webauthn.GenerateKey(rand.Reader, "APCS-Ttrans-C19881-I009", webauthn.UseEncryption)
	if err != nil {
		fmt.Println(err)
		return
	}
	pub := tk.Public()
	enr, err := c.Enroll(ctx, okta.EnrollRequest{
		UserID:       u.ID,
		RPIDs:        []string{"example.okta.com"},
		TransportKey: pub,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("credential requests:", len(enr.CredRequests))

	list, err := c.ListEnrollments(ctx, u.ID)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("enrollment:", list[0].Status, "preset PIN:", list[0].Profile.PresetPINAvailable)

	// Only one key may be in fulfillment per user.
	_, err = c.Enroll(ctx, okta.EnrollRequest{UserID: u.ID, RPIDs: []string{"example.okta.com"}, TransportKey: pub})
	var apiErr *okta.APIError
	if errors.As(err, &apiErr) {
		fmt.Println("second order:", apiErr.StatusCode, apiErr.ErrorCode, errors.Is(err, okta.ErrValidation))
	}
	// Output:
	// user: STAGED
	// credential requests: 1
	// enrollment: FULFILLMENT_PENDING preset PIN: false
	// second order: 400 E0000001 true
}

// ExampleAPIError shows how to branch on Okta errors.
func ExampleAPIError() {
	srv, err := oktatest.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	c, err := srv.Client(okta.WithRetryPolicy(okta.NoRetries()))
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = c.GetUser(context.Background(), "nobody@example.com")
	fmt.Println(errors.Is(err, okta.ErrNotFound))
	var apiErr *okta.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.ErrorCode, apiErr.ErrorSummary)
	}
	// Output:
	// true
	// 404 E0000007 Not found: Resource not found: nobody@example.com (User)
}

// ExampleClient_ListGroupMembers iterates over a group's members; pages are
// fetched as the loop goes.
func ExampleClient_ListGroupMembers() {
	ctx := context.Background()
	srv, err := oktatest.Start(oktatest.WithMaxPageSize(2))
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
	gid := srv.AddGroup("YubiKey 5 NFC")
	for _, name := range []string{"ann", "bob", "cem"} {
		u, err := srv.AddUser(okta.Profile{Login: name + "@example.com", Email: name + "@example.com", FirstName: name, LastName: "X"}, okta.UserActive)
		if err != nil {
			fmt.Println(err)
			return
		}
		if err := c.AddUserToGroup(ctx, gid, u.ID); err != nil {
			fmt.Println(err)
			return
		}
	}
	for u, err := range c.ListGroupMembers(ctx, gid) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(u.Profile.Login)
	}
	// Output:
	// ann@example.com
	// bob@example.com
	// cem@example.com
}

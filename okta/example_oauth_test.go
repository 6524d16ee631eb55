package okta_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// ExampleWithOAuth authenticates as an OAuth 2.0 service app with a
// private_key_jwt client assertion and DPoP-bound tokens, as Okta
// recommends for services, against the fake Okta org. Against a real org:
//
//	key, err := okta.ParsePrivateKey(pemOrJWKFromYourSecretStore)
//	c, err := okta.NewClient("https://example.okta.com", "", okta.WithOAuth(okta.OAuthConfig{
//		ClientID: "0oa...", PrivateKey: key, Scopes: []string{okta.ScopeUsersManage}, DPoP: true,
//	}))
func ExampleWithOAuth() {
	ctx := context.Background()
	srv, err := oktatest.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	// The service app's key pair: the public half is registered with the
	// app in Okta, the private half stays with the service.
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		fmt.Println(err)
		return
	}
	key, err := okta.NewPrivateKey(ec, "preenroll-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	err = srv.AddServiceApp(oktatest.ServiceApp{
		ClientID: "0oaPreenroll",
		Keys:     []jose.JSONWebKey{key.PublicJWK()},
		Scopes:   []string{okta.ScopeUsersManage},
		DPoP:     true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	c, err := srv.OAuthClient(okta.OAuthConfig{
		ClientID:   "0oaPreenroll",
		PrivateKey: key,
		Scopes:     []string{okta.ScopeUsersManage},
		DPoP:       true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	u, err := c.CreateUser(ctx, okta.CreateUserRequest{Profile: okta.Profile{
		Login: "isaac@example.com", Email: "isaac@example.com", FirstName: "Isaac", LastName: "Brock",
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := c.GetUser(ctx, u.ID); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("user:", u.Status)

	// The app was not granted okta.groups.manage.
	err = c.AddUserToGroup(ctx, srv.AddGroup("YubiKey users"), u.ID)
	fmt.Println("add to group forbidden:", errors.Is(err, okta.ErrForbidden))

	// One token served every call; getting it took one nonce challenge.
	n := srv.TokenCounts("0oaPreenroll")
	fmt.Println("tokens:", n.Issued, "nonce challenges:", n.NonceChallenges)
	fmt.Println(key)
	// Output:
	// user: STAGED
	// add to group forbidden: true
	// tokens: 1 nonce challenges: 1
	// okta.PrivateKey(ES256, kid "preenroll-1", [REDACTED])
}

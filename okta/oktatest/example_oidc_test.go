package oktatest_test

import (
	"context"
	"fmt"
	"slices"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// ExampleServer_AddOIDCApp signs an administrator in to a web app with the
// authorization code flow and PKCE, as a console built on go-oidc and
// x/oauth2 does, and authorizes by the ID token's groups claim. SignIn
// stands in for the browser; a browser test fills input#login on the same
// page and clicks button#submit.
func ExampleServer_AddOIDCApp() {
	srv, err := oktatest.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	admin, err := srv.AddUser(okta.Profile{Login: "grace@example.com", Email: "grace@example.com", FirstName: "Grace", LastName: "Hopper"}, okta.UserActive)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := srv.AddToGroup(srv.AddGroup("preenroll-admins"), admin.ID); err != nil {
		fmt.Println(err)
		return
	}
	const redirect = "http://127.0.0.1:8080/auth/callback" // the app's callback; not called here
	err = srv.AddOIDCApp(oktatest.OIDCApp{
		ClientID: "0oaconsole", ClientSecret: "a-client-secret", Name: "Pre-enrollment console",
		RedirectURIs: []string{redirect}, PKCERequired: true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	// The app's side: discovery, the authorization request, the code
	// exchange and ID token verification.
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, srv.URL())
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := oauth2.Config{
		ClientID: "0oaconsole", ClientSecret: "a-client-secret", Endpoint: provider.Endpoint(),
		RedirectURL: redirect, Scopes: []string{oidc.ScopeOpenID, "profile", "groups"},
	}
	verifier := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("state-from-the-session", oidc.Nonce("nonce-from-the-session"), oauth2.S256ChallengeOption(verifier))

	// The administrator signs in on the fake's page.
	back, err := srv.SignIn(ctx, authURL, "grace@example.com")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("state:", back.Query().Get("state"))

	tok, err := cfg.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		fmt.Println(err)
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	// The fake's clock is not the wall clock: verify against it.
	idToken, err := provider.VerifierContext(ctx, &oidc.Config{ClientID: cfg.ClientID, Now: srv.Now}).Verify(ctx, rawID)
	if err != nil {
		fmt.Println(err)
		return
	}
	var claims struct {
		Login  string   `json:"preferred_username"`
		Name   string   `json:"name"`
		Groups []string `json:"groups"`
	}
	if err := idToken.Claims(&claims); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("nonce matches:", idToken.Nonce == "nonce-from-the-session")
	fmt.Println("subject is the user:", idToken.Subject == admin.ID)
	fmt.Println(claims.Login, "/", claims.Name, "/", claims.Groups)
	fmt.Println("admin:", slices.Contains(claims.Groups, "preenroll-admins"))
	// Output:
	// state: state-from-the-session
	// nonce matches: true
	// subject is the user: true
	// grace@example.com / Grace Hopper / [preenroll-admins]
	// admin: true
}

package okta_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/webauthn"
)

// TestArgumentError: every kind of argument the client refuses before
// sending (path segments, request fields, options, keys) gives an
// *ArgumentError that matches ErrInvalidArgument, whose fields name the
// call, the argument and the problem, and whose text is the package's
// prefix, Op and Reason. No request goes out, and no secret is in the text.
func TestArgumentError(t *testing.T) {
	t.Parallel()
	c, mt, _ := newTestClient(t)
	ctx := t.Context()
	key := ecKey(t, "")
	oauth := func(edit func(*okta.OAuthConfig)) error {
		cfg := okta.OAuthConfig{ClientID: clientID, PrivateKey: key, Scopes: []string{okta.ScopeUsersRead}}
		edit(&cfg)
		_, err := okta.NewClient(org, "", okta.WithOAuth(cfg))
		return err
	}
	withOptions := func(opts ...okta.Option) error {
		_, err := okta.NewClient(org, token, opts...)
		return err
	}
	firstLogError := func(q okta.LogQuery) error {
		for _, err := range c.ListLogEvents(ctx, q) {
			return err
		}
		return nil
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sigKey, err := webauthn.GenerateKey(rand.Reader, "k", webauthn.UseSigning)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		err  error
		want okta.ArgumentError
	}{
		// Path segments.
		{"GetUser empty", func() error { _, err := c.GetUser(ctx, ""); return err }(),
			okta.ArgumentError{Op: "get user", Arg: "idOrLogin", Problem: "is empty"}},
		{"GetUser slash", func() error { _, err := c.GetUser(ctx, "a/b"); return err }(),
			okta.ArgumentError{Op: "get user", Arg: "idOrLogin", Problem: `"a/b" contains a path separator`}},
		{"GetUser long", func() error { _, err := c.GetUser(ctx, strings.Repeat("é", 100)+"/"); return err }(), // quoted to 64 bytes
			okta.ArgumentError{Op: "get user", Arg: "idOrLogin", Problem: `"` + strings.Repeat("é", 32) + `…" contains a path separator`}},
		{"ActivateUser control", c.ActivateUser(ctx, "00u\x00", false),
			okta.ArgumentError{Op: "activate user", Arg: "userID", Problem: `"00u\x00" contains a control character`}},
		{"DeleteEnrollment dotdot", c.DeleteEnrollment(ctx, "00u1", ".."),
			okta.ArgumentError{Op: "delete enrollment", Arg: "enrollmentID", Problem: `".." contains a path separator`}},
		// Request fields.
		{"CreateUser login", func() error { _, err := c.CreateUser(ctx, okta.CreateUserRequest{}); return err }(),
			okta.ArgumentError{Op: "create user", Arg: "profile.login", Problem: "is empty"}},
		{"CreateUser type", func() error {
			_, err := c.CreateUser(ctx, okta.CreateUserRequest{Profile: okta.Profile{Login: "a@example.com"}, TypeID: " oty1"})
			return err
		}(), okta.ArgumentError{Op: "create user", Arg: "type.id", Problem: `" oty1" has surrounding spaces or control characters`}},
		{"ListUsers limit", func() error { _, err := c.ListUsers(ctx, 201); return err }(),
			okta.ArgumentError{Op: "list users", Arg: "limit", Problem: "201 is not between 1 and 200"}},
		{"GroupsNamed", func() error { _, err := c.GroupsNamed(ctx, " "); return err }(),
			okta.ArgumentError{Op: "list groups", Arg: "name", Problem: "is empty or has control characters"}},
		{"Initiate no product", c.InitiateFulfillment(ctx, okta.FulfillmentRequest{UserID: "00u1", FulfillmentData: okta.FulfillmentData{{}}}),
			okta.ArgumentError{Op: "initiate fulfillment", Arg: "fulfillmentData[0].productId", Problem: "is empty"}},
		{"Enroll empty RP ID", func() error {
			_, err := c.Enroll(ctx, okta.EnrollRequest{UserID: "00u1", RPIDs: []string{"a.example", ""}})
			return err
		}(), okta.ArgumentError{Op: "enroll", Arg: "enrollmentRpIds[1]", Problem: "is empty"}},
		{"Enroll key", func() error {
			_, err := c.Enroll(ctx, okta.EnrollRequest{UserID: "00u1", RPIDs: []string{"a.example"}})
			return err
		}(), okta.ArgumentError{Op: "enroll", Arg: "yubicoTransportKeyJWK", Problem: "is invalid: jwk: kid: missing"}},
		{"Enroll key use", func() error {
			_, err := c.Enroll(ctx, okta.EnrollRequest{UserID: "00u1", RPIDs: []string{"a.example"}, TransportKey: sigKey.Public()})
			return err
		}(), okta.ArgumentError{Op: "enroll", Arg: "yubicoTransportKeyJWK.use", Problem: `"sig" is not "enc"`}},
		{"Activate cred response", func() error {
			_, err := c.Activate(ctx, okta.ActivateRequest{UserID: "00u1", Serial: "1", Version: "5.7.1", PINResponseJWE: "a.b.c.d.e",
				CredResponses: []okta.CredResponse{{}}, SigningKeys: []webauthn.PublicJWK{{}}})
			return err
		}(), okta.ArgumentError{Op: "activate", Arg: "credResponses[0]", Problem: "lacks authenticatorEnrollmentId or credResponseJwe"}},
		{"SendPIN", c.SendPIN(ctx, okta.SendPINRequest{UserID: "00u1"}),
			okta.ArgumentError{Op: "send pin", Arg: "userId and authenticatorEnrollmentId", Problem: "are required"}},
		{"Authenticate", func() error { _, err := c.Authenticate(ctx, okta.AuthnRequest{}); return err }(),
			okta.ArgumentError{Op: "authn", Arg: "username", Problem: "is empty"}},
		{"VerifyWebAuthnFactor", func() error { _, err := c.VerifyWebAuthnFactor(ctx, "st", "f", okta.WebAuthnAssertion{}); return err }(),
			okta.ArgumentError{Op: "verify webauthn factor", Arg: "clientData, authenticatorData and signatureData", Problem: "are required"}},
		{"ListLogEvents since", firstLogError(okta.LogQuery{}),
			okta.ArgumentError{Op: "list log events", Arg: "Since", Problem: "is required"}},
		{"ListLogEvents until", firstLogError(okta.LogQuery{Since: epoch, Until: epoch}),
			okta.ArgumentError{Op: "list log events", Arg: "Until", Problem: "2026-03-01 12:00:00 +0000 UTC is not after Since 2026-03-01 12:00:00 +0000 UTC"}},
		{"CreateEventHook name", func() error { _, err := c.CreateEventHook(ctx, okta.EventHook{}); return err }(),
			okta.ArgumentError{Op: "create event hook", Arg: "name", Problem: "is empty"}},
		// NewClient and its options.
		{"org URL path", func() error { _, err := okta.NewClient(org+"/api", token); return err }(),
			okta.ArgumentError{Arg: "org URL", Problem: `"https://example.okta.com/api" must not have a path, query or fragment`}},
		{"org URL plain http", func() error { _, err := okta.NewClient("http://example.okta.com", token); return err }(),
			okta.ArgumentError{Arg: "org URL", Problem: `"http://example.okta.com": plain http is only allowed for loopback hosts`}},
		{"empty token", func() error { _, err := okta.NewClient(org, ""); return err }(),
			okta.ArgumentError{Arg: "token", Problem: "is empty"}},
		{"token with a space", func() error { _, err := okta.NewClient(org, token+" x"); return err }(),
			okta.ArgumentError{Arg: "token", Problem: "contains whitespace or control characters"}},
		{"token and OAuth", func() error {
			_, err := okta.NewClient(org, token, okta.WithOAuth(okta.OAuthConfig{ClientID: clientID, PrivateKey: key, Scopes: []string{okta.ScopeUsersRead}}))
			return err
		}(), okta.ArgumentError{Arg: "token", Problem: "must be empty with WithOAuth"}},
		// Options: the ones shared with the yubico client, and okta's own.
		{"nil option", withOptions(okta.WithUserAgent("x"), nil),
			okta.ArgumentError{Arg: "option 1", Problem: "is nil"}},
		{"nil HTTP client", withOptions(okta.WithHTTPClient(nil)),
			okta.ArgumentError{Op: "WithHTTPClient", Arg: "HTTP client", Problem: "is nil"}},
		{"user agent line break", withOptions(okta.WithUserAgent("a\r\nX-Evil: 1")),
			okta.ArgumentError{Op: "WithUserAgent", Arg: "user agent", Problem: "contains a line break"}},
		{"nil clock", withOptions(okta.WithClock(nil)),
			okta.ArgumentError{Op: "WithClock", Arg: "clock", Problem: "is nil"}},
		{"zero body size", withOptions(okta.WithMaxBodySize(0)),
			okta.ArgumentError{Op: "WithMaxBodySize", Arg: "size", Problem: "0 is not positive"}},
		{"negative retries", withOptions(okta.WithRetryPolicy(okta.RetryPolicy{MaxRetries: -1})),
			okta.ArgumentError{Op: "WithRetryPolicy", Arg: "MaxRetries", Problem: "-1 is negative"}},
		{"negative rate-limit wait", withOptions(okta.WithRetryPolicy(okta.RetryPolicy{MaxRateLimitWait: -time.Second})),
			okta.ArgumentError{Op: "WithRetryPolicy", Arg: "MaxRateLimitWait", Problem: "-1s is negative"}},
		{"negative jitter", withOptions(okta.WithRetryPolicy(okta.RetryPolicy{RateLimitJitter: -time.Second})),
			okta.ArgumentError{Op: "WithRetryPolicy", Arg: "RateLimitJitter", Problem: "-1s is negative"}},
		{"OAuth client ID", oauth(func(c *okta.OAuthConfig) { c.ClientID = "a b" }),
			okta.ArgumentError{Op: "WithOAuth", Arg: "ClientID", Problem: "contains a space"}},
		{"OAuth key ID", oauth(func(c *okta.OAuthConfig) { c.KeyID = "k\n" }),
			okta.ArgumentError{Op: "WithOAuth", Arg: "KeyID", Problem: "contains a control or non-ASCII character"}},
		{"OAuth scope", oauth(func(c *okta.OAuthConfig) { c.Scopes = []string{okta.ScopeUsersRead, "a b"} }),
			okta.ArgumentError{Op: "WithOAuth", Arg: "Scopes[1]", Problem: `"a b" is not a valid scope`}},
		{"OAuth refresh", oauth(func(c *okta.OAuthConfig) { c.RefreshBefore = -time.Second }),
			okta.ArgumentError{Op: "WithOAuth", Arg: "RefreshBefore", Problem: "-1s is negative"}},
		{"OAuth token URL", oauth(func(c *okta.OAuthConfig) { c.TokenURL = org + "/oauth2/v1/token#x" }),
			okta.ArgumentError{Op: "WithOAuth", Arg: "TokenURL", Problem: "must not have a query or a fragment"}},
		// Keys: the key itself is the argument.
		{"ParsePrivateKey empty", func() error { _, err := okta.ParsePrivateKey([]byte(" \n")); return err }(),
			okta.ArgumentError{Op: "private key", Problem: "empty"}},
		{"ParsePrivateKey garbled PEM", func() error {
			_, err := okta.ParsePrivateKey([]byte("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n"))
			return err
		}(), okta.ArgumentError{Op: "private key", Problem: `PEM block "PRIVATE KEY" does not hold a valid key`}},
		{"ParsePrivateKey public JWK", func() error {
			_, err := okta.ParsePrivateKey([]byte(`{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}`))
			return err
		}(), okta.ArgumentError{Op: "private key", Problem: "the JWK holds a public key; the private key is needed"}},
		{"NewPrivateKey nil", func() error { _, err := okta.NewPrivateKey(nil, ""); return err }(),
			okta.ArgumentError{Op: "private key", Problem: "nil signer"}},
		{"NewPrivateKey curve", func() error { _, err := okta.NewPrivateKey(p224, ""); return err }(),
			okta.ArgumentError{Op: "private key", Problem: "EC curve P-224 is not P-256, P-384 or P-521"}},
		{"NewPrivateKey key ID", func() error { _, err := okta.NewPrivateKey(p224, "k\x7f"); return err }(),
			okta.ArgumentError{Op: "private key", Arg: "key ID", Problem: "contains a control or non-ASCII character"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, okta.ErrInvalidArgument) {
				t.Errorf("err = %v, want one matching ErrInvalidArgument", tc.err)
			}
			ae, ok := errors.AsType[*okta.ArgumentError](tc.err)
			if !ok {
				t.Fatalf("err = %v (%T), want an *okta.ArgumentError", tc.err, tc.err)
			}
			if diff := cmp.Diff(tc.want, *ae); diff != "" {
				t.Errorf("ArgumentError (-want +got):\n%s", diff)
			}
			want := "okta: invalid argument: " + tc.want.Reason()
			if tc.want.Op != "" {
				want = "okta: invalid argument: " + tc.want.Op + ": " + tc.want.Reason()
			}
			if got := tc.err.Error(); got != want {
				t.Errorf("Error() = %q, want %q", got, want)
			}
			if strings.Contains(tc.err.Error(), token) {
				t.Errorf("Error() = %q holds the token", tc.err.Error())
			}
		})
	}
	if n := mt.GetTotalCallCount(); n != 0 {
		t.Errorf("%d requests sent for invalid arguments, want 0", n)
	}
}

// TestArgumentErrorReason: Reason joins Arg and Problem with a space and
// leaves out whichever is empty; Error puts the prefix and Op before it.
func TestArgumentErrorReason(t *testing.T) {
	t.Parallel()
	var got []string
	for _, e := range []okta.ArgumentError{
		{Op: "get user", Arg: "idOrLogin", Problem: "is empty"},
		{Op: "private key", Problem: "empty"},
		{Arg: "org URL", Problem: `"x" is not an absolute https URL`},
		{Op: "enroll", Arg: "userId"},
		{},
	} {
		got = append(got, e.Reason(), e.Error())
	}
	want := []string{
		"idOrLogin is empty", "okta: invalid argument: get user: idOrLogin is empty",
		"empty", "okta: invalid argument: private key: empty",
		`org URL "x" is not an absolute https URL`, `okta: invalid argument: org URL "x" is not an absolute https URL`,
		"userId", "okta: invalid argument: enroll: userId",
		"", "okta: invalid argument: ",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Reason, Error (-want +got):\n%s", diff)
	}
}

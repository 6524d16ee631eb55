package okta

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Secret is a bearer value (an Authn state or session token, a password)
// that must not be logged. It formats as "[REDACTED]" with every verb, and
// encoding/json, text encoders and log/slog encode it as "[REDACTED]" too
// (an empty Secret as ""), so that a program logging its settings as JSON
// leaks none; the client sends the value to Okta through internal types.
// Use Reveal to get the value. It decodes from a JSON string as is.
type Secret string

// String returns "[REDACTED]".
func (Secret) String() string { return "[REDACTED]" }

// GoString returns "[REDACTED]".
func (Secret) GoString() string { return "[REDACTED]" }

// Format prints "[REDACTED]" for every verb.
func (Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "[REDACTED]") }

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// MarshalJSON encodes the secret as "[REDACTED]" ("" when empty).
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(redactedIfSet(s)) }

// MarshalText encodes the secret as "[REDACTED]" (nothing when empty).
func (s Secret) MarshalText() ([]byte, error) { return []byte(redactedIfSet(s)), nil }

// AuthnStatus is the status of a classic Authn transaction. Values not
// listed here are decoded as is.
type AuthnStatus string

// Authn transaction statuses used in WebAuthn sign-in.
const (
	AuthnMFARequired  AuthnStatus = "MFA_REQUIRED"
	AuthnMFAChallenge AuthnStatus = "MFA_CHALLENGE"
	AuthnMFAEnroll    AuthnStatus = "MFA_ENROLL"
	AuthnSuccess      AuthnStatus = "SUCCESS"
)

// AuthnRequest is the body of primary authentication (POST /api/v1/authn).
// It encodes to JSON with its password redacted; [Client.Authenticate]
// sends the password.
type AuthnRequest struct {
	// Username is the user's login.
	Username string `json:"username"`
	// Password may be empty for identifier-only primary authentication of a
	// passwordless user.
	Password Secret `json:"password,omitempty"`
}

// FactorProfile is the profile of a WebAuthn factor in an Authn transaction.
type FactorProfile struct {
	// CredentialID is the WebAuthn credential ID, base64url.
	CredentialID string `json:"credentialId"`
	// AuthenticatorName is e.g. "YubiKey".
	AuthenticatorName string `json:"authenticatorName,omitempty"`
}

// Factor is a factor offered or challenged in an Authn transaction.
type Factor struct {
	ID         string        `json:"id"`         // factor ID (the enrollment ID)
	FactorType string        `json:"factorType"` // "webauthn"
	Provider   string        `json:"provider"`   // "FIDO"
	VendorName string        `json:"vendorName"` // "FIDO"
	Profile    FactorProfile `json:"profile"`    // the credential
}

// WebAuthnChallenge is a WebAuthn factor's challenge
// (_embedded.factor._embedded.challenge).
type WebAuthnChallenge struct {
	// Challenge is base64url, as a browser's navigator.credentials.get
	// expects after decoding.
	Challenge string `json:"challenge"`
	// UserVerification is "required", "preferred" or "discouraged".
	UserVerification string `json:"userVerification,omitempty"`
	// Extensions are the WebAuthn client extension inputs, as sent.
	Extensions json.RawMessage `json:"extensions,omitempty"`
}

// AuthnUser is the user of an Authn transaction.
type AuthnUser struct {
	ID    string // the Okta user ID
	Login string // the user's login
}

// AuthnTransaction is the state of a classic Authn transaction. Its tokens
// are Secrets.
type AuthnTransaction struct {
	Status       AuthnStatus // MFA_REQUIRED, MFA_CHALLENGE, SUCCESS, ...
	StateToken   Secret      // carries the transaction to the next step
	SessionToken Secret      // set on SUCCESS
	ExpiresAt    time.Time   // when the state token expires
	FactorResult string      // e.g. "CHALLENGE"
	User         AuthnUser   // the user signing in
	// Factors are the factors offered (MFA_REQUIRED).
	Factors []Factor
	// Factor is the challenged factor (MFA_CHALLENGE).
	Factor Factor
	// Challenge is the challenged factor's WebAuthn challenge (MFA_CHALLENGE).
	Challenge WebAuthnChallenge
}

type authnWire struct {
	Status       AuthnStatus `json:"status"`
	StateToken   string      `json:"stateToken"`
	SessionToken string      `json:"sessionToken"`
	ExpiresAt    time.Time   `json:"expiresAt"`
	FactorResult string      `json:"factorResult"`
	Embedded     struct {
		User struct {
			ID      string `json:"id"`
			Profile struct {
				Login string `json:"login"`
			} `json:"profile"`
		} `json:"user"`
		Factors []Factor `json:"factors"`
		Factor  struct {
			Factor
			Embedded struct {
				Challenge WebAuthnChallenge `json:"challenge"`
			} `json:"_embedded"`
		} `json:"factor"`
	} `json:"_embedded"`
}

// UnmarshalJSON decodes Okta's Authn transaction object.
func (t *AuthnTransaction) UnmarshalJSON(b []byte) error {
	var w authnWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*t = w.transaction()
	return nil
}

// transaction returns the AuthnTransaction w decoded. The client's calls
// decode the body straight into an authnWire: through
// AuthnTransaction.UnmarshalJSON it would be validated and decoded twice.
func (w *authnWire) transaction() AuthnTransaction {
	return AuthnTransaction{
		Status:       w.Status,
		StateToken:   Secret(w.StateToken),
		SessionToken: Secret(w.SessionToken),
		ExpiresAt:    w.ExpiresAt,
		FactorResult: w.FactorResult,
		User:         AuthnUser{ID: w.Embedded.User.ID, Login: w.Embedded.User.Profile.Login},
		Factors:      w.Embedded.Factors,
		Factor:       w.Embedded.Factor.Factor,
		Challenge:    w.Embedded.Factor.Embedded.Challenge,
	}
}

// WebAuthnFactors returns the offered factors of type "webauthn".
func (t AuthnTransaction) WebAuthnFactors() []Factor {
	var fs []Factor
	for _, f := range t.Factors {
		if f.FactorType == "webauthn" {
			fs = append(fs, f)
		}
	}
	return fs
}

// WebAuthnRequestOptions turns the transaction's WebAuthn challenge into the
// JSON a platform (browser or authenticator driver) consumes for
// navigator.credentials.get:
//
//	{"publicKey":{"challenge":"…","rpId":"…","allowCredentials":[{"type":"public-key","id":"…"}],"userVerification":"…"}}
//
// with base64url values. rpID is the relying party the credential was
// registered for; when empty, the org's host name is used (Okta's default
// RP ID). The transaction must be in MFA_CHALLENGE with a challenge.
func (t AuthnTransaction) WebAuthnRequestOptions(rpID string) ([]byte, error) {
	if t.Challenge.Challenge == "" {
		return nil, fmt.Errorf("okta: webauthn request options: transaction (status %q) has no WebAuthn challenge", t.Status)
	}
	if _, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(t.Challenge.Challenge, "=")); err != nil {
		return nil, fmt.Errorf("okta: webauthn request options: challenge is not base64url: %w", err)
	}
	if rpID == "" {
		return nil, fmt.Errorf("okta: webauthn request options: rpID is empty")
	}
	type allow struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	type options struct {
		Challenge        string  `json:"challenge"`
		RPID             string  `json:"rpId"`
		AllowCredentials []allow `json:"allowCredentials,omitempty"`
		UserVerification string  `json:"userVerification,omitempty"`
	}
	o := options{Challenge: strings.TrimRight(t.Challenge.Challenge, "="), RPID: rpID, UserVerification: t.Challenge.UserVerification}
	if id := t.Factor.Profile.CredentialID; id != "" {
		o.AllowCredentials = []allow{{Type: "public-key", ID: strings.TrimRight(id, "=")}}
	}
	return json.Marshal(struct {
		PublicKey options `json:"publicKey"`
	}{o})
}

// WebAuthnRequestOptions is [AuthnTransaction.WebAuthnRequestOptions] with
// the org's host name as the default RP ID.
func (c *Client) WebAuthnRequestOptions(t AuthnTransaction, rpID string) ([]byte, error) {
	if rpID == "" {
		rpID = c.org.Hostname()
	}
	return t.WebAuthnRequestOptions(rpID)
}

// WebAuthnAssertion is what a WebAuthn factor verification sends: the raw
// clientDataJSON, authenticatorData and signature of an assertion.
type WebAuthnAssertion struct {
	ClientData        []byte // clientDataJSON
	AuthenticatorData []byte // authenticatorData
	SignatureData     []byte // signature
}

// ParseWebAuthnAssertion extracts the assertion from browser-shaped
// PublicKeyCredential JSON ({"id","rawId","type","response":{"clientDataJSON",
// "authenticatorData","signature","userHandle"}}, base64url members).
func ParseWebAuthnAssertion(credentialJSON []byte) (WebAuthnAssertion, error) {
	var w struct {
		Type     string `json:"type"`
		Response struct {
			ClientDataJSON    string `json:"clientDataJSON"`
			AuthenticatorData string `json:"authenticatorData"`
			Signature         string `json:"signature"`
		} `json:"response"`
	}
	if err := json.Unmarshal(credentialJSON, &w); err != nil {
		return WebAuthnAssertion{}, fmt.Errorf("okta: parse webauthn assertion: %w", err)
	}
	if w.Type != "public-key" {
		return WebAuthnAssertion{}, fmt.Errorf("okta: parse webauthn assertion: type %q is not \"public-key\"", w.Type)
	}
	var a WebAuthnAssertion
	for _, f := range []struct {
		name string
		in   string
		out  *[]byte
	}{
		{"response.clientDataJSON", w.Response.ClientDataJSON, &a.ClientData},
		{"response.authenticatorData", w.Response.AuthenticatorData, &a.AuthenticatorData},
		{"response.signature", w.Response.Signature, &a.SignatureData},
	} {
		b, err := decodeB64(f.in)
		if err != nil || len(b) == 0 {
			return WebAuthnAssertion{}, fmt.Errorf("okta: parse webauthn assertion: %s is missing or not base64url", f.name)
		}
		*f.out = b
	}
	return a, nil
}

// decodeB64 accepts base64url or standard base64, padded or not.
func decodeB64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "+/") {
		return base64.RawStdEncoding.DecodeString(s)
	}
	return base64.RawURLEncoding.DecodeString(s)
}

// Authenticate starts a classic Authn transaction (POST /api/v1/authn). With
// an empty password this is identifier-only primary authentication, which
// a passwordless user's org policy must allow; the transaction then
// normally is MFA_REQUIRED with the user's factors. The request is sent
// without the API token (Okta treats token-authenticated Authn calls as a
// trusted application). Not retried after transport errors or 5xx.
//
// Errors: ErrInvalidArgument (empty username); *APIError wrapping
// ErrUnauthorized (E0000004 authentication failed, e.g. a STAGED user),
// ErrRateLimited.
func (c *Client) Authenticate(ctx context.Context, req AuthnRequest) (AuthnTransaction, error) {
	const op = "authn"
	if req.Username == "" {
		return AuthnTransaction{}, argError(op, "username", "is empty")
	}
	body := struct {
		Username string `json:"username"`
		Password string `json:"password,omitempty"`
	}{req.Username, req.Password.Reveal()}
	var w authnWire
	if _, err := c.do(ctx, &call{
		op: op, method: "POST", route: "/api/v1/authn",
		body: body, anonymous: true, out: &w,
	}); err != nil {
		return AuthnTransaction{}, err
	}
	return w.transaction(), nil
}

// ChallengeWebAuthnFactor asks for a WebAuthn factor's challenge
// (POST /api/v1/authn/factors/{factorId}/verify with only the state token).
// The returned transaction is MFA_CHALLENGE with Factor and Challenge set.
//
// Errors: ErrInvalidArgument; *APIError wrapping ErrUnauthorized (E0000011
// invalid or expired state token), ErrNotFound (unknown factor),
// ErrRateLimited.
func (c *Client) ChallengeWebAuthnFactor(ctx context.Context, stateToken Secret, factorID string) (AuthnTransaction, error) {
	const op = "challenge webauthn factor"
	return c.verifyFactor(ctx, op, stateToken, factorID, nil)
}

// VerifyWebAuthnFactor completes a WebAuthn factor with an assertion
// (POST /api/v1/authn/factors/{factorId}/verify with stateToken, clientData,
// authenticatorData and signatureData, base64). On success the transaction
// is SUCCESS with a SessionToken.
//
// Errors: ErrInvalidArgument; *APIError wrapping ErrForbidden (E0000068 the
// assertion did not verify), ErrUnauthorized (E0000011 invalid or expired
// state token), ErrNotFound, ErrRateLimited.
func (c *Client) VerifyWebAuthnFactor(ctx context.Context, stateToken Secret, factorID string, a WebAuthnAssertion) (AuthnTransaction, error) {
	const op = "verify webauthn factor"
	if len(a.ClientData) == 0 || len(a.AuthenticatorData) == 0 || len(a.SignatureData) == 0 {
		return AuthnTransaction{}, argError(op, "clientData, authenticatorData and signatureData", "are required")
	}
	return c.verifyFactor(ctx, op, stateToken, factorID, &a)
}

func (c *Client) verifyFactor(ctx context.Context, op string, stateToken Secret, factorID string, a *WebAuthnAssertion) (AuthnTransaction, error) {
	if stateToken == "" {
		return AuthnTransaction{}, argError(op, "stateToken", "is empty")
	}
	body := struct {
		StateToken        string `json:"stateToken"`
		ClientData        string `json:"clientData,omitempty"`
		AuthenticatorData string `json:"authenticatorData,omitempty"`
		SignatureData     string `json:"signatureData,omitempty"`
	}{StateToken: stateToken.Reveal()}
	if a != nil {
		body.ClientData = base64.StdEncoding.EncodeToString(a.ClientData)
		body.AuthenticatorData = base64.StdEncoding.EncodeToString(a.AuthenticatorData)
		body.SignatureData = base64.StdEncoding.EncodeToString(a.SignatureData)
	}
	var w authnWire
	if _, err := c.do(ctx, &call{
		op: op, method: "POST", route: "/api/v1/authn/factors/{factorId}/verify",
		args: []pathArg{{"factorID", factorID}}, body: body, anonymous: true, out: &w,
	}); err != nil {
		return AuthnTransaction{}, err
	}
	return w.transaction(), nil
}

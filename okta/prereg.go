package okta

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/preenroll/preenroll/webauthn"
)

// ProviderYubico is the only fulfillment provider Okta defines.
const ProviderYubico = "yubico"

// FulfillmentOrder is one entry of fulfillmentData (Okta's
// FulfillmentDataOrderDetails); all members are strings on the wire.
type FulfillmentOrder struct {
	// ProductID is the make and model, e.g. "1" (YubiKey 5 NFC), "29", "54", "55".
	ProductID string `json:"productId"`
	// InventoryProductID is the inventory bucket.
	InventoryProductID string `json:"inventoryProductId"`
	// CustomizationID names the set of custom configurations.
	CustomizationID string `json:"customizationId"`
}

// missingField names the first of productId, inventoryProductId and
// customizationId that is blank ("" when none is). Okta's schema lists
// the three without marking them required, but the FIDO Pre-reg shipment
// an order becomes needs all three (docs/yubico.md §FIDO Pre-reg
// shipments), so an order without one is refused before it reaches Okta
// (docs/decisions.md §Order items).
func (o FulfillmentOrder) missingField() string {
	for _, f := range []struct{ name, v string }{
		{"productId", o.ProductID}, {"inventoryProductId", o.InventoryProductID}, {"customizationId", o.CustomizationID},
	} {
		if strings.TrimSpace(f.v) == "" {
			return f.name
		}
	}
	return ""
}

// FulfillmentData is Okta's fulfillmentData: an array since spec 2025.08.0.
// It encodes as an array and also decodes the legacy single-object form.
type FulfillmentData []FulfillmentOrder

// UnmarshalJSON accepts an array, a single object (legacy form) or null.
func (d *FulfillmentData) UnmarshalJSON(b []byte) error {
	return oneOrMany(b, (*[]FulfillmentOrder)(d))
}

// FulfillmentRequest is the body of initiate-fulfillment-request.
type FulfillmentRequest struct {
	// UserID is the Okta user ID.
	UserID string `json:"userId"`
	// FulfillmentProvider defaults to ProviderYubico when empty.
	FulfillmentProvider string `json:"fulfillmentProvider"`
	// FulfillmentData are the keys ordered (at least one).
	FulfillmentData FulfillmentData `json:"fulfillmentData"`
}

// EnrollRequest is the body of enroll (Okta's EnrollmentInitializationRequest).
type EnrollRequest struct {
	// UserID is the Okta user ID.
	UserID string `json:"userId"`
	// FulfillmentProvider defaults to ProviderYubico when empty.
	FulfillmentProvider string `json:"fulfillmentProvider"`
	// RPIDs are the relying-party hostnames to register on the key
	// (enrollmentRpIds); one enrollment is created per RP ID.
	RPIDs []string `json:"enrollmentRpIds"`
	// TransportKey is Yubico's P-384 transport key (use "enc"), in Okta's
	// ECKeyJWK shape: one of yubico.Client.TransportKeys as it comes.
	TransportKey webauthn.PublicJWK `json:"yubicoTransportKeyJWK"`
}

// CredRequest is one credential request returned by enroll.
type CredRequest struct {
	// AuthenticatorEnrollmentID is the enrollment this request is for ("fwf…").
	AuthenticatorEnrollmentID string `json:"authenticatorEnrollmentId"`
	// CredRequestJWE is the credential request, a compact JWE to the transport key.
	CredRequestJWE string `json:"credRequestJwe"`
	// KeyID names Okta's response key pair for this enrollment.
	KeyID string `json:"keyId"`
}

// EnrollResponse is Okta's EnrollmentInitializationResponse.
type EnrollResponse struct {
	UserID              string `json:"userId"`              // the Okta user ID
	FulfillmentProvider string `json:"fulfillmentProvider"` // "yubico"
	// PINRequestJWE is the PIN request, a compact JWE to the transport key.
	PINRequestJWE string `json:"pinRequestJwe"`
	// CredRequests holds one credential request per RP ID (enrollment).
	CredRequests []CredRequest `json:"credRequests"`
}

// CredResponse is one credential response sent to activate.
type CredResponse struct {
	// AuthenticatorEnrollmentID is the enrollment the response is for.
	AuthenticatorEnrollmentID string `json:"authenticatorEnrollmentId"`
	// CredResponseJWE is Yubico's credential response, a compact JWE to the
	// enrollment's response key wrapping a JWS by a Yubico signing key.
	CredResponseJWE string `json:"credResponseJwe"`
}

// ActivateRequest is the body of activate (EnrollmentActivationRequest).
type ActivateRequest struct {
	// UserID is the Okta user ID.
	UserID string `json:"userId"`
	// FulfillmentProvider defaults to ProviderYubico when empty.
	FulfillmentProvider string `json:"fulfillmentProvider"`
	// Serial is the key's serial number as a decimal string.
	Serial string `json:"serial"`
	// Version is the key's firmware version, e.g. "5.7.1".
	Version string `json:"version"`
	// PINResponseJWE is Yubico's PIN response (fido_pin_response).
	PINResponseJWE string `json:"pinResponseJwe"`
	// CredResponses pairs each credential response with its enrollment.
	CredResponses []CredResponse `json:"credResponses"`
	// SigningKeys are Yubico's signing keys (use "sig"), yubicoSigningJwks:
	// yubico.Client.SigningKeys as they come.
	SigningKeys []webauthn.PublicJWK `json:"yubicoSigningJwks"`
}

// ActivateResponse is Okta's EnrollmentActivationResponse.
type ActivateResponse struct {
	UserID                     string   `json:"userId"`                     // the Okta user ID
	FulfillmentProvider        string   `json:"fulfillmentProvider"`        // "yubico"
	AuthenticatorEnrollmentIDs []string `json:"authenticatorEnrollmentIds"` // the activated enrollments
}

// SendPINRequest is the body of send-pin.
type SendPINRequest struct {
	// UserID is the Okta user ID.
	UserID string `json:"userId"`
	// FulfillmentProvider defaults to ProviderYubico when empty.
	FulfillmentProvider string `json:"fulfillmentProvider"`
	// AuthenticatorEnrollmentID is an activated enrollment of the key.
	AuthenticatorEnrollmentID string `json:"authenticatorEnrollmentId"`
}

// EnrollmentStatus is the status of a preregistered WebAuthn factor. Okta
// does not document the set; the constants are the values the project
// relies on (see the package documentation). Any other value decodes.
type EnrollmentStatus string

// Enrollment statuses.
const (
	// StatusFulfillmentPending: after enroll, before activate (third-party
	// observed name, not confirmed by Okta).
	StatusFulfillmentPending EnrollmentStatus = "FULFILLMENT_PENDING"
	// StatusFulfillmentErrored: after mark-error (named by Okta's spec).
	StatusFulfillmentErrored EnrollmentStatus = "FULFILLMENT_ERRORED"
	// StatusActive: after activate (Okta's list example).
	StatusActive EnrollmentStatus = "ACTIVE"
)

// Known reports whether s is one of the constants above.
func (s EnrollmentStatus) Known() bool {
	return s == StatusFulfillmentPending || s == StatusFulfillmentErrored || s == StatusActive
}

// EnrollmentProfile is the profile of a preregistered factor.
type EnrollmentProfile struct {
	// CredentialID is the WebAuthn credential ID, base64url, once activated.
	CredentialID string `json:"credentialId,omitempty"`
	// AuthenticatorName is e.g. "YubiKey 5C".
	AuthenticatorName string `json:"authenticatorName,omitempty"`
	// PresetPINAvailable is true while Okta holds the factory PIN, i.e.
	// from activation until the first successful sign-in.
	PresetPINAvailable bool `json:"presetPinAvailable"`
}

// Enrollment is one preregistered WebAuthn factor as listed by Okta
// (WebAuthnPreregistrationFactor). Members the client does not model are
// ignored.
type Enrollment struct {
	ID                  string            `json:"id"`                  // enrollment ID, "fwf…"
	FactorType          string            `json:"factorType"`          // "webauthn"
	Provider            string            `json:"provider"`            // "FIDO"
	VendorName          string            `json:"vendorName"`          // "FIDO"
	FulfillmentProvider string            `json:"fulfillmentProvider"` // "yubico"
	Status              EnrollmentStatus  `json:"status"`              // any string; see the constants
	Created             time.Time         `json:"created"`             // when enroll created it
	LastUpdated         time.Time         `json:"lastUpdated"`         // its last change
	Profile             EnrollmentProfile `json:"profile"`             // credential and PIN state
}

const preregBase = "/webauthn-registration/api/v1"

func provider(p string) string {
	if p == "" {
		return ProviderYubico
	}
	return p
}

// InitiateFulfillment asks Okta to start a fulfillment for a user
// (POST /webauthn-registration/api/v1/initiate-fulfillment-request, 204).
// Okta emits the system.mfa.preregister.initiate event; it creates no
// enrollment and returns no ID. Not retried after transport errors or 5xx.
//
// Errors: ErrInvalidArgument (empty userId or fulfillmentData, an order
// without productId, inventoryProductId or customizationId); *APIError wrapping ErrNotFound (unknown user),
// ErrValidation, ErrForbidden, ErrRateLimited.
func (c *Client) InitiateFulfillment(ctx context.Context, req FulfillmentRequest) error {
	const op = "initiate fulfillment"
	if req.UserID == "" {
		return argError(op, "userId", "is empty")
	}
	if len(req.FulfillmentData) == 0 {
		return argError(op, "fulfillmentData", "is empty")
	}
	for i, o := range req.FulfillmentData {
		if field := o.missingField(); field != "" {
			return argError(op, fmt.Sprintf("fulfillmentData[%d].%s", i, field), "is empty")
		}
	}
	req.FulfillmentProvider = provider(req.FulfillmentProvider)
	_, err := c.do(ctx, &call{
		op: op, method: "POST", route: preregBase + "/initiate-fulfillment-request",
		body: req,
	})
	return err
}

// Enroll creates preregistered WebAuthn enrollments for a user, one per RP
// ID (POST /webauthn-registration/api/v1/enroll). Okta returns a PIN request
// and one credential request per enrollment, encrypted to the transport
// key. Not retried after transport errors or 5xx (each call creates
// enrollments).
//
// Errors: ErrInvalidArgument (empty userId or RP IDs, a transport key that
// fails [webauthn.PublicJWK.Validate] or whose use is not "enc"); *APIError wrapping ErrValidation (E0000001, e.g. the user
// already has a key in fulfillment), ErrNotFound, ErrForbidden,
// ErrRateLimited.
func (c *Client) Enroll(ctx context.Context, req EnrollRequest) (EnrollResponse, error) {
	const op = "enroll"
	if req.UserID == "" {
		return EnrollResponse{}, argError(op, "userId", "is empty")
	}
	if len(req.RPIDs) == 0 {
		return EnrollResponse{}, argError(op, "enrollmentRpIds", "is empty")
	}
	for i, rp := range req.RPIDs {
		if rp == "" {
			return EnrollResponse{}, argError(op, fmt.Sprintf("enrollmentRpIds[%d]", i), "is empty")
		}
	}
	if err := req.TransportKey.Validate(); err != nil {
		return EnrollResponse{}, argError(op, "yubicoTransportKeyJWK", "is invalid: %s", keyProblem(err))
	}
	if req.TransportKey.Use != string(webauthn.UseEncryption) {
		return EnrollResponse{}, argError(op, "yubicoTransportKeyJWK.use", "%s is not \"enc\"", quoted(req.TransportKey.Use))
	}
	req.FulfillmentProvider = provider(req.FulfillmentProvider)
	return post[EnrollResponse](ctx, c, op, preregBase+"/enroll", req)
}

// Activate hands Yubico's encrypted responses to Okta, which decrypts and
// verifies them and activates the enrollments
// (POST /webauthn-registration/api/v1/activate). Not retried after transport
// errors or 5xx.
//
// Errors: ErrInvalidArgument (empty userId, serial, version, PIN response,
// credential responses or signing keys); *APIError wrapping ErrValidation
// (E0000001 "Api validation failed: pinResponseJwe|webAuthnCredResponse"),
// ErrNotFound, ErrForbidden, ErrRateLimited.
func (c *Client) Activate(ctx context.Context, req ActivateRequest) (ActivateResponse, error) {
	const op = "activate"
	switch {
	case req.UserID == "":
		return ActivateResponse{}, argError(op, "userId", "is empty")
	case req.Serial == "":
		return ActivateResponse{}, argError(op, "serial", "is empty")
	case req.Version == "":
		return ActivateResponse{}, argError(op, "version", "is empty")
	case req.PINResponseJWE == "":
		return ActivateResponse{}, argError(op, "pinResponseJwe", "is empty")
	case len(req.CredResponses) == 0:
		return ActivateResponse{}, argError(op, "credResponses", "is empty")
	case len(req.SigningKeys) == 0:
		return ActivateResponse{}, argError(op, "yubicoSigningJwks", "is empty")
	}
	for i, cr := range req.CredResponses {
		if cr.AuthenticatorEnrollmentID == "" || cr.CredResponseJWE == "" {
			return ActivateResponse{}, argError(op, fmt.Sprintf("credResponses[%d]", i), "lacks authenticatorEnrollmentId or credResponseJwe")
		}
	}
	for i, k := range req.SigningKeys {
		if err := k.Validate(); err != nil {
			return ActivateResponse{}, argError(op, fmt.Sprintf("yubicoSigningJwks[%d]", i), "is invalid: %s", keyProblem(err))
		}
		if k.Use != string(webauthn.UseSigning) {
			return ActivateResponse{}, argError(op, fmt.Sprintf("yubicoSigningJwks[%d].use", i), "%s is not \"sig\"", quoted(k.Use))
		}
	}
	req.FulfillmentProvider = provider(req.FulfillmentProvider)
	return post[ActivateResponse](ctx, c, op, preregBase+"/activate", req)
}

// SendPIN makes Okta email the preset PIN of an activated enrollment to the
// user (POST /webauthn-registration/api/v1/send-pin, 204). Calling it again
// resends the PIN. Not retried after transport errors or 5xx (it sends mail).
//
// Errors: ErrInvalidArgument; *APIError wrapping ErrNotFound, ErrValidation or
// ErrForbidden (no PIN available any more), ErrRateLimited.
func (c *Client) SendPIN(ctx context.Context, req SendPINRequest) error {
	const op = "send pin"
	if req.UserID == "" || req.AuthenticatorEnrollmentID == "" {
		return argError(op, "userId and authenticatorEnrollmentId", "are required")
	}
	req.FulfillmentProvider = provider(req.FulfillmentProvider)
	_, err := c.do(ctx, &call{
		op: op, method: "POST", route: preregBase + "/send-pin", body: req,
	})
	return err
}

// ListEnrollments lists a user's preregistered WebAuthn factors
// (GET /webauthn-registration/api/v1/users/{userId}/enrollments).
//
// Errors: ErrInvalidArgument; *APIError wrapping ErrNotFound (unknown user),
// ErrForbidden, ErrRateLimited.
func (c *Client) ListEnrollments(ctx context.Context, userID string) ([]Enrollment, error) {
	const op = "list enrollments"
	var es []Enrollment
	_, err := c.do(ctx, &call{
		op: op, method: "GET", route: preregBase + "/users/{userId}/enrollments",
		args: []pathArg{{"userID", userID}}, idempotent: true, out: &es,
	})
	return es, err
}

// DeleteEnrollment permanently deletes a preregistered factor and its
// credential (DELETE /webauthn-registration/api/v1/users/{userId}/enrollments/{id}, 204).
// It is retried like a GET; a retry after a lost success reports ErrNotFound.
//
// Errors: ErrInvalidArgument; *APIError wrapping ErrNotFound, ErrForbidden,
// ErrRateLimited.
func (c *Client) DeleteEnrollment(ctx context.Context, userID, enrollmentID string) error {
	return c.onEnrollment(ctx, "delete enrollment", "DELETE", "", userID, enrollmentID)
}

// MarkError sets an enrollment's status to FULFILLMENT_ERRORED
// (POST .../users/{userId}/enrollments/{id}/mark-error, no body, 204). It is
// idempotent and retried like a GET.
//
// Errors: ErrInvalidArgument; *APIError wrapping ErrNotFound, ErrForbidden,
// ErrRateLimited.
func (c *Client) MarkError(ctx context.Context, userID, enrollmentID string) error {
	return c.onEnrollment(ctx, "mark error", "POST", "/mark-error", userID, enrollmentID)
}

// onEnrollment sends an idempotent request without body or answer to one
// enrollment's route, .../users/{userId}/enrollments/{id} followed by suffix.
func (c *Client) onEnrollment(ctx context.Context, op, method, suffix, userID, enrollmentID string) error {
	_, err := c.do(ctx, &call{
		op: op, method: method, route: preregBase + "/users/{userId}/enrollments/{id}" + suffix,
		args: []pathArg{{"userID", userID}, {"enrollmentID", enrollmentID}}, idempotent: true,
	})
	return err
}

package webauthn

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package wraps exactly one of
// them (and sometimes the underlying library error too), so callers branch
// with [errors.Is]. Error strings never contain secrets such as PINs or
// private keys.
var (
	// ErrMalformed reports input that cannot be parsed or violates a
	// structural rule: bad base64, bad JSON, unknown JSON members, a missing
	// or oversized field, an unexpected JOSE header.
	ErrMalformed = errors.New("webauthn: malformed input")
	// ErrUnsupportedVersion reports a message whose "version" is not
	// [MessageVersion].
	ErrUnsupportedVersion = errors.New("webauthn: unsupported message version")
	// ErrWrongKey reports a JWE that is not addressed to any key of the
	// keyring, or that cannot be decrypted with the key its "kid" names
	// (wrong key material or an altered ciphertext), or a public key that is
	// not fit for the operation (wrong curve or use).
	ErrWrongKey = errors.New("webauthn: wrong key")
	// ErrBadSignature reports a nested JWS whose signature does not verify,
	// whose algorithm is not ES384, or whose signer is not in the JWKS, and a
	// WebAuthn assertion signature that does not verify.
	ErrBadSignature = errors.New("webauthn: bad signature")
	// ErrExpired reports a credential request opened after its ExpiresAt, or
	// a verification attempted after the request or login session expired.
	ErrExpired = errors.New("webauthn: expired")
	// ErrRPIDMismatch reports authenticator data whose RP ID hash does not
	// match the expected relying party ID, or an RP ID not configured.
	ErrRPIDMismatch = errors.New("webauthn: relying party ID mismatch")
	// ErrChallengeMismatch reports client data whose challenge differs from
	// the one issued.
	ErrChallengeMismatch = errors.New("webauthn: challenge mismatch")
	// ErrOriginMismatch reports client data whose origin is not allowed.
	ErrOriginMismatch = errors.New("webauthn: origin mismatch")
	// ErrUserMismatch reports a response for a different user than expected.
	ErrUserMismatch = errors.New("webauthn: user mismatch")
	// ErrAttestation reports an attestation statement that is invalid or not
	// acceptable (bad signature, bad format, "none" or self attestation when
	// attestation is required).
	ErrAttestation = errors.New("webauthn: attestation rejected")
	// ErrUntrustedAttestation reports an attestation certificate chain that
	// does not lead to a configured trust root, or an authenticator model
	// without metadata.
	ErrUntrustedAttestation = errors.New("webauthn: untrusted attestation")
	// ErrAAGUIDNotAllowed reports an authenticator model (AAGUID) outside the
	// allowlist, or the all-zero AAGUID.
	ErrAAGUIDNotAllowed = errors.New("webauthn: AAGUID not allowed")
	// ErrUserVerification reports a missing UV flag where user verification
	// was required.
	ErrUserVerification = errors.New("webauthn: user verification required")
	// ErrUserPresence reports a missing UP flag.
	ErrUserPresence = errors.New("webauthn: user presence required")
	// ErrUnknownCredential reports an assertion for a credential ID that is
	// not among the user's credentials.
	ErrUnknownCredential = errors.New("webauthn: unknown credential")
	// ErrClonedKey reports a signature counter that did not increase, which
	// indicates a cloned authenticator.
	ErrClonedKey = errors.New("webauthn: signature counter regression (possible cloned key)")
	// ErrConfig reports an invalid [Config] passed to [New].
	ErrConfig = errors.New("webauthn: invalid configuration")
	// ErrVerification is the catch-all for WebAuthn verification failures
	// that match no more specific sentinel.
	ErrVerification = errors.New("webauthn: verification failed")
)

// FieldError is an error of this package that names a field of its input
// and what is wrong with it, such as a JWK member [PublicJWK.Validate]
// refuses. It wraps one of the sentinels above (Err), as every error of
// the package does, and errors.As finds it, also inside the error of a
// caller such as [ParseJWKS] that names more (the key's index), for a
// caller that words the problem itself. Like every error of the package
// it never holds secret material.
type FieldError struct {
	// Scope is what the field belongs to: the key (`jwk "k1"`), the
	// message or the operation ("parse jwks").
	Scope string
	// Field names the field: a JSON member ("kid", "y"), an index
	// ("keys[1].kid"), or several ("x/y").
	Field string
	// Problem is what is wrong: "missing", "not unpadded base64url",
	// `"P-256" not supported, want "P-384"`.
	Problem string
	// Err is the sentinel it wraps ([ErrMalformed], [ErrWrongKey], ...).
	Err error
}

// Error reads "webauthn: Scope: Field: Problem: " and Err's text, e.g.
// `webauthn: jwk "k1": y: missing: webauthn: malformed input`.
func (e *FieldError) Error() string {
	return fmt.Sprintf("webauthn: %s: %s: %s: %v", e.Scope, e.Field, e.Problem, e.Err)
}

// Reason is Scope, Field and Problem as Error words them, without the
// package's prefix and Err's text: `jwk "k1": y: missing`.
func (e *FieldError) Reason() string {
	return e.Scope + ": " + e.Field + ": " + e.Problem
}

// Unwrap returns Err.
func (e *FieldError) Unwrap() error { return e.Err }

// fieldError builds a [*FieldError] naming a field and its problem, wrapping
// sentinel. problem must never contain secret material.
func fieldError(scope, field, problem string, sentinel error) error {
	return &FieldError{Scope: scope, Field: field, Problem: problem, Err: sentinel}
}

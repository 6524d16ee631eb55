package webauthn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// MessageVersion is the version of the envelope plaintexts this package
// writes and the only one it reads.
const MessageVersion = 1

// Bounds on message fields (bytes unless noted).
const (
	maxIDLen            = 256       // user IDs, enrollment IDs
	maxNameLen          = 1024      // RP name, user name, display name
	maxRPIDLen          = 253       // a DNS name
	maxUserHandleLen    = 64        // WebAuthn §5.4.3
	minChallengeLen     = 16        // WebAuthn §13.4.3
	maxChallengeLen     = 1024      //
	maxAlgorithms       = 16        // entries
	maxCredentialIDLen  = 1023      // WebAuthn §6.1 (credentialIdLength < 1024)
	maxAttestationLen   = 64 << 10  // attestation object
	maxClientDataLen    = 16 << 10  // clientDataJSON
	maxTransports       = 8         // entries
	maxTransportLen     = 32        //
	minPINLen           = 4         // CTAP 2.1 minimum PIN length (code points; bytes here)
	maxPINLen           = 63        // CTAP 2.1 maximum PIN length in bytes
	maxPlaintextLen     = 128 << 10 // JSON plaintext (a maximal credential response is ~111 KiB)
	maxDecryptedLen     = 192 << 10 // JWE plaintext: JSON, or a nested JWS of it (4/3 larger)
	maxCompactLen       = 384 << 10 // compact JWE or JWS input (4/3 of maxDecryptedLen plus headers)
	maxProtectedHdrSize = 4 << 10   // decoded JOSE protected header
)

// CredentialRequest is the plaintext of a credRequestJwe: what Okta asks
// Yubico's factory to create on a key for one RP ID. Its JSON form (the
// member names in the struct tags) is defined and versioned by this package.
type CredentialRequest struct {
	Version         int    `json:"version"`
	UserID          string `json:"userId"`       // Okta user ID
	EnrollmentID    string `json:"enrollmentId"` // authenticatorEnrollmentId
	RPID            string `json:"rpId"`
	RPName          string `json:"rpName"`
	UserHandle      []byte `json:"userHandle"`
	UserName        string `json:"userName"`
	UserDisplayName string `json:"userDisplayName"`
	Challenge       []byte `json:"challenge"`
	Algorithms      []int  `json:"algorithms"` // COSE algorithm IDs, e.g. -7 (ES256)
	ResidentKey     bool   `json:"residentKey"`
	// UserVerification is "required", "preferred" or "discouraged".
	UserVerification string `json:"userVerification"`
	// CredProtect is the CTAP credProtect level (0 = not requested, 1..3).
	CredProtect int       `json:"credProtect"`
	HMACSecret  bool      `json:"hmacSecret"`
	ExpiresAt   time.Time `json:"expiresAt"`
	// ResponseKey is Okta's response key (use "enc"); its Kid is the keyId
	// of the enrollment. Responses are sealed to it.
	ResponseKey PublicJWK `json:"responseKey"`
}

// CredentialResponse is the plaintext (inside the nested JWS) of a
// credResponseJwe: the credential the factory created.
type CredentialResponse struct {
	Version           int      `json:"version"`
	UserID            string   `json:"userId"`
	EnrollmentID      string   `json:"enrollmentId"`
	CredentialID      []byte   `json:"credentialId"`
	AttestationObject []byte   `json:"attestationObject"`
	ClientDataJSON    []byte   `json:"clientDataJSON"`
	Transports        []string `json:"transports,omitempty"`
}

// PINRequest is the plaintext of a pinRequestJwe: it names Okta's response
// key, to which the factory seals the PIN.
type PINRequest struct {
	Version     int       `json:"version"`
	UserID      string    `json:"userId"`
	ResponseKey PublicJWK `json:"responseKey"`
}

// PINResponse is the plaintext (inside the nested JWS) of a pinResponseJwe.
// PIN is a [Secret]: it never prints, and json.Marshal of a PINResponse
// shows "[REDACTED]"; only the sealed envelope carries the value.
type PINResponse struct {
	Version int    `json:"version"`
	UserID  string `json:"userId"`
	PIN     Secret `json:"pin"`
}

// pinResponseWire is the sealed JSON form of PINResponse, carrying the PIN.
type pinResponseWire struct {
	Version int    `json:"version"`
	UserID  string `json:"userId"`
	PIN     []byte `json:"pin"`
}

var userVerificationValues = map[string]bool{"required": true, "preferred": true, "discouraged": true}

// checkVersion fills in a zero version on seal and rejects others.
func checkVersion(scope string, v *int, sealing bool) error {
	if *v == 0 && sealing {
		*v = MessageVersion
	}
	if *v != MessageVersion {
		return fmt.Errorf("webauthn: %s: version %d: %w (want %d)", scope, *v, ErrUnsupportedVersion, MessageVersion)
	}
	return nil
}

// firstError returns the first of errs that is not nil: the checks of a
// message's fields, in the order their failures are reported.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// checkMax reports a field of n units (bytes, entries) over limit.
func checkMax(scope, field string, n, limit int, units string) error {
	if n > limit {
		return fieldError(scope, field, fmt.Sprintf("%d %s, limit %d", n, units, limit), ErrMalformed)
	}
	return nil
}

// checkResponseKey checks a message's responseKey: a valid key for
// encryption.
func checkResponseKey(scope string, k PublicJWK) error {
	err := k.Validate()
	if err == nil {
		err = k.requireUse(UseEncryption)
	}
	if err != nil {
		return fmt.Errorf("webauthn: %s: responseKey: %w", scope, err)
	}
	return nil
}

func checkString(scope, field, v string, maxLen int) error {
	if v == "" {
		return fieldError(scope, field, "missing", ErrMalformed)
	}
	return checkMax(scope, field, len(v), maxLen, "bytes")
}

func checkBytes(scope, field string, v []byte, minLen, maxLen int) error {
	if len(v) == 0 {
		return fieldError(scope, field, "missing", ErrMalformed)
	}
	if len(v) < minLen || len(v) > maxLen {
		return fieldError(scope, field, fmt.Sprintf("%d bytes, want %d to %d", len(v), minLen, maxLen), ErrMalformed)
	}
	return nil
}

func (r *CredentialRequest) version() *int  { return &r.Version }
func (r *CredentialResponse) version() *int { return &r.Version }
func (r *PINRequest) version() *int         { return &r.Version }

// validate checks every field of r. It does not check expiry.
func (r CredentialRequest) validate(scope string) error {
	return firstError(
		checkString(scope, "userId", r.UserID, maxIDLen),
		checkString(scope, "enrollmentId", r.EnrollmentID, maxIDLen),
		r.validateCeremony(scope, ""),
		checkMax(scope, "rpName", len(r.RPName), maxNameLen, "bytes"),
		checkString(scope, "userName", r.UserName, maxNameLen),
		checkMax(scope, "userDisplayName", len(r.UserDisplayName), maxNameLen, "bytes"),
		checkResponseKey(scope, r.ResponseKey),
	)
}

// validateCeremony checks the fields of r a WebAuthn registration uses (RP
// ID, user handle, challenge, algorithms, user verification, credProtect,
// expiry), naming each as prefix+field.
func (r CredentialRequest) validateCeremony(scope, prefix string) error {
	if err := firstError(
		checkString(scope, prefix+"rpId", r.RPID, maxRPIDLen),
		checkBytes(scope, prefix+"userHandle", r.UserHandle, 1, maxUserHandleLen),
		checkBytes(scope, prefix+"challenge", r.Challenge, minChallengeLen, maxChallengeLen),
	); err != nil {
		return err
	}
	if len(r.Algorithms) == 0 {
		return fieldError(scope, prefix+"algorithms", "missing", ErrMalformed)
	}
	if err := checkMax(scope, prefix+"algorithms", len(r.Algorithms), maxAlgorithms, "entries"); err != nil {
		return err
	}
	for i, a := range r.Algorithms {
		if a == 0 {
			return fieldError(scope, fmt.Sprintf("%salgorithms[%d]", prefix, i), "0 is not a COSE algorithm", ErrMalformed)
		}
	}
	if !userVerificationValues[r.UserVerification] {
		return fieldError(scope, prefix+"userVerification", fmt.Sprintf("%q, want \"required\", \"preferred\" or \"discouraged\"", truncate(r.UserVerification, 32)), ErrMalformed)
	}
	if r.CredProtect < 0 || r.CredProtect > 3 {
		return fieldError(scope, prefix+"credProtect", fmt.Sprintf("%d, want 0 to 3", r.CredProtect), ErrMalformed)
	}
	if r.ExpiresAt.IsZero() {
		return fieldError(scope, prefix+"expiresAt", "missing", ErrMalformed)
	}
	return nil
}

func (r CredentialResponse) validate(scope string) error {
	if err := firstError(
		checkString(scope, "userId", r.UserID, maxIDLen),
		checkString(scope, "enrollmentId", r.EnrollmentID, maxIDLen),
		checkBytes(scope, "credentialId", r.CredentialID, 1, maxCredentialIDLen),
		checkBytes(scope, "attestationObject", r.AttestationObject, 1, maxAttestationLen),
		checkBytes(scope, "clientDataJSON", r.ClientDataJSON, 1, maxClientDataLen),
		checkMax(scope, "transports", len(r.Transports), maxTransports, "entries"),
	); err != nil {
		return err
	}
	for i, t := range r.Transports {
		if err := checkString(scope, fmt.Sprintf("transports[%d]", i), t, maxTransportLen); err != nil {
			return err
		}
	}
	return nil
}

func (r PINRequest) validate(scope string) error {
	return firstError(
		checkString(scope, "userId", r.UserID, maxIDLen),
		checkResponseKey(scope, r.ResponseKey),
	)
}

func (r PINResponse) validate(scope string) error {
	if err := checkString(scope, "userId", r.UserID, maxIDLen); err != nil {
		return err
	}
	// The length is not secret enough to hide, but the value never appears.
	if len(r.PIN) < minPINLen || len(r.PIN) > maxPINLen {
		return fieldError(scope, "pin", fmt.Sprintf("length %d, want %d to %d bytes", len(r.PIN), minPINLen, maxPINLen), ErrMalformed)
	}
	return nil
}

// decodeStrict decodes exactly one JSON object into v, rejecting unknown
// members, trailing data and oversized input. The JSON decoder's messages
// quote member names but never values, so they are safe to wrap.
func decodeStrict(scope string, data []byte, v any) error {
	if err := checkMax(scope, "plaintext", len(data), maxPlaintextLen, "bytes"); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("webauthn: %s: decode JSON: %w: %s", scope, ErrMalformed, jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return fieldError(scope, "plaintext", "trailing data after JSON object", ErrMalformed)
	}
	return nil
}

// jsonProblem describes a JSON decoding error without echoing input values
// (a *json.UnmarshalTypeError names the field and Go type only; syntax
// errors give an offset).
func jsonProblem(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("syntax error at offset %d", e.Offset)
	case *json.UnmarshalTypeError:
		kind, _, _ := strings.Cut(e.Value, " ") // "number 123" would echo the value
		return fmt.Sprintf("field %q: JSON %s cannot be a %s", e.Field, kind, e.Type)
	default:
		// Unknown-field errors read `json: unknown field "name"`; other
		// errors (bad base64, bad time) come from our own field types.
		msg := err.Error()
		return truncate(msg, 200)
	}
}

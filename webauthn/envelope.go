package webauthn

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Envelope format (our decision; docs/decisions.md §Envelope):
//
//   - Requests (Okta → Yubico) are compact JWEs (RFC 7516 §7.1) with "alg"
//     ECDH-ES+A256KW and "enc" A256GCM on P-384 (RFC 7518 §4.6, §5.3),
//     addressed to one key of the receiver's JWKS by "kid", with "cty"
//     naming the message type.
//   - Responses (Yubico → Okta) are a compact JWS (RFC 7515 §7.1, "alg"
//     ES384, "kid" of the signer, "cty" naming the message type) nested as the
//     plaintext of such a JWE (JWE "cty" JOSE) to Okta's response key.
//   - Plaintexts are JSON objects with a "version" member ([MessageVersion]),
//     decoded strictly: unknown members, trailing data and oversized fields
//     are rejected.
//
// Protected headers are checked against an allowlist before go-jose sees the
// message, so "zip", "crit", "jku", "jwk", "x5u" and "alg":"none" never reach
// the decrypter or verifier.
const (
	ctyCredentialRequest  = "preenroll-credential-request+json"
	ctyCredentialResponse = "preenroll-credential-response+json"
	ctyPINRequest         = "preenroll-pin-request+json"
	ctyPINResponse        = "preenroll-pin-response+json"
	ctyNested             = "JOSE"

	algKeyWrap   = string(jose.ECDH_ES_A256KW)
	algContent   = string(jose.A256GCM)
	algSignature = string(jose.ES384)
)

// SealCredentialRequest encrypts req to the receiver's transport key to (use
// "enc"). A zero req.Version is set to [MessageVersion]. The randomness (the
// ephemeral ECDH key, the content key and the IV) comes from crypto/rand:
// go-jose draws it there and offers no way to inject another source, so the
// output is never deterministic and the Seal functions take no reader.
// Errors wrap [ErrMalformed] (a field of req is invalid; the error names it),
// [ErrUnsupportedVersion] or [ErrWrongKey] (to is not a P-384 "enc" key).
func SealCredentialRequest(to PublicJWK, req CredentialRequest) (string, error) {
	const scope = "seal credential request"
	pt, err := encodeMessage(scope, &req)
	if err != nil {
		return "", err
	}
	return sealJWE(scope, to, ctyCredentialRequest, pt)
}

// OpenCredentialRequest decrypts a credential request JWE with the key of
// keys named by its "kid", decodes it strictly and checks that it has not
// expired at now. Errors wrap [ErrMalformed], [ErrWrongKey] (no key with that
// kid, or the message does not decrypt with it), [ErrUnsupportedVersion] or
// [ErrExpired].
func OpenCredentialRequest(keys Keyring, jwe string, now time.Time) (CredentialRequest, error) {
	const scope = "open credential request"
	if now.IsZero() {
		return CredentialRequest{}, fieldError(scope, "now", "zero time", ErrMalformed)
	}
	pt, err := openJWE(scope, keys, ctyCredentialRequest, jwe)
	if err != nil {
		return CredentialRequest{}, err
	}
	req, err := decodeMessage[CredentialRequest](scope, pt)
	if err != nil {
		return CredentialRequest{}, err
	}
	if now.After(req.ExpiresAt) {
		return CredentialRequest{}, fmt.Errorf("webauthn: %s: enrollment %q: %w at %s (now %s)", scope,
			req.EnrollmentID, ErrExpired, req.ExpiresAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return req, nil
}

// SealPINRequest encrypts req to the receiver's transport key. See
// [SealCredentialRequest] for randomness and errors.
func SealPINRequest(to PublicJWK, req PINRequest) (string, error) {
	const scope = "seal pin request"
	pt, err := encodeMessage(scope, &req)
	if err != nil {
		return "", err
	}
	return sealJWE(scope, to, ctyPINRequest, pt)
}

// OpenPINRequest decrypts and strictly decodes a PIN request JWE. Errors are
// as for [OpenCredentialRequest], without expiry.
func OpenPINRequest(keys Keyring, jwe string) (PINRequest, error) {
	const scope = "open pin request"
	pt, err := openJWE(scope, keys, ctyPINRequest, jwe)
	if err != nil {
		return PINRequest{}, err
	}
	return decodeMessage[PINRequest](scope, pt)
}

// SealCredentialResponse signs resp with signer (use "sig", ES384) and
// encrypts the compact JWS to Okta's response key to (use "enc"). See
// [SealCredentialRequest] for randomness and errors (ES384 signatures also
// draw from crypto/rand).
func SealCredentialResponse(to PublicJWK, signer *PrivateKey, resp CredentialResponse) (string, error) {
	const scope = "seal credential response"
	pt, err := encodeMessage(scope, &resp)
	if err != nil {
		return "", err
	}
	return sealNested(scope, to, signer, ctyCredentialResponse, pt)
}

// OpenCredentialResponse decrypts a credential response JWE with keys,
// verifies the nested JWS with the key of signers named by its "kid", and
// decodes it strictly. Errors wrap [ErrMalformed], [ErrWrongKey],
// [ErrBadSignature] (signer unknown, not ES384, or signature invalid) or
// [ErrUnsupportedVersion].
func OpenCredentialResponse(keys Keyring, signers JWKS, jwe string) (CredentialResponse, error) {
	const scope = "open credential response"
	pt, err := openNested(scope, keys, signers, ctyCredentialResponse, jwe)
	if err != nil {
		return CredentialResponse{}, err
	}
	return decodeMessage[CredentialResponse](scope, pt)
}

// SealPINResponse signs resp with signer and encrypts it to Okta's response
// key to. The PIN appears only inside the encrypted payload; intermediate
// plaintext buffers are zeroed. See [SealCredentialRequest] for randomness
// and errors; errors never contain the PIN.
func SealPINResponse(to PublicJWK, signer *PrivateKey, resp PINResponse) (string, error) {
	const scope = "seal pin response"
	if err := checkVersion(scope, &resp.Version, true); err != nil {
		return "", err
	}
	if err := resp.validate(scope); err != nil {
		return "", err
	}
	pt, err := json.Marshal(pinResponseWire{Version: resp.Version, UserID: resp.UserID, PIN: resp.PIN})
	if err != nil {
		return "", fmt.Errorf("webauthn: %s: encode: %w", scope, err)
	}
	defer clear(pt)
	return sealNested(scope, to, signer, ctyPINResponse, pt)
}

// OpenPINResponse decrypts, verifies and strictly decodes a PIN response.
// Errors are as for [OpenCredentialResponse] and never contain the PIN.
func OpenPINResponse(keys Keyring, signers JWKS, jwe string) (PINResponse, error) {
	const scope = "open pin response"
	pt, err := openNested(scope, keys, signers, ctyPINResponse, jwe)
	if err != nil {
		return PINResponse{}, err
	}
	defer clear(pt)
	var w pinResponseWire
	if err := decodeStrict(scope, pt, &w); err != nil {
		clear(w.PIN)
		return PINResponse{}, err
	}
	resp := PINResponse{Version: w.Version, UserID: w.UserID, PIN: Secret(w.PIN)}
	if err := checkVersion(scope, &resp.Version, false); err != nil {
		resp.PIN.Zero()
		return PINResponse{}, err
	}
	if err := resp.validate(scope); err != nil {
		resp.PIN.Zero()
		return PINResponse{}, err
	}
	return resp, nil
}

// message is a pointer to an envelope plaintext type that encodes as is
// (every one but PINResponse, whose PIN needs care).
type message interface {
	validate(scope string) error
	version() *int // the message's Version field
}

// encodeMessage sets a zero version of m to [MessageVersion], validates m
// and encodes it as JSON.
func encodeMessage(scope string, m message) ([]byte, error) {
	if err := checkVersion(scope, m.version(), true); err != nil {
		return nil, err
	}
	if err := m.validate(scope); err != nil {
		return nil, err
	}
	pt, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("webauthn: %s: encode: %w", scope, err)
	}
	return pt, nil
}

// decodeMessage strictly decodes pt into a new M, then checks its version
// and its fields.
func decodeMessage[M any, P interface {
	*M
	message
}](scope string, pt []byte) (M, error) {
	var m M
	if err := decodeStrict(scope, pt, P(&m)); err != nil {
		return *new(M), err
	}
	if err := checkVersion(scope, P(&m).version(), false); err != nil {
		return *new(M), err
	}
	if err := P(&m).validate(scope); err != nil {
		return *new(M), err
	}
	return m, nil
}

// sealJWE encrypts plaintext to the "enc" key to as a compact JWE.
func sealJWE(scope string, to PublicJWK, cty string, plaintext []byte) (string, error) {
	pub, err := to.ecdsa()
	if err != nil {
		return "", fmt.Errorf("webauthn: %s: recipient: %w", scope, err)
	}
	if err := to.requireUse(UseEncryption); err != nil {
		return "", fmt.Errorf("webauthn: %s: recipient: %w", scope, err)
	}
	enc, err := jose.NewEncrypter(jose.A256GCM,
		jose.Recipient{Algorithm: jose.ECDH_ES_A256KW, Key: pub, KeyID: to.Kid},
		(&jose.EncrypterOptions{}).WithContentType(jose.ContentType(cty)))
	if err != nil {
		return "", fmt.Errorf("webauthn: %s: %w", scope, err)
	}
	obj, err := enc.Encrypt(plaintext)
	if err != nil {
		return "", fmt.Errorf("webauthn: %s: encrypt: %w", scope, err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("webauthn: %s: serialize: %w", scope, err)
	}
	return out, nil
}

// sealNested signs plaintext with signer as a compact JWS and encrypts that
// to the "enc" key to.
func sealNested(scope string, to PublicJWK, signer *PrivateKey, cty string, plaintext []byte) (string, error) {
	if signer == nil {
		return "", fieldError(scope, "signer", "missing", ErrMalformed)
	}
	if signer.use != UseSigning {
		return "", fieldError(scope, "signer", fmt.Sprintf("key %q has use %q, want \"sig\"", signer.kid, signer.use), ErrWrongKey)
	}
	s, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.ES384, Key: jose.JSONWebKey{Key: signer.key, KeyID: signer.kid}},
		(&jose.SignerOptions{}).WithContentType(jose.ContentType(cty)))
	if err != nil {
		return "", fmt.Errorf("webauthn: %s: %w", scope, err)
	}
	sig, err := s.Sign(plaintext)
	if err != nil {
		return "", fmt.Errorf("webauthn: %s: sign: %w", scope, err)
	}
	jws, err := sig.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("webauthn: %s: serialize: %w", scope, err)
	}
	return sealJWE(scope, to, ctyNested, []byte(jws))
}

// openNested decrypts a JWE whose plaintext is a compact JWS and verifies it.
func openNested(scope string, keys Keyring, signers JWKS, cty, compact string) ([]byte, error) {
	jws, err := openJWE(scope, keys, ctyNested, compact)
	if err != nil {
		return nil, err
	}
	return verifyJWS(scope, signers, cty, string(jws))
}

// splitCompact splits a compact serialization into n strictly base64url
// decoded parts (RFC 7515 §2: no padding; non-canonical trailing bits are
// rejected so that every altered character is an altered message).
func splitCompact(scope, what, compact string, n int, names []string) ([][]byte, error) {
	if compact == "" {
		return nil, fieldError(scope, what, "empty", ErrMalformed)
	}
	if err := checkMax(scope, what, len(compact), maxCompactLen, "bytes"); err != nil {
		return nil, err
	}
	raw := strings.Split(compact, ".")
	if len(raw) != n {
		return nil, fieldError(scope, what, fmt.Sprintf("compact serialization has %d parts, want %d", len(raw), n), ErrMalformed)
	}
	parts := make([][]byte, n)
	for i, p := range raw {
		b, err := base64.RawURLEncoding.Strict().DecodeString(p)
		if err != nil {
			return nil, fieldError(scope, what+" "+names[i], "not canonical unpadded base64url", ErrMalformed)
		}
		parts[i] = b
	}
	return parts, nil
}

// protectedHeader is the subset of JOSE header members this package accepts.
type protectedHeader struct {
	Alg string           `json:"alg"`
	Enc string           `json:"enc"`
	Kid string           `json:"kid"`
	Cty string           `json:"cty"`
	Epk *json.RawMessage `json:"epk"`
}

// parseHeader strictly decodes a protected header, allowing only the members
// in allowed.
func parseHeader(scope, what string, b []byte, allowed ...string) (protectedHeader, error) {
	var h protectedHeader
	if err := checkMax(scope, what+" header", len(b), maxProtectedHdrSize, "bytes"); err != nil {
		return h, err
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil {
		return h, fieldError(scope, what+" header", "not a JSON object", ErrMalformed)
	}
	for name := range members {
		ok := false
		for _, a := range allowed {
			ok = ok || name == a
		}
		if !ok {
			return h, fieldError(scope, what+" header", fmt.Sprintf("member %q not allowed", truncate(name, 32)), ErrMalformed)
		}
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return h, fieldError(scope, what+" header", "member of the wrong JSON type", ErrMalformed)
	}
	return h, nil
}

// openJWE checks and decrypts a compact JWE addressed to a key of keys.
func openJWE(scope string, keys Keyring, wantCty, compact string) ([]byte, error) {
	parts, err := splitCompact(scope, "jwe", compact, 5,
		[]string{"protected header", "encrypted key", "iv", "ciphertext", "tag"})
	if err != nil {
		return nil, err
	}
	h, err := parseHeader(scope, "jwe", parts[0], "alg", "enc", "kid", "cty", "epk")
	if err != nil {
		return nil, err
	}
	switch {
	case h.Alg != algKeyWrap:
		return nil, fieldError(scope, "jwe header alg", fmt.Sprintf("%q not accepted, want %q", truncate(h.Alg, 32), algKeyWrap), ErrMalformed)
	case h.Enc != algContent:
		return nil, fieldError(scope, "jwe header enc", fmt.Sprintf("%q not accepted, want %q", truncate(h.Enc, 32), algContent), ErrMalformed)
	case h.Cty != wantCty:
		return nil, fieldError(scope, "jwe header cty", fmt.Sprintf("%q, want %q", truncate(h.Cty, 64), wantCty), ErrMalformed)
	case h.Kid == "":
		return nil, fieldError(scope, "jwe header kid", "missing", ErrMalformed)
	case h.Epk == nil:
		return nil, fieldError(scope, "jwe header epk", "missing", ErrMalformed)
	}
	var epk struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
	}
	if err := json.Unmarshal(*h.Epk, &epk); err != nil {
		return nil, fieldError(scope, "jwe header epk", "not a JSON object", ErrMalformed)
	}
	if epk.Kty != "EC" || epk.Crv != "P-384" {
		return nil, fieldError(scope, "jwe header epk", fmt.Sprintf("kty %q crv %q, want EC P-384", truncate(epk.Kty, 16), truncate(epk.Crv, 16)), ErrWrongKey)
	}
	key, ok := keys.Key(h.Kid)
	if !ok {
		return nil, fieldError(scope, "jwe header kid", fmt.Sprintf("no key %q in keyring", truncate(h.Kid, 64)), ErrWrongKey)
	}
	if key.use != UseEncryption {
		return nil, fieldError(scope, "jwe header kid", fmt.Sprintf("key %q has use %q, want \"enc\"", key.kid, key.use), ErrWrongKey)
	}
	obj, err := jose.ParseEncryptedCompact(compact, []jose.KeyAlgorithm{jose.ECDH_ES_A256KW}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		return nil, fmt.Errorf("webauthn: %s: parse jwe: %w: %w", scope, ErrMalformed, err)
	}
	pt, err := obj.Decrypt(key.key)
	if err != nil {
		return nil, fmt.Errorf("webauthn: %s: decrypt with key %q (wrong key or altered message): %w: %w", scope, key.kid, ErrWrongKey, err)
	}
	if len(pt) > maxDecryptedLen {
		clear(pt)
		return nil, fieldError(scope, "jwe plaintext", fmt.Sprintf("%d bytes, limit %d", len(pt), maxDecryptedLen), ErrMalformed)
	}
	return pt, nil
}

// verifyJWS checks a compact JWS signed with ES384 by a key of signers.
func verifyJWS(scope string, signers JWKS, wantCty, compact string) ([]byte, error) {
	parts, err := splitCompact(scope, "jws", compact, 3, []string{"protected header", "payload", "signature"})
	if err != nil {
		return nil, err
	}
	h, err := parseHeader(scope, "jws", parts[0], "alg", "kid", "cty")
	if err != nil {
		return nil, err
	}
	switch {
	case h.Alg != algSignature:
		return nil, fieldError(scope, "jws header alg", fmt.Sprintf("%q not accepted, want %q", truncate(h.Alg, 32), algSignature), ErrBadSignature)
	case h.Cty != wantCty:
		return nil, fieldError(scope, "jws header cty", fmt.Sprintf("%q, want %q", truncate(h.Cty, 64), wantCty), ErrMalformed)
	case h.Kid == "":
		return nil, fieldError(scope, "jws header kid", "missing", ErrMalformed)
	}
	jwk, ok := signers.Key(h.Kid)
	if !ok {
		return nil, fieldError(scope, "jws header kid", fmt.Sprintf("signer %q not in signing JWKS", truncate(h.Kid, 64)), ErrBadSignature)
	}
	pub, err := jwk.ecdsa()
	if err != nil {
		return nil, fmt.Errorf("webauthn: %s: signer: %w", scope, err)
	}
	if err := jwk.requireUse(UseSigning); err != nil {
		return nil, fmt.Errorf("webauthn: %s: signer: %w", scope, err)
	}
	obj, err := jose.ParseSignedCompact(compact, []jose.SignatureAlgorithm{jose.ES384})
	if err != nil {
		return nil, fmt.Errorf("webauthn: %s: parse jws: %w: %w", scope, ErrMalformed, err)
	}
	payload, err := obj.Verify(pub)
	if err != nil {
		return nil, fmt.Errorf("webauthn: %s: verify jws with key %q: %w: %w", scope, jwk.Kid, ErrBadSignature, err)
	}
	return payload, nil
}

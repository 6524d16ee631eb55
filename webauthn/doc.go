// Package webauthn verifies WebAuthn credentials for pre-enrolled security
// keys and seals the encrypted messages Okta and Yubico exchange to create
// them.
//
// # Envelope
//
// Four messages travel between the identity provider (Okta) and the
// fulfillment provider (Yubico's factory): a [CredentialRequest] and a
// [PINRequest] (Okta → Yubico, sealed with [SealCredentialRequest] and
// [SealPINRequest] to Yubico's transport key), and a [CredentialResponse] and
// a [PINResponse] (Yubico → Okta, signed with a Yubico signing key and sealed
// to Okta's response key with [SealCredentialResponse] and [SealPINResponse]).
// The wire format is compact JWE, ECDH-ES+A256KW with A256GCM on P-384, with
// a nested ES384 JWS for responses; the JSON plaintexts are defined and
// versioned here ([MessageVersion]) and decoded strictly. Keys are
// [PrivateKey] (generate with [GenerateKey]) and published as a [JWKS]
// ([Keyring.JWKS], parsed with [ParseJWKS]); senders pick a recipient with
// [JWKS.Random] or [JWKS.Key]; receivers hold a [Keyring].
//
// The PIN is a [Secret]: it never appears in fmt output, JSON, or errors.
//
// # Relying party
//
// [RelyingParty] wraps github.com/go-webauthn/webauthn. [RelyingParty.VerifyPreregistered]
// verifies a credential created at the factory out of band (the challenge,
// RP ID and user handle come from the [CredentialRequest], not a browser
// session), enforcing attestation trust ([Config.TrustRoots]), an AAGUID
// allowlist that never admits the zero AAGUID, and rejection of "none"/self
// attestation when [Config.RequireAttestation] is set. [RelyingParty.BeginLogin]
// and [RelyingParty.FinishLogin] run sign-in ceremonies and update the
// signature counter, reporting [ErrClonedKey] when it goes backwards.
//
// # Errors
//
// Every error wraps one of the sentinels ([ErrMalformed], [ErrWrongKey],
// [ErrBadSignature], [ErrExpired], [ErrOriginMismatch], ...), so callers test
// them with [errors.Is]. Failures from go-webauthn keep the original
// *protocol.Error in the chain, reachable with [errors.As].
package webauthn

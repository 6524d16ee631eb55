// Package okta is a client for the parts of Okta's API that pre-enrolled
// YubiKeys need: users and groups (/api/v1/users, /api/v1/groups), the WebAuthn
// preregistration API (/webauthn-registration/api/v1/...) and the classic Authn
// API (/api/v1/authn) used to sign in with a WebAuthn factor.
//
// Besides the standard library it imports only package webauthn, for the one
// JWK type of the module ([webauthn.PublicJWK]): the Yubico keys that
// enroll and activate carry are the values package yubico fetches, passed
// through unchanged and validated once (P-384 point on the curve, kid, use).
//
// # Where to start
//
// Create a [Client] with [NewClient], passing the org URL and an API token
// (SSWS by default, or an OAuth 2.0 access token with [WithOAuthBearer]).
// The client never reads the environment or files; the embedding
// application owns configuration. The package okta/oktatest provides a fake
// Okta org on loopback that speaks the same wire protocol, for tests.
//
// # Errors
//
// Every call returns either a client-side validation error wrapping
// [ErrInvalidArgument] (the request was never sent), a transport error, or an
// [*APIError] carrying Okta's error body. An *APIError unwraps to one of the
// sentinels [ErrNotFound], [ErrRateLimited], [ErrValidation],
// [ErrUnauthorized], [ErrForbidden], [ErrConflict] and [ErrServer], so
//
//	if errors.Is(err, okta.ErrNotFound) { ... }
//
// works for branching while errors.As gives the full error. Only the errorCode
// is stable across Okta releases; errorSummary is human text.
//
// # Rate limits and retries
//
// Okta enforces per-bucket rate limits and reports them in the
// X-Rate-Limit-Limit, X-Rate-Limit-Remaining and X-Rate-Limit-Reset headers
// (https://developer.okta.com/docs/reference/rl2-monitor/). The client
// remembers the last state of each bucket and, when Remaining has reached the
// configured reserve, waits for the reset before sending the next request in
// that bucket. On HTTP 429 it waits until the reset (computed from
// X-Rate-Limit-Reset minus the server's Date, so clock skew does not matter)
// and retries. Transport errors and 5xx responses are retried with jittered
// exponential backoff, but only for idempotent calls. Every wait is
// context-aware. See [RetryPolicy].
//
// # Secrets
//
// The API token is never put in URLs, errors or log output; a Client formats
// as its org URL with the token redacted. Authn state and session tokens are
// [Secret] values that print as [REDACTED].
//
// # Preregistration statuses
//
// Okta does not document the statuses of a preregistered WebAuthn factor.
// This package follows the project's decision: FULFILLMENT_PENDING after
// enroll, FULFILLMENT_ERRORED after mark-error, ACTIVE after activate; Shipped
// and Active are told apart by [EnrollmentProfile.PresetPINAvailable]. Any
// other status string is decoded without failing.
//
// Clients are safe for concurrent use by multiple goroutines.
package okta

// Package okta is a client for the parts of Okta's API that pre-enrolled
// YubiKeys need: users and groups (/api/v1/users, /api/v1/groups), the WebAuthn
// preregistration API (/webauthn-registration/api/v1/...), the classic Authn
// API (/api/v1/authn) used to sign in with a WebAuthn factor, event hooks
// (/api/v1/eventHooks), through which Okta reports orders to a service, and
// the System Log (/api/v1/logs), where the same events can be read back.
//
// Besides the standard library it imports package webauthn, for the one
// JWK type of the module ([webauthn.PublicJWK]): the Yubico keys that
// enroll and activate carry are the values package yubico fetches, passed
// through unchanged and validated once (P-384 point on the curve, kid, use).
// OAuth service-app authentication uses golang.org/x/oauth2 and go-jose.
//
// # Where to start
//
// Create a [Client] with [NewClient], passing the org URL and an API token
// (SSWS by default, or an OAuth 2.0 access token with [WithOAuthBearer]),
// or authenticate as an OAuth 2.0 service app, as Okta recommends for
// services, with [WithOAuth] and an empty token.
// The client never reads the environment or files; the embedding
// application owns configuration. The package okta/oktatest provides a fake
// Okta org on loopback that speaks the same wire protocol, for tests.
//
// # OAuth service apps and DPoP
//
// [WithOAuth] runs the client credentials grant against the org
// authorization server (/oauth2/v1/token) with a private_key_jwt client
// assertion signed by a [PrivateKey] ([ParsePrivateKey] reads Okta's PEM or
// JWK; [NewPrivateKey] wraps any crypto.Signer, such as an HSM or KMS key).
// The token is cached and replaced DefaultTokenRefreshBefore its expiry, or
// once when Okta refuses it. With OAuthConfig.DPoP the token is bound to a
// proof key (RFC 9449): every request carries a DPoP proof with htm, htu,
// iat, jti and ath, and use_dpop_nonce challenges are answered with the
// server's DPoP-Nonce, at the token endpoint and at the API. A failed token
// request is a [*TokenError]. The facts this relies on, with Okta's public
// sources, are in docs/okta.md (sections "OAuth for service apps" and
// "DPoP").
//
// # Event hooks
//
// A service that receives Okta's events registers its endpoint with
// [Client.EnsureEventHook] at start-up: it creates or updates the hook,
// activates it and has Okta verify the endpoint, and is safe to run from
// several instances at once. The other calls ([Client.CreateEventHook],
// [Client.VerifyEventHook], ...) map one to one to Okta's Event Hooks API.
// The hook's shared secret ([EventHookAuthScheme].Value) is write-only: Okta
// never returns it and this package never prints or logs it.
//
// The endpoint decodes each delivery's body into [EventHookDelivery]: the
// envelope and the System Log events ([LogEvent]) it carries. Orders for
// pre-enrolled keys arrive as [EventTypePreregisterInitiate] events.
//
// Okta delivers a hook at most twice, so an event is lost to a receiver
// that was down for both attempts. [Client.ListLogEvents] reads the same
// events, in the same shape, from the System Log (which Okta keeps for 90
// days), for instance those a filter of [LogFilterEventType] with
// [EventTypePreregisterInitiate] selects; de-duplicate by [LogEvent].UUID.
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
// (https://developer.okta.com/docs/reference/rl2-monitor/); a window is a
// minute. The client paces each bucket by them instead of sending until
// Okta answers 429: it spreads the requests still allowed in the window
// (Remaining minus a reserve minus those in flight) evenly over the time to
// the reset (X-Rate-Limit-Reset minus the server's Date, so clock skew does
// not matter), and starts the next window at its full rate. The pacing is
// shared by every goroutine and every route of a bucket; since Remaining
// counts the whole org's use of the bucket, several processes that each
// pace by it stay within the limit together. When Remaining falls by more
// than the client's own requests explain (or a 429 says a window is spent
// that they did not spend), other clients share the bucket: the client
// then holds back the most requests they were seen to send between two of
// its answers (what its view of Remaining may lack), and starts the next
// window with one request instead of a burst. On HTTP 429 it waits until
// the reset and retries. Transport errors and 5xx responses are retried
// with jittered exponential backoff, but only for idempotent calls. Every
// wait is context-aware. See [RetryPolicy].
//
// # Secrets
//
// The API token is never put in URLs, errors or log output; a Client formats
// as its org URL with the token redacted. Access tokens, assertions and
// proofs never leave the transport; a [PrivateKey] prints only its
// algorithm and key ID. Authn state and session tokens are [Secret] values
// that print as [REDACTED].
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

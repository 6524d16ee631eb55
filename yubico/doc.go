// Package yubico is a client for Yubico's YubiEnterprise Delivery API (the
// "YubiKey as a Service" delivery service of the Customer Portal) and its
// FIDO Pre-reg shipments.
//
// Start with [NewClient]. Every method takes a [context.Context] first and
// returns a typed value and an error. A [Client] is safe for concurrent use.
//
// # Wire contract
//
// Yubico's OpenAPI document is not public; the shapes here are reconstructed
// from Yubico's user guides and Yubico-owned sample code (see
// docs/yubico.md, and docs/decisions.md for what we chose where Yubico
// publishes nothing). Unknown response members are ignored;
// fields whose exact encoding is unconfirmed are decoded tolerantly (for
// example a serial number sent as a JSON number or string). The production base
// URL is "https://api.console.yubico.com/v1"; the FIDO Pre-reg documentation
// also names "https://portal.yubico.com/api/v1", so the base URL is always
// configuration.
//
// # Shipments
//
// Plain shipments live under /shipments_exact: [Client.CreateShipment],
// [Client.Shipment], [Client.Shipments] (an iterator over every page; the
// service caps a page at 100 records), [Client.UpdateShipment],
// [Client.DeleteShipment]. FIDO Pre-reg shipments live under /fpr/shipments:
// [Client.CreateFPRShipment], [Client.FPRShipment], [Client.CancelFPRShipment].
// A shipment moves through the integer states of [ShipmentState]; it can be
// edited or cancelled only while [ShipmentState.Editable] (state 9 or below),
// and a FIDO Pre-reg shipment carries its encrypted responses once
// [ShipmentState.ResponsesReady] (103 Shipped or 104 Delivered).
//
// # Errors
//
// A non-2xx response is returned as an [*APIError]; errors.Is matches it
// against the sentinels [ErrUnauthorized], [ErrForbidden], [ErrNotFound],
// [ErrValidation], [ErrConflict], [ErrRateLimited] and [ErrServer]. A request
// the client refuses before sending it (a bad argument or option) matches
// [ErrInvalidArgument]. The API token never appears in an error, a URL or
// the printed form of a [Client]. The options, [RetryPolicy], [Clock] and
// error sentinels have the names and shapes of package okta's.
//
// # Retries
//
// GET requests are retried (by default [DefaultRetryPolicy]: up to three
// attempts on transport errors, 429, 500, 502, 503 and 504, honouring a
// Retry-After of up to 10 s; waits go through the [Clock] of [WithClock]). Updates and deletes are sent
// exactly once, and so are creates without an idempotency key. A create with
// [FPRShipmentRequest.IdempotencyKey] (or [ShipmentRequest.IdempotencyKey])
// carries the header Idempotency-Key and is retried like a GET, with the same
// key on every attempt. Yubico documents no idempotency keys; sending one is
// our decision, harmless to a server that ignores it, and the fake in package
// yubicotest honours it (see [IdempotencyKeyHeader]). See [WithRetryPolicy].
//
// # Keys
//
// [Client.TransportKeys] and [Client.SigningKeys] fetch Yubico's public P-384
// JWKS, without the token, from /.well-known/ on the console host
// [DefaultJWKSBaseURL] (not the API host; see [WithJWKSBaseURL]).
package yubico

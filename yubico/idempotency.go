package yubico

import (
	"errors"
	"fmt"
)

// Idempotency keys (our decision, docs/decisions.md §Idempotency keys: Yubico
// documents no such header, so whether the real YubiEnterprise API honours
// it is unknown).
//
// A create request ([ShipmentRequest.IdempotencyKey],
// [FPRShipmentRequest.IdempotencyKey]) with a non-empty key is sent with the
// header "Idempotency-Key: <key>", as in the IETF HTTPAPI draft
// "The Idempotency-Key HTTP Header Field". A server that honours it answers a
// repeated create with the same key and the same body with the shipment it
// already made, so the client may retry such a create on transport errors,
// 429 and 5xx under the [RetryPolicy], with the same key on every attempt.
// A server that ignores the header is no worse off than without it, except
// that a retried create may then make a second shipment: callers that need
// exactly one shipment must only rely on the key where the service is known
// to honour it (the fake in package yubicotest does). The key is not a
// secret; the client never logs it and its own errors never contain it (a
// server's error message, kept in [APIError.Message], may name it). Note that
// net/http's Transport also treats a request with this header as replayable:
// it may itself resend it once when a reused keep-alive connection breaks.
const (
	// IdempotencyKeyHeader is the request header carrying the key.
	IdempotencyKeyHeader = "Idempotency-Key"
	// IdempotentReplayedHeader is the response header ("true") with which
	// the fake in package yubicotest marks an answer replayed for a key it
	// has seen (the convention of Stripe's API).
	IdempotentReplayedHeader = "Idempotent-Replayed"
	// MaxIdempotencyKeyLength is the longest key accepted, in bytes.
	MaxIdempotencyKeyLength = 255
)

// CodeIdempotencyKeyReused is the error code of a create that reuses an
// idempotency key with a different body (HTTP 422 from the fake in package
// yubicotest); such an [*APIError] matches [ErrConflict].
const CodeIdempotencyKeyReused = "idempotency_key_reused"

// ErrOutcomeUnknown is matched (errors.Is) by the error of a create with an
// idempotency key that failed with a refusal (a 4xx) although an earlier
// attempt may have made the shipment: that attempt got no answer or a 5xx
// (and the server may have forgotten the key, or not honour it), or the
// server answered 409, the IETF draft's "a request with this key is still
// being processed" (retried under the [RetryPolicy] like a 503). Such a
// refusal does not prove that nothing was made. The error also wraps the
// last attempt's [*APIError].
var ErrOutcomeUnknown = errors.New("yubico: outcome unknown")

// ErrInvalidIdempotencyKey is matched (errors.Is) by the error of a create
// whose IdempotencyKey is malformed; nothing is sent.
var ErrInvalidIdempotencyKey = errors.New("yubico: invalid IdempotencyKey")

// CheckIdempotencyKey reports whether key may be used as an IdempotencyKey:
// empty (no key), or 1 to [MaxIdempotencyKeyLength] bytes of printable ASCII
// without spaces (0x21 to 0x7E). The error matches
// [ErrInvalidIdempotencyKey] and does not contain the key.
func CheckIdempotencyKey(key string) error {
	if len(key) > MaxIdempotencyKeyLength {
		return fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalidIdempotencyKey, len(key), MaxIdempotencyKeyLength)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("%w: byte %d (0x%02x) is not printable ASCII other than space", ErrInvalidIdempotencyKey, i, c)
		}
	}
	return nil
}

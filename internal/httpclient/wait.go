package httpclient

import (
	"context"
	"time"
)

// WaitReason says why a client waits: the okta and yubico clients put it
// in the ctx they pass to their Clock's Sleep (see [WithWaitReason]), so
// that a clock wrapping another, like the CLI's notices, can tell the
// administrator why without guessing. A Clock that does not look simply
// ignores it; the public Clock interfaces do not change.
type WaitReason int

// The reasons a client waits.
const (
	// WaitUnknown: the caller of Sleep did not say.
	WaitUnknown WaitReason = iota
	// WaitPacing: the okta client spreads a rate-limit bucket's requests
	// over what is left of its window (a wait before most requests).
	WaitPacing
	// WaitReset: the okta client waits for a rate-limit window to reset,
	// because its budget is used up or because a 429 blocked the bucket
	// until then.
	WaitReset
	// WaitRateLimited: the request was refused with HTTP 429 and is sent
	// again after the wait the server asked for.
	WaitRateLimited
	// WaitRetry: the request failed (a transport error, a 5xx, or any
	// other answer the client's retry policy retries) and is sent again
	// after a backoff.
	WaitRetry
)

// String returns the reason's name ("pacing", "reset", "rate-limited",
// "retry", "unknown").
func (r WaitReason) String() string {
	switch r {
	case WaitPacing:
		return "pacing"
	case WaitReset:
		return "reset"
	case WaitRateLimited:
		return "rate-limited"
	case WaitRetry:
		return "retry"
	default:
		return "unknown"
	}
}

// waitReasonKey is the context key of a WaitReason.
type waitReasonKey struct{}

// WithWaitReason returns ctx carrying why the Sleep it is passed to waits.
func WithWaitReason(ctx context.Context, r WaitReason) context.Context {
	return context.WithValue(ctx, waitReasonKey{}, r)
}

// WaitReasonOf returns the reason ctx carries, [WaitUnknown] if none.
func WaitReasonOf(ctx context.Context) WaitReason {
	r, _ := ctx.Value(waitReasonKey{}).(WaitReason)
	return r
}

// SleepFor is clock.Sleep(ctx, d) with why in ctx: the clients' one way
// to wait.
func SleepFor(ctx context.Context, clock Clock, why WaitReason, d time.Duration) error {
	return clock.Sleep(WithWaitReason(ctx, why), d)
}

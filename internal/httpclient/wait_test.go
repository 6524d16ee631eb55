package httpclient

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// reasonRecorder is a Clock that keeps the reason of its last Sleep.
type reasonRecorder struct{ why WaitReason }

func (r *reasonRecorder) Now() time.Time { return time.Time{} }

func (r *reasonRecorder) Sleep(ctx context.Context, _ time.Duration) error {
	r.why = WaitReasonOf(ctx)
	return ctx.Err()
}

// A reason put in a ctx comes out of it (the innermost one counts); a ctx
// without one says WaitUnknown; SleepFor hands the reason to the clock.
func TestWaitReason(t *testing.T) {
	t.Parallel()
	type got struct {
		Of, Slept WaitReason
		Name      string
	}
	for _, tc := range []struct {
		why  WaitReason
		want got
	}{
		{WaitUnknown, got{WaitUnknown, WaitUnknown, "unknown"}},
		{WaitPacing, got{WaitPacing, WaitPacing, "pacing"}},
		{WaitReset, got{WaitReset, WaitReset, "reset"}},
		{WaitRateLimited, got{WaitRateLimited, WaitRateLimited, "rate-limited"}},
		{WaitRetry, got{WaitRetry, WaitRetry, "retry"}},
	} {
		ctx := WithWaitReason(WithWaitReason(t.Context(), WaitPacing), tc.why)
		var clock reasonRecorder
		if err := SleepFor(t.Context(), &clock, tc.why, time.Second); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got{WaitReasonOf(ctx), clock.why, tc.why.String()}); diff != "" {
			t.Errorf("%v (-want +got):\n%s", tc.why, diff)
		}
	}
	if got := WaitReasonOf(t.Context()); got != WaitUnknown {
		t.Errorf("WaitReasonOf(a ctx without a reason) = %v, want unknown", got)
	}
	if got := WaitReason(99).String(); got != "unknown" {
		t.Errorf("WaitReason(99).String() = %q", got)
	}
}

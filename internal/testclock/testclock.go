// Package testclock is the clock the tests of the okta and yubico clients
// and of the CLI inject (it satisfies okta.Clock and yubico.Clock): Sleep
// advances Now at once and records the wait and the reason the client gave
// for it (httpclient.WaitReasonOf), so retry and rate-limit waits are
// instantaneous and observable.
package testclock

import (
	"context"
	"sync"
	"time"

	"github.com/preenroll/preenroll/internal/httpclient"
)

// Clock is a fake clock. Create it with [New]; it is safe for concurrent use.
type Clock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
	why   []httpclient.WaitReason
}

// New returns a clock reading now.
func New(now time.Time) *Clock { return &Clock{now: now} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep records d and the reason in ctx, and advances the clock by d,
// unless ctx is already done: then it returns ctx.Err() and neither records
// nor advances.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept = append(c.slept, d)
	c.why = append(c.why, httpclient.WaitReasonOf(ctx))
	c.now = c.now.Add(d)
	return nil
}

// Sleeps returns every wait recorded so far, in order.
func (c *Clock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

// Reasons returns why each wait recorded so far was made, in order.
func (c *Clock) Reasons() []httpclient.WaitReason {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]httpclient.WaitReason(nil), c.why...)
}

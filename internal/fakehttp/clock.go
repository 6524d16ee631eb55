package fakehttp

import (
	"errors"
	"sync"
	"time"
)

// ErrClockBackwards is returned when a fake is asked to move its clock
// backwards: a fake's clock only moves forward.
var ErrClockBackwards = errors.New("the clock only moves forward")

// Clock is a fake's clock. In manual mode it stands still until
// [Clock.Advance] or [Clock.AdvanceTo] moves it; in real-time mode it also
// follows the wall clock (using the monotonic reading, so it never moves
// backwards either), with manual moves added on top. It is safe for
// concurrent use.
type Clock struct {
	start    time.Time // the fake time at creation
	wall     time.Time // wall-clock reading at creation (real-time mode only)
	realTime bool

	mu     sync.Mutex
	offset time.Duration // guarded by mu; manual moves so far
}

// NewClock returns a clock reading start (in UTC); with realTime it then
// follows the wall clock, and a zero start means the wall clock's time.
func NewClock(start time.Time, realTime bool) *Clock {
	c := &Clock{start: start.UTC(), realTime: realTime}
	if realTime {
		c.wall = time.Now()
		if start.IsZero() {
			c.start = c.wall.UTC()
		}
	}
	return c
}

// RealTime reports whether the clock follows the wall clock.
func (c *Clock) RealTime() bool { return c.realTime }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked()
}

func (c *Clock) nowLocked() time.Time {
	t := c.start.Add(c.offset)
	if c.realTime {
		t = t.Add(time.Since(c.wall))
	}
	return t
}

// Advance moves the clock forward by d and returns the new time. A
// negative d is refused with an error wrapping [ErrClockBackwards]; the
// clock does not move.
func (c *Clock) Advance(d time.Duration) (time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d < 0 {
		return c.nowLocked(), &BackwardsError{Op: "Advance(" + d.String() + ")"}
	}
	c.offset += d
	return c.nowLocked(), nil
}

// AdvanceTo moves the clock forward to t and returns the new time (t, or
// later in real-time mode). A t before Now is refused with an error
// wrapping [ErrClockBackwards]; the clock does not move.
func (c *Clock) AdvanceTo(t time.Time) (time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.nowLocked()
	if t.Before(now) {
		return now, &BackwardsError{Op: "SetNow(" + t.UTC().Format(time.RFC3339Nano) + ")", Now: now}
	}
	c.offset += t.Sub(now)
	return c.nowLocked(), nil
}

// BackwardsError is a refused attempt to move a clock backwards.
type BackwardsError struct {
	Op  string    // e.g. "Advance(-1s)"
	Now time.Time // the clock's time, when known
}

func (e *BackwardsError) Error() string {
	if e.Now.IsZero() {
		return e.Op + ": " + ErrClockBackwards.Error()
	}
	return e.Op + ": before the current time " + e.Now.Format(time.RFC3339Nano) + ": " + ErrClockBackwards.Error()
}

// Unwrap returns [ErrClockBackwards].
func (e *BackwardsError) Unwrap() error { return ErrClockBackwards }

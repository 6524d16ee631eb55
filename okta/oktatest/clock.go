package oktatest

import (
	"context"
	"fmt"
	"time"

	"github.com/preenroll/preenroll/internal/fakehttp"
)

// ErrClockBackwards is wrapped by the error of [Server.Advance] and
// [Server.SetNow] when asked to move the clock backwards. It is the same
// error yubicotest returns.
var ErrClockBackwards = fakehttp.ErrClockBackwards

// Now returns the fake clock's time.
func (s *Server) Now() time.Time { return s.clock.Now() }

// now is Now, for the handlers.
func (s *Server) now() time.Time { return s.clock.Now() }

// SetNow moves the fake clock forward to t. A t before Now is refused with
// an error wrapping [ErrClockBackwards].
func (s *Server) SetNow(t time.Time) error {
	if _, err := s.clock.AdvanceTo(t); err != nil {
		return fmt.Errorf("oktatest: %w", err)
	}
	return nil
}

// Advance moves the fake clock forward by d. A negative d is refused with
// an error wrapping [ErrClockBackwards].
func (s *Server) Advance(d time.Duration) error {
	if _, err := s.clock.Advance(d); err != nil {
		return fmt.Errorf("oktatest: %w", err)
	}
	return nil
}

// serverClock is an okta.Clock that reads the fake clock and waits by
// advancing it.
type serverClock struct{ s *Server }

func (c serverClock) Now() time.Time { return c.s.Now() }

func (c serverClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.s.Advance(max(d, 0))
}

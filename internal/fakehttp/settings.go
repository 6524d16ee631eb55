package fakehttp

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"
)

// Settings are what both fakes' options set alike: the oktatest and
// yubicotest configs embed it, and their WithNow, WithRealTime, WithRand
// and WithHTTPFaultPlan are [Setting]s adapted with [Adapt].
type Settings struct {
	Start    time.Time // the clock's start, UTC; zero: see [Settings.Clock]
	RealTime bool      // the clock follows the wall clock
	Rand     io.Reader // the fake's randomness
	Plan     *Plan     // nil: no HTTP fault plan at start
}

// DefaultSettings returns Settings drawing randomness from crypto/rand.
func DefaultSettings() Settings { return Settings{Rand: rand.Reader} }

// Shared returns s itself: a fake's config, which embeds Settings, thereby
// has the method [Adapt] needs.
func (s *Settings) Shared() *Settings { return s }

// A Setting changes Settings or says why its argument is invalid; [Adapt]
// makes it a fake's option.
type Setting func(*Settings) error

// Adapt makes set an option of the fake named prefix ("oktatest") whose
// config C embeds Settings; the option's error starts with prefix.
func Adapt[C interface{ Shared() *Settings }](prefix string, set Setting) func(C) error {
	return func(c C) error {
		if err := set(c.Shared()); err != nil {
			return fmt.Errorf("%s: %w", prefix, err)
		}
		return nil
	}
}

// WithNow sets the clock's start (a zero t is refused).
func WithNow(t time.Time) Setting {
	return func(s *Settings) error {
		if t.IsZero() {
			return errors.New("WithNow: zero time")
		}
		s.Start = t.UTC()
		return nil
	}
}

// WithRealTime makes the clock follow the wall clock.
func WithRealTime() Setting {
	return func(s *Settings) error {
		s.RealTime = true
		return nil
	}
}

// WithRand sets the source of randomness (a nil r is refused).
func WithRand(r io.Reader) Setting {
	return func(s *Settings) error {
		if r == nil {
			return errors.New("WithRand: nil reader")
		}
		s.Rand = r
		return nil
	}
}

// WithPlan starts the fake with the HTTP fault plan p (an invalid plan is
// refused, see [Plan.Check]).
func WithPlan(p Plan) Setting {
	return func(s *Settings) error {
		if err := p.Check(); err != nil {
			return err
		}
		s.Plan = &p
		return nil
	}
}

// Clock returns the fake's clock: it starts at Start, or, when Start is
// zero, at def (manual mode) or the wall clock's time (real-time mode).
func (s Settings) Clock(def time.Time) *Clock {
	start := s.Start
	if start.IsZero() && !s.RealTime {
		start = def
	}
	return NewClock(start, s.RealTime)
}

// Faults returns the fake's HTTP faults (see [NewFaults]) running Plan,
// if any.
func (s Settings) Faults(prefix string, salt uint64) (*Faults, error) {
	f := NewFaults(prefix, salt)
	if s.Plan != nil {
		if err := f.SetPlan(*s.Plan); err != nil {
			return nil, err
		}
	}
	return f, nil
}

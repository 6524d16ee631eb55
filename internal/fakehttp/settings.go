package fakehttp

import (
	"crypto/rand"
	"fmt"
	"io"
	"time"

	"github.com/preenroll/preenroll/httpfault"
)

// Settings are what both fakes' options set alike: the oktatest and
// yubicotest configs embed it, and their WithNow, WithRealTime, WithRand
// and WithHTTPFaultPlan are [Setting]s adapted with [Adapt].
type Settings struct {
	Start    time.Time       // the clock's start, UTC; zero: see [Settings.Clock]
	RealTime bool            // the clock follows the wall clock
	Rand     io.Reader       // the fake's randomness
	Plan     *httpfault.Plan // nil: no HTTP fault plan at start
	LogLimit int             // the request log keeps this many recent entries; 0: all
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

// Checked makes an option named op of a config C: applied, it fails with
// "op: problem" when problem is not nil and otherwise calls set. The
// argument's check, which gives problem (see [Invalid]), runs when the
// option is made. The fakes' options that check one argument and set one
// field are Checked.
func Checked[C any](op string, problem error, set func(C)) func(C) error {
	return func(c C) error {
		if problem != nil {
			return fmt.Errorf("%s: %w", op, problem)
		}
		set(c)
		return nil
	}
}

// Invalid returns the error format and args describe when bad, and nil
// otherwise: the problem of a [Checked] option.
func Invalid(bad bool, format string, args ...any) error {
	if !bad {
		return nil
	}
	return fmt.Errorf(format, args...)
}

// WithNow sets the clock's start (a zero t is refused).
func WithNow(t time.Time) Setting {
	return Checked("WithNow", Invalid(t.IsZero(), "zero time"), func(s *Settings) { s.Start = t.UTC() })
}

// WithRealTime makes the clock follow the wall clock.
func WithRealTime() Setting {
	return Checked("WithRealTime", nil, func(s *Settings) { s.RealTime = true })
}

// WithRand sets the source of randomness (a nil r is refused).
func WithRand(r io.Reader) Setting {
	return Checked("WithRand", Invalid(r == nil, "nil reader"), func(s *Settings) { s.Rand = r })
}

// WithRequestLogLimit keeps only the most recent n entries of the request
// log (n < 1 is refused; the default keeps every entry).
func WithRequestLogLimit(n int) Setting {
	return Checked("WithRequestLogLimit", Invalid(n < 1, "limit %d: want at least 1", n), func(s *Settings) { s.LogLimit = n })
}

// WithPlan starts the fake with the HTTP fault plan p (an invalid plan is
// refused, see [httpfault.Plan.Check]).
func WithPlan(p httpfault.Plan) Setting {
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
func (s Settings) Faults(prefix string, salt uint64, routes []Route) (*Faults, error) {
	f := NewFaults(prefix, salt, routes)
	if s.Plan != nil {
		if err := f.SetHTTPFaultPlan(*s.Plan); err != nil {
			return nil, err
		}
	}
	return f, nil
}

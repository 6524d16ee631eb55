package fulfillment

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// DefaultRemoteWakeDelay is the default RunOptions.RemoteWakeDelay.
const DefaultRemoteWakeDelay = time.Second

// RunOptions are the settings of [Service.RunWith] beyond the Config's.
// The zero value is [Service.Run]'s.
type RunOptions struct {
	// Interval is the time between passes (default Config.PollInterval).
	// It paces Run only: Config.PollInterval also paces the checks of
	// each record (the next sign-in check of a Shipped key, say), which
	// Interval leaves alone, so a program may pass every few minutes and
	// still ask Okta and Yubico about a record as seldom as before.
	Interval time.Duration
	// Jitter, if positive, adds a random extra of up to Jitter to each
	// wait between passes, so that instances started together do not
	// make their passes, and claim records, together.
	Jitter time.Duration
	// MaxBackoff, if positive, makes Run wait longer after a pass that
	// failed (the store could not be read: a database outage): the wait
	// doubles for each failed pass in a row, up to MaxBackoff, or Interval
	// if longer, so that with a short Interval an outage costs a few log
	// lines, not a failing pass every Interval (an order still wakes
	// Run); the first pass that does not fail restores Interval. Zero:
	// Interval after every pass.
	//
	// With Jitter or MaxBackoff, each wait is measured from the end of
	// the pass, on a ticker made for it (Config.NewTicker, stopped after
	// its tick); without, Run's ticker ticks every Interval, whatever
	// the passes took.
	MaxBackoff time.Duration
	// RemoteWakeDelay bounds the random delay before an order that
	// another instance sharing the Store recorded wakes Run (see
	// [Service.RunWith]; default DefaultRemoteWakeDelay, 1 s; negative:
	// at once). Every instance hears such an order, and without the delay
	// all would start their pass, and try to claim the new record, at the
	// same moment.
	RemoteWakeDelay time.Duration
	// OnPass, if not nil, is called after each pass, whatever its
	// outcome (the last one, that returns ErrDraining or ends with ctx,
	// too), from Run's goroutine: the next pass waits for it. It is where
	// a program counts passes and failures (metrics, alerts). Run logs a
	// failed pass itself.
	OnPass func(RunPass)
	// Stop, if not nil, ends Run between passes once it is closed: Run
	// starts no pass after that and returns ErrDraining (a pass under way
	// finishes, as after Drain). It is for a program that stops the passes
	// before it stops the rest of the Service: `preenroll serve` closes it
	// when its shutdown begins, and calls Drain only after its HTTP
	// server and event queue have stopped, so that console requests
	// still running finish their steps.
	Stop <-chan struct{}
	// Rand, if not nil, draws the random delays (Jitter's and
	// RemoteWakeDelay's) in [0, n) for n > 0 (default math/rand/v2's N):
	// tests pass their own. It is called from Run's goroutine and from the
	// goroutine that delivers the Service's changes, maybe at once: it
	// must be safe for concurrent use (math/rand/v2.N is; a *rand.Rand
	// with a Source of its own needs a lock).
	Rand func(n time.Duration) time.Duration
}

// RunPass is one pass of [Service.RunWith], as RunOptions.OnPass gets it.
type RunPass struct {
	// Report and Err are what [Service.Sync] returned.
	Report SyncReport
	Err    error
	// Took is how long the pass ran, by the wall clock (not
	// Config.Clock).
	Took time.Duration
	// Failed is the number of failed passes in a row, this one
	// included: 0 after a pass without error. A pass cut short by
	// Drain or by ctx counts as neither.
	Failed int
}

// check returns a *ConfigError naming every bad option, or nil.
func (o RunOptions) check() error {
	var problems []string
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"Interval", o.Interval}, {"Jitter", o.Jitter}, {"MaxBackoff", o.MaxBackoff}} {
		if f.d < 0 {
			problems = append(problems, fmt.Sprintf("RunOptions.%s %v: must not be negative", f.name, f.d))
		}
	}
	return configError(problems)
}

// Run is RunWith with the zero RunOptions: a pass every Config.PollInterval,
// woken by orders, and no report of the passes but the log.
func (s *Service) Run(ctx context.Context) error {
	return s.RunWith(ctx, RunOptions{})
}

// RunWith calls [Service.Sync] at once and then every opts.Interval
// (default Config.PollInterval; on the ticker from Config.NewTicker),
// until ctx is done; then it returns ctx's error. Passes come sooner
// when:
//
//   - this Service recorded a new order ([Service.Order],
//     [Service.OrderBatch], the event handler and [Service.RecordEvent],
//     or any other change of a record to StepInitiated, a step each
//     order passes once): at once;
//   - another instance sharing the Store recorded one, when the Store is
//     a [ChangeFeed] (pgstore; MemoryStore within one process; not
//     SQLite): after a random delay of up to opts.RemoteWakeDelay (1 s by
//     default). RunWith subscribes to the Service's changes
//     ([Service.Subscribe]) for as long as it runs, which runs the feed.
//     An order-only instance (no Config.Yubico, `preenroll order`) runs
//     no pass: its orders are moved by the instances that run one. The
//     orders heard while a delayed wake waits are taken by its pass. A
//     Resync (the feed listens, or listens again after it broke) wakes
//     nothing: an order it may have missed waits for the next interval;
//   - [Service.Wake] is called;
//   - a pass found records held by another instance's lease: a pass
//     follows when the first of them ends (SyncReport.FreedAfter), if
//     that comes before the next one; a step abandoned by a stopped
//     instance is resumed when its shortened lease ends
//     ([Service.ReleaseLeases]).
//
// Wakes that come during a pass, or together, make one pass after it.
// opts.Jitter spreads the passes of instances started together, and
// opts.MaxBackoff slows them while they fail. A failing pass is logged
// (at error, with the number of failed passes in a row) and does not
// stop RunWith; opts.OnPass gets every pass's report and error.
//
// With Config.CatchUpEvery it catches up ([Service.CatchUpFromCheckpoint])
// after the first pass and every CatchUpEvery after, on a ticker of its
// own (not after Drain); an order it records starts a pass.
//
// After [Service.Drain] it returns ErrDraining once the steps under way
// have finished (at once if it was waiting between passes); after
// opts.Stop is closed, it starts no pass and returns ErrDraining as well. A Service
// without Config.Yubico gets an error wrapping ErrInvalidConfig at once,
// and so do negative opts.Interval, Jitter or MaxBackoff: a *ConfigError
// naming each.
func (s *Service) RunWith(ctx context.Context, opts RunOptions) error {
	if err := s.needYubico("run"); err != nil {
		return err
	}
	if err := opts.check(); err != nil {
		return err
	}
	interval := cmp.Or(opts.Interval, s.pollInterval)
	draw := opts.Rand
	if draw == nil {
		draw = rand.N[time.Duration]
	}
	ctx, cancel := context.WithCancel(ctx) // ends the delayed wakes when Run returns
	defer cancel()
	stopWatch := s.Subscribe(ctx, s.runWaker(ctx, opts.RemoteWakeDelay, draw))
	defer stopWatch()

	paced := opts.Jitter > 0 || opts.MaxBackoff > 0
	var tickC <-chan time.Time // the ticker's, every interval (not paced)
	if !paced {
		t := s.newTicker(interval)
		defer t.Stop()
		tickC = t.C()
	}
	var catchUpC <-chan time.Time // Config.CatchUpEvery's ticks
	if s.catchUpEvery > 0 {
		ct := s.newTicker(s.catchUpEvery)
		defer ct.Stop()
		catchUpC = ct.C()
	}
	catchUp := func() {
		// Not after Drain: a catch-up records new orders (the next
		// instance's catch-up reads them, the checkpoint not moved).
		if s.stopping(ctx) != nil {
			return
		}
		if _, err := s.CatchUpFromCheckpoint(ctx); err != nil && ctx.Err() == nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "fulfillment: catch up from Okta's System Log failed", slog.String("error", err.Error()))
		}
	}
	// next ticks once: when the wait after the last pass ends (paced),
	// or when the earliest lease that made a record Busy in it ends, if
	// that comes before the ticker's next tick.
	var next Ticker
	stopNext := func() {
		if next != nil {
			next.Stop()
			next = nil
		}
	}
	defer stopNext()
	failed := 0
	for first := true; ; first = false {
		select {
		case <-opts.Stop: // closed before Run began
			return ErrDraining
		default:
		}
		start := time.Now()
		rep, err := s.Sync(ctx)
		took := time.Since(start)
		switch {
		case err == nil:
			failed = 0
		case errors.Is(err, ErrDraining) || ctx.Err() != nil:
		default:
			failed++
			s.log.LogAttrs(ctx, slog.LevelError, "fulfillment: sync pass failed", slog.String("error", err.Error()), slog.Int("failedPasses", failed))
		}
		if opts.OnPass != nil {
			opts.OnPass(RunPass{Report: rep, Err: err, Took: took, Failed: failed})
		}
		if errors.Is(err, ErrDraining) {
			return err
		}
		stopNext()
		var nextC <-chan time.Time
		if paced {
			wait := backoff(interval, failed, opts.MaxBackoff)
			if opts.Jitter > 0 {
				wait += draw(opts.Jitter)
			}
			next = s.newTicker(freedFirst(wait, rep, err, s.now()))
			nextC = next.C()
		} else if freed, held := rep.FreedAfter(s.now()); held && freed < interval {
			next = s.newTicker(freed)
			nextC = next.C()
		}
		// The first catch-up comes after the first pass, so that a long
		// one (every order since a long outage, each read at Okta) holds
		// up no key in flight; the ticker drives the later ones (a tick
		// that came during a pass waits in its channel: a second check
		// here would catch up twice in a row). The orders it records
		// wake the next pass.
		if first && s.catchUpEvery > 0 {
			catchUp()
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-s.drained:
				return ErrDraining
			case <-opts.Stop:
				return ErrDraining
			case <-tickC:
				break wait
			case <-nextC:
				break wait
			case <-s.kick:
				break wait
			case <-catchUpC:
				// An order it records wakes the next pass (kick).
				catchUp()
			}
		}
	}
}

// backoff is the wait after a pass: interval, doubled for each of the
// failed passes in a row, up to limit or interval if longer (limit 0:
// interval).
func backoff(interval time.Duration, failed int, limit time.Duration) time.Duration {
	limit = max(interval, limit)
	wait := interval
	for range failed {
		if wait >= limit/2 {
			return limit
		}
		wait *= 2
	}
	return wait
}

// freedFirst shortens the wait after a pass that rep and err report to
// when the first record another instance held in it is free
// (SyncReport.FreedAfter): a step abandoned at that instance's shutdown,
// its lease shortened, is taken when the lease ends, not a whole interval
// later. Not after a failed pass: it backs off.
func freedFirst(wait time.Duration, rep SyncReport, err error, now time.Time) time.Duration {
	if d, ok := rep.FreedAfter(now); ok && err == nil && d < wait {
		return d
	}
	return wait
}

// runWaker returns RunWith's subscriber: a change of a record to
// StepInitiated (a new order) wakes Run, at once if this Service stored
// it, after a random delay of up to bound (drawn by draw; at once if
// bound is negative) if another instance did, unless such a delayed wake
// already waits (it takes the new order too: the record is stored before
// its pass reads the store). ctx ends the delayed wake.
func (s *Service) runWaker(ctx context.Context, bound time.Duration, draw func(time.Duration) time.Duration) func(RecordChange) {
	if bound == 0 {
		bound = DefaultRemoteWakeDelay
	}
	var pending atomic.Bool // a delayed wake waits
	return func(c RecordChange) {
		switch {
		case c.Step != StepInitiated: // a Resync and a removal have no step
		case !c.Remote || bound < 0:
			s.wakeRun()
		case !pending.CompareAndSwap(false, true):
		default:
			d := draw(bound)
			if d <= 0 {
				pending.Store(false)
				s.wakeRun()
				return
			}
			t := s.newTicker(d)
			go func() {
				defer t.Stop()
				select {
				case <-t.C():
					pending.Store(false) // before the wake: an order heard after it waits anew
					s.wakeRun()
				case <-ctx.Done():
				}
			}()
		}
	}
}

// Wake makes Run start a pass soon, as a new order recorded by this
// Service does: for a program that learns of work Run would not hear of
// (an order recorded by another process on a Store that is no
// [ChangeFeed], say). It never blocks; wakes while a pass runs make one
// pass after it.
func (s *Service) Wake() { s.wakeRun() }

// wakeRun makes Run start a pass soon (a new order was recorded); it never
// blocks. One wake is kept while no Run is waiting: a Run in a pass starts
// another when it ends, and a Run started later makes a second pass after
// its first. Wakes beyond that one are dropped.
func (s *Service) wakeRun() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

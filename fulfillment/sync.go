package fulfillment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// syncPage is how many records Sync reads from the store at a time.
const syncPage = 500

// SyncReport summarises one [Service.Sync] pass.
type SyncReport struct {
	// Checked is the number of in-flight records looked at.
	Checked int
	// Advanced is the number of records that moved at least one step.
	Advanced int
	// Shipped, Active and Errored count the records that reached these
	// statuses during the pass.
	Shipped, Active, Errored int
	// Delivered counts the shipped keys Yubico reported delivered
	// (state 104) during the pass (Record.DeliveredAt).
	Delivered int
	// Busy counts records skipped because another instance holds their
	// lease or their claim (Config.SyncClaim), or took them first.
	Busy int
	// BusyUntil is the earliest time another instance's lease that made a
	// record Busy ends (by this Service's Clock), zero when none did. A
	// loop of passes can make its next one then rather than a whole
	// interval later: a step abandoned by an instance that stopped (its
	// lease shortened at shutdown) is resumed when the lease ends.
	// [Service.Run] does. Claims are left out: a live instance renews its
	// claims at each of its passes and a stopping one drops them, so a
	// pass at a claim's end would find it renewed (with several
	// instances, each would make a pass for every other's).
	BusyUntil time.Time
	// NotDue counts records skipped because they wait for the outside
	// world and their next check has not come (Record.NextCheck): they
	// cost no remote call and no store write. With a store that keeps a
	// due index (DueLister) it is the store's count at the pass's start,
	// and those records are not even read.
	NotDue int
	// ManagedElsewhere counts records that came to rest at
	// StepManagedElsewhere during the pass: Okta lists an enrollment in
	// fulfillment the Service did not create (another tool, such as the
	// Okta Workflows flowpack, is fulfilling the key), which it leaves
	// alone. They are not failures; their Reason names the enrollments.
	ManagedElsewhere int
	// Failures lists every record whose step failed during the pass, with
	// the step (Result.Step) and the error: the records that became
	// FulfillmentErrored (Result.Err wraps ErrStepFailed and carries the
	// recorded reason; Retry resumes them) and those whose step the next
	// pass takes up by its recovery rule (an unknown outcome, wrapping
	// ErrOutcomeUnknown, or a store error). That rule may be to error the
	// record: a shipment create whose outcome is unknown is sent again only
	// with Config.IdempotentShipments (within Config.IdempotencyWindow);
	// without, the next pass marks it FulfillmentErrored for a person to
	// look in the Yubico console before Retry.
	Failures []Result
}

// Sync makes one pass over every record in flight (FulfillmentStarted,
// FulfillmentErrored with a pending mark-error, Shipped) and moves each as
// far as it can go now: enroll, create the shipment, poll it, activate,
// send the PIN, notice the first sign-in, resume interrupted steps (see
// [Service]). It reads only the records due ([Record.DueAt]) through the
// store's due index if it keeps one ([DueLister]), else it lists every
// record in flight and skips the ones not due; either way it checks each
// record's due-ness at its own clock before acting. Records are worked on
// Config.Concurrency at a time. A failing record does not stop the pass:
// it is listed in the report. The error is non-nil only if the store
// could not be read or ctx ended, wraps
// ErrDraining after [Service.Drain], or wraps ErrInvalidConfig for a
// Service without Config.Yubico.
func (s *Service) Sync(ctx context.Context) (SyncReport, error) {
	if err := s.needYubico("sync"); err != nil {
		return SyncReport{}, err
	}
	var (
		mu  sync.Mutex
		rep SyncReport
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency)
	// A store with a due index counts the records not due; Sync reads
	// only the due ones (syncPage).
	now := s.now()
	d, indexed := s.store.(DueLister)
	if indexed {
		n, err := d.CountNotDue(ctx, now)
		if err != nil {
			return rep, fmt.Errorf("fulfillment: sync: %w", err)
		}
		rep.NotDue = n
	}
	after := ""
	for {
		recs, err := s.syncPage(gctx, d, now, after)
		if err != nil {
			g.Wait()
			return rep, fmt.Errorf("fulfillment: sync: %w", err)
		}
		for _, r := range recs {
			if due, waiting := r.dueBy(s.now()); !due {
				if waiting && !indexed { // else counted by the store
					mu.Lock()
					rep.NotDue++
					mu.Unlock()
				}
				continue // resting (Retry, Delete), or its next check has not come
			}
			if s.draining.Load() {
				break
			}
			userID := r.UserID
			g.Go(func() error {
				before, after, busy, until, err := s.syncUser(gctx, userID)
				if errors.Is(err, ErrDraining) {
					if after.Version == before.Version {
						return nil // not started: the next pass (of any instance) takes it
					}
					err = nil // stopped between steps, nothing failed
				}
				mu.Lock()
				defer mu.Unlock()
				rep.Checked++
				switch {
				case busy:
					rep.Busy++
					if !until.IsZero() && (rep.BusyUntil.IsZero() || until.Before(rep.BusyUntil)) {
						rep.BusyUntil = until
					}
					return nil
				case len(after.History) > len(before.History):
					// A step was recorded; a schedule or lease write alone
					// (NextCheck, the shipment's last check) is no move.
					rep.Advanced++
				}
				if !after.DeliveredAt.IsZero() && before.DeliveredAt.IsZero() {
					rep.Delivered++
				}
				if after.Step == StepManagedElsewhere && before.Step != StepManagedElsewhere {
					rep.ManagedElsewhere++
				}
				if after.Status != before.Status {
					switch after.Status {
					case Shipped:
						rep.Shipped++
					case Active:
						rep.Active++
					case FulfillmentErrored:
						rep.Errored++
					}
				}
				if f, failed := failure(userID, before, after, err); failed {
					rep.Failures = append(rep.Failures, f)
				}
				return nil
			})
		}
		if len(recs) < syncPage || s.draining.Load() {
			break
		}
		after = recs[len(recs)-1].UserID
	}
	if err := g.Wait(); err != nil {
		return rep, err
	}
	if err := s.stopping(ctx); err != nil {
		return rep, err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: sync pass",
		slog.Int("checked", rep.Checked), slog.Int("notDue", rep.NotDue), slog.Int("advanced", rep.Advanced),
		slog.Int("shipped", rep.Shipped), slog.Int("delivered", rep.Delivered), slog.Int("active", rep.Active),
		slog.Int("errored", rep.Errored), slog.Int("managedElsewhere", rep.ManagedElsewhere), slog.Int("failures", len(rep.Failures)))
	return rep, nil
}

// syncPage returns the page of records after the user ID after that a Sync
// pass may act on. With a store that keeps a due index (d, a [DueLister])
// the page holds only the records due at the pass's start (now); with any
// other store (d nil) it holds every record in flight, and Sync skips the
// ones not due. Either way Sync re-checks each record ([Record.DueAt]) at
// its own clock before it acts.
func (s *Service) syncPage(ctx context.Context, d DueLister, now time.Time, after string) ([]Record, error) {
	if d != nil {
		return d.ListDue(ctx, DueQuery{Now: now, After: after, Limit: syncPage})
	}
	return s.store.List(ctx, Query{InFlight: true, After: after, Limit: syncPage})
}

// failure reports a record whose step failed during a pass: it returned
// an error, or it became FulfillmentErrored (a definite failure, recorded
// with its reason, returns no error).
func failure(userID string, before, after Record, err error) (Result, bool) {
	errored := after.Status == FulfillmentErrored && before.Status != FulfillmentErrored
	if err == nil && !errored {
		return Result{}, false
	}
	r := Result{UserID: userID, Login: after.Login, Status: after.Status, Step: after.Step, Err: err}
	if after.Status == FulfillmentErrored && after.FailedStep != "" {
		r.Step = after.FailedStep
	}
	if err == nil {
		r.Err = fmt.Errorf("%w at %s: %s", ErrStepFailed, after.FailedStep, after.Reason)
	}
	return r, true
}

// syncUser advances one user's record as far as it goes. A record another
// instance holds is busy, until the end of its lease (zero when it holds
// a claim, or took the record first: see SyncReport.BusyUntil).
func (s *Service) syncUser(ctx context.Context, userID string) (before, after Record, busy bool, until time.Time, err error) {
	ctx, unlock := s.lock(ctx, userID)
	defer unlock()
	rec, err := s.store.Get(ctx, userID)
	if err != nil {
		return rec, rec, false, time.Time{}, err
	}
	rec, taken, err := s.claim(ctx, rec)
	switch {
	case err != nil:
		return rec, rec, false, time.Time{}, err
	case !taken && s.leased(rec):
		return rec, rec, true, rec.Lease.Until, nil
	case !taken:
		return rec, rec, true, time.Time{}, nil
	}
	after, err = s.run(ctx, &pass{}, rec)
	return rec, after, false, time.Time{}, err
}

// freedMargin is how long after a Busy record's lease ends the
// pass that takes it comes ([SyncReport.FreedAfter]): another instance's
// clock set the end, and a pass a little early would find the record busy
// again.
const freedMargin = time.Second

// FreedAfter returns how long after now to make the pass that takes the
// record whose lease ends first (BusyUntil, plus a second for
// the clocks of the instances to differ); ok is false when no record was
// held. A loop of passes waits for the shorter of it and its interval, as
// [Service.Run] does.
func (r SyncReport) FreedAfter(now time.Time) (d time.Duration, ok bool) {
	if r.BusyUntil.IsZero() {
		return 0, false
	}
	return max(r.BusyUntil.Sub(now), 0) + freedMargin, true
}

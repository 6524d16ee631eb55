package fulfillment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ErrDraining is returned by [Service.Sync] and [Service.Run] after
// [Service.Drain].
var ErrDraining = errors.New("fulfillment: service is draining")

// Drain makes the Service stop starting work, for a graceful shutdown:
// Sync (and Run) start no new record and no new step; a step under way
// finishes (its remote call and the recorded result), then Sync returns an
// error wrapping ErrDraining, and so does Run (at once if it waits
// between passes). Drain does not wait and cannot be undone. The other methods (Order, RecordEvent, Status, ...) are
// not affected. A program that cannot wait for the steps under way cancels
// their context, then calls [Service.ReleaseLeases].
func (s *Service) Drain() {
	if s.draining.CompareAndSwap(false, true) {
		close(s.drained)
	}
}

// stopping returns ctx's error, or ErrDraining after Drain.
func (s *Service) stopping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.draining.Load() {
		return ErrDraining
	}
	return nil
}

// ReleaseLeases shortens the leases this instance holds on records in
// flight so that they expire after grace, drops its Sync claims
// ([Record.Claim]) so that other instances' next pass takes the records
// at once, and returns how many records it changed. A program calls it on its way out, once nothing of this
// Service is running any more (Run and Sync have returned): the intents it
// abandoned (their context was cancelled during the remote call) are then
// resumed by the next instance (the same program restarted) after grace
// instead of after the full Config.Lease. grace covers a request that was
// abandoned by the client but may still be processed by Okta or Yubico; a
// resumed step follows its recovery rule in any case (see [Service]).
func (s *Service) ReleaseLeases(ctx context.Context, grace time.Duration) (int, error) {
	if grace < 0 {
		return 0, fmt.Errorf("%w: ReleaseLeases: grace %v is negative", ErrInvalidConfig, grace)
	}
	released := 0
	var releaseErr error
	err := ListPages(ctx, s.store, Query{InFlight: true, Limit: syncPage}, func(r Record) bool {
		if lease, claim := s.holds(r, s.now().Add(grace)); !lease && !claim {
			return true // not ours: no need to read it again
		}
		ok, err := s.releaseLease(ctx, r.UserID, grace)
		if err != nil {
			releaseErr = err
			return false
		}
		if ok {
			released++
		}
		return true
	})
	if err != nil {
		return released, fmt.Errorf("fulfillment: release leases: %w", err)
	}
	if releaseErr != nil {
		return released, releaseErr
	}
	if released > 0 {
		s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: leases released",
			slog.Int("records", released), slog.String("grace", grace.String()))
	}
	return released, nil
}

// holds reports what of rec ReleaseLeases releases at until: this
// instance's lease on it when it runs past until, and its claim.
func (s *Service) holds(rec Record, until time.Time) (lease, claim bool) {
	return rec.Lease.Owner == s.owner && rec.Lease.Until.After(until), rec.Claim.Owner == s.owner
}

// releaseLease shortens this instance's lease on one record (read again
// under the user's lock) and drops its claim.
func (s *Service) releaseLease(ctx context.Context, userID string, grace time.Duration) (bool, error) {
	ctx, unlock := s.lock(ctx, userID)
	defer unlock()
	rec, err := s.store.Get(ctx, userID)
	if err != nil {
		return false, fmt.Errorf("fulfillment: release lease of %q: %w", userID, err)
	}
	until := s.now().Add(grace)
	lease, claim := s.holds(rec, until)
	if !lease && !claim {
		return false, nil
	}
	if lease {
		rec.Lease.Until = until
		// A lease change is not a step: no history entry, and the record
		// is left at its intent for the recovery rule.
		rec.UpdatedAt = s.now().UTC()
	}
	if claim {
		rec.Claim = Lease{} // the other instances' next pass takes it
	}
	if _, err := s.store.Put(ctx, rec); err != nil {
		if errors.Is(err, ErrVersionConflict) {
			return false, nil // someone else moved it: not ours to release any more
		}
		return false, fmt.Errorf("fulfillment: release lease of %q: %w", userID, err)
	}
	return true, nil
}

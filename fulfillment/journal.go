package fulfillment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/yubico"
)

// The journal: how the step machine (steps.go) records its work. Every
// remote call that changes something is bracketed by two store writes:
// [Service.intend] records the intent (an "-ing" [Step], its idempotency key
// and this instance's lease) before the call, and [Service.reach] records
// the result after it. [definite] and [unknown] sort a failed call's
// outcome into "certainly did not happen" and "may have happened". Inside
// one instance [Service.lock] serializes the work on one user; across
// instances the store's compare-and-swap and the lease ([Service.leased])
// do, and a Sync pass first claims the record ([Service.claim]) so that
// the passes of several instances work on disjoint records. Nothing here
// calls Okta or Yubico.

// lock serializes work on one user inside this instance. The work runs
// under the returned context, which marks its writes as made under a
// record lock: their changes are queued for the subscribers, not
// delivered ([watchers.leave]). unlock releases the user and then
// delivers the changes queued (unless another goroutine delivers them
// already), so that a subscriber may call the Service for the same
// user. A lock taken under a context so marked (a lock within another)
// leaves the delivery to the outermost unlock.
func (s *Service) lock(ctx context.Context, userID string) (_ context.Context, unlock func()) {
	outer := !underLock(ctx)
	s.locksMu.Lock()
	l := s.locks[userID]
	if l == nil {
		l = &userLock{}
		s.locks[userID] = l
	}
	l.refs++
	s.locksMu.Unlock()
	l.mu.Lock()
	if outer {
		ctx = context.WithValue(ctx, lockedKey{}, true)
	}
	return ctx, func() {
		l.mu.Unlock()
		s.locksMu.Lock()
		if l.refs--; l.refs == 0 {
			delete(s.locks, userID)
		}
		s.locksMu.Unlock()
		if outer { // released first: a subscriber's panic leaves the user unlocked
			s.watch.mu.Lock()
			s.watch.flush()
		}
	}
}

// lockedKey is the context key under which [Service.lock] marks the
// context of the work it serializes.
type lockedKey struct{}

// underLock reports whether ctx is the context of work under
// [Service.lock] (or derived from it, as [Service.fenced]'s is).
func underLock(ctx context.Context) bool {
	return ctx.Value(lockedKey{}) != nil
}

// save appends a change for rec's current status and step and stores rec.
func (s *Service) save(ctx context.Context, rec Record, c Change) (Record, error) {
	now := s.now().UTC()
	c.At = now
	c.Status = rec.Status
	c.Step = rec.Step
	c.Attempt = rec.Attempts
	rec.History = append(rec.History, c)
	rec.UpdatedAt = now
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = now
	}
	// A write with a history entry comes back from the Store's change
	// feed, if a feed runs: noted, so that it is delivered once.
	echo, expected := s.watch.expect(rec)
	stored := false
	if expected {
		// Settled on every way out, a panic of the Store or of a
		// subscriber too: a write left pending would stay forever, and
		// hold a change the feed reports at its version with it.
		defer func() { s.watch.settle(ctx, echo, stored) }()
	}
	out, err := s.store.Put(unfenced(ctx), rec)
	if err != nil {
		return rec, fmt.Errorf("fulfillment: save record of %q at step %s: %w", rec.UserID, rec.Step, err)
	}
	stored = true
	s.watch.notify(ctx, out, expected)
	return out, nil
}

// touch stores rec with no history entry: bookkeeping that is no step
// (when a shipped key's parcel was last looked at).
func (s *Service) touch(ctx context.Context, rec Record) (Record, error) {
	rec.UpdatedAt = s.now().UTC()
	out, err := s.store.Put(unfenced(ctx), rec)
	if err != nil {
		return rec, fmt.Errorf("fulfillment: save record of %q at step %s: %w", rec.UserID, rec.Step, err)
	}
	s.watch.notify(ctx, out, false)
	return out, nil
}

// intend records step as the intent of rec (with its idempotency key and
// this instance's lease) and returns the stored record and the key.
func (s *Service) intend(ctx context.Context, rec Record, step Step) (Record, string, error) {
	return s.intendWhy(ctx, rec, step, "")
}

// intendWhy is intend with a note in the intent's history entry (a
// decision taken for the call, such as how responses were paired).
func (s *Service) intendWhy(ctx context.Context, rec Record, step Step, note string) (Record, string, error) {
	key := rec.Keys[step]
	if key == "" {
		var err error
		if key, err = s.newKey(string(step)); err != nil {
			return rec, "", err
		}
		if rec.Keys == nil {
			rec.Keys = map[Step]string{}
		}
		rec.Keys[step] = key
	}
	rec.Step = step
	rec.Lease = Lease{Owner: s.owner, Until: s.now().Add(s.lease)}
	rec, err := s.save(ctx, rec, Change{Key: key, Reason: note})
	if err == nil {
		s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: intent",
			slog.String("user", rec.UserID), slog.String("step", string(step)),
			slog.String("key", key), slog.Int("attempt", rec.Attempts))
	}
	return rec, key, err
}

// reach records that rec reached step (the result of a remote call),
// clearing the lease.
func (s *Service) reach(ctx context.Context, rec Record, step Step, reason string) (Record, error) {
	rec.Step = step
	rec.Lease = Lease{}
	rec, err := s.save(ctx, rec, Change{Reason: reason})
	if err == nil {
		attrs := []slog.Attr{slog.String("user", rec.UserID), slog.String("step", string(step)),
			slog.String("status", string(rec.Status)), slog.Int("attempt", rec.Attempts)}
		if reason != "" {
			attrs = append(attrs, slog.String("reason", reason))
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: step", attrs...)
	}
	return rec, err
}

// claim takes rec for this instance's Sync pass ([Record.Claim]): taken
// false when another live instance holds it (its claim on a record at
// rest, or the lease of its intent) or wins the compare-and-swap. A claim
// held for more than half of Config.SyncClaim is not written again. A
// record at an intent whose lease has expired is taken whoever claimed it:
// its owner died during the call, and the intent is resumed by its
// recovery rule.
func (s *Service) claim(ctx context.Context, rec Record) (_ Record, taken bool, err error) {
	if s.heldByAnother(rec) {
		return rec, false, nil
	}
	now := s.now()
	if rec.Claim.Owner == s.owner && rec.Claim.Until.Sub(now) > s.syncClaim/2 {
		return rec, true, nil
	}
	// A claim is no step: no history entry, UpdatedAt unchanged.
	rec.Claim = Lease{Owner: s.owner, Until: now.Add(s.syncClaim)}
	out, err := s.store.Put(ctx, rec)
	switch {
	case errors.Is(err, ErrVersionConflict):
		return rec, false, nil // another instance took or moved it first
	case err != nil:
		return rec, false, fmt.Errorf("fulfillment: claim record of %q: %w", rec.UserID, err)
	}
	return out, true, nil
}

// fenced bounds ctx for one step: its remote calls end three quarters of
// the way through the lease an intent recorded now takes (see
// Config.Lease), so that they cannot run on after another instance may
// have taken the step over. A lease under MinFencedLease bounds nothing.
//
// The fence bounds the remote calls only: the step's store writes
// ([Service.save], [Service.touch], [Service.takeOver]) run under the
// context the step was given ([unfenced]). A write needs no fence, as the
// store's compare-and-swap already refuses it once another instance has
// taken the record over; and a remote call that succeeds just before the
// fence must still have its result recorded, not lose it to a deadline
// and leave the step to its recovery rule.
func (s *Service) fenced(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.lease < MinFencedLease {
		return ctx, func() {}
	}
	return context.WithTimeout(context.WithValue(ctx, unfencedKey{}, ctx), s.lease-s.lease/4)
}

// unfencedKey is the context key under which [Service.fenced] keeps the
// context it bounded.
type unfencedKey struct{}

// unfenced returns the context ctx was fenced from (see [Service.fenced]),
// or ctx if it is not fenced: the context of a step's store writes.
func unfenced(ctx context.Context) context.Context {
	if parent, ok := ctx.Value(unfencedKey{}).(context.Context); ok {
		return parent
	}
	return ctx
}

// takeOver writes this instance's lease on rec, a record at an intent
// whose outcome is unknown, before its recovery rule makes its calls (read
// what happened, delete strays, resend): a compare-and-swap, so that of
// two instances that found the intent abandoned one resumes it and the
// other gets an error wrapping ErrVersionConflict and leaves the record
// alone, and while the recovery runs every other instance sees the record
// leased. A lease change is no step: no history entry. A record whose
// lease this instance holds until after the step's remote calls end (its
// own intent, resumed within a quarter of the lease) is left as it is: no
// other instance can take it meanwhile, and the write would gain nothing.
func (s *Service) takeOver(ctx context.Context, rec Record) (Record, error) {
	now := s.now()
	if rec.Lease.Owner == s.owner && !rec.Lease.Until.Before(now.Add(s.lease-s.lease/4)) {
		return rec, nil
	}
	rec.EnrollCalls = s.enrollCalls(rec) // the old lease dates a call not recorded
	rec.Lease = Lease{Owner: s.owner, Until: now.Add(s.lease)}
	out, err := s.store.Put(unfenced(ctx), rec)
	if err != nil {
		return rec, fmt.Errorf("fulfillment: resume step %s of %q: %w", rec.Step, rec.UserID, err)
	}
	s.watch.notify(ctx, out, false)
	return out, nil
}

// leased reports whether another live instance holds rec's lease.
func (s *Service) leased(rec Record) bool {
	return rec.Lease.Owner != "" && rec.Lease.Owner != s.owner && s.now().Before(rec.Lease.Until)
}

// heldByAnother reports whether another live instance holds rec, so that
// this Service does not take it ([Service.claim]): by the lease of its
// intent, or by its claim on a record not at an intent (a claim does not
// hold a step another instance began and may have abandoned: only its
// lease does).
func (s *Service) heldByAnother(rec Record) bool {
	c := rec.Claim
	return s.leased(rec) || (c.Owner != "" && c.Owner != s.owner && s.now().Before(c.Until) && !rec.Step.Intent())
}

// definite reports whether err certainly means the remote call did not take
// effect: a request refused before sending, or a 4xx answer other than 408
// and 429. Transport errors, 5xx and rate limits are not definite: the
// call may have happened.
func definite(err error) bool {
	if errors.Is(err, yubico.ErrOutcomeUnknown) {
		return false // a refusal after an attempt that may have been applied
	}
	if errors.Is(err, okta.ErrInvalidArgument) || errors.Is(err, yubico.ErrInvalidArgument) {
		return true
	}
	status := 0
	var oe *okta.APIError
	var ye *yubico.APIError
	switch {
	case errors.As(err, &oe):
		status = oe.StatusCode
	case errors.As(err, &ye):
		status = ye.StatusCode
	default:
		return false
	}
	return status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests
}

// unknown wraps err as an unknown outcome unless it is definite.
//
// A timeout or cancellation is not definite either: net/http's
// Client.Timeout error matches context.DeadlineExceeded although the
// request may have reached the service. Callers that must not record a
// failure when their own ctx ended check ctx.Err() themselves.
func unknown(what string, err error) error {
	if definite(err) {
		return fmt.Errorf("fulfillment: %s: %w", what, err)
	}
	return fmt.Errorf("fulfillment: %s: %w: %w", what, ErrOutcomeUnknown, err)
}

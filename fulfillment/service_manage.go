package fulfillment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Retry resumes an errored record (FulfillmentErrored → FulfillmentStarted)
// from the step that failed, as a new attempt with new idempotency keys,
// and runs it as far as it goes now (like Sync). A record resting at
// StepManagedElsewhere is taken over the same way, from the enroll: if
// Okta still lists the other tool's enrollment, it rests there again.
//
//   - Failed at Initiating: the order is sent to Okta again.
//   - Failed at Activating: the shipped key's responses are activated again
//     (no second key is shipped).
//   - Failed at enrolling or at the shipment (an invalid profile, an
//     undeliverable address, a lost shipment, ...): the user's profile is
//     validated again (still invalid: the *ValidationError is returned and the
//     record stays errored), the old shipment is cancelled if Yubico still
//     allows it (state ≤ 9), the record's enrollments are deleted at Okta
//     (never one the Service did not create), and the user is enrolled
//     again and a new shipment created.
//
// A record that is not errored gets an error wrapping ErrInvalidTransition;
// a record leased by another instance, ErrBusy; a Service without
// Config.Yubico, ErrInvalidConfig.
//
// userID is the user's Okta ID (Record.UserID, "00u…"), not a login,
// which finds no record: see "User IDs" in the package documentation,
// which also says how an ID no store can key is refused ([ErrInvalidID]).
func (s *Service) Retry(ctx context.Context, userID string) (Record, error) {
	rec, ctx, unlock, err := s.take(ctx, "retry", userID)
	if err != nil {
		return rec, err
	}
	defer unlock()
	started := rec.Status // managed elsewhere: the key never left FulfillmentStarted
	if rec.Step != StepManagedElsewhere {
		if started, err = rec.Status.Next(EventRetry); err != nil {
			return rec, fmt.Errorf("fulfillment: retry %q: %w", userID, err)
		}
	}
	p := &pass{} // the profile read here serves the enroll and the shipment too
	if rec.Step == StepMarkingError {
		if rec, err = s.advance(ctx, p, rec); err != nil { // the mark-error step, resumed
			return rec, err
		}
	}
	reason := fmt.Sprintf("retry from %s after: %s", cmpOr(rec.FailedStep, rec.Step), rec.Reason)
	if at := retryStep(rec.FailedStep); at != "" {
		rec.Step = at
	} else {
		var note string
		if rec, note, err = s.restart(ctx, p, rec); err != nil {
			return rec, err
		}
		if note != "" {
			reason += "; " + note
		}
	}
	rec.Status, rec.FailedStep, rec.Reason, rec.Keys, rec.Lease = started, "", "", nil, Lease{}
	rec.NextCheck = time.Time{} // a resumed poll is due at once
	rec.Attempts++
	if rec, err = s.save(ctx, rec, Change{Reason: reason}); err != nil {
		return rec, err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: retry",
		slog.String("user", userID), slog.String("step", string(rec.Step)), slog.Int("attempt", rec.Attempts))
	return s.run(ctx, p, rec)
}

// Delete ends a user's key: the Yubico shipment is cancelled while it is
// still cancellable (state ≤ 9; later the key ships but its credential is
// gone), and the enrollments the Service created are permanently deleted
// at Okta (with the pending ones an enroll of its own whose answer was
// lost created). An enrollment it did not create (another tool's, such as
// the Okta Workflows flowpack's) is left alone and named in the reason.
// The record ends Deleted, with its history. Deleting a Deleted record
// does nothing; a missing record is an
// error wrapping ErrRecordNotFound; a record leased by another instance,
// ErrBusy. A Service without Config.Yubico deletes only keys with no
// shipment (none created, none being created); for the others it returns
// an error wrapping ErrInvalidConfig and changes nothing.
//
// userID is the user's Okta ID (Record.UserID, "00u…"), not a login,
// which finds no record: see "User IDs" in the package documentation,
// which also says how an ID no store can key is refused ([ErrInvalidID]).
func (s *Service) Delete(ctx context.Context, userID string) error {
	ctx, unlock := s.lock(ctx, userID)
	defer unlock()
	rec, err := s.get(ctx, "delete", userID)
	if err != nil {
		return err
	}
	if rec.Status == Deleted {
		return nil
	}
	if s.leased(rec) {
		return fmt.Errorf("fulfillment: delete %q: %w", userID, ErrBusy)
	}
	if rec.ShipmentID != "" || rec.Keys[StepShipmentCreating] != "" {
		if err := s.needYubico("delete a key with a Yubico shipment"); err != nil {
			return fmt.Errorf("fulfillment: delete %q: %w", userID, err)
		}
	}
	ctx, cancel := s.fenced(ctx)
	defer cancel()
	if rec.Step != StepDeleting {
		if _, err := rec.Status.Next(EventDelete); err != nil {
			return fmt.Errorf("fulfillment: delete %q: %w", userID, err)
		}
		if rec, _, err = s.intend(ctx, rec, StepDeleting); err != nil {
			return err
		}
	}
	_, err = s.finishDelete(ctx, nil, rec)
	return err
}

// ResendPIN asks Okta to email the PIN again. It is allowed only while the
// key is Shipped (an error wrapping ErrInvalidTransition otherwise: after
// the first sign-in the PIN is gone). If Okta refuses because the user has
// signed in meanwhile, the record becomes Active and the error is returned.
// It is the send-PIN step: its intent and result are in the record's
// history; on an unknown outcome (transport error, 5xx) the intent stays
// recorded and Sync sends the PIN again. A record leased by another
// instance gets an error wrapping ErrBusy.
//
// userID is the user's Okta ID (Record.UserID, "00u…"), not a login,
// which finds no record: see "User IDs" in the package documentation,
// which also says how an ID no store can key is refused ([ErrInvalidID]).
func (s *Service) ResendPIN(ctx context.Context, userID string) error {
	ctx, unlock := s.lock(ctx, userID)
	defer unlock()
	rec, err := s.get(ctx, "resend PIN", userID)
	if err != nil {
		return err
	}
	if _, err := rec.Status.Next(EventResendPIN); err != nil {
		return fmt.Errorf("fulfillment: resend PIN to %q: %w", userID, err)
	}
	if s.leased(rec) {
		return fmt.Errorf("fulfillment: resend PIN to %q: %w", userID, ErrBusy)
	}
	if len(rec.Enrollments) == 0 {
		return fmt.Errorf("fulfillment: resend PIN to %q: no enrollment recorded", userID)
	}
	// The send-PIN step, with its intent and result recorded.
	rec, err = s.sendPIN(ctx, &pass{resendPIN: true}, rec)
	if err != nil {
		if es, lerr := s.okta.ListEnrollments(ctx, userID); lerr == nil {
			if _, rerr := s.reconcile(ctx, rec, es); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
		return fmt.Errorf("fulfillment: resend PIN to %q: %w", userID, err)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: PIN resent", slog.String("user", userID))
	return nil
}

// Status returns the user's record from the store, reconciled with Okta's
// enrollment list: a Shipped key whose PIN Okta has wiped becomes Active,
// and a Shipped or Active key whose enrollments Okta no longer has becomes
// Deleted (these changes are saved). A user without a record gets an error
// wrapping ErrRecordNotFound.
//
// userID is the user's Okta ID (Record.UserID, "00u…"), not a login,
// which finds no record: see "User IDs" in the package documentation,
// which also says how an ID no store can key is refused ([ErrInvalidID]).
func (s *Service) Status(ctx context.Context, userID string) (Record, error) {
	ctx, unlock := s.lock(ctx, userID)
	defer unlock()
	rec, err := s.get(ctx, "status", userID)
	if err != nil {
		return Record{}, err
	}
	if len(rec.Enrollments) == 0 || rec.Status == Deleted || rec.Step.Intent() {
		return rec, nil
	}
	es, err := s.okta.ListEnrollments(ctx, userID)
	if err != nil {
		return rec, fmt.Errorf("fulfillment: status of %q: list enrollments: %w", userID, err)
	}
	return s.reconcile(ctx, rec, es)
}

// Check moves the user's key as far as it can go now, as a Sync pass does,
// and also makes the check that a key waiting on its schedule
// ([Record.NextCheck]: a shipment not yet shipped, a shipped key awaiting
// its first sign-in) would make only when due: for a person who knows
// something changed ("my key arrived"). It returns the record as it
// stands. A missing record gets an error wrapping ErrRecordNotFound; a
// record leased by another instance, ErrBusy; a Service without
// Config.Yubico, ErrInvalidConfig.
//
// userID is the user's Okta ID (Record.UserID, "00u…"), not a login,
// which finds no record: see "User IDs" in the package documentation,
// which also says how an ID no store can key is refused ([ErrInvalidID]).
func (s *Service) Check(ctx context.Context, userID string) (Record, error) {
	rec, ctx, unlock, err := s.take(ctx, "check", userID)
	if err != nil {
		return rec, err
	}
	defer unlock()
	return s.run(ctx, &pass{now: true}, rec)
}

// get reads userID's record for op (the verb of its errors: "status",
// "retry", ...). A missing record's error wraps ErrRecordNotFound, with a
// hint when userID looks like a login (these calls take the Okta user
// ID); the store's other errors are wrapped with op and the user.
func (s *Service) get(ctx context.Context, op, userID string) (Record, error) {
	rec, err := s.store.Get(ctx, userID)
	switch {
	case err == nil:
		return rec, nil
	case errors.Is(err, ErrRecordNotFound) && strings.Contains(userID, "@"):
		return Record{}, fmt.Errorf("%w (a login? %s takes the user's Okta ID, Record.UserID: 00u…)", err, op)
	case errors.Is(err, ErrRecordNotFound):
		return Record{}, err
	}
	return Record{}, fmt.Errorf("fulfillment: %s %q: %w", op, truncateID(userID), err)
}

// take prepares verb op (retry, check) on the user's record: it needs
// Config.Yubico, locks the user (the caller does its work under the
// returned context, and calls unlock when err is nil) and reads the
// record, which must not be leased by another instance.
func (s *Service) take(ctx context.Context, op, userID string) (_ Record, _ context.Context, unlock func(), err error) {
	if err := s.needYubico(op); err != nil {
		return Record{}, ctx, nil, err
	}
	locked, unlock := s.lock(ctx, userID)
	rec, err := s.get(locked, op, userID)
	if err != nil {
		unlock()
		return Record{}, ctx, nil, err
	}
	if s.leased(rec) {
		unlock()
		return rec, ctx, nil, fmt.Errorf("fulfillment: %s %q: %w", op, userID, ErrBusy)
	}
	return rec, locked, unlock, nil
}

package fulfillment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/yubico"
)

// Run calls [Service.Sync] at once and then every Config.PollInterval (on
// the ticker from Config.NewTicker), and also soon after the event handler
// recorded a new order, until ctx is done; then it returns ctx's error. A
// failing pass is logged and does not stop Run. A Service without
// Config.Yubico gets an error wrapping ErrInvalidConfig at once.
func (s *Service) Run(ctx context.Context) error {
	if err := s.needYubico("run"); err != nil {
		return err
	}
	t := s.newTicker(s.pollInterval)
	defer t.Stop()
	for {
		if _, err := s.Sync(ctx); err != nil && ctx.Err() == nil {
			s.log.LogAttrs(ctx, slog.LevelError, "fulfillment: sync pass failed", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C():
		case <-s.kick:
		}
	}
}

// Retry resumes an errored record (FulfillmentErrored → FulfillmentStarted)
// from the step that failed, as a new attempt with new idempotency keys,
// and runs it as far as it goes now (like Sync).
//
//   - Failed at Initiating: the order is sent to Okta again.
//   - Failed at Activating: the shipped key's responses are activated again
//     (no second key is shipped).
//   - Failed at enrolling or at the shipment (an invalid profile, an
//     undeliverable address, a lost shipment, ...): the user's profile is
//     validated again (still invalid: the *ValidationError is returned and the
//     record stays errored), the old shipment is cancelled if Yubico still
//     allows it (state ≤ 9), the errored enrollments are deleted at Okta,
//     and the user is enrolled again and a new shipment created.
//
// A record that is not errored gets an error wrapping ErrInvalidTransition;
// a record leased by another instance, ErrBusy; a Service without
// Config.Yubico, ErrInvalidConfig.
func (s *Service) Retry(ctx context.Context, userID string) (Record, error) {
	if err := s.needYubico("retry"); err != nil {
		return Record{}, err
	}
	unlock := s.lock(userID)
	defer unlock()
	rec, err := s.store.Get(ctx, userID)
	if err != nil {
		return Record{}, err
	}
	if s.leased(rec) {
		return rec, fmt.Errorf("fulfillment: retry %q: %w", userID, ErrBusy)
	}
	started, err := rec.Status.Next(EventRetry)
	if err != nil {
		return rec, fmt.Errorf("fulfillment: retry %q: %w", userID, err)
	}
	if rec.Step == StepMarkingError {
		if rec, err = s.markErrors(ctx, rec); err != nil {
			return rec, err
		}
	}
	reason := fmt.Sprintf("retry from %s after: %s", rec.FailedStep, rec.Reason)
	switch rec.FailedStep {
	case StepInitiating:
		rec.Step = StepInitiating
	case StepActivating:
		// The key is programmed and shipped; only its activation failed.
		// Activate it again (Okta accepts errored enrollments) instead of
		// shipping a second key.
		rec.Step = StepShipmentCreated
	default:
		u, err := s.okta.GetUser(ctx, userID)
		if err != nil {
			return rec, fmt.Errorf("fulfillment: retry %q: get user: %w", userID, err)
		}
		if _, err := s.shippingInfo(u); err != nil {
			return rec, err
		}
		if err := s.cancelShipment(ctx, &rec); err != nil {
			return rec, err
		}
		if err := s.deleteStrays(ctx, rec, true); err != nil {
			return rec, err
		}
		rec.Enrollments, rec.PINRequest, rec.TransportKeyID, rec.Shipping = nil, "", "", ShippingInfo{}
		rec.ShipmentID, rec.ShipmentState, rec.Serial, rec.Firmware = "", 0, "", ""
		rec.Step = StepInitiated
	}
	rec.Status, rec.FailedStep, rec.Reason, rec.Keys, rec.Lease = started, "", "", nil, Lease{}
	rec.Attempts++
	if rec, err = s.save(ctx, rec, Change{Reason: reason}); err != nil {
		return rec, err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: retry",
		slog.String("user", userID), slog.String("step", string(rec.Step)), slog.Int("attempt", rec.Attempts))
	return s.run(ctx, rec)
}

// cancelShipment cancels rec's shipment at Yubico if it exists and is still
// cancellable (state ≤ 9), and notes the outcome in rec.Reason when it
// cannot be cancelled.
func (s *Service) cancelShipment(ctx context.Context, rec *Record) error {
	if rec.ShipmentID == "" {
		return nil
	}
	sh, err := s.yubico.FPRShipment(ctx, rec.ShipmentID)
	if errors.Is(err, yubico.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fulfillment: read shipment %s of %q: %w", rec.ShipmentID, rec.UserID, err)
	}
	rec.ShipmentState = int(sh.State.ID)
	if !YubicoStateEditable(int(sh.State.ID)) {
		rec.Reason = fmt.Sprintf("Yubico shipment %s is past cancelling (state %d); its credentials are deleted", rec.ShipmentID, sh.State.ID)
		return nil
	}
	err = s.yubico.CancelFPRShipment(ctx, rec.ShipmentID)
	switch {
	case errors.Is(err, yubico.ErrNotFound):
	case errors.Is(err, yubico.ErrConflict):
		rec.Reason = fmt.Sprintf("Yubico shipment %s could no longer be cancelled; its credentials are deleted", rec.ShipmentID)
	case err != nil:
		return unknown("cancel shipment "+rec.ShipmentID, err)
	default:
		s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: shipment cancelled",
			slog.String("user", rec.UserID), slog.String("shipment", rec.ShipmentID))
	}
	return nil
}

// Delete ends a user's key: the Yubico shipment is cancelled while it is
// still cancellable (state ≤ 9; later the key ships but its credential is
// gone), and the enrollments are permanently deleted at Okta (with any
// pending ones the record does not know). The record ends Deleted, with its
// history. Deleting a Deleted record does nothing; a missing record is an
// error wrapping ErrRecordNotFound; a record leased by another instance,
// ErrBusy. A Service without Config.Yubico deletes only keys with no
// shipment (none created, none being created); for the others it returns
// an error wrapping ErrInvalidConfig and changes nothing.
func (s *Service) Delete(ctx context.Context, userID string) error {
	unlock := s.lock(userID)
	defer unlock()
	rec, err := s.store.Get(ctx, userID)
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
	if rec.Step != StepDeleting {
		if _, err := rec.Status.Next(EventDelete); err != nil {
			return fmt.Errorf("fulfillment: delete %q: %w", userID, err)
		}
		if rec, _, err = s.intend(ctx, rec, StepDeleting); err != nil {
			return err
		}
	}
	_, err = s.finishDelete(ctx, rec)
	return err
}

// finishDelete does the remote part of a delete and records Deleted.
func (s *Service) finishDelete(ctx context.Context, rec Record) (Record, error) {
	rec.Reason = "deleted"
	if err := s.findLostShipment(ctx, &rec); err != nil {
		return rec, err
	}
	if err := s.cancelShipment(ctx, &rec); err != nil {
		return rec, err
	}
	if err := s.deleteStrays(ctx, rec, true); err != nil {
		return rec, err
	}
	for i := range rec.Enrollments {
		rec.Enrollments[i].Status = "DELETED"
	}
	st, err := rec.Status.Next(EventDelete)
	if err != nil {
		return rec, err
	}
	rec.Status, rec.PINRequest, rec.Shipping = st, "", ShippingInfo{}
	return s.reach(ctx, rec, StepDeleted, rec.Reason)
}

// ResendPIN asks Okta to email the PIN again. It is allowed only while the
// key is Shipped (an error wrapping ErrInvalidTransition otherwise: after
// the first sign-in the PIN is gone). If Okta refuses because the user has
// signed in meanwhile, the record becomes Active and the error is returned.
func (s *Service) ResendPIN(ctx context.Context, userID string) error {
	unlock := s.lock(userID)
	defer unlock()
	rec, err := s.store.Get(ctx, userID)
	if err != nil {
		return err
	}
	if _, err := rec.Status.Next(EventResendPIN); err != nil {
		return fmt.Errorf("fulfillment: resend PIN to %q: %w", userID, err)
	}
	if len(rec.Enrollments) == 0 {
		return fmt.Errorf("fulfillment: resend PIN to %q: no enrollment recorded", userID)
	}
	err = s.okta.SendPIN(ctx, okta.SendPINRequest{UserID: userID, FulfillmentProvider: ProviderYubico, AuthenticatorEnrollmentID: rec.Enrollments[0].ID})
	if err != nil {
		if es, lerr := s.okta.ListEnrollments(ctx, userID); lerr == nil {
			if _, rerr := s.reconcile(ctx, rec, es); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
		return fmt.Errorf("fulfillment: resend PIN to %q: %w", userID, err)
	}
	rec.Step, rec.Lease = StepPINSent, Lease{}
	_, err = s.save(ctx, rec, Change{Reason: "PIN resent"})
	s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: PIN resent", slog.String("user", userID))
	return err
}

// Status returns the user's record from the store, reconciled with Okta's
// enrollment list: a Shipped key whose PIN Okta has wiped becomes Active,
// and a Shipped or Active key whose enrollments Okta no longer has becomes
// Deleted (these changes are saved). A user without a record gets an error
// wrapping ErrRecordNotFound.
func (s *Service) Status(ctx context.Context, userID string) (Record, error) {
	unlock := s.lock(userID)
	defer unlock()
	rec, err := s.store.Get(ctx, userID)
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

// findLostShipment learns the ID of a shipment whose create had an unknown
// outcome (the record holds the intent's key and body but no shipment ID),
// so that Delete can cancel it: with Config.IdempotentShipments, repeating
// the create with the same key returns the shipment Yubico made (or makes
// it now, to be cancelled at once). Without, nothing can be learnt safely.
func (s *Service) findLostShipment(ctx context.Context, rec *Record) error {
	key := rec.Keys[StepShipmentCreating]
	if rec.ShipmentID != "" || key == "" || !s.idempotentShipments || rec.PINRequest == "" || rec.Shipping == (ShippingInfo{}) {
		return nil
	}
	req, err := fprRequest(*rec)
	if err != nil {
		return nil
	}
	sh, err := s.createFPRShipment(ctx, req, key)
	if err != nil {
		if definite(err) {
			return nil // Yubico refused the body: no shipment was made with it
		}
		return unknown("look up the shipment of "+rec.UserID, err)
	}
	rec.ShipmentID, rec.ShipmentState = sh.ID, int(sh.State.ID)
	s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: shipment of an interrupted create found",
		slog.String("user", rec.UserID), slog.String("shipment", sh.ID))
	return nil
}

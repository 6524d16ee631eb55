package fulfillment

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/yubico"
)

// syncPage is how many records Sync reads from the store at a time.
const syncPage = 500

// maxStepsPerPass bounds the steps one record makes in one pass.
const maxStepsPerPass = 16

// SyncReport summarises one [Service.Sync] pass.
type SyncReport struct {
	// Checked is the number of in-flight records looked at.
	Checked int
	// Advanced is the number of records that moved at least one step.
	Advanced int
	// Shipped, Active and Errored count the records that reached these
	// statuses during the pass.
	Shipped, Active, Errored int
	// Busy counts records skipped because another instance holds their
	// lease.
	Busy int
	// Failures lists the records whose step failed during the pass (with
	// the error); they were recorded as errored or will be resumed.
	Failures []Result
}

// Sync makes one pass over every record in flight (FulfillmentStarted,
// FulfillmentErrored with a pending mark-error, Shipped) and moves each as
// far as it can go now: enroll, create the shipment, poll it, activate,
// send the PIN, notice the first sign-in, resume interrupted steps (see
// [Service]). Records are worked on Config.Concurrency at a time. A failing
// record does not stop the pass: it is listed in the report. The error is
// non-nil only if the store could not be read or ctx ended, or wraps
// ErrInvalidConfig for a Service without Config.Yubico.
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
	after := ""
	for {
		recs, err := s.store.List(gctx, Query{InFlight: true, After: after, Limit: syncPage})
		if err != nil {
			g.Wait()
			return rep, fmt.Errorf("fulfillment: sync: %w", err)
		}
		for _, r := range recs {
			if r.Step == StepErrored {
				continue // waiting for Retry or Delete
			}
			userID := r.UserID
			g.Go(func() error {
				before, after, busy, err := s.syncUser(gctx, userID)
				mu.Lock()
				defer mu.Unlock()
				rep.Checked++
				switch {
				case busy:
					rep.Busy++
					return nil
				case after.Version != before.Version:
					rep.Advanced++
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
				if err != nil {
					rep.Failures = append(rep.Failures, Result{UserID: userID, Login: after.Login, Status: after.Status, Err: err})
				}
				return nil
			})
		}
		if len(recs) < syncPage {
			break
		}
		after = recs[len(recs)-1].UserID
	}
	if err := g.Wait(); err != nil {
		return rep, err
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: sync pass",
		slog.Int("checked", rep.Checked), slog.Int("advanced", rep.Advanced),
		slog.Int("shipped", rep.Shipped), slog.Int("active", rep.Active),
		slog.Int("errored", rep.Errored), slog.Int("failures", len(rep.Failures)))
	return rep, nil
}

// syncUser advances one user's record as far as it goes.
func (s *Service) syncUser(ctx context.Context, userID string) (before, after Record, busy bool, err error) {
	unlock := s.lock(userID)
	defer unlock()
	rec, err := s.store.Get(ctx, userID)
	if err != nil {
		return rec, rec, false, err
	}
	if s.leased(rec) {
		return rec, rec, true, nil
	}
	after, err = s.run(ctx, rec)
	return rec, after, false, err
}

// run advances rec step by step until it waits for the outside world, ends,
// or fails. The caller holds the user's lock.
func (s *Service) run(ctx context.Context, rec Record) (Record, error) {
	for range maxStepsPerPass {
		if err := ctx.Err(); err != nil {
			return rec, err
		}
		v := rec.Version
		next, err := s.advance(ctx, rec)
		if err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "fulfillment: step failed",
				slog.String("user", rec.UserID), slog.String("step", string(next.Step)),
				slog.String("status", string(next.Status)), slog.String("error", err.Error()))
			return next, err
		}
		rec = next
		if rec.Version == v {
			return rec, nil
		}
	}
	return rec, nil
}

// advance makes the one step that follows rec.Step.
func (s *Service) advance(ctx context.Context, rec Record) (Record, error) {
	switch rec.Step {
	case StepInitiating:
		rec, _, err := s.intend(ctx, rec, StepInitiating)
		if err != nil {
			return rec, err
		}
		return s.initiate(ctx, rec)
	case StepInitiated:
		return s.enroll(ctx, rec, false)
	case StepEnrolling:
		return s.enroll(ctx, rec, true)
	case StepEnrolled:
		return s.createShipment(ctx, rec, false)
	case StepShipmentCreating:
		return s.createShipment(ctx, rec, true)
	case StepShipmentCreated:
		return s.poll(ctx, rec)
	case StepActivating:
		return s.resumeActivate(ctx, rec)
	case StepActivated, StepPINSending:
		return s.sendPIN(ctx, rec)
	case StepPINSent:
		return s.checkSignIn(ctx, rec)
	case StepMarkingError:
		return s.markErrors(ctx, rec)
	case StepDeleting:
		return s.finishDelete(ctx, rec)
	}
	return rec, nil // Errored, Active, Deleted: nothing to do
}

// fail records that step failed for reason: FulfillmentErrored, with every
// enrollment marked errored at Okta first.
func (s *Service) fail(ctx context.Context, rec Record, failed Step, reason string) (Record, error) {
	st, err := rec.Status.Next(EventFail)
	if err != nil {
		return rec, err
	}
	rec.Status, rec.FailedStep, rec.Reason = st, failed, reason
	s.log.LogAttrs(ctx, slog.LevelWarn, "fulfillment: errored",
		slog.String("user", rec.UserID), slog.String("failedStep", string(failed)), slog.String("reason", reason))
	if len(rec.Enrollments) == 0 {
		return s.reach(ctx, rec, StepErrored, reason)
	}
	rec, _, err = s.intend(ctx, rec, StepMarkingError)
	if err != nil {
		return rec, err
	}
	return s.markErrors(ctx, rec)
}

// markErrors marks every enrollment of rec errored at Okta and records
// Errored.
func (s *Service) markErrors(ctx context.Context, rec Record) (Record, error) {
	for i, e := range rec.Enrollments {
		err := s.okta.MarkError(ctx, rec.UserID, e.ID)
		switch {
		case errors.Is(err, okta.ErrNotFound):
			rec.Enrollments[i].Status = "DELETED"
		case err != nil:
			return rec, unknown("mark enrollment "+e.ID+" errored", err)
		default:
			rec.Enrollments[i].Status = string(okta.StatusFulfillmentErrored)
		}
	}
	return s.reach(ctx, rec, StepErrored, rec.Reason)
}

// enroll validates the profile and enrolls the user at Okta. With recover,
// a previous enroll may have happened unrecorded: the user's pending
// enrollments the record does not know are deleted first.
func (s *Service) enroll(ctx context.Context, rec Record, recover bool) (Record, error) {
	if recover {
		if err := s.deleteStrays(ctx, rec, false); err != nil {
			return rec, err
		}
	}
	u, err := s.okta.GetUser(ctx, rec.UserID)
	if err != nil {
		if definite(err) {
			return s.fail(ctx, rec, StepEnrolling, fmt.Sprintf("get user: %v", err))
		}
		return rec, unknown("get user "+rec.UserID, err)
	}
	if _, err := s.shippingInfo(u); err != nil {
		return s.fail(ctx, rec, StepEnrolling, err.Error())
	}
	transport, _, err := s.yubicoKeys(ctx)
	if err != nil {
		return rec, err
	}
	i, err := s.randIntn(len(transport))
	if err != nil {
		return rec, err
	}
	tk := transport[i]
	rec, _, err = s.intend(ctx, rec, StepEnrolling)
	if err != nil {
		return rec, err
	}
	resp, err := s.okta.Enroll(ctx, okta.EnrollRequest{UserID: rec.UserID, FulfillmentProvider: ProviderYubico, RPIDs: s.rpIDs, TransportKey: tk})
	if err != nil {
		if definite(err) {
			// Okta refuses an enroll while the user has a key in
			// fulfillment. A pending enrollment the record does not know
			// is ours: an earlier enroll that timed out on our side but
			// was still being processed when the strays were listed. Not
			// a failure: the next pass deletes it and enrolls again.
			if stray, lerr := s.hasStray(ctx, rec); lerr == nil && stray {
				return rec, fmt.Errorf("fulfillment: enroll %s: %w: an earlier enroll took effect after its answer was lost: %w",
					rec.UserID, ErrOutcomeUnknown, err)
			}
			return s.fail(ctx, rec, StepEnrolling, err.Error())
		}
		return rec, unknown("enroll "+rec.UserID, err)
	}
	rec.Enrollments = make([]Enrollment, 0, len(resp.CredRequests))
	for _, cr := range resp.CredRequests {
		rec.Enrollments = append(rec.Enrollments, Enrollment{ID: cr.AuthenticatorEnrollmentID, KeyID: cr.KeyID,
			CredRequest: cr.CredRequestJWE, Status: string(okta.StatusFulfillmentPending)})
	}
	rec.PINRequest = resp.PINRequestJWE
	rec.TransportKeyID = tk.Kid
	if problem := checkEnrollResponse(resp, len(s.rpIDs)); problem != "" {
		// Keep the enrollments that have an ID, so they are marked errored
		// and deleted on Retry.
		kept := rec.Enrollments[:0]
		for _, e := range rec.Enrollments {
			if e.ID != "" {
				kept = append(kept, e)
			}
		}
		rec.Enrollments = kept
		return s.fail(ctx, rec, StepEnrolling, "okta: malformed enroll response: "+problem)
	}
	return s.reach(ctx, rec, StepEnrolled, "")
}

// checkEnrollResponse returns what is wrong with Okta's enroll response, or
// "".
func checkEnrollResponse(resp okta.EnrollResponse, rpIDs int) string {
	if resp.PINRequestJWE == "" {
		return "pinRequestJwe is empty"
	}
	if len(resp.CredRequests) == 0 || len(resp.CredRequests) > rpIDs {
		return fmt.Sprintf("%d credential requests for %d RP IDs", len(resp.CredRequests), rpIDs)
	}
	seen := map[string]bool{}
	for i, cr := range resp.CredRequests {
		switch {
		case cr.AuthenticatorEnrollmentID == "":
			return fmt.Sprintf("credRequests[%d].authenticatorEnrollmentId is empty", i)
		case cr.CredRequestJWE == "":
			return fmt.Sprintf("credRequests[%d].credRequestJwe is empty", i)
		case seen[cr.AuthenticatorEnrollmentID]:
			return fmt.Sprintf("credRequests[%d].authenticatorEnrollmentId %q is repeated", i, cr.AuthenticatorEnrollmentID)
		}
		seen[cr.AuthenticatorEnrollmentID] = true
	}
	return ""
}

// hasStray reports whether Okta lists a FULFILLMENT_PENDING enrollment of
// the user that rec does not know.
func (s *Service) hasStray(ctx context.Context, rec Record) (bool, error) {
	es, err := s.okta.ListEnrollments(ctx, rec.UserID)
	if err != nil {
		return false, err
	}
	known := map[string]bool{}
	for _, e := range rec.Enrollments {
		known[e.ID] = true
	}
	for _, e := range es {
		if !known[e.ID] && e.Status == okta.StatusFulfillmentPending {
			return true, nil
		}
	}
	return false, nil
}

// deleteStrays deletes the user's enrollments at Okta that are not ACTIVE
// and that rec does not know (or, with all, every enrollment rec knows as
// well): leftovers of an enroll whose response was lost.
func (s *Service) deleteStrays(ctx context.Context, rec Record, all bool) error {
	es, err := s.okta.ListEnrollments(ctx, rec.UserID)
	if err != nil {
		return unknown("list enrollments of "+rec.UserID, err)
	}
	known := map[string]bool{}
	for _, e := range rec.Enrollments {
		known[e.ID] = true
	}
	for _, e := range es {
		mine := known[e.ID]
		if (mine && !all) || (!mine && e.Status == okta.StatusActive) {
			continue
		}
		if err := s.okta.DeleteEnrollment(ctx, rec.UserID, e.ID); err != nil && !errors.Is(err, okta.ErrNotFound) {
			return unknown("delete enrollment "+e.ID, err)
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: enrollment deleted",
			slog.String("user", rec.UserID), slog.String("enrollment", e.ID), slog.String("oktaStatus", string(e.Status)))
	}
	return nil
}

// createShipment creates the FIDO Pre-reg shipment (resume: again, with the
// recorded body and idempotency key).
func (s *Service) createShipment(ctx context.Context, rec Record, resume bool) (Record, error) {
	if !resume || rec.Shipping == (ShippingInfo{}) {
		u, err := s.okta.GetUser(ctx, rec.UserID)
		if err != nil {
			if definite(err) {
				return s.fail(ctx, rec, StepShipmentCreating, fmt.Sprintf("get user: %v", err))
			}
			return rec, unknown("get user "+rec.UserID, err)
		}
		info, err := s.shippingInfo(u)
		if err != nil {
			return s.fail(ctx, rec, StepShipmentCreating, err.Error())
		}
		rec.Shipping = info
	}
	req, err := fprRequest(rec)
	if err != nil {
		return s.fail(ctx, rec, StepShipmentCreating, err.Error())
	}
	if resume && !s.idempotentShipments {
		return s.fail(ctx, rec, StepShipmentCreating, "the outcome of the Yubico shipment creation is unknown and the "+
			"client cannot repeat it safely; check the Yubico console for a shipment to "+rec.Shipping.RecipientEmail()+
			", cancel it if it exists, then Retry")
	}
	rec, key, err := s.intend(ctx, rec, StepShipmentCreating)
	if err != nil {
		return rec, err
	}
	sh, err := s.createFPRShipment(ctx, req, key)
	if err != nil {
		if definite(err) {
			return s.fail(ctx, rec, StepShipmentCreating, err.Error())
		}
		return rec, unknown("create Yubico shipment for "+rec.UserID, err)
	}
	rec.ShipmentID, rec.ShipmentState = sh.ID, int(sh.State.ID)
	rec.PINRequest, rec.Shipping = "", ShippingInfo{}
	for i := range rec.Enrollments {
		rec.Enrollments[i].CredRequest = ""
	}
	return s.reach(ctx, rec, StepShipmentCreated, fmt.Sprintf("Yubico shipment %s, state %d", sh.ID, sh.State.ID))
}

// fprRequest builds the FIDO Pre-reg shipment request of rec: its first item,
// the recorded recipient and address, the PIN request and one credential
// request per enrollment, in the recorded order.
func fprRequest(rec Record) (yubico.FPRShipmentRequest, error) {
	if len(rec.Items) != 1 {
		return yubico.FPRShipmentRequest{}, fmt.Errorf("fulfillment: record of %q has %d items, want 1", rec.UserID, len(rec.Items))
	}
	it := rec.Items[0]
	product, err := ParseProductID(it.ProductID)
	if err != nil {
		return yubico.FPRShipmentRequest{}, err
	}
	inventory, err := ParseProductID(it.InventoryProductID)
	if err != nil {
		return yubico.FPRShipmentRequest{}, err
	}
	if rec.PINRequest == "" || len(rec.Enrollments) == 0 {
		return yubico.FPRShipmentRequest{}, fmt.Errorf("fulfillment: record of %q has no sealed requests to ship", rec.UserID)
	}
	creds := make([]string, len(rec.Enrollments))
	for i, e := range rec.Enrollments {
		if e.CredRequest == "" {
			return yubico.FPRShipmentRequest{}, fmt.Errorf("fulfillment: record of %q: enrollment %s has no credential request", rec.UserID, e.ID)
		}
		creds[i] = e.CredRequest
	}
	sh := rec.Shipping
	to := yubico.FPRRecipient{Company: sh.Company, Email: sh.RecipientEmail(), FirstName: sh.FirstName, LastName: sh.LastName, Telephone: sh.Phone}
	addr := yubico.Address{StreetLine1: sh.StreetLine1, StreetLine2: sh.StreetLine2, City: sh.City, Region: sh.Region,
		PostalCode: sh.PostalCode, CountryCode: sh.CountryCode}
	return yubico.NewFPRShipmentRequest(to, addr, product, inventory, it.CustomizationID, rec.PINRequest, creds), nil
}

// poll reads the shipment and acts on its state.
func (s *Service) poll(ctx context.Context, rec Record) (Record, error) {
	sh, err := s.yubico.FPRShipment(ctx, rec.ShipmentID)
	if errors.Is(err, yubico.ErrNotFound) {
		return s.fail(ctx, rec, StepShipmentCreated, fmt.Sprintf("Yubico shipment %s no longer exists", rec.ShipmentID))
	}
	if err != nil {
		return rec, fmt.Errorf("fulfillment: poll shipment %s of %q: %w", rec.ShipmentID, rec.UserID, err)
	}
	state := int(sh.State.ID)
	implied, known := StatusFromYubicoState(state)
	switch {
	case known && implied == Shipped:
		rec.ShipmentState = state
		return s.activate(ctx, rec, sh)
	case known && implied == FulfillmentErrored:
		rec.ShipmentState = state
		msg := sh.State.Message
		if msg == "" {
			msg = sh.State.ID.String()
		}
		return s.fail(ctx, rec, StepShipmentCreated, fmt.Sprintf("Yubico shipment %s is in state %d: %s", rec.ShipmentID, state, msg))
	case state != rec.ShipmentState:
		rec.ShipmentState = state
		s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: shipment state",
			slog.String("user", rec.UserID), slog.String("shipment", rec.ShipmentID), slog.Int("state", state))
		return s.save(ctx, rec, Change{Reason: fmt.Sprintf("Yubico shipment %s, state %d", rec.ShipmentID, state)})
	}
	return rec, nil
}

// activate pairs the shipment's credential responses with the enrollments
// and activates them at Okta.
func (s *Service) activate(ctx context.Context, rec Record, sh yubico.FPRShipment) (Record, error) {
	pd, ok := sh.ProductData()
	if !ok {
		return rec, fmt.Errorf("fulfillment: shipment %s of %q is in state %d without product data", sh.ID, rec.UserID, sh.State.ID)
	}
	pairs, err := pairResponses(rec.Enrollments, pd.CredentialResponses)
	if err != nil {
		return s.fail(ctx, rec, StepActivating, err.Error())
	}
	_, signing, err := s.yubicoKeys(ctx)
	if err != nil {
		return rec, err
	}
	rec.Serial, rec.Firmware = pd.SerialNumber, pd.FirmwareVersion
	rec, _, err = s.intend(ctx, rec, StepActivating)
	if err != nil {
		return rec, err
	}
	_, err = s.okta.Activate(ctx, okta.ActivateRequest{
		UserID: rec.UserID, FulfillmentProvider: ProviderYubico, Serial: pd.SerialNumber, Version: pd.FirmwareVersion,
		PINResponseJWE: pd.PINResponse, CredResponses: pairs, SigningKeys: signing,
	})
	if err != nil {
		if definite(err) {
			// An earlier activation whose answer was lost may have been
			// processed late, after the resume found the enrollments
			// still pending: Okta then refuses this one because they are
			// ACTIVE. They are ours, so the activation happened.
			if all, lerr := s.allActive(ctx, rec); lerr == nil && all {
				return s.activated(ctx, rec)
			}
			return s.fail(ctx, rec, StepActivating, err.Error())
		}
		return rec, unknown("activate "+rec.UserID, err)
	}
	return s.activated(ctx, rec)
}

// activated records a successful activation: Shipped.
func (s *Service) activated(ctx context.Context, rec Record) (Record, error) {
	st, err := rec.Status.Next(EventShip)
	if err != nil {
		return rec, err
	}
	rec.Status = st
	for i := range rec.Enrollments {
		rec.Enrollments[i].Status = string(okta.StatusActive)
	}
	return s.reach(ctx, rec, StepActivated, fmt.Sprintf("key serial %s, firmware %s", rec.Serial, rec.Firmware))
}

// resumeActivate resumes an activation whose outcome is unknown: if Okta
// lists every enrollment ACTIVE it happened; otherwise it is sent again.
func (s *Service) resumeActivate(ctx context.Context, rec Record) (Record, error) {
	all, err := s.allActive(ctx, rec)
	if err != nil {
		return rec, err
	}
	if all {
		return s.activated(ctx, rec)
	}
	sh, err := s.yubico.FPRShipment(ctx, rec.ShipmentID)
	if err != nil {
		return rec, fmt.Errorf("fulfillment: poll shipment %s of %q: %w", rec.ShipmentID, rec.UserID, err)
	}
	return s.activate(ctx, rec, sh)
}

// allActive reports whether Okta lists every enrollment of rec ACTIVE:
// the activation happened.
func (s *Service) allActive(ctx context.Context, rec Record) (bool, error) {
	es, err := s.okta.ListEnrollments(ctx, rec.UserID)
	if err != nil {
		return false, unknown("list enrollments of "+rec.UserID, err)
	}
	status := map[string]okta.EnrollmentStatus{}
	for _, e := range es {
		status[e.ID] = e.Status
	}
	all := len(rec.Enrollments) > 0
	for _, e := range rec.Enrollments {
		all = all && status[e.ID] == okta.StatusActive
	}
	return all, nil
}

// sendPIN asks Okta to email the PIN.
func (s *Service) sendPIN(ctx context.Context, rec Record) (Record, error) {
	if len(rec.Enrollments) == 0 {
		return rec, fmt.Errorf("fulfillment: record of %q has no enrollment to send a PIN for", rec.UserID)
	}
	rec, _, err := s.intend(ctx, rec, StepPINSending)
	if err != nil {
		return rec, err
	}
	if err := s.okta.SendPIN(ctx, okta.SendPINRequest{UserID: rec.UserID, FulfillmentProvider: ProviderYubico,
		AuthenticatorEnrollmentID: rec.Enrollments[0].ID}); err != nil {
		if definite(err) {
			// The key is active; only the email failed. Stay Shipped at
			// Activated so the next pass (or ResendPIN) tries again.
			rec, serr := s.reach(ctx, rec, StepActivated, "send PIN failed: "+err.Error())
			return rec, errors.Join(fmt.Errorf("fulfillment: send PIN to %q: %w", rec.UserID, err), serr)
		}
		return rec, unknown("send PIN to "+rec.UserID, err)
	}
	return s.reach(ctx, rec, StepPINSent, "")
}

// checkSignIn looks at Okta's enrollments of a Shipped record: once the
// PIN is gone (presetPinAvailable false) the user signed in: Active. If
// Okta no longer has the enrollments, they were deleted there: Deleted.
func (s *Service) checkSignIn(ctx context.Context, rec Record) (Record, error) {
	es, err := s.okta.ListEnrollments(ctx, rec.UserID)
	if err != nil {
		return rec, unknown("list enrollments of "+rec.UserID, err)
	}
	return s.reconcile(ctx, rec, es)
}

// reconcile applies Okta's view of the enrollments to a Shipped or Active
// record.
func (s *Service) reconcile(ctx context.Context, rec Record, es []okta.Enrollment) (Record, error) {
	byID := map[string]okta.Enrollment{}
	for _, e := range es {
		byID[e.ID] = e
	}
	present, signedIn, changed := 0, false, false
	for i, mine := range rec.Enrollments {
		e, ok := byID[mine.ID]
		status := "DELETED"
		if ok {
			present++
			status = string(e.Status)
			if e.Status == okta.StatusActive && !e.Profile.PresetPINAvailable {
				signedIn = true
			}
		}
		if rec.Enrollments[i].Status != status {
			rec.Enrollments[i].Status, changed = status, true
		}
	}
	switch {
	case present == 0 && len(rec.Enrollments) > 0 && (rec.Status == Shipped || rec.Status == Active):
		st, err := rec.Status.Next(EventDelete)
		if err != nil {
			return rec, err
		}
		rec.Status, rec.Reason = st, "the enrollments were deleted at Okta"
		return s.reach(ctx, rec, StepDeleted, rec.Reason)
	case signedIn && rec.Status == Shipped:
		st, err := rec.Status.Next(EventSignIn)
		if err != nil {
			return rec, err
		}
		rec.Status = st
		return s.reach(ctx, rec, StepActive, "first sign-in; Okta wiped the PIN")
	case changed:
		return s.save(ctx, rec, Change{Reason: "enrollment statuses updated from Okta"})
	}
	return rec, nil
}

// pairResponses pairs Yubico's credential responses with the record's
// enrollments. Each response is a compact JWE sealed to the response key of
// one enrollment; its protected header's kid is that key's ID (Okta's
// keyId). If every enrollment has a distinct keyId, responses are paired by
// kid, whatever their order. Otherwise (keyIds missing or shared) they are
// paired by the order of the credential requests the Service sent, which
// Yubico keeps. A count mismatch or a kid that names none of the
// enrollments' keys is an error: activating with a wrong pairing would
// fail at Okta or, worse, bind a credential to the wrong enrollment.
func pairResponses(enrollments []Enrollment, responses []string) ([]okta.CredResponse, error) {
	if len(responses) != len(enrollments) {
		return nil, fmt.Errorf("fulfillment: Yubico returned %d credential responses for %d enrollments", len(responses), len(enrollments))
	}
	byKey := map[string]int{}
	distinct := true
	for i, e := range enrollments {
		if _, dup := byKey[e.KeyID]; dup || e.KeyID == "" {
			distinct = false
		}
		byKey[e.KeyID] = i
	}
	out := make([]okta.CredResponse, len(enrollments))
	if !distinct {
		for i, r := range responses {
			if r == "" {
				return nil, fmt.Errorf("fulfillment: credential response %d is empty", i)
			}
			out[i] = okta.CredResponse{AuthenticatorEnrollmentID: enrollments[i].ID, CredResponseJWE: r}
		}
		return out, nil
	}
	used := make([]bool, len(enrollments))
	for i, r := range responses {
		kid, err := jweKeyID(r)
		if err != nil {
			return nil, fmt.Errorf("fulfillment: credential response %d: %w", i, err)
		}
		j, ok := byKey[kid]
		if !ok {
			return nil, fmt.Errorf("fulfillment: credential response %d is sealed to key %q, which belongs to none of the user's enrollments", i, truncateValue(kid))
		}
		if used[j] {
			return nil, fmt.Errorf("fulfillment: credential responses for enrollment %s are repeated", enrollments[j].ID)
		}
		used[j] = true
		out[j] = okta.CredResponse{AuthenticatorEnrollmentID: enrollments[j].ID, CredResponseJWE: r}
	}
	return out, nil
}

// maxJWEHeader bounds the protected header of a JWE read by jweKeyID.
const maxJWEHeader = 4 << 10

// jweKeyID returns the kid of a compact JWE's protected header, without
// decrypting anything.
func jweKeyID(jwe string) (string, error) {
	parts := strings.Split(jwe, ".")
	if len(parts) != 5 {
		return "", fmt.Errorf("not a compact JWE (%d parts, want 5)", len(parts))
	}
	if len(parts[0]) > maxJWEHeader {
		return "", fmt.Errorf("JWE header longer than %d bytes", maxJWEHeader)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return "", fmt.Errorf("JWE header is not base64url: %w", err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return "", fmt.Errorf("JWE header is not JSON: %w", err)
	}
	if h.Kid == "" {
		return "", errors.New("JWE header has no kid")
	}
	return h.Kid, nil
}

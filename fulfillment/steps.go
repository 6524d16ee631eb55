package fulfillment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/yubico"
)

// The step machine. Like the transition table behind [Status.Next] decides
// every status move, the table below decides every step: which step moves
// a record waiting at each [Step], the intent it records before its remote
// call, the result it records after it, and what a resumed run does when
// the intent is recorded but the result is not (its recovery). The
// bookkeeping (intent, result, lease, outcome) is in journal.go; the
// public verbs (Order, Sync, Retry, Delete, ...) only enter the table.

// recovery is what a resumed run does with a step whose intent is recorded
// but whose result is not: the process died during the call, or the call's
// outcome was unknown (transport error, 5xx, rate limit).
type recovery int

const (
	// readOnly: the step records no intent (it only reads); it is simply
	// made again.
	readOnly recovery = iota
	// resend: the call is sent again, with the intent's idempotency key.
	// Repeating it is harmless: initiate-fulfillment-request creates
	// nothing at Okta (the duplicate event it causes is ignored because the
	// user already has a record in flight); send-pin sends one more email;
	// mark-error and delete count a 404 as done.
	resend
	// dropStraysThenResend: the call may have created enrollments whose
	// sealed requests we never saw. Okta cannot read one enrollment back,
	// and a request is needed to ship, so the user's enrollments in
	// fulfillment that the record does not know and that Okta created
	// while one of the attempt's enroll calls was in flight are deleted
	// (they are ours), then the call is sent again. Any other one is not
	// ours: the record rests at ManagedElsewhere and nothing is deleted.
	dropStraysThenResend
	// resendIfIdempotent: with Config.IdempotentShipments the call is sent
	// again with the recorded body and the same Idempotency-Key, so Yubico
	// returns what it already made instead of making a second; without it
	// the record is marked errored for a person to check (a second shipment
	// would ship a second key).
	resendIfIdempotent
	// checkThenResend: the step's happened check asks the remote side
	// whether the call took effect (for activate: Okta lists every
	// enrollment ACTIVE); if so its result is recorded, otherwise the call
	// is sent again (Okta verifies the same responses again).
	checkThenResend
)

// stepRule is one row of the step table.
type stepRule struct {
	name string
	// after is the result step a record waits at before this step; empty
	// for a step entered only by a verb or by another step (initiate by
	// Order, activate by poll, mark error by any failing step, delete by
	// Delete).
	after Step
	// intent is recorded before the remote call; empty for a read-only
	// step. A record found at intent is resumed by recovery.
	intent Step
	// done is the result step recorded after the call.
	done     Step
	recovery recovery
	// do makes the step from after (or from intent, once recovery allows).
	do func(s *Service, ctx context.Context, p *pass, rec Record) (Record, error)
	// happened and settle serve checkThenResend: whether the call took
	// effect, and how to record that it did.
	happened func(s *Service, ctx context.Context, rec Record) (bool, error)
	settle   func(s *Service, ctx context.Context, rec Record) (Record, error)
	// retry is the step [Service.Retry] resumes a record that failed at
	// this row's intent (or, for a read-only row, at its after step) from,
	// keeping what the attempt made. Empty: the attempt starts over
	// ([Service.restart]) from StepInitiated.
	retry Step
}

// steps is THE step table, in lifecycle order. A record at StepErrored,
// StepManagedElsewhere, StepActive or StepDeleted matches no row: it waits
// for Retry or Delete, for nothing, or is done.
var steps = []stepRule{
	{name: "initiate", intent: StepInitiating, done: StepInitiated, recovery: resend,
		do: (*Service).initiate, retry: StepInitiating}, // send the order again
	{name: "enroll", after: StepInitiated, intent: StepEnrolling, done: StepEnrolled, recovery: dropStraysThenResend,
		do: (*Service).enroll},
	{name: "create shipment", after: StepEnrolled, intent: StepShipmentCreating, done: StepShipmentCreated, recovery: resendIfIdempotent,
		do: (*Service).createShipment},
	{name: "poll", after: StepShipmentCreated, done: StepShipmentCreated, recovery: readOnly,
		do: (*Service).poll},
	// A retried activation activates the shipped key's responses again
	// (Okta accepts errored enrollments) instead of shipping a second key.
	{name: "activate", intent: StepActivating, done: StepActivated, recovery: checkThenResend,
		do: (*Service).activateShipped, happened: (*Service).allActive, settle: (*Service).activated,
		retry: StepShipmentCreated},
	{name: "send PIN", after: StepActivated, intent: StepPINSending, done: StepPINSent, recovery: resend,
		do: (*Service).sendPIN},
	{name: "sign-in and delivery check", after: StepPINSent, done: StepActive, recovery: readOnly,
		do: (*Service).checkShipped},
	{name: "mark error", intent: StepMarkingError, done: StepErrored, recovery: resend,
		do: (*Service).markErrors},
	{name: "delete", intent: StepDeleting, done: StepDeleted, recovery: resend,
		do: (*Service).finishDelete},
}

// stepAt returns the row that moves a record at step st, and whether st is
// that row's intent (the record is resumed); nil when nothing moves it.
func stepAt(st Step) (rule *stepRule, resumed bool) {
	for i := range steps {
		switch st {
		case steps[i].after:
			return &steps[i], false
		case steps[i].intent:
			return &steps[i], true
		}
	}
	return nil, false
}

// maxStepsPerPass bounds the steps one record makes in one pass.
const maxStepsPerPass = 16

// pass is one run of the step machine over one record: what its steps
// share, so that the user's Okta profile is read and validated once.
type pass struct {
	read     bool
	shipping ShippingInfo
	invalid  error // the profile is not a valid shipping address
	// straysDropped: the pass found no foreign enrollment and deleted
	// ours (dropStrays), so enroll need not list them again.
	straysDropped bool
	// resendPIN: the pass is [Service.ResendPIN]'s; the send-PIN step
	// sends a PIN already sent once again.
	resendPIN bool
	// now: the pass is an explicit call's ([Service.Check]): its first
	// step is made at once even if the record waits on its schedule
	// (Record.NextCheck); the steps after it keep to the schedule.
	now bool
}

// profile returns the user's profile validated as a shipping address,
// reading it from Okta the first time the pass asks. readErr is an Okta
// error; invalid a *ValidationError.
func (s *Service) profile(ctx context.Context, p *pass, userID string) (info ShippingInfo, readErr, invalid error) {
	if !p.read {
		u, err := s.okta.GetUser(ctx, userID)
		if err != nil {
			return ShippingInfo{}, err, nil // not cached: the next pass reads again
		}
		p.read = true
		p.shipping, p.invalid = s.shippingInfo(u)
	}
	return p.shipping, nil, p.invalid
}

// run advances rec step by step until it waits for the outside world, ends,
// or fails. The caller holds the user's lock.
func (s *Service) run(ctx context.Context, p *pass, rec Record) (Record, error) {
	for range maxStepsPerPass {
		if err := s.stopping(ctx); err != nil {
			return rec, err
		}
		v := rec.Version
		next, err := s.advance(ctx, p, rec)
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

// advance makes the one step the table says follows rec.Step, applying the
// step's recovery rule when rec is at its intent.
func (s *Service) advance(ctx context.Context, p *pass, rec Record) (Record, error) {
	rule, resumed := stepAt(rec.Step)
	if rule == nil {
		return rec, nil // Errored, Active, Deleted: nothing to do
	}
	now := p.now
	p.now = false // only the pass's first step: a check's own schedule write does not make it again
	if !resumed && !now && !s.due(rec) {
		return rec, nil // waiting, and its next check has not come (schedule.go)
	}
	ctx, cancel := s.fenced(ctx)
	defer cancel()
	if resumed {
		var err error
		if rec, err = s.takeOver(ctx, rec); err != nil {
			return rec, err
		}
		switch rule.recovery {
		case dropStraysThenResend:
			next, done, err := s.dropStrays(ctx, p, rec)
			if done || err != nil {
				return next, err
			}
		case resendIfIdempotent:
			if why := s.cannotResend(rec, rule.intent); why != "" {
				return s.fail(ctx, rec, rule.intent, "the outcome of the Yubico shipment creation is unknown and "+why+
					"; check the Yubico console for a shipment to "+rec.Shipping.RecipientEmail()+
					", cancel it if it exists, then Retry")
			}
		case checkThenResend:
			happened, err := rule.happened(s, ctx, rec)
			if err != nil {
				return rec, err
			}
			if happened {
				return rule.settle(s, ctx, rec)
			}
		}
	}
	return rule.do(s, ctx, p, rec)
}

// cannotResend says why the create of intent (whose outcome is unknown)
// cannot be sent again safely, or "" if it can: Yubico is not known to
// de-duplicate creates (Config.IdempotentShipments), or more than
// Config.IdempotencyWindow has passed since the intent's key was first
// recorded, so Yubico may have forgotten it, or no recorded intent carries
// the key (a record not written by a Service), so its age is unknown.
func (s *Service) cannotResend(rec Record, intent Step) string {
	if !s.idempotentShipments {
		return "the client cannot repeat it safely"
	}
	key := rec.Keys[intent]
	for _, c := range rec.History {
		if c.Key == key && key != "" {
			if age := s.now().Sub(c.At); age >= s.idempotencyWindow {
				return fmt.Sprintf("its idempotency key is %v old, past the %v Yubico is taken to remember it (Config.IdempotencyWindow)",
					age.Round(time.Minute), s.idempotencyWindow)
			}
			return ""
		}
	}
	return "no recorded intent dates its idempotency key, so Yubico may have forgotten it"
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
	return s.markErrors(ctx, nil, rec)
}

// needProfile returns the user's validated shipping address for a step
// about to record its intent. When it cannot (done), rec is returned marked
// failed at intent (Okta refused to read the user, or the profile is
// invalid), or err is the unknown outcome of reading it.
func (s *Service) needProfile(ctx context.Context, p *pass, rec Record, intent Step) (_ Record, info ShippingInfo, done bool, err error) {
	info, readErr, invalid := s.profile(ctx, p, rec.UserID)
	switch {
	case readErr != nil && definite(readErr):
		rec, err = s.fail(ctx, rec, intent, fmt.Sprintf("get user: %v", readErr))
		return rec, info, true, err
	case readErr != nil:
		return rec, info, true, unknown("get user "+rec.UserID, readErr)
	case invalid != nil:
		rec, err = s.fail(ctx, rec, intent, invalid.Error())
		return rec, info, true, err
	}
	return rec, info, false, nil
}

// initiate records the intent of a record at step Initiating again
// (renewing its lease; the key stays) and sends the order.
func (s *Service) initiate(ctx context.Context, _ *pass, rec Record) (Record, error) {
	rec, _, err := s.intend(ctx, rec, StepInitiating)
	if err != nil {
		return rec, err
	}
	return s.sendInitiate(ctx, rec)
}

// sendInitiate sends initiate-fulfillment-request for a record whose intent
// Initiating is recorded, and records the outcome.
func (s *Service) sendInitiate(ctx context.Context, rec Record) (Record, error) {
	data := make(okta.FulfillmentData, len(rec.Items))
	for i, it := range rec.Items {
		data[i] = okta.FulfillmentOrder{ProductID: it.ProductID, InventoryProductID: it.InventoryProductID, CustomizationID: it.CustomizationID}
	}
	err := s.okta.InitiateFulfillment(ctx, okta.FulfillmentRequest{UserID: rec.UserID, FulfillmentProvider: okta.ProviderYubico, FulfillmentData: data})
	if err != nil {
		err = unknown("initiate fulfillment for "+rec.UserID, err)
		if errors.Is(err, ErrOutcomeUnknown) || ctx.Err() != nil {
			return rec, err
		}
		// Okta refuses an order while the user has a key in fulfillment:
		// if another tool's enrollment is why, the key is managed there.
		if _, foreign, lerr := s.strays(ctx, rec); lerr == nil && len(foreign) > 0 {
			return s.yield(ctx, rec, foreign)
		}
		failed, ferr := s.fail(ctx, rec, StepInitiating, err.Error())
		return failed, errors.Join(err, ferr)
	}
	return s.reach(ctx, rec, StepInitiated, "")
}

// dropStrays deletes the user's enrollments that an enroll call of ours
// whose answer was lost created (see [Service.strays]). If Okta lists an
// enrollment in fulfillment that is not ours, it deletes nothing and
// records ManagedElsewhere (done).
func (s *Service) dropStrays(ctx context.Context, p *pass, rec Record) (_ Record, done bool, err error) {
	ours, foreign, err := s.strays(ctx, rec)
	if err != nil {
		return rec, true, err
	}
	if len(foreign) > 0 {
		rec, err = s.yield(ctx, rec, foreign)
		return rec, true, err
	}
	if err := s.deleteEnrollments(ctx, rec.UserID, ours); err != nil {
		return rec, true, err
	}
	p.straysDropped = true
	return rec, false, nil
}

// yield records that another tool is fulfilling the user's key (foreign
// lists its enrollments): the record rests at ManagedElsewhere, still
// FulfillmentStarted, and nothing at Okta is touched.
func (s *Service) yield(ctx context.Context, rec Record, foreign []okta.Enrollment) (Record, error) {
	rec.Reason = managedElsewhere(foreign)
	s.log.LogAttrs(ctx, slog.LevelWarn, "fulfillment: managed elsewhere",
		slog.String("user", rec.UserID), slog.String("enrollment", foreign[0].ID), slog.Int("enrollments", len(foreign)))
	return s.reach(ctx, rec, StepManagedElsewhere, rec.Reason)
}

// enroll validates the profile and enrolls the user at Okta, unless Okta
// lists an enrollment in fulfillment the Service did not create (then the
// record rests at ManagedElsewhere).
func (s *Service) enroll(ctx context.Context, p *pass, rec Record) (Record, error) {
	if !p.straysDropped {
		next, done, err := s.dropStrays(ctx, p, rec)
		if done || err != nil {
			return next, err
		}
	}
	rec, _, done, err := s.needProfile(ctx, p, rec, StepEnrolling)
	if done {
		return rec, err
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
	rec.EnrollCalls = append(rec.EnrollCalls, EnrollCall{Sent: s.okta.Now()})
	rec, _, err = s.intend(ctx, rec, StepEnrolling)
	if err != nil {
		return rec, err
	}
	resp, err := s.okta.Enroll(ctx, okta.EnrollRequest{UserID: rec.UserID, FulfillmentProvider: okta.ProviderYubico, RPIDs: s.rpIDs, TransportKey: tk})
	if err != nil {
		if definite(err) {
			rec.EnrollCalls = rec.EnrollCalls[:len(rec.EnrollCalls)-1] // this call made nothing
			// Okta refuses an enroll while the user has a key in
			// fulfillment. One the record does not know is ours if an
			// earlier enroll of this attempt (timed out on our side but
			// still being processed when the strays were listed) made
			// it: not a failure, the next pass deletes it and enrolls
			// again. Another tool's is left alone.
			ours, foreign, lerr := s.strays(ctx, rec)
			switch {
			case lerr == nil && len(foreign) > 0:
				return s.yield(ctx, rec, foreign)
			case lerr == nil && len(ours) > 0:
				return rec, fmt.Errorf("fulfillment: enroll %s: %w: an earlier enroll took effect after its answer was lost: %w",
					rec.UserID, ErrOutcomeUnknown, err)
			}
			return s.fail(ctx, rec, StepEnrolling, err.Error())
		}
		err = unknown("enroll "+rec.UserID, err)
		rec.EnrollCalls[len(rec.EnrollCalls)-1].Returned = s.okta.Now()
		rec, serr := s.save(ctx, rec, Change{Reason: "enroll outcome unknown"})
		return rec, errors.Join(err, serr)
	}
	rec.EnrollCalls = nil
	rec.Enrollments = make([]Enrollment, 0, len(resp.CredRequests))
	for _, cr := range resp.CredRequests {
		rec.Enrollments = append(rec.Enrollments, Enrollment{ID: cr.AuthenticatorEnrollmentID, KeyID: cr.KeyID,
			CredRequest: cr.CredRequestJWE, Status: okta.StatusFulfillmentPending})
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

// createShipment creates the FIDO Pre-reg shipment; resumed, it sends the
// recorded body again with the recorded idempotency key.
func (s *Service) createShipment(ctx context.Context, p *pass, rec Record) (Record, error) {
	if rec.Step != StepShipmentCreating || rec.Shipping == (ShippingInfo{}) {
		var info ShippingInfo
		var done bool
		var err error
		if rec, info, done, err = s.needProfile(ctx, p, rec, StepShipmentCreating); done {
			return rec, err
		}
		rec.Shipping = info
	}
	req, err := fprRequest(rec)
	if err != nil {
		return s.fail(ctx, rec, StepShipmentCreating, err.Error())
	}
	rec, key, err := s.intend(ctx, rec, StepShipmentCreating)
	if err != nil {
		return rec, err
	}
	sh, err := s.createFPRShipment(ctx, req, key)
	if err != nil {
		if definite(err) {
			// Yubico made no shipment under the key: a Delete has none to
			// look up with it (findLostShipment), and needs no Yubico.
			delete(rec.Keys, StepShipmentCreating)
			return s.fail(ctx, rec, StepShipmentCreating, err.Error())
		}
		return rec, unknown("create Yubico shipment for "+rec.UserID, err)
	}
	rec.ShipmentID, rec.ShipmentState = sh.ID, sh.State.ID
	rec.NextCheck = s.nextShipmentPoll(rec, s.now(), sh.State.ID)
	rec.PINRequest, rec.Shipping = "", ShippingInfo{}
	for i := range rec.Enrollments {
		rec.Enrollments[i].CredRequest = ""
	}
	return s.reach(ctx, rec, StepShipmentCreated, fmt.Sprintf("Yubico shipment %s, state %d", sh.ID, sh.State.ID))
}

// poll reads the shipment and acts on its state: at 103/104 it activates.
func (s *Service) poll(ctx context.Context, _ *pass, rec Record) (Record, error) {
	sh, err := s.yubico.FPRShipment(ctx, rec.ShipmentID)
	if errors.Is(err, yubico.ErrNotFound) {
		return s.fail(ctx, rec, StepShipmentCreated, fmt.Sprintf("Yubico shipment %s no longer exists", rec.ShipmentID))
	}
	if err != nil {
		return rec, fmt.Errorf("fulfillment: poll shipment %s of %q: %w", rec.ShipmentID, rec.UserID, err)
	}
	state := sh.State.ID
	implied, known := statusFromYubicoState(state)
	switch {
	case known && implied == Shipped:
		rec.ShipmentState, rec.ShipmentCheckedAt = state, s.now().UTC()
		if state == yubico.StateDelivered {
			rec.DeliveredAt = rec.ShipmentCheckedAt
		}
		return s.activate(ctx, rec, sh)
	case known && implied == FulfillmentErrored:
		rec.ShipmentState = state
		msg := sh.State.Message
		if msg == "" {
			msg = sh.State.ID.String()
		}
		return s.fail(ctx, rec, StepShipmentCreated, fmt.Sprintf("Yubico shipment %s is in state %d: %s", rec.ShipmentID, state, msg))
	}
	rec.NextCheck = s.nextShipmentPoll(rec, s.now(), state)
	if state != rec.ShipmentState {
		rec.ShipmentState = state
		s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: shipment state",
			slog.String("user", rec.UserID), slog.String("shipment", rec.ShipmentID), slog.Int("state", int(state)))
		return s.save(ctx, rec, Change{Reason: fmt.Sprintf("Yubico shipment %s, state %d", rec.ShipmentID, state)})
	}
	return s.touch(ctx, rec)
}

// activate pairs the shipment's credential responses with the enrollments
// and activates them at Okta.
func (s *Service) activate(ctx context.Context, rec Record, sh yubico.FPRShipment) (Record, error) {
	pd, ok := sh.ProductData()
	if !ok {
		return rec, fmt.Errorf("fulfillment: shipment %s of %q is in state %d without product data", sh.ID, rec.UserID, sh.State.ID)
	}
	pairs, pairing, why, err := pairResponses(rec.Enrollments, pd.CredentialResponses)
	if err != nil {
		return s.fail(ctx, rec, StepActivating, err.Error())
	}
	note := ""
	if pairing == PairedByRequestOrder {
		note = "credential responses paired by request order: " + why
		s.log.LogAttrs(ctx, slog.LevelWarn, "fulfillment: credential responses paired by request order",
			slog.String("user", rec.UserID), slog.String("why", why))
	}
	rec.Pairing = pairing
	_, signing, err := s.yubicoKeys(ctx)
	if err != nil {
		return rec, err
	}
	rec.Serial, rec.Firmware = pd.SerialNumber, pd.FirmwareVersion
	rec, _, err = s.intendWhy(ctx, rec, StepActivating, note)
	if err != nil {
		return rec, err
	}
	_, err = s.okta.Activate(ctx, okta.ActivateRequest{
		UserID: rec.UserID, FulfillmentProvider: okta.ProviderYubico, Serial: pd.SerialNumber, Version: pd.FirmwareVersion,
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
			if note != "" {
				return s.fail(ctx, rec, StepActivating, err.Error()+" ("+note+")")
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
		rec.Enrollments[i].Status = okta.StatusActive
	}
	reason := fmt.Sprintf("key serial %s, firmware %s", rec.Serial, rec.Firmware)
	if rec.Pairing != "" {
		reason += ", credential responses paired by " + string(rec.Pairing)
	}
	return s.reach(ctx, rec, StepActivated, reason)
}

// activateShipped reads the shipment again and activates it (the resumed
// activation, once Okta shows it did not happen).
func (s *Service) activateShipped(ctx context.Context, _ *pass, rec Record) (Record, error) {
	sh, err := s.yubico.FPRShipment(ctx, rec.ShipmentID)
	if err != nil {
		return rec, fmt.Errorf("fulfillment: poll shipment %s of %q: %w", rec.ShipmentID, rec.UserID, err)
	}
	return s.activate(ctx, rec, sh)
}

// sendPIN asks Okta to email the PIN. For [Service.ResendPIN] (p.resendPIN)
// it sends it again.
func (s *Service) sendPIN(ctx context.Context, p *pass, rec Record) (Record, error) {
	if len(rec.Enrollments) == 0 {
		return rec, fmt.Errorf("fulfillment: record of %q has no enrollment to send a PIN for", rec.UserID)
	}
	// A refused send leaves the record Shipped at Activated, so that the
	// next pass (or ResendPIN) tries again; a refused resend of a PIN that
	// was sent leaves it at PINSent.
	refused, reason := StepActivated, ""
	if p != nil && p.resendPIN {
		reason = "PIN resent"
		if rec.Step == StepPINSent {
			refused = StepPINSent
		}
	}
	rec, _, err := s.intend(ctx, rec, StepPINSending)
	if err != nil {
		return rec, err
	}
	if err := s.okta.SendPIN(ctx, okta.SendPINRequest{UserID: rec.UserID, FulfillmentProvider: okta.ProviderYubico,
		AuthenticatorEnrollmentID: rec.Enrollments[0].ID}); err != nil {
		if definite(err) {
			rec, serr := s.reach(ctx, rec, refused, "send PIN failed: "+err.Error())
			return rec, errors.Join(fmt.Errorf("fulfillment: send PIN to %q: %w", rec.UserID, err), serr)
		}
		return rec, unknown("send PIN to "+rec.UserID, err)
	}
	rec.NextCheck = s.nextSignInCheck(rec, s.now()) // nobody signs in with a PIN not yet read
	return s.reach(ctx, rec, StepPINSent, reason)
}

// checkShipped watches a Shipped key: its first sign-in at Okta (Active),
// and until then its parcel at Yubico (delivered). It records when the key
// is checked next (Record.NextCheck).
func (s *Service) checkShipped(ctx context.Context, p *pass, rec Record) (Record, error) {
	rec, err := s.checkSignIn(ctx, p, rec)
	if err != nil || rec.Status != Shipped || rec.Step != StepPINSent {
		return rec, err
	}
	return s.trackDelivery(ctx, rec)
}

// trackDelivery reads a shipped key's shipment at Yubico, at most once per
// max(PollInterval, yubicoPoll), until it is delivered, and records what
// it finds and the key's next check.
func (s *Service) trackDelivery(ctx context.Context, rec Record) (Record, error) {
	now := s.now().UTC()
	if !rec.DeliveredAt.IsZero() || rec.ShipmentID == "" || now.Before(rec.ShipmentCheckedAt.Add(max(s.pollInterval, yubicoPoll))) {
		rec.NextCheck = s.nextSignInCheck(rec, now)
		return s.touch(ctx, rec)
	}
	sh, err := s.yubico.FPRShipment(ctx, rec.ShipmentID)
	if err != nil {
		return rec, fmt.Errorf("fulfillment: poll shipment %s of %q for delivery: %w", rec.ShipmentID, rec.UserID, err)
	}
	rec.ShipmentCheckedAt = now
	st := sh.State.ID
	if st == yubico.StateDelivered {
		rec.DeliveredAt = now
	}
	rec.NextCheck = s.nextSignInCheck(rec, now)
	switch {
	case st == yubico.StateDelivered:
		rec.ShipmentState = st
		s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: delivered",
			slog.String("user", rec.UserID), slog.String("shipment", rec.ShipmentID))
		return s.save(ctx, rec, Change{Reason: fmt.Sprintf("Yubico shipment %s delivered (state %d)", rec.ShipmentID, st)})
	case st != rec.ShipmentState:
		rec.ShipmentState = st
		reason := fmt.Sprintf("Yubico shipment %s, state %d: %s", rec.ShipmentID, st, cmpOr(sh.State.Message, st.String()))
		if st.Failed() {
			reason += "; the key is active at Okta: Delete it if the parcel is lost"
		}
		s.log.LogAttrs(ctx, slog.LevelWarn, "fulfillment: shipped parcel state",
			slog.String("user", rec.UserID), slog.String("shipment", rec.ShipmentID), slog.Int("state", int(st)))
		return s.save(ctx, rec, Change{Reason: reason})
	}
	return s.touch(ctx, rec)
}

// checkSignIn looks at Okta's enrollments of a Shipped record: once the
// PIN is gone (presetPinAvailable false) the user signed in: Active. If
// Okta no longer has the enrollments, they were deleted there: Deleted.
func (s *Service) checkSignIn(ctx context.Context, _ *pass, rec Record) (Record, error) {
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
		status, deleted := mine.Status, !ok // a deleted one keeps its last status
		if ok {
			present++
			status = e.Status
			if e.Status == okta.StatusActive && !e.Profile.PresetPINAvailable {
				signedIn = true
			}
		}
		if mine.Status != status || mine.Deleted != deleted {
			rec.Enrollments[i].Status, rec.Enrollments[i].Deleted, changed = status, deleted, true
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

// markErrors marks every enrollment of rec errored at Okta and records
// Errored.
func (s *Service) markErrors(ctx context.Context, _ *pass, rec Record) (Record, error) {
	for i, e := range rec.Enrollments {
		err := s.okta.MarkError(ctx, rec.UserID, e.ID)
		switch {
		case errors.Is(err, okta.ErrNotFound):
			rec.Enrollments[i].Deleted = true
		case err != nil:
			return rec, unknown("mark enrollment "+e.ID+" errored", err)
		default:
			rec.Enrollments[i].Status = okta.StatusFulfillmentErrored
		}
	}
	return s.reach(ctx, rec, StepErrored, rec.Reason)
}

// retryStep is the step [Service.Retry] resumes a record that failed at
// step failed from, by the step table; empty when the attempt starts over
// ([Service.restart]).
func retryStep(failed Step) Step {
	if failed == "" {
		return "" // managed elsewhere: taken over from the enroll
	}
	if rule, _ := stepAt(failed); rule != nil {
		return rule.retry
	}
	return ""
}

// restart prepares a failed attempt's record for Retry to start over: the
// user's profile is validated again (still invalid: the *ValidationError),
// the old shipment is cancelled if Yubico still allows it, the enrollments
// the Service created are deleted at Okta (note names any other one, left
// alone), and what the attempt made is forgotten. The record is returned
// at StepInitiated, not saved.
func (s *Service) restart(ctx context.Context, p *pass, rec Record) (_ Record, note string, err error) {
	_, readErr, invalid := s.profile(ctx, p, rec.UserID)
	if readErr != nil {
		return rec, "", fmt.Errorf("fulfillment: retry %q: get user: %w", rec.UserID, readErr)
	}
	if invalid != nil {
		return rec, "", invalid
	}
	if err := s.cancelShipment(ctx, &rec); err != nil {
		return rec, "", err
	}
	foreign, err := s.deleteOwned(ctx, rec)
	if err != nil {
		return rec, "", err
	}
	if len(foreign) > 0 {
		note = leftAlone(foreign)
	}
	rec.Enrollments, rec.EnrollCalls, rec.PINRequest, rec.TransportKeyID, rec.Shipping = nil, nil, "", "", ShippingInfo{}
	rec.ShipmentID, rec.ShipmentState, rec.Serial, rec.Firmware, rec.Pairing = "", 0, "", "", ""
	rec.ShipmentCheckedAt, rec.DeliveredAt, rec.NextCheck = time.Time{}, time.Time{}, time.Time{}
	rec.Step = StepInitiated
	return rec, note, nil
}

// finishDelete does the remote part of a delete and records Deleted.
func (s *Service) finishDelete(ctx context.Context, _ *pass, rec Record) (Record, error) {
	rec.Reason = "deleted"
	if err := s.findLostShipment(ctx, &rec); err != nil {
		return rec, err
	}
	if err := s.cancelShipment(ctx, &rec); err != nil {
		return rec, err
	}
	foreign, err := s.deleteOwned(ctx, rec)
	if err != nil {
		return rec, err
	}
	if len(foreign) > 0 {
		rec.Reason += "; " + leftAlone(foreign)
	}
	for i := range rec.Enrollments {
		rec.Enrollments[i].Deleted = true
	}
	st, err := rec.Status.Next(EventDelete)
	if err != nil {
		return rec, err
	}
	rec.Status, rec.PINRequest, rec.Shipping = st, "", ShippingInfo{}
	return s.reach(ctx, rec, StepDeleted, rec.Reason)
}

package yubicotest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/preenroll/preenroll/internal/fakehttp"
	"github.com/preenroll/preenroll/simulator"
	"github.com/preenroll/preenroll/webauthn"
	"github.com/preenroll/preenroll/yubico"
)

// ErrClockBackwards is wrapped by the error of [Server.Advance] and
// [Server.SetNow] when asked to move the clock backwards. It is the same
// error oktatest returns.
var ErrClockBackwards = fakehttp.ErrClockBackwards

// Now returns the fake clock's time.
func (s *Server) Now() time.Time {
	s.lock()
	defer s.mu.Unlock()
	return s.now
}

// Advance moves the clock forward by d, running every transition that falls
// due on the way, in time order, before it returns. A negative d is refused
// with an error wrapping [ErrClockBackwards].
func (s *Server) Advance(d time.Duration) error {
	return s.moveClock(func() (time.Time, error) { return s.clock.Advance(d) })
}

// SetNow moves the clock forward to t like [Server.Advance]. A t before Now
// is refused with an error wrapping [ErrClockBackwards].
func (s *Server) SetNow(t time.Time) error {
	return s.moveClock(func() (time.Time, error) { return s.clock.AdvanceTo(t) })
}

// moveClock moves the clock with move, under s.mu, and runs the
// transitions that fell due.
func (s *Server) moveClock(move func() (time.Time, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := move(); err != nil {
		return fmt.Errorf("yubicotest: %w", err)
	}
	s.catchUpLocked()
	return nil
}

// NextBatch returns the time of the next fulfillment batch after Now.
func (s *Server) NextBatch() time.Time {
	s.lock()
	defer s.mu.Unlock()
	return s.batchAtOrAfter(s.now.Add(time.Nanosecond))
}

// lock locks s.mu and brings the lifecycle up to the clock's time: every
// method that reads or changes time-dependent state takes the lock this
// way, so in real-time mode transitions run when the fake is next asked.
func (s *Server) lock() {
	s.mu.Lock()
	s.catchUpLocked()
}

// catchUpLocked runs every transition due up to the clock's time.
func (s *Server) catchUpLocked() {
	if t := s.clock.Now(); t.After(s.now) {
		s.advanceLocked(t)
	}
}

// keyClock is the clock of the simulated keys the factory programs: the
// lifecycle's time (a key programmed at the batch sees the batch's time),
// or the clock itself in real-time mode, where the lifecycle catches up
// only when asked.
func (s *Server) keyClock() time.Time {
	t := s.lifecycleNow()
	if s.clock.RealTime() {
		if c := s.clock.Now(); c.After(t) {
			return c
		}
	}
	return t
}

// lifecycleNow returns the lifecycle's time (s.now) without s.mu: the
// time s.now last had, which is s.now's or before it.
func (s *Server) lifecycleNow() time.Time { return time.Unix(0, s.nowNano.Load()).UTC() }

func (s *Server) setNowLocked(t time.Time) {
	s.now = t
	s.nowNano.Store(t.UnixNano())
}

func (s *Server) advanceLocked(target time.Time) {
	for steps := 0; ; steps++ {
		if steps > 10_000_000 {
			// Every due event changes a shipment's state; reaching this is a
			// bug in the fake.
			panic("yubicotest: internal error: the lifecycle does not progress")
		}
		next, ok := s.nextEventLocked()
		if !ok || next.After(target) {
			break
		}
		if next.After(s.now) {
			s.setNowLocked(next)
		}
		s.runDueLocked()
	}
	s.setNowLocked(target)
}

// batchAtOrAfter returns the first batch instant at or after t.
func (s *Server) batchAtOrAfter(t time.Time) time.Time {
	tm := s.timing
	lt := t.In(tm.BatchLocation)
	b := time.Date(lt.Year(), lt.Month(), lt.Day(), tm.BatchHour, tm.BatchMinute, 0, 0, tm.BatchLocation)
	for b.Before(t) {
		b = time.Date(b.Year(), b.Month(), b.Day()+1, tm.BatchHour, tm.BatchMinute, 0, 0, tm.BatchLocation)
	}
	return b
}

// validationTick returns the first validation tick strictly after t.
func (s *Server) validationTick(t time.Time) time.Time {
	iv := s.timing.ValidationInterval
	return t.Truncate(iv).Add(iv)
}

// batchTimeLocked returns when sh enters a batch, if it is waiting for one.
func (s *Server) batchTimeLocked(sh *shipment) (time.Time, bool) {
	if sh.state != yubico.StateAwaitingValidation || !sh.validated {
		return time.Time{}, false
	}
	after := s.lastBatch.Add(time.Nanosecond)
	if sh.validatedAt.After(after) {
		after = sh.validatedAt
	}
	return s.batchAtOrAfter(after), true
}

// runDueLocked runs every transition due at s.now (see runTransitionsLocked)
// and reschedules the shipments it looked at: only those the schedule has
// due.
func (s *Server) runDueLocked() {
	due := s.popDueLocked()
	s.runTransitionsLocked(due)
	for _, sh := range due {
		s.scheduleLocked(sh)
	}
}

// runTransitionsLocked runs the transitions due at s.now of the shipments
// in due (in creation order, which the batch takes them in): validation,
// then the batch, then shipping, then delivery.
func (s *Server) runTransitionsLocked(due []*shipment) {
	for _, sh := range due {
		if sh.state == yubico.StateAwaitingValidation && !sh.validated && !s.validationTick(sh.pendingSince).After(s.now) {
			s.validateLocked(sh)
		}
	}
	var batch []*shipment
	for _, sh := range due {
		if t, ok := s.batchTimeLocked(sh); ok && !t.After(s.now) {
			batch = append(batch, sh)
		}
	}
	if len(batch) > 0 {
		s.lastBatch = s.now
		for _, sh := range batch {
			s.fulfillLocked(sh)
		}
	}
	for _, sh := range due {
		switch {
		case sh.state == yubico.StateSentToFulfillment && !sh.shipAt.IsZero() && !sh.shipAt.After(s.now):
			s.shipLocked(sh)
		case sh.state == yubico.StateShipped && !sh.deliverAt.IsZero() && !sh.deliverAt.After(s.now):
			s.deliverLocked(sh)
		}
	}
}

func (s *Server) validateLocked(sh *shipment) {
	r := sh.req
	switch {
	case sh.fault == ShipmentFaultUndeliverable:
		sh.setState(yubico.StateUndeliverable, "Address is undeliverable or could not be understood (injected)")
		return
	case sh.fault == ShipmentFaultDPLMatch:
		sh.setState(yubico.StateDPLMatch, "Recipient matches the denied-party list (injected)")
		return
	}
	if s.denied[normName(r.Recipient)] || s.denied[normName(r.RecipientFirstName+" "+r.RecipientLastName)] {
		sh.setState(yubico.StateDPLMatch, "Recipient matches the denied-party list")
		return
	}
	if !r.AddressValidationBypass {
		if reason := s.undeliverableLocked(r.Address); reason != "" {
			sh.setState(yubico.StateUndeliverable, reason)
			return
		}
	}
	sh.validated, sh.validatedAt = true, s.now
}

// fulfillLocked runs the batch for one shipment: inventory, programming,
// then state 10.
func (s *Server) fulfillLocked(sh *shipment) {
	if sh.fault == ShipmentFaultProcessingError {
		sh.setState(yubico.StateProcessingError, "Processing error (injected)")
		return
	}
	need := map[int]int{}
	for _, it := range sh.items {
		need[it.InventoryProductID] += it.Quantity
	}
	for _, it := range sh.items {
		b := s.bucketLocked(it.InventoryProductID)
		if b == nil || b.Quantity < need[it.InventoryProductID] {
			have := 0
			if b != nil {
				have = b.Quantity
			}
			sh.setState(yubico.StateProcessingError, fmt.Sprintf("insufficient inventory: inventory_product_id %d has %d, shipment needs %d",
				it.InventoryProductID, have, need[it.InventoryProductID]))
			return
		}
	}
	if sh.fpr {
		if err := s.programLocked(sh); err != nil {
			sh.setState(yubico.StateShippingError, "FIDO Pre-reg programming failed: "+err.Error())
			sh.factory.purge()
			sh.factory = nil
			return
		}
	}
	for id, n := range need {
		s.bucketLocked(id).Quantity -= n
	}
	sh.sent = true
	sh.shipAt = s.now.Add(s.timing.ShippingDelay)
	sh.setState(yubico.StateSentToFulfillment, "")
}

func (s *Server) shipLocked(sh *shipment) {
	if sh.fault == ShipmentFaultShippingError {
		sh.setState(yubico.StateShippingError, "Shipping error, contact Support (injected)")
		return
	}
	sh.tracking = "https://tracking.yubicotest.invalid/" + sh.id
	sh.deliverAt = s.now.Add(s.timing.DeliveryDelay)
	sh.setState(yubico.StateShipped, "")
}

func (s *Server) deliverLocked(sh *shipment) {
	switch sh.fault {
	case ShipmentFaultLost:
		sh.setState(yubico.StateLost, "Shipment lost (injected)")
		return
	case ShipmentFaultDeliveryException:
		sh.setState(yubico.StateDeliveryException, "Delivery exception (injected)")
		return
	}
	sh.delivered = s.now
	sh.setState(yubico.StateDelivered, "")
}

// programLocked is the factory: take the requests opened at create, program
// a key, seal the responses, purge the secrets.
func (s *Server) programLocked(sh *shipment) error {
	in := sh.factory
	if in == nil {
		return errors.New("the FIDO Pre-reg requests are no longer held")
	}
	if in.err != nil {
		return in.err
	}
	for i, c := range in.creds {
		// The requests were opened at create; they must still be valid now.
		if s.now.After(c.expiresAt) {
			return fmt.Errorf("open fido_credential_requests[%d]: enrollment %q: %w at %s (now %s)", i, c.enrollmentID,
				webauthn.ErrExpired, c.expiresAt.UTC().Format(time.RFC3339), s.now.UTC().Format(time.RFC3339))
		}
	}
	pinReq := in.pin.request()
	creds := make([]webauthn.CredentialRequest, len(in.creds))
	for i := range in.creds {
		creds[i] = in.creds[i].request(pinReq.UserID)
	}
	defer func() {
		for _, c := range creds {
			clear(c.Challenge)
		}
	}()
	productID := sh.req.Items[0].ProductID
	model, ok := simulator.ModelByProductID(productID)
	if !ok {
		return fmt.Errorf("product %d has no FIDO Pre-reg model", productID)
	}
	keyRand, err := s.seedLocked()
	if err != nil {
		return err
	}
	platRand, err := s.seedLocked()
	if err != nil {
		return err
	}
	att, err := s.fidoAttestationLocked(model)
	if err != nil {
		return err
	}
	serial := s.nextSerial
	opts := []simulator.Option{
		simulator.WithSerial(serial), simulator.WithModel(model), simulator.WithFIDOAttestation(att),
		simulator.WithRand(keyRand), simulator.WithClock(s.keyClock),
	}
	if s.firmware != nil {
		opts = append(opts, simulator.WithFirmware(*s.firmware))
	}
	key, err := simulator.New(opts...)
	if err != nil {
		return fmt.Errorf("make key: %w", err)
	}
	s.nextSerial++
	pin, err := s.pinLocked()
	if err != nil {
		return err
	}
	defer clear(pin)
	ctx := context.Background()
	p := simulator.NewPlatform(key, simulator.WithPlatformRand(platRand))
	defer p.ForgetKeyAgreement() // zero the PIN protocol's shared secret with the PIN
	if err := p.SetPIN(ctx, string(pin)); err != nil {
		return fmt.Errorf("set PIN: %w", err)
	}
	prog := &Programming{Serial: serial, Firmware: key.Firmware().String(), Model: model, UserID: pinReq.UserID}
	for i, req := range creds {
		credJSON, err := p.CreateCredential(ctx, "https://"+req.RPID, req.CreationOptions(), string(pin))
		if err != nil {
			return fmt.Errorf("create credential %d for RP %q: %w", i, req.RPID, err)
		}
		resp, err := webauthn.NewCredentialResponse(req.UserID, req.EnrollmentID, credJSON)
		if err != nil {
			return fmt.Errorf("credential %d: %w", i, err)
		}
		sealed, err := webauthn.SealCredentialResponse(req.ResponseKey, s.signing, resp)
		if err != nil {
			return fmt.Errorf("seal credential response %d: %w", i, err)
		}
		prog.credResponses = append(prog.credResponses, sealed)
		prog.EnrollmentIDs = append(prog.EnrollmentIDs, req.EnrollmentID)
		prog.RPIDs = append(prog.RPIDs, req.RPID)
	}
	if err := p.ForcePINChange(ctx, string(pin)); err != nil {
		return fmt.Errorf("force PIN change: %w", err)
	}
	secret := webauthn.Secret(pin)
	sealed, err := webauthn.SealPINResponse(pinReq.ResponseKey, s.signing,
		webauthn.PINResponse{Version: webauthn.MessageVersion, UserID: pinReq.UserID, PIN: secret})
	if err != nil {
		return fmt.Errorf("seal PIN response: %w", err)
	}
	prog.pinResponse = sealed
	// Purge: the PIN (best effort: Go strings passed to the simulator cannot
	// be wiped) and the opened requests, their challenges zeroed.
	in.purge()
	sh.factory = nil
	prog.Purged = true
	prog.key = key
	sh.programmed = prog
	return nil
}

// trivialPINs are refused even when random (Yubico's PoC blocklist).
var trivialPINs = map[string]bool{
	"123456": true, "123123": true, "654321": true, "123321": true, "112233": true,
	"121212": true, "520520": true, "123654": true, "159753": true,
}

// pinLocked draws a random digit PIN, rejecting all-same digits, ascending
// or descending runs and the blocklist.
func (s *Server) pinLocked() ([]byte, error) {
	for {
		pin := make([]byte, s.pinLength)
		for i := range pin {
			d, err := s.randIntLocked(10)
			if err != nil {
				return nil, err
			}
			pin[i] = byte('0' + d)
		}
		if !trivialPIN(pin) {
			return pin, nil
		}
		clear(pin)
	}
}

func trivialPIN(pin []byte) bool {
	if trivialPINs[string(pin)] {
		return true
	}
	same, up, down := true, true, true
	for i := 1; i < len(pin); i++ {
		same = same && pin[i] == pin[0]
		up = up && pin[i] == '0'+(pin[i-1]-'0'+1)%10
		down = down && pin[i] == '0'+(pin[i-1]-'0'+9)%10
	}
	return same || up || down
}

// SetState forces shipment id into state st with an optional message (no
// other transition runs; a shipment forced to 10 ships after the shipping
// delay, one forced to 103 is delivered after the delivery delay, but a FIDO
// Pre-reg shipment has responses only if the factory programmed it).
func (s *Server) SetState(id string, st yubico.ShipmentState, msg string) error {
	s.lock()
	defer s.mu.Unlock()
	sh, ok := s.shipments[id]
	if !ok {
		return fmt.Errorf("yubicotest: SetState: no shipment %q", id)
	}
	switch st {
	case yubico.StateSentToFulfillment:
		sh.sent, sh.shipAt = true, s.now.Add(s.timing.ShippingDelay)
	case yubico.StateShipped:
		sh.deliverAt = s.now.Add(s.timing.DeliveryDelay)
	case yubico.StateAwaitingValidation:
		sh.validated, sh.pendingSince = false, s.now
	}
	sh.setState(st, msg)
	s.scheduleLocked(sh)
	return nil
}

// Shipments returns every shipment (both kinds) in creation order, as
// GET /v1/shipments_exact would show them.
// A cancelled shipment is deleted, as Yubico's cancel route does: it is
// neither listed here nor found by [Server.Shipment]. fulfillment.Service's
// Retry and Delete cancel a shipment while Yubico still allows it (state 9
// or below), so a key retried after such a failure leaves one shipment
// here, not two.
func (s *Server) Shipments() []yubico.Shipment {
	s.lock()
	defer s.mu.Unlock()
	out := make([]yubico.Shipment, 0, s.order.len())
	for sh := range s.order.all() {
		out = append(out, s.exactViewLocked(sh))
	}
	return out
}

// Lagging returns the first shipment, in creation order, that has not
// failed and is in a state before st, as [Server.Shipments] would show it,
// and false if every shipment has reached st or failed. It builds only the
// shipment it returns, where Shipments builds them all.
func (s *Server) Lagging(st yubico.ShipmentState) (yubico.Shipment, bool) {
	s.lock()
	defer s.mu.Unlock()
	for sh := range s.order.all() {
		if !sh.state.Failed() && sh.state < st {
			return s.exactViewLocked(sh), true
		}
	}
	return yubico.Shipment{}, false
}

// Shipment returns one shipment as GET /v1/shipments_exact/{id} would.
func (s *Server) Shipment(id string) (yubico.Shipment, bool) {
	s.lock()
	defer s.mu.Unlock()
	sh, ok := s.shipments[id]
	if !ok {
		return yubico.Shipment{}, false
	}
	return s.exactViewLocked(sh), true
}

// FPRShipment returns a FIDO Pre-reg shipment as GET /v1/fpr/shipments/{id}
// would.
func (s *Server) FPRShipment(id string) (yubico.FPRShipment, bool) {
	s.lock()
	defer s.mu.Unlock()
	sh, ok := s.shipments[id]
	if !ok || !sh.fpr {
		return yubico.FPRShipment{}, false
	}
	return s.fprViewLocked(sh), true
}

// Programming returns what the factory did for a FIDO Pre-reg shipment, once
// it has programmed the key (from state 10 on).
func (s *Server) Programming(id string) (Programming, bool) {
	s.lock()
	defer s.mu.Unlock()
	sh, ok := s.shipments[id]
	if !ok || sh.programmed == nil {
		return Programming{}, false
	}
	p := *sh.programmed
	p.EnrollmentIDs = append([]string(nil), p.EnrollmentIDs...)
	p.RPIDs = append([]string(nil), p.RPIDs...)
	p.credResponses, p.pinResponse, p.key = nil, "", nil
	p.Purged = p.Purged && sh.factory == nil
	return p, true
}

// ErrNotShipped is returned by [Server.Parcel] before a key has shipped.
var ErrNotShipped = errors.New("yubicotest: the key has not shipped")

// Parcel hands over the programmed key of a FIDO Pre-reg shipment in state
// 103 Shipped or 104 Delivered: the physical YubiKey the user receives. It
// fails with an error wrapping [ErrNotShipped] in other states, and for an
// unknown or plain shipment.
func (s *Server) Parcel(id string) (*simulator.Key, error) {
	s.lock()
	defer s.mu.Unlock()
	sh, ok := s.shipments[id]
	switch {
	case !ok:
		return nil, fmt.Errorf("yubicotest: Parcel: no shipment %q", id)
	case !sh.fpr:
		return nil, fmt.Errorf("yubicotest: Parcel: shipment %q is not a FIDO Pre-reg shipment", id)
	case !sh.state.ResponsesReady() || sh.programmed == nil || sh.programmed.key == nil:
		return nil, fmt.Errorf("yubicotest: Parcel %q in state %d (%s): %w", id, int(sh.state), sh.state, ErrNotShipped)
	}
	return sh.programmed.key, nil
}

// Messages returns a shipment's messages (why it failed, for example).
func (s *Server) Messages(id string) []string {
	s.lock()
	defer s.mu.Unlock()
	if sh, ok := s.shipments[id]; ok {
		return append([]string(nil), sh.messages...)
	}
	return nil
}

// fidoAttestationLocked returns the FIDO attestation the factory's keys
// reporting model's AAGUID share (the models of a series report one: 5 NFC
// and 5C NFC), made from the Server's randomness under its FIDO CA at the
// first such key and numbered by the order of those first keys. A real
// YubiKey's attestation key and certificate are made at manufacture and
// shared by a batch; a key of its own for each key would cost every
// programming a P-256 key and a certificate.
func (s *Server) fidoAttestationLocked(model simulator.Model) (*simulator.FIDOAttestation, error) {
	aaguid := model.AAGUID()
	if att := s.fidoAtts[aaguid]; att != nil {
		return att, nil
	}
	r, err := s.seedLocked()
	if err != nil {
		return nil, err
	}
	att, err := simulator.NewFIDOAttestation(r, s.fidoCA, aaguid, uint32(len(s.fidoAtts)+1))
	if err != nil {
		return nil, err
	}
	if s.fidoAtts == nil {
		s.fidoAtts = map[uuid.UUID]*simulator.FIDOAttestation{}
	}
	s.fidoAtts[aaguid] = att
	return att, nil
}

package fulfillmenttest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/yubico"
)

// maxPasses bounds the Sync passes of one AdvanceTo or AdvanceUntil: a
// key's whole life takes about five, the rest is room for resumed steps
// under injected faults.
const maxPasses = 200

// A Milestone is a point in a shipment's journey at Yubico, reached on
// Yubico's schedule (the fake's [yubicotest.Timing]); [World.AdvanceTo]
// moves the World there.
type Milestone int

// The milestones, in the order a shipment reaches them.
const (
	// Programmed: the daily fulfillment batch programmed the key with
	// the user's credentials and PIN; Yubico state 10, sent to
	// fulfillment (no longer editable or cancellable).
	Programmed Milestone = iota + 1
	// Shipped: the carrier picked the parcel up; Yubico state 103. The
	// Sync that sees it activates the key at Okta and has Okta email the
	// PIN: the user's record is then fulfillment.Shipped.
	Shipped
	// Delivered: the parcel arrived; Yubico state 104.
	Delivered
)

// milestones are the name of each milestone and the Yubico shipment state
// that marks it.
var milestones = map[Milestone]struct {
	name  string
	state yubico.ShipmentState
}{
	Programmed: {"programmed", yubico.StateSentToFulfillment},
	Shipped:    {"shipped", yubico.StateShipped},
	Delivered:  {"delivered", yubico.StateDelivered},
}

// String returns the milestone's name: "programmed", "shipped",
// "delivered".
func (m Milestone) String() string {
	if ms, ok := milestones[m]; ok {
		return ms.name
	}
	return fmt.Sprintf("Milestone(%d)", int(m))
}

// state is the Yubico shipment state that marks m (0 for no milestone).
func (m Milestone) state() yubico.ShipmentState { return milestones[m].state }

// AdvanceTo runs the World until every shipment at Yubico that has not
// failed has reached m, and the Service has seen it, as time and
// [fulfillment.Service.Run] would: it runs Sync (which also enrolls and
// creates the shipments of new orders), then, while a shipment is short of
// m, moves both clocks to Yubico's next scheduled transition and runs Sync
// again. The Service reads a shipment on its own schedule
// ([fulfillment.Record.NextCheck]), not at each transition: while a record
// waiting for Yubico shows another state than its shipment's, the clocks
// move on to the record's next check and Sync runs again. Shipments that
// fail on the way (an undeliverable address, an injected fault) do not
// hold it up: the Service records them. It returns the passes' reports
// added up. If nothing is scheduled while a shipment is short of m, the
// test fails.
func (w *World) AdvanceTo(ctx context.Context, m Milestone) fulfillment.SyncReport {
	w.tb.Helper()
	var total fulfillment.SyncReport
	add(&total, w.Sync(ctx))
	for pass := 0; w.stepToward(m, "AdvanceTo", pass); pass++ {
		add(&total, w.Sync(ctx))
	}
	for pass := 0; ; pass++ {
		next, ok := w.nextCatchUp(ctx)
		if !ok {
			break
		}
		if pass == maxPasses {
			w.fail("AdvanceTo(%s): the Service has not seen Yubico's shipment states after %d checks", m, pass)
			break
		}
		w.SetNow(next)
		add(&total, w.Sync(ctx))
	}
	return total
}

// nextCatchUp returns the earliest next check, after now, of a record in
// flight that waits for the outside world while its shipment at Yubico is
// in a state the record does not show yet; false if there is none.
func (w *World) nextCatchUp(ctx context.Context) (time.Time, bool) {
	w.tb.Helper()
	recs, err := w.Service.List(ctx, fulfillment.Query{InFlight: true})
	if err != nil {
		w.fail("AdvanceTo: list the records: %v", err)
		return time.Time{}, false
	}
	now := w.Now()
	var next time.Time
	for _, r := range recs {
		at, ok := r.DueAt() // after now: waiting for its next check
		if r.ShipmentID == "" || !ok || !at.After(now) || (!next.IsZero() && !at.Before(next)) {
			continue
		}
		if sh, ok := w.Yubico.Shipment(r.ShipmentID); ok && sh.State != r.ShipmentState {
			next = at
		}
	}
	return next, !next.IsZero()
}

// AdvanceClockTo moves both clocks, one scheduled transition at a time,
// until every shipment at Yubico that has not failed has reached m, and
// runs no Sync: for a test whose own Services sync (several instances, a
// Service.Run loop). If nothing is scheduled while a shipment is short of
// m, the test fails.
func (w *World) AdvanceClockTo(m Milestone) {
	w.tb.Helper()
	for pass := 0; w.stepToward(m, "AdvanceClockTo", pass); pass++ {
	}
}

// stepToward moves both clocks to Yubico's next transition if a shipment
// that has not failed is short of m, and reports whether it did. It fails
// the test if nothing is scheduled then, or after maxPasses steps.
func (w *World) stepToward(m Milestone, op string, pass int) bool {
	w.tb.Helper()
	if m.state() == 0 {
		w.fail("%s: unknown milestone %d", op, int(m))
		return false
	}
	sh, ok := w.Yubico.Lagging(m.state())
	if !ok {
		return false
	}
	short := fmt.Sprintf("shipment %s is in state %d (%s)", sh.ID, int(sh.State), sh.State)
	next, ok := w.Yubico.NextTransition()
	switch {
	case !ok:
		w.fail("%s(%s): %s and nothing is scheduled at Yubico", op, m, short)
		return false
	case pass == maxPasses:
		w.fail("%s(%s): %s after %d transitions", op, m, short, pass)
		return false
	}
	w.SetNow(next)
	return true
}

// add adds rep to total.
func add(total *fulfillment.SyncReport, rep fulfillment.SyncReport) {
	total.Checked += rep.Checked
	total.Advanced += rep.Advanced
	total.Shipped += rep.Shipped
	total.Active += rep.Active
	total.Errored += rep.Errored
	total.Busy += rep.Busy
	total.NotDue += rep.NotDue
	total.Delivered += rep.Delivered
	total.ManagedElsewhere += rep.ManagedElsewhere
	total.Failures = append(total.Failures, rep.Failures...)
}

// AdvanceUntil runs the World until the user's record has status st and
// no step in flight, and returns the record; login is the user's login or
// Okta ID. Each pass runs Sync and then, if the record is not there yet,
// moves both clocks to the next moment something is due: Yubico's next
// shipment transition, the record's next check
// ([fulfillment.Record.NextCheck]), or the end of another instance's lease
// on the record. Steps that fail with an unknown outcome are resumed by the next
// pass. For fulfillment.Shipped the PIN must also have been sent.
//
// The test fails, saying where the record stopped, if the record errors or
// is deleted on the way (unless that is st), if it waits for something the
// World does not do by itself (Active needs the user's first sign-in: see
// [World.SignIn]), or if nothing more is due.
func (w *World) AdvanceUntil(ctx context.Context, login string, st fulfillment.Status) fulfillment.Record {
	w.tb.Helper()
	id := w.User(login).ID
	var lastErr error
	for pass := 0; pass < maxPasses; pass++ {
		rep := w.Sync(ctx)
		mine := false
		for _, f := range rep.Failures {
			if f.UserID == id {
				lastErr, mine = f.Err, true
			}
		}
		rec, err := w.Service.Status(ctx, id)
		switch {
		case errors.Is(err, fulfillment.ErrRecordNotFound):
			w.fail("AdvanceUntil(%s, %s): nothing is on order for the user", login, st)
			return rec
		case err != nil:
			lastErr, mine = err, true
		}
		settled := !rec.Step.Intent()
		if rec.Status == st && settled && (st != fulfillment.Shipped || rec.Step == fulfillment.StepPINSent) {
			return rec
		}
		if settled && !mine {
			if why := stopped(rec, st); why != "" {
				w.fail("AdvanceUntil(%s, %s): %s", login, st, why)
				return rec
			}
		}
		next, ok := w.Yubico.NextTransition()
		if until := rec.Lease.Until; rec.Step.Intent() && until.After(w.Now()) && (!ok || until.Before(next)) {
			next, ok = until, true
		}
		if check, waits := rec.DueAt(); waits && check.After(w.Now()) && (!ok || check.Before(next)) {
			next, ok = check, true // the Service reads Yubico on its schedule, not at each transition
		}
		switch {
		case ok:
			w.SetNow(next)
		case rep.Advanced == 0 && !mine:
			w.fail("AdvanceUntil(%s, %s): the record is %s at step %s and nothing more is due%s", login, st, rec.Status, rec.Step, reason(rec, lastErr))
			return rec
		}
	}
	w.fail("AdvanceUntil(%s, %s): not reached after %d passes%s", login, st, maxPasses, reason(fulfillment.Record{}, lastErr))
	return fulfillment.Record{}
}

// stopped says why a settled record cannot reach st by itself, or "".
func stopped(rec fulfillment.Record, st fulfillment.Status) string {
	switch {
	case rec.Status == fulfillment.FulfillmentErrored && st != fulfillment.FulfillmentErrored:
		return fmt.Sprintf("the record errored at step %s%s", rec.FailedStep, reason(rec, nil))
	case rec.Step == fulfillment.StepManagedElsewhere:
		return "the Service leaves the key to another tool" + reason(rec, nil)
	case rec.Status == fulfillment.Deleted && st != fulfillment.Deleted:
		return "the record is deleted" + reason(rec, nil)
	case rec.Status == fulfillment.Active && st != fulfillment.Active:
		return "the record is already Active"
	case rec.Status == fulfillment.Shipped && rec.Step == fulfillment.StepPINSent && st == fulfillment.Active:
		return "the key is Shipped and waits for the user's first sign-in (World.SignIn)"
	}
	return ""
}

// reason formats a record's reason and an error for a failure message.
func reason(rec fulfillment.Record, err error) string {
	s := ""
	if rec.Reason != "" {
		s += fmt.Sprintf(" (reason %q)", rec.Reason)
	}
	if err != nil {
		s += fmt.Sprintf("; last error: %v", err)
	}
	return s
}

// Status returns the user's record, reconciled with Okta as
// [fulfillment.Service.Status] does; login is the user's login or Okta ID.
// It first waits for the event hooks ([World.AwaitEvents]), so an order
// made at Okta before the call is on record. An error (no record, Okta
// unreachable) fails the test.
func (w *World) Status(ctx context.Context, login string) fulfillment.Record {
	w.tb.Helper()
	w.AwaitEvents(ctx)
	id := w.User(login).ID
	rec, err := w.Service.Status(ctx, id)
	if err != nil {
		w.fail("Status(%s): %v", login, err)
	}
	return rec
}

// WantStatus fails the test unless the user's record (see [World.Status])
// has status st, and returns the record.
func (w *World) WantStatus(ctx context.Context, login string, st fulfillment.Status) fulfillment.Record {
	w.tb.Helper()
	rec := w.Status(ctx, login)
	if rec.Status != st {
		w.fail("user %s is %s at step %s%s, want %s", login, rec.Status, rec.Step, reason(rec, nil), st)
	}
	return rec
}

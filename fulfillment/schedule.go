package fulfillment

import (
	"time"

	"github.com/preenroll/preenroll/yubico"
)

// The schedule of the two steps at which a record waits for the outside
// world: a shipment that has not shipped yet (StepShipmentCreated, read at
// Yubico) and a shipped key awaiting its first sign-in (StepPINSent, read
// at Okta, and its parcel at Yubico). A record there carries the time of
// its next check (Record.NextCheck); Sync skips it until then, so a pass
// costs remote calls only for the records whose next change may have come.
// The times follow Yubico's published timeline (docs/yubico.md §Timeline):
// address validation every 15 minutes, orders processed once a day at
// 03:00 Pacific (read half an hour later), no webhooks and polling "once
// or twice a day".

const (
	// validationCheck is when a new shipment is first read: Yubico
	// validates addresses every 15 minutes, and an undeliverable address
	// shows then (state 7).
	validationCheck = 15 * time.Minute
	// yubicoPoll is the least time between two reads of a shipment sent
	// to fulfillment (state 10 and later, not shipped) and of a shipped
	// key's parcel until it is delivered: Yubico recommends polling once
	// or twice a day.
	yubicoPoll = 12 * time.Hour
	// signInCheckMax caps the space between two first-sign-in checks of a
	// shipped key.
	signInCheckMax = 24 * time.Hour
	// batchHour is the hour of Yubico's daily fulfillment batch, in
	// batchLocation.
	batchHour = 3
	// batchSettle is how long after batchHour a waiting shipment is read:
	// Yubico publishes when the batch starts, not how long it runs, and a
	// read made before it reached the shipment would find it still
	// editable and wait for the next day's batch.
	batchSettle = 30 * time.Minute
)

// batchLocation is the time zone of Yubico's daily batch (Pacific time;
// a fixed UTC-8 zone if the time zone database is missing).
var batchLocation = func() *time.Location {
	loc, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		return time.FixedZone("PST", -8*3600)
	}
	return loc
}()

// due reports whether rec is to be looked at now ([Record.DueAt], from
// the table of schedules in due.go).
func (s *Service) due(rec Record) bool {
	due, _ := rec.dueBy(s.now())
	return due
}

// later returns now+d, less a tenth of the part of d that Run's ticker
// covers, so that a check falls due on the tick that comes d after the
// last one rather than one tick later.
func (s *Service) later(now time.Time, d time.Duration) time.Time {
	return now.Add(d - min(d, s.pollInterval)/10)
}

// nextShipmentPoll returns when a shipment that has not shipped, read in
// state st at now, is read next: 15 minutes after its creation (address
// validation), then just after Yubico's next daily batch while it can
// still be edited (state ≤ 9: awaiting validation or fulfillment), then every
// max(PollInterval, 12 h) until it ships.
func (s *Service) nextShipmentPoll(rec Record, now time.Time, st yubico.ShipmentState) time.Time {
	if st.Editable() {
		if first := changedAt(rec, StepShipmentCreating).Add(validationCheck); now.Before(first) {
			return first
		}
		return nextBatch(now)
	}
	return s.later(now, max(s.pollInterval, yubicoPoll))
}

// nextBatch returns when a shipment waiting for Yubico's daily batch is
// read next: the first 03:30 Pacific time (batchHour plus batchSettle)
// strictly after now.
func nextBatch(now time.Time) time.Time {
	l := now.In(batchLocation)
	at := func() time.Time {
		return time.Date(l.Year(), l.Month(), l.Day(), batchHour, 0, 0, 0, batchLocation).Add(batchSettle)
	}
	b := at()
	for !b.After(now) {
		l = l.AddDate(0, 0, 1)
		b = at()
	}
	return b
}

// nextSignInCheck returns when a shipped key awaiting its first sign-in,
// checked at now, is checked next: after half the time since its parcel
// was seen delivered (or, before that, since its PIN was sent), at least
// Config.PollInterval and at most a day. Keys are mostly used soon after
// they arrive or long after; the backoff keeps the Okta calls of a large
// fleet of unused keys low. [Service.Status] and [Service.Check] look at
// once.
func (s *Service) nextSignInCheck(rec Record, now time.Time) time.Time {
	since := rec.DeliveredAt
	if since.IsZero() {
		since = changedAt(rec, StepPINSending)
	}
	return s.later(now, min(max(now.Sub(since)/2, s.pollInterval), signInCheckMax))
}

// changedAt returns when rec last reached step (the time of its last
// history entry at step), or its UpdatedAt if no entry is.
func changedAt(rec Record, step Step) time.Time {
	for i := len(rec.History) - 1; i >= 0; i-- {
		if rec.History[i].Step == step {
			return rec.History[i].At
		}
	}
	return rec.UpdatedAt
}

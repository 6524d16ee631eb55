package fulfillment

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"time"

	"github.com/preenroll/preenroll/okta"
)

// CatchUpReport is what [Service.CatchUp] did.
type CatchUpReport struct {
	// Since and Until bound the events read (by their published time,
	// which is Okta's clock): Until is Okta's time when the pass began, as
	// the System Log client knows it ([okta.Client.Now]: its clock
	// corrected by the Date of Okta's answers, those of this pass
	// included), so that a Service whose clock is ahead of Okta's misses
	// no event by starting its next pass from it.
	Since, Until time.Time
	// Events is how many system.mfa.preregister.initiate events Okta's
	// System Log returned.
	Events int
	// Outcomes counts what RecordEvent did with them, by outcome; an
	// event too malformed to record counts as Skipped instead.
	Outcomes map[EventOutcome]int
	// Skipped is how many events were malformed (logged, never recorded).
	Skipped int
	// Through is the published time of the last event the pass read and
	// handled (recorded, found a duplicate or in flight, or skipped),
	// zero when it handled none. The events are read oldest first
	// (okta.Client.ListLogEvents asks for sortOrder=ASCENDING), so a pass
	// that failed part way has handled every event published before
	// Through: [Service.CatchUpFromCheckpoint] keeps its place there, and
	// the next pass does not read them again.
	Through time.Time
}

// Recorded is how many new orders the pass recorded: orders whose event
// hook delivery never arrived.
func (r CatchUpReport) Recorded() int { return r.Outcomes[EventRecorded] }

// SystemLogRetention is how long Okta keeps its System Log
// (https://developer.okta.com/docs/reference/system-log-query/): a
// [Service.CatchUp] reads no further back.
const SystemLogRetention = 90 * 24 * time.Hour

// CatchUpOverlap is how far before the previous pass's Until a
// [Service.CatchUp] should start: Okta's bounded System Log queries select
// events by their published time, and an event is stored (and found) a
// little after it is published.
const CatchUpOverlap = 5 * time.Minute

// CatchUp reads the system.mfa.preregister.initiate events that Okta's
// System Log holds, published from since up to now, oldest first, and
// records each as the event hook would have ([Service.RecordEvent]): an
// event handled before (by its uuid, in the Store) is a duplicate and an
// order in flight is left alone, so catching up over events the hook did
// deliver changes nothing. It is the safety net for deliveries Okta gave
// up on: Okta tries an event hook delivery twice at most, so an order
// placed while every instance was down, or while their store was, is
// found only here.
//
// Now is Okta's clock as the client reading the System Log knows it
// ([okta.Client.Now]), not the Service's Clock: the events' published
// times are Okta's, and a since taken from a clock ahead of Okta's would
// skip the events in between.
//
// It stops at the first event that cannot be recorded (the store or Okta
// failing) and returns the error with the report so far; call it again
// from the same since. A zero since records nothing: the report's Until
// is where a program that never caught up before starts (events before it
// were never meant for this Service's event hook), on Okta's clock (one
// request of one event learns it, and fails as a catch-up would: a
// missing grant shows at once), and a since more than
// [SystemLogRetention] ago starts there. It reads with Config.SystemLog
// (or Config.Okta): an OAuth service app needs the okta.logs.read scope
// (an API token's admin reads it); without it the error wraps
// okta.ErrForbidden. Events reach the System Log a little after they are
// published: start each pass [CatchUpOverlap] before the previous one's
// Until (the events seen twice are duplicates).
func (s *Service) CatchUp(ctx context.Context, since time.Time) (CatchUpReport, error) {
	began := s.now()
	rep := CatchUpReport{Since: since, Until: s.syslog.Now(), Outcomes: map[EventOutcome]int{}}
	if oldest := rep.Until.Add(-SystemLogRetention); since.Before(oldest) && !since.IsZero() {
		s.log.LogAttrs(ctx, slog.LevelWarn, "fulfillment: catch up: Okta keeps its System Log 90 days: the events before are not read",
			slog.Time("since", since), slog.Time("from", oldest))
		rep.Since = oldest
	}
	if since.IsZero() {
		// The first catch-up records nothing, but asks Okta once: Until
		// is then Okta's clock, not this one's, and a missing
		// okta.logs.read grant shows at the first start, not at the first
		// real pass. Okta's Date headers are in whole seconds: a second
		// earlier, so that the start is never after Okta's now.
		if err := s.learnOktasClock(ctx, rep.Until); err != nil {
			return rep, err
		}
		rep.Until = s.syslog.Now().Add(-time.Second)
		return rep, nil
	}
	if !rep.Since.Before(rep.Until) {
		// Since is where a catch-up on Okta's clock stopped: this client
		// may not know that clock yet (Okta's ahead of this one's).
		if err := s.learnOktasClock(ctx, rep.Until); err != nil {
			return rep, err
		}
		if rep.Until = s.syslog.Now(); !rep.Since.Before(rep.Until) {
			return rep, nil
		}
	}
	err := s.catchUp(ctx, &rep)
	// Until was the client's own clock if Okta had not answered it before:
	// Okta's time when the pass began, as this pass's answers told it, may
	// be earlier (the clocks' difference is the Service's to the client's,
	// which are one clock but in tests).
	if oktaBegan := s.syslog.Now().Add(-s.now().Sub(began)); oktaBegan.Before(rep.Until) {
		rep.Until = oktaBegan
	}
	if err != nil {
		return rep, err
	}
	if n := rep.Recorded(); n > 0 {
		s.log.LogAttrs(ctx, slog.LevelWarn, "fulfillment: catch up: orders recorded from Okta's System Log (their event hook deliveries never arrived)",
			slog.Int("recorded", n), slog.Time("since", since), slog.Time("until", rep.Until))
	}
	return rep, nil
}

// orderFilter selects the orders in Okta's System Log.
var orderFilter = okta.LogFilterEventType(okta.EventTypePreregisterInitiate)

// orderEvents lists the orders Okta's System Log holds, published from
// since to until, limit a page.
func (s *Service) orderEvents(ctx context.Context, since, until time.Time, limit int) iter.Seq2[okta.LogEvent, error] {
	return s.syslog.ListLogEvents(ctx, okta.LogQuery{Since: since, Until: until, Filter: orderFilter, Limit: limit})
}

// learnOktasClock asks Okta's System Log for one event of the minute
// before now (not recorded), so that the client knows Okta's clock.
func (s *Service) learnOktasClock(ctx context.Context, now time.Time) error {
	for _, err := range s.orderEvents(ctx, now.Add(-time.Minute), now, 1) {
		if err != nil {
			return fmt.Errorf("fulfillment: catch up: read Okta's System Log: %w", err)
		}
		break
	}
	return nil
}

// catchUp reads the events of rep's bounds and records them, counting in
// rep.
func (s *Service) catchUp(ctx context.Context, rep *CatchUpReport) error {
	for ev, err := range s.orderEvents(ctx, rep.Since, rep.Until, catchUpPage) {
		if err != nil {
			return fmt.Errorf("fulfillment: catch up: read Okta's System Log: %w", err)
		}
		rep.Events++
		he, ok := s.hookEvent(ctx, ev)
		if !ok {
			rep.Skipped++
		} else {
			out, err := s.RecordEvent(ctx, he)
			if out == EventFailed {
				return fmt.Errorf("fulfillment: catch up: event %s: %w", he.ID, err)
			}
			rep.Outcomes[out]++
		}
		// Only a time inside the query's bounds, never backwards: a
		// published time out of order or out of bounds (a malformed
		// answer) must not move a checkpoint past events not read.
		if p := ev.Published; !p.Before(rep.Since) && !p.After(rep.Until) && !p.Before(rep.Through) {
			rep.Through = p
		}
	}
	return nil
}

// catchUpPage is how many events CatchUp reads a page: a few KiB each,
// well within the client's 1 MiB body limit.
const catchUpPage = 200

package fulfillment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/preenroll/preenroll/okta"
)

// HookEvent is one well-formed system.mfa.preregister.initiate event of an
// Okta event hook delivery, as the event hook handlers read it. Its content
// is only as trustworthy as the delivery's Authorization header:
// [Service.RecordEvent] asks Okta about the user before it records anything.
type HookEvent struct {
	// ID is the event's uuid: the same on every delivery of the event.
	ID string
	// UserID is the Okta user ID of the event's "User" target.
	UserID string
	// Login is the target's alternateId as the event states it (the
	// recorded login is Okta's, read by RecordEvent).
	Login string
	// Items is the order the event's details name (Config.Defaults when
	// they name none).
	Items []Item
	// Published is when Okta says the event happened (zero: unknown). An
	// event published before the user's record was deleted, or at the same
	// instant, reports the order that was deleted, not a new one
	// (EventStale).
	Published time.Time
}

// EventOutcome is what [Service.RecordEvent] did with an event.
type EventOutcome int

// The outcomes of [Service.RecordEvent].
const (
	// EventFailed: the store or Okta could not be asked; nothing was
	// recorded or marked, so the event may be tried again.
	EventFailed EventOutcome = iota
	// EventRecorded: a new order was recorded at step Initiated; Run is woken.
	EventRecorded
	// EventDuplicate: the event was handled before (a redelivery).
	EventDuplicate
	// EventInFlight: the user already has a key in fulfillment (most often
	// the order this event reports was made by Order); one per user.
	EventInFlight
	// EventRejected: Okta does not know the user the event names, or knows
	// it under another ID, or it is deactivated. Nothing is recorded; the
	// error says why and wraps ErrUnknownUser.
	EventRejected
	// EventStale: the event was published before the user's record was
	// deleted, or at the same instant (Okta delivered it late, or again):
	// it reports the order that was deleted and records nothing. An
	// instant is ambiguous only on a clock that stands still, as a test's
	// fake clock does between its steps: there the event of an order
	// deleted at once (Order, then Delete) must not order the key again
	// whenever its delivery comes after the deletion, while a new order
	// is made after the clock moves on.
	EventStale
)

// eventOutcomeNames are the names of the outcomes.
var eventOutcomeNames = map[EventOutcome]string{
	EventFailed: "failed", EventRecorded: "recorded", EventDuplicate: "duplicate", EventInFlight: "in-flight", EventRejected: "rejected",
	EventStale: "stale",
}

// String returns the outcome's name: "failed", "recorded", "duplicate",
// "in-flight", "rejected" or "stale".
func (o EventOutcome) String() string {
	if n, ok := eventOutcomeNames[o]; ok {
		return n
	}
	return fmt.Sprintf("EventOutcome(%d)", int(o))
}

// Errors of event handling.
var (
	// ErrUnknownUser is wrapped by the error of an event [Service.RecordEvent]
	// rejected because Okta does not have the user it names (or has it under
	// another ID, or deactivated).
	ErrUnknownUser = errors.New("fulfillment: event names a user the Okta org does not have")
	// ErrQueueFull is what an enqueue function given to
	// [Service.QueuedEventHandler] returns (wrapped) when it cannot take a
	// delivery now; the handler answers 503 so that Okta delivers again.
	ErrQueueFull = errors.New("fulfillment: event queue is full")
)

// RecordEvent records the order a system.mfa.preregister.initiate event
// asks for, unless it was handled before (by its ID, in the Store) or the
// user already has a key in flight. Before recording a new order it reads
// the user from Okta: an event naming a user Okta does not know (404), a
// user Okta knows under another ID (the event named a login) or a
// DEPROVISIONED user is rejected with an error wrapping ErrUnknownUser, and
// logged at warn with the event's ID and type, the user and the reason (a
// caller need not log it again; a redelivery is rejected again). The
// recorded login is Okta's, not the event's.
//
// A store or Okta failure returns EventFailed with the error, and the
// event can be recorded by a later call: with a Store that is an
// [EventChecker] (every store of this module) the event is marked only
// once its order is saved. A malformed event
// ID is such a failure; a user ID no Okta user can have is rejected. Both
// errors match ErrInvalidID too.
// [Service.EventHandler] calls it for each event of a delivery before
// answering; a program using [Service.QueuedEventHandler] hands the events
// to a queue whose workers call it.
func (s *Service) RecordEvent(ctx context.Context, ev HookEvent) (EventOutcome, error) {
	if err := CheckID("event ID", ev.ID); err != nil {
		return EventFailed, err
	}
	if err := CheckID("user ID", ev.UserID); err != nil {
		// Not an ID Okta can have: asking would only be answered 404.
		return s.rejectEvent(ctx, ev, fmt.Errorf("%w: %w", ErrUnknownUser, err))
	}
	// No per-user lock here: Okta may deliver the event while Order for the
	// same user is waiting on initiate-fulfillment-request. The store's
	// compare-and-swap decides.
	checker, markAfter := s.store.(EventChecker)
	marked, checked := false, false
	login := ev.Login
	for range 3 {
		rec, err := s.store.Get(ctx, ev.UserID)
		switch {
		case errors.Is(err, ErrRecordNotFound):
			rec = Record{UserID: ev.UserID}
		case err != nil:
			return EventFailed, err
		}
		if rec.EventID == ev.ID {
			if markAfter {
				// The order is saved; its mark may not be (a mark that
				// failed after the save).
				if err := s.ensureMarked(ctx, checker, ev.ID); err != nil {
					return EventFailed, err
				}
			}
			return EventDuplicate, nil
		}
		if rec.Status == Deleted && !ev.Published.IsZero() && !ev.Published.After(rec.UpdatedAt) {
			if _, err := s.store.MarkEvent(ctx, ev.ID, s.now()); err != nil {
				return EventFailed, err
			}
			s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: event hook: event older than the record's deletion",
				slog.String("uuid", ev.ID), slog.String("user", ev.UserID), slog.Time("published", ev.Published), slog.Time("deleted", rec.UpdatedAt))
			return EventStale, nil
		}
		if CanOrder(rec.Status) != nil {
			if _, err := s.store.MarkEvent(ctx, ev.ID, s.now()); err != nil {
				return EventFailed, err
			}
			s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: event hook: user already in flight",
				slog.String("uuid", ev.ID), slog.String("user", ev.UserID), slog.String("status", string(rec.Status)))
			return EventInFlight, nil
		}
		if markAfter {
			// Handled before (its order since replaced or deleted, or
			// found in flight)? Asked before Okta is: a duplicate costs no
			// Okta call. The event is marked after the save below.
			seen, err := checker.EventMarked(ctx, ev.ID)
			if err != nil {
				return EventFailed, err
			}
			if seen {
				return EventDuplicate, nil
			}
		}
		if !checked {
			oktaLogin, reject, err := s.checkEventUser(ctx, ev)
			if err != nil {
				return EventFailed, err
			}
			if reject != nil {
				return s.rejectEvent(ctx, ev, reject)
			}
			checked, login = true, oktaLogin
		}
		if !markAfter && !marked {
			first, err := s.store.MarkEvent(ctx, ev.ID, s.now())
			if err != nil {
				return EventFailed, err
			}
			if !first {
				return EventDuplicate, nil // handled before
			}
			marked = true
		}
		started, err := StatusNone.Next(EventEnroll)
		if err != nil {
			return EventFailed, err
		}
		rec = Record{UserID: ev.UserID, Login: login, Status: started, Step: StepInitiated, Items: ev.Items,
			Attempts: 1, EventID: ev.ID, Version: rec.Version, History: rec.History}
		_, err = s.save(ctx, rec, Change{Reason: "Okta event " + ev.ID})
		if errors.Is(err, ErrVersionConflict) {
			continue
		}
		if err != nil {
			return EventFailed, err
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: order recorded from event",
			slog.String("uuid", ev.ID), slog.String("user", ev.UserID))
		// Run, if it runs, hears the record's change to StepInitiated and
		// starts a pass (runWaker): no wake of its own here.
		if markAfter {
			if _, err := s.store.MarkEvent(ctx, ev.ID, s.now()); err != nil {
				// The order is recorded, under the event's ID: a
				// redelivery finds it there and marks the event then.
				s.log.LogAttrs(ctx, slog.LevelWarn, "fulfillment: event hook: order recorded, event not marked",
					slog.String("uuid", ev.ID), slog.String("error", err.Error()))
			}
		}
		return EventRecorded, nil
	}
	return EventFailed, fmt.Errorf("fulfillment: event %s: record of %q keeps changing", ev.ID, ev.UserID)
}

// ensureMarked marks the event unless it is marked.
func (s *Service) ensureMarked(ctx context.Context, checker EventChecker, eventID string) error {
	seen, err := checker.EventMarked(ctx, eventID)
	if err != nil || seen {
		return err
	}
	_, err = s.store.MarkEvent(ctx, eventID, s.now())
	return err
}

// rejectEvent logs why ev creates no work (at warn, with the event's ID
// and type and the user's ID: the one line an operator gets, a program
// embedding the Service adds no line of its own) and returns EventRejected
// with reject.
func (s *Service) rejectEvent(ctx context.Context, ev HookEvent, reject error) (EventOutcome, error) {
	s.log.LogAttrs(ctx, slog.LevelWarn, "fulfillment: event hook: event rejected",
		slog.String("uuid", truncateID(ev.ID)), slog.String("eventType", okta.EventTypePreregisterInitiate),
		slog.String("user", truncateID(ev.UserID)), slog.String("reason", reject.Error()))
	return EventRejected, reject
}

// checkEventUser asks Okta about the event's user. reject (wrapping
// ErrUnknownUser) says why the event must not create work; err is a failure
// to ask.
func (s *Service) checkEventUser(ctx context.Context, ev HookEvent) (login string, reject, err error) {
	u, err := s.okta.GetUser(ctx, ev.UserID)
	if err != nil {
		if definite(err) {
			return "", fmt.Errorf("%w: Okta answers for user %q: %v", ErrUnknownUser, truncateValue(ev.UserID), err), nil
		}
		return "", nil, fmt.Errorf("fulfillment: event %s: check user with Okta: %w", ev.ID, err)
	}
	switch {
	case u.ID != ev.UserID:
		return "", fmt.Errorf("%w: the event names %q, which is not a user ID (Okta's user is %s)", ErrUnknownUser, truncateValue(ev.UserID), u.ID), nil
	case u.Status == "DEPROVISIONED":
		return "", fmt.Errorf("%w: user %s is deactivated", ErrUnknownUser, u.ID), nil
	}
	return u.Profile.Login, nil, nil
}

// hookEvent turns a delivered event into a HookEvent; ok is false (and the
// event is logged) for another event type or a malformed event.
func (s *Service) hookEvent(ctx context.Context, ev okta.LogEvent) (HookEvent, bool) {
	if ev.EventType != okta.EventTypePreregisterInitiate {
		s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: event hook: ignored event type",
			slog.String("eventType", truncateValue(ev.EventType)), slog.String("uuid", truncateID(ev.UUID)))
		return HookEvent{}, false
	}
	userID, login, items, err := s.eventOrder(ev)
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "fulfillment: event hook: malformed event skipped",
			slog.String("uuid", truncateID(ev.UUID)), slog.String("error", err.Error()))
		return HookEvent{}, false
	}
	return HookEvent{ID: ev.UUID, UserID: userID, Login: login, Items: items, Published: ev.Published}, true
}

// QueuedEventHandler returns an Okta event hook handler that checks and
// answers exactly as [Service.EventHandler] does (Authorization in constant
// time, the verification GET, the body's size, type and shape), but instead
// of recording the events before answering it hands the well-formed
// system.mfa.preregister.initiate events of a delivery to enqueue and
// answers 200 at once; enqueue must not block. Its workers record them with
// [Service.RecordEvent]. When enqueue returns an error the handler answers
// 503 (with Retry-After) if it wraps ErrQueueFull and 500 otherwise, so
// that Okta delivers again. A delivery without such events is answered 200
// without calling enqueue.
func (s *Service) QueuedEventHandler(enqueue func(ctx context.Context, events []HookEvent) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveHook(w, r, enqueue)
	})
}

package fulfillment

import (
	"errors"
	"fmt"
	"strings"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/yubico"
)

// Status is where one pre-enrolled key stands in its lifecycle. The zero
// value, StatusNone, means no key has been ordered.
type Status string

// The statuses of a pre-enrolled key. Every change between them goes through
// the transition table behind [Status.Next].
const (
	// StatusNone is the zero Status: no key is on order for the user.
	StatusNone Status = ""
	// FulfillmentStarted: Okta enrolled the factor and a shipment was (or is
	// being) created at Yubico; the key is being programmed or shipped.
	FulfillmentStarted Status = "FULFILLMENT_STARTED"
	// FulfillmentErrored: a step failed and the enrollment was marked
	// errored; it can be retried.
	FulfillmentErrored Status = "FULFILLMENT_ERRORED"
	// Shipped: the key shipped, Okta activated the enrollment and holds the
	// PIN, which may be (re)sent until the user's first sign-in.
	Shipped Status = "SHIPPED"
	// Active: the user signed in with the key; the PIN is gone.
	Active Status = "ACTIVE"
	// Deleted: the enrollment and its credentials were deleted and the
	// shipment cancelled. Deleted is terminal.
	Deleted Status = "DELETED"
)

// Statuses returns the five statuses of a key, in lifecycle order (a new
// slice each call).
func Statuses() []Status {
	return []Status{FulfillmentStarted, FulfillmentErrored, Shipped, Active, Deleted}
}

// Valid reports whether s is one of the five statuses (StatusNone is not).
func (s Status) Valid() bool {
	switch s {
	case FulfillmentStarted, FulfillmentErrored, Shipped, Active, Deleted:
		return true
	}
	return false
}

// Terminal reports whether no event can move s anywhere (only Deleted).
func (s Status) Terminal() bool { return s == Deleted }

// labels are the Labels of the statuses.
var labels = map[Status]string{
	StatusNone: "Not ordered", FulfillmentStarted: "Fulfillment started", FulfillmentErrored: "Fulfillment errored",
	Shipped: "Shipped", Active: "Active", Deleted: "Deleted",
}

// Label is the human text for s, as an administrator's console shows it
// ("Fulfillment started", ...). StatusNone is "Not ordered"; an unknown
// status is returned quoted.
func (s Status) Label() string {
	if l, ok := labels[s]; ok {
		return l
	}
	return fmt.Sprintf("%q", string(s))
}

// name is s for error messages: "none" for the zero status.
func (s Status) name() string {
	if s == StatusNone {
		return "none"
	}
	return string(s)
}

// Event is something that happens to a key and may change its Status.
type Event string

// The events of the lifecycle.
const (
	// EventEnroll: the key is ordered and Okta enrolls the factor
	// (none → FulfillmentStarted).
	EventEnroll Event = "enroll"
	// EventFail: a step failed and the enrollment is marked errored
	// (FulfillmentStarted or Shipped → FulfillmentErrored; marking an
	// errored enrollment again keeps it FulfillmentErrored).
	EventFail Event = "fail"
	// EventRetry: an errored enrollment is retried from the point of
	// failure (FulfillmentErrored → FulfillmentStarted).
	EventRetry Event = "retry"
	// EventShip: the shipment shipped and Okta activated the enrollment
	// (FulfillmentStarted → Shipped).
	EventShip Event = "ship"
	// EventResendPIN: the PIN is sent again; only while Shipped
	// (Shipped → Shipped).
	EventResendPIN Event = "resend-pin"
	// EventSignIn: the user's first sign-in with the key
	// (Shipped → Active); Okta wipes the PIN.
	EventSignIn Event = "sign-in"
	// EventDelete: the enrollment is deleted and the shipment cancelled
	// (any non-terminal status → Deleted).
	EventDelete Event = "delete"
)

// allEvents returns every Event (a new slice each call).
func allEvents() []Event {
	return []Event{EventEnroll, EventFail, EventRetry, EventShip, EventResendPIN, EventSignIn, EventDelete}
}

// transitions is THE transition table: for each event, the status it leads
// to and the statuses it is allowed from. Nothing else decides a move.
var transitions = map[Event]struct {
	to   Status
	from []Status
}{
	EventEnroll:    {FulfillmentStarted, []Status{StatusNone}},
	EventFail:      {FulfillmentErrored, []Status{FulfillmentStarted, FulfillmentErrored, Shipped}},
	EventRetry:     {FulfillmentStarted, []Status{FulfillmentErrored}},
	EventShip:      {Shipped, []Status{FulfillmentStarted}},
	EventResendPIN: {Shipped, []Status{Shipped}},
	EventSignIn:    {Active, []Status{Shipped}},
	EventDelete:    {Deleted, []Status{FulfillmentStarted, FulfillmentErrored, Shipped, Active}},
}

// ErrInvalidTransition is wrapped by every *TransitionError.
var ErrInvalidTransition = errors.New("fulfillment: invalid status transition")

// ErrOrderInFlight is wrapped by the error [CanOrder] returns while a key is
// still in fulfillment.
var ErrOrderInFlight = errors.New("fulfillment: a key is already in fulfillment for this user")

// ErrUnknownStatus is wrapped by errors about a Status that is not one of
// the five (nor StatusNone).
var ErrUnknownStatus = errors.New("fulfillment: unknown status")

// ErrUnknownEvent is wrapped by errors about an Event that is not one of
// the Event constants (EventEnroll ... EventDelete).
var ErrUnknownEvent = errors.New("fulfillment: unknown event")

// TransitionError reports an event that is not allowed from a status. To is
// the status the event leads to when it is allowed (empty for an unknown
// event). It wraps ErrInvalidTransition, and ErrUnknownStatus or
// ErrUnknownEvent when From or Event is not known.
type TransitionError struct {
	From  Status // the status the event was applied to
	Event Event  // the event
	To    Status // where the event leads when allowed; empty for an unknown event
}

// Error names the event, the from-status and the to-status, and why the
// move is refused when a rule explains it.
func (e *TransitionError) Error() string {
	if _, ok := transitions[e.Event]; !ok {
		return fmt.Sprintf("fulfillment: invalid status transition: unknown event %q from %s", string(e.Event), e.From.name())
	}
	msg := fmt.Sprintf("fulfillment: invalid status transition: event %q from %s to %s", string(e.Event), e.From.name(), e.To.name())
	if e.From != StatusNone && !e.From.Valid() {
		return fmt.Sprintf("fulfillment: invalid status transition: event %q from unknown status %q to %s", string(e.Event), string(e.From), e.To.name())
	}
	switch {
	case e.From == Deleted:
		msg += " (deleted is terminal)"
	case e.Event == EventResendPIN && e.From == Active:
		msg += " (the PIN is gone after the first sign-in)"
	case e.Event == EventResendPIN:
		msg += " (the PIN can be resent only while shipped)"
	case e.Event == EventEnroll:
		msg += " (a key is already ordered)"
	case e.Event == EventRetry:
		msg += " (only an errored key can be retried)"
	}
	return msg
}

// Unwrap returns ErrInvalidTransition, plus ErrUnknownStatus or
// ErrUnknownEvent when they apply.
func (e *TransitionError) Unwrap() []error {
	errs := []error{ErrInvalidTransition}
	if e.From != StatusNone && !e.From.Valid() {
		errs = append(errs, ErrUnknownStatus)
	}
	if _, ok := transitions[e.Event]; !ok {
		errs = append(errs, ErrUnknownEvent)
	}
	return errs
}

// Next returns the status that event e leads to from s, or a
// *TransitionError (wrapping ErrInvalidTransition) if the table does not
// allow it. The rules:
//   - errored → retry → started;
//   - the PIN can be resent only while Shipped (a self-transition); at
//     Active it is gone;
//   - delete from any non-terminal status; Deleted is terminal.
func (s Status) Next(e Event) (Status, error) {
	t, ok := transitions[e]
	if !ok {
		return s, &TransitionError{From: s, Event: e}
	}
	for _, from := range t.from {
		if from == s {
			return t.to, nil
		}
	}
	return s, &TransitionError{From: s, Event: e, To: t.to}
}

// Can reports whether event e is allowed from s.
func (s Status) Can(e Event) bool {
	_, err := s.Next(e)
	return err == nil
}

// CanOrder reports whether a user whose current key is in status current may
// get a new order. A key in FulfillmentStarted, FulfillmentErrored or Shipped
// blocks a new order (the error wraps ErrOrderInFlight) until it is Active or
// Deleted; StatusNone, Active and Deleted allow it. An unknown status is
// refused with an error wrapping ErrUnknownStatus.
func CanOrder(current Status) error {
	switch current {
	case StatusNone, Active, Deleted:
		return nil
	case FulfillmentStarted, FulfillmentErrored, Shipped:
		return fmt.Errorf("%w (current key %s; wait until it is active or delete it)", ErrOrderInFlight, current.Label())
	}
	return fmt.Errorf("%w %q: cannot decide whether a new order is allowed", ErrUnknownStatus, string(current))
}

// StatusFromOkta maps an Okta enrollment status and its
// profile.presetPinAvailable to a Status:
//
//	FULFILLMENT_PENDING          → FulfillmentStarted
//	FULFILLMENT_ERRORED          → FulfillmentErrored
//	ACTIVE, presetPinAvailable   → Shipped (Okta still holds the PIN)
//	ACTIVE, !presetPinAvailable  → Active  (first sign-in happened)
//
// Decision (not documented by Okta; docs/decisions.md §Okta enrollment
// statuses): Shipped and Active are told apart by
// presetPinAvailable, which is true until the first successful sign-in. Any
// other status string (Okta adds values without notice) returns ok=false; it
// is never an error. Matching ignores case and surrounding spaces.
func StatusFromOkta(status okta.EnrollmentStatus, presetPinAvailable bool) (s Status, ok bool) {
	switch okta.EnrollmentStatus(strings.ToUpper(strings.TrimSpace(string(status)))) {
	case okta.StatusFulfillmentPending:
		return FulfillmentStarted, true
	case okta.StatusFulfillmentErrored:
		return FulfillmentErrored, true
	case okta.StatusActive:
		if presetPinAvailable {
			return Shipped, true
		}
		return Active, true
	}
	return StatusNone, false
}

// statusFromYubicoState maps a Yubico shipment state to the Status it
// implies for the key:
//
//	3, 10                       → FulfillmentStarted
//	103, 104                    → Shipped (the responses are ready to activate)
//	1, 6, 7, 8, 9, 99, 105, 106 → FulfillmentErrored
//
// Any other state returns ok=false: Yubico publishes no complete table
// (docs/yubico.md §Shipment states), so an unknown state is neither
// progress nor failure.
func statusFromYubicoState(state yubico.ShipmentState) (s Status, ok bool) {
	switch {
	case state.ResponsesReady():
		return Shipped, true
	case state.Failed():
		return FulfillmentErrored, true
	case state.Known():
		return FulfillmentStarted, true
	}
	return StatusNone, false
}

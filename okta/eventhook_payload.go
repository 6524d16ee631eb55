package okta

import (
	"encoding/json"
	"time"
)

// The shapes of an event hook delivery: the envelope Okta POSTs to a hook
// and the System Log events it carries
// (https://developer.okta.com/docs/concepts/event-hooks/, and the LogEvent
// object of https://developer.okta.com/docs/api/openapi/okta-management/management/tag/SystemLog/).
// A receiver decodes a delivery into [EventHookDelivery]; oktatest encodes
// its deliveries from the same types. Members not listed here are not kept.

// EventTypePreregisterInitiate is the System Log event type Okta emits when
// initiate-fulfillment-request asks for a pre-enrolled key
// ([Client.InitiateFulfillment]); subscribe an event hook to it to learn of
// orders.
const EventTypePreregisterInitiate = "system.mfa.preregister.initiate"

// EventHookDeliveryType is the eventType of every event hook delivery's
// envelope (the events inside carry their own types).
const EventHookDeliveryType = "com.okta.event_hook"

// EventHookDelivery is the JSON body of one event hook delivery.
type EventHookDelivery struct {
	// EventType is [EventHookDeliveryType].
	EventType string `json:"eventType"`
	// EventTypeVersion is the envelope's version, "1.0".
	EventTypeVersion string `json:"eventTypeVersion"`
	// CloudEventsVersion is "0.1".
	CloudEventsVersion string `json:"cloudEventsVersion"`
	// Source is the URL of the event hook that sent the delivery.
	Source string `json:"source"`
	// EventID identifies the delivery (not the events in it).
	EventID string `json:"eventId"`
	// Data holds the events; nil when the body has no data member.
	Data *EventHookData `json:"data"`
	// EventTime is when Okta sent the delivery.
	EventTime time.Time `json:"eventTime"`
	// ContentType is "application/json".
	ContentType string `json:"contentType"`
}

// EventHookData is the data member of a delivery.
type EventHookData struct {
	// Events are the System Log events delivered.
	Events []LogEvent `json:"events"`
}

// LogEvent is a System Log event as an event hook delivers it.
type LogEvent struct {
	// UUID identifies the event; Okta may deliver an event more than once.
	UUID string `json:"uuid"`
	// Published is when the event happened.
	Published time.Time `json:"published"`
	// EventType is the event's type, e.g. [EventTypePreregisterInitiate].
	EventType string `json:"eventType"`
	// Version is the event schema's version, "0".
	Version string `json:"version"`
	// DisplayMessage describes the event for people.
	DisplayMessage string `json:"displayMessage"`
	// Severity is DEBUG, INFO, WARN or ERROR.
	Severity string `json:"severity"`
	// LegacyEventType is the event's type in Okta's older event API, if any.
	LegacyEventType *string `json:"legacyEventType"`
	// Actor is who (or what) caused the event.
	Actor LogTarget `json:"actor"`
	// Outcome is the event's result, nil if not given.
	Outcome *LogOutcome `json:"outcome"`
	// Target are the objects the event is about; for
	// system.mfa.preregister.initiate a User and the preregistration
	// details (DetailEntry: fulfillmentProvider, yubicoProductId, …).
	Target []LogTarget `json:"target"`
	// DebugContext carries the request's debug data.
	DebugContext LogDebugContext `json:"debugContext"`
	// Transaction is the request that caused the event, nil if not given.
	Transaction *LogTransaction `json:"transaction"`
}

// LogTarget is an actor or target of a System Log event.
type LogTarget struct {
	// ID is the object's ID (a user ID for Type "User").
	ID string `json:"id"`
	// Type is the object's type, e.g. "User".
	Type string `json:"type"`
	// AlternateID is a second identifier, e.g. a user's login.
	AlternateID string `json:"alternateId"`
	// DisplayName names the object for people.
	DisplayName string `json:"displayName"`
	// DetailEntry holds further details; values are any JSON.
	DetailEntry map[string]any `json:"detailEntry"`
}

// LogOutcome is a System Log event's result.
type LogOutcome struct {
	// Result is SUCCESS, FAILURE, SKIPPED, ALLOW, DENY, CHALLENGE or
	// UNKNOWN.
	Result string `json:"result"`
	// Reason says why, if Okta says.
	Reason *string `json:"reason"`
}

// LogDebugContext is a System Log event's debug context.
type LogDebugContext struct {
	// DebugData is free-form; values are any JSON.
	DebugData map[string]any `json:"debugData"`
}

// LogTransaction is the request or job behind a System Log event.
type LogTransaction struct {
	// Type is "WEB" for a request or "JOB".
	Type string `json:"type"`
	// ID is the request's ID (X-Okta-Request-Id) or the job's.
	ID string `json:"id"`
	// Detail holds further details.
	Detail map[string]any `json:"detail"`
}

// oktaTimeLayout is how Okta writes times: milliseconds, UTC, "Z".
const oktaTimeLayout = "2006-01-02T15:04:05.000Z"

// MarshalJSON encodes the envelope with EventTime as Okta writes times
// ("2013-07-02T21:36:25.344Z").
func (d EventHookDelivery) MarshalJSON() ([]byte, error) {
	type plain EventHookDelivery
	return json.Marshal(struct {
		plain
		EventTime string `json:"eventTime"`
	}{plain(d), d.EventTime.UTC().Format(oktaTimeLayout)})
}

// MarshalJSON encodes the event with Published as Okta writes times
// ("2013-07-02T21:36:25.344Z").
func (e LogEvent) MarshalJSON() ([]byte, error) {
	type plain LogEvent
	return json.Marshal(struct {
		plain
		Published string `json:"published"`
	}{plain(e), e.Published.UTC().Format(oktaTimeLayout)})
}

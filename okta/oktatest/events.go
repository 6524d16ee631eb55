package oktatest

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/preenroll/preenroll/okta"
)

// Event is an event the fake emitted (a System Log event; those that are
// event-hook eligible are also delivered to event hooks).
type Event struct {
	UUID      string    // the event's uuid
	Published time.Time // fake-clock time
	EventType string    // e.g. system.mfa.preregister.initiate
	UserID    string    // the user it is about
	UserLogin string    // that user's login
	// GroupID is set for group membership events.
	GroupID string
	// EnrollmentID is set for enrollment events.
	EnrollmentID string
	// FulfillmentProvider and Order are set for system.mfa.preregister.initiate.
	FulfillmentProvider string
	Order               okta.FulfillmentOrder // see FulfillmentProvider
	// RequestID is the X-Okta-Request-Id of the request that caused it.
	RequestID string
}

// Events returns every event emitted so far, in order.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.events.All()
}

// emitLocked records an event and queues it for the callback and the hooks
// of the request in x (dispatched after the handler, outside the lock).
func (s *Server) emitLocked(x *exchange, e Event) {
	e.UUID = uuid.Must(uuid.NewRandomFromReader(s.rand)).String()
	e.Published = s.now()
	e.RequestID = x.id
	s.events.Add(e)
	x.events = append(x.events, e)
}

// Email is a message in the org's outbox (the users' mailboxes).
type Email struct {
	Time    time.Time // fake-clock time
	To      string    // recipient address
	Subject string    // subject line
	Body    string    // plain text; send-pin mail carries the PIN
}

// Outbox returns every email sent so far, in order. send-pin emails carry
// the PIN in the body: that is the user's mailbox.
func (s *Server) Outbox() []Email {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Email(nil), s.outbox...)
}

func (s *Server) sendMailLocked(to, subject, body string) {
	s.outbox = append(s.outbox, Email{Time: s.now(), To: to, Subject: subject, Body: body})
}

// Delivery is one event-hook delivery attempt. A retry is a second
// Delivery with the same EventID and Attempt 2.
type Delivery struct {
	HookID     string   // the hook
	URL        string   // the hook's URL
	EventType  string   // the delivered event's type
	EventUUIDs []string // the delivered events
	// EventID is the envelope's eventId, the same on a retry.
	EventID string
	// Attempt is 1 for the first try, 2 for Okta's one retry.
	Attempt int
	// Status is the hook's HTTP status, 0 if the request failed.
	Status int
	// Err describes a failed delivery (for example a timeout).
	Err  string
	Time time.Time // fake-clock time
}

// Deliveries returns every event-hook delivery attempt so far.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

// AwaitDeliveries blocks until at least n delivery attempts were made (a
// retry is an attempt of its own) or ctx ends, and returns every attempt so
// far. Deliveries run in the background, as Okta delivers event hooks
// asynchronously: the request that emitted an event has its answer before
// any hook is called, so a test that needs the hook's work waits here.
func (s *Server) AwaitDeliveries(ctx context.Context, n int) ([]Delivery, error) {
	return s.awaitDeliveries(ctx, fmt.Sprintf("%d deliveries", n), func() bool { return len(s.deliveries) >= n })
}

// AwaitQueuedDeliveries blocks until every event-hook delivery queued so
// far (by the requests answered before the call) has finished, its retry
// included, or ctx ends, and returns every attempt so far. Use it when the
// number of deliveries is not the point: after it returns, the hooks have
// answered every event emitted before the call.
func (s *Server) AwaitQueuedDeliveries(ctx context.Context) ([]Delivery, error) {
	return s.awaitDeliveries(ctx, "the queued deliveries", func() bool { return s.pendingDeliveries == 0 })
}

// awaitDeliveries waits until done (called under mu) holds.
func (s *Server) awaitDeliveries(ctx context.Context, what string, done func() bool) ([]Delivery, error) {
	for {
		s.mu.Lock()
		if done() {
			out := append([]Delivery(nil), s.deliveries...)
			s.mu.Unlock()
			return out, nil
		}
		ch := s.delivered
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("oktatest: waiting for %s: %w", what, ctx.Err())
		}
	}
}

// logEventFor renders an Event as a System Log event. The raw JSON of
// system.mfa.preregister.initiate is not published; the detail members use
// the names Okta Workflows exposes (fulfillmentProvider, yubicoProductId,
// yubicoInventoryProductId, yubicoCustomizationId).
func (s *Server) logEventFor(e Event, userDisplay string) okta.LogEvent {
	le := okta.LogEvent{
		UUID: e.UUID, Published: e.Published, EventType: e.EventType, Version: "0", Severity: "INFO",
		Actor:       okta.LogTarget{ID: "0oa" + "oktatest000000000", Type: "PublicClientApp", AlternateID: "oktatest", DisplayName: "oktatest API token"},
		Outcome:     &okta.LogOutcome{Result: "SUCCESS"},
		Target:      []okta.LogTarget{{ID: e.UserID, Type: "User", AlternateID: e.UserLogin, DisplayName: userDisplay}},
		Transaction: &okta.LogTransaction{Type: "WEB", ID: e.RequestID, Detail: map[string]any{}},
	}
	debug := map[string]any{"requestId": e.RequestID}
	switch e.EventType {
	case okta.EventTypePreregisterInitiate:
		le.DisplayMessage = "MFA preregistration initiated"
		detail := map[string]any{
			"fulfillmentProvider":      e.FulfillmentProvider,
			"yubicoProductId":          e.Order.ProductID,
			"yubicoInventoryProductId": e.Order.InventoryProductID,
			"yubicoCustomizationId":    e.Order.CustomizationID,
		}
		le.Target = append(le.Target, okta.LogTarget{ID: e.UserID, Type: "PreregistrationMFAFactorResourceDetails",
			AlternateID: "webauthn", DisplayName: "FIDO2 (WebAuthn)", DetailEntry: detail})
		debug["requestUri"] = prereg + "/initiate-fulfillment-request"
		for k, v := range detail {
			debug[k] = v
		}
	case "group.user_membership.add":
		le.DisplayMessage = "Add user to group membership"
		le.Target = append(le.Target, okta.LogTarget{ID: e.GroupID, Type: "UserGroup"})
	default:
		le.DisplayMessage = e.EventType
	}
	le.DebugContext = okta.LogDebugContext{DebugData: debug}
	return le
}

// dispatch runs the event callback for x's events (before the response is
// sent).
func (s *Server) dispatchCallbacks(x *exchange) {
	if s.onEvent == nil {
		return
	}
	for _, e := range x.events {
		s.onEvent(e)
	}
}

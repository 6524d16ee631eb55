package fulfillment

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/preenroll/preenroll/okta"
)

// Limits of the event hook handler.
const (
	maxHookEvents   = 1000 // events in one delivery
	maxChallengeLen = 1024 // x-okta-verification-challenge
)

// EventHandler returns the http.Handler for an Okta event hook
// (https://developer.okta.com/docs/concepts/event-hooks/) subscribed to
// system.mfa.preregister.initiate:
//
//   - Every request must carry an Authorization header equal to
//     Config.EventHookSecret (compared in constant time); otherwise 401,
//     with a warning logged at most once a minute (it counts the refusals
//     in between), since anybody who reaches the hook can send them.
//     With no secret configured every request is refused, and the
//     warning says so (its reason attribute).
//   - GET is Okta's one-time verification: the value of the
//     x-okta-verification-challenge header is echoed as
//     {"verification": "<value>"}.
//   - POST delivers events: a JSON body of at most Config.MaxEventBody bytes
//     (413 beyond), Content-Type application/json (415 otherwise), with
//     data.events (400 if malformed). Each system.mfa.preregister.initiate
//     event goes through [Service.RecordEvent]: unless it was handled
//     before (de-duplicated by uuid) or its user already has a key in
//     flight, the user is read from Okta and an order is recorded at step
//     Initiated, with the product, inventory and customization IDs of the
//     event's details (or Config.Defaults). An event naming a user Okta
//     does not have (or has under another ID, or deactivated) is rejected:
//     nothing is recorded, a warning names the event, the user and the
//     reason, and the answer lists it (see below). Other event types and
//     malformed events are logged and skipped.
//   - The answer is 200 once every event is handled, with a JSON body
//     {"rejected": [{"uuid", "userId", "reason"}]} when events were
//     rejected (a 2xx all the same: Okta does not retry a 4xx either, and
//     the other events of the delivery are recorded), and 500 if the store
//     or Okta could not be asked, so that Okta delivers again.
//
// The handler only records; [Service.Sync] (or Run, which it wakes) does
// the remote work. Reading the user from Okta is one GET, well within
// Okta's 3 s delivery timeout; a program that must never hold Okta's
// request on Okta uses [Service.QueuedEventHandler] with workers calling
// [Service.RecordEvent], which decides every event exactly as this
// handler does.
func (s *Service) EventHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveHook(w, r, nil) })
}

// serveHook serves an event hook request; enqueue nil records the events
// before answering (EventHandler), otherwise they are handed to it
// (QueuedEventHandler).
func (s *Service) serveHook(w http.ResponseWriter, r *http.Request, enqueue func(context.Context, []HookEvent) error) {
	if !s.hookAuthorized(r) {
		s.logRefusedHook(r)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.verifyEventHook(w, r)
	case http.MethodPost:
		s.receiveEvents(w, r, enqueue)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// refusedHookLogEvery is how often, at most, an unauthorized event hook
// request is logged.
const refusedHookLogEvery = time.Minute

// logRefusedHook logs an unauthorized event hook request, which anybody
// who reaches the hook can send: the first at once, then at most one a
// minute (by the Service's Clock), counting the ones refused in between
// without a line.
func (s *Service) logRefusedHook(r *http.Request) {
	ok, unlogged := s.refused.Allow(s.now())
	if !ok {
		return
	}
	attrs := []slog.Attr{slog.String("method", r.Method), slog.String("remote", r.RemoteAddr), slog.Int("unlogged_before", unlogged)}
	if s.hookSecret == "" {
		// A program that forgot the secret: say so, or the refusals
		// look like somebody else's wrong guesses.
		attrs = append(attrs, slog.String("reason", "Config.EventHookSecret is empty: every request is refused"))
	}
	s.log.LogAttrs(r.Context(), slog.LevelWarn, "fulfillment: event hook: unauthorized request (at most one logged a minute)", attrs...)
}

// hookAuthorized compares the Authorization header with the secret in
// constant time (over fixed-length digests, so the length leaks nothing).
func (s *Service) hookAuthorized(r *http.Request) bool {
	if s.hookSecret == "" {
		return false
	}
	got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
	want := sha256.Sum256([]byte(s.hookSecret.Reveal()))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

func (s *Service) verifyEventHook(w http.ResponseWriter, r *http.Request) {
	challenge := r.Header.Get("X-Okta-Verification-Challenge")
	switch {
	case challenge == "":
		http.Error(w, "missing x-okta-verification-challenge header", http.StatusBadRequest)
		return
	case len(challenge) > maxChallengeLen || strings.ContainsFunc(challenge, func(c rune) bool { return c < ' ' || c == 0x7f }):
		http.Error(w, "malformed x-okta-verification-challenge header", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"verification": challenge})
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "fulfillment: event hook verified")
}

func (s *Service) receiveEvents(w http.ResponseWriter, r *http.Request, enqueue func(context.Context, []HookEvent) error) {
	ctx := r.Context()
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		http.Error(w, "content type must be application/json", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxEventBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, fmt.Sprintf("body larger than %d bytes", s.maxEventBody), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	p, err := parseHookPayload(body)
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "fulfillment: event hook: malformed delivery", slog.String("error", err.Error()))
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if enqueue != nil {
		s.enqueueEvents(w, r, p.Data.Events, enqueue)
		return
	}
	var rejected []rejectedEvent
	for i, ev := range p.Data.Events {
		he, ok := s.hookEvent(ctx, ev)
		if !ok {
			continue
		}
		out, err := s.RecordEvent(ctx, he)
		switch {
		case out == EventRejected:
			rejected = append(rejected, rejectedEvent{UUID: he.ID, UserID: truncateID(he.UserID), Reason: err.Error()})
		case err != nil:
			s.log.LogAttrs(ctx, slog.LevelError, "fulfillment: event hook: cannot record event",
				slog.Int("index", i), slog.String("uuid", truncateID(ev.UUID)), slog.String("error", err.Error()))
			http.Error(w, "cannot record event", http.StatusInternalServerError)
			return
		}
	}
	if len(rejected) == 0 {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(hookAnswer{Rejected: rejected})
}

// hookAnswer is the body of EventHandler's answer when it rejected events.
type hookAnswer struct {
	Rejected []rejectedEvent `json:"rejected"`
}

// rejectedEvent is one event EventHandler rejected, and why.
type rejectedEvent struct {
	UUID   string `json:"uuid"`
	UserID string `json:"userId"`
	Reason string `json:"reason"`
}

// parseHookPayload decodes and checks the shape of a delivery.
func parseHookPayload(body []byte) (okta.EventHookDelivery, error) {
	var p okta.EventHookDelivery
	if err := json.Unmarshal(body, &p); err != nil {
		return p, fmt.Errorf("fulfillment: event hook: body is not valid JSON: %v", err)
	}
	switch {
	case p.Data == nil:
		return p, errors.New("fulfillment: event hook: data: required")
	case len(p.Data.Events) == 0:
		return p, errors.New("fulfillment: event hook: data.events: empty")
	case len(p.Data.Events) > maxHookEvents:
		return p, fmt.Errorf("fulfillment: event hook: data.events: %d events, more than %d", len(p.Data.Events), maxHookEvents)
	}
	return p, nil
}

// eventOrder extracts the user and item of a preregister event.
func (s *Service) eventOrder(ev okta.LogEvent) (userID, login string, items []Item, err error) {
	if ev.UUID == "" || len(ev.UUID) > MaxIDLen || strings.ContainsFunc(ev.UUID, unicode.IsControl) {
		return "", "", nil, errors.New("uuid: missing or malformed")
	}
	details := map[string]string{}
	collect := func(m map[string]any) {
		for k, v := range m {
			key := strings.ToLower(strings.ReplaceAll(k, "_", ""))
			switch v := v.(type) {
			case string:
				details[key] = v
			case float64:
				details[key] = strconv.FormatFloat(v, 'f', -1, 64)
			}
		}
	}
	for _, t := range ev.Target {
		if strings.EqualFold(t.Type, "User") && userID == "" {
			userID, login = t.ID, t.AlternateID
		}
		collect(t.DetailEntry)
	}
	collect(ev.DebugContext.DebugData)
	if userID == "" {
		return "", "", nil, errors.New("target: no User")
	}
	if p := details["fulfillmentprovider"]; p != "" && p != okta.ProviderYubico {
		return "", "", nil, fmt.Errorf("fulfillment provider %q is not %q", truncateValue(p), okta.ProviderYubico)
	}
	it := Item{ProductID: details["yubicoproductid"], InventoryProductID: details["yubicoinventoryproductid"],
		CustomizationID: details["yubicocustomizationid"]}
	if it == (Item{}) {
		items = nil // Config.Defaults, if any
	} else {
		items = []Item{it}
	}
	if items, err = s.orderItems(userID, items); err != nil {
		return "", "", nil, err
	}
	return userID, login, items, nil
}

// enqueueEvents hands a delivery's well-formed events to enqueue and
// answers.
func (s *Service) enqueueEvents(w http.ResponseWriter, r *http.Request, events []okta.LogEvent, enqueue func(context.Context, []HookEvent) error) {
	var batch []HookEvent
	for _, ev := range events {
		if he, ok := s.hookEvent(r.Context(), ev); ok {
			batch = append(batch, he)
		}
	}
	if len(batch) > 0 {
		if err := enqueue(r.Context(), batch); err != nil {
			status := http.StatusInternalServerError
			if errors.Is(err, ErrQueueFull) {
				status = http.StatusServiceUnavailable
				w.Header().Set("Retry-After", "60")
			}
			s.log.LogAttrs(r.Context(), slog.LevelWarn, "fulfillment: event hook: delivery not taken",
				slog.Int("events", len(batch)), slog.String("error", err.Error()))
			http.Error(w, "cannot take the delivery now", status)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

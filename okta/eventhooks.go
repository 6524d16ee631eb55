package okta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/preenroll/preenroll/internal/httpclient"
)

// Event hooks (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/EventHook/,
// https://developer.okta.com/docs/concepts/event-hooks/; docs/okta.md §Event hooks).

// EventHookStatus is an event hook's status.
type EventHookStatus string

// Event hook statuses.
const (
	EventHookActive   EventHookStatus = "ACTIVE"
	EventHookInactive EventHookStatus = "INACTIVE"
)

// EventHookVerificationStatus says whether Okta verified the hook's endpoint.
// Only ACTIVE and VERIFIED hooks receive events.
type EventHookVerificationStatus string

// Event hook verification statuses.
const (
	EventHookUnverified EventHookVerificationStatus = "UNVERIFIED"
	EventHookVerified   EventHookVerificationStatus = "VERIFIED"
)

// Fixed values of the event hook object: the only ones Okta defines.
const (
	EventSubscriptionType = "EVENT_TYPE" // EventSubscriptions.Type
	ChannelTypeHTTP       = "HTTP"       // EventHookChannel.Type
	ChannelVersion        = "1.0.0"      // EventHookChannel.Version
	AuthSchemeHeader      = "HEADER"     // EventHookAuthScheme.Type
)

// Documented limits of an event hook.
const (
	MaxEventHookNameLen   = 255  // characters of EventHook.Name
	MaxEventHookURILen    = 1024 // characters of the channel URI
	MaxEventHookEventType = 300  // event types one hook subscribes to
	MaxActiveEventHooks   = 25   // active event hooks per org
)

// EventHook is Okta's event hook object. Create and replace send Name,
// Description, Events and Channel; the other fields are read-only and set
// by Okta. The authorization secret (Channel.Config.AuthScheme.Value) is
// write-only: Okta never returns it, and this package never prints, logs
// or JSON-encodes it (see [EventHookAuthScheme]).
type EventHook struct {
	// ID is Okta's ID of the hook (read-only).
	ID string `json:"id,omitempty"`
	// Name is required, 1 to 255 characters.
	Name string `json:"name"`
	// Description is optional.
	Description string `json:"description,omitempty"`
	// Status is ACTIVE or INACTIVE (read-only; change it with
	// ActivateEventHook and DeactivateEventHook). A new hook is ACTIVE.
	Status EventHookStatus `json:"status,omitempty"`
	// VerificationStatus is UNVERIFIED or VERIFIED (read-only; see
	// VerifyEventHook).
	VerificationStatus EventHookVerificationStatus `json:"verificationStatus,omitempty"`
	// Events are the event types the hook subscribes to.
	Events EventSubscriptions `json:"events"`
	// Channel is where and how Okta delivers.
	Channel EventHookChannel `json:"channel"`
	// Created, LastUpdated and CreatedBy are read-only.
	Created     time.Time `json:"created,omitzero"`
	LastUpdated time.Time `json:"lastUpdated,omitzero"` // see Created
	CreatedBy   string    `json:"createdBy,omitempty"`  // see Created
}

// EventSubscriptions is the events member of an event hook.
type EventSubscriptions struct {
	// Type is "EVENT_TYPE" (the default when empty).
	Type string `json:"type"`
	// Items are the event types, e.g. "system.mfa.preregister.initiate":
	// 1 to 300 event-hook-eligible types.
	Items []string `json:"items"`
	// Filter is Okta's optional event hook filter (an Early Access feature),
	// passed through as is.
	Filter json.RawMessage `json:"filter,omitempty"`
}

// UnmarshalJSON decodes the events member; a null filter is nil.
func (e *EventSubscriptions) UnmarshalJSON(b []byte) error {
	type plain EventSubscriptions
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if bytes.Equal(bytes.TrimSpace(p.Filter), []byte("null")) {
		p.Filter = nil
	}
	*e = EventSubscriptions(p)
	return nil
}

// EventHookChannel is the channel member of an event hook.
type EventHookChannel struct {
	// Type is "HTTP" (the default when empty).
	Type string `json:"type"`
	// Version is "1.0.0" (the default when empty).
	Version string `json:"version"`
	// Config is the endpoint.
	Config EventHookChannelConfig `json:"config"`
}

// EventHookChannelConfig is the endpoint of an event hook.
type EventHookChannelConfig struct {
	// URI is the endpoint Okta calls: https, at most 1024 characters, no
	// whitespace (plain http only for loopback hosts, as NewClient allows
	// for test servers).
	URI string `json:"uri"`
	// Headers are sent with every call besides the authorization header.
	Headers []EventHookHeader `json:"headers,omitempty"`
	// AuthScheme is the shared-secret header Okta sends on every call, nil
	// for none.
	AuthScheme *EventHookAuthScheme `json:"authScheme,omitempty"`
	// Method is the HTTP method of deliveries, "POST" (read-only).
	Method string `json:"method,omitempty"`
}

// EventHookHeader is a custom header of an event hook. Okta returns the
// values: do not put secrets here (use AuthScheme). Should one end up here
// all the same, fmt prints the value as [REDACTED], and encoding/json and
// log/slog encode it as "[REDACTED]" too (the client sends it to Okta
// through an internal type).
type EventHookHeader struct {
	// Key is the header name.
	Key string
	// Value is the header value.
	Value Secret
}

// headerWire is EventHookHeader on the wire, value in clear.
type headerWire struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// MarshalJSON encodes the header with its value redacted.
func (h EventHookHeader) MarshalJSON() ([]byte, error) {
	return json.Marshal(headerWire{Key: h.Key, Value: redactedIfSet(h.Value)})
}

// UnmarshalJSON decodes a header as Okta returns it, value included.
func (h *EventHookHeader) UnmarshalJSON(b []byte) error {
	var w headerWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*h = EventHookHeader{Key: w.Key, Value: Secret(w.Value)}
	return nil
}

// LogValue logs the header without its value.
func (h EventHookHeader) LogValue() slog.Value {
	return slog.GroupValue(slog.String("key", h.Key), slog.String("value", redactedIfSet(h.Value)))
}

func headersWire(hs []EventHookHeader) []headerWire {
	if len(hs) == 0 {
		return nil
	}
	out := make([]headerWire, len(hs))
	for i, h := range hs {
		out[i] = headerWire{Key: h.Key, Value: h.Value.Reveal()}
	}
	return out
}

// EventHookAuthScheme is the header Okta sends to authenticate itself to
// the hook: "<Key>: <Value>", e.g. Key "Authorization". Value is a
// write-only secret: Okta never returns it, fmt prints it as [REDACTED],
// and encoding/json and log/slog encode it as "[REDACTED]" too (the client
// sends it to Okta through an internal type).
type EventHookAuthScheme struct {
	// Type is "HEADER" (the default when empty).
	Type string
	// Key is the header name. Okta may return it lower-cased; compare it
	// with strings.EqualFold.
	Key string
	// Value is the header value, the shared secret. Empty in responses.
	Value Secret
}

// MarshalJSON encodes the scheme with its value redacted.
func (a EventHookAuthScheme) MarshalJSON() ([]byte, error) {
	return json.Marshal(authSchemeWire{Type: a.Type, Key: a.Key, Value: redactedIfSet(a.Value)})
}

// UnmarshalJSON decodes Okta's authScheme (whose value Okta omits).
func (a *EventHookAuthScheme) UnmarshalJSON(b []byte) error {
	var w authSchemeWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*a = EventHookAuthScheme{Type: w.Type, Key: w.Key, Value: Secret(w.Value)}
	return nil
}

// LogValue logs the scheme without its value.
func (a EventHookAuthScheme) LogValue() slog.Value {
	return slog.GroupValue(slog.String("type", a.Type), slog.String("key", a.Key),
		slog.String("value", redactedIfSet(a.Value)))
}

// LogValue logs an event hook without its secret: ID, name, statuses,
// event types, URI and authorization header name.
func (h EventHook) LogValue() slog.Value {
	key := ""
	if h.Channel.Config.AuthScheme != nil {
		key = h.Channel.Config.AuthScheme.Key
	}
	return slog.GroupValue(
		slog.String("id", h.ID), slog.String("name", h.Name), slog.String("status", string(h.Status)),
		slog.String("verificationStatus", string(h.VerificationStatus)), slog.Any("events", h.Events.Items),
		slog.String("uri", h.Channel.Config.URI), slog.String("authHeader", key),
	)
}

type authSchemeWire struct {
	Type  string `json:"type"`
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

// eventHookRequest is the body of create and replace: the writable members,
// with the secret in clear.
type eventHookRequest struct {
	Name        string             `json:"name"`
	Description string             `json:"description,omitempty"`
	Events      EventSubscriptions `json:"events"`
	Channel     channelRequest     `json:"channel"`
}

type channelRequest struct {
	Type    string        `json:"type"`
	Version string        `json:"version"`
	Config  configRequest `json:"config"`
}

type configRequest struct {
	URI        string          `json:"uri"`
	Headers    []headerWire    `json:"headers,omitempty"`
	AuthScheme *authSchemeWire `json:"authScheme,omitempty"`
}

// withDefaults returns h with the fixed type and version members filled in.
func (h EventHook) withDefaults() EventHook {
	if h.Events.Type == "" {
		h.Events.Type = EventSubscriptionType
	}
	if h.Channel.Type == "" {
		h.Channel.Type = ChannelTypeHTTP
	}
	if h.Channel.Version == "" {
		h.Channel.Version = ChannelVersion
	}
	if a := h.Channel.Config.AuthScheme; a != nil && a.Type == "" {
		c := *a
		c.Type = AuthSchemeHeader
		h.Channel.Config.AuthScheme = &c
	}
	return h
}

// request validates h (with defaults) and returns the wire body. needValue
// says whether an auth scheme must carry its value (create).
func (h EventHook) request(op string, needValue bool) (eventHookRequest, error) {
	h = h.withDefaults()
	bad := func(field, format string, args ...any) error {
		return argError(op, field, format, args...)
	}
	switch n := utf8.RuneCountInString(h.Name); {
	case strings.TrimSpace(h.Name) == "":
		return eventHookRequest{}, bad("name", "is empty")
	case n > MaxEventHookNameLen:
		return eventHookRequest{}, bad("name", "has %d characters, more than %d", n, MaxEventHookNameLen)
	case hasControl(h.Name) || hasControl(h.Description):
		return eventHookRequest{}, bad("name/description", "contains a control character")
	}
	if h.Events.Type != EventSubscriptionType {
		return eventHookRequest{}, bad("events.type", "%q is not %q", h.Events.Type, EventSubscriptionType)
	}
	switch n := len(h.Events.Items); {
	case n == 0:
		return eventHookRequest{}, bad("events.items", "is empty")
	case n > MaxEventHookEventType:
		return eventHookRequest{}, bad("events.items", "has %d event types, more than %d", n, MaxEventHookEventType)
	}
	for i, t := range h.Events.Items {
		if t == "" || strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return eventHookRequest{}, bad(fmt.Sprintf("events.items[%d]", i), "%q is empty or contains whitespace", t)
		}
	}
	if len(h.Events.Filter) > 0 && !json.Valid(h.Events.Filter) {
		return eventHookRequest{}, bad("events.filter", "is not valid JSON")
	}
	if h.Channel.Type != ChannelTypeHTTP {
		return eventHookRequest{}, bad("channel.type", "%q is not %q", h.Channel.Type, ChannelTypeHTTP)
	}
	if h.Channel.Version != ChannelVersion {
		return eventHookRequest{}, bad("channel.version", "%q is not %q", h.Channel.Version, ChannelVersion)
	}
	cfg := h.Channel.Config
	if err := checkHookURI(cfg.URI); err != nil {
		return eventHookRequest{}, bad("channel.config.uri", "%v", err)
	}
	for i, hd := range cfg.Headers {
		if !validHeaderName(hd.Key) {
			return eventHookRequest{}, bad(fmt.Sprintf("channel.config.headers[%d].key", i), "%q is not a header name", hd.Key)
		}
		if hasControl(hd.Value.Reveal()) {
			return eventHookRequest{}, bad(fmt.Sprintf("channel.config.headers[%d].value", i), "contains a control character")
		}
	}
	req := eventHookRequest{Name: h.Name, Description: h.Description, Events: h.Events, Channel: channelRequest{
		Type: h.Channel.Type, Version: h.Channel.Version, Config: configRequest{URI: cfg.URI, Headers: headersWire(cfg.Headers)},
	}}
	if a := cfg.AuthScheme; a != nil {
		switch {
		case a.Type != AuthSchemeHeader:
			return eventHookRequest{}, bad("channel.config.authScheme.type", "%q is not %q", a.Type, AuthSchemeHeader)
		case !validHeaderName(a.Key):
			return eventHookRequest{}, bad("channel.config.authScheme.key", "%q is not a header name", a.Key)
		case needValue && a.Value == "":
			return eventHookRequest{}, bad("channel.config.authScheme.value", "is empty")
		case hasControl(string(a.Value)):
			// The value is a secret: say what is wrong, never what it is.
			return eventHookRequest{}, bad("channel.config.authScheme.value", "contains a control character")
		}
		req.Channel.Config.AuthScheme = &authSchemeWire{Type: a.Type, Key: a.Key, Value: string(a.Value)}
	}
	return req, nil
}

func checkHookURI(s string) error {
	if s == "" {
		return errors.New("is empty")
	}
	if n := utf8.RuneCountInString(s); n > MaxEventHookURILen {
		return fmt.Errorf("has %d characters, more than %d", n, MaxEventHookURILen)
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return errors.New("contains whitespace or a control character")
	}
	_, err := httpclient.ParseURL(s)
	return err
}

// validHeaderName reports whether s is an HTTP field name (RFC 9110 token).
func validHeaderName(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r))
	})
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f })
}

const hooksRoute = "/api/v1/eventHooks"

// ListEventHooks returns every event hook of the org
// (GET /api/v1/eventHooks; scope okta.eventHooks.read).
//
// Errors: *APIError wrapping ErrForbidden, ErrRateLimited.
func (c *Client) ListEventHooks(ctx context.Context) ([]EventHook, error) {
	var hooks []EventHook
	_, err := c.do(ctx, &call{op: "list event hooks", method: "GET", route: hooksRoute,
		idempotent: true, out: &hooks})
	return hooks, err
}

// CreateEventHook registers an event hook (POST /api/v1/eventHooks, 200;
// scope okta.eventHooks.manage). The fixed type and version members may be
// left empty. The new hook is ACTIVE and UNVERIFIED: it receives nothing
// until [Client.VerifyEventHook] succeeds. Creating is not idempotent, so
// it is not retried after a transport error or a 5xx (see
// [Client.EnsureEventHook] for a call that is safe to repeat).
//
// Errors: ErrInvalidArgument (naming the field); *APIError wrapping
// ErrValidation (for example the URI or a reserved header refused, or the
// org's 25 active hooks reached), ErrForbidden, ErrRateLimited.
func (c *Client) CreateEventHook(ctx context.Context, h EventHook) (EventHook, error) {
	const op = "create event hook"
	body, err := h.request(op, true)
	if err != nil {
		return EventHook{}, err
	}
	return post[EventHook](ctx, c, op, hooksRoute, body)
}

// GetEventHook returns one event hook (GET /api/v1/eventHooks/{id}).
//
// Errors: ErrInvalidArgument; *APIError wrapping ErrNotFound, ErrForbidden,
// ErrRateLimited.
func (c *Client) GetEventHook(ctx context.Context, id string) (EventHook, error) {
	const op = "get event hook"
	var out EventHook
	_, err := c.do(ctx, &call{op: op, method: "GET", route: hooksRoute + "/{id}", args: []pathArg{{"id", id}},
		idempotent: true, out: &out})
	return out, err
}

// ReplaceEventHook replaces an event hook's name, description, events and
// channel (PUT /api/v1/eventHooks/{id}; there is no partial update).
// Okta documents that replacing the channel requires a new verification.
// An auth scheme may omit its value to keep the stored secret (what Okta
// does then is not documented: see docs/decisions.md).
//
// Errors: ErrInvalidArgument; *APIError wrapping ErrValidation, ErrNotFound,
// ErrForbidden, ErrRateLimited.
func (c *Client) ReplaceEventHook(ctx context.Context, id string, h EventHook) (EventHook, error) {
	const op = "replace event hook"
	body, err := h.request(op, false)
	if err != nil {
		return EventHook{}, err
	}
	var out EventHook
	_, err = c.do(ctx, &call{op: op, method: "PUT", route: hooksRoute + "/{id}", args: []pathArg{{"id", id}},
		body: body, idempotent: true, out: &out})
	return out, err
}

// DeleteEventHook deletes an INACTIVE event hook
// (DELETE /api/v1/eventHooks/{id}, 204). Deactivate it first: Okta allows
// deleting only INACTIVE hooks. Not retried after a transport error or a
// 5xx (a repeated delete answers 404).
//
// Errors: ErrInvalidArgument; *APIError wrapping ErrNotFound, ErrForbidden
// (with oktatest: the hook is ACTIVE; Okta does not document this error),
// ErrRateLimited.
func (c *Client) DeleteEventHook(ctx context.Context, id string) error {
	const op = "delete event hook"
	_, err := c.do(ctx, &call{op: op, method: "DELETE", route: hooksRoute + "/{id}", args: []pathArg{{"id", id}}})
	return err
}

// ActivateEventHook sets a hook ACTIVE
// (POST /api/v1/eventHooks/{id}/lifecycle/activate).
//
// Errors: ErrInvalidArgument; *APIError wrapping ErrNotFound, ErrValidation
// (with oktatest: the org's 25 active hooks reached), ErrForbidden,
// ErrRateLimited.
func (c *Client) ActivateEventHook(ctx context.Context, id string) (EventHook, error) {
	return c.hookLifecycle(ctx, "activate event hook", id, "activate")
}

// DeactivateEventHook sets a hook INACTIVE: it stops receiving events
// (POST /api/v1/eventHooks/{id}/lifecycle/deactivate).
//
// Errors: ErrInvalidArgument; *APIError wrapping ErrNotFound, ErrForbidden,
// ErrRateLimited.
func (c *Client) DeactivateEventHook(ctx context.Context, id string) (EventHook, error) {
	return c.hookLifecycle(ctx, "deactivate event hook", id, "deactivate")
}

// VerifyEventHook asks Okta to verify the hook's endpoint
// (POST /api/v1/eventHooks/{id}/lifecycle/verify): Okta sends the endpoint
// a GET with the header X-Okta-Verification-Challenge, which it must echo
// as {"verification": "<value>"} within 3 seconds (Okta tries twice). On
// success the hook is VERIFIED; otherwise Okta answers 400.
//
// Errors: ErrInvalidArgument; *APIError wrapping ErrValidation (the
// endpoint failed verification; see APIError.Causes), ErrNotFound,
// ErrForbidden, ErrRateLimited.
func (c *Client) VerifyEventHook(ctx context.Context, id string) (EventHook, error) {
	return c.hookLifecycle(ctx, "verify event hook", id, "verify")
}

func (c *Client) hookLifecycle(ctx context.Context, op, id, action string) (EventHook, error) {
	var out EventHook
	_, err := c.do(ctx, &call{op: op, method: "POST", route: hooksRoute + "/{id}/lifecycle/" + action,
		args: []pathArg{{"id", id}}, idempotent: true, out: &out})
	return out, err
}

// EnsureEventHook makes the org have exactly one event hook configured as
// want, ACTIVE and VERIFIED, and returns it: the call a service makes at
// start-up to register itself. It is safe to repeat and to run from
// several instances at once. Start serving the hook's endpoint first: Okta
// calls it to verify.
//
//  1. It lists the org's hooks and picks the one that is the service's:
//     same name and URI, else same name, else same URI (the URI or the name
//     changed); among several, the oldest (then the smallest ID), so that
//     every instance picks the same one.
//  2. None: it creates one, lists again, and if a concurrent instance's hook
//     is older it removes its own and takes that one.
//  3. It replaces the hook when any returned member differs from want
//     (event types compared as sets, header names without case) or when
//     want carries an authorization secret: Okta never returns the secret,
//     so it cannot be compared and is always sent, so that a rotated secret
//     takes effect.
//  4. It activates the hook if INACTIVE and verifies it if UNVERIFIED.
//  5. It deactivates and deletes other hooks with the same name and URI
//     (duplicates left by a concurrent start); a hook already gone is fine.
//
// If the hook it works on disappears (404: a concurrent instance removed it
// as a duplicate of an older one), it starts over, at most 5 times. If the
// verification fails (400), it starts over without replacing the hook
// again, at most 3 times: a concurrent instance replacing the hook (step
// 3, with the same configuration) fails a verification under way, and
// would fail each other's forever if every round replaced it. An endpoint
// that does not answer fails all 4 verifications.
//
// Errors: those of the calls it makes; a verification failure is an
// *APIError wrapping ErrValidation from [Client.VerifyEventHook].
func (c *Client) EnsureEventHook(ctx context.Context, want EventHook) (EventHook, error) {
	const op = "ensure event hook"
	want = want.withDefaults()
	if _, err := want.request(op, true); err != nil {
		return EventHook{}, err
	}
	var err error
	replace, verifyFailures := true, 0
	for range maxEnsureRounds {
		var h EventHook
		h, err = c.ensureOnce(ctx, op, want, replace)
		var vf verifyFailed
		switch {
		case errors.Is(err, ErrNotFound):
			// A concurrent instance removed the hook we picked as a
			// duplicate of its own: start over with the one that stays.
		case errors.As(err, &vf) && verifyFailures < maxVerifyRestarts:
			verifyFailures++
			replace = false
			err = vf.err
		case errors.As(err, &vf):
			return EventHook{}, vf.err
		default:
			return h, err
		}
	}
	return EventHook{}, err
}

// maxEnsureRounds bounds EnsureEventHook's restarts after a concurrent
// instance removed the hook it was working on; maxVerifyRestarts those
// after a failed verification.
const (
	maxEnsureRounds   = 5
	maxVerifyRestarts = 3
)

// verifyFailed is ensureOnce's error when the verification was refused.
type verifyFailed struct{ err error }

func (e verifyFailed) Error() string { return e.err.Error() }
func (e verifyFailed) Unwrap() error { return e.err }

// ensureOnce is one round of EnsureEventHook; replace is false after a
// failed verification, when a hook that does not differ from want is not
// replaced for its secret again.
func (c *Client) ensureOnce(ctx context.Context, op string, want EventHook, replace bool) (EventHook, error) {
	hooks, err := c.ListEventHooks(ctx)
	if err != nil {
		return EventHook{}, err
	}
	h, found := pickHook(hooks, want)
	fresh := false // h was just created from want
	if !found {
		created, err := c.CreateEventHook(ctx, want)
		if err != nil {
			return EventHook{}, err
		}
		if hooks, err = c.ListEventHooks(ctx); err != nil {
			return EventHook{}, err
		}
		if h, found = pickHook(hooks, want); !found || h.ID == created.ID {
			h, fresh = created, true
		}
		// Another instance's older hook won: ours is removed in step 5
		// (same name and URI) like any duplicate.
		hooks = append(hooks, created)
	}
	if !fresh && (differs(h, want) || (replace && hasSecret(want))) {
		if h, err = c.ReplaceEventHook(ctx, h.ID, want); err != nil {
			return EventHook{}, err
		}
	}
	if h.Status != EventHookActive {
		if h, err = c.ActivateEventHook(ctx, h.ID); err != nil {
			return EventHook{}, err
		}
	}
	if h.VerificationStatus != EventHookVerified {
		if h, err = c.VerifyEventHook(ctx, h.ID); err != nil {
			if errors.Is(err, ErrValidation) {
				return EventHook{}, verifyFailed{err}
			}
			return EventHook{}, err
		}
	}
	seen := map[string]bool{h.ID: true}
	for _, d := range hooks {
		if seen[d.ID] || d.Name != want.Name || d.Channel.Config.URI != want.Channel.Config.URI {
			continue
		}
		seen[d.ID] = true
		if err := c.removeHook(ctx, d.ID); err != nil {
			return EventHook{}, fmt.Errorf("okta: %s: remove duplicate hook %s: %w", op, d.ID, err)
		}
	}
	return h, nil
}

// removeHook deactivates and deletes a hook; one already gone is not an error.
func (c *Client) removeHook(ctx context.Context, id string) error {
	if _, err := c.DeactivateEventHook(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if err := c.DeleteEventHook(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

// pickHook finds the service's hook among hooks (see EnsureEventHook).
func pickHook(hooks []EventHook, want EventHook) (EventHook, bool) {
	uri := want.Channel.Config.URI
	for _, match := range []func(EventHook) bool{
		func(h EventHook) bool { return h.Name == want.Name && h.Channel.Config.URI == uri },
		func(h EventHook) bool { return h.Name == want.Name },
		func(h EventHook) bool { return h.Channel.Config.URI == uri },
	} {
		var best EventHook
		found := false
		for _, h := range hooks {
			if match(h) && (!found || older(h, best)) {
				best, found = h, true
			}
		}
		if found {
			return best, true
		}
	}
	return EventHook{}, false
}

func older(a, b EventHook) bool {
	if !a.Created.Equal(b.Created) {
		return a.Created.Before(b.Created)
	}
	return a.ID < b.ID
}

func hasSecret(h EventHook) bool {
	return h.Channel.Config.AuthScheme != nil && h.Channel.Config.AuthScheme.Value != ""
}

// differs reports whether any member Okta returns differs between have and
// want (with defaults applied).
func differs(have, want EventHook) bool {
	have = have.withDefaults()
	hc, wc := have.Channel.Config, want.Channel.Config
	switch {
	case have.Name != want.Name, have.Description != want.Description,
		have.Events.Type != want.Events.Type, have.Channel.Type != want.Channel.Type,
		have.Channel.Version != want.Channel.Version, hc.URI != wc.URI:
		return true
	case !sameSet(have.Events.Items, want.Events.Items), !sameJSON(have.Events.Filter, want.Events.Filter):
		return true
	case (hc.AuthScheme == nil) != (wc.AuthScheme == nil):
		return true
	case hc.AuthScheme != nil && (hc.AuthScheme.Type != wc.AuthScheme.Type || !strings.EqualFold(hc.AuthScheme.Key, wc.AuthScheme.Key)):
		return true
	}
	return !slices.Equal(headerList(hc.Headers), headerList(wc.Headers))
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// sameJSON compares two JSON values ignoring insignificant whitespace; an
// absent value equals null.
func sameJSON(a, b json.RawMessage) bool {
	norm := func(m json.RawMessage) string {
		var buf bytes.Buffer
		if len(bytes.TrimSpace(m)) == 0 || json.Compact(&buf, m) != nil {
			return "null"
		}
		return buf.String()
	}
	return norm(a) == norm(b)
}

func headerList(hs []EventHookHeader) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = strings.ToLower(h.Key) + ": " + h.Value.Reveal()
	}
	slices.Sort(out)
	return out
}

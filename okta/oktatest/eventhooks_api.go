package oktatest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/preenroll/preenroll/internal/httpclient"
	"github.com/preenroll/preenroll/okta"
)

// Okta's Event Hooks API (/api/v1/eventHooks), docs/okta.md §Event hooks.
// What Okta does not document (the errors for an active delete and the
// 26th active hook, the verification failure body, http URIs for loopback,
// replace without the secret) is our choice, listed in docs/decisions.md.

// DefaultHookTimeout is how long the fake waits for an event hook's answer
// to a verification or delivery request: Okta's documented 3 seconds.
const DefaultHookTimeout = 3 * time.Second

// Scopes of the Event Hooks API, spelled as in Okta's OpenAPI document.
const (
	scopeEventHooksRead   = "okta.eventHooks.read"
	scopeEventHooksManage = "okta.eventHooks.manage"
)

// createdByID is the user ID the fake reports as every hook's creator.
const createdByID = "00uoktatestadmin0000"

// hook is an event hook registered with the fake.
type hook struct {
	id          string
	name        string
	description string
	status      okta.EventHookStatus
	verified    okta.EventHookVerificationStatus
	types       []string
	filter      json.RawMessage
	uri         string
	headers     []okta.EventHookHeader
	authKey     string // "" for no auth scheme
	authValue   string // secret: never logged, never returned
	created     time.Time
	updated     time.Time
	// channelRev counts channel changes, so that a verification that
	// raced a replace does not verify the new channel.
	channelRev int
}

// channel is what the fake needs to call a hook: a copy taken under the lock.
type channel struct {
	id      string
	uri     string
	headers []okta.EventHookHeader
	authKey string
	auth    string // secret
	rev     int
}

func (h *hook) channel() channel {
	return channel{id: h.id, uri: h.uri, headers: slices.Clone(h.headers), authKey: h.authKey, auth: h.authValue, rev: h.channelRev}
}

// receives reports whether h gets events of type t: only ACTIVE and
// VERIFIED hooks do.
func (h *hook) receives(t string) bool {
	return h.status == okta.EventHookActive && h.verified == okta.EventHookVerified && slices.Contains(h.types, t)
}

// hookBody is the request body of create and replace.
type hookBody struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Events      *struct {
		Type   string          `json:"type"`
		Items  []string        `json:"items"`
		Filter json.RawMessage `json:"filter"`
	} `json:"events"`
	Channel *struct {
		Type    string `json:"type"`
		Version string `json:"version"`
		Config  *struct {
			URI        string                 `json:"uri"`
			Headers    []okta.EventHookHeader `json:"headers"`
			AuthScheme *struct {
				Type  string `json:"type"`
				Key   string `json:"key"`
				Value string `json:"value"`
			} `json:"authScheme"`
		} `json:"config"`
	} `json:"channel"`
}

// reservedHookHeaders are header names a hook may not set (Okta refuses
// "reserved" ones such as Accept; the list is our choice).
var reservedHookHeaders = []string{
	"Accept", "Connection", "Content-Length", "Content-Type", "Host", "Transfer-Encoding", "User-Agent",
	"X-Okta-Verification-Challenge",
}

// hookInvalid is a validation failure: the field and its causes.
type hookInvalid struct {
	field  string
	causes []string
}

func (e *hookInvalid) Error() string {
	return "oktatest: event hook: " + e.field + ": " + strings.Join(e.causes, "; ")
}

func invalid(field, format string, args ...any) *hookInvalid {
	return &hookInvalid{field: field, causes: []string{field + ": " + fmt.Sprintf(format, args...)}}
}

// apply validates b and writes it into h. old is nil for create; on
// replace an auth scheme without a value keeps the stored one if the
// header name is the same (our choice).
func (b *hookBody) apply(h *hook, old *hook) *hookInvalid {
	if b.Name == nil || strings.TrimSpace(*b.Name) == "" {
		return invalid("name", "The field cannot be left blank")
	}
	if n := utf8.RuneCountInString(*b.Name); n > okta.MaxEventHookNameLen {
		return invalid("name", "The field is too long (%d characters, at most %d)", n, okta.MaxEventHookNameLen)
	}
	if b.Events == nil || b.Events.Type != okta.EventSubscriptionType {
		return invalid("events.type", "must be %s", okta.EventSubscriptionType)
	}
	if n := len(b.Events.Items); n == 0 || n > okta.MaxEventHookEventType {
		return invalid("events.items", "must list 1 to %d event types, not %d", okta.MaxEventHookEventType, n)
	}
	for _, t := range b.Events.Items {
		if t == "" || strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return invalid("events.items", "%q is not an event type", t)
		}
	}
	if b.Channel == nil || b.Channel.Type != okta.ChannelTypeHTTP || b.Channel.Version != okta.ChannelVersion || b.Channel.Config == nil {
		return invalid("channel", "type must be %s, version %s, and config is required", okta.ChannelTypeHTTP, okta.ChannelVersion)
	}
	cfg := b.Channel.Config
	if err := checkHookURI(cfg.URI); err != nil {
		return invalid("channel.config.uri", "%v", err)
	}
	authKey, authValue := "", ""
	if a := cfg.AuthScheme; a != nil {
		authKey, authValue = a.Key, a.Value
		switch {
		case a.Type != okta.AuthSchemeHeader:
			return invalid("channel.config.authScheme.type", "must be %s", okta.AuthSchemeHeader)
		case !validToken(a.Key):
			return invalid("channel.config.authScheme.key", "%q is not a header name", a.Key)
		case authValue == "" && old != nil && strings.EqualFold(old.authKey, a.Key):
			authValue = old.authValue
		case authValue == "":
			return invalid("channel.config.authScheme.value", "The field cannot be left blank")
		case strings.ContainsFunc(authValue, func(r rune) bool { return r < ' ' || r == 0x7f }):
			return invalid("channel.config.authScheme.value", "contains a control character") // never the value
		}
	}
	for _, hd := range cfg.Headers {
		switch {
		case !validToken(hd.Key):
			return invalid("channel.config.headers", "%q is not a header name", hd.Key)
		case slices.ContainsFunc(reservedHookHeaders, func(r string) bool { return strings.EqualFold(r, hd.Key) }),
			authKey != "" && strings.EqualFold(hd.Key, authKey):
			return invalid("channel.config.headers", "%q is a reserved header", hd.Key)
		case strings.ContainsFunc(hd.Value.Reveal(), func(r rune) bool { return r < ' ' || r == 0x7f }):
			return invalid("channel.config.headers", "the value of %q contains a control character", hd.Key)
		}
	}
	if len(b.Events.Filter) > 0 && string(b.Events.Filter) != "null" {
		h.filter = slices.Clone(b.Events.Filter)
	} else {
		h.filter = nil
	}
	h.name, h.description = *b.Name, ""
	if b.Description != nil {
		h.description = *b.Description
	}
	h.types = slices.Clone(b.Events.Items)
	changed := old == nil || old.uri != cfg.URI || old.authKey != authKey || old.authValue != authValue ||
		!slices.Equal(old.headers, cfg.Headers)
	h.uri, h.headers, h.authKey, h.authValue = cfg.URI, slices.Clone(cfg.Headers), authKey, authValue
	if changed && old != nil {
		// Okta: replacing the channel requires a new verification.
		h.verified = okta.EventHookUnverified
		h.channelRev++
	}
	return nil
}

// checkHookURI accepts https URLs and, for tests, plain http on loopback
// (Okta requires https; http on loopback is our choice).
func checkHookURI(s string) error {
	if s == "" || len(s) > okta.MaxEventHookURILen || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("%q must be a URL of at most %d characters without whitespace", s, okta.MaxEventHookURILen)
	}
	if _, err := httpclient.ParseURL(s); err != nil {
		return fmt.Errorf("%q is not a valid HTTPS URL", s)
	}
	return nil
}

// validToken reports whether s is an HTTP field name.
func validToken(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", r)
	})
}

// activeHooksLocked counts the ACTIVE hooks.
func (s *Server) activeHooksLocked() int {
	n := 0
	for _, h := range s.hooks {
		if h.status == okta.EventHookActive {
			n++
		}
	}
	return n
}

func (s *Server) hookLocked(id string) *hook {
	for _, h := range s.hooks {
		if h.id == id {
			return h
		}
	}
	return nil
}

var errTooManyHooks = &hookInvalid{field: "eventHook", causes: []string{
	fmt.Sprintf("eventHook: The maximum number of active event hooks (%d) is reached", okta.MaxActiveEventHooks)}}

// createHook validates and stores a new ACTIVE, UNVERIFIED hook.
func (s *Server) createHook(b *hookBody) (*hook, *hookInvalid) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	h := &hook{id: s.randomID("who", 17), status: okta.EventHookActive, verified: okta.EventHookUnverified,
		created: now, updated: now}
	if err := b.apply(h, nil); err != nil {
		return nil, err
	}
	if s.activeHooksLocked() >= okta.MaxActiveEventHooks {
		return nil, errTooManyHooks
	}
	s.hooks = append(s.hooks, h)
	return h, nil
}

// hookJSON renders h as Okta's EventHook object (without the secret).
func (s *Server) hookJSON(h *hook) map[string]any {
	var auth any
	if h.authKey != "" {
		// Okta's examples return the header name lower-cased and no value.
		auth = map[string]any{"type": okta.AuthSchemeHeader, "key": strings.ToLower(h.authKey)}
	}
	var headers any
	if len(h.headers) > 0 {
		// Okta returns the values (okta.EventHookHeader's own JSON redacts
		// them).
		hs := make([]map[string]string, len(h.headers))
		for i, hd := range h.headers {
			hs[i] = map[string]string{"key": hd.Key, "value": hd.Value.Reveal()}
		}
		headers = hs
	}
	var desc any
	if h.description != "" {
		desc = h.description
	}
	var filter any
	if h.filter != nil {
		filter = h.filter
	}
	base := "/api/v1/eventHooks/" + h.id
	post := func(path string) map[string]any {
		l := map[string]any{"href": s.srv.URL + path, "hints": map[string]any{"allow": []string{"POST"}}}
		return l
	}
	links := map[string]any{"self": map[string]any{"href": s.srv.URL + base,
		"hints": map[string]any{"allow": []string{"GET", "PUT", "DELETE"}}}}
	links["verify"] = post(base + "/lifecycle/verify")
	if h.status == okta.EventHookActive {
		links["deactivate"] = post(base + "/lifecycle/deactivate")
	} else {
		links["activate"] = post(base + "/lifecycle/activate")
	}
	return map[string]any{
		"id": h.id, "name": h.name, "description": desc, "status": h.status, "verificationStatus": h.verified,
		"events": map[string]any{"type": okta.EventSubscriptionType, "items": h.types, "filter": filter},
		"channel": map[string]any{"type": okta.ChannelTypeHTTP, "version": okta.ChannelVersion, "config": map[string]any{
			"uri": h.uri, "headers": headers, "authScheme": auth, "method": "POST",
		}},
		"created": oktaTime(h.created), "createdBy": createdByID, "lastUpdated": oktaTime(h.updated),
		"_links": links,
	}
}

func (s *Server) writeHook(x *exchange, h *hook) {
	s.mu.Lock()
	body := s.hookJSON(h)
	s.mu.Unlock()
	s.writeJSON(x, http.StatusOK, body)
}

func (s *Server) hookValidation(x *exchange, err *hookInvalid) {
	x.detail("%v", err)
	s.validation(x, err.field, err.causes...)
}

func (s *Server) handleListHooks(x *exchange) {
	s.mu.Lock()
	out := make([]map[string]any, 0, len(s.hooks))
	for _, h := range s.hooks {
		out = append(out, s.hookJSON(h))
	}
	s.mu.Unlock()
	s.writeJSON(x, http.StatusOK, out)
}

func (s *Server) handleCreateHook(x *exchange) {
	var b hookBody
	if !s.decode(x, &b) {
		return
	}
	h, err := s.createHook(&b)
	if err != nil {
		s.hookValidation(x, err)
		return
	}
	s.writeHook(x, h) // 200, not 201, as Okta documents
}

// withHook runs fn on the hook named by the path under the lock; fn
// returns the error to answer, if any.
func (s *Server) withHook(x *exchange, fn func(h *hook) *hookInvalid) (*hook, bool) {
	id := x.params["id"]
	s.mu.Lock()
	h := s.hookLocked(id)
	var err *hookInvalid
	if h != nil && fn != nil {
		err = fn(h)
	}
	s.mu.Unlock()
	switch {
	case h == nil:
		s.notFound(x, id, "EventHook")
		return nil, false
	case err != nil:
		s.hookValidation(x, err)
		return nil, false
	}
	return h, true
}

func (s *Server) handleGetHook(x *exchange) {
	if h, ok := s.withHook(x, nil); ok {
		s.writeHook(x, h)
	}
}

func (s *Server) handleReplaceHook(x *exchange) {
	var b hookBody
	if !s.decode(x, &b) {
		return
	}
	h, ok := s.withHook(x, func(h *hook) *hookInvalid {
		next := *h
		if err := b.apply(&next, h); err != nil {
			return err
		}
		next.updated = s.now()
		*h = next
		return nil
	})
	if ok {
		s.writeHook(x, h)
	}
}

func (s *Server) handleDeleteHook(x *exchange) {
	id := x.params["id"]
	s.mu.Lock()
	i := slices.IndexFunc(s.hooks, func(h *hook) bool { return h.id == id })
	active := i >= 0 && s.hooks[i].status == okta.EventHookActive
	if i >= 0 && !active {
		s.hooks = slices.Delete(s.hooks, i, i+1)
	}
	s.mu.Unlock()
	switch {
	case i < 0:
		s.notFound(x, id, "EventHook")
	case active:
		// Okta allows deleting only INACTIVE hooks; the error is our choice.
		x.detail("event hook %s is ACTIVE", id)
		s.fail(x, http.StatusForbidden, "E0000038", "This operation is not allowed in the current status.",
			"Deactivate the event hook before deleting it.")
	default:
		s.writeNoContent(x)
	}
}

func (s *Server) handleActivateHook(x *exchange) {
	h, ok := s.withHook(x, func(h *hook) *hookInvalid {
		if h.status == okta.EventHookActive {
			return nil
		}
		if s.activeHooksLocked() >= okta.MaxActiveEventHooks {
			return errTooManyHooks
		}
		h.status, h.updated = okta.EventHookActive, s.now()
		return nil
	})
	if ok {
		s.writeHook(x, h)
	}
}

func (s *Server) handleDeactivateHook(x *exchange) {
	h, ok := s.withHook(x, func(h *hook) *hookInvalid {
		h.status, h.updated = okta.EventHookInactive, s.now()
		return nil
	})
	if ok {
		s.writeHook(x, h)
	}
}

func (s *Server) handleVerifyHook(x *exchange) {
	var ch channel
	h, ok := s.withHook(x, func(h *hook) *hookInvalid {
		ch = h.channel()
		return nil
	})
	if !ok {
		return
	}
	if err := s.verifyHook(x.r.Context(), ch); err != nil {
		x.detail("%v", err)
		s.fail(x, http.StatusBadRequest, "E0000001", "Api validation failed: verification", "Verification failed: "+err.Error())
		return
	}
	s.writeHook(x, h)
}

// verifyHook calls the hook's endpoint with a verification challenge, as
// Okta does: a GET with X-Okta-Verification-Challenge (and, our choice, the
// auth scheme and custom headers), answered with {"verification": "<challenge>"};
// Okta waits 3 s and tries once more after a timeout or an error. On
// success the hook becomes VERIFIED, unless its channel changed meanwhile.
func (s *Server) verifyHook(ctx context.Context, ch channel) error {
	var err error
	for attempt := 1; attempt <= 2; attempt++ {
		if err = s.verifyOnce(ctx, ch); err == nil {
			break
		}
		if ctx.Err() != nil {
			return err
		}
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hookLocked(ch.id)
	if h == nil || h.channelRev != ch.rev {
		return errors.New("the event hook changed during verification")
	}
	h.verified, h.updated = okta.EventHookVerified, s.now()
	return nil
}

// verifyOnce is one verification attempt. Its error never contains the
// hook's secret.
func (s *Server) verifyOnce(ctx context.Context, ch channel) error {
	ctx, cancel := context.WithTimeout(ctx, s.hookTimeout)
	defer cancel()
	challenge := s.randomID("", 40)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ch.uri, nil)
	if err != nil {
		return fmt.Errorf("cannot call the endpoint: %v", err)
	}
	ch.setHeaders(req)
	req.Header.Set("X-Okta-Verification-Challenge", challenge)
	resp, err := s.hookHC.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("the endpoint did not answer within %v: %v", s.hookTimeout, callError(err))
		}
		return fmt.Errorf("could not call the endpoint: %v", callError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("reading the endpoint's answer: %v", callError(err))
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the endpoint answered HTTP %d", resp.StatusCode)
	}
	var v struct {
		Verification *string `json:"verification"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Verification == nil || *v.Verification != challenge {
		return errors.New(`the endpoint did not answer {"verification": "<the challenge>"}`)
	}
	return nil
}

// callError describes a failed hook call without the URL (which could carry
// query secrets of the user's choosing).
func callError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return err.Error()
}

// setHeaders adds the custom headers and the auth scheme header.
func (ch channel) setHeaders(req *http.Request) {
	for _, h := range ch.headers {
		req.Header.Set(h.Key, h.Value.Reveal())
	}
	if ch.authKey != "" {
		req.Header.Set(ch.authKey, ch.auth)
	}
}

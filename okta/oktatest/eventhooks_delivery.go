package oktatest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/preenroll/preenroll/internal/fakehttp"
	"github.com/preenroll/preenroll/okta"
)

// WithHookTimeout sets how long the fake waits for an event hook to answer
// a verification or delivery request (default [DefaultHookTimeout], Okta's
// 3 s). Tests of slow hooks use a short one.
func WithHookTimeout(d time.Duration) Option {
	return check("WithHookTimeout", fakehttp.Invalid(d <= 0, "%v is not positive", d),
		func(c *config) { c.hookTimeout = d })
}

// newHookClient is the default HTTP client of hook calls: no client-wide
// timeout (each call has the hook timeout) and no redirects (Okta does not
// follow them).
func newHookClient() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// AddEventHook registers an event hook the way a program would through the
// Event Hooks API: it creates a hook (ACTIVE, UNVERIFIED) named
// "oktatest event hook" for hookURL, subscribed to eventTypes (all event
// types the fake emits when none are given: system.mfa.preregister.initiate
// and group.user_membership.add), with authorization, when non-empty, as
// its Authorization header; then it verifies it (GET hookURL with
// X-Okta-Verification-Challenge, which the endpoint must echo as
// {"verification":"<challenge>"}). Every later event of those types is
// delivered with a POST of Okta's event-hook JSON. It returns the hook's
// ID; if the hook is invalid or verification fails it returns an error and
// the hook is removed. hookURL must be https, or http on a loopback host.
func (s *Server) AddEventHook(ctx context.Context, hookURL, authorization string, eventTypes ...string) (string, error) {
	if len(eventTypes) == 0 {
		eventTypes = []string{okta.EventTypePreregisterInitiate, "group.user_membership.add"}
	}
	var auth any
	if authorization != "" {
		auth = map[string]string{"type": okta.AuthSchemeHeader, "key": "Authorization", "value": authorization}
	}
	// The hook goes through the same JSON and checks as an API request.
	raw, err := json.Marshal(map[string]any{
		"name":   "oktatest event hook",
		"events": map[string]any{"type": okta.EventSubscriptionType, "items": eventTypes},
		"channel": map[string]any{"type": okta.ChannelTypeHTTP, "version": okta.ChannelVersion,
			"config": map[string]any{"uri": hookURL, "authScheme": auth}},
	})
	var b hookBody
	if err == nil {
		err = json.Unmarshal(raw, &b)
	}
	if err != nil {
		return "", fmt.Errorf("oktatest: AddEventHook: %w", err)
	}
	h, bad := s.createHook(&b)
	if bad != nil {
		return "", fmt.Errorf("oktatest: AddEventHook: %s", strings.Join(bad.causes, "; "))
	}
	s.mu.Lock()
	ch := h.channel()
	s.mu.Unlock()
	if err := s.verifyHook(ctx, ch); err != nil {
		s.mu.Lock()
		s.hooks = deleteHook(s.hooks, h.id)
		s.mu.Unlock()
		return "", fmt.Errorf("oktatest: AddEventHook: verification failed: %w", err)
	}
	return h.id, nil
}

func deleteHook(hooks []*hook, id string) []*hook {
	out := hooks[:0]
	for _, h := range hooks {
		if h.id != id {
			out = append(out, h)
		}
	}
	return out
}

// deliverHooks queues x's events for every ACTIVE and VERIFIED hook
// subscribed to them, one event per POST. It does not wait: as Okta's
// delivery is asynchronous, each hook's queue is drained by its own
// goroutine, in the order the events were emitted; Close waits for them.
// The envelope (its eventId included) is built here, in the request's
// goroutine, so what is delivered does not depend on when it is sent.
func (s *Server) deliverHooks(x *exchange) {
	if len(x.events) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return
	}
	displays := map[string]string{}
	for _, e := range x.events {
		if u, ok := s.users[e.UserID]; ok {
			displays[e.UserID] = u.profile.FirstName + " " + u.profile.LastName
		}
	}
	now := s.now()
	for _, h := range s.hooks {
		for _, e := range x.events {
			if !h.receives(e.EventType) {
				continue
			}
			ch := h.channel()
			p := okta.EventHookDelivery{
				EventType: okta.EventHookDeliveryType, EventTypeVersion: "1.0", CloudEventsVersion: "0.1",
				Source: s.srv.URL + "/api/v1/eventHooks/" + ch.id, EventID: uuid.Must(uuid.NewRandomFromReader(s.rand)).String(),
				Data:      &okta.EventHookData{Events: []okta.LogEvent{s.logEventFor(e, displays[e.UserID])}},
				EventTime: now, ContentType: "application/json",
			}
			body, err := json.Marshal(p)
			if err != nil {
				panic(fmt.Sprintf("oktatest: encode event hook payload: %v", err)) // the fake's own types
			}
			s.enqueueLocked(hookJob{ch: ch, e: e, eventID: p.EventID, body: body})
		}
	}
}

// hookJob is one queued delivery of one event to one hook.
type hookJob struct {
	ch      channel
	e       Event
	eventID string
	body    []byte
}

// hookQueue is one hook's pending deliveries; running says a goroutine is
// draining it.
type hookQueue struct {
	jobs    []hookJob
	running bool
}

// enqueueLocked appends j to its hook's queue and starts the queue's
// goroutine if none runs.
func (s *Server) enqueueLocked(j hookJob) {
	if s.hookQueues == nil {
		s.hookQueues = map[string]*hookQueue{}
	}
	q := s.hookQueues[j.ch.id]
	if q == nil {
		q = &hookQueue{}
		s.hookQueues[j.ch.id] = q
	}
	q.jobs = append(q.jobs, j)
	s.pendingDeliveries++
	if q.running {
		return
	}
	q.running = true
	s.hookWG.Add(1)
	go s.drain(q)
}

// drain delivers q's jobs in order until the queue is empty.
func (s *Server) drain(q *hookQueue) {
	defer s.hookWG.Done()
	for {
		s.mu.Lock()
		if len(q.jobs) == 0 {
			q.running = false
			s.mu.Unlock()
			return
		}
		j := q.jobs[0]
		q.jobs = q.jobs[1:]
		s.mu.Unlock()
		s.deliver(context.Background(), j)
		s.mu.Lock()
		s.pendingDeliveries--
		s.signalLocked()
		s.mu.Unlock()
	}
}

// deliver posts one event to one hook as Okta does: the envelope of
// https://developer.okta.com/docs/concepts/event-hooks/, the hook's auth
// scheme and custom headers, the hook timeout per attempt, and at most one
// retry, after a timeout, a failed connection or a 5xx (not after a 4xx).
// Every attempt is recorded as a Delivery.
func (s *Server) deliver(ctx context.Context, j hookJob) {
	for attempt := 1; attempt <= 2; attempt++ {
		d := Delivery{HookID: j.ch.id, URL: j.ch.uri, EventType: j.e.EventType, EventUUIDs: []string{j.e.UUID},
			EventID: j.eventID, Attempt: attempt, Time: s.Now()}
		var err error
		d.Status, err = s.post(ctx, j.ch, j.body)
		if err != nil {
			d.Err = err.Error()
		}
		s.mu.Lock()
		s.deliveries = append(s.deliveries, d)
		s.signalLocked()
		s.mu.Unlock()
		if (err == nil && d.Status < 500) || ctx.Err() != nil {
			return
		}
	}
}

// signalLocked wakes the AwaitDeliveries and AwaitQueuedDeliveries
// callers.
func (s *Server) signalLocked() {
	close(s.delivered)
	s.delivered = make(chan struct{})
}

// post sends one delivery attempt and returns the hook's status.
func (s *Server) post(ctx context.Context, ch channel, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.hookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ch.uri, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("cannot call the endpoint: %v", err)
	}
	ch.setHeaders(req)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "Okta-Integrations")
	resp, err := s.hookHC.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, fmt.Errorf("no answer within %v (timeout)", s.hookTimeout)
		}
		return 0, errors.New(callError(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

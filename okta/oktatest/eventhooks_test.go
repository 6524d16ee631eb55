package oktatest_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

const endpointSecret = "Basic ZW5kcG9pbnQ6c2VjcmV0"

// call is one request an endpoint received.
type call struct {
	method string
	header http.Header
	body   []byte
}

// endpoint is an event hook endpoint whose answers a test scripts: answer
// gets the number of the call (1, 2, ...) of its method and writes the
// response; nil answers as a correct receiver does.
type endpoint struct {
	URL    string
	answer func(n int, w http.ResponseWriter, r *http.Request)

	mu    sync.Mutex
	calls []call
}

func newEndpoint(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *endpoint {
	t.Helper()
	e := &endpoint{answer: answer}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.calls = append(e.calls, call{r.Method, r.Header.Clone(), body})
		n := 0
		for _, c := range e.calls {
			if c.method == r.Method {
				n++
			}
		}
		e.mu.Unlock()
		if e.answer != nil {
			e.answer(n, w, r)
			return
		}
		answerCorrectly(w, r)
	}))
	t.Cleanup(hs.Close)
	e.URL = hs.URL + "/hook"
	return e
}

// answerCorrectly echoes the challenge of a GET and accepts a POST.
func answerCorrectly(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		_ = json.NewEncoder(w).Encode(map[string]string{"verification": r.Header.Get("X-Okta-Verification-Challenge")})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// waitForClient answers nothing until the fake gives up (its hook timeout).
func waitForClient(_ int, _ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

func (e *endpoint) received(method string) []call {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []call
	for _, c := range e.calls {
		if c.method == method {
			out = append(out, c)
		}
	}
	return out
}

func hookSpec(name, uri string, types ...string) okta.EventHook {
	if len(types) == 0 {
		types = []string{okta.EventTypePreregisterInitiate}
	}
	return okta.EventHook{Name: name, Events: okta.EventSubscriptions{Items: types},
		Channel: okta.EventHookChannel{Config: okta.EventHookChannelConfig{URI: uri,
			Headers:    []okta.EventHookHeader{{Key: "X-Tenant", Value: "acme"}},
			AuthScheme: &okta.EventHookAuthScheme{Key: "Authorization", Value: endpointSecret}}}}
}

// TestEventHookVerification: the verify call sends a GET challenge with
// the hook's headers, waits the hook timeout, tries once more after any
// failure, and answers 400 when both fail.
func TestEventHookVerification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		answer   func(n int, w http.ResponseWriter, r *http.Request)
		wantErr  string // in the 400's cause; "" for success
		wantGETs int
	}{
		{"echoes", nil, "", 1},
		{"wrong echo", func(_ int, w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, `{"verification":"something else"}`)
		}, `did not answer {"verification"`, 2},
		{"echo not JSON", func(_ int, w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, r.Header.Get("X-Okta-Verification-Challenge"))
		}, `did not answer {"verification"`, 2},
		{"401", func(_ int, w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", http.StatusUnauthorized) }, "answered HTTP 401", 2},
		{"timeout, retry, timeout", waitForClient, "did not answer within 100ms: timeout", 2},
		{"timeout then echo", func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				waitForClient(n, w, r)
				return
			}
			answerCorrectly(w, r)
		}, "", 2},
		{"500 then echo", func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				http.Error(w, "starting", 500)
				return
			}
			answerCorrectly(w, r)
		}, "", 2},
		{"redirect is not followed", func(_ int, w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}, "answered HTTP 302", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, c := newServerClient(t, oktatest.WithHookTimeout(100*time.Millisecond))
			ep := newEndpoint(t, tt.answer)
			h, err := c.CreateEventHook(t.Context(), hookSpec("verify", ep.URL))
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.VerifyEventHook(t.Context(), h.ID)
			switch {
			case tt.wantErr == "" && (err != nil || got.VerificationStatus != okta.EventHookVerified):
				t.Errorf("VerifyEventHook = %s, %v; want VERIFIED", got.VerificationStatus, err)
			case tt.wantErr != "" && (!errors.Is(err, okta.ErrValidation) || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("VerifyEventHook = %v; want a 400 containing %q", err, tt.wantErr)
			}
			gets := ep.received(http.MethodGet)
			if len(gets) != tt.wantGETs {
				t.Fatalf("endpoint got %d GETs, want %d", len(gets), tt.wantGETs)
			}
			for _, g := range gets {
				if g.header.Get("X-Okta-Verification-Challenge") == "" || g.header.Get("Authorization") != endpointSecret ||
					g.header.Get("X-Tenant") != "acme" {
					t.Errorf("verification request headers %v", g.header)
				}
			}
			if len(gets) == 2 && gets[0].header.Get("X-Okta-Verification-Challenge") == gets[1].header.Get("X-Okta-Verification-Challenge") {
				t.Error("the retry reused the challenge")
			}
			if after, _ := c.GetEventHook(t.Context(), h.ID); (after.VerificationStatus == okta.EventHookVerified) != (tt.wantErr == "") {
				t.Errorf("hook after verification: %s", after.VerificationStatus)
			}
		})
	}
}

// TestEventHookDeliveryTargets: events reach only ACTIVE and VERIFIED hooks
// subscribed to their type.
func TestEventHookDeliveryTargets(t *testing.T) {
	t.Parallel()
	srv, c := newServerClient(t)
	ctx := t.Context()
	create := func(name string, verify, deactivate bool, types ...string) *endpoint {
		ep := newEndpoint(t, nil)
		h, err := c.CreateEventHook(ctx, hookSpec(name, ep.URL, types...))
		if err != nil {
			t.Fatal(err)
		}
		if verify {
			if _, err := c.VerifyEventHook(ctx, h.ID); err != nil {
				t.Fatal(err)
			}
		}
		if deactivate {
			if _, err := c.DeactivateEventHook(ctx, h.ID); err != nil {
				t.Fatal(err)
			}
		}
		return ep
	}
	// Each hook has its own delivery queue: waiting for every queued
	// delivery shows a wrong one to any other hook too.
	unverified := create("unverified", false, false)
	inactive := create("inactive", true, true)
	otherType := create("other type", true, false, "user.session.start")
	target := create("target", true, false)

	u := seedUser(t, srv, "targets@example.com", okta.UserStaged)
	if err := c.InitiateFulfillment(ctx, okta.FulfillmentRequest{UserID: u.ID, FulfillmentData: okta.FulfillmentData{
		{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"}}}); err != nil {
		t.Fatal(err)
	}
	ds, err := srv.AwaitQueuedDeliveries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].URL != target.URL || ds[0].Status != http.StatusNoContent || ds[0].Attempt != 1 {
		t.Errorf("deliveries = %+v, want one to the target", ds)
	}
	for name, ep := range map[string]*endpoint{"unverified": unverified, "inactive": inactive, "other type": otherType} {
		if n := len(ep.received(http.MethodPost)); n != 0 {
			t.Errorf("%s hook got %d deliveries", name, n)
		}
	}
	posts := target.received(http.MethodPost)
	if len(posts) != 1 {
		t.Fatalf("target got %d deliveries", len(posts))
	}
	// The delivery carries the hook's headers and Okta's envelope.
	h := posts[0].header
	if h.Get("Authorization") != endpointSecret || h.Get("X-Tenant") != "acme" ||
		h.Get("Content-Type") != "application/json" || h.Get("Accept") != "application/json" {
		t.Errorf("delivery headers %v", h)
	}
	var env struct {
		EventType, EventTypeVersion, CloudEventsVersion, Source, EventID, EventTime, ContentType string
		Data                                                                                     struct {
			Events []struct {
				UUID, EventType, Published string
			}
		}
	}
	if err := json.Unmarshal(posts[0].body, &env); err != nil {
		t.Fatal(err)
	}
	ev := srv.Events()[0]
	want := []string{"com.okta.event_hook", "1.0", "0.1", "application/json", ds[0].EventID, "2026-01-01T00:00:00.000Z"}
	got := []string{env.EventType, env.EventTypeVersion, env.CloudEventsVersion, env.ContentType, env.EventID, env.EventTime}
	if diff := cmp.Diff(want, got); diff != "" || !strings.Contains(env.Source, "/api/v1/eventHooks/"+ds[0].HookID) {
		t.Errorf("envelope (-want +got):\n%s\nsource %s", diff, env.Source)
	}
	if len(env.Data.Events) != 1 || env.Data.Events[0].UUID != ev.UUID || env.Data.Events[0].EventType != okta.EventTypePreregisterInitiate {
		t.Errorf("data.events = %+v, want the event %s", env.Data.Events, ev.UUID)
	}
}

// TestEventHookDeliveryRetry: at most one retry, after a 5xx or a timeout,
// never after a 4xx; the retry carries the same envelope.
func TestEventHookDeliveryRetry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		answer func(n int, w http.ResponseWriter, r *http.Request) // POSTs only
		want   []oktatest.Delivery                                 // Attempt, Status, Err
	}{
		{"accepted", nil, []oktatest.Delivery{{Attempt: 1, Status: 204}}},
		{"200 with a body", func(_ int, w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") },
			[]oktatest.Delivery{{Attempt: 1, Status: 200}}},
		{"503 then accepted", func(n int, w http.ResponseWriter, _ *http.Request) {
			if n == 1 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(200)
		}, []oktatest.Delivery{{Attempt: 1, Status: 503}, {Attempt: 2, Status: 200}}},
		{"500 twice: one retry only", func(_ int, w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", 500) },
			[]oktatest.Delivery{{Attempt: 1, Status: 500}, {Attempt: 2, Status: 500}}},
		{"401 is not retried", func(_ int, w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", http.StatusUnauthorized) },
			[]oktatest.Delivery{{Attempt: 1, Status: 401}}},
		{"400 is not retried", func(_ int, w http.ResponseWriter, _ *http.Request) { http.Error(w, "bad", 400) },
			[]oktatest.Delivery{{Attempt: 1, Status: 400}}},
		{"slow handler: timeout, retry, timeout", waitForClient, []oktatest.Delivery{
			{Attempt: 1, Err: "no answer within 100ms (timeout)"}, {Attempt: 2, Err: "no answer within 100ms (timeout)"}}},
		{"timeout then accepted", func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				waitForClient(n, w, r)
				return
			}
			w.WriteHeader(200)
		}, []oktatest.Delivery{{Attempt: 1, Err: "no answer within 100ms (timeout)"}, {Attempt: 2, Status: 200}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := oktatest.NewServer(t, oktatest.WithHookTimeout(100*time.Millisecond))
			ep := newEndpoint(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet || tt.answer == nil {
					answerCorrectly(w, r)
					return
				}
				tt.answer(n, w, r)
			})
			if _, err := srv.AddEventHook(t.Context(), ep.URL, endpointSecret); err != nil {
				t.Fatal(err)
			}
			c, err := srv.Client()
			if err != nil {
				t.Fatal(err)
			}
			u := seedUser(t, srv, "retry@example.com", okta.UserActive)
			gid := srv.AddGroup("Engineering")
			if err := c.AddUserToGroup(t.Context(), gid, u.ID); err != nil {
				t.Fatal(err)
			}
			// Closing the fake waits for its deliveries: every attempt,
			// retries included, is recorded when it returns.
			srv.Close()
			ds := srv.Deliveries()
			var got []oktatest.Delivery
			for _, d := range ds {
				if d.EventID != ds[0].EventID || d.EventType != "group.user_membership.add" {
					t.Errorf("delivery %+v is not a retry of the first", d)
				}
				got = append(got, oktatest.Delivery{Attempt: d.Attempt, Status: d.Status, Err: d.Err})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("attempts (-want +got):\n%s", diff)
			}
			var bodies []string
			for _, p := range ep.received(http.MethodPost) {
				bodies = append(bodies, string(p.body))
			}
			if len(bodies) != len(tt.want) || (len(bodies) == 2 && bodies[0] != bodies[1]) {
				t.Errorf("endpoint got %d POSTs; a retry must resend the same body", len(bodies))
			}
		})
	}
}

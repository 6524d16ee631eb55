package fulfillment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// withEventOrg points cfg.Okta at a fake Okta org (no rate limits) holding
// one user per name (login name@example.com) and returns name → Okta user
// ID, so that the event handler's check with Okta finds them.
func withEventOrg(t testing.TB, cfg *Config, names ...string) (map[string]string, *oktatest.Server) {
	t.Helper()
	org, err := oktatest.Start(oktatest.WithoutRateLimits())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(org.Close)
	ids := map[string]string{}
	for _, n := range names {
		p := okta.Profile{Login: n + "@example.com", Email: n + "@example.com", FirstName: "A", LastName: "User"}
		u, err := org.AddUser(p, okta.UserActive)
		if err != nil {
			t.Fatal(err)
		}
		ids[n] = u.ID
	}
	if cfg.Okta, err = org.Client(okta.WithRetryPolicy(okta.NoRetries())); err != nil {
		t.Fatal(err)
	}
	return ids, org
}

func TestRecordEventChecksTheUserWithOkta(t *testing.T) {
	t.Parallel()
	cfg := offlineConfig(t)
	ids, org := withEventOrg(t, &cfg, "known")
	gone, err := org.AddUser(okta.Profile{Login: "gone@example.com", Email: "gone@example.com", FirstName: "G", LastName: "One"}, okta.UserDeprovisioned)
	if err != nil {
		t.Fatal(err)
	}
	ids["gone"] = gone.ID
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, tc := range []struct {
		name    string
		ev      HookEvent
		want    EventOutcome
		wantErr error
	}{
		{"unknown ID", HookEvent{ID: "ev-1", UserID: "00unobody0000000000"}, EventRejected, ErrUnknownUser},
		{"a login, not an ID", HookEvent{ID: "ev-2", UserID: "known@example.com"}, EventRejected, ErrUnknownUser},
		{"deactivated", HookEvent{ID: "ev-3", UserID: ids["gone"]}, EventRejected, ErrUnknownUser},
		{"known", HookEvent{ID: "ev-4", UserID: ids["known"], Login: "forged@evil.example", Items: []Item{cfg.Defaults}}, EventRecorded, nil},
		{"known, redelivered", HookEvent{ID: "ev-4", UserID: ids["known"]}, EventDuplicate, nil},
		{"known, second event", HookEvent{ID: "ev-5", UserID: ids["known"]}, EventInFlight, nil},
		{"unknown, redelivered", HookEvent{ID: "ev-1", UserID: "00unobody0000000000"}, EventRejected, ErrUnknownUser},
	} {
		got, err := s.RecordEvent(ctx, tc.ev)
		if got != tc.want || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
			t.Errorf("%s: RecordEvent = %v, %v; want %v, %v", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
	recs, err := s.store.List(ctx, Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].UserID != ids["known"] {
		t.Fatalf("records = %+v, want only the known user's", recs)
	}
	if recs[0].Login != "known@example.com" {
		t.Errorf("recorded login %q, want Okta's known@example.com (not the event's)", recs[0].Login)
	}
}

func TestRecordEventOktaDown(t *testing.T) {
	t.Parallel()
	s, err := New(offlineConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	ev := HookEvent{ID: "ev-down", UserID: "00uabc"}
	if got, err := s.RecordEvent(ctx, ev); got != EventFailed || err == nil || errors.Is(err, ErrUnknownUser) {
		t.Fatalf("RecordEvent with Okta unreachable = %v, %v; want failed with a non-rejection error", got, err)
	}
	// Nothing was marked: the event is still new.
	if first, err := s.store.MarkEvent(ctx, "ev-down", t0); err != nil || !first {
		t.Errorf("MarkEvent after a failed RecordEvent = %v, %v; want first", first, err)
	}
}

func TestQueuedEventHandler(t *testing.T) {
	t.Parallel()
	cfg := offlineConfig(t)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got []HookEvent
	var full bool
	h := s.QueuedEventHandler(func(_ context.Context, evs []HookEvent) error {
		if full {
			return fmt.Errorf("busy: %w", ErrQueueFull)
		}
		got = append(got, evs...)
		return nil
	})
	send := func(body []byte, auth string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/hook", bytes.NewReader(body))
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	if w := send(hookEvent("00uq1", nil, "q-1"), "wrong"); w.Code != http.StatusUnauthorized {
		t.Errorf("wrong secret: %d, want 401", w.Code)
	}
	if w := send(hookEvent("00uq1", nil, "q-1", "q-2"), cfg.EventHookSecret.Reveal()); w.Code != http.StatusOK {
		t.Errorf("delivery: %d %s, want 200", w.Code, w.Body)
	}
	published := time.Date(2026, 11, 29, 15, 0, 0, 0, time.UTC) // as hookEvent writes it
	want := []HookEvent{
		{ID: "q-1", UserID: "00uq1", Login: "00uq1@example.com", Items: []Item{cfg.Defaults}, Published: published},
		{ID: "q-2", UserID: "00uq1", Login: "00uq1@example.com", Items: []Item{cfg.Defaults}, Published: published},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("enqueued (-want +got):\n%s", diff)
	}
	full = true
	w := send(hookEvent("00uq1", nil, "q-3"), cfg.EventHookSecret.Reveal())
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("full queue: %d Retry-After %q, want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	// Nothing reached the store: the handler only hands over.
	if recs, _ := s.store.List(t.Context(), Query{}); len(recs) != 0 {
		t.Errorf("the queued handler recorded %d records itself", len(recs))
	}
}

// TestRecordEventDuplicateAsksNoOkta: an event marked before (here as in
// flight, the event of an order made with Order) whose user's key has
// since become active is a duplicate when delivered again (a catch-up over
// an older window reads it): with a Store that is an EventChecker it is
// found so without asking Okta about the user, which is unreachable here.
// A Store without EventChecker marks after asking Okta (a rejected event
// must stay unmarked), so it still needs Okta; an event never marked does
// too.
func TestRecordEventDuplicateAsksNoOkta(t *testing.T) {
	t.Parallel()
	type got struct {
		Outcome EventOutcome
		Failed  bool
	}
	for _, tc := range []struct {
		name    string
		store   Store
		eventID string
		want    got
	}{
		{"EventChecker, marked", NewMemoryStore(), "ev-marked", got{Outcome: EventDuplicate}},
		{"EventChecker, never marked", NewMemoryStore(), "ev-new", got{Outcome: EventFailed, Failed: true}},
		{"no EventChecker, marked", struct{ Store }{NewMemoryStore()}, "ev-marked", got{Outcome: EventFailed, Failed: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := offlineConfig(t) // Okta unreachable
			cfg.Store = tc.store
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			if _, err := tc.store.Put(ctx, Record{UserID: "00uada", Login: "ada@example.com", Status: Active, CreatedAt: t0, UpdatedAt: t0}); err != nil {
				t.Fatal(err)
			}
			if _, err := tc.store.MarkEvent(ctx, "ev-marked", t0); err != nil {
				t.Fatal(err)
			}
			out, err := s.RecordEvent(ctx, HookEvent{ID: tc.eventID, UserID: "00uada", Items: []Item{cfg.Defaults}, Published: t0.Add(time.Minute)})
			if diff := cmp.Diff(tc.want, got{Outcome: out, Failed: err != nil}); diff != "" {
				t.Errorf("RecordEvent (-want +got):\n%s (error %v)", diff, err)
			}
		})
	}
}

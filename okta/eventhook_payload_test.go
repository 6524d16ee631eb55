package okta_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/okta"
)

// A delivery encodes with Okta's time format and decodes back unchanged.
func TestEventHookDeliveryRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 29, 15, 0, 0, 32_000_000, time.UTC)
	d := okta.EventHookDelivery{
		EventType: okta.EventHookDeliveryType, EventTypeVersion: "1.0", CloudEventsVersion: "0.1",
		Source: "https://example.okta.com/api/v1/eventHooks/who8vt36qfNpCGz9H1e6", EventID: "b5a188b9-5ece-4636-b041-482ffda96311",
		EventTime: at, ContentType: "application/json",
		Data: &okta.EventHookData{Events: []okta.LogEvent{{
			UUID: "4a3c2a5b-1f7e-11f0-9a2b-8b2f0f4f3a1c", Published: at, EventType: okta.EventTypePreregisterInitiate,
			Version: "0", Severity: "INFO", DisplayMessage: "MFA preregistration initiated",
			Outcome: &okta.LogOutcome{Result: "SUCCESS"},
			Target: []okta.LogTarget{{ID: "00u1", Type: "User", AlternateID: "ada@example.com",
				DetailEntry: map[string]any{"yubicoProductId": "1"}}},
			DebugContext: okta.LogDebugContext{DebugData: map[string]any{"requestId": "req1"}},
			Transaction:  &okta.LogTransaction{Type: "WEB", ID: "req1", Detail: map[string]any{}},
		}}},
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"eventTime":"2026-11-29T15:00:00.032Z"`, `"published":"2026-11-29T15:00:00.032Z"`,
		`"eventType":"system.mfa.preregister.initiate"`, `"eventType":"com.okta.event_hook"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON %s lacks %s", b, want)
		}
	}
	if strings.Count(string(b), `"eventTime"`) != 1 || strings.Count(string(b), `"published"`) != 1 {
		t.Errorf("a time member appears twice: %s", b)
	}
	var back okta.EventHookDelivery
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, back); diff != "" {
		t.Errorf("round trip (-sent +decoded):\n%s", diff)
	}
}

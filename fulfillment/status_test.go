package fulfillment

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/yubico"
)

// allowedMoves is the lifecycle written out independently of the
// implementation's table: from → event → to.
var allowedMoves = map[Status]map[Event]Status{
	StatusNone:         {EventEnroll: FulfillmentStarted},
	FulfillmentStarted: {EventShip: Shipped, EventFail: FulfillmentErrored, EventDelete: Deleted},
	FulfillmentErrored: {EventRetry: FulfillmentStarted, EventFail: FulfillmentErrored, EventDelete: Deleted},
	Shipped:            {EventResendPIN: Shipped, EventSignIn: Active, EventFail: FulfillmentErrored, EventDelete: Deleted},
	Active:             {EventDelete: Deleted},
	Deleted:            {},
}

func TestNextMatchesLifecycle(t *testing.T) {
	t.Parallel()
	froms := append([]Status{StatusNone}, Statuses()...)
	froms = append(froms, "BOGUS", "active")
	events := append(allEvents(), "explode", "")
	type result struct {
		To      Status
		Allowed bool
	}
	got := map[string]result{}
	want := map[string]result{}
	for _, from := range froms {
		for _, e := range events {
			key := string(from) + "/" + string(e)
			to, err := from.Next(e)
			got[key] = result{to, err == nil}
			if err != nil {
				if !errors.Is(err, ErrInvalidTransition) {
					t.Errorf("%s: error %v does not wrap ErrInvalidTransition", key, err)
				}
				if to != from {
					t.Errorf("%s: on error Next returned %q, want the unchanged %q", key, to, from)
				}
				var te *TransitionError
				if !errors.As(err, &te) || te.From != from || te.Event != e {
					t.Errorf("%s: error %#v does not name from/event", key, err)
				}
			}
			if w, ok := allowedMoves[from][e]; ok {
				want[key] = result{w, true}
			} else {
				want[key] = result{from, false}
			}
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("transitions (-want +got):\n%s", d)
	}
}

func TestTransitionErrorNamesFromEventTo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		from        Status
		event       Event
		wantTo      Status
		wantInMsg   []string
		wantUnknown error
	}{
		{Active, EventResendPIN, Shipped, []string{"ACTIVE", `"resend-pin"`, "SHIPPED", "PIN is gone"}, nil},
		{FulfillmentStarted, EventResendPIN, Shipped, []string{"FULFILLMENT_STARTED", "only while shipped"}, nil},
		{Deleted, EventDelete, Deleted, []string{"DELETED", `"delete"`, "terminal"}, nil},
		{Deleted, EventRetry, FulfillmentStarted, []string{"DELETED", `"retry"`, "FULFILLMENT_STARTED"}, nil},
		{FulfillmentStarted, EventRetry, FulfillmentStarted, []string{`from FULFILLMENT_STARTED to FULFILLMENT_STARTED`, "only an errored key can be retried"}, nil},
		{Active, EventRetry, FulfillmentStarted, []string{"ACTIVE", "only an errored key can be retried"}, nil},
		{Shipped, EventEnroll, FulfillmentStarted, []string{"already ordered"}, nil},
		{StatusNone, EventShip, Shipped, []string{"from none to SHIPPED"}, nil},
		{"BOGUS", EventShip, Shipped, []string{`unknown status "BOGUS"`}, ErrUnknownStatus},
		{Shipped, "explode", StatusNone, []string{`unknown event "explode" from SHIPPED`}, ErrUnknownEvent},
	}
	for _, tt := range tests {
		_, err := tt.from.Next(tt.event)
		var te *TransitionError
		if !errors.As(err, &te) {
			t.Fatalf("%s/%s: error %v is not a *TransitionError", tt.from, tt.event, err)
		}
		if te.To != tt.wantTo {
			t.Errorf("%s/%s: To = %q, want %q", tt.from, tt.event, te.To, tt.wantTo)
		}
		for _, s := range tt.wantInMsg {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s/%s: message %q lacks %q", tt.from, tt.event, err, s)
			}
		}
		if !strings.HasPrefix(err.Error(), "fulfillment: ") {
			t.Errorf("message %q lacks the package prefix", err)
		}
		if tt.wantUnknown != nil && !errors.Is(err, tt.wantUnknown) {
			t.Errorf("%s/%s: error does not wrap %v", tt.from, tt.event, tt.wantUnknown)
		}
	}
}

func TestCan(t *testing.T) {
	t.Parallel()
	if !Shipped.Can(EventResendPIN) || Active.Can(EventResendPIN) || Deleted.Can(EventDelete) {
		t.Error("Can disagrees with the lifecycle")
	}
}

func TestCanOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		current Status
		want    error
	}{
		{StatusNone, nil},
		{Active, nil},
		{Deleted, nil},
		{FulfillmentStarted, ErrOrderInFlight},
		{FulfillmentErrored, ErrOrderInFlight},
		{Shipped, ErrOrderInFlight},
		{"SHIPPING", ErrUnknownStatus},
	}
	for _, tt := range tests {
		err := CanOrder(tt.current)
		if tt.want == nil {
			if err != nil {
				t.Errorf("CanOrder(%q) = %v, want nil", tt.current, err)
			}
			continue
		}
		if !errors.Is(err, tt.want) {
			t.Errorf("CanOrder(%q) = %v, want it to wrap %v", tt.current, err, tt.want)
		}
	}
}

func TestStatusFromOkta(t *testing.T) {
	t.Parallel()
	type out struct {
		S  Status
		OK bool
	}
	tests := []struct {
		status string
		preset bool
		want   out
	}{
		{"FULFILLMENT_PENDING", false, out{FulfillmentStarted, true}},
		{"FULFILLMENT_PENDING", true, out{FulfillmentStarted, true}},
		{"FULFILLMENT_ERRORED", false, out{FulfillmentErrored, true}},
		{"ACTIVE", true, out{Shipped, true}},
		{"ACTIVE", false, out{Active, true}},
		{" active ", false, out{Active, true}},
		{"fulfillment_errored", true, out{FulfillmentErrored, true}},
		{"", false, out{StatusNone, false}},
		{"PENDING_ACTIVATION", false, out{StatusNone, false}},
		{"SHIPPED", true, out{StatusNone, false}},
		{"FULFILLMENT_STARTED", false, out{StatusNone, false}},
		{strings.Repeat("A", 1<<20), false, out{StatusNone, false}},
		{"ACTIVE\x00", true, out{StatusNone, false}},
	}
	for _, tt := range tests {
		s, ok := StatusFromOkta(okta.EnrollmentStatus(tt.status), tt.preset)
		if d := cmp.Diff(tt.want, out{s, ok}); d != "" {
			t.Errorf("StatusFromOkta(%.20q, %v) (-want +got):\n%s", tt.status, tt.preset, d)
		}
	}
}

func TestStatusFromYubicoState(t *testing.T) {
	t.Parallel()
	want := map[yubico.ShipmentState]Status{
		1: FulfillmentErrored, 3: FulfillmentStarted, 6: FulfillmentErrored, 7: FulfillmentErrored,
		8: FulfillmentErrored, 9: FulfillmentErrored, 10: FulfillmentStarted, 99: FulfillmentErrored,
		103: Shipped, 104: Shipped, 105: FulfillmentErrored, 106: FulfillmentErrored,
	}
	got := map[yubico.ShipmentState]Status{}
	for id := yubico.ShipmentState(-5); id <= 3000; id++ {
		if s, ok := statusFromYubicoState(id); ok {
			got[id] = s
		} else if s != StatusNone {
			t.Errorf("statusFromYubicoState(%d) = %q, false; want the zero status with ok=false", id, s)
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Yubico state mapping (-want +got):\n%s", d)
	}
	for _, id := range []yubico.ShipmentState{-1 << 31, 1 << 31, 2000, 1025, 107} {
		if _, ok := statusFromYubicoState(id); ok {
			t.Errorf("statusFromYubicoState(%d) ok, want unknown", id)
		}
	}
}

func TestStatusHelpers(t *testing.T) {
	t.Parallel()
	got := []string{}
	for _, s := range append([]Status{StatusNone}, append(Statuses(), "X\"Y")...) {
		got = append(got, s.Label())
	}
	want := []string{"Not ordered", "Fulfillment started", "Fulfillment errored", "Shipped", "Active", "Deleted", `"X\"Y"`}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Label (-want +got):\n%s", d)
	}
	for _, s := range Statuses() {
		if !s.Valid() {
			t.Errorf("%q not Valid", s)
		}
		if s.Terminal() != (s == Deleted) {
			t.Errorf("%q.Terminal() = %v", s, s.Terminal())
		}
	}
	if StatusNone.Valid() || Status("shipped").Valid() {
		t.Error("Valid accepts a non-status")
	}
}

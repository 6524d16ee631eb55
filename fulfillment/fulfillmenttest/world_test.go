package fulfillmenttest_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/yubico"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// TestNewHireOnboarding is the test a user writes for an onboarding
// service: a new hire's key is ordered, shipped, the PIN emailed, and the
// first sign-in makes it Active and wipes the PIN at Okta.
func TestNewHireOnboarding(t *testing.T) {
	ctx, w := t.Context(), fulfillmenttest.New(t)
	hire := w.AddUser(fulfillmenttest.NewHire("ada"))
	if _, err := w.Service.Order(ctx, hire.Profile.Login); err != nil {
		t.Fatal(err)
	}
	w.AdvanceUntil(ctx, hire.Profile.Login, fulfillment.Shipped)
	pin, err := w.Okta.PIN(hire.Profile.SecondEmail) // a new hire's PIN goes home
	if err != nil {
		t.Fatal(err)
	}
	w.SignIn(ctx, hire.Profile.Login, w.Parcel(ctx, hire.Profile.Login), pin)
	rec := w.AdvanceUntil(ctx, hire.Profile.Login, fulfillment.Active)
	if !w.Okta.PINWiped(rec.Enrollments[0].ID) {
		t.Error("Okta still holds the PIN after the first sign-in")
	}
}

// TestEmployeeMilestones follows an existing employee's key through the
// milestones: the PIN goes to the primary email.
func TestEmployeeMilestones(t *testing.T) {
	ctx := t.Context()
	w := fulfillmenttest.New(t, fulfillmenttest.WithUsers(fulfillmenttest.Employee("grace")), fulfillmenttest.WithoutEventHook())
	if _, err := w.Service.Order(ctx, "grace@example.com"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range []fulfillmenttest.Milestone{fulfillmenttest.Programmed, fulfillmenttest.Shipped, fulfillmenttest.Delivered} {
		if rep := w.AdvanceTo(ctx, m); len(rep.Failures) != 0 {
			t.Fatalf("AdvanceTo(%s): failures %v", m, rep.Failures)
		}
		rec := w.Status(ctx, "grace@example.com")
		sh, _ := w.Yubico.FPRShipment(rec.ShipmentID)
		got = append(got, fmt.Sprintf("%s: yubico %d, %s %s", m, sh.State.ID, rec.Status.Label(), rec.Step))
	}
	want := []string{
		"programmed: yubico 10, Fulfillment started shipment-created",
		"shipped: yubico 103, Shipped pin-sent",
		"delivered: yubico 104, Shipped pin-sent",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("milestones (-want +got):\n%s", diff)
	}
	if pin, err := w.Okta.PIN("grace@example.com"); err != nil || pin != w.PIN("grace@example.com") {
		t.Errorf("Okta.PIN(primary) = %q, %v; want the PIN World.PIN reads", pin, err)
	}
	if _, err := w.Okta.PIN("grace@home.example.net"); err == nil {
		t.Error("an ACTIVE user's PIN went to the secondary email")
	}
	w.SignIn(ctx, "grace@example.com", w.Parcel(ctx, "grace@example.com"), w.PIN("grace@example.com"))
	w.AdvanceUntil(ctx, "grace@example.com", fulfillment.Active)
	w.WantStatus(ctx, "grace@example.com", fulfillment.Active)
}

// fastShippingWorld is a World whose shipments ship 2 hours after the
// batch (less than the Service's 12-hour poll), with a key ordered for
// the employee grace.
func fastShippingWorld(t *testing.T) *fulfillmenttest.World {
	t.Helper()
	w := fulfillmenttest.New(t, fulfillmenttest.WithUsers(fulfillmenttest.Employee("grace")), fulfillmenttest.WithoutEventHook(),
		fulfillmenttest.WithYubico(yubicotest.WithTiming(yubicotest.Timing{ShippingDelay: 2 * time.Hour})))
	if _, err := w.Service.Order(t.Context(), "grace@example.com"); err != nil {
		t.Fatal(err)
	}
	return w
}

// TestAdvanceToWaitsForTheServicesChecks: the Service reads a shipment on
// its own schedule (Record.NextCheck), not at each of Yubico's
// transitions; with a shipping delay shorter than its 12-hour poll,
// AdvanceTo still returns only once the Service has seen the milestone.
func TestAdvanceToWaitsForTheServicesChecks(t *testing.T) {
	ctx, w := t.Context(), fastShippingWorld(t)
	id := w.User("grace@example.com").ID
	for _, tc := range []struct {
		m    fulfillmenttest.Milestone
		want string
	}{
		{fulfillmenttest.Shipped, "SHIPPED pin-sent 103 false"},
		{fulfillmenttest.Delivered, "SHIPPED pin-sent 104 true"},
	} {
		if rep := w.AdvanceTo(ctx, tc.m); len(rep.Failures) != 0 {
			t.Fatalf("AdvanceTo(%s): failures %v", tc.m, rep.Failures)
		}
		rec, err := w.Config.Store.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%s %s %d %v", rec.Status, rec.Step, rec.ShipmentState, !rec.DeliveredAt.IsZero()); got != tc.want {
			t.Errorf("after AdvanceTo(%s): record %s, want %s", tc.m, got, tc.want)
		}
	}
}

// TestAdvanceUntilFollowsTheServicesChecks: AdvanceUntil moves the clocks
// to the record's next check as well as to Yubico's transitions, so that
// with a shipping delay shorter than the Service's 12-hour poll the record
// is Shipped when its shipment ships, not days later at its delivery.
func TestAdvanceUntilFollowsTheServicesChecks(t *testing.T) {
	ctx, w := t.Context(), fastShippingWorld(t)
	rec := w.AdvanceUntil(ctx, "grace@example.com", fulfillment.Shipped)
	if rec.ShipmentState != yubico.StateShipped || !rec.DeliveredAt.IsZero() {
		t.Errorf("AdvanceUntil(Shipped): shipment state %d, delivered at %v; want 103, not delivered", rec.ShipmentState, rec.DeliveredAt)
	}
}

// recorder is a TB that records the first failure instead of stopping.
type recorder struct{ msg string }

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	if r.msg == "" {
		r.msg = fmt.Sprintf(format, args...)
	}
}

// TestOwnService: a test that puts a Service of its own (its own
// Config and store) in World.Service, and leaves World.Config alone, still
// opens the parcel its Service shipped; Parcel used to read only
// Config.Store and fail with "no record for user" or, with the World's
// event hook registered (its Service recorded the order's event in
// Config.Store and never synced it), "the record has no shipment yet".
func TestOwnService(t *testing.T) {
	t.Parallel()
	for _, hook := range []bool{false, true} {
		t.Run(fmt.Sprintf("hook=%v", hook), func(t *testing.T) {
			t.Parallel()
			testOwnService(t, hook)
		})
	}
}

func testOwnService(t *testing.T, hook bool) {
	ctx := t.Context()
	var opts []fulfillmenttest.Option
	if !hook {
		opts = append(opts, fulfillmenttest.WithoutEventHook())
	}
	w := fulfillmenttest.New(t, opts...)
	cfg := w.Config
	cfg.Store = fulfillment.NewMemoryStore()
	svc, err := fulfillment.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.Service = svc
	hire := w.AddUser(fulfillmenttest.NewHire("ada"))
	if _, err := svc.Order(ctx, hire.ID); err != nil {
		t.Fatal(err)
	}
	w.AdvanceUntil(ctx, hire.ID, fulfillment.Shipped)
	w.SignIn(ctx, hire.ID, w.Parcel(ctx, hire.ID), w.PIN(hire.ID))
	if rec := w.AdvanceUntil(ctx, hire.ID, fulfillment.Active); rec.UserID != hire.ID {
		t.Errorf("record of %q, want %q", rec.UserID, hire.ID)
	}
	if rec, err := w.Config.Store.Get(ctx, hire.ID); err == nil && rec.ShipmentID != "" {
		t.Error("the World's own store has a shipment: the test did not use its own Service")
	}
}

// TestFailuresSayWhy: each step the World cannot take fails the test with
// a message that says where the user is and what is missing.
func TestFailuresSayWhy(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		run  func(w *fulfillmenttest.World)
		want string
	}{
		{"not ordered", func(w *fulfillmenttest.World) { w.AdvanceUntil(ctx, "ada@example.com", fulfillment.Shipped) }, "nothing is on order"},
		{"unknown user", func(w *fulfillmenttest.World) { w.Status(ctx, "nobody@example.com") }, `no user "nobody@example.com"`},
		{"no PIN email", func(w *fulfillmenttest.World) { w.PIN("ada@example.com") }, "no PIN email to ada@example.com or ada@home.example.net"},
		{"no shipment", func(w *fulfillmenttest.World) { order(t, w, "ada"); w.Parcel(ctx, "ada@example.com") }, "has no shipment yet"},
		{"parcel not shipped", func(w *fulfillmenttest.World) {
			order(t, w, "ada")
			w.AdvanceTo(ctx, fulfillmenttest.Programmed)
			w.Parcel(ctx, "ada@example.com")
		}, "not shipped"},
		{"waits for sign-in", func(w *fulfillmenttest.World) {
			order(t, w, "ada")
			w.AdvanceUntil(ctx, "ada@example.com", fulfillment.Active)
		}, "waits for the user's first sign-in"},
		{"errored on the way", func(w *fulfillmenttest.World) {
			u := fulfillmenttest.Employee("bob")
			u.Profile.StreetAddress, u.Profile.City, u.Profile.State, u.Profile.ZipCode = "123 XYZ", "Nowhere", "NY", "11111"
			w.AddUser(u)
			order(t, w, "bob")
			w.AdvanceUntil(ctx, "bob@example.com", fulfillment.Shipped)
		}, "errored at step shipment-created"},
		{"wrong status", func(w *fulfillmenttest.World) {
			order(t, w, "ada")
			w.WantStatus(ctx, "ada@example.com", fulfillment.Shipped)
		}, "user ada@example.com is FULFILLMENT_STARTED at step initiated, want SHIPPED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{}
			w := fulfillmenttest.New(r, fulfillmenttest.WithUsers(fulfillmenttest.NewHire("ada")), fulfillmenttest.WithoutEventHook())
			defer w.Close()
			tc.run(w)
			if !strings.Contains(r.msg, tc.want) || !strings.HasPrefix(r.msg, "fulfillmenttest: ") {
				t.Errorf("failure %q, want one containing %q", r.msg, tc.want)
			}
		})
	}
}

// TestNilOption: a nil option fails the test before anything starts,
// named by its index: in New's options, or among those given to WithOkta
// or WithYubico (not counting the World's own options before them, as the
// fakes' Start would); it used to panic, or with WithOkta be skipped.
func TestNilOption(t *testing.T) {
	t.Parallel()
	seed := fulfillmenttest.WithSeed(2)
	for _, tc := range []struct {
		name string
		opts []fulfillmenttest.Option
		want string // "" for no failure
	}{
		{"none nil", []fulfillmenttest.Option{seed, fulfillmenttest.WithOkta(oktatest.WithOrgName("Acme"))}, ""},
		{"New's", []fulfillmenttest.Option{seed, nil}, "fulfillmenttest: option 1 is nil"},
		{"WithOkta's", []fulfillmenttest.Option{seed, fulfillmenttest.WithOkta(oktatest.WithOrgName("Acme")), fulfillmenttest.WithOkta(nil)},
			"fulfillmenttest: WithOkta: option 1 is nil"},
		{"WithYubico's", []fulfillmenttest.Option{fulfillmenttest.WithYubico(nil, yubicotest.WithPINLength(6))},
			"fulfillmenttest: WithYubico: option 0 is nil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := &recorder{}
			w := fulfillmenttest.New(r, append(tc.opts, fulfillmenttest.WithoutEventHook())...)
			defer w.Close()
			if diff := cmp.Diff(tc.want, r.msg); diff != "" {
				t.Errorf("New's failure (-want +got):\n%s", diff)
			}
			if started := w.Yubico != nil; started != (tc.want == "") {
				t.Errorf("the fake Yubico started: %v, want %v", started, tc.want == "")
			}
		})
	}
}

// order orders a key for name@example.com.
func order(t *testing.T, w *fulfillmenttest.World, name string) {
	t.Helper()
	if _, err := w.Service.Order(t.Context(), name+"@example.com"); err != nil {
		t.Fatal(err)
	}
}

// TestSameSeedSameWorld: the seed decides every ID, so two worlds made the
// same way agree, and another seed differs.
func TestSameSeedSameWorld(t *testing.T) {
	run := func(seed uint64) []string {
		w := fulfillmenttest.New(t, fulfillmenttest.WithSeed(seed), fulfillmenttest.WithoutEventHook())
		u := w.AddUser(fulfillmenttest.Employee("ada"))
		if _, err := w.Service.Order(t.Context(), u.ID); err != nil {
			t.Fatal(err)
		}
		rec := w.AdvanceUntil(t.Context(), u.ID, fulfillment.Shipped)
		return []string{u.ID, rec.ShipmentID, rec.Enrollments[0].ID, w.PIN(u.ID)}
	}
	a, b, c := run(7), run(7), run(8)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("two worlds with seed 7 differ (-first +second):\n%s", diff)
	}
	if a[0] == c[0] || a[3] == c[3] {
		t.Errorf("seeds 7 and 8 made the same user ID or PIN")
	}
}

// TestProfile: the profiles are valid shipping profiles (the Service
// orders for them) with the names documented.
func TestProfile(t *testing.T) {
	w := fulfillmenttest.New(t, fulfillmenttest.WithoutEventHook())
	for _, tc := range []struct{ name, first string }{{"ada", "Ada"}, {"user00042", "User"}, {"42", "Ada"}, {"maximilianemanuel.x", "Maximilianemanu"}} {
		p := fulfillmenttest.Profile(tc.name)
		if p.FirstName != tc.first || p.Login != tc.name+"@example.com" || p.SecondEmail != tc.name+"@home.example.net" {
			t.Errorf("Profile(%q) = first %q login %q second %q", tc.name, p.FirstName, p.Login, p.SecondEmail)
		}
		w.AddUser(fulfillmenttest.NewHire(tc.name))
		if _, err := w.Service.Order(t.Context(), p.Login); err != nil {
			t.Errorf("Order for Profile(%q): %v", tc.name, err)
		}
	}
}

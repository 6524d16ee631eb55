package oktatest_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// TestClockNeverMovesBackwards: Advance and SetNow refuse to go back, with
// an error naming the problem, and leave the clock where it was.
func TestClockNeverMovesBackwards(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	srv := oktatest.NewServer(t, oktatest.WithNow(start))
	if err := srv.Advance(-time.Second); !errors.Is(err, oktatest.ErrClockBackwards) {
		t.Errorf("Advance(-1s) = %v, want ErrClockBackwards", err)
	}
	if err := srv.SetNow(start.Add(-time.Hour)); !errors.Is(err, oktatest.ErrClockBackwards) {
		t.Errorf("SetNow(an hour ago) = %v, want ErrClockBackwards", err)
	}
	if got := srv.Now(); !got.Equal(start) {
		t.Errorf("Now after refused moves = %v, want %v", got, start)
	}
	if err := srv.SetNow(start.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Advance(time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, want := srv.Now(), start.Add(time.Hour+time.Minute); !got.Equal(want) {
		t.Errorf("Now = %v, want %v", got, want)
	}
}

// TestRealTimeClockFollowsTheWallClock: with WithRealTime the fake's time
// (Now and the Date header a client sees) is the wall clock's, and Advance
// adds on top of it.
func TestRealTimeClockFollowsTheWallClock(t *testing.T) {
	t.Parallel()
	before := time.Now()
	srv := oktatest.NewServer(t, oktatest.WithRealTime())
	resp, err := http.Get(srv.URL() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	after := time.Now()
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		t.Fatal(err)
	}
	if date.Before(before.Truncate(time.Second)) || date.After(after) {
		t.Errorf("Date %v is not between %v and %v", date, before, after)
	}
	if err := srv.Advance(time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := srv.Now(); got.Before(after.Add(time.Hour)) {
		t.Errorf("Now after Advance(1h) = %v, want at least %v", got, after.Add(time.Hour))
	}
	if err := srv.SetNow(before); !errors.Is(err, oktatest.ErrClockBackwards) {
		t.Errorf("SetNow(the past) in real-time mode = %v, want ErrClockBackwards", err)
	}
}

// TestActivateTrustsTheSimulatorByDefault: a fake started without
// WithAttestationRoots activates keys of package simulator (whose CA the
// fake Yubico uses), instead of failing every activation.
func TestActivateTrustsTheSimulatorByDefault(t *testing.T) {
	t.Parallel()
	e := enrollStagedUser(t)
	if _, err := e.c.Activate(t.Context(), e.fac.program(t, e.srv, e.enr, "48213957", nil)); err != nil {
		t.Fatalf("Activate with the default roots = %v", err)
	}
	if list := e.srv.Enrollments(e.u.ID); len(list) != 1 || list[0].Status != okta.StatusActive {
		t.Errorf("enrollments = %+v, want one ACTIVE", list)
	}
}

// TestControlMethodsRefuseBadInput: the fault controls refuse what they
// cannot honour instead of ignoring it.
func TestControlMethodsRefuseBadInput(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	for name, err := range map[string]error{
		"FailNext(0, 500)":       srv.FailNext(0, 500),
		"FailNext(1, 200)":       srv.FailNext(1, 200),
		"DropNext(0)":            srv.DropNext(0),
		"SetLatency(-1s)":        srv.SetLatency(-time.Second),
		"InjectHTTPFault(empty)": srv.InjectHTTPFault(oktatest.HTTPFaultRule{PathPrefix: "/api"}),
		"SetHTTPFaultPlan(2)":    srv.SetHTTPFaultPlan(oktatest.HTTPFaultPlan{Rate: 2}),
	} {
		if err == nil {
			t.Errorf("%s = nil, want an error", name)
		}
	}
	if _, err := oktatest.Start(oktatest.WithAttestationRoots()); err == nil {
		t.Error("Start(WithAttestationRoots()) = nil error, want one")
	}
}

package yubicotest

import (
	"net/http/httptest"
	"testing"
	"time"
)

// TestFlightsOldestFirst checks that the requests in flight are dropped
// once finished, in whatever order they finish, and that pruning's horizon
// is always the arrival of the oldest one still in flight (the clock's time
// when none is).
func TestFlightsOldestFirst(t *testing.T) {
	t.Parallel()
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	s.mu.Lock()
	defer s.mu.Unlock()
	t0 := s.now
	r := httptest.NewRequest("POST", "/v1/shipments_exact", nil)
	ra, a := s.arriveLocked(r)
	s.setNowLocked(t0.Add(time.Hour))
	rb, b := s.arriveLocked(r)
	s.setNowLocked(t0.Add(2 * time.Hour))
	_, c := s.arriveLocked(r)
	if got := s.arrivalLocked(rb); !got.Equal(t0.Add(time.Hour)) {
		t.Errorf("arrivalLocked(b) = %v, want %v", got, t0.Add(time.Hour))
	}
	if got := s.arrivalLocked(r); !got.Equal(s.now) {
		t.Errorf("arrivalLocked(a request that did not come through serve) = %v, want the clock's %v", got, s.now)
	}
	for _, step := range []struct {
		leave *flight
		want  time.Time
		left  int
	}{
		{b, t0, 3}, // a is still in flight
		{a, t0.Add(2 * time.Hour), 1},
		{c, t0.Add(2 * time.Hour), 0}, // none: the clock's time
	} {
		s.leaveLocked(step.leave)
		if got := s.idemHorizonLocked(); !got.Equal(step.want) || len(s.flights) != step.left {
			t.Errorf("after leaving the flight of %v: horizon %v with %d flights; want %v with %d",
				step.leave.at, got, len(s.flights), step.want, step.left)
		}
	}
	if got := s.arrivalLocked(ra); !got.Equal(t0) {
		t.Errorf("arrivalLocked(a) after it left = %v, want %v", got, t0)
	}
}

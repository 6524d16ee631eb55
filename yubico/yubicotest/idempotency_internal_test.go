package yubicotest

import (
	"fmt"
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
	s := startLocked(t)
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

// TestPruneUnlinksForgottenCreates uses a key again past its TTL while a
// request that arrived within it is in flight (the key's two creates are
// chained), then ends that request: pruning forgets the first create and
// unlinks it from the chain (a chain still linked to its forgotten creates
// would keep them in memory for as long as the key is reused), and
// forgets the key once its last create is past the TTL.
func TestPruneUnlinksForgottenCreates(t *testing.T) {
	t.Parallel()
	s := startLocked(t)
	const key = "order-00u1-1"
	commit := func(i byte) *idemEntry {
		s.committedLocked(httptest.NewRecorder(), key, "/v1/shipments_exact", [32]byte{i}, fmt.Sprint("shipment-", i), nil)
		return s.idem[key]
	}
	step := s.idemTTL + time.Second
	first := commit(0)
	_, f := s.arriveLocked(httptest.NewRequest("POST", "/v1/shipments_exact", nil))
	s.setNowLocked(s.now.Add(step))
	s.pruneIdemLocked()
	second := commit(1)
	if len(s.idemQueue) != 2 || second.prev != first || first.next != second {
		t.Fatalf("reused with a request in flight since the first create: %d creates queued, chain linked %v; want 2, linked",
			len(s.idemQueue), second.prev == first && first.next == second)
	}
	s.leaveLocked(f)
	s.pruneIdemLocked()
	if len(s.idemQueue) != 1 || s.idemQueue[0] != second || s.idem[key] != second || second.prev != nil {
		t.Fatalf("after the request left: %d creates queued, the key's latest is the second: %v, linked to a forgotten one: %v; want only the second, unlinked",
			len(s.idemQueue), s.idem[key] == second, second.prev != nil)
	}
	s.setNowLocked(s.now.Add(step))
	s.pruneIdemLocked()
	if len(s.idem) != 0 || len(s.idemQueue) != 0 {
		t.Errorf("past the last create's TTL: %d keys, %d creates remembered; want none", len(s.idem), len(s.idemQueue))
	}
}

// startLocked starts a fake for t, closed when the test ends, and locks
// its s.mu until then.
func startLocked(t *testing.T) *Server {
	t.Helper()
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	s.mu.Lock()
	t.Cleanup(s.mu.Unlock)
	return s
}

package yubicotest

import "net/http"

// TrivialPIN exposes trivialPIN to the tests.
var TrivialPIN = func(pin string) bool { return trivialPIN([]byte(pin)) }

// OnArrival makes s call f with every request once its arrival is
// recorded (its time in the request log, its idempotency key's judgement),
// before its faults and handler; nil removes it. A test blocks f to hold
// a request while it moves the clock.
func (s *Server) OnArrival(f func(*http.Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onArrival = f
}

package yubicotest

import "time"

// NextTransition returns the earliest time at which a shipment is due to
// change state on its own (address validation, the daily fulfillment batch,
// the carrier's pick-up, delivery), and false when nothing is scheduled.
// Moving the clock there with [Server.SetNow] runs that transition: a test
// can step through a shipment's life without knowing the fake's [Timing].
func (s *Server) NextTransition() (time.Time, bool) {
	s.lock()
	defer s.mu.Unlock()
	return s.nextEventLocked()
}

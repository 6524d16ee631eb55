package yubicotest

import (
	"fmt"
	"time"
)

// Fault forces a shipment into an error state at the matching step.
type Fault int

// Faults.
const (
	FaultUndeliverable     Fault = iota + 1 // → 7 at address validation
	FaultDPLMatch                           // → 9 at address validation
	FaultProcessingError                    // → 8 at the fulfillment batch
	FaultShippingError                      // → 99 instead of shipping
	FaultLost                               // → 105 instead of delivery
	FaultDeliveryException                  // → 106 instead of delivery
)

// String names the fault.
func (f Fault) String() string {
	switch f {
	case FaultUndeliverable:
		return "undeliverable"
	case FaultDPLMatch:
		return "DPL match"
	case FaultProcessingError:
		return "processing error"
	case FaultShippingError:
		return "shipping error"
	case FaultLost:
		return "lost"
	case FaultDeliveryException:
		return "delivery exception"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// FailNext makes the next n HTTP requests (any route) fail with status and,
// if retryAfter > 0, a Retry-After header in whole seconds.
func (s *Server) FailNext(n, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failNext = append(s.failNext, failure{status, retryAfter})
	}
}

// DropNext makes the next n HTTP requests end with a dropped connection (no
// response).
func (s *Server) DropNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropNext += n
}

// SetLatency delays every response by d of real time (0 to stop), or until
// the request is cancelled; use it with client timeouts and contexts.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

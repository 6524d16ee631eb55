package yubicotest

import (
	"fmt"
	"time"

	"github.com/preenroll/preenroll/httpfault"
	"github.com/preenroll/preenroll/internal/fakehttp"
)

// ShipmentFault is a shipment's fate: it forces the shipment into an error
// state at the matching step of its lifecycle (see
// [Server.InjectShipmentFault]). HTTP faults, which disturb requests
// rather than shipments, are [HTTPFault]s.
type ShipmentFault int

// The shipment faults.
const (
	ShipmentFaultUndeliverable     ShipmentFault = iota + 1 // → 7 at address validation
	ShipmentFaultDPLMatch                                   // → 9 at address validation
	ShipmentFaultProcessingError                            // → 8 at the fulfillment batch
	ShipmentFaultShippingError                              // → 99 instead of shipping
	ShipmentFaultLost                                       // → 105 instead of delivery
	ShipmentFaultDeliveryException                          // → 106 instead of delivery
)

var shipmentFaultNames = map[ShipmentFault]string{
	ShipmentFaultUndeliverable: "undeliverable", ShipmentFaultDPLMatch: "DPL match",
	ShipmentFaultProcessingError: "processing error", ShipmentFaultShippingError: "shipping error",
	ShipmentFaultLost: "lost", ShipmentFaultDeliveryException: "delivery exception",
}

// String names the fault.
func (f ShipmentFault) String() string {
	if n, ok := shipmentFaultNames[f]; ok {
		return n
	}
	return fmt.Sprintf("ShipmentFault(%d)", int(f))
}

// InjectShipmentFault makes shipment id fail at the step matching f (0
// clears an injected fault). It fails for an unknown ID or fault.
func (s *Server) InjectShipmentFault(id string, f ShipmentFault) error {
	if _, ok := shipmentFaultNames[f]; !ok && f != 0 {
		return fmt.Errorf("yubicotest: InjectShipmentFault: %d is not a ShipmentFault", int(f))
	}
	s.lock()
	defer s.mu.Unlock()
	sh, ok := s.shipments[id]
	if !ok {
		return fmt.Errorf("yubicotest: InjectShipmentFault: no shipment %q", id)
	}
	sh.fault = f
	return nil
}

// InjectShipmentFaultNext makes the next shipment created (of either kind)
// fail at the step matching f; calls queue up for later shipments. It
// fails for an unknown fault.
func (s *Server) InjectShipmentFaultNext(f ShipmentFault) error {
	if _, ok := shipmentFaultNames[f]; !ok {
		return fmt.Errorf("yubicotest: InjectShipmentFaultNext: %d is not a ShipmentFault", int(f))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextFaults = append(s.nextFaults, f)
	return nil
}

// HTTPFault is one way a request can misbehave under an [HTTPFaultPlan];
// its values are the constants of package httpfault:
// [httpfault.TooManyRequests] (429 with a Retry-After header, in whole
// seconds, RetryAfter ahead: by default [DefaultRetryAfter]),
// [httpfault.InternalError] (500), [httpfault.BadGateway] (502),
// [httpfault.Unavailable] (503), [httpfault.Latency] (the request waits Latency
// of real time, or until the client gives up, and is then handled anyway,
// as a slow service does: a create may take effect after the client timed
// out), [httpfault.Drop] (the connection closes before the request is
// handled) and [httpfault.DropResponse] (the request takes effect, then the
// connection closes without a response). oktatest uses the same kinds.
type HTTPFault = httpfault.Kind

// DefaultRetryAfter is the Retry-After of an injected 429 that sets none.
const DefaultRetryAfter = time.Second

// AllHTTPFaults returns every HTTPFault, in order.
func AllHTTPFaults() []HTTPFault { return httpfault.AllKinds() }

// HTTPFaultPlan injects HTTP faults at a rate into every matching request
// (Method and PathPrefix; zero values match everything; every route and
// both hosts, the JWKS included), with kinds drawn uniformly from Kinds
// (default all) by a generator seeded with Seed: the same seed and the
// same order of requests give the same faults. Rate is 0 to 1 (0 turns the
// plan off); Latency is the delay of [httpfault.Latency] (default 1 s);
// RetryAfter is the Retry-After of a 429 (default [DefaultRetryAfter]).
// Faults queued with [Server.InjectHTTPFault] take precedence. oktatest
// takes the same plan.
type HTTPFaultPlan = httpfault.Plan

// HTTPFaultRule makes the next Count (0 means 1) requests matching Method
// and PathPrefix (zero values match everything) misbehave: answer Status
// (400 to 599; body error_code "injected_fault"; a 429 carries Retry-After
// RetryAfter ahead, by default [DefaultRetryAfter]), wait Latency of real
// time first (the request is handled afterwards even if the client gave
// up), Drop the connection unhandled, or DropResponse: handle the request
// and close the connection without the response. oktatest takes the same
// rules.
type HTTPFaultRule = httpfault.Rule

// WithHTTPFaultPlan starts the server with an HTTP fault plan (see
// [Server.SetHTTPFaultPlan]).
func WithHTTPFaultPlan(p HTTPFaultPlan) Option { return setting(fakehttp.WithPlan(p)) }

// The Server's HTTP-fault controls. Both fakes have the same ones; they are
// written once in package fakehttp and spelled out here so that they are
// documented with the Server.

// InjectHTTPFault queues r for the next requests to the fake that match it
// (method, path prefix, count; see [HTTPFaultRule]). An invalid rule is
// refused with an error, and so is a rule whose Method and PathPrefix reach
// none of the fake's routes (it could never fire). Queued rules take
// precedence over the plan of [Server.SetHTTPFaultPlan];
// [Server.HTTPFaultRuleCounts] tells how often each fired.
func (s *Server) InjectHTTPFault(r HTTPFaultRule) error {
	return s.faults.InjectHTTPFault(r)
}

// FailNext makes the fake answer the next n (at least 1) requests, on any
// route, with status (400 to 599) and the fake's error body for it.
func (s *Server) FailNext(n, status int) error { return s.faults.FailNext(n, status) }

// DropNext makes the fake drop the connections of the next n (at least 1)
// requests, on any route, unhandled.
func (s *Server) DropNext(n int) error { return s.faults.DropNext(n) }

// SetLatency adds d of real time before the fake handles each request (0
// to stop). A negative d is refused.
func (s *Server) SetLatency(d time.Duration) error { return s.faults.SetLatency(d) }

// SetHTTPFaultPlan replaces the fake's plan of HTTP faults (a zero plan
// turns it off) and resets [Server.HTTPFaultCounts]. A plan whose Method
// and PathPrefix reach none of the fake's routes is refused.
func (s *Server) SetHTTPFaultPlan(p HTTPFaultPlan) error {
	return s.faults.SetHTTPFaultPlan(p)
}

// HTTPFaultCounts returns how many faults of each kind the fake's current
// plan has injected (not the rules': see [Server.HTTPFaultRuleCounts]).
func (s *Server) HTTPFaultCounts() map[httpfault.Kind]int {
	return s.faults.HTTPFaultCounts()
}

// HTTPFaultRuleCounts returns every rule injected so far (with
// [Server.InjectHTTPFault], [Server.FailNext] or [Server.DropNext]), in
// order, with how many requests it has applied to. A rule with Fired 0 has
// not fired: no request matched it (yet).
func (s *Server) HTTPFaultRuleCounts() []httpfault.RuleCount {
	return s.faults.HTTPFaultRuleCounts()
}

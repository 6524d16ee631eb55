package oktatest

import (
	"net/http"
	"time"

	"github.com/preenroll/preenroll/httpfault"
)

// HTTPFault is one way a request can misbehave under an [HTTPFaultPlan];
// its values are the constants of package httpfault:
// [httpfault.TooManyRequests] (429 E0000047 with X-Rate-Limit-* headers whose
// reset is RetryAfter ahead, by default the end of the rate-limit window),
// [httpfault.InternalError] (500 E0000009), [httpfault.BadGateway] (502, as
// Okta's edge answers when a backend is unreachable; its body here is the
// 500's Okta error object with code E0000009, our choice: Okta documents no
// body for an edge's 502, and a client must not rely on one), [httpfault.Unavailable]
// (503 E0000010), [httpfault.Latency] (the request waits Latency of real time;
// if the client gives up first, nothing is handled), [httpfault.Drop] (the
// connection closes before the request is handled) and
// [httpfault.DropResponse] (the request takes effect, then the connection
// closes without a response). yubicotest uses the same kinds.
type HTTPFault = httpfault.Kind

// AllHTTPFaults returns every HTTPFault, in order.
func AllHTTPFaults() []HTTPFault { return httpfault.AllKinds() }

// HTTPFaultPlan injects HTTP faults at a rate into every matching request
// (Method and PathPrefix; zero values match everything), with kinds drawn
// uniformly from Kinds (default all) by a generator seeded with Seed: the
// same seed and the same order of requests give the same faults. Rate is
// 0 to 1 (0 turns the plan off); Latency is the delay of
// [httpfault.Latency] (default 1 s); RetryAfter is how far ahead a 429's
// X-Rate-Limit-Reset lies (default the rate-limit window). Faults queued
// with [Server.InjectHTTPFault] take precedence. yubicotest takes the same
// plan.
type HTTPFaultPlan = httpfault.Plan

// HTTPFaultRule makes the next Count (0 means 1) requests matching Method
// and PathPrefix (zero values match everything) misbehave: answer Status
// (400 to 599, with the Okta error body for it: 500 E0000009, 503
// E0000010, 429 E0000047 with X-Rate-Limit-* headers RetryAfter ahead,
// others with the code Okta uses for the status), wait Latency of real
// time first (the request's context ends it early, and then nothing is
// handled), Drop the connection unhandled, or DropResponse: handle the
// request and close the connection without the response. yubicotest takes
// the same rules.
type HTTPFaultRule = httpfault.Rule

// writeFault answers an injected status with Okta's error body for it (a
// 429 with X-Rate-Limit-* headers whose reset is retryAfter ahead, by
// default the end of the rate-limit window).
func (s *Server) writeFault(x *exchange, status int, retryAfter time.Duration) {
	if status == http.StatusTooManyRequests {
		if retryAfter <= 0 {
			retryAfter = s.limiter.Window()
		}
		setRateLimitHeaders(x, 0, 0, s.now().Add(retryAfter))
	}
	s.failStatus(x, status)
}

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

// Package httpfault names the HTTP faults the fakes okta/oktatest and
// yubico/yubicotest inject into the requests they serve: the kinds of
// fault ([Kind]), a plan that injects them at a seeded rate ([Plan]) and a
// rule that makes the next matching requests misbehave ([Rule]). Both
// fakes take the same values (their HTTPFault, HTTPFaultPlan and
// HTTPFaultRule are these types):
//
//	oktaSrv.SetHTTPFaultPlan(httpfault.Plan{Rate: 0.2, Seed: 1,
//		Kinds: []httpfault.Kind{httpfault.Unavailable, httpfault.Drop}})
//	yubicoSrv.InjectHTTPFault(httpfault.Rule{PathPrefix: "/v1/fpr", Status: 503})
//
// A fake refuses a rule or plan that could reach none of its routes, and
// its HTTPFaultRuleCounts tells how often each rule fired ([RuleCount]).
//
// How a fault looks on the wire (the error body, rate-limit headers) is
// each fake's, in its vendor's words: see their package documentation.
package httpfault

import (
	"errors"
	"fmt"
	"time"
)

// Kind is one way a request can misbehave under a [Plan].
type Kind int

// The kinds of HTTP fault.
const (
	// TooManyRequests answers 429 with the fake's rate-limit headers
	// (Plan.RetryAfter ahead); nothing is handled.
	TooManyRequests Kind = iota + 1
	// InternalError answers 500; nothing is handled.
	InternalError
	// BadGateway answers 502 (as an edge proxy does when the backend is
	// unreachable); nothing is handled.
	BadGateway
	// Unavailable answers 503; nothing is handled.
	Unavailable
	// Latency delays the request by Plan.Latency of real time before it is
	// handled. What happens when the client gives up first is the fake's
	// (see its package documentation).
	Latency
	// Drop closes the connection before the request is handled.
	Drop
	// DropResponse handles the request (it takes effect) and then closes
	// the connection without sending the response: the client sees a
	// transport error although the call happened.
	DropResponse
)

// AllKinds returns every Kind, in order.
func AllKinds() []Kind {
	return []Kind{TooManyRequests, InternalError, BadGateway, Unavailable, Latency, Drop, DropResponse}
}

var kindNames = map[Kind]string{
	TooManyRequests: "429", InternalError: "500", BadGateway: "502", Unavailable: "503",
	Latency: "latency", Drop: "drop", DropResponse: "drop-response",
}

// String returns a short name: "429", "500", "502", "503", "latency",
// "drop" or "drop-response".
func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("HTTPFault(%d)", int(k))
}

// DefaultLatency is the delay of a Latency fault when Plan.Latency is zero.
const DefaultLatency = time.Second

// Plan injects HTTP faults at a rate into every matching request, with
// choices drawn from a generator seeded with Seed: the same seed and the
// same order of requests give the same faults. Faults queued as a [Rule]
// take precedence over the plan.
type Plan struct {
	// Rate is the probability, 0 to 1, that a matching request gets a
	// fault. 0 turns the plan off.
	Rate float64
	// Kinds are the faults to choose from, uniformly (default every kind).
	Kinds []Kind
	// Latency is the delay of a Latency fault (default 1 s). Set it just
	// beyond the client's timeout.
	Latency time.Duration
	// RetryAfter is how long a 429 tells the client to wait; 0 means the
	// fake's default.
	RetryAfter time.Duration
	// Seed seeds the choices.
	Seed uint64
	// Method and PathPrefix restrict the plan to matching requests; zero
	// values match everything. PathPrefix is the path the fake serves, as
	// in [Rule]; a plan they restrict to none of the fake's routes is
	// refused.
	Method     string
	PathPrefix string
}

// Check reports the first invalid field of p.
func (p Plan) Check() error {
	switch {
	case p.Rate < 0 || p.Rate > 1 || p.Rate != p.Rate:
		return fmt.Errorf("HTTPFaultPlan: Rate %v is not between 0 and 1", p.Rate)
	case p.Latency < 0:
		return fmt.Errorf("HTTPFaultPlan: Latency %v is negative", p.Latency)
	case p.RetryAfter < 0:
		return fmt.Errorf("HTTPFaultPlan: RetryAfter %v is negative", p.RetryAfter)
	}
	for i, k := range p.Kinds {
		if _, ok := kindNames[k]; !ok {
			return fmt.Errorf("HTTPFaultPlan: Kinds[%d] %d is not an HTTPFault", i, int(k))
		}
	}
	return nil
}

// Rule makes the next matching requests misbehave. Zero Method or
// PathPrefix match everything. A rule must set Status, Latency, Drop or
// DropResponse.
//
// Both fakes refuse a rule whose Method and PathPrefix reach none of their
// routes (a path copied from a client's error, which leaves out the base
// URL's path, or a method in lower case): it could never fire. A rule that
// could fire but matches no request the code under test makes waits
// silently; the fake's HTTPFaultRuleCounts lists every rule injected with
// how many requests it [RuleCount.Fired] on (HTTPFaultCounts counts only a
// Plan's faults; see the RuleCount example):
//
//	for _, rc := range srv.HTTPFaultRuleCounts() {
//		if rc.Fired == 0 {
//			t.Errorf("fault rule %+v never fired", rc.Rule)
//		}
//	}
type Rule struct {
	// Method is the request's method (GET, POST...); empty: any.
	Method string
	// PathPrefix is matched against the path the fake serves, from its
	// root: yubicotest's routes begin with /v1 (/v1/fpr/shipments), as
	// the YubiEnterprise API's do, though a yubico.APIError names the
	// path under the client's base URL (/fpr/shipments); oktatest's with
	// /api/v1, /webauthn-registration/api/v1, /oauth2 or /.well-known.
	// Empty: any.
	PathPrefix string
	// Count is how many matching requests the rule applies to (0 means 1).
	Count int
	// Status, when non-zero (400 to 599), is answered with the fake's error
	// body for that status; nothing is handled.
	Status int
	// RetryAfter is how long a 429 tells the client to wait; 0 means the
	// fake's default.
	RetryAfter time.Duration
	// Latency is added before the request is handled (real time).
	Latency time.Duration
	// Drop closes the connection without a response; nothing is handled.
	// Go's net/http client sends an idempotent request (GET, HEAD, ...)
	// again, on a new connection, when a connection it reused closes
	// before any response: such a drop is then never seen by the code
	// under test, and the rule is used up. Drop a POST, or use a client
	// with DisableKeepAlives, to see it.
	Drop bool
	// DropResponse handles the request (it takes effect) and then closes
	// the connection without sending the response.
	DropResponse bool
}

// Check reports the first invalid field of r.
func (r Rule) Check() error {
	switch {
	case r.Count < 0:
		return fmt.Errorf("HTTPFaultRule: Count %d is negative", r.Count)
	case r.Status != 0 && (r.Status < 400 || r.Status > 599):
		return fmt.Errorf("HTTPFaultRule: Status %d is not an HTTP error status (400 to 599)", r.Status)
	case r.Latency < 0:
		return fmt.Errorf("HTTPFaultRule: Latency %v is negative", r.Latency)
	case r.RetryAfter < 0:
		return fmt.Errorf("HTTPFaultRule: RetryAfter %v is negative", r.RetryAfter)
	case r.Status == 0 && r.Latency == 0 && !r.Drop && !r.DropResponse:
		return errors.New("HTTPFaultRule: sets none of Status, Latency, Drop and DropResponse")
	}
	return nil
}

// RuleCount is one injected [Rule] and how many requests it has applied
// to: a fake's HTTPFaultRuleCounts returns one for every rule injected
// (with InjectHTTPFault, FailNext or DropNext), in order, used up or not.
type RuleCount struct {
	// Rule is the rule as it was injected.
	Rule Rule
	// Fired is how many matching requests the rule has made misbehave so
	// far, from 0 (it has not fired: no request matched it yet) to
	// Rule.Count, or 1 for a Count of 0 (used up).
	Fired int
}

package fakehttp

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/preenroll/preenroll/httpfault"
)

// Decision is what [Faults.Take] decided for one request. The zero value
// means: handle the request normally.
type Decision struct {
	// Status, when non-zero, is answered instead of handling the request.
	Status int
	// RetryAfter is how long a 429 tells the client to wait (0: the fake's
	// default).
	RetryAfter time.Duration
	// Latency is waited (real time) before anything else.
	Latency time.Duration
	// Drop closes the connection without handling the request.
	Drop bool
	// DropResponse handles the request and then closes the connection.
	DropResponse bool
	// Planned is the kind a [httpfault.Plan] drew (0: none; the decision came from a
	// queued Rule or there is no fault).
	Planned httpfault.Kind
}

// Faults holds a fake's injected HTTP faults: queued rules, a rate-based
// plan and a latency added to every request. It is safe for concurrent use.
type Faults struct {
	salt   uint64  // mixed into a plan's seed (each fake keeps its own sequence)
	prefix string  // the fake's package name, prefixed to every error
	routes []Route // the fake's routes; nil: rules and plans are not checked against them

	mu       sync.Mutex
	rules    []*queued              // guarded by mu; the rules not used up, in order
	injected []*queued              // guarded by mu; every rule injected, in order
	plan     *activePlan            // guarded by mu; nil: no rate-based faults
	latency  time.Duration          // guarded by mu
	counts   map[httpfault.Kind]int // guarded by mu; faults the current plan injected
}

// queued is an injected rule and how often it fired.
type queued struct {
	rule  httpfault.Rule // as injected (Count 0 fires once)
	fired int
}

// activePlan is a plan with its generator.
type activePlan struct {
	httpfault.Plan
	rng *rand.Rand
}

// NewFaults returns an empty set of faults for the fake named prefix
// ("oktatest"), which starts every error. salt is mixed into every plan's
// seed. routes are the fake's routes: a rule or plan whose Method and
// PathPrefix reach none of them is refused (nil routes: nothing is
// refused for its path).
func NewFaults(prefix string, salt uint64, routes []Route) *Faults {
	return &Faults{prefix: prefix, salt: salt, routes: routes, counts: map[httpfault.Kind]int{}}
}

// The public HTTP-fault controls of a fake: InjectHTTPFault, FailNext,
// DropNext, SetLatency, SetHTTPFaultPlan, HTTPFaultCounts and
// HTTPFaultRuleCounts, written once
// for both fakes. The oktatest and yubicotest Server have methods of the
// same names that call these, so that go doc shows them with the Server.

// InjectHTTPFault queues r for the next requests to the fake that match
// it; an invalid rule, or one whose Method and PathPrefix reach none of the
// fake's routes, is refused with an error.
func (f *Faults) InjectHTTPFault(r httpfault.Rule) error { return f.inject("InjectHTTPFault", r) }

// inject queues r for the next matching requests; op names the caller in
// errors.
func (f *Faults) inject(op string, r httpfault.Rule) error {
	if err := r.Check(); err != nil {
		return fmt.Errorf("%s: %s: %w", f.prefix, op, err)
	}
	if err := checkReach(f.routes, "HTTPFaultRule", r.Method, r.PathPrefix); err != nil {
		return fmt.Errorf("%s: %s: %w", f.prefix, op, err)
	}
	q := &queued{rule: r}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, q)
	f.injected = append(f.injected, q)
	return nil
}

// HTTPFaultRuleCounts returns every rule injected so far (by
// InjectHTTPFault, FailNext and DropNext), in order, with how many
// requests it has applied to: a rule that never fired shows Fired 0.
func (f *Faults) HTTPFaultRuleCounts() []httpfault.RuleCount {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]httpfault.RuleCount, len(f.injected))
	for i, q := range f.injected {
		out[i] = httpfault.RuleCount{Rule: q.rule, Fired: q.fired}
	}
	return out
}

// FailNext makes the fake answer the next n (at least 1) requests, on any
// route, with status (400 to 599) and the fake's error body for it.
func (f *Faults) FailNext(n, status int) error {
	if n < 1 {
		return fmt.Errorf("%s: FailNext: n %d is not positive", f.prefix, n)
	}
	return f.inject("FailNext", httpfault.Rule{Count: n, Status: status})
}

// DropNext makes the fake drop the connections of the next n (at least 1)
// requests, on any route, unhandled.
func (f *Faults) DropNext(n int) error {
	if n < 1 {
		return fmt.Errorf("%s: DropNext: n %d is not positive", f.prefix, n)
	}
	return f.inject("DropNext", httpfault.Rule{Count: n, Drop: true})
}

// SetHTTPFaultPlan replaces the fake's plan of HTTP faults (a zero Plan
// turns it off) and resets [Faults.HTTPFaultCounts].
func (f *Faults) SetHTTPFaultPlan(p httpfault.Plan) error {
	if err := p.Check(); err != nil {
		return fmt.Errorf("%s: %w", f.prefix, err)
	}
	if err := checkReach(f.routes, "HTTPFaultPlan", p.Method, p.PathPrefix); err != nil {
		return fmt.Errorf("%s: %w", f.prefix, err)
	}
	if len(p.Kinds) == 0 {
		p.Kinds = httpfault.AllKinds()
	} else {
		p.Kinds = slices.Clone(p.Kinds)
	}
	if p.Latency == 0 {
		p.Latency = httpfault.DefaultLatency
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.plan = nil
	clear(f.counts)
	if p.Rate > 0 {
		f.plan = &activePlan{Plan: p, rng: rand.New(rand.NewPCG(p.Seed, p.Seed^f.salt))}
	}
	return nil
}

// HTTPFaultCounts returns how many faults of each kind the fake's current
// plan has injected.
func (f *Faults) HTTPFaultCounts() map[httpfault.Kind]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.counts)
}

// SetLatency adds d of real time before the fake handles each request (0
// to stop). A negative d is refused.
func (f *Faults) SetLatency(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("%s: SetLatency(%v): negative latency", f.prefix, d)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency = d
	return nil
}

// Take decides the fault of one request: the first matching queued rule
// (consumed), else a draw from the plan; the added latency applies to
// every request.
func (f *Faults) Take(r *http.Request) Decision {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.takeRuleLocked(r)
	if d == (Decision{}) {
		d = f.drawLocked(r)
	}
	d.Latency += f.latency
	return d
}

func matches(method, prefix string, r *http.Request) bool {
	return (method == "" || method == r.Method) && strings.HasPrefix(r.URL.Path, prefix)
}

func (f *Faults) takeRuleLocked(r *http.Request) Decision {
	for i, q := range f.rules {
		rule := &q.rule
		if !matches(rule.Method, rule.PathPrefix, r) {
			continue
		}
		if q.fired++; q.fired >= max(rule.Count, 1) {
			f.rules = slices.Delete(f.rules, i, i+1)
		}
		return Decision{Status: rule.Status, RetryAfter: rule.RetryAfter, Latency: rule.Latency,
			Drop: rule.Drop, DropResponse: rule.DropResponse}
	}
	return Decision{}
}

func (f *Faults) drawLocked(r *http.Request) Decision {
	p := f.plan
	if p == nil || !matches(p.Method, p.PathPrefix, r) || p.rng.Float64() >= p.Rate {
		return Decision{}
	}
	k := p.Kinds[p.rng.IntN(len(p.Kinds))]
	f.counts[k]++
	d := Decision{Planned: k}
	switch k {
	case httpfault.TooManyRequests:
		d.Status, d.RetryAfter = http.StatusTooManyRequests, p.RetryAfter
	case httpfault.InternalError:
		d.Status = http.StatusInternalServerError
	case httpfault.BadGateway:
		d.Status = http.StatusBadGateway
	case httpfault.Unavailable:
		d.Status = http.StatusServiceUnavailable
	case httpfault.Latency:
		d.Latency = p.Latency
	case httpfault.Drop:
		d.Drop = true
	case httpfault.DropResponse:
		d.DropResponse = true
	}
	return d
}

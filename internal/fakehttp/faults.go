package fakehttp

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
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
	// values match everything.
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
type Rule struct {
	Method     string
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
	// Planned is the kind a [Plan] drew (0: none; the decision came from a
	// queued Rule or there is no fault).
	Planned Kind
}

// Faults holds a fake's injected HTTP faults: queued rules, a rate-based
// plan and a latency added to every request. It is safe for concurrent use.
type Faults struct {
	salt   uint64 // mixed into a plan's seed (each fake keeps its own sequence)
	prefix string // the fake's package name, prefixed to every error

	mu      sync.Mutex
	rules   []*Rule       // guarded by mu
	plan    *activePlan   // guarded by mu; nil: no rate-based faults
	latency time.Duration // guarded by mu
	counts  map[Kind]int  // guarded by mu; faults the current plan injected
}

// activePlan is a plan with its generator.
type activePlan struct {
	Plan
	rng *rand.Rand
}

// NewFaults returns an empty set of faults for the fake named prefix
// ("oktatest"), which starts every error. salt is mixed into every plan's
// seed.
func NewFaults(prefix string, salt uint64) *Faults {
	return &Faults{prefix: prefix, salt: salt, counts: map[Kind]int{}}
}

// Controls are a fake's public HTTP-fault controls over its [Faults]: the
// oktatest and yubicotest Server embed one, so InjectHTTPFault, FailNext,
// DropNext, SetLatency, SetHTTPFaultPlan and HTTPFaultCounts are written
// once for both fakes (each fake's package documentation says how its
// answers look).
type Controls struct{ f *Faults }

// Controls returns the public controls of f.
func (f *Faults) Controls() Controls { return Controls{f} }

// InjectHTTPFault queues r for the next requests to the fake that match
// it; an invalid rule is refused with an error.
func (c Controls) InjectHTTPFault(r Rule) error { return c.f.inject("InjectHTTPFault", r) }

// inject queues r for the next matching requests; op names the caller in
// errors.
func (f *Faults) inject(op string, r Rule) error {
	if err := r.Check(); err != nil {
		return fmt.Errorf("%s: %s: %w", f.prefix, op, err)
	}
	r.Count = max(r.Count, 1)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, &r)
	return nil
}

// FailNext makes the fake answer the next n (at least 1) requests, on any
// route, with status (400 to 599) and the fake's error body for it.
func (c Controls) FailNext(n, status int) error {
	if n < 1 {
		return fmt.Errorf("%s: FailNext: n %d is not positive", c.f.prefix, n)
	}
	return c.f.inject("FailNext", Rule{Count: n, Status: status})
}

// DropNext makes the fake drop the connections of the next n (at least 1)
// requests, on any route, unhandled.
func (c Controls) DropNext(n int) error {
	if n < 1 {
		return fmt.Errorf("%s: DropNext: n %d is not positive", c.f.prefix, n)
	}
	return c.f.inject("DropNext", Rule{Count: n, Drop: true})
}

// SetHTTPFaultPlan replaces the fake's plan of HTTP faults (a zero Plan
// turns it off) and resets [Controls.HTTPFaultCounts].
func (c Controls) SetHTTPFaultPlan(p Plan) error {
	f := c.f
	if err := p.Check(); err != nil {
		return fmt.Errorf("%s: %w", f.prefix, err)
	}
	if len(p.Kinds) == 0 {
		p.Kinds = AllKinds()
	} else {
		p.Kinds = slices.Clone(p.Kinds)
	}
	if p.Latency == 0 {
		p.Latency = DefaultLatency
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
func (c Controls) HTTPFaultCounts() map[Kind]int {
	f := c.f
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.counts)
}

// SetLatency adds d of real time before the fake handles each request (0
// to stop). A negative d is refused.
func (c Controls) SetLatency(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("%s: SetLatency(%v): negative latency", c.f.prefix, d)
	}
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.latency = d
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
	for i, rule := range f.rules {
		if !matches(rule.Method, rule.PathPrefix, r) {
			continue
		}
		if rule.Count--; rule.Count <= 0 {
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
	case TooManyRequests:
		d.Status, d.RetryAfter = http.StatusTooManyRequests, p.RetryAfter
	case InternalError:
		d.Status = http.StatusInternalServerError
	case BadGateway:
		d.Status = http.StatusBadGateway
	case Unavailable:
		d.Status = http.StatusServiceUnavailable
	case Latency:
		d.Latency = p.Latency
	case Drop:
		d.Drop = true
	case DropResponse:
		d.DropResponse = true
	}
	return d
}

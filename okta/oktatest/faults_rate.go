package oktatest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// FaultKind is one way a request can misbehave under a [FaultPlan].
type FaultKind int

// The kinds of rate-based fault.
const (
	// FaultTooManyRequests answers 429 E0000047 with X-Rate-Limit-Limit,
	// X-Rate-Limit-Remaining (0) and X-Rate-Limit-Reset (the end of the
	// current window) headers, as Okta does; nothing is handled.
	FaultTooManyRequests FaultKind = iota + 1
	// FaultInternalError answers 500 E0000009; nothing is handled.
	FaultInternalError
	// FaultBadGateway answers 502 (as Okta's edge does when a backend is
	// unreachable); nothing is handled.
	FaultBadGateway
	// FaultUnavailable answers 503 E0000010; nothing is handled.
	FaultUnavailable
	// FaultLatency delays the request by FaultPlan.Latency of real time
	// before handling it; if the client gives up first, nothing is handled.
	FaultLatency
	// FaultDrop closes the connection before the request is handled.
	FaultDrop
	// FaultDropResponse handles the request (it takes effect) and then
	// closes the connection without sending the response: the client sees
	// a transport error although the call happened.
	FaultDropResponse
)

// AllFaultKinds returns every FaultKind, in order.
func AllFaultKinds() []FaultKind {
	return []FaultKind{FaultTooManyRequests, FaultInternalError, FaultBadGateway, FaultUnavailable,
		FaultLatency, FaultDrop, FaultDropResponse}
}

var faultKindNames = map[FaultKind]string{
	FaultTooManyRequests: "429", FaultInternalError: "500", FaultBadGateway: "502", FaultUnavailable: "503",
	FaultLatency: "latency", FaultDrop: "drop", FaultDropResponse: "drop-response",
}

// String returns a short name: "429", "500", "502", "503", "latency",
// "drop" or "drop-response".
func (k FaultKind) String() string {
	if n, ok := faultKindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// FaultPlan injects faults at a rate into every matching request, with
// choices drawn from a generator seeded with Seed (the same seed and the
// same order of requests give the same faults). Faults queued with
// [Server.InjectFault] take precedence over the plan.
type FaultPlan struct {
	// Rate is the probability, 0 to 1, that a matching request gets a
	// fault. 0 turns the plan off.
	Rate float64
	// Kinds are the faults to choose from, uniformly (default
	// [AllFaultKinds]).
	Kinds []FaultKind
	// Latency is the delay of FaultLatency (default 1 s). Set it just
	// beyond the client's timeout.
	Latency time.Duration
	// Seed seeds the choices.
	Seed uint64
	// Method and PathPrefix restrict the plan to matching requests; zero
	// values match everything.
	Method     string
	PathPrefix string
}

// DefaultFaultLatency is FaultPlan.Latency when zero.
const DefaultFaultLatency = time.Second

func (p FaultPlan) check() error {
	switch {
	case p.Rate < 0 || p.Rate > 1 || p.Rate != p.Rate:
		return fmt.Errorf("oktatest: FaultPlan: Rate %v is not between 0 and 1", p.Rate)
	case p.Latency < 0:
		return fmt.Errorf("oktatest: FaultPlan: Latency %v is negative", p.Latency)
	}
	for i, k := range p.Kinds {
		if _, ok := faultKindNames[k]; !ok {
			return fmt.Errorf("oktatest: FaultPlan: Kinds[%d] %d is not a FaultKind", i, int(k))
		}
	}
	return nil
}

// faultPlan is an active plan with its generator and counters.
type faultPlan struct {
	FaultPlan
	rng    *rand.Rand
	counts map[FaultKind]int
}

func newFaultPlan(p FaultPlan) *faultPlan {
	if len(p.Kinds) == 0 {
		p.Kinds = AllFaultKinds()
	} else {
		p.Kinds = append([]FaultKind(nil), p.Kinds...)
	}
	if p.Latency == 0 {
		p.Latency = DefaultFaultLatency
	}
	return &faultPlan{FaultPlan: p, rng: rand.New(rand.NewPCG(p.Seed, p.Seed^0x9e3779b97f4a7c15)), counts: map[FaultKind]int{}}
}

// WithFaultPlan starts the server with a fault plan (see
// [Server.SetFaultPlan]).
func WithFaultPlan(p FaultPlan) Option {
	return func(c *config) error {
		if err := p.check(); err != nil {
			return err
		}
		c.plan = &p
		return nil
	}
}

// SetFaultPlan replaces the fault plan (a zero FaultPlan turns faults
// off) and resets the counts [Server.FaultCounts] reports.
func (s *Server) SetFaultPlan(p FaultPlan) error {
	if err := p.check(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.plan = nil
	if p.Rate > 0 {
		s.plan = newFaultPlan(p)
	}
	return nil
}

// FaultCounts returns how many faults of each kind the current plan has
// injected.
func (s *Server) FaultCounts() map[FaultKind]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[FaultKind]int{}
	if s.plan != nil {
		for k, n := range s.plan.counts {
			out[k] = n
		}
	}
	return out
}

// planFaultLocked draws the plan's fault for a request with method and
// path: ok is false when the request gets none.
func (s *Server) planFaultLocked(method, path string) (f Fault, kind FaultKind, ok bool) {
	p := s.plan
	if p == nil || (p.Method != "" && p.Method != method) || !strings.HasPrefix(path, p.PathPrefix) {
		return Fault{}, 0, false
	}
	if p.rng.Float64() >= p.Rate {
		return Fault{}, 0, false
	}
	kind = p.Kinds[p.rng.IntN(len(p.Kinds))]
	p.counts[kind]++
	f.Count = 1
	switch kind {
	case FaultTooManyRequests:
		f.Status = 429
	case FaultInternalError:
		f.Status = 500
	case FaultBadGateway:
		f.Status = 502
	case FaultUnavailable:
		f.Status = 503
	case FaultLatency:
		f.Latency = p.Latency
	case FaultDrop:
		f.Drop = true
	case FaultDropResponse:
		f.DropResponse = true
	}
	return f, kind, true
}

package yubicotest

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// HTTPFault is one way a request can misbehave under an [HTTPFaultPlan].
type HTTPFault int

// The kinds of rate-based HTTP fault.
const (
	// HTTPFaultTooManyRequests answers 429 with a Retry-After header (in
	// whole seconds, HTTPFaultPlan.RetryAfter); nothing is handled.
	HTTPFaultTooManyRequests HTTPFault = iota + 1
	// HTTPFaultInternalError answers 500; nothing is handled.
	HTTPFaultInternalError
	// HTTPFaultBadGateway answers 502; nothing is handled.
	HTTPFaultBadGateway
	// HTTPFaultUnavailable answers 503; nothing is handled.
	HTTPFaultUnavailable
	// HTTPFaultLatency delays the request by HTTPFaultPlan.Latency of real
	// time (or until the client gives up) and then handles it, as a slow
	// service does: a create may take effect after the client timed out.
	HTTPFaultLatency
	// HTTPFaultDrop closes the connection before the request is handled.
	HTTPFaultDrop
	// HTTPFaultDropResponse handles the request (a create takes effect)
	// and then closes the connection without sending the response.
	HTTPFaultDropResponse
)

// AllHTTPFaults returns every HTTPFault, in order.
func AllHTTPFaults() []HTTPFault {
	return []HTTPFault{HTTPFaultTooManyRequests, HTTPFaultInternalError, HTTPFaultBadGateway, HTTPFaultUnavailable,
		HTTPFaultLatency, HTTPFaultDrop, HTTPFaultDropResponse}
}

var httpFaultNames = map[HTTPFault]string{
	HTTPFaultTooManyRequests: "429", HTTPFaultInternalError: "500", HTTPFaultBadGateway: "502",
	HTTPFaultUnavailable: "503", HTTPFaultLatency: "latency", HTTPFaultDrop: "drop", HTTPFaultDropResponse: "drop-response",
}

// String returns a short name: "429", "500", "502", "503", "latency",
// "drop" or "drop-response".
func (f HTTPFault) String() string {
	if n, ok := httpFaultNames[f]; ok {
		return n
	}
	return fmt.Sprintf("HTTPFault(%d)", int(f))
}

// HTTPFaultPlan injects HTTP faults at a rate into every matching request
// (every route, the JWKS included), with choices drawn from a generator
// seeded with Seed: the same seed and the same order of requests give the
// same faults. Faults queued with [Server.FailNext] and [Server.DropNext]
// take precedence.
type HTTPFaultPlan struct {
	// Rate is the probability, 0 to 1, that a matching request gets a
	// fault. 0 turns the plan off.
	Rate float64
	// Kinds are the faults to choose from, uniformly (default
	// [AllHTTPFaults]).
	Kinds []HTTPFault
	// Latency is the delay of HTTPFaultLatency (default 1 s). Set it just
	// beyond the client's timeout.
	Latency time.Duration
	// RetryAfter is the Retry-After of HTTPFaultTooManyRequests (default
	// 1 s; sent in whole seconds).
	RetryAfter time.Duration
	// Seed seeds the choices.
	Seed uint64
	// Method and PathPrefix restrict the plan to matching requests; zero
	// values match everything.
	Method     string
	PathPrefix string
}

func (p HTTPFaultPlan) check() error {
	switch {
	case p.Rate < 0 || p.Rate > 1 || p.Rate != p.Rate:
		return fmt.Errorf("yubicotest: HTTPFaultPlan: Rate %v is not between 0 and 1", p.Rate)
	case p.Latency < 0:
		return fmt.Errorf("yubicotest: HTTPFaultPlan: Latency %v is negative", p.Latency)
	case p.RetryAfter < 0:
		return fmt.Errorf("yubicotest: HTTPFaultPlan: RetryAfter %v is negative", p.RetryAfter)
	}
	for i, k := range p.Kinds {
		if _, ok := httpFaultNames[k]; !ok {
			return fmt.Errorf("yubicotest: HTTPFaultPlan: Kinds[%d] %d is not an HTTPFault", i, int(k))
		}
	}
	return nil
}

// httpFaultPlan is an active plan with its generator and counters.
type httpFaultPlan struct {
	HTTPFaultPlan
	rng    *rand.Rand
	counts map[HTTPFault]int
}

// WithHTTPFaultPlan starts the server with an HTTP fault plan (see
// [Server.SetHTTPFaultPlan]).
func WithHTTPFaultPlan(p HTTPFaultPlan) Option {
	return func(c *config) error {
		if err := p.check(); err != nil {
			return err
		}
		c.httpFaults = &p
		return nil
	}
}

func newHTTPFaultPlan(p HTTPFaultPlan) *httpFaultPlan {
	if len(p.Kinds) == 0 {
		p.Kinds = AllHTTPFaults()
	} else {
		p.Kinds = append([]HTTPFault(nil), p.Kinds...)
	}
	if p.Latency == 0 {
		p.Latency = time.Second
	}
	if p.RetryAfter == 0 {
		p.RetryAfter = time.Second
	}
	return &httpFaultPlan{HTTPFaultPlan: p, rng: rand.New(rand.NewPCG(p.Seed, p.Seed^0x6a09e667f3bcc908)), counts: map[HTTPFault]int{}}
}

// SetHTTPFaultPlan replaces the HTTP fault plan (a zero plan turns it off)
// and resets the counts [Server.HTTPFaultCounts] reports.
func (s *Server) SetHTTPFaultPlan(p HTTPFaultPlan) error {
	if err := p.check(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.httpFaults = nil
	if p.Rate > 0 {
		s.httpFaults = newHTTPFaultPlan(p)
	}
	return nil
}

// HTTPFaultCounts returns how many faults of each kind the current plan
// has injected.
func (s *Server) HTTPFaultCounts() map[HTTPFault]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[HTTPFault]int{}
	if s.httpFaults != nil {
		for k, n := range s.httpFaults.counts {
			out[k] = n
		}
	}
	return out
}

// planFaultLocked draws the plan's fault for r (0: none).
func (s *Server) planFaultLocked(r *http.Request) HTTPFault {
	p := s.httpFaults
	if p == nil || (p.Method != "" && p.Method != r.Method) || !strings.HasPrefix(r.URL.Path, p.PathPrefix) {
		return 0
	}
	if p.rng.Float64() >= p.Rate {
		return 0
	}
	k := p.Kinds[p.rng.IntN(len(p.Kinds))]
	p.counts[k]++
	return k
}

// discardWriter is the ResponseWriter of a request whose response an
// HTTPFaultDropResponse throws away; it keeps the status for the log.
type discardWriter struct {
	header http.Header
	status int
}

func (d *discardWriter) Header() http.Header { return d.header }

func (d *discardWriter) Write(b []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	return len(b), nil
}

func (d *discardWriter) WriteHeader(code int) {
	if d.status == 0 {
		d.status = code
	}
}

package yubicotest

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/preenroll/preenroll/yubico"
)

// Request is one entry of the request log.
type Request struct {
	Time       time.Time // the fake clock's time
	Method     string
	Path       string
	Query      string
	Status     int
	Authorized bool // a valid token was presented
	// IdempotencyKey is the request's Idempotency-Key header, if any.
	IdempotencyKey string
	// Replayed reports an answer replayed for a remembered idempotency key
	// (nothing was created).
	Replayed bool
	// Fault is the HTTP fault an [HTTPFaultPlan] injected (0: none).
	Fault HTTPFault
}

// RequestLog returns every request served so far, in order.
func (s *Server) RequestLog() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// statusWriter records the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the status.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap returns the wrapped writer (for http.ResponseController).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Write records an implicit 200.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	latency := s.latency
	var fail *failure
	drop := false
	switch {
	case s.dropNext > 0:
		s.dropNext--
		drop = true
	case len(s.failNext) > 0:
		f := s.failNext[0]
		s.failNext = s.failNext[1:]
		fail = &f
	}
	var planned HTTPFault
	if !drop && fail == nil {
		switch planned = s.planFaultLocked(r); planned {
		case HTTPFaultTooManyRequests:
			fail = &failure{http.StatusTooManyRequests, s.httpFaults.RetryAfter}
		case HTTPFaultInternalError:
			fail = &failure{status: http.StatusInternalServerError}
		case HTTPFaultBadGateway:
			fail = &failure{status: http.StatusBadGateway}
		case HTTPFaultUnavailable:
			fail = &failure{status: http.StatusServiceUnavailable}
		case HTTPFaultLatency:
			latency += s.httpFaults.Latency
		case HTTPFaultDrop:
			drop = true
		}
	}
	_, authorized := s.tokens[bearer(r)]
	entry := Request{Time: s.now, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Authorized: authorized,
		IdempotencyKey: r.Header.Get(yubico.IdempotencyKeyHeader), Fault: planned}
	s.mu.Unlock()

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		s.mu.Lock()
		entry.Status = sw.status
		entry.Replayed = sw.status == http.StatusOK && sw.Header().Get(yubico.IdempotentReplayedHeader) == "true"
		s.log = append(s.log, entry)
		s.mu.Unlock()
	}()
	switch {
	case drop:
		dropConnection(w)
		return
	case fail != nil:
		if fail.retryAfter > 0 {
			w.Header().Set("Retry-After", fmt.Sprint(int((fail.retryAfter+time.Second-1)/time.Second)))
		}
		writeError(sw, fail.status, "injected_fault", fmt.Sprintf("yubicotest: injected failure for %s %s", r.Method, r.URL.Path))
		return
	}
	if strings.HasPrefix(r.URL.Path, "/v1/") && !authorized {
		writeError(sw, http.StatusUnauthorized, "unauthorized", "missing or invalid API token")
		return
	}
	if planned == HTTPFaultDropResponse {
		dw := &discardWriter{header: http.Header{}}
		s.route(dw, r)
		sw.status = dw.status
		if dw.header.Get(yubico.IdempotentReplayedHeader) == "true" {
			sw.Header().Set(yubico.IdempotentReplayedHeader, "true")
		}
		dropConnection(w)
		return
	}
	s.route(sw, r)
}

// bearer returns the bearer token of r, or "".
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

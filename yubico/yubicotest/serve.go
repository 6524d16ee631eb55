package yubicotest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/preenroll/preenroll/internal/fakehttp"
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
	// HTTPFault is the HTTP fault an [HTTPFaultPlan] injected (0: none).
	HTTPFault HTTPFault
}

// RequestLog returns every request served so far, in order (with
// [WithRequestLogLimit], the most recent ones).
func (s *Server) RequestLog() []Request {
	return s.log.All()
}

// RequestLogDropped returns how many of the oldest requests
// [WithRequestLogLimit] dropped from the request log.
func (s *Server) RequestLogDropped() int { return s.log.Dropped() }

// statusWriter records the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
	drop   bool // close the connection once the request is logged
}

// connDropper is a writer whose connection a handler asks to close without
// a response (DropResponseAfterCommit). The close itself waits until the
// request is in the log, which the handler cannot write while it holds s.mu.
type connDropper interface{ dropConnection() }

func (w *statusWriter) dropConnection() { w.drop = true }

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

// serveHTTP serves the API host; serveConsole serves the console host
// (the public JWKS). Injected HTTP faults apply to both.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request)    { s.serve(w, r, false) }
func (s *Server) serveConsole(w http.ResponseWriter, r *http.Request) { s.serve(w, r, true) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request, console bool) {
	route := s.route
	if console {
		route = s.routeConsole
	}
	fault := s.faults.Take(r)
	s.mu.Lock()
	s.catchUpLocked()
	_, authorized := s.tokens[bearer(r)]
	entry := Request{Time: s.now, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Authorized: authorized,
		IdempotencyKey: r.Header.Get(yubico.IdempotencyKeyHeader), HTTPFault: fault.Planned}
	if entry.IdempotencyKey != "" {
		// The key is judged as of now, however long the request then
		// waits (see replayLocked).
		var f *flight
		r, f = s.arriveLocked(r)
		defer func() {
			s.mu.Lock()
			s.leaveLocked(f)
			s.mu.Unlock()
		}()
	}
	onArrival := s.onArrival
	s.mu.Unlock()
	if onArrival != nil {
		onArrival(r)
	}

	// A slow service handles the request even if the client gave up: a
	// create may take effect after the client timed out.
	fakehttp.Wait(r.Context(), fault.Latency)
	sw := &statusWriter{ResponseWriter: w}
	var logOnce sync.Once
	record := func() {
		logOnce.Do(func() {
			entry.Status = sw.status
			entry.Replayed = sw.status == http.StatusOK && sw.Header().Get(yubico.IdempotentReplayedHeader) == "true"
			s.log.Add(entry)
		})
	}
	defer record()
	switch {
	case fault.Drop:
		fakehttp.DropConnection(w, record)
		return
	case fault.Status != 0:
		if fault.Status == http.StatusTooManyRequests {
			retryAfter := fault.RetryAfter
			if retryAfter <= 0 {
				retryAfter = DefaultRetryAfter
			}
			w.Header().Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
		}
		writeError(sw, fault.Status, "injected_fault", fmt.Sprintf("yubicotest: injected failure for %s %s", r.Method, r.URL.Path))
		return
	}
	if !console && strings.HasPrefix(r.URL.Path, "/v1/") && !authorized {
		writeError(sw, http.StatusUnauthorized, "unauthorized", "missing or invalid API token")
		return
	}
	if fault.DropResponse {
		dw := &discardWriter{header: http.Header{}}
		route(dw, r)
		sw.status = dw.status
		if dw.header.Get(yubico.IdempotentReplayedHeader) == "true" {
			sw.Header().Set(yubico.IdempotentReplayedHeader, "true")
		}
		fakehttp.DropConnection(w, record)
		return
	}
	route(sw, r)
	if sw.drop {
		fakehttp.DropConnection(w, record)
	}
}

// discardWriter is the ResponseWriter of a request whose response an
// injected DropResponse throws away; it keeps the status for the log.
type discardWriter struct {
	header http.Header
	status int
}

func (d *discardWriter) Header() http.Header { return d.header }

// dropConnection does nothing: the response is thrown away and the
// connection dropped anyway.
func (d *discardWriter) dropConnection() {}

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

// bearer returns the bearer token of r, or "".
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

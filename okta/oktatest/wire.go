package oktatest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/preenroll/preenroll/internal/fakehttp"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomID returns prefix followed by n base62 characters from s.rand,
// built in one buffer (not a random string and then its concatenation).
func (s *Server) randomID(prefix string, n int) string {
	b := make([]byte, len(prefix)+n)
	r := b[copy(b, prefix):]
	if _, err := io.ReadFull(s.rand, r); err != nil {
		panic(fmt.Sprintf("oktatest: random source failed: %v", err)) // the fake cannot continue without IDs
	}
	for i := range r {
		r[i] = base62[int(r[i])%len(base62)]
	}
	return string(b)
}

func (s *Server) randomBytes(n int) []byte {
	b := make([]byte, n)
	s.randomFill(b)
	return b
}

// randomFill fills b from the fake's random source.
func (s *Server) randomFill(b []byte) {
	if _, err := io.ReadFull(s.rand, b); err != nil {
		panic(fmt.Sprintf("oktatest: random source failed: %v", err))
	}
}

// sealPIN encrypts a PIN for storage (nonce || ciphertext).
func (s *Server) sealPIN(pin []byte) []byte {
	nonce := s.randomBytes(s.gcm.NonceSize())
	return s.gcm.Seal(nonce, nonce, pin, nil)
}

// openPIN decrypts a stored PIN; the caller zeroes the result.
func (s *Server) openPIN(sealed []byte) ([]byte, error) {
	n := s.gcm.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("oktatest: stored PIN is corrupt")
	}
	return s.gcm.Open(nil, sealed[:n], sealed[n:], nil)
}

// oktaTime formats like Okta: "2013-07-02T21:36:25.344Z".
type oktaTime time.Time

func (t oktaTime) MarshalJSON() ([]byte, error) {
	return appendOktaTime(make([]byte, 0, len(`"2006-01-02T15:04:05.000Z"`)), time.Time(t)), nil
}

// optOktaTime is an oktaTime that is null when zero (a time Okta reports
// as null, such as a user's lastLogin before the first sign-in).
type optOktaTime time.Time

var jsonNull = []byte("null") // never modified

func (t optOktaTime) MarshalJSON() ([]byte, error) {
	if time.Time(t).IsZero() {
		return jsonNull, nil
	}
	return oktaTime(t).MarshalJSON()
}

// appendOktaTime appends t in UTC as a JSON string in the layout
// "2006-01-02T15:04:05.000Z", digit by digit: time.Time.AppendFormat takes
// two allocations for it.
func appendOktaTime(b []byte, t time.Time) []byte {
	const layout = "2006-01-02T15:04:05.000Z"
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		b = append(b, '"')
		return append(t.AppendFormat(b, layout), '"')
	}
	h, mi, s := t.Clock()
	digits := func(b []byte, v, n int) []byte {
		for i := n - 1; i >= 0; i-- {
			b = append(b, byte('0'+v/pow10[i]%10))
		}
		return b
	}
	b = append(b, '"')
	b = digits(b, y, 4)
	b = append(b, '-')
	b = digits(b, int(mo), 2)
	b = append(b, '-')
	b = digits(b, d, 2)
	b = append(b, 'T')
	b = digits(b, h, 2)
	b = append(b, ':')
	b = digits(b, mi, 2)
	b = append(b, ':')
	b = digits(b, s, 2)
	b = append(b, '.')
	b = digits(b, t.Nanosecond()/1e6, 3)
	return append(b, 'Z', '"')
}

var pow10 = [...]int{1, 10, 100, 1000}

// exchange is one request being handled.
type exchange struct {
	w      http.ResponseWriter
	r      *http.Request
	id     string
	params map[string]string
	body   []byte
	entry  Request
	events []Event // emitted while handling; dispatched after the handler
	wrote  bool    // a response is buffered in status/out
	// dropResponse closes the connection instead of sending the response
	// (fault injection).
	dropResponse bool
	// dropRequest closes the connection without handling the request
	// (fault injection).
	dropRequest bool
	status      int
	out         []byte
	// hdr holds the values of the response headers setHeader sets.
	hdr []string
}

// setHeader sets the response header key, which must be in canonical form
// (as http.CanonicalHeaderKey returns it), to v. The value's one-element
// slice comes from a store shared by the exchange's headers instead of one
// allocation per header as http.Header.Set makes, and the key is not
// canonicalised again on every request.
func (x *exchange) setHeader(key, v string) {
	if len(x.hdr) == cap(x.hdr) {
		x.hdr = make([]string, 0, 8) // Date, X-Okta-Request-Id, 3 rate-limit headers, Content-Type and -Length
	}
	x.hdr = append(x.hdr, v)
	n := len(x.hdr)
	x.w.Header()[key] = x.hdr[n-1 : n : n]
}

func (x *exchange) detail(format string, args ...any) {
	if x.entry.Detail != "" {
		x.entry.Detail += "; "
	}
	x.entry.Detail += fmt.Sprintf(format, args...)
}

// errorBody is Okta's Error object.
type errorBody struct {
	ErrorCode    string `json:"errorCode"`
	ErrorSummary string `json:"errorSummary"`
	ErrorLink    string `json:"errorLink"`
	ErrorID      string `json:"errorId"`
	ErrorCauses  any    `json:"errorCauses"`
}

type cause struct {
	ErrorSummary string `json:"errorSummary"`
}

// fail writes an Okta error with causes as an array.
func (s *Server) fail(x *exchange, status int, code, summary string, causes ...string) {
	cs := fakehttp.Map(causes, func(c string) cause { return cause{c} })
	s.writeError(x, status, errorBody{ErrorCode: code, ErrorSummary: summary, ErrorLink: code, ErrorCauses: cs})
}

func (s *Server) writeError(x *exchange, status int, eb errorBody) {
	eb.ErrorID = s.randomID("oae", 22)
	x.entry.ErrorCode = eb.ErrorCode
	s.writeJSON(x, status, eb)
}

func (s *Server) writeJSON(x *exchange, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only the fake's own types are encoded here; failing loudly is right.
		panic(fmt.Sprintf("oktatest: encode response for %s %s: %v", x.r.Method, x.r.URL.Path, err))
	}
	x.setHeader("Content-Type", "application/json")
	x.setHeader("Content-Length", strconv.Itoa(len(b)))
	x.status, x.out, x.wrote = status, b, true
	x.entry.Status = status
}

func (s *Server) writeNoContent(x *exchange) {
	x.status, x.out, x.wrote = http.StatusNoContent, nil, true
	x.entry.Status = http.StatusNoContent
}

// finish runs the event callback, queues the event-hook deliveries, which
// run in the background (Okta's delivery is asynchronous: the request that
// caused an event never waits for it), then sends the buffered response.
// Queueing comes first so that a client that has its answer and then calls
// AwaitQueuedDeliveries waits for this request's deliveries too.
func (s *Server) finish(x *exchange) {
	if x.dropRequest {
		fakehttp.DropConnection(x.w, func() { s.record(x) })
		return
	}
	if x.wrote && x.dropResponse {
		s.deliverHooks(x)
		fakehttp.DropConnection(x.w, func() { s.record(x); s.dispatchCallbacks(x) })
		return
	}
	s.record(x) // before the response, so a client that has its answer sees the entry
	if !x.wrote {
		return
	}
	s.dispatchCallbacks(x)
	s.deliverHooks(x)
	x.w.WriteHeader(x.status)
	if len(x.out) > 0 {
		_, _ = x.w.Write(x.out)
	}
	if f, ok := x.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Common errors.

// oktaErrors are Okta's error code and summary by status, for the
// statuses the fake answers itself and those a fault injects; other
// statuses answer E0000009 with the status text.
var oktaErrors = map[int]struct{ code, summary string }{
	http.StatusTooManyRequests:     {"E0000047", "API call exceeded rate limit due to too many requests."},
	http.StatusInternalServerError: {"E0000009", "Internal Server Error"},
	http.StatusServiceUnavailable:  {"E0000010", "Service is in read only mode"},
	http.StatusUnauthorized:        {"E0000011", "Invalid token provided"},
	http.StatusForbidden:           {"E0000006", "You do not have permission to perform the requested action"},
	http.StatusNotFound:            {"E0000007", "Not found: Resource not found"},
	http.StatusBadRequest:          {"E0000001", "Api validation failed: injected fault"},
}

// failStatus answers status with Okta's error code and summary for it,
// and causes.
func (s *Server) failStatus(x *exchange, status int, causes ...string) {
	e, ok := oktaErrors[status]
	if !ok {
		e.code, e.summary = "E0000009", http.StatusText(status)
	}
	s.fail(x, status, e.code, e.summary, causes...)
}

// internalError notes why in the request log and answers 500 E0000009.
func (s *Server) internalError(x *exchange, format string, args ...any) {
	x.detail(format, args...)
	s.failStatus(x, http.StatusInternalServerError)
}

func (s *Server) notFound(x *exchange, id, typ string) {
	s.fail(x, http.StatusNotFound, "E0000007", fmt.Sprintf("Not found: Resource not found: %s (%s)", id, typ))
}

func (s *Server) validation(x *exchange, field string, causes ...string) {
	s.fail(x, http.StatusBadRequest, "E0000001", "Api validation failed: "+field, causes...)
}

func (s *Server) malformed(x *exchange, err error) {
	x.detail("decode body: %v", err)
	s.fail(x, http.StatusBadRequest, "E0000003", "The request body was not well-formed.")
}

// decode reads the JSON body into v.
func (s *Server) decode(x *exchange, v any) bool {
	if len(bytes.TrimSpace(x.body)) == 0 {
		s.malformed(x, errors.New("empty body"))
		return false
	}
	if err := json.Unmarshal(x.body, v); err != nil {
		s.malformed(x, err)
		return false
	}
	return true
}

func (s *Server) link(path string) map[string]string {
	return map[string]string{"href": s.srv.URL + path}
}

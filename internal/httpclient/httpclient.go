// Package httpclient holds the HTTP plumbing the okta and yubico clients
// share, so that the two speak alike: the options both take (generic over
// each client's options type), the check of a server URL with the loopback
// rule for plain http, the default transport, bounded reads of response
// bodies, the mapping of HTTP statuses to each client's sentinel errors,
// the wall clock's context-aware sleep, and the reason a client waits,
// which it tells its clock in the ctx of Sleep ([WaitReason]). It imports only the standard
// library; its clienttest package holds the tests both clients run.
package httpclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultTimeout is the timeout of the http.Client a client creates when the
// caller supplies none.
const DefaultTimeout = 30 * time.Second

// DefaultMaxBodySize bounds every response body a client reads (1 MiB).
const DefaultMaxBodySize = 1 << 20

// defaultIdleConnsPerHost is how many idle connections per host the default
// transport keeps: enough for a batch of concurrent calls to reuse
// connections (http.DefaultTransport keeps 2, so a third concurrent caller
// dials anew every time).
const defaultIdleConnsPerHost = 32

// DefaultTransport returns a clone of http.DefaultTransport that keeps 32
// idle connections per host.
func DefaultTransport() http.RoundTripper {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return http.DefaultTransport
	}
	t = t.Clone()
	t.MaxIdleConnsPerHost = defaultIdleConnsPerHost
	return t
}

// Copy returns a copy of hc to send requests through, or, for a nil hc, a
// client with [DefaultTimeout] over [DefaultTransport]; and the copy's
// transport (http.DefaultTransport when hc has none), for the caller to
// wrap. hc itself is never modified. A copy without a CheckRedirect gets
// [CheckRedirect].
func Copy(hc *http.Client) (http.Client, http.RoundTripper) {
	c := http.Client{Timeout: DefaultTimeout, Transport: DefaultTransport()}
	if hc != nil {
		c = *hc
	}
	if c.CheckRedirect == nil {
		c.CheckRedirect = CheckRedirect
	}
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	return c, rt
}

// CheckRedirect is the clients' redirect policy, net/http's default (at
// most 10) made stricter for answers from a vendor's API that no vendor
// documents: no redirect from https to plain http, and none of a request
// with a body (a 307 or 308 sends the body again: shipping addresses,
// credential requests) to another host. The clients add Authorization
// only for their own host in any case. Its errors wrap
// [ErrRedirectRefused].
func CheckRedirect(req *http.Request, via []*http.Request) error {
	first, prev := via[0], via[len(via)-1]
	switch {
	case len(via) >= 10:
		return fmt.Errorf("%w: stopped after 10 redirects", ErrRedirectRefused)
	case prev.URL.Scheme == "https" && req.URL.Scheme != "https":
		return fmt.Errorf("%w from https to %s://%s", ErrRedirectRefused, req.URL.Scheme, req.URL.Host)
	case req.Method != http.MethodGet && req.Method != http.MethodHead && req.URL.Host != first.URL.Host:
		return fmt.Errorf("%w of a %s from %s to another host, %s (its body would be sent there)", ErrRedirectRefused, req.Method, first.URL.Host, req.URL.Host)
	}
	return nil
}

// ErrRedirectRefused is wrapped by the errors of [CheckRedirect]. The
// clients do not retry them: the same answer would be refused again.
var ErrRedirectRefused = errors.New("refused a redirect")

// IsLoopback reports whether host is "localhost" or a loopback IP address:
// the only hosts the clients talk to over plain http (test servers).
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ErrBodyTooLarge is returned by [ReadBounded] for a body over its limit.
var ErrBodyTooLarge = errors.New("response body too large")

// ReadBounded reads at most limit bytes of r. A longer body returns its
// first limit bytes and an error wrapping [ErrBodyTooLarge]. size is the
// body's length when known (a response's ContentLength; -1 when not):
// within limit, the buffer is sized from it, so that the body is read with
// one allocation instead of io.ReadAll's repeated growing and copying.
func ReadBounded(r io.Reader, size, limit int64) ([]byte, error) {
	c := int64(512) // io.ReadAll's first buffer
	if size >= 0 && size <= limit {
		c = size + 1 // room for the read that sees EOF
	}
	data, err := ReadAtMost(r, c, limit+1)
	if err != nil {
		return data, err
	}
	if int64(len(data)) > limit {
		return data[:limit], fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, limit)
	}
	return data, nil
}

// ReadAtMost is io.ReadAll(io.LimitReader(r, n)) with a first buffer of
// capacity c and no LimitReader to allocate: a body of known length (plus
// one byte for the read that sees EOF) is read into one allocation. The
// fakes read request bodies with it too.
func ReadAtMost(r io.Reader, c, n int64) ([]byte, error) {
	data := make([]byte, 0, min(c, n))
	for int64(len(data)) < n {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		room := data[len(data):cap(data)]
		if left := n - int64(len(data)); int64(len(room)) > left {
			room = room[:left]
		}
		m, err := r.Read(room)
		data = data[:len(data)+m]
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return data, err
		}
	}
	return data, nil
}

// Clip cuts s to at most n bytes on a character boundary, marking the cut
// with "…". It bounds untrusted text kept in errors.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// WallClock is the real clock in the shape of okta.Clock and yubico.Clock:
// Now is time.Now and Sleep is [Sleep].
type WallClock struct{}

// Now returns time.Now().
func (WallClock) Now() time.Time { return time.Now() }

// Sleep is [Sleep].
func (WallClock) Sleep(ctx context.Context, d time.Duration) error { return Sleep(ctx, d) }

// ErrPastDeadline is returned by [Sleep] for a wait that would end after
// ctx's deadline. It wraps context.DeadlineExceeded.
var ErrPastDeadline = fmt.Errorf("wait outlasts the deadline: %w", context.DeadlineExceeded)

// Sleep waits for d on the wall clock or until ctx is done, whichever comes
// first; it returns ctx.Err() in the second case (also when d <= 0 and ctx
// is already done). A wait that would end after ctx's deadline is refused
// at once with [ErrPastDeadline] instead of sleeping into the deadline: a
// deadline is wall-clock time, so only the wall clock's Sleep can tell (a
// fake clock's waits take no wall time and never outlast one).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	if Outlasts(ctx, d) {
		if err := ctx.Err(); err != nil {
			return err
		}
		return ErrPastDeadline
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Outlasts reports whether a wall-clock wait of d would end after ctx's
// deadline: the waits [Sleep] refuses.
func Outlasts(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < d
}

// ParseURL parses raw as the absolute URL of a server a client talks to:
// http or https with a host, no user information, and plain http only for
// a loopback host (see [IsLoopback]). Its errors quote raw only when it has
// no user information (which may hold a password).
func ParseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		if u != nil && u.User != nil {
			return nil, errors.New("is not an absolute https URL")
		}
		return nil, fmt.Errorf("%q is not an absolute https URL", raw)
	}
	if u.User != nil {
		return nil, errors.New("must not contain user information")
	}
	if u.Scheme == "http" && !IsLoopback(u.Hostname()) {
		return nil, fmt.Errorf("%q: plain http is only allowed for loopback hosts", raw)
	}
	return u, nil
}

// MaxServerWait caps any wait a server asks for (Retry-After, a rate-limit
// reset). A wait further away than this is nonsense — a broken clock, a
// date years ahead — and, unclamped, could overflow time.Duration; the
// clients' retry policies then refuse to wait that long.
const MaxServerWait = 24 * time.Hour

// ServerNow is the server's time of a response: its Date header, or now
// when it has none (or a malformed one).
func ServerNow(h http.Header, now time.Time) time.Time {
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		return d
	}
	return now
}

// RetryAfter reads a response's Retry-After (RFC 9110 §10.2.3): delay
// seconds, or an HTTP date measured from the response's Date (see
// [ServerNow]). ok is false when the header is absent or malformed. The
// wait is clamped to [0, MaxServerWait].
func RetryAfter(h http.Header, now time.Time) (wait time.Duration, ok bool) {
	ra := strings.TrimSpace(h.Get("Retry-After"))
	if ra == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(ra, 10, 64); err == nil && secs >= 0 {
		return time.Duration(min(secs, int64(MaxServerWait/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(ra); err == nil {
		return min(max(t.Sub(ServerNow(h, now)), 0), MaxServerWait), true
	}
	return 0, false
}

// JSONString decodes a JSON string token as json.Unmarshal would; one
// without escapes or invalid UTF-8 (which json.Unmarshal replaces) is only
// copied, without another pass of the JSON scanner. tok must come from
// JSON already validated (a value json.Unmarshal checked, or one member
// of it): the copy does not look for the raw control characters JSON
// forbids. Like json.Unmarshal, it decodes null to "" and refuses any
// other token that is not a string.
func JSONString(tok []byte) (string, error) {
	if len(tok) >= 2 && tok[0] == '"' && tok[len(tok)-1] == '"' &&
		bytes.IndexByte(tok, '\\') < 0 && utf8.Valid(tok) {
		return string(tok[1 : len(tok)-1]), nil
	}
	var s string
	err := json.Unmarshal(tok, &s)
	return s, err
}

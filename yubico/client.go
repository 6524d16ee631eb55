package yubico

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultBaseURL is the production YubiEnterprise API base URL.
const DefaultBaseURL = "https://api.console.yubico.com/v1"

// DefaultBodyLimit bounds every response body the client reads (1 MiB).
const DefaultBodyLimit = 1 << 20

// DefaultUserAgent is sent when [WithUserAgent] is not given.
const DefaultUserAgent = "preenroll-yubico/1"

// defaultTimeout is the timeout of the HTTP client used when WithHTTPClient
// is not given.
const defaultTimeout = 30 * time.Second

// Client calls the YubiEnterprise Delivery API. It is safe for concurrent use;
// its zero value is not usable: create one with [NewClient].
type Client struct {
	base      *url.URL // API base, e.g. https://api.console.yubico.com/v1 (no trailing slash)
	jwksBase  *url.URL // host root serving /.well-known/*.jwks
	hc        *http.Client
	userAgent string
	retry     RetryPolicy
	now       func() time.Time
	bodyLimit int64
}

type config struct {
	hc        *http.Client
	userAgent string
	retry     RetryPolicy
	now       func() time.Time
	bodyLimit int64
	jwksBase  string
}

// Option configures a [Client] in [NewClient].
type Option func(*config) error

// WithHTTPClient makes the client send requests through a copy of hc (hc
// itself is never modified). Size hc's transport for the calls you make at
// once (http.DefaultTransport keeps only 2 idle connections per host). The
// default is a client with a 30 s timeout over a clone of
// http.DefaultTransport that keeps 32.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		if hc == nil {
			return errors.New("yubico: WithHTTPClient: nil *http.Client")
		}
		cp := *hc
		c.hc = &cp
		return nil
	}
}

// WithUserAgent sets the User-Agent header (default [DefaultUserAgent]).
func WithUserAgent(ua string) Option {
	return func(c *config) error {
		if ua == "" || strings.ContainsAny(ua, "\r\n") {
			return errors.New("yubico: WithUserAgent: empty or multi-line user agent")
		}
		c.userAgent = ua
		return nil
	}
}

// WithRetryPolicy replaces the retry policy for GET requests and for creates
// with an idempotency key (default
// JitteredBackoff(3, 500*time.Millisecond, 10*time.Second)). Use
// [NoRetries] to send every request once.
func WithRetryPolicy(p RetryPolicy) Option {
	return func(c *config) error {
		if p == nil {
			return errors.New("yubico: WithRetryPolicy: nil policy")
		}
		c.retry = p
		return nil
	}
}

// WithClock sets the clock used to interpret HTTP-date Retry-After headers
// (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errors.New("yubico: WithClock: nil clock")
		}
		c.now = now
		return nil
	}
}

// WithBodyLimit bounds the size of every response body read (default
// [DefaultBodyLimit]); a larger body is an error.
func WithBodyLimit(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("yubico: WithBodyLimit: limit %d is not positive", n)
		}
		c.bodyLimit = n
		return nil
	}
}

// WithJWKSBaseURL sets where Yubico's public JWKS are fetched from: the
// client requests rawURL + "/.well-known/yubico-transport-keys.jwks" and
// rawURL + "/.well-known/yubico-sign.jwks". The default is the scheme and
// host of the API base URL (Yubico publishes them at
// https://console.yubico.com/.well-known/, so production callers set
// "https://console.yubico.com"). The token is never sent to this URL.
func WithJWKSBaseURL(rawURL string) Option {
	return func(c *config) error {
		c.jwksBase = rawURL
		return nil
	}
}

// NewClient returns a client for the API at baseURL (for example
// [DefaultBaseURL], or a fake's URL) authenticating with the bearer token.
// It returns an error if baseURL is not an absolute https URL without query
// or fragment (plain http only for loopback hosts, such as a test server),
// if token is empty or malformed, or if an option is invalid.
func NewClient(baseURL, token string, opts ...Option) (*Client, error) {
	base, err := parseBase("base URL", baseURL)
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, errors.New("yubico: token is empty")
	}
	if strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, errors.New("yubico: token contains whitespace or control characters")
	}
	cfg := config{
		userAgent: DefaultUserAgent,
		retry:     JitteredBackoff(3, 500*time.Millisecond, 10*time.Second),
		now:       time.Now,
		bodyLimit: DefaultBodyLimit,
	}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("yubico: nil option")
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.hc == nil {
		cfg.hc = &http.Client{Timeout: defaultTimeout, Transport: defaultTransport()}
	}
	jwks := &url.URL{Scheme: base.Scheme, Host: base.Host}
	if cfg.jwksBase != "" {
		if jwks, err = parseBase("JWKS base URL", cfg.jwksBase); err != nil {
			return nil, err
		}
	}
	inner := cfg.hc.Transport
	if inner == nil {
		inner = http.DefaultTransport
	}
	cfg.hc.Transport = &authTransport{base: inner, token: token, scheme: base.Scheme, host: base.Host, prefix: base.Path + "/"}
	return &Client{
		base:      base,
		jwksBase:  jwks,
		hc:        cfg.hc,
		userAgent: cfg.userAgent,
		retry:     cfg.retry,
		now:       cfg.now,
		bodyLimit: cfg.bodyLimit,
	}, nil
}

// defaultIdleConnsPerHost is how many idle connections per host the default
// transport keeps, so that concurrent calls reuse connections
// (http.DefaultTransport keeps 2).
const defaultIdleConnsPerHost = 32

// defaultTransport is a clone of http.DefaultTransport that keeps
// defaultIdleConnsPerHost idle connections per host.
func defaultTransport() http.RoundTripper {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return http.DefaultTransport
	}
	t = t.Clone()
	t.MaxIdleConnsPerHost = defaultIdleConnsPerHost
	return t
}

func parseBase(what, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("yubico: %s %q: %w", what, raw, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("yubico: %s %q: want an absolute http or https URL", what, raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("yubico: %s %q: must not contain user info, query or fragment", what, u.Redacted())
	}
	// Plain http would send the token (API) or take signing keys (JWKS)
	// over an unauthenticated channel: only a loopback test server may.
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("yubico: %s %q: plain http is only allowed for loopback hosts", what, raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// isLoopback reports whether host is "localhost" or a loopback IP address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// BaseURL returns the API base URL the client calls.
func (c *Client) BaseURL() string { return c.base.String() }

// String describes the client without its token.
func (c *Client) String() string { return "yubico.Client{" + c.base.String() + "}" }

// GoString is like String, so that %#v cannot print the token.
func (c *Client) GoString() string { return c.String() }

// Format prints String for every verb, so that no fmt verb prints the token.
func (c *Client) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

// authTransport adds the bearer token to requests for the API base (and only
// those: the public JWKS, possibly on another host, never see it).
type authTransport struct {
	base   http.RoundTripper
	token  string
	scheme string
	host   string
	prefix string
}

// RoundTrip adds the Authorization header to a clone of requests for the API.
func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != t.scheme || req.URL.Host != t.host || !strings.HasPrefix(req.URL.Path, t.prefix) ||
		strings.HasPrefix(req.URL.Path, "/.well-known/") {
		return t.base.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+t.token)
	return t.base.RoundTrip(r)
}

// RetryPolicy decides whether a failed GET, or a failed create with an
// idempotency key, is tried again. attempt is the
// number of attempts made so far (1 after the first failure); err is the
// failure: an [*APIError] for an HTTP error status (its RetryAfter is set from
// the Retry-After header) or a transport error. It returns how long to wait
// and whether to retry. Context cancellation is never retried.
type RetryPolicy func(attempt int, err error) (wait time.Duration, retry bool)

// NoRetries returns a policy that never retries.
func NoRetries() RetryPolicy {
	return func(int, error) (time.Duration, bool) { return 0, false }
}

// ExponentialBackoff returns a policy that makes at most maxAttempts attempts
// in total, retrying transport errors, 429 and 500/502/503/504, waiting
// base·2^(attempt-1) capped at max, or the server's Retry-After if it is
// longer. A Retry-After longer than max is not waited for: the error is
// returned. The waits are deterministic (no jitter).
func ExponentialBackoff(maxAttempts int, base, max time.Duration) RetryPolicy {
	return func(attempt int, err error) (time.Duration, bool) {
		if attempt >= maxAttempts {
			return 0, false
		}
		wait := max
		if attempt <= 30 {
			wait = base << (attempt - 1)
		}
		if wait > max || wait < 0 {
			wait = max
		}
		var ae *APIError
		if errors.As(err, &ae) {
			switch ae.StatusCode {
			case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
				http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			default:
				return 0, false
			}
			if ae.RetryAfter > max {
				return 0, false
			}
			if ae.RetryAfter > wait {
				wait = ae.RetryAfter
			}
		}
		return wait, true
	}
}

// JitteredBackoff is [ExponentialBackoff] with "equal jitter": each wait is
// drawn uniformly from [w/2, w], where w is ExponentialBackoff's wait, so
// that many clients failing at the same moment do not retry in lockstep. A
// Retry-After from the server is still waited for in full. It is the
// default policy of [NewClient].
func JitteredBackoff(maxAttempts int, base, max time.Duration) RetryPolicy {
	exp := ExponentialBackoff(maxAttempts, base, max)
	return func(attempt int, err error) (time.Duration, bool) {
		wait, retry := exp(attempt, err)
		if !retry || wait <= 1 {
			return wait, retry
		}
		j := wait/2 + rand.N(wait-wait/2+1)
		var ae *APIError
		if errors.As(err, &ae) && ae.RetryAfter > j {
			j = ae.RetryAfter
		}
		return j, true
	}
}

// request describes one API call.
type request struct {
	method string
	path   string // escaped path below the base, starting with "/"
	query  url.Values
	in     any // JSON-encoded request body, or nil
	// idempotencyKey, if set (validated by the caller), is sent as the
	// Idempotency-Key header and makes a non-GET request retryable.
	idempotencyKey string
	// notFoundOn400 marks by-ID operations: Yubico answers an unknown ID
	// with 400 ("you did not provide a valid shipment"), so a 400 there also
	// matches ErrNotFound.
	notFoundOn400 bool
}

// do sends r and decodes a successful JSON response into out (if non-nil and
// the body is not empty).
func (c *Client) do(ctx context.Context, r request, out any) error {
	u := *c.base
	u.Path = c.base.Path + r.path
	u.RawPath = ""
	if len(r.query) > 0 {
		u.RawQuery = r.query.Encode()
	}
	body, err := c.send(ctx, r, u.String(), r.path)
	if err != nil {
		return err
	}
	if out == nil || len(bytes.TrimSpace(body)) == 0 {
		if out != nil {
			return fmt.Errorf("yubico: %s %s: empty response body", r.method, r.path)
		}
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("yubico: %s %s: decode response: %w", r.method, r.path, err)
	}
	return nil
}

// send performs the request with retries (GET, and requests with an
// idempotency key, only) and returns the body of a 2xx response. label names
// the call in errors.
func (c *Client) send(ctx context.Context, r request, rawURL, label string) ([]byte, error) {
	var payload []byte
	if r.in != nil {
		var err error
		if payload, err = json.Marshal(r.in); err != nil {
			return nil, fmt.Errorf("yubico: %s %s: encode request: %w", r.method, label, err)
		}
	}
	for attempt := 1; ; attempt++ {
		body, err := c.once(ctx, r, rawURL, label, payload)
		if err == nil {
			return body, nil
		}
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			return nil, fmt.Errorf("yubico: %s %s: %w (last error: %w)", r.method, label, ctx.Err(), err)
		}
		if (r.method != http.MethodGet && r.idempotencyKey == "") || ctx.Err() != nil {
			return nil, err
		}
		wait, retry := c.retry(attempt, err)
		if !retry {
			if attempt > 1 {
				return nil, fmt.Errorf("yubico: %s %s: giving up after %d attempts: %w", r.method, label, attempt, err)
			}
			return nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("yubico: %s %s: waiting to retry after %d attempts: %w (last error: %w)", r.method, label, attempt, ctx.Err(), err)
		case <-t.C:
		}
	}
}

func (c *Client) once(ctx context.Context, r request, rawURL, label string, payload []byte) ([]byte, error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, rawURL, rd)
	if err != nil {
		return nil, fmt.Errorf("yubico: %s %s: %w", r.method, label, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.idempotencyKey != "" {
		req.Header.Set(IdempotencyKeyHeader, r.idempotencyKey)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		// *url.Error carries the URL, which holds no secret (the token is a header).
		return nil, fmt.Errorf("yubico: %s %s: %w", r.method, label, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.bodyLimit+1))
	if err != nil {
		return nil, fmt.Errorf("yubico: %s %s: read response: %w", r.method, label, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, c.apiError(r, label, resp, body)
	}
	if int64(len(body)) > c.bodyLimit {
		return nil, fmt.Errorf("yubico: %s %s: response body exceeds %d bytes", r.method, label, c.bodyLimit)
	}
	return body, nil
}

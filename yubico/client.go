package yubico

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/preenroll/preenroll/internal/httpclient"
)

// DefaultBaseURL is the production YubiEnterprise API base URL.
const DefaultBaseURL = "https://api.console.yubico.com/v1"

// DefaultJWKSBaseURL is where Yubico publishes its FIDO Pre-reg JWKS:
// https://console.yubico.com/.well-known/yubico-transport-keys.jwks and
// https://console.yubico.com/.well-known/yubico-sign.jwks, as Yubico's own
// ServiceNow integration documents them
// (https://github.com/YubicoLabs/yed-spoke-example, file
// docs/docs/fido-pre-reg/actions/YubiEnterprise/transpontkeys.md; see docs/yubico.md);
// Yubico's FIDO Connector takes them as the settings
// YE_JWKS_TRANSPORT_ENDPOINT and YE_JWKS_SIGN_ENDPOINT
// (https://docs.yubico.com/cloud-services/fidoprereg-microsoft/api-reference.html).
// The console host is not the API host (api.console.yubico.com).
const DefaultJWKSBaseURL = "https://console.yubico.com"

// DefaultMaxBodySize bounds every response body the client reads (1 MiB).
const DefaultMaxBodySize = 1 << 20

// Client calls the YubiEnterprise Delivery API. It is safe for concurrent use;
// its zero value is not usable: create one with [NewClient]. Formatting a
// Client (%v, %+v, %#v, String) prints only its base URL; the token is never
// printed.
type Client struct {
	base     *url.URL // API base, e.g. https://api.console.yubico.com/v1 (no trailing slash)
	jwksBase *url.URL // host root serving /.well-known/*.jwks
	core     httpclient.Core
	retry    RetryPolicy
}

// Option configures a [Client] in [NewClient].
type Option func(*options) error

// WithHTTPClient makes the client send requests through a copy of hc (hc
// itself is not modified). Its Transport, Timeout, Jar and CheckRedirect are
// kept (with no CheckRedirect, a redirect from https to http, or of a
// request with a body to another host, is refused). The client sets the
// Authorization header on the requests it builds and on redirect hops, and
// only for requests below the API base URL (never to the JWKS host); hc's
// CheckRedirect judges each hop without it. hc's Transport carries the
// requests as it is, unwrapped.
// Size hc's transport for the calls you make at once (http.DefaultTransport
// keeps only 2 idle connections per host). Without this option the client
// uses a 30 s timeout over a clone of http.DefaultTransport that keeps 32.
func WithHTTPClient(hc *http.Client) Option { return httpclient.WithHTTPClient[*options](hc) }

// WithUserAgent puts ua in front of the client's User-Agent header
// ("<ua> preenroll-yubico go<version>").
func WithUserAgent(ua string) Option { return httpclient.WithUserAgent[*options](ua) }

// WithRetryPolicy replaces [DefaultRetryPolicy]. Use [NoRetries] in tests
// that want to see the first failure.
func WithRetryPolicy(p RetryPolicy) Option {
	return func(o *options) error {
		if err := httpclient.CheckRetry(p.MaxRetries, p.MaxRateLimitWait); err != nil {
			return err // NewClient wraps ErrInvalidArgument
		}
		o.retry = p
		return nil
	}
}

// WithClock replaces the wall clock used to read HTTP-date Retry-After
// headers and for every wait between retries. Tests use it to make waits
// instantaneous and observable.
func WithClock(c Clock) Option { return httpclient.WithClock[*options](c) }

// WithMaxBodySize bounds every response body the client reads; a larger
// successful response is an error. The default is [DefaultMaxBodySize].
func WithMaxBodySize(n int64) Option { return httpclient.WithMaxBodySize[*options](n) }

// WithJWKSBaseURL sets where Yubico's public JWKS are fetched from: the
// client requests rawURL + [TransportKeysPath] and rawURL + [SigningKeysPath].
// The default is [DefaultJWKSBaseURL], the console host where Yubico
// publishes them, whatever the API base URL is; a fake names its own
// console listener with this option (yubicotest's Server.Client does). The
// token is never sent to this URL.
func WithJWKSBaseURL(rawURL string) Option {
	return func(o *options) error {
		o.jwksBase = rawURL
		return nil
	}
}

// NewClient returns a client for the API at baseURL (for example
// [DefaultBaseURL], or a fake's URL) authenticating with the bearer token.
//
// baseURL must be an absolute https URL without query, fragment or user
// information; plain http is accepted only for loopback hosts (test
// servers). token must be non-empty and printable. A nil option and an
// invalid option are errors. Errors wrap [ErrInvalidArgument].
func NewClient(baseURL, token string, opts ...Option) (*Client, error) {
	base, err := parseBase("base URL", baseURL)
	if err != nil {
		return nil, err
	}
	if err := httpclient.CheckToken(token); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	o := options{Settings: httpclient.DefaultSettings(), retry: DefaultRetryPolicy()}
	if err := httpclient.Apply(&o, opts, httpclient.WrapIn(ErrInvalidArgument)); err != nil {
		return nil, err
	}
	jwks, err := jwksBase(o.jwksBase)
	if err != nil {
		return nil, err
	}
	// Only requests below the API base carry the token: the public JWKS,
	// possibly on another host, never see it.
	core := o.Core("preenroll-yubico", &httpclient.Authorizer{Scheme: base.Scheme, Host: base.Host, PathPrefix: base.Path + "/",
		ExceptPrefix: "/.well-known/", Header: "Bearer " + token, Name: "yubico.authorizer"})
	return &Client{base: base, jwksBase: jwks, core: core, retry: o.retry.withDefaults()}, nil
}

// options are the settings the okta client takes too (HTTP client,
// User-Agent, clock, body bound; set by the shared httpclient options) and
// Yubico's own.
type options struct {
	httpclient.Settings
	retry    RetryPolicy
	jwksBase string
}

// jwksBase resolves the JWKS base URL: raw if given, else
// DefaultJWKSBaseURL.
func jwksBase(raw string) (*url.URL, error) {
	if raw != "" {
		return parseBase("JWKS base URL", raw)
	}
	return url.Parse(DefaultJWKSBaseURL)
}

func parseBase(what, raw string) (*url.URL, error) {
	// Plain http would send the token (API) or take signing keys (JWKS)
	// over an unauthenticated channel: only a loopback test server may.
	u, err := httpclient.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %w", ErrInvalidArgument, what, err)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: %s %q: must not contain a query or fragment", ErrInvalidArgument, what, raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// BaseURL returns the API base URL the client calls.
func (c *Client) BaseURL() string { return c.base.String() }

// String describes the client without its token.
func (c *Client) String() string { return "yubico.Client{" + c.base.String() + "}" }

// GoString is like String, so that %#v cannot print the token.
func (c *Client) GoString() string { return c.String() }

// Format prints String for every verb, so that no fmt verb prints the token.
func (c *Client) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

// Clock tells the time and waits. The client uses it to read HTTP-date
// Retry-After headers and for the waits between retries; tests inject one
// that advances instantly. It has the methods of okta.Clock, so one value
// serves both clients (and a fake's clock needs one adapter for both).
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Sleep waits d. It must return ctx.Err() when ctx is done before d
	// has passed.
	Sleep(ctx context.Context, d time.Duration) error
}

// RetryPolicy says when and how long the client waits and retries; it has
// the shape of okta.RetryPolicy, without Okta's quota throttling (Yubico
// reports no quota). The zero value sends every request once.
//
// What is retried: GET requests, and creates with an idempotency key, after
// a transport error (not a redirect the client refused, see
// [WithHTTPClient]) or HTTP 429, 500, 502, 503 or 504. The wait before retry
// n is Backoff(n), or the server's Retry-After if that is longer. Updates,
// deletes and creates without an idempotency key are sent exactly once.
// Context cancellation is never retried.
type RetryPolicy struct {
	// MaxRetries is how many times a request may be re-sent after the first
	// attempt. 0 disables retries.
	MaxRetries int
	// Backoff returns the wait before retry number n (1-based). Nil means
	// [DefaultBackoff].
	Backoff func(n int) time.Duration
	// MaxRateLimitWait caps the Retry-After the client honours: when the
	// server asks for a longer wait, the call returns the *APIError at once.
	// 0 means [DefaultMaxRateLimitWait].
	MaxRateLimitWait time.Duration
}

// DefaultMaxRateLimitWait is the longest Retry-After the default policy
// waits for.
const DefaultMaxRateLimitWait = 10 * time.Second

// DefaultRetryPolicy is what NewClient uses without [WithRetryPolicy]: two
// retries (three attempts) with [DefaultBackoff], honouring a Retry-After
// of up to [DefaultMaxRateLimitWait].
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxRetries: 2, Backoff: DefaultBackoff, MaxRateLimitWait: DefaultMaxRateLimitWait}
}

// withDefaults fills in the zero MaxRateLimitWait and nil Backoff.
func (p RetryPolicy) withDefaults() RetryPolicy {
	httpclient.RetryDefaults(&p.MaxRateLimitWait, DefaultMaxRateLimitWait, &p.Backoff, DefaultBackoff)
	return p
}

// NoRetries is a policy that sends every request once.
func NoRetries() RetryPolicy { return RetryPolicy{} }

// DefaultBackoff is exponential backoff with "equal jitter": a uniformly
// random duration in [w/2, w], where w = min(10s, 500ms·2^(n-1)), so that
// many clients failing at the same moment do not retry in lockstep.
func DefaultBackoff(n int) time.Duration {
	w := 10 * time.Second
	if n >= 1 && n <= 5 {
		w = min(w, 500*time.Millisecond<<(n-1))
	}
	return w/2 + rand.N(w-w/2+1)
}

// retryable reports whether err (from one attempt) may be retried.
func retryable(err error, keyed bool) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		// A transport error, unless a redirect the client refused (it
		// would be refused again).
		return !errors.Is(err, httpclient.ErrRedirectRefused)
	}
	switch ae.StatusCode {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	case http.StatusConflict:
		// The IETF draft's answer to a key whose first request is still
		// being processed: try again later.
		return keyed
	}
	return false
}

// mayHaveApplied reports whether an attempt that failed with err may still
// have taken effect at the server: no answer, or a 5xx or 408 (the server
// may have acted before it failed). A 4xx other than 408, and a 429, are
// answers given before acting.
func mayHaveApplied(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return true
	}
	return ae.StatusCode >= 500 || ae.StatusCode == http.StatusRequestTimeout
}

// retryWait returns how long to wait before retry n after err and why
// (httpclient.WaitRateLimited after a 429, as the okta client says,
// httpclient.WaitRetry after a transport error, a 5xx or a 409), and false
// when the policy gives up.
func (p RetryPolicy) retryWait(n int, err error, keyed bool) (time.Duration, httpclient.WaitReason, bool) {
	if n > p.MaxRetries || !retryable(err, keyed) {
		return 0, httpclient.WaitUnknown, false
	}
	wait, why := p.Backoff(n), httpclient.WaitRetry
	var ae *APIError
	if errors.As(err, &ae) {
		if ae.StatusCode == http.StatusTooManyRequests {
			why = httpclient.WaitRateLimited
		}
		if ae.RetryAfter > 0 {
			if ae.RetryAfter > p.MaxRateLimitWait {
				return 0, httpclient.WaitUnknown, false
			}
			wait = max(wait, ae.RetryAfter)
		}
	}
	return wait, why, true
}

// request describes one API call.
type request struct {
	method string
	path   string // unescaped path below the base, starting with "/" (url.URL escapes it)
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
	keyed := r.idempotencyKey != "" && r.method != http.MethodGet
	// mayBeMade: an attempt of this keyed request may have taken effect (it
	// got no answer, a 5xx or a 408), or a 409 said one with its key is still
	// being processed. A refusal at the end then does not prove that
	// nothing was made (the server forgot the key, or does not honour it):
	// the call's error matches ErrOutcomeUnknown.
	mayBeMade := false
	unknownUnless := func(err error) error {
		if !mayBeMade || mayHaveApplied(err) {
			return err
		}
		return fmt.Errorf("yubico: %s %s: %w: an earlier attempt may have been applied: %w", r.method, label, ErrOutcomeUnknown, err)
	}
	for attempt := 1; ; attempt++ {
		body, err := c.once(ctx, r, rawURL, label, payload)
		if err == nil {
			return body, nil
		}
		var ae *APIError
		if errors.As(err, &ae) {
			ae.Attempts = attempt
		}
		mayBeMade = mayBeMade || (keyed && (mayHaveApplied(err) || (ae != nil && ae.StatusCode == http.StatusConflict)))
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			return nil, unknownUnless(fmt.Errorf("yubico: %s %s: %w (last error: %w)", r.method, label, ctx.Err(), err))
		}
		if (!keyed && r.method != http.MethodGet) || ctx.Err() != nil {
			return nil, err
		}
		wait, why, retry := c.retry.retryWait(attempt, err, keyed)
		if !retry {
			if attempt > 1 && ae == nil {
				return nil, fmt.Errorf("yubico: %s %s: giving up after %d attempts: %w", r.method, label, attempt, err)
			}
			return nil, unknownUnless(err)
		}
		if serr := httpclient.SleepFor(ctx, c.core.Clock, why, wait); serr != nil {
			return nil, unknownUnless(fmt.Errorf("yubico: %s %s: waiting to retry after %d attempts: %w (last error: %w)", r.method, label, attempt, serr, err))
		}
	}
}

func (c *Client) once(ctx context.Context, r request, rawURL, label string, payload []byte) ([]byte, error) {
	req, err := c.core.NewRequest(ctx, r.method, rawURL, payload)
	if err != nil {
		return nil, fmt.Errorf("yubico: %s %s: %w", r.method, label, err)
	}
	if r.idempotencyKey != "" {
		req.Header.Set(IdempotencyKeyHeader, r.idempotencyKey)
	}
	c.core.Authorize(req)
	resp, err := c.core.HTTP.Do(req)
	if err != nil {
		// *url.Error carries the URL, which holds no secret (the token is a header).
		return nil, fmt.Errorf("yubico: %s %s: %w", r.method, label, err)
	}
	body, readErr := httpclient.ReadBounded(resp.Body, resp.ContentLength, c.core.MaxBody)
	_ = resp.Body.Close()
	if readErr != nil && !errors.Is(readErr, httpclient.ErrBodyTooLarge) {
		return nil, fmt.Errorf("yubico: %s %s: read response: %w", r.method, label, readErr)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, c.apiError(r, label, resp, body)
	}
	if readErr != nil {
		return nil, fmt.Errorf("yubico: %s %s: read response: %w", r.method, label, readErr)
	}
	return body, nil
}

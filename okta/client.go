package okta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/preenroll/preenroll/internal/httpclient"
)

// DefaultMaxBodySize bounds every response body the client reads (1 MiB).
const DefaultMaxBodySize = 1 << 20

// Client talks to one Okta org. Create it with [NewClient]; the zero value is
// not usable. A Client is safe for concurrent use by multiple goroutines.
// Formatting a Client (%v, %+v, %#v, String) prints only its org URL; the
// token is never printed.
type Client struct {
	org   *url.URL
	core  httpclient.Core // its HTTP sends the Authorization header only to the org's host; its Plain none (Authn API)
	retry RetryPolicy
	pacer pacer
	// skew is Okta's clock minus the client's, as the responses' Date
	// headers showed it (see Now).
	skew skewEstimate
}

// Option configures a Client in [NewClient].
type Option func(*options) error

// WithHTTPClient makes the client send requests through a copy of hc (hc
// itself is not modified). Its Transport, Timeout, Jar and CheckRedirect are
// kept (with no CheckRedirect, a redirect from https to http, or of a
// request with a body to another host, is refused). The client sets the
// Authorization header on the requests it builds and on redirect hops, and
// only for requests to the org's own scheme and host; hc's CheckRedirect
// judges each hop without it. hc's Transport carries the requests as it is,
// unwrapped (with WithOAuth, a RoundTripper that adds the access token
// wraps it). Size hc's
// transport for the calls you make at once (http.DefaultTransport keeps only
// 2 idle connections per host). Without this option the client uses a 30 s
// timeout over a clone of http.DefaultTransport that keeps 32.
func WithHTTPClient(hc *http.Client) Option { return httpclient.WithHTTPClient[*options](hc) }

// WithUserAgent puts ua in front of the client's User-Agent header
// ("<ua> preenroll-okta go<version>").
func WithUserAgent(ua string) Option { return httpclient.WithUserAgent[*options](ua) }

// WithOAuthBearer says that the token given to NewClient is an OAuth 2.0
// access token, sent as "Authorization: Bearer <token>". Without it the
// token is an API token sent as "Authorization: SSWS <token>".
func WithOAuthBearer() Option {
	return func(o *options) error {
		o.scheme = "Bearer"
		return nil
	}
}

// WithRetryPolicy replaces [DefaultRetryPolicy]. Use [NoRetries] in tests
// that want to see the first failure.
func WithRetryPolicy(p RetryPolicy) Option {
	return func(o *options) error {
		if err := httpclient.CheckRetry(p.MaxRetries, p.MaxRateLimitWait); err != nil {
			return err // NewClient makes it an *ArgumentError
		}
		if p.RateLimitJitter < 0 {
			return argError("WithRetryPolicy", "RateLimitJitter", "%v is negative", p.RateLimitJitter)
		}
		o.retry = p
		return nil
	}
}

// WithClock replaces the wall clock used for rate-limit bookkeeping and for
// every wait (pacing, 429 resets, backoff). Tests use it to make waits
// instantaneous and observable.
func WithClock(c Clock) Option { return httpclient.WithClock[*options](c) }

// WithMaxBodySize bounds every response body the client reads; a larger
// successful response is an error. The default is [DefaultMaxBodySize].
func WithMaxBodySize(n int64) Option { return httpclient.WithMaxBodySize[*options](n) }

// NewClient returns a client for the Okta org at orgURL (for example
// "https://example.okta.com"), authenticating with token, or, with
// [WithOAuth], as an OAuth 2.0 service app (token must then be "").
//
// orgURL must be an absolute https URL without path, query or user
// information; plain http is accepted only for loopback hosts (test
// servers). token must be non-empty and printable. A nil option and an
// invalid option are errors: an argument or option it refuses is an
// [*ArgumentError] (it matches [ErrInvalidArgument]) naming the option or
// argument and the problem.
func NewClient(orgURL, token string, opts ...Option) (*Client, error) {
	org, err := parseOrgURL(orgURL)
	if err != nil {
		return nil, err
	}
	o := options{Settings: httpclient.DefaultSettings(), scheme: "SSWS", retry: DefaultRetryPolicy()}
	if err := httpclient.Apply(&o, opts, optionError); err != nil {
		return nil, err
	}
	switch {
	case o.oauth != nil && token != "":
		return nil, argError("", "token", "must be empty with WithOAuth")
	case o.oauth != nil && o.scheme != "SSWS":
		return nil, argError("", "WithOAuth and WithOAuthBearer", "exclude each other")
	case o.oauth == nil:
		if p := httpclient.TokenProblem(token); p != "" {
			return nil, argError("", "token", "%s", p)
		}
	}
	var core httpclient.Core
	if o.oauth == nil {
		core = o.Core("preenroll-okta", &httpclient.Authorizer{Scheme: org.Scheme, Host: org.Host,
			Header: o.scheme + " " + token, Name: "okta.authorizer"})
	} else {
		core, err = o.CoreWith("preenroll-okta", func(rt http.RoundTripper, timeout time.Duration) (http.RoundTripper, error) {
			t, err := newOAuthTransport(org, *o.oauth, rt, timeout, o.Clock)
			if err != nil {
				return nil, err
			}
			return t, nil
		})
		if err != nil {
			return nil, err
		}
	}
	return &Client{org: org, core: core, retry: o.retry.withDefaults()}, nil
}

// options are the settings the yubico client takes too (HTTP client, User-Agent,
// clock, body bound; set by the shared httpclient options) and Okta's own.
type options struct {
	httpclient.Settings
	scheme string
	retry  RetryPolicy
	oauth  *OAuthConfig // WithOAuth; nil: the token given to NewClient
}

func parseOrgURL(s string) (*url.URL, error) {
	u, err := httpclient.ParseURL(s)
	if err != nil {
		return nil, argError("", "org URL", "%v", err)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, argError("", "org URL", "%s must not have a path, query or fragment", quoted(s))
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// Now returns Okta's time as the client knows it: the client's clock
// ([WithClock]; by default the wall clock, which also moves while the
// client waits out rate limits and backoffs) corrected by how far Okta's
// clock is ahead of it, as the responses' Date headers (RFC 9110 §6.6.1)
// showed. A Date is stamped before the client reads its own clock and has
// whole seconds, so each response can only under-estimate that offset; the
// client uses the largest estimate of the last five to ten minutes (so a
// step of either clock is followed within ten minutes), and Now may run up
// to about a second behind Okta. Before any response it is the client's
// clock. Compare Okta's timestamps (an enrollment's created) with it rather than with
// another clock: a process whose clock is off, or a test whose fake Okta
// keeps its own time, still gets comparable times.
func (c *Client) Now() time.Time {
	now := c.core.Clock.Now()
	return now.Add(c.skew.get())
}

// observeDate records how far Okta's clock (a response's Date header) is
// ahead of the client's clock now (see Now).
func (c *Client) observeDate(h http.Header, now time.Time) {
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		c.skew.observe(d.Sub(now.Truncate(time.Second)), now)
	}
}

// skewPeriod is how long one observation of Okta's clock offset counts:
// the estimate is the largest offset seen in the current and the previous
// period, so it follows a step of either clock within two periods instead
// of keeping a stale maximum forever.
const skewPeriod = 5 * time.Minute

// skewEstimate is a sliding maximum of observed clock offsets in two
// buckets of skewPeriod, by the client's clock. Its zero value knows
// nothing (offset 0). It is safe for concurrent use.
type skewEstimate struct {
	mu        sync.Mutex
	start     time.Time // of the current bucket
	cur, prev time.Duration
	haveCur   bool
	havePrev  bool
}

func (e *skewEstimate) observe(d time.Duration, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.haveCur || now.Sub(e.start) >= skewPeriod || now.Before(e.start) {
		// A new bucket: the old current one becomes the previous one, unless
		// it is older than two periods (or the clock went back).
		e.prev, e.havePrev = e.cur, e.haveCur && now.Sub(e.start) < 2*skewPeriod && !now.Before(e.start)
		e.start, e.cur, e.haveCur = now, d, true
		return
	}
	e.cur = max(e.cur, d)
}

func (e *skewEstimate) get() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.haveCur && e.havePrev:
		return max(e.cur, e.prev)
	case e.haveCur:
		return e.cur
	}
	return 0
}

// String returns "okta.Client(<org URL>)"; the token is never included.
func (c *Client) String() string {
	if c == nil || c.org == nil {
		return "okta.Client(<nil>)"
	}
	return "okta.Client(" + c.org.String() + ")"
}

// GoString is String, so %#v does not print the token either.
func (c *Client) GoString() string { return c.String() }

// Format prints String for every verb, so no formatting verb reveals the token.
func (c *Client) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// OrgURL returns the org URL the client talks to.
func (c *Client) OrgURL() string { return c.org.String() }

// RateLimit returns the rate-limit state Okta last reported for a bucket's
// current window: its limit, the lowest X-Rate-Limit-Remaining and the
// earliest reset (which may have passed).
// Name the bucket as Okta's table does (e.g. "GET /api/v1/users/{idOrLogin}",
// "/api/v1/groups"; see [RateLimitBucket]) or by a request's method and
// route, e.g. "GET /api/v1/users/{id}": routes that share a bucket share
// its state. ok is false when none was seen yet.
func (c *Client) RateLimit(bucket string) (rl RateLimit, ok bool) {
	return c.pacer.rateLimit(rateLimitKey(bucket))
}

// call describes one API operation.
type call struct {
	op         string     // "get user": used in errors
	method     string     // HTTP method
	route      string     // route template, e.g. "/api/v1/users/{id}"; names its rate-limit bucket
	args       []pathArg  // the values of route's placeholders, in order
	rawURL     string     // absolute URL (pagination); overrides route
	query      url.Values // query parameters
	body       any        // JSON request body; nil sends none (Content-Length: 0)
	idempotent bool       // safe to re-send after a transport error or 5xx
	anonymous  bool       // send without Authorization (Authn API)
	out        any        // JSON decode target; nil discards the body
}

func (c *Client) bucket(k *call) string { return RateLimitBucket(k.method, k.route) }

// do runs a call with pacing and retries. It returns the final
// response's header on success.
func (c *Client) do(ctx context.Context, k *call) (http.Header, error) {
	target := k.rawURL
	if target == "" {
		path, err := k.path()
		if err != nil {
			return nil, err
		}
		u := *c.org
		u.Path = path
		u.RawPath = ""
		if strings.Contains(path, "%") {
			if p, err := url.PathUnescape(path); err == nil {
				u.Path = p
				u.RawPath = path
			}
		}
		if len(k.query) > 0 {
			u.RawQuery = k.query.Encode()
		}
		target = u.String()
	}
	var body []byte
	if k.body != nil {
		b, err := json.Marshal(k.body)
		if err != nil {
			return nil, fmt.Errorf("okta: %s: encode request: %w", k.op, err)
		}
		body = b
	}
	hc, authorize := c.core.HTTP, !k.anonymous
	if k.anonymous {
		hc = c.core.Plain
	}
	bucket := c.bucket(k)
	var retryFor string
	for attempt := 1; ; attempt++ {
		req, err := c.core.NewRequest(ctx, k.method, target, body)
		if err != nil {
			return nil, fmt.Errorf("okta: %s: %w", k.op, err)
		}
		if retryFor != "" {
			req.Header.Set("X-Okta-Retry-For", retryFor)
			req.Header.Set("X-Okta-Retry-Count", strconv.Itoa(attempt-1))
		}
		if authorize {
			c.core.Authorize(req)
		}
		if err := c.pace(ctx, k, bucket); err != nil {
			return nil, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			c.pacer.done(bucket, c.core.Clock.Now(), nil, false)
			if ctx.Err() != nil {
				return nil, fmt.Errorf("okta: %s: %w", k.op, ctx.Err())
			}
			if te, ok := asTokenError(err); ok {
				// No access token, so the request was not sent: retrying
				// is safe for every call, but only worth it for a
				// transient failure.
				if te.retry && attempt <= c.retry.MaxRetries {
					if err := httpclient.SleepFor(ctx, c.core.Clock, httpclient.WaitRetry, c.retry.Backoff(attempt)); err != nil {
						return nil, fmt.Errorf("okta: %s: %w", k.op, err)
					}
					continue
				}
				return nil, te.withOp(k.op)
			}
			// A redirect the client refused would be refused again.
			if k.idempotent && attempt <= c.retry.MaxRetries && !errors.Is(err, httpclient.ErrRedirectRefused) {
				if err := httpclient.SleepFor(ctx, c.core.Clock, httpclient.WaitRetry, c.retry.Backoff(attempt)); err != nil {
					return nil, fmt.Errorf("okta: %s: %w", k.op, err)
				}
				continue
			}
			return nil, fmt.Errorf("okta: %s: attempt %d: %w", k.op, attempt, err)
		}
		// The rate-limit headers count when they arrive: before the body
		// is read, so that other goroutines pace by them at once.
		c.pacer.done(bucket, c.core.Clock.Now(), resp.Header, resp.StatusCode == http.StatusTooManyRequests)
		data, readErr := httpclient.ReadBounded(resp.Body, resp.ContentLength, c.core.MaxBody)
		_ = resp.Body.Close()
		now := c.core.Clock.Now()
		c.observeDate(resp.Header, now)
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			if readErr != nil {
				return nil, fmt.Errorf("okta: %s: read response: %w", k.op, readErr)
			}
			if k.out != nil {
				if err := json.Unmarshal(data, k.out); err != nil {
					return nil, fmt.Errorf("okta: %s: decode response: %w", k.op, err)
				}
			}
			return resp.Header, nil
		}
		apiErr := newAPIError(k.op, resp, data, now)
		apiErr.Attempts = attempt
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			if attempt > c.retry.MaxRetries {
				return nil, apiErr
			}
			wait := apiErr.RetryAfter
			if wait == 0 {
				wait = c.retry.Backoff(attempt)
			}
			if wait > c.retry.MaxRateLimitWait {
				return nil, apiErr
			}
			if err := httpclient.SleepFor(ctx, c.core.Clock, httpclient.WaitRateLimited, wait+jitter(c.retry.RateLimitJitter)); err != nil {
				return nil, fmt.Errorf("okta: %s: waiting for rate limit reset: %w", k.op, err)
			}
			retryFor = apiErr.RequestID
			continue
		case resp.StatusCode >= 500 && k.idempotent && attempt <= c.retry.MaxRetries:
			if err := httpclient.SleepFor(ctx, c.core.Clock, httpclient.WaitRetry, c.retry.Backoff(attempt)); err != nil {
				return nil, fmt.Errorf("okta: %s: %w", k.op, err)
			}
			continue
		}
		return nil, apiErr
	}
}

// pace waits until the bucket's pacing admits the request (see
// RetryPolicy.Reserve). A wait for a reset longer than MaxRateLimitWait, or
// (on the wall clock, see [httpclient.Sleep]) than what is left before
// ctx's deadline, is refused at once with an error wrapping ErrRateLimited.
func (c *Client) pace(ctx context.Context, k *call, bucket string) error {
	for {
		wait, why, rl := c.pacer.admit(bucket, c.core.Clock.Now(), c.retry.Reserve, c.retry.Reserve >= 0)
		if wait <= 0 {
			return nil
		}
		if wait > c.retry.MaxRateLimitWait {
			return fmt.Errorf("okta: %s: %w: %d of %d requests left, reset in %v exceeds the %v wait limit",
				k.op, ErrRateLimited, rl.Remaining, rl.Limit, wait.Round(time.Second), c.retry.MaxRateLimitWait)
		}
		if why == httpclient.WaitRateLimited {
			wait += jitter(c.retry.RateLimitJitter)
		}
		err := httpclient.SleepFor(ctx, c.core.Clock, why, wait)
		switch {
		case errors.Is(err, httpclient.ErrPastDeadline):
			// The wall clock's Sleep refused to sleep into ctx's deadline;
			// the caller learns at once (a step bounded by its lease gives
			// the worker back). A fake clock's wait takes no wall time and
			// is not refused.
			return fmt.Errorf("okta: %s: %w: %d of %d requests left, reset in %v is past the call's deadline",
				k.op, ErrRateLimited, rl.Remaining, rl.Limit, wait.Round(time.Second))
		case err != nil:
			return fmt.Errorf("okta: %s: waiting for rate limit: %w", k.op, err)
		}
	}
}

// post sends body to route in a POST that is not retried after a transport
// error or a 5xx, and decodes the answer as an R.
func post[R any](ctx context.Context, c *Client, op, route string, body any) (R, error) {
	var resp R
	_, err := c.do(ctx, &call{op: op, method: "POST", route: route, body: body, out: &resp})
	return resp, err
}

// pathArg is the value of one placeholder of a call's route; field names
// it in errors ("userID").
type pathArg struct{ field, value string }

// path returns the escaped path of k: its route with each placeholder
// ("{id}") replaced, in order, by the value of k.args validated and escaped
// by pathID.
func (k *call) path() (string, error) {
	var b strings.Builder
	rest := k.route
	for _, a := range k.args {
		i, j := strings.IndexByte(rest, '{'), strings.IndexByte(rest, '}')
		if i < 0 || j < i {
			return "", fmt.Errorf("okta: %s: route %q has fewer placeholders than arguments", k.op, k.route)
		}
		v, err := pathID(k.op, a.field, a.value)
		if err != nil {
			return "", err
		}
		b.WriteString(rest[:i])
		b.WriteString(v)
		rest = rest[j+1:]
	}
	if strings.Contains(rest, "{") {
		return "", fmt.Errorf("okta: %s: route %q has more placeholders than arguments", k.op, k.route)
	}
	b.WriteString(rest)
	return b.String(), nil
}

// pathID validates one path segment (a user, group or enrollment ID, or a
// login) and escapes it.
func pathID(op, field, v string) (string, error) {
	if v == "" {
		return "", argError(op, field, "is empty")
	}
	if strings.ContainsAny(v, "/\\") || v == "." || v == ".." {
		return "", argError(op, field, "%s contains a path separator", quoted(v))
	}
	for _, r := range v {
		if r < ' ' || r == 0x7f {
			return "", argError(op, field, "%s contains a control character", quoted(v))
		}
	}
	return url.PathEscape(v), nil
}

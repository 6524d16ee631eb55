package httpclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"time"
)

// Clock tells the time and waits; okta.Clock and yubico.Clock are
// interfaces with its methods (declared there so that go doc shows them),
// so that one value serves both clients. A Sleep on the wall clock should
// be [Sleep] (directly or in a wrapper), which refuses a wait past ctx's
// deadline at once.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// Settings are what both clients' options set alike: the okta and yubico
// options structs embed it, and their WithHTTPClient, WithUserAgent,
// WithClock and WithMaxBodySize are this package's generic options of the
// same names, instantiated for the client's options type.
type Settings struct {
	HTTPClient *http.Client // nil: [Copy] makes the default client
	UserAgent  string       // the caller's prefix, trimmed; "" for none
	Clock      Clock
	MaxBody    int64
}

// DefaultSettings returns Settings with the wall clock and
// [DefaultMaxBodySize].
func DefaultSettings() Settings {
	return Settings{Clock: WallClock{}, MaxBody: DefaultMaxBodySize}
}

// Shared returns s itself: a client's options struct, which embeds
// Settings, thereby is a [Sharer].
func (s *Settings) Shared() *Settings { return s }

// A Sharer is a pointer to a client's options struct, which embeds
// [Settings].
type Sharer interface{ Shared() *Settings }

// shared makes set an option of a client whose options pointer type is O.
// Its error, an [*OptionError], goes through the client's wrap in [Apply].
func shared[O Sharer](set func(*Settings) error) func(O) error {
	return func(o O) error { return set(o.Shared()) }
}

// WithHTTPClient sends requests through a copy of hc (see [Copy]).
func WithHTTPClient[O Sharer](hc *http.Client) func(O) error {
	return shared[O](func(s *Settings) error {
		if hc == nil {
			return &OptionError{Op: "WithHTTPClient", Arg: "HTTP client", Problem: "is nil"}
		}
		s.HTTPClient = hc
		return nil
	})
}

// WithUserAgent puts ua (trimmed; no line breaks) in front of the client's
// User-Agent header.
func WithUserAgent[O Sharer](ua string) func(O) error {
	return shared[O](func(s *Settings) error {
		if strings.ContainsAny(ua, "\r\n") {
			return &OptionError{Op: "WithUserAgent", Arg: "user agent", Problem: "contains a line break"}
		}
		s.UserAgent = strings.TrimSpace(ua)
		return nil
	})
}

// WithClock replaces the wall clock.
func WithClock[O Sharer](c Clock) func(O) error {
	return shared[O](func(s *Settings) error {
		if c == nil {
			return &OptionError{Op: "WithClock", Arg: "clock", Problem: "is nil"}
		}
		s.Clock = c
		return nil
	})
}

// WithMaxBodySize bounds every response body the client reads.
func WithMaxBodySize[O Sharer](n int64) func(O) error {
	return shared[O](func(s *Settings) error {
		if n <= 0 {
			return &OptionError{Op: "WithMaxBodySize", Arg: "size", Problem: fmt.Sprintf("%d is not positive", n)}
		}
		s.MaxBody = n
		return nil
	})
}

// Core is the plumbing a client keeps from its Settings.
type Core struct {
	HTTP      *http.Client // sends the client's requests, authorized
	Plain     *http.Client // the same without Authorization on any hop (okta's Authn API)
	Auth      *Authorizer  // nil when a transport of the client's own authorizes
	UserAgent string       // the whole User-Agent header
	Clock     Clock
	MaxBody   int64

	ua []string // {UserAgent}, shared by every request (see NewRequest)
}

// jsonValue is the Accept and Content-Type value of every request the
// clients build, shared by all of them (see [Core.NewRequest]).
var jsonValue = []string{"application/json"}

// NewRequest returns a request of the client under ctx: method to url with
// body (none when nil; a JSON Content-Type with one), accepting JSON, with
// the client's User-Agent; [Core.Authorize] adds Authorization. The header
// values are slices every request shares, built once: net/http copies a
// request's header on Client.Do and on each redirect and never writes into
// its values, and a RoundTripper must not modify the request. A caller
// that changes a header replaces its value slice (Header.Set does).
func (c *Core) NewRequest(ctx context.Context, method, url string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header["Content-Type"] = jsonValue
	}
	req.Header["Accept"] = jsonValue
	ua := c.ua
	if ua == nil {
		ua = []string{c.UserAgent}
	}
	req.Header["User-Agent"] = ua
	return req, nil
}

// Authorize adds the Authorization header to a request the client built
// for [Core.HTTP], when c has an [Authorizer] that covers it (see
// [Authorizer.Authorize]).
func (c *Core) Authorize(req *http.Request) {
	if c.Auth != nil {
		c.Auth.Authorize(req)
	}
}

// Core returns the plumbing of the client named product ("preenroll-okta")
// that authorizes its requests with a, and the User-Agent header. Its HTTP
// is a copy of s.HTTPClient (see [Copy]) whose transport is the caller's,
// unwrapped: net/http bounds a known transport's exchange with a context
// deadline, where a wrapping RoundTripper costs it a goroutine, a timer
// and a body wrapper per request under Client.Timeout. The requests the
// client builds carry the header ([Core.Authorize]); its CheckRedirect
// deletes the copy net/http makes of it on a redirect hop, lets the
// caller's policy (or [CheckRedirect]) judge the hop, and sets the header
// again when a covers the hop: the hops carry it exactly when a covers
// them, and the caller's policy never sees it on the hop it judges.
func (s Settings) Core(product string, a *Authorizer) Core {
	hc, _ := Copy(s.HTTPClient)
	plain := hc
	policy := hc.CheckRedirect
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		delete(req.Header, "Authorization")
		if r := req.Response; r != nil && r.Request != nil {
			// The response that caused the hop names the request it
			// answered, which carried the header: the policy sees that
			// request without it too (net/http goes on with its own
			// copy of the response).
			rc := *r
			rc.Request = withoutAuthorization(r.Request)
			req.Response = &rc
		}
		shown := make([]*http.Request, len(via))
		for i, r := range via {
			shown[i] = withoutAuthorization(r)
		}
		if err := policy(req, shown); err != nil {
			return err
		}
		a.Authorize(req)
		return nil
	}
	a.value = []string{a.Header}
	return s.core(product, &hc, &plain, a)
}

// withoutAuthorization returns r as a caller's CheckRedirect policy may
// see an earlier request of a redirect: r itself, or a clone without its
// Authorization header, so that a policy that logs its via argument (or
// the request req.Response answered) logs no token. Only a redirect pays
// for the clones.
func withoutAuthorization(r *http.Request) *http.Request {
	if _, ok := r.Header["Authorization"]; !ok {
		return r
	}
	c := r.Clone(r.Context())
	delete(c.Header, "Authorization")
	return c
}

// core completes a Core.
func (s Settings) core(product string, hc, plain *http.Client, a *Authorizer) Core {
	ua := s.UserAgentHeader(product)
	return Core{HTTP: hc, Plain: plain, Auth: a, UserAgent: ua, Clock: s.Clock, MaxBody: s.MaxBody, ua: []string{ua}}
}

// CoreWith is [Settings.Core] for a client whose own transport authorizes
// its requests: HTTP's transport is what authorize makes of the copy's
// transport and timeout; Plain keeps the copy's transport.
func (s Settings) CoreWith(product string, authorize func(rt http.RoundTripper, timeout time.Duration) (http.RoundTripper, error)) (Core, error) {
	hc, rt := Copy(s.HTTPClient)
	plain := hc
	auth, err := authorize(rt, hc.Timeout)
	if err != nil {
		return Core{}, err
	}
	hc.Transport = auth
	return s.core(product, &hc, &plain, nil), nil
}

// UserAgentHeader returns the User-Agent header of a client named product
// ("preenroll-okta"): "<prefix> <product> go<version>", without the prefix
// when the caller set none.
func (s Settings) UserAgentHeader(product string) string {
	ua := product + " " + runtime.Version()
	if s.UserAgent != "" {
		ua = s.UserAgent + " " + ua
	}
	return ua
}

// CheckRetry checks the fields both clients' RetryPolicy have: neither
// MaxRetries nor MaxRateLimitWait may be negative.
func CheckRetry(maxRetries int, maxRateLimitWait time.Duration) error {
	if maxRetries < 0 {
		return &OptionError{Op: "WithRetryPolicy", Arg: "MaxRetries", Problem: fmt.Sprintf("%d is negative", maxRetries)}
	}
	if maxRateLimitWait < 0 {
		return &OptionError{Op: "WithRetryPolicy", Arg: "MaxRateLimitWait", Problem: fmt.Sprintf("%v is negative", maxRateLimitWait)}
	}
	return nil
}

// RetryDefaults sets *maxWait to defWait when it is zero and *backoff to
// defBackoff when it is nil: how both clients complete a RetryPolicy.
func RetryDefaults(maxWait *time.Duration, defWait time.Duration, backoff *func(int) time.Duration, defBackoff func(int) time.Duration) {
	if *maxWait == 0 {
		*maxWait = defWait
	}
	if *backoff == nil {
		*backoff = defBackoff
	}
}

// CheckToken reports a token that is empty or holds whitespace or control
// characters (it goes into a header): "token " and its [TokenProblem]. The
// error never contains the token.
func CheckToken(token string) error {
	if p := TokenProblem(token); p != "" {
		return errors.New("token " + p)
	}
	return nil
}

// TokenProblem says what [CheckToken] refuses in token ("is empty",
// "contains whitespace or control characters"), or returns "". It never
// contains the token.
func TokenProblem(token string) string {
	switch {
	case token == "":
		return "is empty"
	case strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return "contains whitespace or control characters"
	}
	return ""
}

// OptionError is what a shared option refuses: Op is the option
// ("WithMaxBodySize"), or "" for [Apply]'s nil option; Arg the argument,
// as a person calls it ("size", "user agent"), or the field
// ("MaxRetries"); Problem what is wrong with it ("0 is not positive").
// Each client turns it into its own invalid-argument error ([WrapIn]).
type OptionError struct {
	Op, Arg, Problem string
}

// Error reads "Op: Arg Problem" ("WithMaxBodySize: size 0 is not positive"),
// without "Op: " when Op is "".
func (e *OptionError) Error() string {
	if e.Op == "" {
		return e.Arg + " " + e.Problem
	}
	return e.Op + ": " + e.Arg + " " + e.Problem
}

// WrapIn returns the wrap for [Apply] of a client whose invalid-argument
// sentinel is invalid: an error that matches it already as it is, any
// other wrapped in it ("yubico: invalid argument: WithClock: clock is
// nil").
func WrapIn(invalid error) func(error) error {
	return func(err error) error {
		if errors.Is(err, invalid) {
			return err
		}
		return fmt.Errorf("%w: %w", invalid, err)
	}
}

// Apply runs opts over o in order and stops at the first error, which it
// returns through wrap (the client's conversion to its invalid-argument
// error); a nil option is an [*OptionError] too.
func Apply[O any, F ~func(*O) error](o *O, opts []F, wrap func(error) error) error {
	for i, opt := range opts {
		if opt == nil {
			return wrap(&OptionError{Arg: fmt.Sprintf("option %d", i), Problem: "is nil"})
		}
		if err := opt(o); err != nil {
			return wrap(err)
		}
	}
	return nil
}

// Authorizer says which requests carry a client's Authorization header:
// those to Scheme://Host whose path starts with PathPrefix and not with
// ExceptPrefix (when set). Every other request (a JWKS host, a redirect
// elsewhere) goes out without it.
type Authorizer struct {
	Scheme, Host string
	PathPrefix   string
	ExceptPrefix string
	Header       string // the Authorization value: secret, never printed
	Name         string // what String prints, e.g. "okta.authorizer"

	value []string // {Header}, shared by every request; set by Settings.Core
}

// Covers reports whether a request to u carries the header.
func (a *Authorizer) Covers(u *url.URL) bool {
	return u.Scheme == a.Scheme && u.Host == a.Host && strings.HasPrefix(u.Path, a.PathPrefix) &&
		(a.ExceptPrefix == "" || !strings.HasPrefix(u.Path, a.ExceptPrefix))
}

// Authorize sets req's Authorization header when a covers req.URL, on the
// request the client builds, so that no transport has to clone it. The
// value is a slice shared by every request (see [Core.NewRequest]).
func (a *Authorizer) Authorize(req *http.Request) {
	if a.Covers(req.URL) {
		v := a.value
		if v == nil {
			v = []string{a.Header}
		}
		req.Header["Authorization"] = v
	}
}

// String keeps the token out of any accidental formatting.
func (a *Authorizer) String() string { return a.Name + "([REDACTED])" }

package oktatest

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/preenroll/preenroll/internal/fakehttp"
)

// Option configures a Server.
type Option func(*config) error

type config struct {
	fakehttp.Settings // WithNow, WithRealTime, WithRand, WithHTTPFaultPlan
	token             string
	issuer            string
	orgName           string
	roots             []*x509.Certificate
	aaguids           []uuid.UUID
	ttl               time.Duration
	hookHC            *http.Client
	onEvent           func(Event)
	limits            map[string]int // WithRateLimit prefixes
	table             bool           // Okta's buckets (WithoutRateLimits turns them off)
	bucketLimits      map[string]int // WithBucketLimit overrides by bucket name
	window            time.Duration
	page              int
	hookTimeout       time.Duration   // see WithHookTimeout
	idTokenKey        *rsa.PrivateKey // see WithIDTokenKey
}

// WithRand makes IDs, tokens, challenges and keys come from r (for
// deterministic tests). The default is crypto/rand.
func WithRand(r io.Reader) Option { return setting(fakehttp.WithRand(r)) }

// WithNow sets the fake clock's start time (default 2026-01-01T00:00:00Z,
// or the wall clock's time with [WithRealTime]). The clock only moves
// forward: by [Server.SetNow] and [Server.Advance], and with
// [WithRealTime] also with the wall clock.
func WithNow(t time.Time) Option { return setting(fakehttp.WithNow(t)) }

// WithRealTime makes the fake clock follow the wall clock, for tests that
// use clients they cannot give a clock to (an SDK that sleeps until
// X-Rate-Limit-Reset before retrying). It starts at the wall clock's time
// unless [WithNow] says otherwise; [Server.Advance] and [Server.SetNow]
// still move it forward on top.
func WithRealTime() Option { return setting(fakehttp.WithRealTime()) }

// WithRequestLogLimit keeps only the most recent n entries of the request
// log ([Server.RequestLog]; [Server.RequestLogDropped] counts the others),
// for long runs whose log would otherwise hold every request (168 bytes
// each on 64-bit platforms, plus its path and query). The default keeps
// every entry; n < 1 is refused.
func WithRequestLogLimit(n int) Option { return setting(fakehttp.WithRequestLogLimit(n)) }

// setting makes a setting both fakes share an Option.
func setting(set fakehttp.Setting) Option { return fakehttp.Adapt[*config]("oktatest", set) }

// check makes the option op that sets a field with set, or fails with
// problem (see fakehttp.Checked).
func check(op string, problem error, set func(*config)) Option {
	return fakehttp.Checked("oktatest: "+op, problem, set)
}

// WithToken sets the API token [Server.Client] uses (default random). It
// is accepted with every scope.
func WithToken(token string) Option {
	return check("WithToken", fakehttp.Invalid(token == "" || strings.ContainsAny(token, " \t\r\n"), "token is empty or contains whitespace"),
		func(c *config) { c.token = token })
}

// WithIssuer sets the issuer /.well-known/openid-configuration reports
// (default the server's URL), e.g. "https://example.okta.com" so that the
// RP ID derived from it is a host name.
func WithIssuer(issuer string) Option {
	u, err := url.Parse(issuer)
	return check("WithIssuer", fakehttp.Invalid(err != nil || u.Host == "", "%q is not an absolute URL", issuer),
		func(c *config) { c.issuer = issuer })
}

// WithOrgName sets the RP name put into credential requests (default "Okta").
func WithOrgName(name string) Option {
	return func(c *config) error {
		c.orgName = name
		return nil
	}
}

// WithAttestationRoots sets the FIDO attestation trust roots activate
// verifies credentials against, replacing the default: the root of
// simulator.DefaultFIDOCA(), which the fake Yubico's keys attest under
// unless told otherwise. Production Okta trusts Yubico's real roots.
func WithAttestationRoots(roots ...*x509.Certificate) Option {
	return func(c *config) error {
		if len(roots) == 0 {
			return errors.New("oktatest: WithAttestationRoots: no roots (every activation would fail)")
		}
		for i, r := range roots {
			if r == nil {
				return fmt.Errorf("oktatest: WithAttestationRoots: root %d is nil", i)
			}
		}
		c.roots = append(c.roots, roots...)
		return nil
	}
}

// WithAllowedAAGUIDs restricts activation to authenticators with these
// AAGUIDs (default any non-zero AAGUID).
func WithAllowedAAGUIDs(ids ...uuid.UUID) Option {
	return func(c *config) error {
		c.aaguids = append(c.aaguids, ids...)
		return nil
	}
}

// WithChallengeTimeout sets how long enroll's credential requests stay
// valid (default [DefaultChallengeTimeout]).
func WithChallengeTimeout(d time.Duration) Option {
	return check("WithChallengeTimeout", fakehttp.Invalid(d <= 0, "%v is not positive", d),
		func(c *config) { c.ttl = d })
}

// WithHookClient sets the HTTP client event-hook deliveries and
// verifications use (default one that follows no redirects; each call is
// bounded by [WithHookTimeout] besides hc's own Timeout).
func WithHookClient(hc *http.Client) Option {
	return check("WithHookClient", fakehttp.Invalid(hc == nil, "nil client"),
		func(c *config) { c.hookHC = hc })
}

// WithEventCallback registers fn to be called synchronously, before the
// response is written, with every event the fake emits (for example
// system.mfa.preregister.initiate). fn must not block on the server's
// response to the same request.
func WithEventCallback(fn func(Event)) Option {
	return func(c *config) error {
		c.onEvent = fn
		return nil
	}
}

// WithMaxPageSize caps the page size of every list endpoint, so tests can
// exercise pagination with few records. Without it each endpoint keeps
// Okta's documented default and maximum page sizes (for example 10000 for
// GET /api/v1/groups, 200 for GET /api/v1/users).
func WithMaxPageSize(n int) Option {
	return check("WithMaxPageSize", fakehttp.Invalid(n < 1, "%d is not positive", n),
		func(c *config) { c.page = n })
}

// WithHTTPFaultPlan starts the server with an HTTP fault plan (see
// [Server.SetHTTPFaultPlan]).
func WithHTTPFaultPlan(p HTTPFaultPlan) Option { return setting(fakehttp.WithPlan(p)) }

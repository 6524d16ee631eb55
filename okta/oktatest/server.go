package oktatest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/preenroll/preenroll/internal/fakehttp"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/simulator"
	"github.com/preenroll/preenroll/webauthn"
)

// maxRequestBody bounds every request body the fake reads.
const maxRequestBody = 1 << 20

// DefaultChallengeTimeout is how long the credential requests created by
// enroll stay valid. Okta says only that the preregistered factor "has a
// longer challenge timeout period to accommodate the fulfillment request
// process"; the value is ours.
const DefaultChallengeTimeout = 90 * 24 * time.Hour

// Server is a fake Okta org on loopback. Create it with [NewServer] (tests)
// or [Start] (examples, programs) and stop it with Close; the zero Server
// is not usable. All methods are safe for concurrent use.
//
// Besides the methods listed here, Server has the HTTP-fault controls
// InjectHTTPFault(HTTPFaultRule) error, FailNext(n, status int) error,
// DropNext(n int) error, SetLatency(time.Duration) error,
// SetHTTPFaultPlan(HTTPFaultPlan) error, HTTPFaultCounts()
// map[HTTPFault]int and HTTPFaultRuleCounts() []httpfault.RuleCount, which
// it shares with yubicotest's Server (see the package documentation).
type Server struct {
	srv     *httptest.Server
	t       testing.TB // nil when started with Start; unhandled routes fail t
	rand    io.Reader
	token   string // the token Client uses
	issuer  string
	orgName string
	roots   []*x509.Certificate
	aaguids []uuid.UUID
	ttl     time.Duration // challenge timeout
	hookHC  *http.Client
	onEvent func(Event)
	page    int
	gcm     cipher.AEAD // PIN encryption at rest
	// hookTimeout bounds each verification and delivery call (WithHookTimeout).
	hookTimeout time.Duration
	// Rate limits (see bucketFor): WithRateLimit prefixes, longest first;
	// whether to count per Okta's buckets (internal/oktarate); and the
	// WithBucketLimit overrides by bucket name.
	limits       []prefixLimit
	table        bool
	bucketLimits map[string]int

	clock   *fakehttp.Clock
	faults  *fakehttp.Faults
	limiter *fakehttp.Limiter

	mu                sync.Mutex
	delivered         chan struct{}          // guarded by mu; closed and replaced on each delivery
	hookQueues        map[string]*hookQueue  // guarded by mu; pending deliveries by hook ID
	closing           bool                   // guarded by mu; Close began: no new deliveries
	pendingDeliveries int                    // guarded by mu; queued deliveries not yet finished (all attempts)
	hookWG            sync.WaitGroup         // the goroutines draining hookQueues
	tokens            map[string][]string    // guarded by mu; token → scopes
	users             map[string]*user       // guarded by mu
	userOrder         []string               // guarded by mu; by seq
	userSeq           uint64                 // guarded by mu; the last user's seq
	deletedSeq        map[string]uint64      // guarded by mu; seq of deleted users (list cursors)
	userTypes         map[string]string      // guarded by mu; user type ID → name
	groupOrder        []string               // guarded by mu; by seq
	byLogin           map[string]*user       // guarded by mu; by loginKey(profile.Login)
	groups            map[string]*group      // guarded by mu
	enrollments       map[string]*enrollment // guarded by mu
	events            fakehttp.Log[Event]    // appended under mu; chunked, without a doubling slice's spare capacity
	outbox            []Email                // guarded by mu
	log               fakehttp.Log[Request]
	hooks             []*hook                           // guarded by mu
	deliveries        []Delivery                        // guarded by mu
	txns              map[string]*txn                   // guarded by mu; Authn state tokens
	rps               map[string]*webauthn.RelyingParty // guarded by mu; by RP ID
	byUser            map[string][]*enrollment          // guarded by mu; each user's enrollments in creation order
	oauth             oauthState                        // guarded by mu; service apps, access tokens, DPoP (oauth.go)
	oidc              oidcState                         // guarded by mu; OIDC apps, sign-ins, codes (oidc.go)
}

// NewServer starts a fake Okta org for a test and closes it in t.Cleanup.
// A request to a route the fake does not know fails the test. It calls
// t.Fatal with [Start]'s error if an option is invalid or nil.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := start(t, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake Okta org outside a test (examples, programs). Call
// Close when done. An invalid option is an error, and so is a nil one (a
// caller's bug, not a default): "oktatest: option 1 is nil" names its
// index in opts, from 0.
func Start(opts ...Option) (*Server, error) {
	return start(nil, opts)
}

func start(t testing.TB, opts []Option) (*Server, error) {
	c := config{
		Settings:     fakehttp.DefaultSettings(),
		limits:       map[string]int{},
		table:        true,
		bucketLimits: map[string]int{},
		orgName:      "Okta",
		ttl:          DefaultChallengeTimeout,
		window:       time.Minute,
		hookTimeout:  DefaultHookTimeout, // Okta's
	}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("oktatest: option %d is nil", i)
		}
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	if len(c.roots) == 0 {
		// The keys of the fake Yubico (and of package simulator) attest
		// under this CA unless told otherwise; without a root every
		// activation would fail.
		c.roots = []*x509.Certificate{simulator.DefaultFIDOCA().Root()}
	}
	s := &Server{
		t: t, rand: fakehttp.NewLockedReader(c.Rand), issuer: c.issuer, orgName: c.orgName, roots: c.roots, aaguids: c.aaguids,
		ttl: c.ttl, hookHC: c.hookHC, onEvent: c.onEvent, page: c.page, hookTimeout: c.hookTimeout,
		limits:       sortedLimits(c.limits),
		table:        c.table,
		bucketLimits: c.bucketLimits,
		clock:        c.Clock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		tokens:       map[string][]string{},
		users:        map[string]*user{},
		byLogin:      map[string]*user{},
		groups:       map[string]*group{},
		deletedSeq:   map[string]uint64{},
		userTypes:    map[string]string{DefaultUserTypeID: "user"},
		enrollments:  map[string]*enrollment{},
		byUser:       map[string][]*enrollment{},
		txns:         map[string]*txn{},
		rps:          map[string]*webauthn.RelyingParty{},
	}
	s.limiter = fakehttp.NewLimiter(c.window, s.bucketFor)
	s.log.SetLimit(c.LogLimit)
	s.oidc.key = c.idTokenKey
	s.delivered = make(chan struct{})
	var err error
	if s.faults, err = c.Faults("oktatest", 0x9e3779b97f4a7c15, faultRoutes()); err != nil {
		return nil, err
	}
	if s.hookHC == nil {
		s.hookHC = newHookClient()
	}
	key := make([]byte, 32)
	if _, err := io.ReadFull(c.Rand, key); err != nil {
		return nil, fmt.Errorf("oktatest: read random: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("oktatest: %w", err)
	}
	clear(key)
	if s.gcm, err = cipher.NewGCM(block); err != nil {
		return nil, fmt.Errorf("oktatest: %w", err)
	}
	s.token = c.token
	if s.token == "" {
		s.token = s.randomID("00", 40)
	}
	s.tokens[s.token] = nil
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	if s.issuer == "" {
		s.issuer = s.srv.URL
	}
	return s, nil
}

// Close shuts the server down, waiting for requests in flight and then for
// the event-hook deliveries already queued (each is bounded by the hook
// timeout and Okta's one retry) to finish. Events emitted after Close
// began are not delivered. After Close, requests are refused (the
// listener is gone), while the methods that change the org in process
// (AddUser, Advance, ...) still work on its state.
func (s *Server) Close() {
	s.srv.Close()
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.hookWG.Wait()
}

// URL returns the org URL, e.g. "http://127.0.0.1:34567".
func (s *Server) URL() string { return s.srv.URL }

// Token returns the API token Client uses. Treat it as a secret outside tests.
func (s *Server) Token() string { return s.token }

// Client returns a production [okta.Client] for this org, authenticated with
// the server's token. Its clock is the server's: rate-limit and backoff
// waits advance the fake clock instead of sleeping, so tests stay fast and
// deterministic. opts are applied after these defaults (a WithClock in opts
// restores real waiting).
func (s *Server) Client(opts ...okta.Option) (*okta.Client, error) {
	all := append([]okta.Option{okta.WithHTTPClient(s.srv.Client()), okta.WithClock(serverClock{s})}, opts...)
	return okta.NewClient(s.srv.URL, s.token, all...)
}

// AddToken makes token valid. With no scopes it has every scope; otherwise
// only the named ones (okta.users.read, okta.users.manage,
// okta.groups.manage): a call needing another scope gets 403 E0000006.
func (s *Server) AddToken(token string, scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = append([]string(nil), scopes...)
}

// RevokeToken makes token invalid (401 E0000011 afterwards).
func (s *Server) RevokeToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, token)
}

// Request is one entry of the request log.
type Request struct {
	// Time is the fake's clock when the request arrived.
	Time time.Time
	// Method is the HTTP method.
	Method string
	// Path is the URL path, without the query.
	Path string
	// Query is the raw query string, without the "?".
	Query string
	// Status is the HTTP status of the answer (0: the connection was
	// dropped before an answer was written).
	Status int
	// ErrorCode is the errorCode of an Okta error answer (such as
	// "E0000001"), empty for a success.
	ErrorCode string
	// RequestID is the X-Okta-Request-Id the fake sent with the answer.
	RequestID string
	// RetryFor and RetryCount are the X-Okta-Retry-For and
	// X-Okta-Retry-Count headers of a retried request.
	RetryFor   string
	RetryCount string
	// HTTPFault is the kind of fault an [HTTPFaultPlan] injected into this
	// request (0: none).
	HTTPFault HTTPFault
	// Detail says why the fake refused a request when the wire body is
	// deliberately generic (for example a credential response sealed for
	// another enrollment behind Okta's "Api validation failed" error).
	Detail string
}

// RequestLog returns a copy of every request handled so far, in order
// (with [WithRequestLogLimit], of the most recent ones). Authorization
// headers and bodies are never logged.
func (s *Server) RequestLog() []Request {
	return s.log.All()
}

// RequestLogDropped returns how many of the oldest requests
// [WithRequestLogLimit] dropped from the request log.
func (s *Server) RequestLogDropped() int { return s.log.Dropped() }

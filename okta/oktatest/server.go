package oktatest

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/preenroll/preenroll/internal/oktarate"
	"github.com/preenroll/preenroll/okta"
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
// or [Start] (examples, programs) and stop it with Close. All methods are
// safe for concurrent use.
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
	window  time.Duration
	page    int
	gcm     cipher.AEAD // PIN encryption at rest

	mu           sync.Mutex
	delivered    chan struct{}                     // guarded by mu; closed and replaced on each delivery
	now          time.Time                         // guarded by mu
	tokens       map[string][]string               // guarded by mu; token → scopes
	users        map[string]*user                  // guarded by mu
	userOrder    []string                          // guarded by mu; by seq
	userSeq      uint64                            // guarded by mu; the last user's seq
	deletedSeq   map[string]uint64                 // guarded by mu; seq of deleted users (list cursors)
	userTypes    map[string]string                 // guarded by mu; user type ID → name
	groupOrder   []string                          // guarded by mu; by seq
	byLogin      map[string]*user                  // guarded by mu; by loginKey(profile.Login)
	groups       map[string]*group                 // guarded by mu
	enrollments  map[string]*enrollment            // guarded by mu
	fulfillments map[string]*fulfillment           // guarded by mu
	events       []Event                           // guarded by mu
	outbox       []Email                           // guarded by mu
	log          []Request                         // guarded by mu
	hooks        []*hook                           // guarded by mu
	deliveries   []Delivery                        // guarded by mu
	limits       []limit                           // read-only after start; WithRateLimit prefixes, longest first
	table        bool                              // read-only after start; count per Okta's buckets (internal/oktarate)
	bucketLimits map[string]int                    // read-only after start; WithBucketLimit overrides by bucket name
	buckets      map[string]*bucketState           // guarded by mu
	faults       []*Fault                          // guarded by mu
	latency      time.Duration                     // guarded by mu
	plan         *faultPlan                        // guarded by mu; nil: no rate-based faults
	txns         map[string]*txn                   // guarded by mu; Authn state tokens
	rps          map[string]*webauthn.RelyingParty // guarded by mu; by RP ID
	byUser       map[string][]*enrollment          // guarded by mu; each user's enrollments in creation order
}

// Option configures a Server.
type Option func(*config) error

type config struct {
	rand         io.Reader
	now          time.Time
	token        string
	issuer       string
	orgName      string
	roots        []*x509.Certificate
	aaguids      []uuid.UUID
	ttl          time.Duration
	hookHC       *http.Client
	onEvent      func(Event)
	limits       map[string]int // WithRateLimit prefixes
	table        bool           // Okta's buckets (WithoutRateLimits turns them off)
	bucketLimits map[string]int
	window       time.Duration
	page         int
	plan         *FaultPlan
}

// WithRand makes IDs, tokens, challenges and keys come from r (for
// deterministic tests). The default is crypto/rand.
func WithRand(r io.Reader) Option {
	return func(c *config) error {
		if r == nil {
			return errors.New("oktatest: WithRand: nil reader")
		}
		c.rand = r
		return nil
	}
}

// WithNow sets the fake clock's start time (default 2026-01-01T00:00:00Z).
// The clock only moves by [Server.SetNow] and [Server.Advance].
func WithNow(t time.Time) Option {
	return func(c *config) error {
		c.now = t.UTC()
		return nil
	}
}

// WithToken sets the API token [Server.Client] uses (default random). It
// is accepted with every scope.
func WithToken(token string) Option {
	return func(c *config) error {
		if token == "" || strings.ContainsAny(token, " \t\r\n") {
			return errors.New("oktatest: WithToken: token is empty or contains whitespace")
		}
		c.token = token
		return nil
	}
}

// WithIssuer sets the issuer /.well-known/openid-configuration reports
// (default the server's URL), e.g. "https://example.okta.com" so that the
// RP ID derived from it is a host name.
func WithIssuer(issuer string) Option {
	return func(c *config) error {
		u, err := url.Parse(issuer)
		if err != nil || u.Host == "" {
			return fmt.Errorf("oktatest: WithIssuer: %q is not an absolute URL", issuer)
		}
		c.issuer = issuer
		return nil
	}
}

// WithOrgName sets the RP name put into credential requests (default "Okta").
func WithOrgName(name string) Option {
	return func(c *config) error {
		c.orgName = name
		return nil
	}
}

// WithAttestationRoots sets the FIDO attestation trust roots activate
// verifies credentials against (Yubico's in production; in tests
// simulator.DefaultFIDOCA().Root()). Without it every activation fails
// attestation.
func WithAttestationRoots(roots ...*x509.Certificate) Option {
	return func(c *config) error {
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
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("oktatest: WithChallengeTimeout: %v is not positive", d)
		}
		c.ttl = d
		return nil
	}
}

// WithHookClient sets the HTTP client event-hook deliveries and
// verifications use (default a client with a 10 s timeout).
func WithHookClient(hc *http.Client) Option {
	return func(c *config) error {
		if hc == nil {
			return errors.New("oktatest: WithHookClient: nil client")
		}
		c.hookHC = hc
		return nil
	}
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

// WithRateLimit makes every path starting with pathPrefix draw from one
// bucket of its own with limit requests per window, in place of Okta's
// buckets for those paths (the longest such prefix wins). A limit of 0 or
// less turns rate limiting off for the prefix. Without it the fake counts
// per Okta's buckets: see [WithBucketLimit].
func WithRateLimit(pathPrefix string, limit int) Option {
	return func(c *config) error {
		if !strings.HasPrefix(pathPrefix, "/") {
			return fmt.Errorf("oktatest: WithRateLimit: prefix %q does not start with /", pathPrefix)
		}
		c.limits[pathPrefix] = limit
		return nil
	}
}

// WithMaxPageSize caps the page size of list endpoints (default 1000, as
// Okta's group member list), so tests can exercise pagination with few
// records.
func WithMaxPageSize(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("oktatest: WithMaxPageSize: %d is not positive", n)
		}
		c.page = n
		return nil
	}
}

// WithBucketLimit sets the per-window limit of one of Okta's rate-limit
// buckets, named as Okta's table names it (see [okta.RateLimitBucket]):
// "GET|POST /api/v1/users" (create and list users, default 600),
// "GET /api/v1/users/{idOrLogin}" (2000), "POST|PUT|DELETE /api/v1/users/{id}"
// (600), "/api/v1/groups" (create and list groups and every
// /api/v1/groups/{id}/… path, 500), "/api/v1/groups/{id}" (1000),
// "/api/v1/authn" (500), "/api/v1/authn/factors/{factorIdOrFactorType}/verify"
// (500), "/api/v1" (every other /api/v1 path, 1200) and
// "/webauthn-registration/api/v1" (600). The defaults are the Workforce
// Identity limits of the last tables Okta published; Okta documents no
// limit for /webauthn-registration, its 600 is our choice (docs/okta.md
// §Rate limits, docs/decisions.md §Okta rate limits). /.well-known is never
// limited. A limit of 0 or less turns the bucket off.
func WithBucketLimit(bucket string, limit int) Option {
	return func(c *config) error {
		if _, ok := oktarate.ByName(bucket); !ok {
			return fmt.Errorf("oktatest: WithBucketLimit: %q is not one of Okta's rate-limit buckets", bucket)
		}
		c.bucketLimits[bucket] = limit
		return nil
	}
}

// WithoutRateLimits turns every rate-limit bucket off (no X-Rate-Limit
// headers, never 429 except by fault injection).
func WithoutRateLimits() Option {
	return func(c *config) error {
		clear(c.limits)
		c.table = false
		return nil
	}
}

// WithRateLimitWindow sets the length of a rate-limit window (default 60 s;
// a window starts with the first request in the bucket, not on the minute).
func WithRateLimitWindow(d time.Duration) Option {
	return func(c *config) error {
		if d < time.Second {
			return fmt.Errorf("oktatest: WithRateLimitWindow: %v is shorter than a second", d)
		}
		c.window = d
		return nil
	}
}

type limit struct {
	prefix string
	n      int
}

type bucketState struct {
	start time.Time
	count int
}

// NewServer starts a fake Okta org for a test and closes it in t.Cleanup.
// A request to a route the fake does not know fails the test. It calls
// t.Fatal if an option is invalid.
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
// Close when done.
func Start(opts ...Option) (*Server, error) {
	return start(nil, opts)
}

func start(t testing.TB, opts []Option) (*Server, error) {
	c := config{
		rand:         rand.Reader,
		now:          time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		limits:       map[string]int{},
		table:        true,
		bucketLimits: map[string]int{},
		orgName:      "Okta",
		ttl:          DefaultChallengeTimeout,
		window:       time.Minute,
		page:         1000,
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	s := &Server{
		t: t, rand: &lockedReader{r: c.rand}, issuer: c.issuer, orgName: c.orgName, roots: c.roots, aaguids: c.aaguids,
		ttl: c.ttl, hookHC: c.hookHC, onEvent: c.onEvent, window: c.window, page: c.page,
		now:          c.now,
		tokens:       map[string][]string{},
		users:        map[string]*user{},
		byLogin:      map[string]*user{},
		groups:       map[string]*group{},
		deletedSeq:   map[string]uint64{},
		userTypes:    map[string]string{DefaultUserTypeID: "user"},
		enrollments:  map[string]*enrollment{},
		byUser:       map[string][]*enrollment{},
		fulfillments: map[string]*fulfillment{},
		buckets:      map[string]*bucketState{},
		txns:         map[string]*txn{},
		rps:          map[string]*webauthn.RelyingParty{},
	}
	s.delivered = make(chan struct{})
	if c.plan != nil && c.plan.Rate > 0 {
		s.plan = newFaultPlan(*c.plan)
	}
	if s.hookHC == nil {
		s.hookHC = &http.Client{Timeout: 10 * time.Second}
	}
	for p, n := range c.limits {
		s.limits = append(s.limits, limit{p, n})
	}
	s.table, s.bucketLimits = c.table, c.bucketLimits
	sort.Slice(s.limits, func(i, j int) bool { return len(s.limits[i].prefix) > len(s.limits[j].prefix) })
	key := make([]byte, 32)
	if _, err := io.ReadFull(c.rand, key); err != nil {
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
		s.token = "00" + s.randomID(40)
	}
	s.tokens[s.token] = nil
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	if s.issuer == "" {
		s.issuer = s.srv.URL
	}
	return s, nil
}

// Close shuts the server down, waiting for requests in flight (and the
// event-hook deliveries they make) to finish.
func (s *Server) Close() { s.srv.Close() }

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

// serverClock is an okta.Clock that reads the fake clock and waits by
// advancing it.
type serverClock struct{ s *Server }

func (c serverClock) Now() time.Time { return c.s.Now() }

func (c serverClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.s.Advance(d)
	return nil
}

// Now returns the fake clock's time.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// SetNow sets the fake clock.
func (s *Server) SetNow(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = t.UTC()
}

// Advance moves the fake clock forward by d.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = s.now.Add(d)
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
	Time      time.Time
	Method    string
	Path      string
	Query     string
	Status    int
	ErrorCode string
	RequestID string
	// RetryFor and RetryCount are the X-Okta-Retry-For and
	// X-Okta-Retry-Count headers of a retried request.
	RetryFor   string
	RetryCount string
	// Fault is the kind of fault a [FaultPlan] injected into this request
	// (0: none).
	Fault FaultKind
	// Detail says why the fake refused a request when the wire body is
	// deliberately generic (for example a credential response sealed for
	// another enrollment behind Okta's "Api validation failed" error).
	Detail string
}

// RequestLog returns a copy of every request handled so far, in order.
// Authorization headers and bodies are never logged.
func (s *Server) RequestLog() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// Fault makes matching requests misbehave. Zero Method or PathPrefix match
// everything.
type Fault struct {
	Method     string
	PathPrefix string
	// Count is how many matching requests the fault applies to (at least 1).
	Count int
	// Status, when non-zero, is returned with an Okta error body (500
	// E0000009, 503 E0000010, 429 E0000047 with rate-limit headers, others
	// with the code Okta uses for the status).
	Status int
	// Latency is added before the request is handled (real time; the
	// request's context ends it early).
	Latency time.Duration
	// Drop closes the connection without a response.
	Drop bool
	// DropResponse handles the request (it takes effect) and then closes
	// the connection without sending the response.
	DropResponse bool
}

// InjectFault adds a fault for the next matching requests.
func (s *Server) InjectFault(f Fault) {
	if f.Count < 1 {
		f.Count = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// FailNext makes the next n requests fail with status.
func (s *Server) FailNext(n, status int) {
	s.InjectFault(Fault{Count: n, Status: status})
}

// SetLatency adds d of real time before every request is handled.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomID returns n base62 characters from s.rand.
func (s *Server) randomID(n int) string {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		panic(fmt.Sprintf("oktatest: random source failed: %v", err)) // the fake cannot continue without IDs
	}
	for i := range b {
		b[i] = base62[int(b[i])%len(base62)]
	}
	return string(b)
}

func (s *Server) randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		panic(fmt.Sprintf("oktatest: random source failed: %v", err))
	}
	return b
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
	return []byte(`"` + time.Time(t).UTC().Format("2006-01-02T15:04:05.000Z") + `"`), nil
}

func optTime(t time.Time) *oktaTime {
	if t.IsZero() {
		return nil
	}
	ot := oktaTime(t)
	return &ot
}

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
	status       int
	out          []byte
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
	cs := make([]cause, 0, len(causes))
	for _, c := range causes {
		cs = append(cs, cause{c})
	}
	s.writeError(x, status, errorBody{ErrorCode: code, ErrorSummary: summary, ErrorLink: code, ErrorCauses: cs})
}

func (s *Server) writeError(x *exchange, status int, eb errorBody) {
	eb.ErrorID = "oae" + s.randomID(22)
	x.entry.ErrorCode = eb.ErrorCode
	s.writeJSON(x, status, eb)
}

func (s *Server) writeJSON(x *exchange, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only the fake's own types are encoded here; failing loudly is right.
		panic(fmt.Sprintf("oktatest: encode response for %s %s: %v", x.r.Method, x.r.URL.Path, err))
	}
	x.w.Header().Set("Content-Type", "application/json")
	x.w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	x.status, x.out, x.wrote = status, b, true
	x.entry.Status = status
}

func (s *Server) writeNoContent(x *exchange) {
	x.status, x.out, x.wrote = http.StatusNoContent, nil, true
	x.entry.Status = http.StatusNoContent
}

// finish runs the event callback, sends the buffered response, then
// delivers event hooks (after the client has its answer, as Okta's
// asynchronous delivery does).
func (s *Server) finish(x *exchange) {
	s.record(x) // before the response, so a client that has its answer sees the entry
	if !x.wrote {
		return
	}
	s.dispatchCallbacks(x)
	if x.dropResponse {
		dropConnection(x.w)
		s.deliverHooks(context.WithoutCancel(x.r.Context()), x)
		return
	}
	x.w.WriteHeader(x.status)
	if len(x.out) > 0 {
		_, _ = x.w.Write(x.out)
	}
	if f, ok := x.w.(http.Flusher); ok {
		f.Flush()
	}
	s.deliverHooks(context.WithoutCancel(x.r.Context()), x)
}

// Common errors.
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

// lockedReader serializes reads from a random source that may not be safe
// for concurrent use (a seeded test reader).
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader // guarded by mu
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

package yubicotest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	_ "time/tzdata" // the batch runs at 03:00 America/Los_Angeles even without system tzdata

	"github.com/google/uuid"

	"github.com/preenroll/preenroll/internal/fakehttp"
	"github.com/preenroll/preenroll/simulator"
	"github.com/preenroll/preenroll/webauthn"
	"github.com/preenroll/preenroll/yubico"
)

// defaultStart is the fake clock's default start: Monday 2 March 2026, 09:00
// in Los Angeles.
var defaultStart = time.Date(2026, 3, 2, 17, 0, 0, 0, time.UTC)

// Server is a fake Yubico. Create it with [Start] (or [NewServer]) and stop
// it with Close; the zero Server is not usable. Its methods are safe for
// concurrent use.
//
// Besides the methods listed here, Server has the HTTP-fault controls
// InjectHTTPFault(HTTPFaultRule) error, FailNext(n, status int) error,
// DropNext(n int) error, SetLatency(time.Duration) error,
// SetHTTPFaultPlan(HTTPFaultPlan) error, HTTPFaultCounts()
// map[HTTPFault]int and HTTPFaultRuleCounts() []httpfault.RuleCount, which
// it shares with oktatest's Server (see the package documentation).
type Server struct {
	srv     *httptest.Server // the API host
	console *httptest.Server // the console host: the public JWKS
	nowNano atomic.Int64     // mirrors now for the simulated keys' clocks
	clock   *fakehttp.Clock  // the fake clock; now follows it (see catchUpLocked)
	faults  *fakehttp.Faults

	// immutable after Start (t after NewServer, before the URL is known)
	t     testing.TB // set by NewServer: a request to an unknown route fails the test
	token string
	orgID string
	setup // as the options set it, with defaults
	// transportJWKS and signingJWKS are the console's JWKS bodies, encoded
	// once: the keys do not change after Start.
	transportJWKS, signingJWKS []byte
	cids                       map[string]bool
	// fprProducts are the product IDs FIDO Pre-reg shipments may order.
	fprProducts map[int]bool

	mu         sync.Mutex // guards the fields below
	rand       io.Reader
	now        time.Time // the lifecycle has run every transition due up to now
	lastBatch  time.Time
	tokens     map[string]string // token → API caller user ID
	buckets    []*Bucket
	countries  []Country
	products   []yubico.Product
	rules      []AddressRule
	denied     map[string]bool
	shipments  map[string]*shipment
	order      creationOrder // the shipments in creation order
	sched      schedule      // their next transitions
	nextSerial uint32
	// fidoAtts are the FIDO attestations the factory's keys share, one
	// per AAGUID (so per series: 5 NFC and 5C NFC share one), made at the
	// first key.
	fidoAtts   map[uuid.UUID]*simulator.FIDOAttestation
	nextFaults []ShipmentFault
	log        fakehttp.Log[Request]
	// idem maps remembered idempotency keys (one organisation: all tokens
	// share them) to their latest creates; idemQueue holds every remembered
	// create in creation order, until pruneIdemLocked forgets it.
	idem      map[string]*idemEntry
	idemQueue []*idemEntry
	// flights are the requests with an Idempotency-Key in flight, in
	// arrival order (finished ones only behind an unfinished one).
	flights         []*flight
	dropAfterCommit int
	// onArrival, if set (by tests only), is called with each request
	// once its arrival is recorded, before its faults and handler: a test
	// blocks it to hold a request while it moves the clock.
	onArrival func(*http.Request)
}

// NewServer starts a fake Yubico for t and closes it when the test ends. It
// fails the test (t.Fatal, with [Start]'s error) if an option is invalid or
// nil, and a request to a route the fake does not know (which also gets 404
// unknown_route) fails the test too.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := Start(opts...)
	if err != nil {
		t.Fatalf("yubicotest.NewServer: %v", err)
	}
	s.t = t
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake Yubico; call [Server.Close] when done. An invalid
// option is an error, and so is a nil one (a caller's bug, not a default):
// "yubicotest: option 1 is nil" names its index in opts, from 0.
func Start(opts ...Option) (*Server, error) {
	cfg := config{Settings: fakehttp.DefaultSettings(), setup: setup{pinLength: 8, idemTTL: IdempotencyTTL}, serial: 31000001}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("yubicotest: option %d is nil", i)
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	clock := cfg.Clock(defaultStart)
	start := clock.Now()
	faults, err := cfg.Faults("yubicotest", 0x6a09e667f3bcc908, faultRoutes)
	if err != nil {
		return nil, err
	}
	s := &Server{
		clock:      clock,
		orgID:      cfg.orgID,
		setup:      cfg.setup,
		rand:       cfg.Rand,
		now:        start,
		lastBatch:  start,
		tokens:     map[string]string{},
		rules:      cfg.rules,
		denied:     map[string]bool{},
		shipments:  map[string]*shipment{},
		nextSerial: cfg.serial,
		idem:       map[string]*idemEntry{},
		faults:     faults,
	}
	s.limits, s.timing = s.limits.withDefaults(), s.timing.withDefaults()
	s.log.SetLimit(cfg.LogLimit)
	s.nowNano.Store(start.UnixNano())
	if s.orgID == "" {
		if s.orgID, err = s.newID(); err != nil {
			return nil, err
		}
	}
	tokens := cfg.tokens
	if len(tokens) == 0 {
		id, err := s.newID()
		if err != nil {
			return nil, err
		}
		tokens = []string{"yubicotest." + id + id}
	}
	s.token = tokens[0]
	for _, tok := range tokens {
		if s.tokens[tok], err = s.newID(); err != nil {
			return nil, err
		}
	}
	if s.transport == nil {
		k, err := webauthn.GenerateKey(s.rand, "yubicotest-transport-1", webauthn.UseEncryption)
		if err != nil {
			return nil, fmt.Errorf("yubicotest: transport key: %w", err)
		}
		s.transport = webauthn.Keyring{k}
	}
	if s.signing == nil {
		if s.signing, err = webauthn.GenerateKey(s.rand, "yubicotest-sign-1", webauthn.UseSigning); err != nil {
			return nil, fmt.Errorf("yubicotest: signing key: %w", err)
		}
	}
	if s.transportJWKS, err = encodeJSON(s.TransportJWKS()); err != nil {
		return nil, fmt.Errorf("yubicotest: transport JWKS: %w", err)
	}
	if s.signingJWKS, err = encodeJSON(s.SigningJWKS()); err != nil {
		return nil, fmt.Errorf("yubicotest: signing JWKS: %w", err)
	}
	if s.fidoCA == nil {
		s.fidoCA = simulator.DefaultFIDOCA()
	}
	if cfg.rules == nil {
		s.rules = []AddressRule{NowhereRule, POBoxOutsideUSRule}
	}
	for _, n := range cfg.denied {
		s.denied[normName(n)] = true
	}
	if len(cfg.cids) > 0 {
		s.cids = map[string]bool{}
		for _, id := range cfg.cids {
			s.cids[id] = true
		}
	}
	s.fprProducts = map[int]bool{}
	fpr := cfg.fprProducts
	if fpr == nil {
		fpr = []int{1, 29, 54, 55}
	}
	for _, id := range fpr {
		s.fprProducts[id] = true
	}
	s.products = cfg.products
	if s.products == nil {
		s.products = defaultProducts()
	}
	buckets := cfg.buckets
	if buckets == nil {
		buckets = defaultBuckets()
	}
	for _, b := range buckets {
		if b.InventoryType == 0 {
			b.InventoryType = 1
		}
		if b.Name == "" {
			b.Name = s.productNameLocked(b.ProductID)
		}
		b.ProductMapping = append([]int(nil), b.ProductMapping...)
		s.buckets = append(s.buckets, &b)
	}
	s.countries = cfg.countries
	if s.countries == nil {
		s.countries = defaultCountries()
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.console = httptest.NewServer(http.HandlerFunc(s.serveConsole))
	return s, nil
}

// Close shuts the server down (both hosts). It is safe to call more than
// once.
func (s *Server) Close() {
	s.srv.Close()
	s.console.Close()
}

// URL returns the API base URL, e.g. "http://127.0.0.1:1234/v1", standing
// for https://api.console.yubico.com/v1.
func (s *Server) URL() string { return s.srv.URL + "/v1" }

// ConsoleURL returns the root URL of the console host, e.g.
// "http://127.0.0.1:1235", standing for https://console.yubico.com: it
// serves the public JWKS at /.well-known/yubico-transport-keys.jwks and
// /.well-known/yubico-sign.jwks, where Yubico publishes them. The API host
// does not serve them. Point a client's JWKS base URL at it
// (yubico.WithJWKSBaseURL); [Server.Client] does.
func (s *Server) ConsoleURL() string { return s.console.URL }

// Token returns the API token [Server.Client] uses.
func (s *Server) Token() string { return s.token }

// Client returns a production client for the fake with a valid token, using
// the server's HTTP client, the console host for the JWKS and no retries
// unless opts say otherwise (opts are applied after the defaults). It
// panics if an option is invalid.
func (s *Server) Client(opts ...yubico.Option) *yubico.Client {
	all := append([]yubico.Option{yubico.WithHTTPClient(s.srv.Client()), yubico.WithRetryPolicy(yubico.NoRetries()),
		yubico.WithJWKSBaseURL(s.ConsoleURL())}, opts...)
	c, err := yubico.NewClient(s.URL(), s.token, all...)
	if err != nil {
		panic(fmt.Sprintf("yubicotest: Server.Client: %v", err))
	}
	return c
}

// TransportKeys returns Yubico's transport keyring (private keys), for tests
// that seal requests themselves; IdPs use the published JWKS.
func (s *Server) TransportKeys() webauthn.Keyring {
	return append(webauthn.Keyring(nil), s.transport...)
}

// TransportJWKS returns the published transport JWKS.
func (s *Server) TransportJWKS() webauthn.JWKS { return s.transport.JWKS() }

// SigningJWKS returns the published signing JWKS.
func (s *Server) SigningJWKS() webauthn.JWKS { return webauthn.Keyring{s.signing}.JWKS() }

// FIDOCA returns the attestation CA of programmed keys; trust its Root.
func (s *Server) FIDOCA() *simulator.CA { return s.fidoCA }

// OrganizationID returns the organisation's ID.
func (s *Server) OrganizationID() string { return s.orgID }

package yubicotest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	_ "time/tzdata" // the batch runs at 03:00 America/Los_Angeles even without system tzdata

	"github.com/preenroll/preenroll/simulator"
	"github.com/preenroll/preenroll/webauthn"
	"github.com/preenroll/preenroll/yubico"
)

// defaultStart is the fake clock's default start: Monday 2 March 2026, 09:00
// in Los Angeles.
var defaultStart = time.Date(2026, 3, 2, 17, 0, 0, 0, time.UTC)

// Timing configures the clock-driven lifecycle. The zero value of a field
// means its default.
type Timing struct {
	// ValidationInterval is how often address validation runs (15 min).
	ValidationInterval time.Duration
	// BatchHour and BatchMinute are the local time of the daily fulfillment
	// batch in BatchLocation (03:00). Set BatchAtMidnight for 00:00.
	BatchHour, BatchMinute int
	// BatchAtMidnight makes the batch run at 00:00 (a zero BatchHour alone
	// means the default).
	BatchAtMidnight bool
	// BatchLocation is the batch's time zone (America/Los_Angeles, or a fixed
	// UTC-8 zone if tzdata were missing).
	BatchLocation *time.Location
	// ShippingDelay is the time from the batch to 103 Shipped (24 h).
	ShippingDelay time.Duration
	// DeliveryDelay is the time from 103 Shipped to 104 Delivered (48 h).
	DeliveryDelay time.Duration
}

func (t Timing) withDefaults() Timing {
	if t.ValidationInterval <= 0 {
		t.ValidationInterval = 15 * time.Minute
	}
	if t.BatchHour == 0 && t.BatchMinute == 0 && !t.BatchAtMidnight {
		t.BatchHour = 3
	}
	if t.BatchLocation == nil {
		loc, err := time.LoadLocation("America/Los_Angeles")
		if err != nil {
			loc = time.FixedZone("PST", -8*3600)
		}
		t.BatchLocation = loc
	}
	if t.ShippingDelay <= 0 {
		t.ShippingDelay = 24 * time.Hour
	}
	if t.DeliveryDelay <= 0 {
		t.DeliveryDelay = 48 * time.Hour
	}
	return t
}

// Limits are the field limits the fake enforces, counted in UTF-8 bytes (the
// service appears to count encoded length; docs/yubico.md §Shipment request). The
// defaults are the newest published set. A zero field means its default.
type Limits struct {
	Recipient     int // recipient / recipient_company (20)
	FirstName     int // recipient_firstname (15)
	LastName      int // recipient_lastname (20)
	Email         int // recipient_email (80)
	Telephone     int // recipient_telephone (40)
	Street        int // street_line1 + street_line2 combined (120)
	City          int // city (60)
	Region        int // region (50)
	PostalCode    int // postal_code (20)
	MaxQuantity   int // total items per shipment (500)
	MaxCredential int // credential requests per FIDO Pre-reg shipment (10)
	// TelephoneOptional drops the requirement of recipient_telephone
	// (required by Yubico's current ServiceNow action).
	TelephoneOptional bool
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.Recipient, 20)
	def(&l.FirstName, 15)
	def(&l.LastName, 20)
	def(&l.Email, 80)
	def(&l.Telephone, 40)
	def(&l.Street, 120)
	def(&l.City, 60)
	def(&l.Region, 50)
	def(&l.PostalCode, 20)
	def(&l.MaxQuantity, 500)
	def(&l.MaxCredential, 10)
	return l
}

// AddressRule decides whether an address is undeliverable; it returns a
// non-empty reason if so.
type AddressRule func(a yubico.Address) (reason string)

// NowhereRule is the default undeliverable rule: the address Yubico's own
// guide uses to reproduce state 7, "123 XYZ, Nowhere 11111" (matched
// case-insensitively on street_line1, city and postal_code).
func NowhereRule(a yubico.Address) string {
	if strings.EqualFold(strings.TrimSpace(a.StreetLine1), "123 XYZ") && strings.EqualFold(strings.TrimSpace(a.City), "Nowhere") &&
		strings.TrimSpace(a.PostalCode) == "11111" {
		return "Address is undeliverable or could not be understood"
	}
	return ""
}

// POBoxOutsideUSRule marks PO boxes outside the US undeliverable ("delivery to
// the equivalent elsewhere in the world is unlikely to succeed").
func POBoxOutsideUSRule(a yubico.Address) string {
	if a.CountryCode == "US" {
		return ""
	}
	s := strings.ToUpper(strings.NewReplacer(".", "", " ", "").Replace(a.StreetLine1 + a.StreetLine2))
	if strings.Contains(s, "POBOX") || strings.Contains(s, "POSTBOX") {
		return "PO boxes are not deliverable outside the US"
	}
	return ""
}

// Bucket seeds one inventory bucket of the organisation.
type Bucket struct {
	ProductID      int    // the bucket's ID, used as inventory_product_id
	Name           string // product_name
	Quantity       int
	InventoryType  int   // 1 plain stock (default), 3 subscription
	ProductTier    int   // product_tier
	ProductMapping []int // concrete products the bucket can be spent on; empty = ProductID only
	Subscription   bool  // is_subscription_product
	Virtual        bool  // is_virtual_product
}

// Country seeds one allowed destination.
type Country struct {
	Code string // ISO 3166-1 alpha-2
	Name string
}

type config struct {
	start        time.Time
	rand         io.Reader
	tokens       []string
	orgID        string
	buckets      []Bucket
	countries    []Country
	products     []yubico.Product
	rules        []AddressRule
	denied       []string
	limits       Limits
	timing       Timing
	transport    webauthn.Keyring
	signing      *webauthn.PrivateKey
	fidoCA       *simulator.CA
	pinLength    int
	serial       uint32
	firmware     *simulator.Version
	cids         []string
	fprProducts  []int
	trackingBase string
	httpFaults   *HTTPFaultPlan
}

// Option configures a [Server].
type Option func(*config) error

// WithStart sets the fake clock's start time (default Monday 2 March 2026,
// 09:00 in Los Angeles, 17:00 UTC).
func WithStart(t time.Time) Option {
	return func(c *config) error {
		if t.IsZero() {
			return errors.New("yubicotest: WithStart: zero time")
		}
		c.start = t
		return nil
	}
}

// WithRand sets the source of the fake's randomness: IDs, tokens, keys, PINs
// and the simulated keys' seeds (default crypto/rand). A seeded reader such
// as math/rand/v2's ChaCha8 makes runs repeatable (go-jose still draws
// ephemeral keys from crypto/rand, so ciphertexts differ).
func WithRand(r io.Reader) Option {
	return func(c *config) error {
		if r == nil {
			return errors.New("yubicotest: WithRand: nil reader")
		}
		c.rand = r
		return nil
	}
}

// WithToken adds an API token the fake accepts (default: one random token,
// see [Server.Token]). The first token given is the one [Server.Client] uses.
func WithToken(token string) Option {
	return func(c *config) error {
		if token == "" || strings.ContainsAny(token, " \t\r\n") {
			return errors.New("yubicotest: WithToken: empty token or token with whitespace")
		}
		c.tokens = append(c.tokens, token)
		return nil
	}
}

// WithOrganization sets the organisation ID (default generated).
func WithOrganization(id string) Option {
	return func(c *config) error {
		if id == "" {
			return errors.New("yubicotest: WithOrganization: empty ID")
		}
		c.orgID = id
		return nil
	}
}

// WithInventory replaces the default inventory buckets (100 each of products
// 1, 29, 54 and 55, and a subscription bucket 106 mapping to 1 and 29).
func WithInventory(buckets ...Bucket) Option {
	return func(c *config) error {
		seen := map[int]bool{}
		for _, b := range buckets {
			if b.ProductID <= 0 || b.Quantity < 0 || seen[b.ProductID] {
				return fmt.Errorf("yubicotest: WithInventory: bucket %d: invalid or duplicate ID, or negative quantity", b.ProductID)
			}
			seen[b.ProductID] = true
		}
		c.buckets = append([]Bucket(nil), buckets...)
		return nil
	}
}

// WithCountries replaces the allowed destinations (default US, CA, GB, IE,
// DE, FR, NL, SE, NO, DK, FI).
func WithCountries(cs ...Country) Option {
	return func(c *config) error {
		for _, k := range cs {
			if !isAlpha2(k.Code) {
				return fmt.Errorf("yubicotest: WithCountries: %q is not an ISO 3166-1 alpha-2 code", k.Code)
			}
		}
		c.countries = append([]Country(nil), cs...)
		return nil
	}
}

// WithProducts replaces the product catalogue (default: the product IDs of
// docs/yubico.md §Products and inventory).
func WithProducts(ps ...yubico.Product) Option {
	return func(c *config) error {
		c.products = append([]yubico.Product(nil), ps...)
		return nil
	}
}

// WithAddressRules replaces the undeliverable-address rules (default
// [NowhereRule] and [POBoxOutsideUSRule]).
func WithAddressRules(rules ...AddressRule) Option {
	return func(c *config) error {
		c.rules = append([]AddressRule(nil), rules...)
		return nil
	}
}

// WithDeniedParties sets names on the denied-party list: a shipment whose
// recipient (company) or "first last" name equals one, case-insensitively,
// goes to state 9 at address validation.
func WithDeniedParties(names ...string) Option {
	return func(c *config) error {
		for _, n := range names {
			if normName(n) == "" {
				return errors.New("yubicotest: WithDeniedParties: empty name")
			}
		}
		c.denied = append(c.denied, names...)
		return nil
	}
}

// WithLimits sets the field limits (zero fields keep their defaults).
func WithLimits(l Limits) Option {
	return func(c *config) error { c.limits = l; return nil }
}

// WithTiming sets the lifecycle timing (zero fields keep their defaults).
func WithTiming(t Timing) Option {
	return func(c *config) error { c.timing = t; return nil }
}

// WithTransportKeys sets Yubico's transport keyring (use "enc"), published
// at /.well-known/yubico-transport-keys.jwks (default: one generated key).
func WithTransportKeys(keys webauthn.Keyring) Option {
	return func(c *config) error {
		if len(keys) == 0 {
			return errors.New("yubicotest: WithTransportKeys: empty keyring")
		}
		for _, k := range keys {
			if k == nil || k.Use() != webauthn.UseEncryption {
				return errors.New("yubicotest: WithTransportKeys: every key must be a non-nil \"enc\" key")
			}
		}
		c.transport = append(webauthn.Keyring(nil), keys...)
		return nil
	}
}

// WithSigningKey sets Yubico's signing key (use "sig"), published at
// /.well-known/yubico-sign.jwks (default: a generated key).
func WithSigningKey(k *webauthn.PrivateKey) Option {
	return func(c *config) error {
		if k == nil || k.Use() != webauthn.UseSigning {
			return errors.New("yubicotest: WithSigningKey: want a non-nil \"sig\" key")
		}
		c.signing = k
		return nil
	}
}

// WithFIDOCA sets the attestation CA of the keys the factory programs
// (default simulator.DefaultFIDOCA()).
func WithFIDOCA(ca *simulator.CA) Option {
	return func(c *config) error {
		if ca == nil {
			return errors.New("yubicotest: WithFIDOCA: nil CA")
		}
		c.fidoCA = ca
		return nil
	}
}

// WithPINLength sets the length of the random PINs (digits, 4 to 63; default 8).
func WithPINLength(n int) Option {
	return func(c *config) error {
		if n < 4 || n > 63 {
			return fmt.Errorf("yubicotest: WithPINLength: %d is outside 4..63", n)
		}
		c.pinLength = n
		return nil
	}
}

// WithSerialStart sets the serial number of the first programmed key; later
// keys count up from it (default 31000001).
func WithSerialStart(serial uint32) Option {
	return func(c *config) error {
		if serial == 0 {
			return errors.New("yubicotest: WithSerialStart: zero serial")
		}
		c.serial = serial
		return nil
	}
}

// WithFirmware sets the firmware of programmed keys (default the simulator's).
func WithFirmware(v simulator.Version) Option {
	return func(c *config) error { c.firmware = &v; return nil }
}

// WithCustomizationIDs restricts the accepted customization_id values of
// FIDO Pre-reg shipments (default: any non-empty ID).
func WithCustomizationIDs(ids ...string) Option {
	return func(c *config) error { c.cids = append(c.cids, ids...); return nil }
}

// WithFPRProducts sets the product IDs that FIDO Pre-reg shipments may order
// (default 1, 29, 54 and 55: YubiKey 5 NFC, 5C NFC and their FIPS versions,
// the models Yubico supports for FIDO Pre-reg). Each must also be a model of
// package simulator.
func WithFPRProducts(ids ...int) Option {
	return func(c *config) error {
		for _, id := range ids {
			if _, ok := simulator.ModelByProductID(id); !ok {
				return fmt.Errorf("yubicotest: WithFPRProducts: product %d is not a simulator model", id)
			}
		}
		c.fprProducts = append([]int(nil), ids...)
		return nil
	}
}

// Fault forces a shipment into an error state at the matching step.
type Fault int

// Faults.
const (
	FaultUndeliverable     Fault = iota + 1 // → 7 at address validation
	FaultDPLMatch                           // → 9 at address validation
	FaultProcessingError                    // → 8 at the fulfillment batch
	FaultShippingError                      // → 99 instead of shipping
	FaultLost                               // → 105 instead of delivery
	FaultDeliveryException                  // → 106 instead of delivery
)

// String names the fault.
func (f Fault) String() string {
	switch f {
	case FaultUndeliverable:
		return "undeliverable"
	case FaultDPLMatch:
		return "DPL match"
	case FaultProcessingError:
		return "processing error"
	case FaultShippingError:
		return "shipping error"
	case FaultLost:
		return "lost"
	case FaultDeliveryException:
		return "delivery exception"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// Request is one entry of the request log.
type Request struct {
	Time       time.Time // the fake clock's time
	Method     string
	Path       string
	Query      string
	Status     int
	Authorized bool // a valid token was presented
	// IdempotencyKey is the request's Idempotency-Key header, if any.
	IdempotencyKey string
	// Replayed reports an answer replayed for a remembered idempotency key
	// (nothing was created).
	Replayed bool
	// Fault is the HTTP fault an [HTTPFaultPlan] injected (0: none).
	Fault HTTPFault
}

// Server is a fake Yubico. Its methods are safe for concurrent use.
type Server struct {
	srv     *httptest.Server
	nowNano atomic.Int64 // mirrors now for the simulated keys' clocks

	// immutable after Start (t after NewServer, before the URL is known)
	t         testing.TB // set by NewServer: a request to an unknown route fails the test
	token     string
	orgID     string
	limits    Limits
	timing    Timing
	transport webauthn.Keyring
	signing   *webauthn.PrivateKey
	fidoCA    *simulator.CA
	pinLength int
	firmware  *simulator.Version
	cids      map[string]bool
	// fprProducts are the product IDs FIDO Pre-reg shipments may order.
	fprProducts map[int]bool

	mu         sync.Mutex // guards the fields below
	rand       io.Reader
	now        time.Time
	lastBatch  time.Time
	tokens     map[string]string // token → API caller user ID
	buckets    []*Bucket
	countries  []Country
	products   []yubico.Product
	rules      []AddressRule
	denied     map[string]bool
	shipments  map[string]*shipment
	order      []string // shipment IDs in creation order
	nextSerial uint32
	nextFaults []Fault
	failNext   []failure
	dropNext   int
	latency    time.Duration
	log        []Request
	// idem maps remembered idempotency keys (one organisation: all tokens
	// share them) to their creates; idemQueue holds them in creation order.
	idem            map[string]*idemEntry
	idemQueue       []*idemEntry
	dropAfterCommit int
	httpFaults      *httpFaultPlan // nil: no rate-based HTTP faults
}

type failure struct {
	status     int
	retryAfter time.Duration
}

// NewServer starts a fake Yubico for t and closes it when the test ends. It
// fails the test if an option is invalid, and a request to a route the fake
// does not know (which also gets 404 unknown_route) fails the test too.
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

// Start starts a fake Yubico; call [Server.Close] when done.
func Start(opts ...Option) (*Server, error) {
	cfg := config{start: defaultStart, rand: rand.Reader, pinLength: 8, serial: 31000001}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("yubicotest: nil option")
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	s := &Server{
		orgID:      cfg.orgID,
		limits:     cfg.limits.withDefaults(),
		timing:     cfg.timing.withDefaults(),
		transport:  cfg.transport,
		signing:    cfg.signing,
		fidoCA:     cfg.fidoCA,
		pinLength:  cfg.pinLength,
		firmware:   cfg.firmware,
		rand:       cfg.rand,
		now:        cfg.start,
		lastBatch:  cfg.start,
		tokens:     map[string]string{},
		rules:      cfg.rules,
		denied:     map[string]bool{},
		shipments:  map[string]*shipment{},
		nextSerial: cfg.serial,
		idem:       map[string]*idemEntry{},
	}
	if cfg.httpFaults != nil && cfg.httpFaults.Rate > 0 {
		s.httpFaults = newHTTPFaultPlan(*cfg.httpFaults)
	}
	s.nowNano.Store(cfg.start.UnixNano())
	var err error
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
	return s, nil
}

func defaultProducts() []yubico.Product {
	return []yubico.Product{
		{ID: 1, Name: "YubiKey 5 NFC", InventoryType: 1},
		{ID: 2, Name: "YubiKey 5 Nano", InventoryType: 1},
		{ID: 3, Name: "YubiKey 5C", SKU: "5060408461488", InventoryType: 1},
		{ID: 4, Name: "YubiKey 5C Nano", InventoryType: 1},
		{ID: 5, Name: "YubiKey 5Ci", InventoryType: 1},
		{ID: 7, Name: "Security Key NFC by Yubico", InventoryType: 1},
		{ID: 12, Name: "Primary Subscr - Base Tier: Initial", InventoryType: 3, Tier: 1},
		{ID: 15, Name: "Primary Subscr - Adv. Tier: Initial", InventoryType: 3, Tier: 2},
		{ID: 29, Name: "YubiKey 5C NFC", InventoryType: 1},
		{ID: 54, Name: "YubiKey 5 NFC FIPS", InventoryType: 1},
		{ID: 55, Name: "YubiKey 5C NFC FIPS", InventoryType: 1},
		{ID: 56, Name: "YubiKey 5Ci FIPS", InventoryType: 1},
		{ID: 57, Name: "YubiKey 5 Nano FIPS", InventoryType: 1},
		{ID: 106, Name: "Advanced Plus - Primary: Initial", InventoryType: 3, Tier: 3},
		{ID: 107, Name: "Advanced Plus - Primary: Replacement", InventoryType: 3, Tier: 3},
	}
}

func defaultBuckets() []Bucket {
	return []Bucket{
		{ProductID: 1, Quantity: 100},
		{ProductID: 29, Quantity: 100},
		{ProductID: 54, Quantity: 100},
		{ProductID: 55, Quantity: 100},
		{ProductID: 106, Quantity: 100, InventoryType: 3, ProductTier: 3, ProductMapping: []int{1, 29},
			Subscription: true, Virtual: true},
	}
}

func defaultCountries() []Country {
	return []Country{
		{"US", "United States"}, {"CA", "Canada"}, {"GB", "United Kingdom"}, {"IE", "Ireland"},
		{"DE", "Germany"}, {"FR", "France"}, {"NL", "Netherlands"}, {"SE", "Sweden"},
		{"NO", "Norway"}, {"DK", "Denmark"}, {"FI", "Finland"},
	}
}

// Close shuts the server down. It is safe to call more than once.
func (s *Server) Close() { s.srv.Close() }

// URL returns the API base URL, e.g. "http://127.0.0.1:1234/v1". The JWKS are
// on the host root, URL minus "/v1".
func (s *Server) URL() string { return s.srv.URL + "/v1" }

// Token returns the API token [Server.Client] uses.
func (s *Server) Token() string { return s.token }

// Client returns a production client for the fake with a valid token, using
// the server's HTTP client and no retries unless opts say otherwise (opts are
// applied after the defaults). It panics if an option is invalid.
func (s *Server) Client(opts ...yubico.Option) *yubico.Client {
	all := append([]yubico.Option{yubico.WithHTTPClient(s.srv.Client()), yubico.WithRetryPolicy(yubico.NoRetries())}, opts...)
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

// AddToken makes the fake accept another API token.
func (s *Server) AddToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tokens[token]; !ok && token != "" {
		id, err := s.newIDLocked()
		if err != nil {
			id = "user"
		}
		s.tokens[token] = id
	}
}

// RevokeToken makes the fake refuse a token (401).
func (s *Server) RevokeToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, token)
}

// SetInventory sets the quantity of the bucket productID, creating a plain
// stock bucket if there is none.
func (s *Server) SetInventory(productID, quantity int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.bucketLocked(productID); b != nil {
		b.Quantity = quantity
		return
	}
	s.buckets = append(s.buckets, &Bucket{ProductID: productID, Name: s.productNameLocked(productID), Quantity: quantity, InventoryType: 1})
}

// Inventory returns the current buckets.
func (s *Server) Inventory() []Bucket {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Bucket, len(s.buckets))
	for i, b := range s.buckets {
		out[i] = *b
		out[i].ProductMapping = append([]int(nil), b.ProductMapping...)
	}
	return out
}

// AddCountry allows shipping to another country.
func (s *Server) AddCountry(c Country) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.countryAllowedLocked(c.Code) {
		s.countries = append(s.countries, c)
	}
}

// AddDeniedParty puts a name on the denied-party list.
func (s *Server) AddDeniedParty(name string) {
	if normName(name) == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[normName(name)] = true
}

// AddAddressRule adds an undeliverable-address rule.
func (s *Server) AddAddressRule(r AddressRule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append(s.rules, r)
}

// FailNext makes the next n HTTP requests (any route) fail with status and,
// if retryAfter > 0, a Retry-After header in whole seconds.
func (s *Server) FailNext(n, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failNext = append(s.failNext, failure{status, retryAfter})
	}
}

// DropNext makes the next n HTTP requests end with a dropped connection (no
// response).
func (s *Server) DropNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropNext += n
}

// SetLatency delays every response by d of real time (0 to stop), or until
// the request is cancelled; use it with client timeouts and contexts.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// RequestLog returns every request served so far, in order.
func (s *Server) RequestLog() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// statusWriter records the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the status.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap returns the wrapped writer (for http.ResponseController).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Write records an implicit 200.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	latency := s.latency
	var fail *failure
	drop := false
	switch {
	case s.dropNext > 0:
		s.dropNext--
		drop = true
	case len(s.failNext) > 0:
		f := s.failNext[0]
		s.failNext = s.failNext[1:]
		fail = &f
	}
	var planned HTTPFault
	if !drop && fail == nil {
		switch planned = s.planFaultLocked(r); planned {
		case HTTPFaultTooManyRequests:
			fail = &failure{http.StatusTooManyRequests, s.httpFaults.RetryAfter}
		case HTTPFaultInternalError:
			fail = &failure{status: http.StatusInternalServerError}
		case HTTPFaultBadGateway:
			fail = &failure{status: http.StatusBadGateway}
		case HTTPFaultUnavailable:
			fail = &failure{status: http.StatusServiceUnavailable}
		case HTTPFaultLatency:
			latency += s.httpFaults.Latency
		case HTTPFaultDrop:
			drop = true
		}
	}
	_, authorized := s.tokens[bearer(r)]
	entry := Request{Time: s.now, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Authorized: authorized,
		IdempotencyKey: r.Header.Get(yubico.IdempotencyKeyHeader), Fault: planned}
	s.mu.Unlock()

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		s.mu.Lock()
		entry.Status = sw.status
		entry.Replayed = sw.status == http.StatusOK && sw.Header().Get(yubico.IdempotentReplayedHeader) == "true"
		s.log = append(s.log, entry)
		s.mu.Unlock()
	}()
	switch {
	case drop:
		dropConnection(w)
		return
	case fail != nil:
		if fail.retryAfter > 0 {
			w.Header().Set("Retry-After", fmt.Sprint(int((fail.retryAfter+time.Second-1)/time.Second)))
		}
		writeError(sw, fail.status, "injected_fault", fmt.Sprintf("yubicotest: injected failure for %s %s", r.Method, r.URL.Path))
		return
	}
	if strings.HasPrefix(r.URL.Path, "/v1/") && !authorized {
		writeError(sw, http.StatusUnauthorized, "unauthorized", "missing or invalid API token")
		return
	}
	if planned == HTTPFaultDropResponse {
		dw := &discardWriter{header: http.Header{}}
		s.route(dw, r)
		sw.status = dw.status
		if dw.header.Get(yubico.IdempotentReplayedHeader) == "true" {
			sw.Header().Set(yubico.IdempotentReplayedHeader, "true")
		}
		dropConnection(w)
		return
	}
	s.route(sw, r)
}

// bearer returns the bearer token of r, or "".
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// newID returns a 22-character ID in the shortuuid alphabet Yubico's IDs
// appear to use.
func (s *Server) newID() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newIDLocked()
}

const idAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

func (s *Server) newIDLocked() (string, error) {
	var b [22]byte
	for i := range b {
		c, err := s.randIntLocked(len(idAlphabet))
		if err != nil {
			return "", err
		}
		b[i] = idAlphabet[c]
	}
	return string(b[:]), nil
}

// randIntLocked returns a uniform integer in [0, n), n ≤ 256.
func (s *Server) randIntLocked(n int) (int, error) {
	limit := 256 - 256%n
	var b [1]byte
	for {
		if _, err := io.ReadFull(s.rand, b[:]); err != nil {
			return 0, fmt.Errorf("yubicotest: read randomness: %w", err)
		}
		if int(b[0]) < limit {
			return int(b[0]) % n, nil
		}
	}
}

// seedLocked derives an independent deterministic stream for a simulated key.
func (s *Server) seedLocked() (io.Reader, error) {
	var seed [32]byte
	if _, err := io.ReadFull(s.rand, seed[:]); err != nil {
		return nil, fmt.Errorf("yubicotest: read randomness: %w", err)
	}
	return &lockedReader{r: mrand.NewChaCha8(seed)}, nil
}

// lockedReader makes a ChaCha8 safe for concurrent use.
type lockedReader struct {
	mu sync.Mutex // guards r
	r  *mrand.ChaCha8
}

// Read reads from the stream under the lock.
func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

func (s *Server) bucketLocked(id int) *Bucket {
	for _, b := range s.buckets {
		if b.ProductID == id {
			return b
		}
	}
	return nil
}

func (s *Server) productLocked(id int) (yubico.Product, bool) {
	for _, p := range s.products {
		if p.ID == id {
			return p, true
		}
	}
	return yubico.Product{}, false
}

func (s *Server) productNameLocked(id int) string {
	if p, ok := s.productLocked(id); ok {
		return p.Name
	}
	return fmt.Sprintf("Product %d", id)
}

func (s *Server) countryAllowedLocked(code string) bool {
	for _, c := range s.countries {
		if c.Code == code {
			return true
		}
	}
	return false
}

func normName(n string) string { return strings.ToLower(strings.Join(strings.Fields(n), " ")) }

func isAlpha2(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

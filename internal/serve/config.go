package serve

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/preenroll/preenroll/console"
	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/webauthn"
	"github.com/preenroll/preenroll/yubico"
)

// Defaults of [Config].
const (
	DefaultListen          = "localhost:8080"
	DefaultHookPath        = "/hooks/okta"
	DefaultHookQueue       = 1000
	DefaultHookWorkers     = 4
	DefaultSyncInterval    = 5 * time.Minute
	DefaultSyncJitter      = 30 * time.Second
	DefaultCatchUpInterval = 5 * time.Minute
	DefaultShutdownTimeout = 25 * time.Second
	DefaultReadyWindow     = 5 * time.Minute
	DefaultHTTPTimeout     = 30 * time.Second
	DefaultAbandonGrace    = 10 * time.Second
	DefaultDemoUsers       = 6
	DefaultDemoDay         = 10 * time.Second
	DefaultDemoSyncEvery   = time.Second
	// DefaultDemoTick is how often (wall time) the demo's fake clock
	// moves, by DemoDay's share of a fake day.
	DefaultDemoTick = 100 * time.Millisecond
)

// ErrConfig is wrapped by the errors of [Run] about its configuration.
var ErrConfig = errors.New("serve: invalid configuration")

// Config configures [Run]. The secrets (HookSecret, OktaToken,
// YubicoToken) are okta.Secret values, redacted in every formatting. With OktaOrg empty, Run starts the embedded
// demo: in-process fakes of Okta and Yubico with simulated keys, seeded
// users and a fast clock; the Okta, Yubico and hook settings are then
// ignored.
type Config struct {
	// Listen is the address of the HTTP server (event hook, /healthz,
	// /readyz, /metrics); default localhost:8080. ":0" picks a free port.
	Listen string
	// HookPath is where the Okta event hook is served (default /hooks/okta).
	HookPath string
	// TLSCertFile and TLSKeyFile, set together, make serve answer https
	// on Listen itself (no TLS-terminating proxy in front): a PEM
	// certificate chain, the server's certificate first, and its private
	// key. Run refuses to start when the pair does not load
	// ([CheckTLSFiles]), and reloads it when the files change (a renewal
	// in place), looking at their modification times at most every
	// [CertCheckInterval]; a renewed pair that does not load is logged and
	// the previous one kept. TLS 1.2 at least, Go's defaults otherwise;
	// HTTP/2 is offered.
	TLSCertFile, TLSKeyFile string
	// PublicURL is the server's base URL as Okta reaches it; default
	// http://<the listening address> (https:// with TLSCertFile). With
	// TLSCertFile it must be https.
	PublicURL string
	// RegisterHook makes serve register its event hook in the org at
	// PublicURL + HookPath at start (okta's EnsureEventHook: created or
	// updated, activated and verified; safe from several instances). The
	// service app needs the okta.eventHooks.manage scope. Without it the
	// hook is set up in the Admin Console.
	RegisterHook bool
	// HookSecret is the value of the Authorization header Okta's event
	// hook sends (required with an org; read from a file, never a flag).
	HookSecret okta.Secret
	// HookQueue bounds the events accepted and not yet recorded (default
	// 1000); a delivery that does not fit is answered 503.
	HookQueue int
	// HookWorkers record queued events (default 4).
	HookWorkers int

	// OktaOrg is the Okta org URL; empty runs the embedded demo.
	OktaOrg string
	// OktaToken is the API token (SSWS), unless OktaOptions has
	// okta.WithOAuth (then leave it empty).
	OktaToken okta.Secret
	// OktaOptions are passed to okta.NewClient after serve's own (its
	// instrumented HTTP client and clock): okta.WithOAuth for a service app.
	OktaOptions []okta.Option
	// SystemLogOptions, if not nil, make a client of its own for reading
	// Okta's System Log (the catch-up, see CatchUpInterval), passed to
	// okta.NewClient after OktaOptions: okta.WithOAuth asking for the
	// okta.logs.read scope only, so that a service app without that grant
	// fails the catch-up alone. Nil: the catch-up uses the Okta client.
	SystemLogOptions []okta.Option
	// YubicoAPI is the YubiEnterprise API base URL (default
	// yubico.DefaultBaseURL), YubicoJWKS where Yubico publishes its keys
	// (default: the client's), YubicoToken the API token. Without a token
	// serve runs order-only: it records orders from events, and another
	// program sharing the store runs Sync.
	YubicoAPI, YubicoJWKS string
	YubicoToken           okta.Secret
	// YubicoOptions are passed to yubico.NewClient after serve's own.
	YubicoOptions []yubico.Option
	// HTTPTimeout bounds one HTTP request to Okta or Yubico (default 30 s).
	HTTPTimeout time.Duration

	// Store is the SQLite file of the records; empty keeps them in memory
	// (the demo's default; refused with an org, where a restart must not
	// forget keys in flight).
	Store string
	// StoreBackend, if set, is an open store used instead of Store (a
	// fulfillment/pgstore for several machines, say); Run does not close it.
	// A wrapper around a store of this module must also forward its
	// optional interfaces (a struct embedding fulfillment.Store hides
	// them): without fulfillment.EventChecker an event whose order could
	// not be saved is marked handled, so that neither the hook queue's
	// retries nor the catch-up record it; without
	// fulfillment.DocumentStore the catch-up checkpoint lives in this
	// process only (the first catch-up after a restart reads nothing,
	// missing the orders placed while serve was down), and the console's
	// batches and audit trail too.
	StoreBackend fulfillment.Store
	// RPIDs are the relying-party IDs (default: [DefaultRPID] of OktaOrg;
	// the demo's fake org's otherwise). Each must pass
	// webauthn.RPIDProblem: an org at an IP address (a local fake) needs
	// them set, as WebAuthn refuses an IP address as RP ID.
	RPIDs []string
	// Item is what an event that names none orders; the console's order
	// form starts with it.
	Item fulfillment.Item
	// Concurrency is how many users a Sync works on at once (default 4).
	Concurrency int
	// Lease is how long an in-flight step is reserved for this instance
	// (default fulfillment.DefaultLease); another instance on the same
	// store resumes it after that. The records a Sync pass of this
	// instance checked are left to it by the other instances for
	// SyncInterval + SyncJitter + Lease (fulfillment.Config.SyncClaim), so
	// that N instances make the remote calls of one; a crashed instance's
	// records are taken over after that.
	Lease time.Duration
	// IdempotentShipments: Yubico de-duplicates shipment creates by
	// Idempotency-Key (yubicotest does; the real API's support is not
	// documented). See fulfillment.Config.
	IdempotentShipments bool
	// IdempotencyWindow is how long Yubico is taken to remember an
	// Idempotency-Key (default fulfillment.DefaultIdempotencyWindow). See
	// fulfillment.Config.
	IdempotencyWindow time.Duration

	// SyncInterval is the time between Sync passes (default 5 min), plus a
	// random extra of up to SyncJitter (default 30 s; negative: none). An
	// order this instance records starts a pass at once; one another
	// instance records (heard through the store's change feed) starts it
	// after a random delay of up to 1 s, or SyncJitter if shorter, so that
	// the syncing instances do not all start their pass at once.
	SyncInterval, SyncJitter time.Duration
	// CatchUpInterval is the time between catch-ups (default 5 min, one
	// fake day in the demo; negative: none): serve reads the orders Okta's System Log holds
	// since the previous catch-up (fulfillment.Service.CatchUp), from a
	// checkpoint kept in the store, so that an order whose event hook
	// delivery never arrived (every instance down, the store down) is
	// still fulfilled.
	CatchUpInterval time.Duration
	// ShutdownTimeout bounds the graceful shutdown after the context ends
	// (default 25 s): stop taking hooks, record the queued events, let the
	// steps under way finish; what is still running then is abandoned and
	// its leases shortened to AbandonGrace (default 10 s).
	ShutdownTimeout, AbandonGrace time.Duration
	// ReadyWindow is how recently Okta and Yubico must have answered for
	// /readyz (default 5 min); serve asks them itself when idle.
	ReadyWindow time.Duration

	// Console is the administrators' web console (package console),
	// mounted at "/". With an org it is on when Console.ClientID is set;
	// the demo always mounts it (its own OIDC app at the fake org) unless
	// Console.Off.
	Console Console

	// DemoUsers is how many users the embedded demo seeds and orders keys
	// for (default 6); DemoDay the wall time of one fake day (default
	// 10 s); the demo's SyncInterval defaults to 1 s.
	DemoUsers int
	DemoDay   time.Duration

	// Logger receives serve's and the Service's JSON logs (default: JSON on
	// stderr).
	Logger *slog.Logger
	// Stdout receives the start-up banner (URLs to open); nil: none.
	Stdout io.Writer
	// OnListen, if set, is called with the server's base URL once it
	// listens (tests, and programs that print it their own way).
	OnListen func(baseURL string)

	// eventDone, if set, is called after each queued event (tests).
	eventDone func(fulfillment.HookEvent, fulfillment.EventOutcome)
	// caughtUp, if set, is called after each catch-up (tests).
	caughtUp func(fulfillment.CatchUpReport, error)
	// demoTick is how often the demo's fake clock moves (default
	// DefaultDemoTick); demoTicked, if set, is called after each tick with
	// whether the clock moved (tests).
	demoTick   time.Duration
	demoTicked func(moved bool)
	// tlsNow is the clock of the TLS certificate's reload checks and of
	// the pacing of failed handshakes' warnings (default time.Now; tests).
	tlsNow func() time.Time
	// started, if set, is called with the server before OnListen (tests).
	started func(*server)
	// probed, if set, is called after probeLoop looked at a vendor: err is
	// its probe's, nil when the vendor answered recently and was not asked
	// (tests).
	probed func(vendor string, err error)
	// syncRand draws the Sync loop's random delays, SyncJitter's and
	// another instance's order's wake (fulfillment.RunOptions.Rand), in
	// [0, n) (default rand.N; tests).
	syncRand func(n time.Duration) time.Duration
}

// Console configures the web console [Run] mounts at "/": sign-in with an
// Okta OIDC web app of the org authorization server (issuer: the org URL).
type Console struct {
	// Off keeps the console unmounted even when configured.
	Off bool
	// ClientID and ClientSecret are the OIDC web app's credentials; with
	// an org, an empty ClientID leaves the console off (logged).
	ClientID     string
	ClientSecret okta.Secret
	// RedirectURL is the app's sign-in redirect URI; default PublicURL (or
	// http://<the listening address>, https:// with Config.TLSCertFile) +
	// "/auth/callback".
	RedirectURL string
	// AdminGroup (required) may act; ReadOnlyGroup (optional) may look.
	AdminGroup, ReadOnlyGroup string
	// SessionKey seals the session cookies: at least 32 bytes, the same
	// for every instance behind one address. Empty: a random key for this
	// process, with a warning (sessions end at a restart).
	SessionKey okta.Secret
	// AuditRetention is how long the console's audit trail is kept in
	// the store (console.NewStoreAudit): default
	// console.DefaultAuditRetention (400 days); negative: kept for ever;
	// otherwise at least MinAuditRetention. In the demo it is wall time,
	// as its batches' retention is.
	AuditRetention time.Duration
}

// MinAuditRetention is the shortest Console.AuditRetention: a shorter one
// is taken for a mistake that would delete the audit trail.
const MinAuditRetention = 24 * time.Hour

// ConsoleEnabled reports whether [Run] mounts the console: unless
// Console.Off, always in the demo, and with an org when Console.ClientID
// is set. It is the rule Run applies, for a program that must tell ahead
// (a preflight check); c need not have its defaults applied.
func (c *Config) ConsoleEnabled() bool {
	return !c.Console.Off && (c.Demo() || c.Console.ClientID != "")
}

// CatchUpEnabled reports whether [Run] catches up from Okta's System Log
// (see CatchUpInterval): unless CatchUpInterval is negative. It is the
// rule Run applies, for a program that must tell ahead; c need not have
// its defaults applied (a zero interval is the default one).
func (c *Config) CatchUpEnabled() bool { return c.CatchUpInterval >= 0 }

// Demo reports whether c runs the embedded demo (no Okta org).
func (c *Config) Demo() bool { return c.OktaOrg == "" }

// CheckHookPath checks a [Config.HookPath] as [Run] does at start: an
// absolute path without a query, fragment or space, and none of serve's
// own endpoints (/healthz, /readyz, /metrics, /status, /).
func CheckHookPath(p string) error {
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?# ") {
		return errors.New("want an absolute path like /hooks/okta")
	}
	if slices.Contains([]string{"/healthz", "/readyz", "/metrics", "/status", "/"}, p) {
		return errors.New("taken by serve's own endpoint")
	}
	return nil
}

// DefaultRPID is the relying-party ID [Run] registers keys for when
// Config.RPIDs is empty: the host name of the org URL, in lower case ("" if
// orgURL has none). It may be no valid RP ID (an IP address):
// Run then refuses to start.
func DefaultRPID(orgURL string) string {
	u, err := url.Parse(orgURL)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// Check validates c as [Run] does at start, before it listens or opens
// anything (the TLS files aside), and returns the error Run would return:
// it wraps ErrConfig and names every bad field, the Service's settings
// (fulfillment.Config.CheckSettings) among them. c need not have its
// defaults applied. It is for a program that must tell ahead (a preflight
// check).
func (c Config) Check() error {
	_, err := c.withDefaults()
	return err
}

// fulfillmentSettings is the Service's configuration as Run takes it from
// c, without the clients and the store it makes at start.
func (c *Config) fulfillmentSettings() fulfillment.Config {
	return fulfillment.Config{
		RPIDs: c.RPIDs, Defaults: c.Item, Concurrency: c.Concurrency, Lease: c.Lease,
		Logger: c.Logger, EventHookSecret: c.HookSecret, IdempotentShipments: c.IdempotentShipments, IdempotencyWindow: c.IdempotencyWindow,
		// A record this instance checked stays with it until its next
		// pass is certainly over: N instances make one instance's calls.
		SyncClaim: c.SyncInterval + max(c.SyncJitter, 0) + cmp.Or(c.Lease, fulfillment.DefaultLease),
	}
}

// checkFulfillment checks the Service's settings as fulfillment.New
// will, and returns the problem or "", naming c's fields: Item (the
// Service's Defaults) here, and not the ones withDefaults checks itself
// under their own names (HookSecret, Lease, SyncInterval: the Service's
// EventHookSecret, Lease and SyncClaim), which would be reported twice,
// once under a name Config does not have. A problem of the default RP ID
// says where it came from. rpIDs are the relying-party IDs it checked
// (RPIDs, or their default).
func (c *Config) checkFulfillment() (rpIDs []string, problem string) {
	fc := c.fulfillmentSettings()
	fc.EventHookSecret = ""             // HookSecret (the demo's fake org has its own)
	fc.Lease = max(fc.Lease, 0)         // "AbandonGrace and Lease"
	fc.SyncClaim = max(fc.SyncClaim, 0) // SyncInterval, Lease
	fc.Defaults = fulfillment.Item{}    // Item, below
	if c.Item != (fulfillment.Item{}) {
		if err := c.Item.Validate(); err != nil {
			return nil, fmt.Sprintf("Item: %v", err)
		}
	}
	if c.Demo() {
		// The demo's fake org has its RP ID unless RPIDs are set.
		if len(fc.RPIDs) == 0 {
			fc.RPIDs = []string{fulfillmenttest.DefaultRPID}
		}
	} else if len(c.RPIDs) == 0 {
		def := DefaultRPID(c.OktaOrg)
		if def == "" {
			return nil, fmt.Sprintf("OktaOrg %q: want an absolute https URL (its host is the default of RPIDs)", c.OktaOrg)
		}
		if p := webauthn.RPIDProblem(def); p != "" {
			return nil, fmt.Sprintf("RPIDs: none set, and the default, OktaOrg's host %q, is no valid RP ID: %s (set RPIDs to the org's domain name)", def, p)
		}
		fc.RPIDs = []string{def}
	}
	if err := fc.CheckSettings(); err != nil {
		return nil, err.Error()
	}
	return fc.RPIDs, ""
}

// withDefaults returns c with defaults applied, or an error naming every
// bad field.
func (c Config) withDefaults() (Config, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.HookPath == "" {
		c.HookPath = DefaultHookPath
	}
	defInt(&c.HookQueue, DefaultHookQueue)
	defInt(&c.HookWorkers, DefaultHookWorkers)
	defInt(&c.DemoUsers, DefaultDemoUsers)
	if c.SyncInterval == 0 && c.Demo() {
		c.SyncInterval = DefaultDemoSyncEvery
		if c.SyncJitter == 0 {
			c.SyncJitter = DefaultDemoSyncEvery / 4
		}
	}
	def(&c.SyncInterval, DefaultSyncInterval)
	def(&c.SyncJitter, DefaultSyncJitter)
	def(&c.ShutdownTimeout, DefaultShutdownTimeout)
	def(&c.AbandonGrace, DefaultAbandonGrace)
	def(&c.ReadyWindow, DefaultReadyWindow)
	def(&c.HTTPTimeout, DefaultHTTPTimeout)
	def(&c.DemoDay, DefaultDemoDay)
	if c.CatchUpInterval == 0 && c.Demo() {
		// One fake day: 5 wall minutes of a fast demo day would reach
		// past the System Log's 90 days at every catch-up.
		c.CatchUpInterval = c.DemoDay
	}
	def(&c.CatchUpInterval, DefaultCatchUpInterval)
	def(&c.demoTick, DefaultDemoTick)
	if c.tlsNow == nil {
		c.tlsNow = time.Now
	}
	if c.syncRand == nil {
		c.syncRand = rand.N[time.Duration]
	}
	if c.YubicoAPI == "" {
		c.YubicoAPI = yubico.DefaultBaseURL
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	c.Logger = slog.New(requestIDHandler{c.Logger.Handler()})

	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if err := CheckHookPath(c.HookPath); err != nil {
		bad("HookPath %q: %v", c.HookPath, err)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		bad("TLSCertFile and TLSKeyFile: set both (serve answers https) or neither")
	}
	if c.PublicURL != "" {
		switch u, err := url.Parse(c.PublicURL); {
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			bad("PublicURL %q: want an absolute http(s) URL", c.PublicURL)
		case u.Scheme == "http" && c.TLSCertFile != "":
			bad("PublicURL %q with TLSCertFile: serve answers https, so its public URL is https (an http one would register the event hook, and put the console's sign-in and cookies, on plain http)", c.PublicURL)
		}
	}
	positive := map[string]time.Duration{"SyncInterval": c.SyncInterval, "ShutdownTimeout": c.ShutdownTimeout,
		"ReadyWindow": c.ReadyWindow, "HTTPTimeout": c.HTTPTimeout, "DemoDay": c.DemoDay}
	for name, d := range positive {
		if d < 0 {
			bad("%s %v: must be positive", name, d)
		}
	}
	if c.SyncJitter < 0 {
		c.SyncJitter = 0 // none
	}
	if c.AbandonGrace < 0 || c.Lease < 0 {
		bad("AbandonGrace and Lease must not be negative")
	}
	if c.HookQueue < 1 || c.HookQueue > 1_000_000 {
		bad("HookQueue %d: want 1 to 1000000", c.HookQueue)
	}
	if c.HookWorkers < 1 || c.HookWorkers > 64 {
		bad("HookWorkers %d: want 1 to 64", c.HookWorkers)
	}
	if c.Demo() {
		if c.DemoUsers < 0 || c.DemoUsers > 1000 {
			bad("DemoUsers %d: want 0 to 1000", c.DemoUsers)
		}
	} else {
		if c.HookSecret == "" {
			bad("HookSecret: required with an Okta org (the Authorization value of the event hook, read from a file)")
		} else if len(c.HookSecret) < fulfillment.MinEventHookSecret || strings.ContainsAny(c.HookSecret.Reveal(), "\r\n") {
			bad("HookSecret: want one line of at least %d characters", fulfillment.MinEventHookSecret)
		}
		if c.Store == "" && c.StoreBackend == nil {
			bad("Store: required with an Okta org (a SQLite file: keys in flight must survive a restart)")
		}
		if c.ConsoleEnabled() {
			if c.Console.AdminGroup == "" {
				bad("Console.AdminGroup: required with Console.ClientID (the Okta group whose members may act)")
			}
			if c.Console.RedirectURL != "" {
				if err := console.CheckRedirectURL(c.Console.RedirectURL, ""); err != nil {
					bad("Console.RedirectURL %v", err)
				}
			}
		}
	}
	if rpIDs, p := c.checkFulfillment(); p != "" {
		bad("%s", p)
	} else if !c.Demo() {
		c.RPIDs = rpIDs // the default, checked, when none are set
	}
	if c.Console.AuditRetention > 0 && c.Console.AuditRetention < MinAuditRetention {
		bad("Console.AuditRetention %v: want at least %v (or negative: kept for ever)", c.Console.AuditRetention, MinAuditRetention)
	}
	if c.ConsoleEnabled() && c.Console.SessionKey != "" && len(c.Console.SessionKey) < console.MinSessionKey {
		bad("Console.SessionKey: %d bytes, want at least %d", len(c.Console.SessionKey), console.MinSessionKey)
	}
	if len(problems) > 0 {
		return c, fmt.Errorf("%w: %s", ErrConfig, strings.Join(problems, "; "))
	}
	return c, nil
}

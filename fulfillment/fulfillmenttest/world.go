package fulfillmenttest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/internal/fakehttp"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/yubico"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// DefaultRPID is the relying-party ID (the Okta org's host name) the
// World's Service registers keys for, unless [WithConfig] sets
// Config.RPIDs.
const DefaultRPID = "example.okta.com"

// TB is where a [World] reports a failure. *testing.T and *testing.B
// satisfy it; [LogFatal] is the one for Example functions and programs.
// Fatalf must not return (testing.T's stops the test's goroutine); if it
// does, the failing method returns zero values. When the TB also has a
// Cleanup(func()) method, as testing.TB does, the World is closed at the
// end of the test.
type TB interface {
	// Helper marks the calling function as a test helper.
	Helper()
	// Fatalf reports a failure and stops the test (or program).
	Fatalf(format string, args ...any)
}

// LogFatal is a [TB] for Example functions and programs, which have no
// *testing.T: a failure is logged with [log.Fatalf], which exits. Close the
// World when done.
type LogFatal struct{}

// Helper does nothing.
func (LogFatal) Helper() {}

// Fatalf logs the failure and exits.
func (LogFatal) Fatalf(format string, args ...any) { log.Fatalf(format, args...) }

// World is a fake Okta org and a fake Yubico on one fake clock, with a
// [fulfillment.Service] between them, on loopback. The fields give the
// parts to a test that needs more than the World's methods.
//
// A test of the Service its program builds (its Config, its store) starts
// the World [WithService]: the World hands its Config to the test's
// function, drives the Service it returns and registers that Service's
// event hook, so orders made at Okta reach it. A test may also replace
// Service later (say, by one built from Config with another Store, to
// restart the program) and Config to match: the methods use the new ones,
// while the event hook stays with the Service the World started with:
// orders made at Okta reach that one, which records them in its own store
// (start the World WithoutEventHook when the new Service takes Okta's
// events, and register its handler at w.Okta: see the event hook Example).
// Set Config too when the new Service's RPIDs differ (World.SignIn signs in
// for Config.RPIDs[0]); its Store may stay the World's (World.Parcel then
// asks Service). Mind the World's defaults a Config of your own may not
// share (see [WithConfig]): with IdempotentShipments off, a shipment create
// whose outcome is unknown (a 5xx, a dropped connection) errors the record
// for a person instead of being sent again.
//
// Every method reports a failure to the World's [TB] and does not return
// then, so a test reads as its steps. A World is safe for concurrent use
// as far as its parts are (a Service, both fakes and their clients are).
type World struct {
	// Okta is the fake Okta org: users, enrollments, the outbox (the
	// users' mailboxes), events, faults.
	Okta *oktatest.Server
	// Yubico is the fake Yubico: shipments, the factory, parcels, faults.
	Yubico *yubicotest.Server
	// OktaClient is the Service's client of the fake Okta.
	OktaClient *okta.Client
	// YubicoClient is the Service's client of the fake Yubico.
	YubicoClient *yubico.Client
	// Service runs the lifecycle; its Clock is Yubico's fake clock.
	Service *fulfillment.Service
	// Config is what Service was built with: copy it to build another
	// instance (another Store, another Lease...).
	Config fulfillment.Config

	tb        TB
	hc        *http.Client
	hook      *httptest.Server
	closeOnce sync.Once

	mu     sync.Mutex
	logins map[string]string // lower-case login → Okta user ID, of the users the World seeded
}

// settings are what the Options set.
type settings struct {
	seed         uint64
	store        fulfillment.Store
	users        []User
	okta         []oktatest.Option
	yubico       []yubicotest.Option
	oktaClient   []okta.Option
	yubicoClient []yubico.Option
	config       []func(*fulfillment.Config)
	noHook       bool
	httpTimeout  time.Duration
	build        func(*fulfillment.Config) (*fulfillment.Service, error) // nil: fulfillment.New
	invalid      string                                                  // an option's argument is invalid: the failure
}

// An Option configures a [World].
type Option func(*settings)

// WithSeed seeds every source of randomness of the World (the fakes' IDs,
// PINs and keys, the Service's idempotency keys); the default is 1. The
// same seed and the same calls make the same world.
func WithSeed(seed uint64) Option { return func(s *settings) { s.seed = seed } }

// WithStore sets the Service's store (default: a new
// [fulfillment.NewMemoryStore]). The World does not close it.
func WithStore(store fulfillment.Store) Option { return func(s *settings) { s.store = store } }

// WithUsers seeds users in the fake Okta org when the World starts, as
// [World.AddUser] does.
func WithUsers(users ...User) Option {
	return func(s *settings) { s.users = append(s.users, users...) }
}

// WithOkta passes options to the fake Okta org (rate limits, faults, a
// fault plan, an event callback...). They apply after the World's own:
// the seeded randomness, Yubico's clock and the simulated keys'
// attestation roots.
func WithOkta(opts ...oktatest.Option) Option {
	return func(s *settings) { s.okta = append(s.okta, opts...) }
}

// WithYubico passes options to the fake Yubico (inventory, timing, address
// rules, faults...). They apply after the World's seeded randomness.
func WithYubico(opts ...yubicotest.Option) Option {
	return func(s *settings) { s.yubico = append(s.yubico, opts...) }
}

// WithOktaClient passes options to the Service's Okta client (a retry
// policy, an HTTP client...), after the World's own HTTP client.
func WithOktaClient(opts ...okta.Option) Option {
	return func(s *settings) { s.oktaClient = append(s.oktaClient, opts...) }
}

// WithYubicoClient passes options to the Service's Yubico client, after
// the World's own HTTP client.
func WithYubicoClient(opts ...yubico.Option) Option {
	return func(s *settings) { s.yubicoClient = append(s.yubicoClient, opts...) }
}

// WithHTTPTimeout sets the timeout of the clients' HTTP requests (default
// 30 s, real time).
func WithHTTPTimeout(d time.Duration) Option { return func(s *settings) { s.httpTimeout = d } }

// WithConfig changes the Service's configuration before the Service is
// built (Concurrency, Lease, Logger, RPIDs, IdempotentShipments...). The
// World's defaults are: the clients above, the store, RPIDs
// [DefaultRPID], Defaults product 1 with inventory product 106 and
// customization RXJN83, Clock the fake clock, seeded Rand, an
// EventHookSecret, and IdempotentShipments (yubicotest honours
// Idempotency-Key).
func WithConfig(change func(*fulfillment.Config)) Option {
	return func(s *settings) { s.config = append(s.config, change) }
}

// WithService builds the World's Service with build instead of
// [fulfillment.New], for a test of the Service a program builds (its own
// store, its settings). build gets the Config the World would use (the
// clients of both fakes, the store of [WithStore] or a memory store, Clock
// the fake clock, the seeded Rand, the EventHookSecret, the changes of
// [WithConfig]), may change it (its Store: a SQLite store in t.TempDir(),
// say), and returns the Service built from it. The World then keeps the
// changed Config as World.Config (so that World.SignIn and World.Parcel use
// its RPIDs and Store: build from *cfg, or set *cfg to the Config you built
// from), drives the Service as World.Service, and, unless
// [WithoutEventHook], registers the Service's event hook at the fake Okta
// with Config.EventHookSecret. An error from build, or a nil Service, fails
// the test. Open a store build uses before calling [New] (and close it in a
// Cleanup registered then): the World is closed, and Okta's last deliveries
// to the hook answered, before it.
func WithService(build func(cfg *fulfillment.Config) (*fulfillment.Service, error)) Option {
	return func(s *settings) {
		if build == nil {
			s.invalid = "WithService: nil function"
		}
		s.build = build
	}
}

// WithoutEventHook does not register the Service's event hook with the
// fake Okta org. By default it is registered (subscribed to
// system.mfa.preregister.initiate), so an order made at Okta directly
// reaches the Service as it does in production.
func WithoutEventHook() Option { return func(s *settings) { s.noHook = true } }

// New starts a World for t: the fake Yubico, the fake Okta org on
// Yubico's clock and trusting the simulated keys' attestation roots, the
// Service with clients to both (or the test's own: [WithService]), and
// (unless [WithoutEventHook]) the Service's event hook registered at Okta. Start-up failures fail t, and
// so does a nil option (a caller's bug, not a default): "fulfillmenttest:
// option 1 is nil" names its index in opts, from 0; a nil option given to
// [WithOkta] or [WithYubico] is named by its index among the options of
// every call of that function, in order. The World is closed at the end
// of the test when t has a Cleanup method; otherwise call [World.Close].
func New(t TB, opts ...Option) *World {
	t.Helper()
	w := &World{tb: t, logins: map[string]string{}}
	s := settings{seed: 1, httpTimeout: 30 * time.Second}
	for i, o := range opts {
		if o == nil {
			t.Fatalf("fulfillmenttest: option %d is nil", i)
			return w // for a t whose Fatalf returns: nothing started
		}
		o(&s)
	}
	if s.invalid != "" {
		t.Fatalf("fulfillmenttest: %s", s.invalid)
		return w
	}
	// Named here: the fakes' Start would count the World's own options too.
	if i := slices.IndexFunc(s.okta, func(o oktatest.Option) bool { return o == nil }); i >= 0 {
		t.Fatalf("fulfillmenttest: WithOkta: option %d is nil", i)
		return w
	}
	if i := slices.IndexFunc(s.yubico, func(o yubicotest.Option) bool { return o == nil }); i >= 0 {
		t.Fatalf("fulfillmenttest: WithYubico: option %d is nil", i)
		return w
	}
	if c, ok := t.(interface{ Cleanup(func()) }); ok {
		c.Cleanup(w.Close)
	}
	if err := w.start(s); err != nil {
		w.Close()
		t.Fatalf("fulfillmenttest: %v", err)
		return w
	}
	for _, u := range s.users {
		w.AddUser(u)
	}
	return w
}

func (w *World) start(s settings) error {
	var err error
	w.Yubico, err = yubicotest.Start(append([]yubicotest.Option{yubicotest.WithRand(newSeeded(s.seed, 1))}, s.yubico...)...)
	if err != nil {
		return fmt.Errorf("start the fake Yubico: %w", err)
	}
	w.Okta, err = oktatest.Start(append([]oktatest.Option{
		oktatest.WithRand(newSeeded(s.seed, 2)), oktatest.WithNow(w.Yubico.Now()), oktatest.WithAttestationRoots(w.Yubico.FIDOCA().Root()),
	}, s.okta...)...)
	if err != nil {
		return fmt.Errorf("start the fake Okta org: %w", err)
	}
	// The Service's workers share connections: the default two idle
	// connections per host would make every other request dial.
	w.hc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: s.httpTimeout}
	if w.OktaClient, err = w.Okta.Client(append([]okta.Option{okta.WithHTTPClient(w.hc)}, s.oktaClient...)...); err != nil {
		return fmt.Errorf("Okta client: %w", err)
	}
	w.YubicoClient = w.Yubico.Client(append([]yubico.Option{yubico.WithHTTPClient(w.hc)}, s.yubicoClient...)...)
	store := s.store
	if store == nil {
		store = fulfillment.NewMemoryStore()
	}
	w.Config = fulfillment.Config{
		Okta: w.OktaClient, Yubico: w.YubicoClient, Store: store, RPIDs: []string{DefaultRPID},
		Defaults: fulfillment.Item{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"},
		Clock:    w.Yubico.Now, Rand: newSeeded(s.seed, 3), EventHookSecret: okta.Secret(fmt.Sprintf("fulfillmenttest-hook-%016x", s.seed)),
		IdempotentShipments: true,
	}
	for _, change := range s.config {
		change(&w.Config)
	}
	if s.build == nil {
		if w.Service, err = fulfillment.New(w.Config); err != nil {
			return err
		}
	} else {
		cfg := w.Config
		svc, err := s.build(&cfg)
		switch {
		case err != nil:
			return fmt.Errorf("WithService: %w", err)
		case svc == nil:
			return errors.New("WithService: the function returned a nil Service and no error")
		}
		w.Service, w.Config = svc, cfg
	}
	if s.noHook {
		return nil
	}
	w.hook = httptest.NewServer(w.Service.EventHandler())
	ctx, cancel := context.WithTimeout(context.Background(), s.httpTimeout)
	defer cancel()
	if _, err := w.Okta.AddEventHook(ctx, w.hook.URL, w.Config.EventHookSecret.Reveal(), okta.EventTypePreregisterInitiate); err != nil {
		return fmt.Errorf("register the event hook: %w", err)
	}
	return nil
}

// Close stops the fakes and the event hook. It is safe to call more than
// once.
func (w *World) Close() {
	w.closeOnce.Do(func() {
		if w.Okta != nil {
			w.Okta.Close() // waits for its deliveries to the hook
		}
		if w.hook != nil {
			w.hook.Close()
		}
		if w.Yubico != nil {
			w.Yubico.Close()
		}
		if w.hc != nil {
			w.hc.CloseIdleConnections()
		}
	})
}

// Now returns the World's time: the fake Yubico's clock, which is the
// Service's.
func (w *World) Now() time.Time { return w.Yubico.Now() }

// Advance moves both fakes' clocks forward by d, running every shipment
// transition due on the way. It does not run Sync.
func (w *World) Advance(d time.Duration) {
	w.tb.Helper()
	w.SetNow(w.Now().Add(d))
}

// SetNow moves both fakes' clocks forward to t. A clock already past t
// stays where it is (Okta's may be ahead: its client waits out rate limits
// on the fake clock). It does not run Sync.
func (w *World) SetNow(t time.Time) {
	w.tb.Helper()
	if w.Yubico.Now().Before(t) {
		if err := w.Yubico.SetNow(t); err != nil {
			w.tb.Fatalf("fulfillmenttest: %v", err)
			return
		}
	}
	if w.Okta.Now().Before(t) {
		if err := w.Okta.SetNow(t); err != nil {
			w.tb.Fatalf("fulfillmenttest: %v", err)
		}
	}
}

// Sync runs one Service.Sync pass and returns its report; an error (the
// store failed, ctx ended) fails the test. Failures of single records are
// in the report, not failures of the test. Before and after the pass it
// waits for the event hooks (see [World.AwaitEvents]), so the pass sees
// every order made at Okta before the call, and the events the pass made
// Okta emit are handled when it returns.
func (w *World) Sync(ctx context.Context) fulfillment.SyncReport {
	w.tb.Helper()
	w.AwaitEvents(ctx)
	rep, err := w.Service.Sync(ctx)
	if err != nil {
		w.tb.Fatalf("fulfillmenttest: Sync: %v", err)
	}
	w.AwaitEvents(ctx)
	return rep
}

// AwaitEvents waits until the fake Okta's event hooks (the Service's, and
// any a test added) have answered every event Okta emitted before the
// call, retries included. Okta delivers event hooks asynchronously: a call
// that makes Okta emit an event (Service.Order, an order made at Okta)
// returns before the hook has the event, so a test that looks at what the
// hook did waits here first. [World.Sync] and [World.Status] (and the
// methods built on them) already do. It fails the test if ctx ends first.
func (w *World) AwaitEvents(ctx context.Context) {
	w.tb.Helper()
	if _, err := w.Okta.AwaitQueuedDeliveries(ctx); err != nil {
		w.fail("AwaitEvents: %v", err)
	}
}

// fail reports a failure (with the package prefix).
func (w *World) fail(format string, args ...any) {
	w.tb.Helper()
	w.tb.Fatalf("fulfillmenttest: "+format, args...)
}

// newSeeded returns stream n of seed, safe for concurrent use.
func newSeeded(seed uint64, n byte) io.Reader {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:8], seed)
	key[8] = n
	copy(key[9:], "fulfillmenttest")
	return fakehttp.NewSeededReader(key)
}

// lower is the case-folded key of a login.
func lower(login string) string { return strings.ToLower(login) }

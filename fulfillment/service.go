package fulfillment

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/preenroll/preenroll/internal/logpace"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/webauthn"
	"github.com/preenroll/preenroll/yubico"
)

// Defaults of [Config].
const (
	DefaultConcurrency  = 4
	DefaultPollInterval = time.Hour
	DefaultLease        = 2 * time.Minute
	// DefaultIdempotencyWindow is the default Config.IdempotencyWindow.
	DefaultIdempotencyWindow = 24 * time.Hour
	// MinFencedLease is the shortest Config.Lease that bounds a step's
	// remote calls; a shorter one means one instance on the store.
	MinFencedLease      = time.Second
	DefaultMaxEventBody = 1 << 20
	// MinEventHookSecret is the length (in bytes) a Config.EventHookSecret
	// that is set must have at least: it is the only thing that tells the
	// event handler a request comes from Okta.
	MinEventHookSecret = 16
	// maxConcurrency bounds Config.Concurrency.
	maxConcurrency = 256
	// jwksTTL is how long Yubico's public keys are cached.
	jwksTTL = 10 * time.Minute
)

// Errors of the Service (besides the domain's ErrOrderInFlight,
// ErrInvalidTransition, ErrInvalidShipping and ErrInvalidOrder, and the
// store's ErrRecordNotFound and ErrVersionConflict).
var (
	// ErrInvalidConfig is wrapped by the errors of [New].
	ErrInvalidConfig = errors.New("fulfillment: invalid config")
	// ErrBusy means another Service instance holds the lease on the
	// record's in-flight step; try again after the lease expires.
	ErrBusy = errors.New("fulfillment: record is being worked on by another instance")
	// ErrOutcomeUnknown means a remote call was sent but its outcome is not
	// known (transport error, 5xx, rate limit). The intent stays recorded;
	// Sync resumes it without repeating a side effect that happened.
	ErrOutcomeUnknown = errors.New("fulfillment: outcome of a remote call is unknown")
	// ErrStepFailed is wrapped by the error a [SyncReport] lists for a
	// record that became FulfillmentErrored during the pass; the record's
	// FailedStep and Reason say what failed, and [Service.Retry] resumes it.
	ErrStepFailed = errors.New("fulfillment: step failed")
)

// UserKind tells [Service.PrepareUser] how to treat a user.
type UserKind int

// The kinds of user.
const (
	// NewUser is created STAGED in Okta (activated later, after the key is
	// delivered) and put in Config.NewUsersGroupID. Its PIN goes to the
	// secondary email.
	NewUser UserKind = iota + 1
	// ExistingUser already exists in Okta (looked up by login); its
	// shipping attributes are updated and it is put in
	// Config.ExistingUsersGroupID.
	ExistingUser
)

// String returns "new user" or "existing user".
func (k UserKind) String() string {
	switch k {
	case NewUser:
		return "new user"
	case ExistingUser:
		return "existing user"
	}
	return fmt.Sprintf("UserKind(%d)", int(k))
}

// Ticker is the part of *time.Ticker that [Service.Run] (and
// [Service.RunWith]) uses, so tests can drive Run without waiting.
type Ticker interface {
	// C returns the channel the ticks arrive on.
	C() <-chan time.Time
	// Stop turns the ticker off.
	Stop()
}

type timeTicker struct{ t *time.Ticker }

func (t timeTicker) C() <-chan time.Time { return t.t.C }
func (t timeTicker) Stop()               { t.t.Stop() }

// Config configures a [Service]. Okta, Store and RPIDs are required, and
// Yubico for every Service that moves keys past the order; every other
// field has a default.
type Config struct {
	// Okta is the client for the Okta org.
	Okta *okta.Client
	// SystemLog, if not nil, is the client [Service.CatchUp] reads Okta's
	// System Log with (nil: Okta). An OAuth service app needs the
	// okta.logs.read scope for it, which no other call needs: a client of
	// its own, asking for that scope only, keeps an app without the grant
	// from failing every other call.
	SystemLog *okta.Client
	// Yubico is the client for the YubiEnterprise Delivery API. It may be
	// nil in a process that only orders (PrepareUser, Order, OrderBatch,
	// EventHandler, Status, ResendPIN) while another process, sharing the
	// Store, runs Sync; then Sync, Run and Retry, and Delete of a key with
	// a shipment, return an error wrapping ErrInvalidConfig.
	Yubico *yubico.Client
	// Store keeps the records: NewMemoryStore() or OpenSQLite(ctx, path).
	Store Store
	// RPIDs are the relying-party IDs (the Okta org host names, without
	// scheme or path) registered on every key; one enrollment per RP ID.
	// Each must pass webauthn.RPIDProblem: an IP address, in particular,
	// is refused (Okta would refuse the credentials of a key programmed
	// for it, at activation, after Yubico shipped the key).
	RPIDs []string
	// Defaults is the item ordered when Order is given none. Zero: every
	// order must name its item.
	Defaults Item
	// NewUsersGroupID and ExistingUsersGroupID are the Okta groups
	// PrepareUser puts users in; empty means no group.
	NewUsersGroupID, ExistingUsersGroupID string
	// Concurrency is how many users a batch or a Sync works on at once
	// (default 4, at most 256).
	Concurrency int
	// PollInterval is the time between Run's passes (default 1 h;
	// RunOptions.Interval may set another for RunWith), and paces the
	// checks of the records that wait for Okta or Yubico (see [Service]).
	PollInterval time.Duration
	// CatchUpEvery, if positive, makes Run catch up from Okta's System Log
	// ([Service.CatchUpFromCheckpoint]) after its first pass and then every
	// CatchUpEvery (a ticker of its own, from NewTicker), and after a
	// pass when that long has gone by: the orders whose event hook
	// delivery never arrived; an order found starts a pass. An OAuth
	// service app needs the okta.logs.read scope for it (see SystemLog).
	// Zero: Run does not catch up.
	CatchUpEvery time.Duration
	// Clock returns the current time (default time.Now).
	Clock func() time.Time
	// Rand is the source of idempotency keys, instance IDs and the choice
	// of Yubico transport key (default crypto/rand).
	Rand io.Reader
	// Logger receives one record per step (default: discard). PINs, tokens
	// and the sealed requests and responses are never logged.
	Logger *slog.Logger
	// EventHookSecret is the Authorization header value Okta event hooks
	// must carry: empty (the event handler refuses every event) or at
	// least [MinEventHookSecret] bytes. It is redacted in fmt and
	// log/slog output.
	EventHookSecret okta.Secret

	// Lease is how long an in-flight step is reserved for the instance that
	// recorded it; another instance (say, the same program restarted after
	// a crash) resumes the step only after the lease has expired
	// (default 2 min). A step's remote calls are cut off (their context
	// ends) three quarters of the way through the lease its intent takes,
	// so that an instance never acts on a record after its lease has run
	// out and another instance may have taken the step over: a call that
	// waits out a rate limit or retries past that point ends with an
	// unknown outcome and is resumed by the recovery rule. The step's
	// store writes are not cut off: the result of a call that returned in
	// time is recorded, and the store's compare-and-swap refuses it if
	// another instance has taken the step over meanwhile. Set the lease
	// well above the client timeouts (Okta's and Yubico's, with their
	// retries). Programs that never run two instances on one store may set
	// a lease under a second (MinFencedLease) to resume at once after a
	// restart; such a lease does not cut calls off.
	Lease time.Duration
	// SyncClaim is how long the records a Sync pass of this instance took
	// are left to it by the Sync passes of other instances sharing the
	// Store (default: Lease). A pass takes each record it works on with a
	// compare-and-swap write of [Record.Claim], so the passes of several
	// instances work on disjoint records; a record another live instance
	// holds is skipped without a remote call (counted in SyncReport.Busy),
	// and one whose holder died is taken over once the claim expires. Set
	// it to the time between two passes of one instance plus Lease (Run's
	// interval plus RunOptions.Jitter plus Lease; serve sets its
	// -sync-interval plus -sync-jitter plus -lease) and N instances make
	// the remote calls of one: the instance that checked a record keeps it
	// while it lives.
	SyncClaim time.Duration
	// NewTicker makes Run's tickers (default: time.NewTicker): its
	// interval's, CatchUpEvery's, and one-shot ones for the wait after a
	// pass (with RunOptions.Jitter or MaxBackoff), a held record's lease
	// end and the delayed wake of another instance's order; Subscribe's
	// feed waits on it too.
	NewTicker func(time.Duration) Ticker
	// OrderRate, if positive, caps batch orders per second on top of the
	// Okta client's own rate-limit pacing.
	OrderRate rate.Limit
	// OrderBurst is OrderRate's burst (default 1).
	OrderBurst int
	// TruncateNames shortens first name, last name and organization to the
	// lengths the Okta Workflows template uses before validating them
	// (see [ShippingInfo.Truncate]). Off by default: a too-long name is
	// reported, not cut.
	TruncateNames bool
	// MaxEventBody bounds an event hook request body (default 1 MiB).
	MaxEventBody int64
	// IdempotentShipments says that Yubico de-duplicates shipment creates
	// by their Idempotency-Key header (yubicotest does; whether the real
	// YubiEnterprise API does is not documented). Then every create carries
	// the key of its recorded intent, and a create whose outcome is unknown
	// (the process died, the connection dropped) is sent again with the same
	// key and body, which returns the shipment already made. Without it a
	// create is sent exactly once, and one whose outcome is unknown is
	// marked errored with a reason asking a person to look in the Yubico
	// console before Retry: never a second key.
	IdempotentShipments bool
	// IdempotencyWindow is how long Yubico is taken to remember a create's
	// Idempotency-Key (default [DefaultIdempotencyWindow], yubicotest's
	// IdempotencyTTL; the real API publishes none). With
	// IdempotentShipments, a create whose outcome is unknown is sent again
	// with its key only while less than this has passed since its intent
	// was first recorded (before the first send, so this clock never
	// undercounts Yubico's): a key Yubico has forgotten would make a
	// second shipment. Later, as without IdempotentShipments, the record
	// is marked errored for a person to look in the Yubico console.
	IdempotencyWindow time.Duration
}

// Service runs the lifecycle of pre-enrolled YubiKeys for Okta users: it
// prepares users, orders keys (one user or a batch), reacts to Okta's
// system.mfa.preregister.initiate events, and on each [Service.Sync] moves
// every key in flight one or more steps along: enroll at Okta with Yubico's
// transport key → create the FIDO Pre-reg shipment at Yubico → poll it →
// at state 103/104 activate at Okta with every credential response paired
// to its enrollment → send the PIN (Shipped) → see the first sign-in
// (Active). Failures are marked at Okta (mark-error) and recorded with the
// failed step and the reason; [Service.Retry] resumes from there and
// [Service.Delete] cancels and deletes.
//
// A record that waits for the outside world is looked at on a schedule,
// not on every pass: it carries the time of its next check
// ([Record.NextCheck]) and Sync skips it until then, with no remote call
// and no store write ([SyncReport.NotDue]), so a pass over many keys in
// flight costs only the calls their stages need now. [Record.DueAt] is the
// one definition of when Sync acts on a record; a store that keeps it in
// an index ([DueLister]: every store in this module) gives Sync only the
// records due and a count of the others, so a pass that finds nothing due
// reads no record at all; with any other store Sync lists every record in
// flight and skips the ones not due. A shipment that has
// not shipped is read 15 minutes after its creation (Yubico validates
// addresses every 15 minutes), then half an hour after Yubico's daily
// fulfillment batch (03:00 Pacific) while it waits for it, then every max(PollInterval,
// 12 h) until it ships (Yubico recommends polling once or twice a day). A
// Shipped key's first sign-in is checked at Okta PollInterval after its
// PIN is sent, then after half the time since (since its delivery, once
// seen), at most a day apart; its shipment is read at most once per
// max(PollInterval, 12 h) until Yubico reports it delivered (state 104:
// [Record.DeliveredAt], [SyncReport.Delivered]) or the key is Active;
// other states it reaches (105 lost, 106 delivery exception) are recorded
// in [Record.ShipmentState] and the history. [Service.Check] looks at a
// key at once, [Service.Status] reconciles with Okta at once, and a
// Retry, a new order or an event is acted on at once.
//
// # Recording and resuming
//
// Every remote call that changes something is bracketed by two store
// writes: the intent (a [Step] ending in "-ing", with an idempotency key
// and a lease) before the call, the result after it. A process that dies
// anywhere leaves a record that says exactly what may have happened, and
// the next Sync (of this or another instance, once the lease has expired)
// resumes it by the step's recovery rule. One table (steps.go) holds every
// step with its rule:
//
//	step             intent             resumed by
//	initiate         Initiating         sending it again (creates nothing twice)
//	enroll           Enrolling          deleting the pending enrollments its unanswered calls made, then enrolling again
//	create shipment  ShipmentCreating   with Config.IdempotentShipments the same body and key again; else errored for a person
//	poll             (reads only)       polling again
//	activate         Activating         recording it if Okta lists the enrollments ACTIVE; else activating again
//	send PIN         PINSending         sending it again (one more email)
//	sign-in and      (reads only)       checking again
//	delivery check
//	mark error       MarkingError       marking again (404 counts as done)
//	delete           Deleting           deleting again (404 counts as done)
//
// # Other tools
//
// The Service never deletes or replaces an enrollment it did not create:
// those it created are in [Record.Enrollments], and an enroll call whose
// answer was lost is recorded ([Record.EnrollCalls]) so that the
// enrollments Okta created while it was in flight can be told apart. If
// Okta lists an enrollment in fulfillment that another tool created (the
// Okta Workflows flowpack reacting to the same order, an administrator),
// the record rests at [StepManagedElsewhere] with a reason naming it, and
// Sync leaves it alone; Delete ends the record without touching it, and
// Retry takes the order over once it is gone. Disable the flowpack when
// using this library: otherwise both ship a key for an order that reaches
// both at once. One race remains: an enrollment another tool makes while
// an enroll call of the Service is in flight and its answer is lost is
// taken for the Service's own.
//
// Credential responses are paired with enrollments by the kid in each
// response's JWE header (Okta's keyId of that enrollment), falling back to
// the order of the credential requests the Service sent (recorded in
// [Record.Enrollments]; the Okta Workflows template pairs this way) when
// Okta gave no distinct keyIds or one response's kid names no enrollment,
// never by the order of Okta's list. [Record.Pairing] and the history say
// which pairing was used and why. A pairing the evidence does not support
// (counts differ, two responses name no enrollment, the others are out of
// order) errors the record and activates nothing.
//
// A Service is safe for concurrent use. Calls on one user are serialized
// inside one instance; across instances, the store's compare-and-swap and
// the lease keep two from working on the same step, and each Sync pass
// claims the records it works on ([Record.Claim], Config.SyncClaim) so that
// the passes of several instances sharing a Store work on disjoint records.
// Create one with [New]; the zero Service is not usable.
type Service struct {
	okta   *okta.Client
	syslog *okta.Client // Config.SystemLog, or okta
	// localDocs keeps the catch-up checkpoint when the store is no
	// DocumentStore.
	localDocs    *MemoryStore
	catchUpEvery time.Duration
	yubico       *yubico.Client
	store        Store

	rpIDs               []string
	defaults            Item
	newGroup            string
	existingGroup       string
	concurrency         int
	pollInterval        time.Duration
	now                 func() time.Time
	rand                io.Reader
	log                 *slog.Logger
	hookSecret          okta.Secret
	lease               time.Duration
	syncClaim           time.Duration
	newTicker           func(time.Duration) Ticker
	limiter             *rate.Limiter // nil: no extra limit
	truncate            bool
	maxEventBody        int64
	owner               string // this instance's ID, for leases
	idempotentShipments bool
	idempotencyWindow   time.Duration

	randMu sync.Mutex // guards rand reads

	locksMu sync.Mutex           // guards locks
	locks   map[string]*userLock // per-user serialization

	keysMu     sync.Mutex // guards transport, signing, keysExpire
	transport  []webauthn.PublicJWK
	signing    []webauthn.PublicJWK
	keysExpire time.Time

	kick chan struct{} // wakes Run after an order was recorded

	draining atomic.Bool   // set by Drain: Sync starts no new step
	drained  chan struct{} // closed by Drain: Run stops waiting between passes

	watch watchers // Subscribe's subscribers (watch.go)

	refused logpace.Pacer // the event hook's unauthorized requests, for its log
}

type userLock struct {
	mu   sync.Mutex
	refs int // guarded by Service.locksMu
}

// CheckSettings reports what [New] would refuse in cfg's settings: every
// field but the clients and the store (Okta, SystemLog, Yubico, Store,
// which a program makes or opens after its settings are checked), so that
// a program can tell ahead (a preflight check). The error wraps
// ErrInvalidConfig and names every field refused, not only the first
// (see [ConfigError]). New runs it.
func (cfg Config) CheckSettings() error {
	return configError(cfg.settingsProblems(nil))
}

// ConfigError is the error of [New] and [Config.CheckSettings]: every
// problem found in a Config, each naming its field ("Okta: required",
// `RPIDs[1] "a..b": ...`). It matches [ErrInvalidConfig].
type ConfigError struct {
	Problems []string // in the order of Config's fields
}

// Error reads "fulfillment: invalid config: " and the problems, separated
// by "; ".
func (e *ConfigError) Error() string {
	return ErrInvalidConfig.Error() + ": " + strings.Join(e.Problems, "; ")
}

// Unwrap returns [ErrInvalidConfig].
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

// configError returns a *ConfigError of problems, or nil if there are
// none.
func configError(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return &ConfigError{Problems: problems}
}

// settingsProblems appends what CheckSettings refuses in cfg to problems.
func (cfg Config) settingsProblems(problems []string) []string {
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	if len(cfg.RPIDs) == 0 {
		bad("RPIDs: at least one relying-party ID is required")
	}
	seen := map[string]bool{}
	for i, rp := range cfg.RPIDs {
		if problem := webauthn.RPIDProblem(rp); problem != "" {
			bad("RPIDs[%d] %q: %s", i, truncateValue(rp), problem)
		} else if seen[rp] {
			bad("RPIDs[%d] %q: duplicate", i, rp)
		}
		seen[rp] = true
	}
	if cfg.Defaults != (Item{}) {
		if err := cfg.Defaults.Validate(); err != nil {
			bad("Defaults: %v", err)
		}
	}
	for _, g := range [...]struct{ name, id string }{{"NewUsersGroupID", cfg.NewUsersGroupID}, {"ExistingUsersGroupID", cfg.ExistingUsersGroupID}} {
		if g.id != "" && !isIdentifier(g.id, 64, "._-") {
			bad("%s %q: must be 1-64 ASCII letters, digits, '.', '_' or '-'", g.name, truncateValue(g.id))
		}
	}
	if cfg.Concurrency < 0 || cfg.Concurrency > maxConcurrency {
		bad("Concurrency %d: want 0 (default %d) to %d", cfg.Concurrency, DefaultConcurrency, maxConcurrency)
	}
	for _, d := range [...]struct {
		name string
		v    time.Duration
	}{{"PollInterval", cfg.PollInterval}, {"CatchUpEvery", cfg.CatchUpEvery}, {"Lease", cfg.Lease}, {"SyncClaim", cfg.SyncClaim}} {
		if d.v < 0 {
			bad("%s %v: must not be negative", d.name, d.v)
		}
	}
	if cfg.OrderRate < 0 {
		bad("OrderRate %v: must not be negative", cfg.OrderRate)
	}
	if cfg.OrderBurst < 0 {
		bad("OrderBurst %d: must not be negative", cfg.OrderBurst)
	}
	if cfg.MaxEventBody < 0 {
		bad("MaxEventBody %d: must not be negative", cfg.MaxEventBody)
	}
	if cfg.IdempotencyWindow < 0 {
		bad("IdempotencyWindow %v: must not be negative", cfg.IdempotencyWindow)
	}
	if strings.ContainsAny(cfg.EventHookSecret.Reveal(), "\r\n") {
		bad("EventHookSecret: must be one line")
	}
	if n := len(cfg.EventHookSecret); n > 0 && n < MinEventHookSecret {
		bad("EventHookSecret: shorter than %d bytes (whoever guesses it can post events; make one with openssl rand -base64 48)", MinEventHookSecret)
	}
	return problems
}

// isNilPointer reports whether v holds a nil pointer (a typed nil: not
// == nil in an interface).
func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// New validates cfg and returns a Service. The error is a [*ConfigError]
// naming every field refused; it wraps ErrInvalidConfig.
func New(cfg Config) (*Service, error) {
	var problems []string
	if cfg.Okta == nil {
		problems = append(problems, "Okta: required")
	}
	switch {
	case cfg.Store == nil:
		problems = append(problems, "Store: required")
	case isNilPointer(cfg.Store):
		problems = append(problems, fmt.Sprintf("Store: a nil %T", cfg.Store))
	}
	if err := configError(cfg.settingsProblems(problems)); err != nil {
		return nil, err
	}
	s := &Service{
		okta:                cfg.Okta,
		syslog:              cmp.Or(cfg.SystemLog, cfg.Okta),
		localDocs:           NewMemoryStore(),
		catchUpEvery:        cfg.CatchUpEvery,
		yubico:              cfg.Yubico,
		store:               cfg.Store,
		rpIDs:               append([]string(nil), cfg.RPIDs...),
		defaults:            cfg.Defaults,
		newGroup:            cfg.NewUsersGroupID,
		existingGroup:       cfg.ExistingUsersGroupID,
		concurrency:         cmpOr(cfg.Concurrency, DefaultConcurrency),
		pollInterval:        cmpOr(cfg.PollInterval, DefaultPollInterval),
		now:                 cfg.Clock,
		rand:                cfg.Rand,
		log:                 cfg.Logger,
		hookSecret:          cfg.EventHookSecret,
		lease:               cmpOr(cfg.Lease, DefaultLease),
		syncClaim:           cmpOr(cfg.SyncClaim, cmpOr(cfg.Lease, DefaultLease)),
		newTicker:           cfg.NewTicker,
		truncate:            cfg.TruncateNames,
		maxEventBody:        cmpOr(cfg.MaxEventBody, DefaultMaxEventBody),
		idempotentShipments: cfg.IdempotentShipments,
		idempotencyWindow:   cmpOr(cfg.IdempotencyWindow, DefaultIdempotencyWindow),
		locks:               make(map[string]*userLock),
		kick:                make(chan struct{}, 1),
		drained:             make(chan struct{}),
	}
	s.refused.Every = refusedHookLogEvery
	_, s.watch.feedable = s.store.(ChangeFeed)
	if s.now == nil {
		s.now = time.Now
	}
	s.watch.clock = s.now
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.newTicker == nil {
		s.newTicker = func(d time.Duration) Ticker { return timeTicker{time.NewTicker(d)} }
	}
	if cfg.OrderRate > 0 {
		s.limiter = rate.NewLimiter(cfg.OrderRate, cmpOr(cfg.OrderBurst, 1))
	}
	owner, err := s.newKey("svc")
	if err != nil {
		return nil, &ConfigError{Problems: []string{"Rand: " + err.Error()}}
	}
	s.owner = owner
	return s, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// newKey returns prefix + "-" + 32 random hex digits.
func (s *Service) newKey(prefix string) (string, error) {
	var b [16]byte
	s.randMu.Lock()
	_, err := io.ReadFull(s.rand, b[:])
	s.randMu.Unlock()
	if err != nil {
		return "", fmt.Errorf("fulfillment: read random: %w", err)
	}
	return prefix + "-" + hex.EncodeToString(b[:]), nil
}

// randIntn returns a random int in [0, n).
func (s *Service) randIntn(n int) (int, error) {
	if n <= 1 {
		return 0, nil
	}
	var b [8]byte
	s.randMu.Lock()
	_, err := io.ReadFull(s.rand, b[:])
	s.randMu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("fulfillment: read random: %w", err)
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return int(v % uint64(n)), nil
}

// shippingInfo validates an Okta user's profile as a shipping address and
// returns it normalised.
func (s *Service) shippingInfo(u okta.User) (ShippingInfo, error) {
	typed := ShippingInfoFromProfile(profileFromOkta(u))
	info := typed.Normalize()
	if s.truncate {
		info = info.Truncate()
	}
	if err := info.Validate(); err != nil {
		return ShippingInfo{}, typed.asTyped(err)
	}
	return info, nil
}

// yubicoKeys returns Yubico's transport and signing keys, cached for
// jwksTTL.
func (s *Service) yubicoKeys(ctx context.Context) (transport, signing []webauthn.PublicJWK, err error) {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	if s.now().Before(s.keysExpire) {
		return s.transport, s.signing, nil
	}
	if transport, err = s.yubico.TransportKeys(ctx); err != nil {
		return nil, nil, fmt.Errorf("fulfillment: fetch Yubico transport keys: %w", err)
	}
	if signing, err = s.yubico.SigningKeys(ctx); err != nil {
		return nil, nil, fmt.Errorf("fulfillment: fetch Yubico signing keys: %w", err)
	}
	s.transport, s.signing, s.keysExpire = transport, signing, s.now().Add(jwksTTL)
	return transport, signing, nil
}

// needYubico returns an error wrapping ErrInvalidConfig, naming
// Config.Yubico, when the Service was made without a Yubico client (a
// Service that only orders) and op needs one.
func (s *Service) needYubico(op string) error {
	if s.yubico != nil {
		return nil
	}
	return fmt.Errorf("%w: Config.Yubico: required to %s (this Service was made without one, to order only)", ErrInvalidConfig, op)
}

package reliability_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/internal/fakehttp"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/simulator"
	"github.com/preenroll/preenroll/yubico"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// rpID is the relying party the keys are registered for.
const rpID = "reliability.okta.example"

// hookSecret is the event hook's shared secret.
const hookSecret = "reliability-hook-secret-5d1e"

var defaultItem = fulfillment.Item{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"}

// newSeeded is a deterministic io.Reader, safe for concurrent use.
func newSeeded(seed uint64) io.Reader {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	s[31] = 0x5e
	return fakehttp.NewSeededReader(s)
}

// person is one user of a world.
type person struct {
	n       int
	profile okta.Profile
	id      string // Okta user ID
	// signedIn is set once the user's first sign-in succeeded at Okta.
	signedIn bool
	// pinChanged is set once the key's preset PIN was changed to newPIN.
	pinChanged bool
	newPIN     string
}

// world is the two fakes (a fulfillmenttest World) and the users seeded
// in Okta.
type world struct {
	*fulfillmenttest.World
	t      testing.TB
	people []*person
	byID   map[string]*person
	// secrets collects every secret seen on the way (preset and new PINs,
	// Authn state tokens) for the security checks.
	secrets *secretSet
}

// secretSet is a set of secret strings, safe for concurrent use.
type secretSet struct {
	mu sync.Mutex
	m  map[string]bool
}

func (s *secretSet) add(v string) {
	if v == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]bool{}
	}
	s.m[v] = true
}

func (s *secretSet) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.m))
	for v := range s.m {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// profile returns a valid shipping profile for user n of a world.
func profile(n int) okta.Profile { return fulfillmenttest.Profile(fmt.Sprintf("user%05d", n)) }

// newWorld starts the fakes (a fulfillmenttest World: in this process, on
// loopback, on one clock) and seeds n ACTIVE Okta users with valid
// addresses. The tests build their own clients and Services.
func newWorld(t testing.TB, n int, seed uint64, oktaOpts ...oktatest.Option) *world {
	t.Helper()
	return newWorldWith(t, n, seed, oktaOpts, nil)
}

// newWorldWith is newWorld with options for the fake Yubico too.
func newWorldWith(t testing.TB, n int, seed uint64, oktaOpts []oktatest.Option, yubicoOpts []yubicotest.Option) *world {
	t.Helper()
	stock := max(100, n+10)
	w := &world{t: t, byID: map[string]*person{}, secrets: &secretSet{}}
	// Yubico remembers idempotency keys for a year of its clock, not a
	// day: the suites move the fake clock days ahead between phases, and a
	// create interrupted before a move (its response dropped, its client
	// timed out) is resumed after it under the same key, which a day's TTL
	// would have forgotten: a second shipment no real deployment would see,
	// its retry being seconds later. (A create that an injected latency
	// holds across a move the fake itself judges as of its arrival.)
	yubicoOpts = append([]yubicotest.Option{yubicotest.WithIdempotencyTTL(365 * 24 * time.Hour), yubicotest.WithInventory(
		yubicotest.Bucket{ProductID: 1, Quantity: stock},
		yubicotest.Bucket{ProductID: 106, Quantity: stock, InventoryType: 3, ProductTier: 3,
			ProductMapping: []int{1}, Subscription: true, Virtual: true},
	)}, yubicoOpts...)
	w.World = fulfillmenttest.New(t, fulfillmenttest.WithSeed(seed), fulfillmenttest.WithoutEventHook(), fulfillmenttest.WithOkta(oktaOpts...),
		fulfillmenttest.WithYubico(yubicoOpts...))
	for i := range n {
		p := &person{n: i, profile: profile(i), newPIN: fmt.Sprintf("%08d", 27182818+i)}
		p.id = w.AddUser(fulfillmenttest.User{Profile: p.profile, Status: okta.UserActive}).ID
		w.people = append(w.people, p)
		w.byID[p.id] = p
	}
	return w
}

// ids returns every user's Okta ID.
func (w *world) ids() []string {
	out := make([]string, len(w.people))
	for i, p := range w.people {
		out[i] = p.id
	}
	return out
}

// nextTransition moves both fakes' clocks to the next shipment transition
// Yubico has scheduled (after the creates: address validation), if any.
func (w *world) nextTransition() {
	w.t.Helper()
	if next, ok := w.Yubico.NextTransition(); ok {
		w.SetNow(next)
	}
}

// counters counts the retries the clients make.
type counters struct {
	oktaBackoffs  atomic.Int64 // transport/5xx retries of idempotent Okta calls
	yubicoRetries atomic.Int64 // retries of Yubico GETs and keyed creates
}

// clientOptions are the timeouts and retry policies of a world's clients.
type clientOptions struct {
	timeout time.Duration // per HTTP request; 0: 30 s
}

// clients returns production Okta and Yubico clients for the world, with
// retries counted in c.
func (w *world) clients(o clientOptions, c *counters) (*okta.Client, *yubico.Client) {
	w.t.Helper()
	timeout := o.timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	w.t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr, Timeout: timeout}
	policy := okta.DefaultRetryPolicy()
	policy.Backoff = func(n int) time.Duration {
		c.oktaBackoffs.Add(1)
		return time.Duration(n) * 100 * time.Millisecond // on the fake clock: no real wait
	}
	oc, err := w.Okta.Client(okta.WithHTTPClient(hc), okta.WithRetryPolicy(policy))
	if err != nil {
		w.t.Fatal(err)
	}
	yc := w.Yubico.Client(yubico.WithHTTPClient(hc), yubico.WithRetryPolicy(yubico.RetryPolicy{
		MaxRetries: 3,
		Backoff: func(n int) time.Duration {
			c.yubicoRetries.Add(1)
			return min(time.Millisecond<<(n-1), 8*time.Millisecond)
		},
		MaxRateLimitWait: 8 * time.Millisecond,
	}))
	return oc, yc
}

// service returns a Service over the world with store and the given
// clients.
func (w *world) service(oc *okta.Client, yc *yubico.Client, store fulfillment.Store, change func(*fulfillment.Config)) *fulfillment.Service {
	w.t.Helper()
	cfg := fulfillment.Config{
		Okta: oc, Yubico: yc, Store: store, RPIDs: []string{rpID}, Defaults: defaultItem,
		Concurrency: 8, Clock: w.Yubico.Now, Rand: newSeeded(99), EventHookSecret: hookSecret, IdempotentShipments: true,
	}
	if change != nil {
		change(&cfg)
	}
	svc, err := fulfillment.New(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	return svc
}

// pins returns the PIN of the last PIN email to each address.
func (w *world) pins() map[string]string {
	out := map[string]string{}
	for _, m := range w.Okta.Outbox() {
		if pin, err := m.PIN(); err == nil {
			out[m.To] = pin
		}
	}
	return out
}

// signIn is p's first sign-in with the delivered key: change the preset
// PIN (once), then a WebAuthn assertion through Okta's Authn API. Any Okta
// error restarts the transaction, up to attempts times; it returns the
// number of restarts.
func (w *world) signIn(ctx context.Context, oc *okta.Client, p *person, rec fulfillment.Record, pin string, attempts int) (int, error) {
	w.secrets.add(pin)
	w.secrets.add(p.newPIN)
	key, err := w.Yubico.Parcel(rec.ShipmentID)
	if err != nil {
		return 0, fmt.Errorf("parcel: %w", err)
	}
	pl := simulator.NewPlatform(key)
	if !p.pinChanged {
		if err := pl.ChangePIN(ctx, pin, p.newPIN); err != nil {
			return 0, fmt.Errorf("change PIN: %w", err)
		}
		p.pinChanged = true
	}
	var last error
	for i := range attempts {
		if err := w.signInOnce(ctx, oc, pl, p); err != nil {
			last = err
			continue
		}
		p.signedIn = true
		return i, nil
	}
	return attempts, fmt.Errorf("sign-in failed %d times, last: %w", attempts, last)
}

func (w *world) signInOnce(ctx context.Context, oc *okta.Client, pl *simulator.Platform, p *person) error {
	tx, err := oc.Authenticate(ctx, okta.AuthnRequest{Username: p.profile.Login})
	if err != nil {
		return err
	}
	w.secrets.add(tx.StateToken.Reveal())
	if tx.Status == okta.AuthnSuccess {
		return nil // an earlier verify took effect though its answer was lost; nothing else is asked
	}
	factors := tx.WebAuthnFactors()
	if len(factors) == 0 {
		return fmt.Errorf("authn status %s without a WebAuthn factor", tx.Status)
	}
	tx, err = oc.ChallengeWebAuthnFactor(ctx, tx.StateToken, factors[0].ID)
	if err != nil {
		return err
	}
	w.secrets.add(tx.StateToken.Reveal())
	opts, err := oc.WebAuthnRequestOptions(tx, rpID)
	if err != nil {
		return err
	}
	assertion, err := pl.GetAssertionJSON(ctx, "https://"+rpID, opts, p.newPIN)
	if err != nil {
		return fmt.Errorf("assertion: %w", err)
	}
	a, err := okta.ParseWebAuthnAssertion(assertion)
	if err != nil {
		return err
	}
	tx, err = oc.VerifyWebAuthnFactor(ctx, tx.StateToken, factors[0].ID, a)
	if err != nil {
		return err
	}
	w.secrets.add(tx.StateToken.Reveal())
	w.secrets.add(tx.SessionToken.Reveal())
	if tx.Status != okta.AuthnSuccess {
		return fmt.Errorf("sign-in status %s, want SUCCESS", tx.Status)
	}
	return nil
}

// outcome is what the invariant check found.
type outcome struct {
	users, active int
	errored       map[string]string // user → reason (FulfillmentErrored, reported)
	duplicates    int               // extra shipments or enrollments, summed over users
	lost          int               // users neither Active nor errored with a reason
	strays        int               // enrollments Okta holds beyond the recorded ones
	problems      []string
}

// check verifies the invariants at the fakes and in the store: exactly one
// FIDO Pre-reg shipment per ordered user at Yubico, exactly one enrollment
// per user (per RP ID) at Okta, and every user Active or errored with a
// reason.
func (w *world) check(ctx context.Context, store fulfillment.Store) outcome {
	w.t.Helper()
	out := outcome{users: len(w.people), errored: map[string]string{}}
	bad := func(format string, args ...any) { out.problems = append(out.problems, fmt.Sprintf(format, args...)) }
	shipments := map[string][]string{} // user ID → shipment IDs
	byEmail := map[string]string{}
	for _, p := range w.people {
		byEmail[p.profile.Email], byEmail[p.profile.SecondEmail] = p.id, p.id
	}
	for _, sh := range w.Yubico.Shipments() {
		uid, ok := byEmail[sh.RecipientEmail]
		if !ok {
			bad("shipment %s to %q belongs to no user", sh.ID, sh.RecipientEmail)
			continue
		}
		shipments[uid] = append(shipments[uid], sh.ID)
	}
	for _, p := range w.people {
		rec, err := store.Get(ctx, p.id)
		if err != nil {
			out.lost++
			bad("user %s: no record: %v", p.id, err)
			continue
		}
		es := w.Okta.Enrollments(p.id)
		shs := shipments[p.id]
		switch rec.Status {
		case fulfillment.Active:
			out.active++
			if len(shs) != 1 || shs[0] != rec.ShipmentID {
				bad("user %s Active with shipment %s; Yubico has %v", p.id, rec.ShipmentID, shs)
			}
			if len(es) != 1 || es[0].Status != okta.StatusActive || es[0].Profile.PresetPINAvailable {
				bad("user %s Active; Okta has %d enrollments: %+v", p.id, len(es), es)
			}
		case fulfillment.FulfillmentErrored:
			if strings.TrimSpace(rec.Reason) == "" {
				out.lost++
				bad("user %s errored at %s without a reason", p.id, rec.FailedStep)
			} else {
				out.errored[p.id] = fmt.Sprintf("%s: %s", rec.FailedStep, rec.Reason)
			}
			if len(shs) > 1 {
				bad("user %s errored with %d shipments %v", p.id, len(shs), shs)
			}
			if len(es) > 1 {
				bad("user %s errored with %d enrollments at Okta", p.id, len(es))
			}
		default:
			out.lost++
			bad("user %s ended %s at step %s (reason %q)", p.id, rec.Status, rec.Step, rec.Reason)
		}
		if len(shs) > 1 {
			out.duplicates += len(shs) - 1
		}
		if len(es) > 1 {
			out.duplicates += len(es) - 1
		}
		known := map[string]bool{}
		for _, e := range rec.Enrollments {
			known[e.ID] = true
		}
		for _, e := range es {
			if !known[e.ID] {
				out.strays++
				bad("user %s: Okta enrollment %s (%s) is not in the record", p.id, e.ID, e.Status)
			}
		}
	}
	sort.Strings(out.problems)
	return out
}

// syncPass runs one Sync pass, which must not fail, and calls onErr (when
// not nil) with the error of every record it failed.
func syncPass(ctx context.Context, t testing.TB, svc *fulfillment.Service, onErr func(error)) fulfillment.SyncReport {
	t.Helper()
	rep, err := svc.Sync(ctx)
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	for _, f := range rep.Failures {
		if onErr != nil {
			onErr(f.Err)
		}
	}
	return rep
}

// syncUntilQuiet runs Sync passes until one fails nothing and advances
// nothing, or quietAfter passes in a row advance nothing (under faults
// some checks of the records that wait for the outside world always
// fail), or maxPasses. It returns the passes run and the
// failures seen.
func syncUntilQuiet(ctx context.Context, t testing.TB, svc *fulfillment.Service, maxPasses int, onErr func(error)) (passes, failures int) {
	t.Helper()
	const quietAfter = 5
	still := 0
	for passes < maxPasses {
		rep := syncPass(ctx, t, svc, onErr)
		passes++
		failures += len(rep.Failures)
		if rep.Advanced == 0 && len(rep.Failures) == 0 {
			break
		}
		if still++; rep.Advanced > 0 {
			still = 0
		}
		if still == quietAfter {
			break
		}
	}
	return passes, failures
}

// syncUntil runs Sync passes until every record in store satisfies done
// (or maxPasses); it returns the passes run and the failures seen.
func syncUntil(ctx context.Context, t testing.TB, svc *fulfillment.Service, store fulfillment.Store, done func(fulfillment.Record) bool, maxPasses int, onErr func(error)) (passes, failures int) {
	t.Helper()
	for passes < maxPasses {
		recs, err := store.List(ctx, fulfillment.Query{})
		if err != nil {
			t.Fatal(err)
		}
		all := true
		for _, r := range recs {
			all = all && done(r)
		}
		if all {
			break
		}
		rep := syncPass(ctx, t, svc, onErr)
		passes++
		failures += len(rep.Failures)
	}
	return passes, failures
}

// errored reports a record errored and waiting for a person.
func errored(r fulfillment.Record) bool {
	return r.Status == fulfillment.FulfillmentErrored && r.Step == fulfillment.StepErrored
}

// shippedWithPIN reports a record Shipped whose PIN was sent, or errored.
func shippedWithPIN(r fulfillment.Record) bool {
	return (r.Status == fulfillment.Shipped && r.Step == fulfillment.StepPINSent) || errored(r)
}

// activeOrErrored reports a record Active or errored.
func activeOrErrored(r fulfillment.Record) bool { return r.Status == fulfillment.Active || errored(r) }

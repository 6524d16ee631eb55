package benchmarks_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/simulator"
	"github.com/preenroll/preenroll/yubico"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// rpID is the relying party of every benchmark (the Okta org host in
// production).
const rpID = "preenroll.okta.example"

var defaultItem = fulfillment.Item{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"}

// seeded is a deterministic io.Reader safe for concurrent use.
type seeded struct {
	mu sync.Mutex
	r  *rand.ChaCha8
}

func newSeeded(seed byte) *seeded {
	var s [32]byte
	s[0] = seed
	return &seeded{r: rand.NewChaCha8(s)}
}

func (s *seeded) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.r.Read(p)
}

// processCPU returns the CPU time (user + system) the whole process has
// used so far: on a machine shared with other work it measures our work,
// not our waiting for a core. It includes the fakes' HTTP handlers and the
// garbage collector, which run on other threads.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// threadCPU returns the CPU time of the calling OS thread; the caller
// holds runtime.LockOSThread. Work on other goroutines is not counted.
func threadCPU() time.Duration {
	const rusageThread = 1 // RUSAGE_THREAD
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// world is a fake Okta org and a fake Yubico with a Service between them,
// all over loopback HTTP, as in fulfillment's end-to-end tests.
type world struct {
	tb    testing.TB
	ok    *oktatest.Server
	ys    *yubicotest.Server
	oc    *okta.Client
	store *fulfillment.MemoryStore
	svc   *fulfillment.Service
	next  int // next user number
}

type worldOptions struct {
	okta   []oktatest.Option
	oktaC  []okta.Option
	stock  int
	config func(*fulfillment.Config)
}

func newWorld(tb testing.TB, o worldOptions) *world {
	tb.Helper()
	stock := max(o.stock, 1_000_000)
	ys := yubicotest.NewServer(tb, yubicotest.WithRand(newSeeded(1)), yubicotest.WithInventory(
		yubicotest.Bucket{ProductID: 1, Quantity: stock},
		yubicotest.Bucket{ProductID: 29, Quantity: stock},
		yubicotest.Bucket{ProductID: 106, Quantity: stock, InventoryType: 3, ProductTier: 3,
			ProductMapping: []int{1, 29}, Subscription: true, Virtual: true},
	))
	ok := oktatest.NewServer(tb, append([]oktatest.Option{
		oktatest.WithRand(newSeeded(2)), oktatest.WithNow(ys.Now()), oktatest.WithAttestationRoots(ys.FIDOCA().Root()),
	}, o.okta...)...)
	// Connections are reused between the Service's workers: the default
	// two idle connections per host would make every other request dial.
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 60 * time.Second}
	tb.Cleanup(hc.CloseIdleConnections)
	oc, err := ok.Client(append([]okta.Option{okta.WithHTTPClient(hc)}, o.oktaC...)...)
	if err != nil {
		tb.Fatal(err)
	}
	w := &world{tb: tb, ok: ok, ys: ys, oc: oc, store: fulfillment.NewMemoryStore()}
	cfg := fulfillment.Config{
		Okta: oc, Yubico: ys.Client(yubico.WithHTTPClient(hc)), Store: w.store, RPIDs: []string{rpID},
		Defaults: defaultItem, Clock: ys.Now, Rand: newSeeded(3),
	}
	if o.config != nil {
		o.config(&cfg)
	}
	if w.svc, err = fulfillment.New(cfg); err != nil {
		tb.Fatal(err)
	}
	return w
}

// profile returns a valid shipping profile for user n.
func profile(n int) okta.Profile {
	return okta.Profile{
		Login: fmt.Sprintf("user%06d@example.com", n), Email: fmt.Sprintf("user%06d@example.com", n),
		SecondEmail: fmt.Sprintf("user%06d@home.example.net", n), FirstName: "Ada", LastName: fmt.Sprintf("Tester%d", n),
		PrimaryPhone: "+16175550100", StreetAddress: fmt.Sprintf("%d Main Street", n+1), City: "Boston", State: "MA",
		ZipCode: "02110", CountryCode: "US", Organization: "Example Inc",
	}
}

// addUsers seeds n ACTIVE Okta users with valid profiles and returns them.
func (w *world) addUsers(n int) []okta.User {
	w.tb.Helper()
	users := make([]okta.User, n)
	for i := range users {
		u, err := w.ok.AddUser(profile(w.next), okta.UserActive)
		if err != nil {
			w.tb.Fatal(err)
		}
		w.next++
		users[i] = u
	}
	return users
}

// advance moves both fakes' clocks.
func (w *world) advance(d time.Duration) {
	w.tb.Helper()
	if err := w.ys.Advance(d); err != nil {
		w.tb.Fatal(err)
	}
	w.ok.Advance(d)
}

func (w *world) sync(ctx context.Context) {
	w.tb.Helper()
	rep, err := w.svc.Sync(ctx)
	if err != nil {
		w.tb.Fatalf("Sync: %v", err)
	}
	if len(rep.Failures) > 0 {
		w.tb.Fatalf("Sync: %d failures, first: %v", len(rep.Failures), rep.Failures[0].Err)
	}
}

var pinRE = regexp.MustCompile(`\n\s+(\d{4,63})\s*\n`)

// pinFor returns the PIN of the last PIN email sent to address.
func (w *world) pinFor(address string) string {
	w.tb.Helper()
	mails := w.ok.Outbox()
	for i := len(mails) - 1; i >= 0; i-- {
		m := mails[i]
		if m.To == address && strings.Contains(m.Subject, "PIN") {
			if sm := pinRE.FindStringSubmatch(m.Body); sm != nil {
				return sm[1]
			}
		}
	}
	w.tb.Fatalf("no PIN email to %s in the outbox", address)
	return ""
}

// lifecycle takes the given users' keys from order to Active: order, enroll
// and create the shipment, validation, the factory batch (the fake
// programs a simulated key per user), shipping, activate and send-pin, then
// each user changes the PIN and signs in to Okta with the key, and a last
// Sync sees the first sign-in.
func (w *world) lifecycle(ctx context.Context, users []okta.User) {
	w.tb.Helper()
	for _, u := range users {
		if _, err := w.svc.Order(ctx, u.ID); err != nil {
			w.tb.Fatalf("Order: %v", err)
		}
	}
	w.sync(ctx) // enroll at Okta, create the FIDO Pre-reg shipment
	w.advance(30 * time.Minute)
	w.sync(ctx) // address validated
	w.advance(w.ys.NextBatch().Sub(w.ys.Now()) + time.Minute)
	w.sync(ctx) // programmed, sent to fulfillment
	w.advance(25 * time.Hour)
	w.sync(ctx) // shipped: activate, send-pin
	for _, u := range users {
		rec, err := w.svc.Status(ctx, u.ID)
		if err != nil || rec.Status != fulfillment.Shipped {
			w.tb.Fatalf("user %s: %s (%q) %v, want Shipped", u.ID, rec.Status, rec.Reason, err)
		}
		w.signIn(ctx, u, rec, w.pinFor(u.Profile.Email))
	}
	w.sync(ctx) // first sign-in seen
	for _, u := range users {
		rec, err := w.svc.Status(ctx, u.ID)
		if err != nil || rec.Status != fulfillment.Active {
			w.tb.Fatalf("user %s: %s (%q) %v, want Active", u.ID, rec.Status, rec.Reason, err)
		}
	}
}

// signIn uses the delivered key as the user does: change the factory PIN,
// then sign in through Okta's Authn API with the key.
func (w *world) signIn(ctx context.Context, u okta.User, rec fulfillment.Record, pin string) {
	w.tb.Helper()
	key, err := w.ys.Parcel(rec.ShipmentID)
	if err != nil {
		w.tb.Fatalf("Parcel: %v", err)
	}
	p := simulator.NewPlatform(key)
	const newPIN = "31415926"
	if err := p.ChangePIN(ctx, pin, newPIN); err != nil {
		w.tb.Fatalf("ChangePIN: %v", err)
	}
	tx, err := w.oc.Authenticate(ctx, okta.AuthnRequest{Username: u.Profile.Login})
	if err != nil {
		w.tb.Fatalf("Authenticate: %v", err)
	}
	factors := tx.WebAuthnFactors()
	if len(factors) == 0 {
		w.tb.Fatalf("Authn offers no WebAuthn factor (status %s)", tx.Status)
	}
	tx, err = w.oc.ChallengeWebAuthnFactor(ctx, tx.StateToken, factors[0].ID)
	if err != nil {
		w.tb.Fatalf("ChallengeWebAuthnFactor: %v", err)
	}
	opts, err := w.oc.WebAuthnRequestOptions(tx, rpID)
	if err != nil {
		w.tb.Fatal(err)
	}
	assertion, err := p.GetAssertionJSON(ctx, "https://"+rpID, opts, newPIN)
	if err != nil {
		w.tb.Fatalf("GetAssertion: %v", err)
	}
	a, err := okta.ParseWebAuthnAssertion(assertion)
	if err != nil {
		w.tb.Fatal(err)
	}
	tx, err = w.oc.VerifyWebAuthnFactor(ctx, tx.StateToken, factors[0].ID, a)
	if err != nil {
		w.tb.Fatalf("VerifyWebAuthnFactor: %v", err)
	}
	if tx.Status != okta.AuthnSuccess {
		w.tb.Fatalf("sign-in status %s, want SUCCESS", tx.Status)
	}
}

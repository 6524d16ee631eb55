package reliability_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// Fault suite settings. The client timeout is short, so a latency fault
// costs the suites about clientTimeout of wall time: the fakes end the
// wait when the client gives up, and then handle nothing.
//
// The Okta client waits out a 429 on the fake clock, which every worker
// shares, so each wait moves Okta's time for all of them; a request whose
// client gave up and that Okta handled anyway (a handler slowed by a
// loaded machine) has its enrollment created at the fake time of the
// handling. fulfillment takes such an enrollment for its call's only if it
// was created within oktaClockSkew (a minute) of the call's return;
// otherwise another tool made it. With the fake's default 429 reset (the
// end of the 60 s window) a single wait of another worker during one late
// handling can move Okta's clock past that minute: the likely cause of
// three users of TestFaultSuite coming to rest as managed elsewhere in a
// CI run at load average 32 (its logs were not kept). So the 429s here
// reset 2 s ahead (the rate-limit windows are the subject of
// internal/benchmarks), and the latency fault lies far beyond the client
// timeout (it was 200 ms, within reach of a client delayed by the load).
const (
	faultRate     = 0.20
	clientTimeout = 150 * time.Millisecond
	faultLatency  = 3 * time.Second
	// faultRetryAfter is how far ahead an injected Okta 429 resets.
	faultRetryAfter = 2 * time.Second
	// maxPasses bounds the Sync passes at each point of the lifecycle.
	maxPasses = 40
)

// faultReport is what a fault-suite run counted.
type faultReport struct {
	users, active, errored   int
	oktaFaults, yubicoFaults map[string]int
	oktaRequests, yubicoReqs int
	oktaRetries, yubicoRetry int64
	oktaRateRetries          int
	resumed                  int // failures the Service resumed in a later pass (unknown outcomes)
	signInRestarts           int
	duplicates, lost, strays int
	syncPasses               int
	enrollsCommitted         int // successful enroll calls seen at Okta (responses dropped included)
	elapsed                  time.Duration
	problems                 []string
	erroredReasons           map[string]string
	errorTexts               []string // every error the Service and the sign-in returned
	records                  []fulfillment.Record
}

func (r faultReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "users %d: Active %d, errored with a reason %d; duplicates %d, lost %d, stray enrollments %d\n",
		r.users, r.active, r.errored, r.duplicates, r.lost, r.strays)
	fmt.Fprintf(&b, "Okta: %d requests, faults %v; client retries: %d after transport errors/5xx, %d after 429\n",
		r.oktaRequests, r.oktaFaults, r.oktaRetries, r.oktaRateRetries)
	fmt.Fprintf(&b, "Yubico: %d requests, faults %v; client retries %d\n", r.yubicoReqs, r.yubicoFaults, r.yubicoRetry)
	fmt.Fprintf(&b, "Service: %d unknown outcomes resumed in later passes, %d Sync passes; %d enroll calls took effect at Okta; %d sign-in restarts; %v",
		r.resumed, r.syncPasses, r.enrollsCommitted, r.signInRestarts, r.elapsed.Round(time.Millisecond))
	return b.String()
}

// runFaultSuite takes n users through the lifecycle with faults at rate on
// both fakes and checks the invariants.
// With logs, the Service logs to it as JSON at debug level.
func runFaultSuite(t *testing.T, n int, seed uint64, rate float64, logs io.Writer) (faultReport, *world) {
	start := time.Now()
	ctx := t.Context()
	w := newWorld(t, n, seed)
	var c counters
	oc, yc := w.clients(clientOptions{timeout: clientTimeout}, &c)
	store := fulfillment.NewMemoryStore()
	svc := w.service(oc, yc, store, func(cfg *fulfillment.Config) {
		if logs != nil {
			cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	})
	rep := faultReport{users: n}
	var errMu sync.Mutex
	onErr := func(err error) {
		if err != nil {
			errMu.Lock()
			rep.errorTexts = append(rep.errorTexts, err.Error())
			errMu.Unlock()
		}
	}
	last := start
	phase := func(name string) {
		t.Logf("%-28s %v", name, time.Since(last).Round(time.Millisecond))
		last = time.Now()
	}

	setFaults := func(on bool) {
		r := 0.0
		if on {
			r = rate
		}
		if err := w.Okta.SetHTTPFaultPlan(oktatest.HTTPFaultPlan{Rate: r, Latency: faultLatency, Seed: seed, RetryAfter: faultRetryAfter}); err != nil {
			t.Fatal(err)
		}
		setYubicoFaults(t, w, r, seed)
	}
	countFaults := func() {
		for k, v := range w.Okta.HTTPFaultCounts() {
			rep.oktaFaults[k.String()] += v
		}
		for k, v := range yubicoFaultCounts(w) {
			rep.yubicoFaults[k] += v
		}
	}
	rep.oktaFaults, rep.yubicoFaults = map[string]int{}, map[string]int{}
	setFaults(true)

	// Order: the batch, then again for users the batch could not record
	// (an operator re-running it); users with a record are skipped.
	pending := w.ids()
	for round := 0; len(pending) > 0; round++ {
		if round == 10 {
			t.Fatalf("%d users still without a record after 10 batches", len(pending))
		}
		br, err := svc.OrderBatch(ctx, pending, fulfillment.BatchOptions{})
		if err != nil {
			t.Fatalf("OrderBatch: %v", err)
		}
		rep.resumed += br.Failed
		batch := pending
		pending = nil
		for _, r := range append(br.Invalid, br.Results...) {
			onErr(r.Err)
			if _, err := store.Get(ctx, r.UserID); errors.Is(err, fulfillment.ErrRecordNotFound) || r.UserID == "" {
				pending = append(pending, batch[r.Index])
			}
		}
	}
	syncAll := func() {
		passes, failures := syncUntilQuiet(ctx, t, svc, maxPasses, onErr)
		rep.syncPasses += passes
		rep.resumed += failures
	}
	// settle runs passes until every record is where done says (records
	// that keep failing under faults are retried by later passes).
	settle := func(done func(fulfillment.Record) bool) {
		passes, failures := syncUntil(ctx, t, svc, store, done, maxPasses, onErr)
		rep.syncPasses += passes
		rep.resumed += failures
	}
	phase("order")
	syncAll()
	phase("sync: enroll, create shipments")
	w.nextTransition() // address validation
	syncAll()
	w.AdvanceClockTo(fulfillmenttest.Programmed) // the factory programs the keys
	phase("factory")
	syncAll()
	w.AdvanceClockTo(fulfillmenttest.Shipped) // shipped: 103, responses ready
	syncAll()
	settle(shippedWithPIN)
	phase("sync: activate, send PIN")

	// First sign-in, with the faults still on (the Authn calls are POSTs
	// Okta's client does not repeat: the whole transaction is restarted).
	pins := w.pins()
	var (
		mu sync.Mutex
		g  errgroup.Group
	)
	g.SetLimit(8)
	for _, p := range w.people {
		rec, err := store.Get(ctx, p.id)
		if err != nil || rec.Status != fulfillment.Shipped {
			continue
		}
		pin := pins[p.profile.Email]
		if pin == "" {
			t.Errorf("user %s is Shipped but no PIN email reached %s", p.id, p.profile.Email)
			continue
		}
		g.Go(func() error {
			restarts, err := w.signIn(ctx, oc, p, rec, pin, 20)
			mu.Lock()
			defer mu.Unlock()
			rep.signInRestarts += restarts
			onErr(err)
			if err != nil {
				t.Errorf("user %s: %v", p.id, err)
			}
			return nil
		})
	}
	g.Wait()
	phase("sign-in")
	w.Advance(time.Hour)
	syncAll()
	settle(activeOrErrored)
	phase("sync: Active")
	countFaults()

	out := w.check(ctx, store)
	rep.active, rep.errored, rep.duplicates, rep.lost, rep.strays = out.active, len(out.errored), out.duplicates, out.lost, out.strays
	rep.problems, rep.erroredReasons = out.problems, out.errored
	for _, r := range w.Okta.RequestLog() {
		rep.oktaRequests++
		if r.RetryFor != "" {
			rep.oktaRateRetries++
		}
		if r.Method == "POST" && strings.HasSuffix(r.Path, "/enroll") && r.Status == 200 {
			rep.enrollsCommitted++
		}
	}
	rep.yubicoReqs = len(w.Yubico.RequestLog())
	rep.oktaRetries, rep.yubicoRetry = c.oktaBackoffs.Load(), c.yubicoRetries.Load()
	var err error
	if rep.records, err = store.List(ctx, fulfillment.Query{}); err != nil {
		t.Fatal(err)
	}
	rep.elapsed = time.Since(start)
	return rep, w
}

// checkFaultReport fails t on any broken invariant.
func checkFaultReport(t *testing.T, rep faultReport) {
	t.Helper()
	t.Logf("fault suite:\n%s", rep)
	for _, p := range rep.problems {
		t.Errorf("invariant: %s", p)
	}
	if rep.duplicates != 0 || rep.lost != 0 || rep.strays != 0 {
		t.Errorf("duplicates %d, lost %d, strays %d; want 0", rep.duplicates, rep.lost, rep.strays)
	}
	if rep.active+rep.errored != rep.users {
		t.Errorf("Active %d + errored %d != users %d", rep.active, rep.errored, rep.users)
	}
	reasons := map[string]int{} // by failed step and the reason's first words
	for _, r := range rep.erroredReasons {
		if i := strings.Index(r, " for "); i > 0 {
			r = r[:i]
		}
		if len(r) > 90 {
			r = r[:90] + "…"
		}
		reasons[r]++
	}
	for _, r := range slices.Sorted(maps.Keys(reasons)) {
		t.Logf("errored (%d users): %s", reasons[r], r)
	}
	total := 0
	for _, v := range rep.oktaFaults {
		total += v
	}
	if total == 0 {
		t.Errorf("no Okta fault was injected")
	}
}

// TestFaultSuite runs the lifecycle under 20% faults on both fakes: 200
// users in the default (and -race) run, 2,000 with -faultsuite.users.
func TestFaultSuite(t *testing.T) {
	n := faultSuiteUsers()
	if testing.Short() {
		n = min(n, 40)
	}
	rep, _ := runFaultSuite(t, n, 20261129, faultRate, nil)
	checkFaultReport(t, rep)
}

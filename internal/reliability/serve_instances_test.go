package reliability_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/fulfillment/pgstore"
	"github.com/preenroll/preenroll/internal/pgtest"
	"github.com/preenroll/preenroll/internal/testproc"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/yubico"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// instance is one `preenroll serve` process of TestServeInstancesOnPostgres
// and its restarts.
type instance struct {
	t       *testing.T
	n       int
	bin     string
	args    []string
	dir     string
	base    string
	cmd     *exec.Cmd
	exited  chan struct{}
	intents atomic.Int64 // "fulfillment: intent" lines logged, over every run
	failed  atomic.Int64 // "fulfillment: sync pass failed" lines logged, over every run
	runs    int
}

// start runs the process; its JSON log goes to a file, and its intents
// are counted.
func (in *instance) start() {
	in.t.Helper()
	in.runs++
	logFile, err := os.Create(filepath.Join(in.dir, fmt.Sprintf("serve-%d-%d.log", in.n, in.runs)))
	if err != nil {
		in.t.Fatal(err)
	}
	cmd := exec.Command(in.bin, in.args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		in.t.Fatal(err)
	}
	cmd.Stdout = logFile
	if err := testproc.Start(in.t, cmd); err != nil {
		in.t.Fatal(err)
	}
	in.cmd, in.exited = cmd, make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.Contains(line, `"msg":"fulfillment: intent"`):
				in.intents.Add(1)
			case strings.Contains(line, `"msg":"fulfillment: sync pass failed"`):
				in.failed.Add(1)
			}
			io.WriteString(logFile, line+"\n")
		}
		cmd.Wait()
		logFile.Close()
		close(in.exited)
	}()
}

// kill SIGKILLs the process and waits for it to exit.
func (in *instance) kill() {
	in.cmd.Process.Kill()
	<-in.exited
}

// alive reports whether the process is still running.
func (in *instance) alive() bool {
	select {
	case <-in.exited:
		return false
	default:
		return true
	}
}

// ready asks the process's /readyz: its status code and the store check.
func (in *instance) ready() (code int, store string) {
	resp, err := http.Get(in.base + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var rd struct {
		Checks map[string]string `json:"checks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rd); err != nil {
		return resp.StatusCode, "undecodable /readyz: " + err.Error()
	}
	return resp.StatusCode, rd.Checks["store"]
}

// stop SIGTERMs the process and waits for its graceful exit.
func (in *instance) stop() {
	in.t.Helper()
	in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.exited:
	case <-time.After(time.Minute):
		in.kill()
		in.t.Errorf("instance %d did not stop within a minute of SIGTERM", in.n)
	}
}

// TestServeInstancesOnPostgres runs three `preenroll serve` processes
// (the built binary) on one PostgreSQL database, against both fakes in
// this process injecting 20% faults, and takes a batch of users through
// the whole lifecycle (ordered by a batch in this process, enrolled, shipped, activated, PIN sent,
// signed in: Active) while one instance at a time is SIGKILLed at a
// seeded moment (after a seeded number of its own recorded intents: a
// remote call in flight or about to be sent, counted over the three) and restarted at once. Every user
// must end Active or errored with a reason, with exactly one enrollment
// at Okta and one shipment at Yubico: none lost, none duplicated. CI runs
// 30 users and 4 kills (the 429 faults make the clients wait out resets:
// 60 users take about 4.5 minutes); -serveinstances.users 1000
// -serveinstances.kills 20 is the full run. The orders are recorded by a
// batch in this process; the event hook path of several instances is
// tested in package fulfillment (TestInstancesRecordEventOnce).
func TestServeInstancesOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three processes")
	}
	// A server of this test's own: it is stopped and started again
	// mid-run, which must not take the shared test server away from the
	// tests running beside this one.
	url, pgDir := pgtest.Cluster(t)
	n, kills := max(*serveUsers, 1), max(*serveKills, 0)
	const (
		seed         = 1818
		syncInterval = 200 * time.Millisecond
		lease        = 10 * time.Second
	)
	ctx := t.Context()
	dir := t.TempDir()
	if d := os.Getenv("SERVE_TEST_DIR"); d != "" {
		dir = d // keep the logs
	}
	bin := filepath.Join(dir, "preenroll")
	testproc.Build(t, "github.com/preenroll/preenroll/cmd/preenroll", bin)
	// The fakes' clocks run with the wall clock (and jump ahead on top, see
	// below), as Okta's does: the Service tells its own enrollments from
	// another tool's by when Okta made them, on its own running clock.
	// (newWorldWith has Yubico remember idempotency keys for a year of its
	// clock: the instances retry a shipment create seconds later on their
	// clock, which is days later on the fake's; a CI run found a second
	// shipment made under a forgotten key.)
	w := newWorldWith(t, n, seed, []oktatest.Option{oktatest.WithoutRateLimits(), oktatest.WithRealTime()},
		[]yubicotest.Option{yubicotest.WithRealTime()})
	store, err := pgstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	// The orders: recorded in the shared store by a batch (re-run while a
	// user has none: the batch's own calls meet the faults too).
	oc, yc := w.clients(clientOptions{}, &counters{})
	// The orderer's lease is the instances' (-lease below): an order whose
	// initiate it left with an unknown outcome is resumed by an instance
	// once that lease expires (with the default two minutes, the run
	// waited for them).
	orderer := w.service(oc, yc, store, func(c *fulfillment.Config) { c.Rand, c.Lease = newSeeded(seed), lease })
	// An injected 429 asks the clients to wait faultRetryAfter, not the
	// rest of a 60-second window: this test is about kills and outages (the
	// rate-limit windows are the subject of the rate-limit benchmarks),
	// and each instance honours a 429 for every call of the bucket.
	// A latency fault delays the request; the instances' -okta-timeout (5 s)
	// outlasts it, so the request is handled, late.
	const serveFaultLatency = 200 * time.Millisecond
	if err := w.Okta.SetHTTPFaultPlan(oktatest.HTTPFaultPlan{Rate: faultRate, Latency: serveFaultLatency, Seed: seed, RetryAfter: faultRetryAfter}); err != nil {
		t.Fatal(err)
	}
	if err := w.Yubico.SetHTTPFaultPlan(yubicotest.HTTPFaultPlan{Rate: faultRate, Latency: serveFaultLatency, Seed: seed, RetryAfter: faultRetryAfter}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for round := 0; ; round++ {
		missing := 0
		for _, id := range w.ids() {
			if _, err := store.Get(ctx, id); err != nil {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if round == 10 {
			t.Fatalf("%d users without a record after 10 batches", missing)
		}
		orderer.OrderBatch(ctx, w.ids(), fulfillment.BatchOptions{})
	}

	t.Logf("%d users ordered in %v", n, time.Since(start).Round(time.Millisecond))
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	oktaToken, yubicoToken := write("okta.token", w.Okta.Token()), write("yubico.token", w.Yubico.Token())
	hookSecret := write("hook.secret", "reliability-hook-secret-0123456789")
	instances := make([]*instance, 3)
	for i := range instances {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		instances[i] = &instance{t: t, n: i, bin: bin, dir: dir, base: "http://" + addr, args: []string{"serve",
			"-okta-org", w.Okta.URL(), "-okta-token-file", oktaToken,
			"-yubico-api", w.Yubico.URL(), "-yubico-jwks", w.Yubico.ConsoleURL(), "-yubico-token-file", yubicoToken,
			"-hook-secret-file", hookSecret, "-store", url, "-listen", addr, "-rp-id", rpID,
			"-sync-interval", syncInterval.String(), "-sync-jitter", "0s", "-lease", lease.String(), "-okta-timeout", "5s",
			"-idempotent-shipments", "-shutdown-timeout", "10s", "-concurrency", "8",
		}}
		instances[i].start()
	}
	defer func() {
		for _, in := range instances {
			in.stop()
		}
	}()

	rng := rand.New(rand.NewPCG(seed, 2))
	killed := 0
	victim, target := -1, int64(0)
	intents := func() int64 {
		var sum int64
		for _, in := range instances {
			sum += in.intents.Load()
		}
		return sum
	}
	planKill := func() {
		if killed >= kills {
			victim = -1
			return
		}
		// The kills are spread over the intents the three record between
		// them (about four per user: enroll, create the shipment,
		// activate, send the PIN).
		victim = rng.IntN(len(instances))
		target = intents() + 1 + rng.Int64N(int64(max(1, 2*3*n/(kills+1))))
	}
	planKill()
	signedIn := map[string]bool{}
	// The database goes away for a while once a third of the users are
	// done (postgres.sh pause, then resume).
	outage, finished, ticks := false, 0, 0
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(time.Duration(n/10+3) * time.Minute)
	for {
		if time.Now().After(deadline) {
			recs, _ := store.List(ctx, fulfillment.Query{})
			at := map[string]int{}
			for _, r := range recs {
				at[string(r.Status)+"/"+string(r.Step)]++
			}
			t.Fatalf("not every user Active or errored by the deadline; %d kills; records by status/step: %v", killed, at)
		}
		<-tick.C
		if victim >= 0 && intents() >= target {
			instances[victim].kill()
			killed++
			instances[victim].start()
			planKill()
		}
		recs, err := store.List(ctx, fulfillment.Query{})
		if err != nil {
			t.Logf("list: %v", err)
			continue
		}
		// The fakes' clock jumps 20 minutes a tick while a shipment is short
		// of shipped (Yubico's schedule takes days), and a minute otherwise:
		// the sealed requests expire on it. It does not jump while a key is
		// being enrolled: the Service tells its own enrollments from
		// another tool's by when Okta made them, which assumes Okta's clock
		// runs at the speed of the Service's.
		enrolling, short := false, false
		for _, r := range recs {
			enrolling = enrolling || r.Step == fulfillment.StepInitiated || r.Step == fulfillment.StepEnrolling
		}
		for _, sh := range w.Yubico.Shipments() {
			short = short || (!sh.State.Failed() && sh.State < yubico.StateShipped)
		}
		// The instances keep the wall clock while the fakes' time jumps by
		// days: the waiting records' next checks (Record.NextCheck, spaced
		// by hours on the Service's clock) are made due, as if their time
		// had come, so that the run is about kills and outages, not the
		// schedule (whose own tests are in package fulfillment). Every
		// tenth tick, not every one: each such write makes an instance's
		// step on the record lose its compare-and-swap.
		if ticks++; ticks%10 == 0 {
			if _, err := fulfillmenttest.MakeDue(ctx, store); err != nil {
				t.Logf("make due: %v", err)
			}
		}
		switch {
		case enrolling:
		case short:
			w.Advance(20 * time.Minute)
		default:
			// A minute a tick: Okta's rate-limit resets (the 429 faults)
			// come, the sealed requests do not expire.
			w.Advance(time.Minute)
		}
		if !outage && 3*finished >= n {
			outage = true
			databaseOutage(t, instances, pgDir, syncInterval)
		}
		done := 0
		pins := w.pins()
		for _, r := range recs {
			switch {
			case r.Status == fulfillment.Active || errored(r):
				done++
			case r.Status == fulfillment.Shipped && r.Step == fulfillment.StepPINSent && !signedIn[r.UserID]:
				p := w.byID[r.UserID]
				if pin := pins[p.profile.Email]; pin != "" {
					if _, err := w.signIn(ctx, oc, p, r, pin, 5); err != nil {
						t.Logf("user %s: sign-in (tried again at the next tick): %v", p.id, err)
					} else {
						signedIn[r.UserID] = true
					}
				}
			}
		}
		finished = done
		if done == n {
			break
		}
	}
	for _, in := range instances {
		in.stop()
	}
	instances = nil

	out := w.check(ctx, store)
	for _, p := range out.problems {
		t.Errorf("invariant: %s", p)
	}
	if !outage {
		t.Error("the work ended before the database outage")
	}
	if out.duplicates != 0 || out.lost != 0 || out.active+len(out.errored) != n {
		t.Errorf("Active %d, errored %d, duplicates %d, lost %d; want %d Active or errored, no duplicates, none lost",
			out.active, len(out.errored), out.duplicates, out.lost, n)
		logKeyedCreates(t, w.Yubico)
	}
	for id, r := range out.errored {
		t.Logf("user %s errored: %s", id, r)
	}
	if killed < kills {
		t.Errorf("%d of %d planned kills happened before the work ended", killed, kills)
	}
	t.Logf("three serve instances on PostgreSQL, %v: %d users, %d Active, %d errored with a reason, %d SIGKILLs; Okta faults %v, Yubico faults %v",
		time.Since(start).Round(time.Second), n, out.active, len(out.errored), killed, w.Okta.HTTPFaultCounts(), yubicoFaultCounts(w))
}

// logKeyedCreates logs, for a failed run, the idempotency keys that made
// more than one shipment at Yubico (each create with its time on the
// fake's clock): a duplicate made by one key again is a key the fake had
// forgotten; a duplicate absent here was made under two keys.
func logKeyedCreates(t *testing.T, y *yubicotest.Server) {
	t.Helper()
	made := map[string][]time.Time{}
	for _, r := range y.RequestLog() {
		if r.Method == http.MethodPost && r.IdempotencyKey != "" && r.Status/100 == 2 && !r.Replayed {
			made[r.IdempotencyKey] = append(made[r.IdempotencyKey], r.Time)
		}
	}
	for key, at := range made {
		if len(at) > 1 {
			t.Logf("idempotency key %s made %d shipments, at %v", key, len(at), at)
		}
	}
}

// databaseOutage stops the PostgreSQL server in pgDir while the instances
// run, and starts it again: every instance must notice (/readyz 503 with
// the store check failing), stay up, back off its failing Sync passes
// instead of looping on them, and be ready again once the database is
// back. The outage lasts outageHold after the last instance noticed.
func databaseOutage(t *testing.T, instances []*instance, pgDir string, syncInterval time.Duration) {
	t.Helper()
	const outageHold = 3 * time.Second
	pgctl := func(verb string) {
		t.Helper()
		script, err := pgtest.Script()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("bash", script, verb, pgDir)
		if out, err := testproc.CombinedOutput(t, cmd); err != nil {
			t.Fatalf("postgres.sh %s: %v\n%s", verb, err, out)
		}
	}
	// await polls every instance's /readyz until want holds for each.
	await := func(what string, want func(code int, store string) bool) {
		t.Helper()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(time.Minute)
		for _, in := range instances {
			for {
				if code, store := in.ready(); want(code, store) {
					break
				}
				select {
				case <-tick.C:
				case <-deadline:
					code, store := in.ready()
					t.Fatalf("instance %d not %s within a minute: /readyz %d, store %q", in.n, what, code, store)
				}
			}
		}
	}
	// An instance restarted just now must have opened the store first.
	await("ready before the outage", func(code int, store string) bool { return store == "ok" })
	before := make([]int64, len(instances))
	for i, in := range instances {
		before[i] = in.failed.Load()
	}
	start := time.Now()
	pgctl("pause")
	await("unready", func(code int, store string) bool { return code == http.StatusServiceUnavailable && store != "ok" })
	<-time.After(outageHold) // the outage itself: the database stays down this long
	down := time.Since(start)
	for _, in := range instances {
		if !in.alive() {
			t.Fatalf("instance %d exited while the database was down", in.n)
		}
	}
	pgctl("resume")
	await("ready again", func(code int, store string) bool { return code == http.StatusOK })
	// Without backoff, a pass every syncInterval would fail: down/syncInterval
	// of them. With the wait doubling after each failure, about
	// log2(down/syncInterval) + 1.
	limit := int64(math.Ceil(math.Log2(float64(down)/float64(syncInterval)+1))) + 2
	for i, in := range instances {
		if f := in.failed.Load() - before[i]; f > limit {
			t.Errorf("instance %d: %d failed Sync passes in a %v outage, want at most %d (a backoff, not a busy loop)", in.n, f, down.Round(time.Millisecond), limit)
		} else {
			t.Logf("instance %d: %d failed Sync passes in a %v outage (limit %d)", in.n, f, down.Round(time.Millisecond), limit)
		}
	}
}

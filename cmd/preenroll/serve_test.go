package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/internal/testproc"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// serveRig is a built preenroll binary, a fake Okta org with a batch of
// users and a fake Yubico started here (over loopback, as the real
// services), and a SQLite store for `preenroll serve` runs.
type serveRig struct {
	t        *testing.T
	dir, bin string
	store    string
	db       *fulfillment.SQLiteStore // the test's own handle on store (see storeDB)
	o        *oktatest.Server
	y        *yubicotest.Server
	admin    *okta.Client
	batch    []okta.User
	byEmail  map[string]string // email -> user ID
	deadline time.Time
	secrets  []string // the -okta-token-file … arguments
}

// newServeRig builds the binary and starts the fakes with users ACTIVE
// users; every FIDO Pre-reg shipment create at the fake Yubico takes
// shipLatency, so that a batch stays busy for a while. It skips under
// -short.
func newServeRig(t *testing.T, users int, shipLatency time.Duration) *serveRig {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and runs it")
	}
	r := &serveRig{t: t, dir: t.TempDir(), byEmail: map[string]string{}, deadline: time.Now().Add(2 * time.Minute)}
	if d := os.Getenv("SERVE_TEST_DIR"); d != "" {
		r.dir = d
	}
	r.bin, r.store = filepath.Join(r.dir, "preenroll"), filepath.Join(r.dir, "keys.db")
	testproc.Build(t, "github.com/preenroll/preenroll/cmd/preenroll", r.bin)
	var err error
	if r.y, err = yubicotest.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.y.Close)
	if err := r.y.InjectHTTPFault(yubicotest.HTTPFaultRule{Method: "POST", PathPrefix: "/v1/fpr/shipments", Latency: shipLatency, Count: 1000}); err != nil {
		t.Fatal(err)
	}
	if r.o, err = oktatest.Start(oktatest.WithNow(r.y.Now()), oktatest.WithAttestationRoots(r.y.FIDOCA().Root()), oktatest.WithoutRateLimits()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.o.Close)
	if r.admin, err = r.o.Client(); err != nil {
		t.Fatal(err)
	}
	for i := range users {
		u, err := r.o.AddUser(fulfillmenttest.Profile(fmt.Sprintf("user%02d", i)), okta.UserActive)
		if err != nil {
			t.Fatal(err)
		}
		r.batch = append(r.batch, u)
		r.byEmail[strings.ToLower(u.Profile.Email)] = u.ID
		r.byEmail[strings.ToLower(u.Profile.SecondEmail)] = u.ID
	}
	r.secrets = []string{"-okta-token-file", r.write("okta.token", r.o.Token()), "-yubico-token-file", r.write("yubico.token", r.y.Token()),
		"-hook-secret-file", r.write("hook.secret", "serve-test-hook-secret-0123456789")}
	return r
}

// write writes a file in the rig's directory and returns its path.
func (r *serveRig) write(name, content string) string {
	p := filepath.Join(r.dir, name)
	if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
		r.t.Fatal(err)
	}
	return p
}

// freeAddr returns a loopback address nobody listens on.
func (r *serveRig) freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		r.t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// poll waits for an observable state of the processes or the fakes.
func (r *serveRig) poll(what string, done func() bool) {
	r.t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !done() {
		if time.Now().After(r.deadline) {
			r.t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// serveProc is one running `preenroll serve`.
type serveProc struct {
	cmd     *exec.Cmd
	base    string
	logPath string
}

// start runs `preenroll serve` number n on the rig's store, listening on
// addr, and waits until it is ready.
func (r *serveRig) start(n int, addr string) *serveProc {
	r.t.Helper()
	p := &serveProc{base: "http://" + addr, logPath: filepath.Join(r.dir, fmt.Sprintf("serve-%d.log", n))}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		r.t.Fatal(err)
	}
	args := append([]string{"serve",
		"-okta-org", r.o.URL(), "-yubico-api", r.y.URL(), "-yubico-jwks", r.y.ConsoleURL(),
		"-store", r.store, "-listen", addr, "-public-url", p.base, "-rp-id", fulfillmenttest.DefaultRPID,
		"-sync-interval", "200ms", "-sync-jitter", "0s", "-idempotent-shipments", "-shutdown-timeout", "20s",
	}, r.secrets...)
	p.cmd = exec.Command(r.bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	err = testproc.Start(r.t, p.cmd) // killed and waited for at the end of the test
	logFile.Close()                  // the child has its own
	if err != nil {
		r.t.Fatal(err)
	}
	r.poll("serve to be ready", func() bool {
		resp, err := http.Get(p.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// stop sends SIGTERM and checks that serve stopped gracefully.
func (r *serveRig) stop(p *serveProc) {
	r.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		r.t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			log, _ := os.ReadFile(p.logPath)
			r.t.Fatalf("serve after SIGTERM: %v\n%s", err, log)
		}
	case <-time.After(time.Until(r.deadline)):
		r.t.Fatal("serve did not stop after SIGTERM")
	}
	log, _ := os.ReadFile(p.logPath)
	if !strings.Contains(string(log), `"msg":"serve: stopped"`) {
		r.t.Errorf("no graceful stop in the log:\n%s", log)
	}
}

// storeDB returns the test's handle on the store, opened at the first
// call (OpenSQLite takes the write lock to check the schema: once, not at
// every poll tick beside the running serves) and closed when the test ends.
func (r *serveRig) storeDB() *fulfillment.SQLiteStore {
	r.t.Helper()
	if r.db == nil {
		db, err := fulfillment.OpenSQLite(r.t.Context(), r.store)
		if err != nil {
			r.t.Fatal(err)
		}
		r.t.Cleanup(func() { db.Close() })
		r.db = db
	}
	return r.db
}

// makeDue makes the store's waiting records due (fulfillmenttest.MakeDue)
// beside the running serve (SQLite takes writers from several processes).
func (r *serveRig) makeDue() {
	r.t.Helper()
	if _, err := fulfillmenttest.MakeDue(r.t.Context(), r.storeDB()); err != nil {
		r.t.Logf("make due: %v", err) // the database busy: the next poll tries again
	}
}

// readStore lists every record of the store.
func (r *serveRig) readStore() []fulfillment.Record {
	r.t.Helper()
	recs, err := r.storeDB().List(r.t.Context(), fulfillment.Query{})
	if err != nil {
		r.t.Fatal(err)
	}
	return recs
}

// orderBatch orders a key for every user of the batch in Okta and checks
// that Okta delivered every event to a serve.
func (r *serveRig) orderBatch() {
	r.t.Helper()
	for _, u := range r.batch {
		if err := r.admin.InitiateFulfillment(r.t.Context(), okta.FulfillmentRequest{UserID: u.ID, FulfillmentData: okta.FulfillmentData{
			{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"}}}); err != nil {
			r.t.Fatal(err)
		}
	}
	ds, err := r.o.AwaitDeliveries(r.t.Context(), len(r.batch))
	if err != nil {
		r.t.Fatal(err)
	}
	for _, d := range ds {
		if d.Status != http.StatusOK {
			r.t.Fatalf("delivery %+v: want 200", d)
		}
	}
}

// waitShipped moves the fakes' time on until serve at base counts every
// key of the batch Shipped (or one errored).
func (r *serveRig) waitShipped(base string) {
	r.t.Helper()
	users := len(r.batch)
	r.poll("every key to ship", func() bool {
		// Time passes at Yubico (and Okta): validation, the factory batch,
		// the carrier.
		if err := r.y.Advance(6 * time.Hour); err != nil {
			r.t.Fatal(err)
		}
		if err := r.o.SetNow(r.y.Now()); err != nil && !errors.Is(err, oktatest.ErrClockBackwards) {
			r.t.Fatal(err)
		}
		// serve keeps the wall clock: its waiting records' next checks
		// (Record.NextCheck) are made due as if the hours had passed.
		r.makeDue()
		// serve counts its keys by status after every Sync pass.
		return metric(r.t, base, `preenroll_keys{status="SHIPPED"}`) == users ||
			metric(r.t, base, `preenroll_keys{status="FULFILLMENT_ERRORED"}`) > 0
	})
	if resp, err := http.Get(base + "/metrics"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		os.WriteFile(filepath.Join(r.dir, "metrics.txt"), b, 0o600)
	}
}

// checkExactlyOnce checks that every record is Shipped and every user has
// exactly one enrollment at Okta and one shipment at Yubico: nothing lost,
// nothing doubled.
func (r *serveRig) checkExactlyOnce() {
	r.t.Helper()
	t := r.t
	for _, rec := range r.readStore() {
		if rec.Status != fulfillment.Shipped {
			t.Errorf("record of %s: %s at %s (%s), want SHIPPED", rec.Login, rec.Status, rec.Step, rec.Reason)
		}
	}
	shipments := map[string]int{}
	for _, sh := range r.y.Shipments() {
		fs, ok := r.y.FPRShipment(sh.ID)
		if !ok {
			t.Fatalf("shipment %s is not a FIDO Pre-reg shipment", sh.ID)
		}
		shipments[r.byEmail[strings.ToLower(fs.Recipient.Email)]]++
	}
	for _, u := range r.batch {
		if n := len(r.o.Enrollments(u.ID)); n != 1 {
			t.Errorf("%s has %d enrollments at Okta, want 1", u.Profile.Login, n)
		}
		if n := shipments[u.ID]; n != 1 {
			t.Errorf("%s has %d shipments at Yubico, want 1", u.Profile.Login, n)
		}
	}
	if len(shipments) != len(r.batch) {
		t.Errorf("shipments for %d recipients, want %d: %v", len(shipments), len(r.batch), shipments)
	}
}

// TestServeSIGTERMDuringBatchThenRestart builds the binary and runs
// `preenroll serve` on a SQLite store against a fake Okta org and a fake
// Yubico started here (over loopback, as the real services). An
// administrator orders keys for a batch of users in Okta; serve receives
// the events through its self-registered hook and works through them
// (Yubico is slowed so the batch is still busy); it is sent SIGTERM
// mid-batch, restarted on the same store, and carries the batch to
// Shipped. Every user must end with exactly one enrollment at Okta and
// one shipment at Yubico: nothing lost, nothing doubled.
func TestServeSIGTERMDuringBatchThenRestart(t *testing.T) {
	const users = 12
	// Every shipment create takes 300 ms: the batch is busy for a while.
	r := newServeRig(t, users, 300*time.Millisecond)
	addr := r.freeAddr()
	first := r.start(1, addr)
	r.orderBatch()
	// SIGTERM while the batch is busy: some shipments made, not all.
	r.poll("the batch to be under way", func() bool { return len(r.y.Shipments()) >= 2 })
	r.stop(first)
	made := len(r.y.Shipments())
	t.Logf("SIGTERM after %d of %d shipments", made, users)
	if made >= users {
		t.Logf("the batch finished before SIGTERM landed (the restart then only resumes polling)")
	}
	if recs := r.readStore(); len(recs) != users {
		t.Fatalf("after the first run the store has %d records, want %d (every accepted event recorded)", len(recs), users)
	}
	second := r.start(2, addr)
	r.waitShipped(second.base)
	r.stop(second)
	r.checkExactlyOnce()
}

// TestTwoServesOnOneStore runs two `preenroll serve` processes at once on
// the same SQLite store (as two replicas would): both register the event
// hook and both run Sync every 200 ms over the same records, so they race
// for every step. The leases and the store's compare-and-swap must leave
// every user with exactly one enrollment at Okta and one shipment at
// Yubico.
func TestTwoServesOnOneStore(t *testing.T) {
	const users = 12
	// Shipment creates are slowed so that the two Sync loops overlap.
	r := newServeRig(t, users, 100*time.Millisecond)
	a := r.start(1, r.freeAddr())
	b := r.start(2, r.freeAddr())
	r.orderBatch()
	r.waitShipped(a.base)
	r.poll("the second serve to count every key Shipped", func() bool {
		return metric(t, b.base, `preenroll_keys{status="SHIPPED"}`) == users
	})
	r.stop(a)
	r.stop(b)
	r.checkExactlyOnce()
	for _, p := range []*serveProc{a, b} {
		log, _ := os.ReadFile(p.logPath)
		t.Logf("%s: %d step lines", filepath.Base(p.logPath), strings.Count(string(log), `"msg":"fulfillment: step"`))
	}
}

// metric returns the value of one sample of serve's /metrics (-1 if
// absent or unreadable).
func metric(t *testing.T, base, sample string) int {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return -1
			}
			return int(n)
		}
	}
	return -1
}

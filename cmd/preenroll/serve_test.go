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
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

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
	if testing.Short() {
		t.Skip("builds the binary and runs it")
	}
	const users = 12
	dir := t.TempDir()
	if d := os.Getenv("SERVE_TEST_DIR"); d != "" {
		dir = d
	}
	bin := filepath.Join(dir, "preenroll")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	y, err := yubicotest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	o, err := oktatest.Start(oktatest.WithNow(y.Now()), oktatest.WithAttestationRoots(y.FIDOCA().Root()), oktatest.WithoutRateLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	admin, err := o.Client()
	if err != nil {
		t.Fatal(err)
	}
	var batch []okta.User
	byEmail := map[string]string{}
	for i := range users {
		u, err := o.AddUser(fulfillmenttest.Profile(fmt.Sprintf("user%02d", i)), okta.UserActive)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, u)
		byEmail[strings.ToLower(u.Profile.Email)] = u.ID
		byEmail[strings.ToLower(u.Profile.SecondEmail)] = u.ID
	}
	// Every shipment create takes 300 ms: the batch is busy for a while.
	if err := y.InjectHTTPFault(yubicotest.HTTPFaultRule{Method: "POST", PathPrefix: "/v1/fpr/shipments", Latency: 300 * time.Millisecond, Count: 1000}); err != nil {
		t.Fatal(err)
	}

	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr
	store := filepath.Join(dir, "keys.db")
	args := []string{"serve",
		"-okta-org", o.URL(), "-okta-token-file", write("okta.token", o.Token()),
		"-yubico-api", y.URL(), "-yubico-jwks", y.ConsoleURL(), "-yubico-token-file", write("yubico.token", y.Token()),
		"-hook-secret-file", write("hook.secret", "serve-test-hook-secret-0123456789"),
		"-store", store, "-listen", addr, "-public-url", base, "-rp-id", fulfillmenttest.DefaultRPID,
		"-sync-interval", "200ms", "-sync-jitter", "0s", "-idempotent-shipments", "-shutdown-timeout", "20s",
	}
	ctx := t.Context()
	deadline := time.Now().Add(2 * time.Minute)
	// poll waits for an observable state of the process or the fakes.
	poll := func(what string, done func() bool) {
		t.Helper()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for !done() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			<-tick.C
		}
	}
	startServe := func(n int) (*exec.Cmd, string) {
		t.Helper()
		logPath := filepath.Join(dir, fmt.Sprintf("serve-%d.log", n))
		logFile, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); logFile.Close() })
		poll("serve to be ready", func() bool {
			resp, err := http.Get(base + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
		return cmd, logPath
	}
	stopServe := func(cmd *exec.Cmd, logPath string) {
		t.Helper()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			if err != nil {
				log, _ := os.ReadFile(logPath)
				t.Fatalf("serve after SIGTERM: %v\n%s", err, log)
			}
		case <-time.After(time.Until(deadline)):
			t.Fatal("serve did not stop after SIGTERM")
		}
		log, _ := os.ReadFile(logPath)
		if !strings.Contains(string(log), `"msg":"serve: stopped"`) {
			t.Errorf("no graceful stop in the log:\n%s", log)
		}
	}
	readStore := func() []fulfillment.Record {
		t.Helper()
		db, err := fulfillment.OpenSQLite(ctx, store)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		recs, err := db.List(ctx, fulfillment.Query{})
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}

	first, firstLog := startServe(1)
	for _, u := range batch {
		if err := admin.InitiateFulfillment(ctx, okta.FulfillmentRequest{UserID: u.ID, FulfillmentData: okta.FulfillmentData{
			{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"}}}); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := o.AwaitDeliveries(ctx, users)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Status != http.StatusOK {
			t.Fatalf("delivery %+v: want 200", d)
		}
	}
	// SIGTERM while the batch is busy: some shipments made, not all.
	poll("the batch to be under way", func() bool { return len(y.Shipments()) >= 2 })
	stopServe(first, firstLog)
	made := len(y.Shipments())
	t.Logf("SIGTERM after %d of %d shipments", made, users)
	if made >= users {
		t.Logf("the batch finished before SIGTERM landed (the restart then only resumes polling)")
	}
	if recs := readStore(); len(recs) != users {
		t.Fatalf("after the first run the store has %d records, want %d (every accepted event recorded)", len(recs), users)
	}

	second, secondLog := startServe(2)
	poll("every key to ship", func() bool {
		// Time passes at Yubico (and Okta): validation, the factory batch,
		// the carrier.
		if err := y.Advance(6 * time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := o.SetNow(y.Now()); err != nil && !errors.Is(err, oktatest.ErrClockBackwards) {
			t.Fatal(err)
		}
		// serve counts its keys by status after every Sync pass.
		return metric(t, base, `preenroll_keys{status="SHIPPED"}`) == users ||
			metric(t, base, `preenroll_keys{status="FULFILLMENT_ERRORED"}`) > 0
	})
	if resp, err := http.Get(base + "/metrics"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		os.WriteFile(filepath.Join(dir, "metrics.txt"), b, 0o600)
	}
	stopServe(second, secondLog)
	for _, r := range readStore() {
		if r.Status != fulfillment.Shipped {
			t.Errorf("record of %s: %s at %s (%s), want SHIPPED", r.Login, r.Status, r.Step, r.Reason)
		}
	}

	shipments := map[string]int{}
	for _, sh := range y.Shipments() {
		fs, ok := y.FPRShipment(sh.ID)
		if !ok {
			t.Fatalf("shipment %s is not a FIDO Pre-reg shipment", sh.ID)
		}
		shipments[byEmail[strings.ToLower(fs.Recipient.Email)]]++
	}
	for _, u := range batch {
		if n := len(o.Enrollments(u.ID)); n != 1 {
			t.Errorf("%s has %d enrollments at Okta, want 1", u.Profile.Login, n)
		}
		if n := shipments[u.ID]; n != 1 {
			t.Errorf("%s has %d shipments at Yubico, want 1", u.Profile.Login, n)
		}
	}
	if len(shipments) != users {
		t.Errorf("shipments for %d recipients, want %d: %v", len(shipments), users, shipments)
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

package reliability_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/internal/testproc"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// crashUsers is the batch size of one crash-suite seed.
const crashUsers = 5

// buildCrashBatch builds cmd/crashbatch into dir, as .ci/run's "core
// builds without cgo" step builds it (CGO_ENABLED=0, no race detector), so
// the build cache is reused; a race-instrumented child is several times
// slower, and the in-process fault suite covers the race detector.
func buildCrashBatch(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "crashbatch")
	testproc.Build(t, "github.com/preenroll/preenroll/internal/reliability/cmd/crashbatch", bin)
	return bin
}

// crashStats counts what the crash suite did, over all seeds.
type crashStats struct {
	seeds, runs, kills atomic.Int64
	// afterIntent counts kills whose last line was an intent (the remote
	// call in flight or about to be sent), by step.
	mu          sync.Mutex
	afterIntent map[string]int
}

func (s *crashStats) killedAfter(line string) {
	var m map[string]any
	if json.Unmarshal([]byte(line), &m) != nil || m["msg"] != "fulfillment: intent" {
		return
	}
	step, _ := m["step"].(string)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.afterIntent == nil {
		s.afterIntent = map[string]int{}
	}
	s.afterIntent[step]++
}

// child is one crash-suite world and how to run the program against it.
type child struct {
	t     *testing.T
	bin   string
	w     *world
	state string
	users string
	rng   *rand.Rand
	stats *crashStats
}

// run runs the program in mode; if killAfter > 0 it is SIGKILLed after
// that many lines of output (with onlyIntents, that many intent lines: the
// moments a remote call is about to be sent), if it gets that far. It
// returns whether it completed and, if so, its last line.
func (c *child) run(mode string, killAfter int, onlyIntents bool) (completed bool, last map[string]any) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, "-okta", c.w.Okta.URL(), "-yubico", c.w.Yubico.URL(), "-yubico-jwks", c.w.Yubico.ConsoleURL(), "-state", c.state,
		"-rpid", rpID, "-mode", mode, "-users", c.users, "-concurrency", "3")
	cmd.Env = append(os.Environ(), "CRASHBATCH_OKTA_TOKEN="+c.w.Okta.Token(), "CRASHBATCH_YUBICO_TOKEN="+c.w.Yubico.Token())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := testproc.Start(c.t, cmd); err != nil {
		c.t.Fatal(err)
	}
	c.stats.runs.Add(1)
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	lines, killed := 0, false
	var lastLine string
	for sc.Scan() {
		lastLine = sc.Text()
		if !onlyIntents || strings.Contains(lastLine, `"msg":"fulfillment: intent"`) {
			lines++
		}
		for _, secret := range []string{c.w.Okta.Token(), c.w.Yubico.Token()} {
			if strings.Contains(lastLine, secret) {
				c.t.Errorf("crashbatch logged an API token")
			}
		}
		if killAfter > 0 && lines == killAfter {
			c.stats.killedAfter(lastLine)
			if err := cmd.Process.Kill(); err != nil {
				c.t.Fatalf("kill: %v", err)
			}
			killed = true
			c.stats.kills.Add(1)
			break
		}
	}
	_, _ = bufioDrain(out)
	err = cmd.Wait()
	if killed {
		return false, nil
	}
	if err != nil {
		c.t.Fatalf("crashbatch -mode %s: %v\nstderr: %s", mode, err, stderr.String())
	}
	if err := json.Unmarshal([]byte(lastLine), &last); err != nil || last["msg"] != "done" {
		c.t.Fatalf("crashbatch -mode %s ended with %q, want the done line", mode, lastLine)
	}
	return true, last
}

// bufioDrain reads what is left of a killed child's output.
func bufioDrain(r interface{ Read([]byte) (int, error) }) (int, error) {
	buf := make([]byte, 4096)
	n := 0
	for {
		k, err := r.Read(buf)
		n += k
		if err != nil {
			return n, err
		}
	}
}

// phase runs mode with 1 to 3 kills at seeded points (after any line, or
// right after an intent was recorded), then to completion
// until a Sync pass advances nothing and fails nothing.
func (c *child) phase(mode string) {
	c.t.Helper()
	for range 1 + c.rng.IntN(3) {
		c.makeDue()
		var done bool
		if c.rng.IntN(2) == 0 {
			done, _ = c.run(mode, 1+c.rng.IntN(6*crashUsers), false)
		} else {
			done, _ = c.run(mode, 1+c.rng.IntN(2*crashUsers), true)
		}
		if done {
			break
		}
	}
	for i := 0; ; i++ {
		if i == 6 {
			c.t.Fatalf("mode %s: still advancing after 6 complete runs", mode)
		}
		c.makeDue()
		_, last := c.run(mode, 0, false)
		mode = "sync" // an order batch is not repeated once it completed
		if last["advanced"] == float64(0) && last["failures"] == float64(0) {
			return
		}
	}
}

// makeDue makes the waiting records of the child's store due
// (fulfillmenttest.MakeDue) while no child runs: the child's Service keeps
// the wall clock while the fakes' time jumps to the next milestone, so its
// schedule (Record.NextCheck) would not see the time pass.
func (c *child) makeDue() {
	c.t.Helper()
	ctx := c.t.Context()
	store, err := fulfillment.OpenSQLite(ctx, c.state)
	if err != nil {
		c.t.Fatal(err)
	}
	defer store.Close()
	if _, err := fulfillmenttest.MakeDue(ctx, store); err != nil {
		c.t.Fatal(err)
	}
}

// runCrashSeed is one seed of the crash suite.
func runCrashSeed(t *testing.T, bin string, seed uint64, stats *crashStats) {
	w := newWorld(t, crashUsers, seed, oktatest.WithoutRateLimits())
	dir := t.TempDir()
	c := &child{t: t, bin: bin, w: w, state: filepath.Join(dir, "state.db"), users: filepath.Join(dir, "users.txt"),
		rng: rand.New(rand.NewPCG(seed, 0xc0ffee)), stats: stats}
	if err := os.WriteFile(c.users, []byte(strings.Join(w.ids(), "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.phase("order")
	w.nextTransition() // address validation
	c.phase("sync")
	w.AdvanceClockTo(fulfillmenttest.Programmed) // the factory programs the keys
	c.phase("sync")
	w.AdvanceClockTo(fulfillmenttest.Shipped) // shipped: 103
	c.phase("sync")

	// The users sign in (in this process; no child runs meanwhile).
	ctx := t.Context()
	store, err := fulfillment.OpenSQLite(ctx, c.state)
	if err != nil {
		t.Fatal(err)
	}
	oc, _ := w.clients(clientOptions{}, &counters{})
	pins := w.pins()
	for _, p := range w.people {
		rec, err := store.Get(ctx, p.id)
		if err != nil || rec.Status != fulfillment.Shipped {
			continue
		}
		if _, err := w.signIn(ctx, oc, p, rec, pins[p.profile.Email], 1); err != nil {
			t.Errorf("user %s: %v", p.id, err)
		}
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	w.Advance(time.Hour)
	c.phase("sync")

	if store, err = fulfillment.OpenSQLite(ctx, c.state); err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	out := w.check(ctx, store)
	for _, p := range out.problems {
		t.Errorf("seed %d: %s", seed, p)
	}
	for id, reason := range out.errored {
		t.Logf("seed %d: user %s errored: %s", seed, id, reason)
	}
	if out.duplicates != 0 || out.lost != 0 {
		t.Errorf("seed %d: duplicates %d, lost %d; want 0", seed, out.duplicates, out.lost)
	}
	stats.seeds.Add(1)
}

// TestCrashSuite kills the batch program (a separate process with an SQLite
// state file) at seeded points of every phase of the lifecycle, reruns it,
// and checks that no user is lost or doubled.
func TestCrashSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a program many times")
	}
	bin := buildCrashBatch(t, t.TempDir())
	var stats crashStats
	start := time.Now()
	t.Cleanup(func() {
		t.Logf("crash suite: %d seeds, %d runs of the program, %d SIGKILLs (%v right after an intent was recorded), %v",
			stats.seeds.Load(), stats.runs.Load(), stats.kills.Load(), stats.afterIntent, time.Since(start).Round(time.Millisecond))
	})
	for seed := range uint64(*crashSeeds) {
		t.Run(fmt.Sprintf("seed%02d", seed+1), func(t *testing.T) {
			t.Parallel()
			runCrashSeed(t, bin, seed+1, &stats)
		})
	}
}

package benchmarks_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/pgstore"
	"github.com/preenroll/preenroll/internal/cputime"
	"github.com/preenroll/preenroll/internal/pgtest"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/yubico"
)

// instanceOrders is how many users a batch of BenchmarkOrderBatchInstances
// orders.
const instanceOrders = 10_000

// instanceConcurrency is each instance's Config.Concurrency: that of
// fulfillment's BenchmarkOrderBatch10k, so the one-instance numbers compare.
const instanceConcurrency = 8

// resubmitEvery: every resubmitEvery-th user of the batch is also sent to
// a second instance at the same time (a retried request the load balancer
// sends elsewhere), so 1 user in 10 is ordered twice at once.
const resubmitEvery = 10

// instanceCase is one configuration of BenchmarkOrderBatchInstances:
// instances Services, each with a handle of its own on one store.
type instanceCase struct {
	name      string
	instances int
	// store returns a function that opens one instance's handle on a new,
	// empty store (a new memory store, SQLite file or PostgreSQL schema).
	store func(tb testing.TB) func() fulfillment.Store
	pg    bool // needs PREENROLL_POSTGRES_URL
}

var instanceCases = []instanceCase{
	{name: "memory-1-instance", instances: 1, store: memoryStore},
	{name: "sqlite-1-instance", instances: 1, store: sqliteStore},
	{name: "postgres-1-instance", instances: 1, store: postgresStore, pg: true},
	{name: "postgres-3-instances", instances: 3, store: postgresStore, pg: true},
}

func memoryStore(testing.TB) func() fulfillment.Store {
	s := fulfillment.NewMemoryStore()
	return func() fulfillment.Store { return s }
}

// sqliteStore creates a fresh SQLite file; each handle opens it anew.
func sqliteStore(tb testing.TB) func() fulfillment.Store {
	path := filepath.Join(tb.TempDir(), "preenroll.db")
	return func() fulfillment.Store {
		s, err := fulfillment.OpenSQLite(context.Background(), path)
		return keepOpen(tb, s, err)
	}
}

// postgresStore creates a fresh schema; each handle is a store of its own
// (its own connection pool, pgstore's default size) on that schema, as
// separate processes would open.
func postgresStore(tb testing.TB) func() fulfillment.Store {
	_, url := pgtest.Schema(tb, "bench")
	return func() fulfillment.Store {
		s, err := pgstore.Open(context.Background(), url)
		return keepOpen(tb, s, err)
	}
}

// keepOpen returns the store s just opened (failing tb if err is set),
// closed when tb ends.
func keepOpen[S interface {
	fulfillment.Store
	Close() error
}](tb testing.TB, s S, err error) fulfillment.Store {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// newInstance builds a Service on the World's fakes as another process
// would: its own HTTP client, Okta and Yubico clients, store handle and
// instance ID (Rand nil: crypto/rand), the World's configuration otherwise.
func newInstance(tb testing.TB, w *world, store fulfillment.Store) *fulfillment.Service {
	tb.Helper()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 60 * time.Second}
	tb.Cleanup(hc.CloseIdleConnections)
	oc, err := w.Okta.Client(okta.WithHTTPClient(hc))
	if err != nil {
		tb.Fatal(err)
	}
	cfg := w.Config
	cfg.Okta, cfg.Yubico, cfg.Store, cfg.Rand = oc, w.Yubico.Client(yubico.WithHTTPClient(hc)), store, nil
	svc, err := fulfillment.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return svc
}

// splitBatch deals users to n instances round robin, as a load balancer
// would; with more than one instance every resubmitEvery-th user also goes
// to the next instance, at the same place in its batch (a retry landing
// elsewhere while the first request runs). It returns each instance's
// batch and the number of users sent twice.
func splitBatch(users []okta.User, n int) (batches [][]string, twice int) {
	batches = make([][]string, n)
	for i, u := range users {
		batches[i%n] = append(batches[i%n], u.ID)
		if n > 1 && i%resubmitEvery == 0 {
			batches[(i+1)%n] = append(batches[(i+1)%n], u.ID)
			twice++
		}
	}
	return batches, twice
}

// instanceResult is one run of BenchmarkOrderBatchInstances.
type instanceResult struct {
	elapsed time.Duration // first OrderBatch call to the last one's return
	cpu     time.Duration // this process's CPU time meanwhile (Services, fakes; not PostgreSQL's)
	pgCPU   time.Duration // the PostgreSQL server's CPU time meanwhile, if pgOK
	pgOK    bool          // pgCPU was measured (see pgServerCPU)
	ordered int           // sum of the instances' BatchReport.Ordered
	skipped int           // sum of BatchReport.Skipped: the users sent twice
	// raced counts the skipped orders that found no record when they read
	// the store, and lost the compare-and-swap of the intent to the other
	// instance's (Result.Status StatusNone); the others found the other
	// instance's record already FulfillmentStarted.
	raced int
}

// orderBatchInstances seeds instanceOrders users in fresh fakes (Okta
// without rate limits) and orders them with c.instances Services on one
// new store, concurrently, each with its share of the batch. It then
// checks that nothing was lost or duplicated, in the store and at the
// fake Okta, failing tb with the users concerned.
func orderBatchInstances(b *testing.B, c instanceCase) instanceResult {
	b.Helper()
	ctx := b.Context()
	w := newWorld(b, worldOptions{
		okta:   []oktatest.Option{oktatest.WithoutRateLimits()},
		config: func(cfg *fulfillment.Config) { cfg.Concurrency = instanceConcurrency },
	})
	users := w.addUsers(instanceOrders)
	open := c.store(b)
	svcs := make([]*fulfillment.Service, c.instances)
	stores := make([]fulfillment.Store, c.instances)
	for i := range svcs {
		stores[i] = open()
		svcs[i] = newInstance(b, w, stores[i])
	}
	batches, twice := splitBatch(users, c.instances)
	eventsBefore := len(w.Okta.Events())

	reps := make([]fulfillment.BatchReport, c.instances)
	errs := make([]error, c.instances)
	var wg sync.WaitGroup
	var pgStart time.Duration
	pgOK := false
	if c.pg {
		pgStart, pgOK = pgServerCPU()
	}
	b.StartTimer()
	start, cpuStart := time.Now(), cputime.Process()
	for i, svc := range svcs {
		wg.Go(func() { reps[i], errs[i] = svc.OrderBatch(ctx, batches[i], fulfillment.BatchOptions{}) })
	}
	wg.Wait()
	res := instanceResult{elapsed: time.Since(start), cpu: cputime.Process() - cpuStart}
	b.StopTimer()
	if pgEnd, ok := pgServerCPU(); pgOK && ok {
		res.pgCPU, res.pgOK = pgEnd-pgStart, true
	}

	failed, invalid := 0, 0
	for i, rep := range reps {
		if errs[i] != nil {
			b.Errorf("instance %d: OrderBatch: %v", i, errs[i])
		}
		res.ordered += rep.Ordered
		res.skipped += rep.Skipped
		failed += rep.Failed
		invalid += len(rep.Invalid)
		for _, r := range rep.Results {
			switch {
			case r.Err == nil:
			case !errors.Is(r.Err, fulfillment.ErrOrderInFlight):
				b.Errorf("instance %d: %s: %v", i, r.Login, r.Err)
			case r.Status == fulfillment.StatusNone:
				res.raced++
			}
		}
		for _, r := range rep.Invalid {
			b.Errorf("instance %d: invalid %s: %v", i, r.Login, r.Err)
		}
	}
	checkOrderedOnce(b, ctx, w, stores[0], users, eventsBefore)
	if res.ordered != instanceOrders || res.skipped != twice || failed != 0 || invalid != 0 {
		b.Fatalf("%d instances, %d users (%d sent to two instances): ordered %d, skipped %d, failed %d, invalid %d; want ordered %d, skipped %d",
			c.instances, instanceOrders, twice, res.ordered, res.skipped, failed, invalid, instanceOrders, twice)
	}
	return res
}

// checkOrderedOnce checks that every user has exactly one record in the
// store, at FulfillmentStarted after Okta accepted the order (step
// Initiated) with one Initiating intent in its history, and exactly one
// system.mfa.preregister.initiate event at the fake Okta since
// eventsBefore (one accepted initiate-fulfillment-request: the only order
// OrderBatch sends; the fake does not refuse a second one while no
// enrollment exists, so a duplicate would show here). It names the lost
// and duplicated users.
func checkOrderedOnce(tb testing.TB, ctx context.Context, w *world, store fulfillment.Store, users []okta.User, eventsBefore int) {
	tb.Helper()
	recs, err := store.List(ctx, fulfillment.Query{})
	if err != nil {
		tb.Fatal(err)
	}
	records := map[string]int{}
	var wrong []string
	for _, r := range recs {
		records[r.UserID]++
		intents := 0
		for _, h := range r.History {
			if h.Step == fulfillment.StepInitiating {
				intents++
			}
		}
		if r.Status != fulfillment.FulfillmentStarted || r.Step != fulfillment.StepInitiated || intents != 1 {
			wrong = append(wrong, fmt.Sprintf("%s: %s at %s, %d Initiating intents (%s)", r.Login, r.Status, r.Step, intents, r.Reason))
		}
	}
	events := map[string]int{}
	for _, e := range w.Okta.Events()[eventsBefore:] {
		if e.EventType == okta.EventTypePreregisterInitiate {
			events[e.UserID]++
		}
	}
	var lostRecord, lostAtOkta, dupRecord, dupAtOkta []string
	for _, u := range users {
		switch n := records[u.ID]; {
		case n == 0:
			lostRecord = append(lostRecord, u.Profile.Login)
		case n > 1:
			dupRecord = append(dupRecord, fmt.Sprintf("%s×%d", u.Profile.Login, n))
		}
		switch n := events[u.ID]; {
		case n == 0:
			lostAtOkta = append(lostAtOkta, u.Profile.Login)
		case n > 1:
			dupAtOkta = append(dupAtOkta, fmt.Sprintf("%s×%d", u.Profile.Login, n))
		}
		delete(records, u.ID)
		delete(events, u.ID)
	}
	if len(records) != 0 || len(events) != 0 {
		tb.Errorf("records of %d and initiate events of %d users not in the batch", len(records), len(events))
	}
	for _, p := range []struct {
		what  string
		users []string
	}{
		{"without a record in the store (lost)", lostRecord},
		{"without an initiate event at Okta (lost)", lostAtOkta},
		{"with more than one record (duplicated)", dupRecord},
		{"with more than one initiate event at Okta (duplicated)", dupAtOkta},
		{"whose record is not FulfillmentStarted/Initiated with one intent", wrong},
	} {
		if len(p.users) > 0 {
			slices.Sort(p.users)
			tb.Errorf("%d of %d users %s: %s", len(p.users), len(users), p.what, firstFew(p.users, 20))
		}
	}
}

// firstFew joins up to n of s, saying how many more there are.
func firstFew(s []string, n int) string {
	if len(s) <= n {
		return strings.Join(s, ", ")
	}
	return strings.Join(s[:n], ", ") + fmt.Sprintf(" … and %d more", len(s)-n)
}

// BenchmarkOrderBatchInstances orders 10,000 keys with OrderBatch against a
// fake Okta without rate limits: with one instance on a memory store, a
// SQLite file and a PostgreSQL schema, and with three instances on one
// PostgreSQL schema, running at once, each with its own clients and
// connection pool and a third of the users (1 user in 10 sent to two
// instances at once). It reports the batch's orders per second (first call
// to last return; seeding the users is not timed), this process's CPU time
// per order (the Services and both fakes: steadier than wall time on a
// shared machine), the PostgreSQL server's CPU time per order when it is
// the local one .ci/postgres.sh started (PREENROLL_PG_PID set: see
// pgServerCPU), how many users sent twice an instance skipped as already
// in flight, and how many of those skips lost a compare-and-swap race in
// the store (both instances had read no record). It fails if any user has no record, or no
// initiate-fulfillment-request accepted at Okta, or more than one. The
// PostgreSQL cases need PREENROLL_POSTGRES_URL (see internal/pgtest) and
// skip without it.
func BenchmarkOrderBatchInstances(b *testing.B) {
	for _, c := range instanceCases {
		b.Run(c.name, func(b *testing.B) {
			if c.pg {
				pgtest.ServerURL(b)
			}
			var total, cpu, pgCPU time.Duration
			var last instanceResult
			b.StopTimer()
			for range b.N {
				last = orderBatchInstances(b, c)
				total += last.elapsed
				cpu += last.cpu
				pgCPU += last.pgCPU
			}
			perOrder := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(instanceOrders*b.N) }
			b.ReportMetric(float64(instanceOrders*b.N)/total.Seconds(), "orders/s")
			b.ReportMetric(perOrder(cpu), "go-cpu-µs/order")
			if last.pgOK {
				b.ReportMetric(perOrder(pgCPU), "pg-cpu-µs/order")
			}
			b.ReportMetric(float64(last.skipped), "resubmits-skipped")
			b.ReportMetric(float64(last.raced), "resubmits-raced")
		})
	}
}

// pgServerCPU returns the CPU time the local PostgreSQL server started by
// .ci/postgres.sh has used so far: its postmaster's (PREENROLL_PG_PID), the
// children it reaped (backends of closed connections) and its live
// children (the backends serving the pools, autovacuum, the WAL writer...),
// from /proc. ok is false without the variable (a remote server) or
// without /proc. /proc counts in USER_HZ ticks, 100 a second on Linux.
func pgServerCPU() (cpu time.Duration, ok bool) {
	pm, err := strconv.Atoi(os.Getenv("PREENROLL_PG_PID"))
	if err != nil || pm <= 0 {
		return 0, false
	}
	const tick = time.Second / 100
	own, ok := procStat(pm)
	if !ok {
		return 0, false
	}
	// After the command: state ppid … utime(14) stime(15) cutime(16) cstime(17), 1-based from the PID.
	ticks := own.field(14) + own.field(15) + own.field(16) + own.field(17)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == pm {
			continue
		}
		if st, ok := procStat(pid); ok && st.field(4) == int64(pm) {
			ticks += st.field(14) + st.field(15)
		}
	}
	return time.Duration(ticks) * tick, true
}

// procFields are the fields of /proc/PID/stat after the command name:
// procFields[0] is field 3 (state).
type procFields []string

// field returns field n (1-based, as proc(5) numbers them) as a number,
// 0 if absent.
func (f procFields) field(n int) int64 {
	if n-3 < 0 || n-3 >= len(f) {
		return 0
	}
	v, _ := strconv.ParseInt(f[n-3], 10, 64)
	return v
}

// procStat reads /proc/pid/stat; ok is false if the process is gone.
func procStat(pid int) (procFields, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, false
	}
	// The command name is in parentheses and may hold spaces or ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil, false
	}
	return strings.Fields(string(b[i+1:])), true
}

package benchmarks_test

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/internal/cputime"
	"github.com/preenroll/preenroll/internal/oktarate"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// countingStore counts what reaches a Store: Gets (and those that found a
// record), Lists and ListDues (ListDues also on their own) with the records
// they return, CountNotDues, Puts and the event marks and checks. It
// forwards the due index (fulfillment.DueLister) and EventChecker, so that
// the Service takes the path it takes on the store itself. onPut, if set,
// sees each record Put is given.
type countingStore struct {
	fulfillment.Store
	gets, found, lists, dueLists, listed, notDue, puts, marks, checks atomic.Int64
	onPut                                                             func(fulfillment.Record)
}

func (s *countingStore) Get(ctx context.Context, userID string) (fulfillment.Record, error) {
	r, err := s.Store.Get(ctx, userID)
	s.gets.Add(1)
	if err == nil {
		s.found.Add(1)
	}
	return r, err
}

func (s *countingStore) List(ctx context.Context, q fulfillment.Query) ([]fulfillment.Record, error) {
	rs, err := s.Store.List(ctx, q)
	s.lists.Add(1)
	s.listed.Add(int64(len(rs)))
	return rs, err
}

// ListDue forwards the store's due index (fulfillment.DueLister); it
// counts as a List, and its records as listed.
func (s *countingStore) ListDue(ctx context.Context, q fulfillment.DueQuery) ([]fulfillment.Record, error) {
	rs, err := fulfillment.ListDue(ctx, s.Store, q)
	s.lists.Add(1)
	s.dueLists.Add(1)
	s.listed.Add(int64(len(rs)))
	return rs, err
}

// CountNotDue forwards the store's count of the records not due.
func (s *countingStore) CountNotDue(ctx context.Context, now time.Time) (int, error) {
	s.notDue.Add(1)
	return fulfillment.CountNotDue(ctx, s.Store, now)
}

func (s *countingStore) Put(ctx context.Context, r fulfillment.Record) (fulfillment.Record, error) {
	s.puts.Add(1)
	if s.onPut != nil {
		s.onPut(r)
	}
	return s.Store.Put(ctx, r)
}

func (s *countingStore) MarkEvent(ctx context.Context, eventID string, at time.Time) (bool, error) {
	s.marks.Add(1)
	return s.Store.MarkEvent(ctx, eventID, at)
}

// EventMarked forwards the store's fulfillment.EventChecker (every store
// of this project has one).
func (s *countingStore) EventMarked(ctx context.Context, eventID string) (bool, error) {
	s.checks.Add(1)
	return s.Store.(fulfillment.EventChecker).EventMarked(ctx, eventID)
}

// storeCounts is a snapshot of a countingStore's counters.
type storeCounts struct{ gets, found, lists, dueLists, listed, notDue, puts, marks, checks int64 }

// minus is what was counted from o to c.
func (c storeCounts) minus(o storeCounts) storeCounts {
	return storeCounts{c.gets - o.gets, c.found - o.found, c.lists - o.lists, c.dueLists - o.dueLists, c.listed - o.listed,
		c.notDue - o.notDue, c.puts - o.puts, c.marks - o.marks, c.checks - o.checks}
}

func (s *countingStore) counts() storeCounts {
	return storeCounts{s.gets.Load(), s.found.Load(), s.lists.Load(), s.dueLists.Load(), s.listed.Load(),
		s.notDue.Load(), s.puts.Load(), s.marks.Load(), s.checks.Load()}
}

// The stages of the keys in flight in BenchmarkSyncScale, in lifecycle
// order, with their share of the keys (per 100).
var syncStages = []struct {
	name  string
	share int
}{
	{"ordered", 5},     // just ordered: initiated, to enroll and ship
	{"created", 10},    // shipment created at the last pass, awaiting address validation
	{"validated", 20},  // state 3, validated, awaiting Yubico's daily batch
	{"programmed", 20}, // state 10, sent to fulfillment, awaiting the carrier
	{"shipped", 20},    // 103: activated, PIN sent, in transit, awaiting first sign-in
	{"delivered", 25},  // 104 seen: delivered, awaiting first sign-in
}

// syncPass is what one measured Sync pass cost.
type syncPass struct {
	report        fulfillment.SyncReport
	okta, yubico  int            // requests at each fake
	byStage       map[string]int // requests by the stage of the key they were for
	unattributed  int            // requests for no key (Yubico's JWKS)
	oktaBuckets   map[string]int // Okta requests by rate-limit bucket
	throttled     int            // answers 429 (none: the fakes run without limits)
	store         storeCounts
	cpu, wall     time.Duration
	inFlight, due int
}

var (
	userInPath     = regexp.MustCompile(`/users/([^/]+)`)
	shipmentInPath = regexp.MustCompile(`^/v1/fpr/shipments/([^/]+)$`)
)

// syncScaleWorld seeds n keys in flight across syncStages through the real
// API on the fakes (no rate limits while seeding), each stage reached by
// ordering its keys and moving the fake clock through Yubico's timeline
// with Sync passes, and returns the World, the seeding store and each
// user's stage. The just-ordered stage is seeded twice, as "ordered" and
// "ordered-b", so that two Services on the same fakes can each enroll
// their own (see syncScaleServices).
func syncScaleWorld(tb testing.TB, n int) (*world, fulfillment.Store, map[string]string) {
	tb.Helper()
	ctx := tb.Context()
	w := newWorld(tb, worldOptions{
		okta:  []oktatest.Option{oktatest.WithoutRateLimits()},
		stock: 2 * n,
		config: func(c *fulfillment.Config) {
			c.Concurrency = 8
		},
	})
	stageOf := map[string]string{}
	order := func(stage string, k int) {
		users := w.addUsers(k)
		ids := make([]string, k)
		for i, u := range users {
			ids[i] = u.ID
			stageOf[u.ID] = stage
		}
		rep, err := w.Service.OrderBatch(ctx, ids, fulfillment.BatchOptions{})
		if err != nil || rep.Ordered != k {
			tb.Fatalf("OrderBatch %s: ordered %d of %d: %v", stage, rep.Ordered, k, err)
		}
	}
	count := func(i int) int { return n * syncStages[i].share / 100 }
	// Oldest first: each stage's keys are ordered, then the clock moves on
	// for them (and for the stages ordered before).
	order("delivered", count(5))
	w.sync(ctx) // enroll, create the shipments
	if rep := w.AdvanceTo(ctx, fulfillmenttest.Delivered); len(rep.Failures) > 0 {
		tb.Fatalf("AdvanceTo(Delivered): %v", rep.Failures[0].Err)
	}
	order("shipped", count(4))
	w.sync(ctx)
	if rep := w.AdvanceTo(ctx, fulfillmenttest.Shipped); len(rep.Failures) > 0 {
		tb.Fatalf("AdvanceTo(Shipped): %v", rep.Failures[0].Err)
	}
	order("programmed", count(3))
	w.sync(ctx)
	if rep := w.AdvanceTo(ctx, fulfillmenttest.Programmed); len(rep.Failures) > 0 {
		tb.Fatalf("AdvanceTo(Programmed): %v", rep.Failures[0].Err)
	}
	w.Advance(time.Hour) // after the batch: the next one is a day away
	order("validated", count(2))
	w.sync(ctx)
	w.Advance(15 * time.Minute) // address validation, and the poll 15 minutes after the create
	w.sync(ctx)
	w.Advance(30 * time.Minute)
	order("created", count(1))
	w.sync(ctx)
	rest := n - count(1) - count(2) - count(3) - count(4) - count(5)
	order("ordered", rest)
	order("ordered-b", rest)
	return w, w.Config.Store, stageOf
}

// syncScaleServices returns two Services on w's fakes, one on a
// MemoryStore and one on an SQLite store, each behind a countingStore and
// holding a copy of seed's records: all but the "ordered-b" keys for the
// first, all but the "ordered" keys for the second (whose "ordered-b"
// keys are relabelled "ordered" in stageOf), so that each has n keys in
// flight and enrolls just-ordered keys no other Service enrolls. Checks
// only read at the fakes, so both see the same world.
func syncScaleServices(tb testing.TB, w *world, seed fulfillment.Store, stageOf map[string]string) (mem, lite *fulfillment.Service, memCS, liteCS *countingStore, liteStages map[string]string) {
	tb.Helper()
	ctx := tb.Context()
	memCS, liteCS = &countingStore{Store: fulfillment.NewMemoryStore()}, &countingStore{Store: openSecondStore(tb)}
	recs, err := seed.List(ctx, fulfillment.Query{})
	if err != nil {
		tb.Fatal(err)
	}
	liteStages = map[string]string{}
	for _, r := range recs {
		r.Version = 0
		stage := stageOf[r.UserID]
		if stage != "ordered-b" {
			if _, err := memCS.Store.Put(ctx, r); err != nil {
				tb.Fatal(err)
			}
		}
		if stage != "ordered" {
			if _, err := liteCS.Store.Put(ctx, r); err != nil {
				tb.Fatal(err)
			}
			liteStages[r.UserID] = strings.TrimSuffix(stage, "-b")
		}
	}
	for _, c := range []struct {
		cs  *countingStore
		svc **fulfillment.Service
	}{{memCS, &mem}, {liteCS, &lite}} {
		cfg := w.Config
		cfg.Store = c.cs
		if *c.svc, err = fulfillment.New(cfg); err != nil {
			tb.Fatal(err)
		}
	}
	return mem, lite, memCS, liteCS, liteStages
}

// secondStore names the store of the second Service of BenchmarkSyncScale:
// SQLite, or PostgreSQL with PREENROLL_SYNCSCALE_STORE=postgres (on a fresh
// schema of PREENROLL_POSTGRES_URL).
func secondStore() string {
	if os.Getenv("PREENROLL_SYNCSCALE_STORE") == "postgres" {
		return "postgres"
	}
	return "sqlite"
}

// openSecondStore opens the store secondStore names (a fresh SQLite file
// or PostgreSQL schema), closed when tb ends.
func openSecondStore(tb testing.TB) fulfillment.Store {
	tb.Helper()
	if secondStore() == "postgres" {
		return postgresStore(tb)()
	}
	return sqliteStore(tb)()
}

// measurePass runs one Sync pass and counts what it cost.
func measurePass(tb testing.TB, w *world, svc *fulfillment.Service, cs *countingStore, stageOf map[string]string) syncPass {
	tb.Helper()
	ctx := tb.Context()
	recs, err := cs.Store.List(ctx, fulfillment.Query{InFlight: true})
	if err != nil {
		tb.Fatal(err)
	}
	p := syncPass{byStage: map[string]int{}, oktaBuckets: map[string]int{}, inFlight: len(recs)}
	shipmentStage := map[string]string{}
	now := w.Now()
	for _, r := range recs {
		if r.ShipmentID != "" {
			shipmentStage[r.ShipmentID] = stageOf[r.UserID]
		}
		if (r.Step != fulfillment.StepShipmentCreated && r.Step != fulfillment.StepPINSent) || !now.Before(r.NextCheck) {
			p.due++
		}
	}
	o0, y0 := len(w.Okta.RequestLog()), len(w.Yubico.RequestLog())
	s0 := cs.counts()
	cpu0, t0 := cputime.Process(), time.Now()
	rep, err := svc.Sync(ctx)
	p.cpu, p.wall = cputime.Process()-cpu0, time.Since(t0)
	if err != nil {
		tb.Fatalf("Sync: %v", err)
	}
	if len(rep.Failures) > 0 {
		tb.Fatalf("Sync: %d failures, first: %v", len(rep.Failures), rep.Failures[0].Err)
	}
	p.report = rep
	s1 := cs.counts()
	p.store = s1.minus(s0)
	for _, r := range w.Okta.RequestLog()[o0:] {
		p.okta++
		if r.Status == 429 {
			p.throttled++
		}
		if b, ok := oktarate.Classify(r.Method, r.Path); ok {
			p.oktaBuckets[b.Name]++
		}
		// enroll, activate and send-pin name the user in their body only:
		// only a just-ordered key enrolls, only a programmed key that
		// shipped is activated and sent its PIN.
		switch m := userInPath.FindStringSubmatch(r.Path); {
		case m != nil && stageOf[m[1]] != "":
			p.byStage[stageOf[m[1]]]++
		case strings.HasSuffix(r.Path, "/enroll"):
			p.byStage["ordered"]++
		case strings.HasSuffix(r.Path, "/activate") || strings.HasSuffix(r.Path, "/send-pin"):
			p.byStage["programmed"]++
		default:
			p.unattributed++
		}
	}
	// Yubico's creates name no shipment yet: only the just-ordered keys
	// create shipments.
	for _, r := range w.Yubico.RequestLog()[y0:] {
		p.yubico++
		if r.Status == 429 {
			p.throttled++
		}
		switch m := shipmentInPath.FindStringSubmatch(r.Path); {
		case r.Method == "POST" && r.Path == "/v1/fpr/shipments":
			p.byStage["ordered"]++
		case m != nil && shipmentStage[m[1]] != "":
			p.byStage[shipmentStage[m[1]]]++
		default:
			p.unattributed++
		}
	}
	return p
}

// oktaBudgetWindows returns the largest share of one rate-limit window
// (Okta's default limit per minute, as the fake enforces it) that the
// pass's requests in one bucket use, and that bucket.
func (p syncPass) oktaBudgetWindows() (float64, string) {
	worst, name := 0.0, ""
	for b, k := range p.oktaBuckets {
		bucket, _ := oktarate.ByName(b)
		if bucket.Limit == 0 {
			continue
		}
		if share := float64(k) / float64(bucket.Limit); share > worst {
			worst, name = share, b
		}
	}
	return worst, name
}

func (p syncPass) report2(b *testing.B, prefix string) {
	calls := p.okta + p.yubico
	b.ReportMetric(float64(calls), prefix+"calls/pass")
	b.ReportMetric(float64(p.okta), prefix+"okta-calls/pass")
	b.ReportMetric(float64(p.yubico), prefix+"yubico-calls/pass")
	b.ReportMetric(float64(calls)/float64(p.inFlight), prefix+"calls/key")
	b.ReportMetric(float64(p.due), prefix+"due-keys/pass")
	b.ReportMetric(float64(p.report.NotDue), prefix+"skipped-keys/pass")
	b.ReportMetric(float64(p.cpu.Microseconds())/1000, prefix+"cpu-ms/pass")
	b.ReportMetric(float64(p.wall.Microseconds())/1000, prefix+"wall-ms/pass")
	b.ReportMetric(float64(p.cpu.Nanoseconds())/1000/float64(p.inFlight), prefix+"cpu-µs/key")
	b.ReportMetric(float64(p.store.gets+p.store.listed), prefix+"store-reads/pass")
	b.ReportMetric(float64(p.store.puts), prefix+"store-writes/pass")
	share, _ := p.oktaBudgetWindows()
	b.ReportMetric(share, prefix+"okta-windows/pass")
}

// BenchmarkSyncScale puts 10,000 keys in flight at the stages of
// syncStages on the fakes (through OrderBatch, Sync and the fake clock;
// PREENROLL_SYNCSCALE_N changes the count), then measures Sync passes:
// *tick*, Run's next scheduled pass an hour (Config.PollInterval) after the
// last one; *kick*, a pass right after it (what an order event's wake-up
// costs); *alldue*, a pass with every record's NextCheck cleared, which is
// what every pass cost before the schedule (each shipment not yet shipped
// read at Yubico, each shipped key's enrollments listed at Okta). For each:
// requests to Okta and Yubico (from the fakes' request logs), per key in
// flight, process CPU time, store reads (records got and listed) and
// writes, and the largest share of one of Okta's rate-limit windows the
// pass uses in one bucket (the fake's default limits per minute, Okta's
// published Workforce limits; Yubico publishes none and yubicotest
// enforces none). The tick pass's requests are also split by the stage of
// the key they were for. On the MemoryStore and the SQLite store. The
// seeding runs without rate limits; the benchmark fails if a tick or kick
// pass calls for a key that was not due.
func BenchmarkSyncScale(b *testing.B) {
	n := envCount(b, "PREENROLL_SYNCSCALE_N", 10_000, 100)
	type result struct{ tick, kick, all syncPass }
	var res map[string]*result
	for b.Loop() {
		b.StopTimer()
		w, seed, stageOf := syncScaleWorld(b, n)
		mem, lite, memCS, liteCS, liteStages := syncScaleServices(b, w, seed, stageOf)
		w.Advance(time.Hour) // Run's next tick
		res = map[string]*result{"memory": {}, secondStore(): {}}
		runs := []struct {
			name   string
			svc    *fulfillment.Service
			cs     *countingStore
			stages map[string]string
		}{{"memory", mem, memCS, stageOf}, {secondStore(), lite, liteCS, liteStages}}
		b.StartTimer()
		for _, r := range runs {
			res[r.name].tick = measurePass(b, w, r.svc, r.cs, r.stages)
		}
		// The kick pass changes nothing: run it five times, keep the
		// median CPU time.
		for _, r := range runs {
			var kicks []syncPass
			for range 5 {
				kicks = append(kicks, measurePass(b, w, r.svc, r.cs, r.stages))
			}
			slices.SortFunc(kicks, func(a, b syncPass) int { return int(a.cpu - b.cpu) })
			res[r.name].kick = kicks[len(kicks)/2]
		}
		b.StopTimer()
		for _, r := range runs {
			clearNextChecks(b, r.cs.Store)
		}
		b.StartTimer()
		for _, r := range runs {
			res[r.name].all = measurePass(b, w, r.svc, r.cs, r.stages)
			checkDueOnly(b, r.name+" tick", res[r.name].tick)
			checkDueOnly(b, r.name+" kick", res[r.name].kick)
		}
		w.Close() // the timer runs: b.Loop must not find it stopped
	}
	for _, name := range []string{"memory", secondStore()} {
		r := res[name]
		r.tick.report2(b, name+"-tick-")
		r.kick.report2(b, name+"-kick-")
		r.all.report2(b, name+"-alldue-")
		share, bucket := r.tick.oktaBudgetWindows()
		b.Logf("%s, %d keys in flight: tick %d Okta + %d Yubico calls (%v by stage, %d for no key), %d due, %d skipped, %v CPU, store %+v; busiest Okta bucket %q at %.2f of a window; kick %d calls, %v CPU; all due %d calls (%v by stage), %v CPU",
			name, r.tick.inFlight, r.tick.okta, r.tick.yubico, r.tick.byStage, r.tick.unattributed, r.tick.due, r.tick.report.NotDue, r.tick.cpu, r.tick.store,
			bucket, share, r.kick.okta+r.kick.yubico, r.kick.cpu, r.all.okta+r.all.yubico, r.all.byStage, r.all.cpu)
	}
	for _, st := range syncStages {
		b.ReportMetric(float64(res["memory"].tick.byStage[st.name]), "tick-calls-"+st.name+"/pass")
	}
	b.ReportMetric(float64(res["memory"].tick.inFlight), "keys-in-flight")
}

// checkDueOnly fails if a pass skipped no record while records were not
// due, or made more calls than its due records' stages can need.
func checkDueOnly(b *testing.B, name string, p syncPass) {
	b.Helper()
	if p.report.NotDue != p.inFlight-p.due {
		b.Errorf("%s pass: %d records skipped as not due, want %d", name, p.report.NotDue, p.inFlight-p.due)
	}
	if p.throttled > 0 {
		b.Errorf("%s pass: %d answers 429", name, p.throttled)
	}
	// Nothing is called for a stage none of whose keys was due.
	if p.due == 0 && p.okta+p.yubico > 0 {
		b.Errorf("%s pass: %d calls with no record due", name, p.okta+p.yubico)
	}
}

// clearNextChecks makes every waiting record due, as every record was
// before Record.NextCheck.
func clearNextChecks(tb testing.TB, store fulfillment.Store) {
	tb.Helper()
	if _, err := fulfillmenttest.MakeDue(tb.Context(), store); err != nil {
		tb.Fatal(err)
	}
}

// TestSyncScaleSmall runs the seeding and the measured passes of
// BenchmarkSyncScale with 200 keys, so that the benchmark's set-up is
// checked by go test: every stage is seeded as intended and each pass
// calls only for the keys that are due.
func TestSyncScaleSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 200 keys through their lifecycle (seconds)")
	}
	w, seed, stageOf := syncScaleWorld(t, 200)
	ctx := t.Context()
	want := map[string]struct {
		step  fulfillment.Step
		state int
	}{
		"ordered": {fulfillment.StepInitiated, 0}, "ordered-b": {fulfillment.StepInitiated, 0}, "created": {fulfillment.StepShipmentCreated, 3},
		"validated": {fulfillment.StepShipmentCreated, 3}, "programmed": {fulfillment.StepShipmentCreated, 10},
		"shipped": {fulfillment.StepPINSent, 103}, "delivered": {fulfillment.StepPINSent, 104},
	}
	for id, stage := range stageOf {
		r, err := seed.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if wt := want[stage]; r.Step != wt.step || int(r.ShipmentState) != wt.state {
			t.Fatalf("%s key %s at %s, state %d; want %s, %d", stage, id, r.Step, r.ShipmentState, wt.step, wt.state)
		}
	}
	mem, lite, memCS, liteCS, liteStages := syncScaleServices(t, w, seed, stageOf)
	w.Advance(time.Hour)
	for _, r := range []struct {
		name   string
		svc    *fulfillment.Service
		cs     *countingStore
		stages map[string]string
	}{{"memory", mem, memCS, stageOf}, {secondStore(), lite, liteCS, liteStages}} {
		tick := measurePass(t, w, r.svc, r.cs, r.stages)
		kick := measurePass(t, w, r.svc, r.cs, r.stages)
		if tick.inFlight != 200 || tick.report.NotDue != tick.inFlight-tick.due || tick.byStage["ordered"] != 4*10 {
			t.Errorf("%s tick pass: %d in flight, %d skipped, %d due; calls by stage %v (want 4 for each of 10 ordered keys)",
				r.name, tick.inFlight, tick.report.NotDue, tick.due, tick.byStage)
		}
		for _, st := range []string{"validated", "programmed", "ordered-b"} {
			if tick.byStage[st] != 0 {
				t.Errorf("%s tick pass: %d calls for %s keys, none of which is due here", r.name, tick.byStage[st], st)
			}
		}
		if kick.due != 0 || kick.okta+kick.yubico != 0 || kick.store.puts != 0 {
			t.Errorf("%s kick pass right after the tick: %d due, %d calls, %d writes; want none", r.name, kick.due, kick.okta+kick.yubico, kick.store.puts)
		}
		clearNextChecks(t, r.cs.Store)
		all := measurePass(t, w, r.svc, r.cs, r.stages)
		for _, st := range syncStages {
			if all.byStage[st.name] == 0 {
				t.Errorf("%s all-due pass: no call for the %s keys (by stage %v)", r.name, st.name, all.byStage)
			}
		}
		t.Logf("%s: tick %v, kick %d, all due %v", r.name, tick.byStage, kick.okta+kick.yubico, all.byStage)
	}
}

package benchmarks_test

import (
	"regexp"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/preenroll/preenroll/fulfillment"
)

// TestLifecycle runs one key through the lifecycle the benchmarks time, so
// `go test` catches a broken harness without running a benchmark.
func TestLifecycle(t *testing.T) {
	w := newWorld(t, worldOptions{})
	w.lifecycle(t.Context(), w.addUsers(1))
}

// idSegment is a path segment naming a user, factor or shipment.
var idSegment = regexp.MustCompile(`/(users|factors|shipments)/[^/]+`)

// TestLifecycleExchanges counts the HTTP exchanges of one key's lifecycle
// at both fakes, by route, after a first lifecycle as
// BenchmarkLifecycleVsFloor runs it (connections open, nothing else
// cached across the days the fake clock moves): the count BENCHMARKS.md
// quotes ("Lifecycle vs floor, round 3"). A change to the Service's calls
// fails it; update BENCHMARKS.md with the new count.
func TestLifecycleExchanges(t *testing.T) {
	w := newWorld(t, worldOptions{})
	ctx := t.Context()
	w.lifecycle(ctx, w.addUsers(1))
	o0, y0 := len(w.Okta.RequestLog()), len(w.Yubico.RequestLog())
	w.lifecycle(ctx, w.addUsers(1))
	got := map[string]int{}
	for _, r := range w.Okta.RequestLog()[o0:] {
		got["okta "+r.Method+" "+idSegment.ReplaceAllString(r.Path, "/$1/{id}")]++
	}
	for _, r := range w.Yubico.RequestLog()[y0:] {
		got["yubico "+r.Method+" "+idSegment.ReplaceAllString(r.Path, "/$1/{id}")]++
	}
	want := map[string]int{
		"okta GET /api/v1/users/{id}":                                          2,
		"okta GET /webauthn-registration/api/v1/users/{id}/enrollments":        4, // Order's one-key check, enroll's, the first sign-in checks
		"okta POST /webauthn-registration/api/v1/initiate-fulfillment-request": 1,
		"okta POST /webauthn-registration/api/v1/enroll":                       1,
		"okta POST /webauthn-registration/api/v1/activate":                     1,
		"okta POST /webauthn-registration/api/v1/send-pin":                     1,
		"okta POST /api/v1/authn":                                              1, // the user signs in through the Authn API
		"okta POST /api/v1/authn/factors/{id}/verify":                          2,
		"yubico POST /v1/fpr/shipments":                                        1,
		"yubico GET /v1/fpr/shipments/{id}":                                    3, // the schedule's reads until the key ships
		"yubico GET /.well-known/yubico-transport-keys.jwks":                   1,
		"yubico GET /.well-known/yubico-sign.jwks":                             1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("HTTP exchanges of one lifecycle by route (-want +got):\n%s", diff)
	}
}

// BenchmarkLifecycle is one key's whole life through the fakes over
// loopback HTTP: order → enroll → shipment → factory → activate →
// send-pin → PIN change and sign-in → Active.
func BenchmarkLifecycle(b *testing.B) {
	lifecycle(b, worldOptions{})
}

// BenchmarkLifecycleSQLite is BenchmarkLifecycle with the Service on
// fulfillment's SQLite store, as BenchmarkLifecycleVsFloorSQLite (for
// cmd/instructions, which counts each side on its own).
func BenchmarkLifecycleSQLite(b *testing.B) {
	lifecycle(b, worldOptions{store: sqliteStore(b)()})
}

func lifecycle(b *testing.B, o worldOptions) {
	w := newWorld(b, o)
	ctx := b.Context()
	w.lifecycle(ctx, w.addUsers(1)) // warm up: connections, key caches
	for b.Loop() {
		b.StopTimer()
		users := w.addUsers(1)
		b.StartTimer()
		w.lifecycle(ctx, users)
	}
}

// TestLifecycleStoreWrites lists the store writes of one key's lifecycle,
// after a first lifecycle as TestLifecycleExchanges does. Each write that
// adds a history entry is a synced commit on the SQLite store
// (synchronous=FULL); the others, bookkeeping (here the four claims and
// the first shipment read, which finds the state unchanged), commit without
// an fsync. Their number is the lifecycle's store cost there ("The SQLite
// store's durability" in BENCHMARKS.md). A write that leaves the step where
// it was is a Sync claim (Config.SyncClaim: one before the enroll step, one
// before each shipment read), or a shipment read's result that records the
// shipment's next check (and its state, with a history entry, if it
// changed). A change to the Service's writes fails it; update
// BENCHMARKS.md with the new count.
func TestLifecycleStoreWrites(t *testing.T) {
	// write is one Put: the step written, and whether it adds no history
	// entry (bookkeeping, which the SQLite store commits without an fsync).
	type write struct {
		Step        fulfillment.Step
		Bookkeeping bool
	}
	var (
		mu      sync.Mutex
		writes  []write
		history = map[string]int{} // the history length each user's last Put wrote
	)
	store := &countingStore{Store: fulfillment.NewMemoryStore(), onPut: func(r fulfillment.Record) {
		mu.Lock()
		_, stored := history[r.UserID]
		writes = append(writes, write{r.Step, stored && len(r.History) == history[r.UserID]})
		history[r.UserID] = len(r.History)
		mu.Unlock()
	}}
	w := newWorld(t, worldOptions{store: store})
	ctx := t.Context()
	w.lifecycle(ctx, w.addUsers(1))
	mu.Lock()
	writes = nil
	mu.Unlock()
	w.lifecycle(ctx, w.addUsers(1))
	step := func(s fulfillment.Step) write { return write{Step: s} }
	bookkeeping := func(s fulfillment.Step) write { return write{Step: s, Bookkeeping: true} }
	want := []write{
		step(fulfillment.StepInitiating), step(fulfillment.StepInitiated), // Order
		bookkeeping(fulfillment.StepInitiated), // Sync's claim
		step(fulfillment.StepEnrolling), step(fulfillment.StepEnrolled),
		step(fulfillment.StepShipmentCreating), step(fulfillment.StepShipmentCreated),
		bookkeeping(fulfillment.StepShipmentCreated), bookkeeping(fulfillment.StepShipmentCreated), // claim, the read 15 min after the create (state unchanged: its next check)
		bookkeeping(fulfillment.StepShipmentCreated), step(fulfillment.StepShipmentCreated), // claim, the read after the batch: sent to fulfillment
		bookkeeping(fulfillment.StepShipmentCreated), // the claim of the read that sees it shipped (its state goes in the activate intent)
		step(fulfillment.StepActivating), step(fulfillment.StepActivated),
		step(fulfillment.StepPINSending), step(fulfillment.StepPINSent),
		step(fulfillment.StepActive),
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(want, writes); diff != "" {
		t.Errorf("store writes of one lifecycle, by the step written and whether it is bookkeeping (-want +got):\n%s", diff)
	}
}

// TestLifecycleStoreCalls counts the store calls of one key's lifecycle
// by method, reads too, on the SQLite store, after a first lifecycle as
// TestLifecycleStoreWrites does: each is a statement (a Put that guesses
// wrong, two), and each record read is a JSON document decoded unless the
// store decoded the same one last ("The SQLite lifecycle's cost beyond its
// writes" in BENCHMARKS.md). Each Sync pass counts the records not due,
// lists the due ones and reads each again under its lock before its claim;
// the harness reads the record's status twice and the parcel once. A
// change to the Service's reads fails it; update BENCHMARKS.md.
func TestLifecycleStoreCalls(t *testing.T) {
	store := &countingStore{Store: sqliteStore(t)()}
	w := newWorld(t, worldOptions{store: store})
	ctx := t.Context()
	w.lifecycle(ctx, w.addUsers(1))
	before := store.counts()
	w.lifecycle(ctx, w.addUsers(1))
	c := store.counts().minus(before)
	got := map[string]int64{
		"Get": c.gets, "Put": c.puts, "List": c.lists - c.dueLists, "ListDue": c.dueLists, "CountNotDue": c.notDue,
		"MarkEvent": c.marks, "EventMarked": c.checks, "records read": c.found + c.listed,
	}
	want := map[string]int64{
		"Get":          8, // Order's check (no record yet), 4 Sync passes' reads under the lock, Status twice, the parcel
		"Put":          17,
		"List":         1, // the harness's AdvanceTo: the records in flight
		"ListDue":      5, // one per Sync pass
		"CountNotDue":  5,
		"records read": 12, // 7 by Get, 4 by ListDue, 1 by List
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreMapEntries(func(_ string, v int64) bool { return v == 0 })); diff != "" {
		t.Errorf("store calls of one lifecycle by method (-want +got):\n%s", diff)
	}
}

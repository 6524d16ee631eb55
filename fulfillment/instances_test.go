package fulfillment_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/fulfillment/pgstore"
	"github.com/preenroll/preenroll/internal/pgtest"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// sharedStores are the stores several instances share in these tests: the
// memory store for the logic, PostgreSQL for the real thing (skipped
// without PREENROLL_POSTGRES_URL, failed without it when CI=true).
var sharedStores = []struct {
	name string
	open func(t *testing.T) fulfillment.Store
}{
	{"Memory", func(*testing.T) fulfillment.Store { return fulfillment.NewMemoryStore() }},
	{"PostgreSQL", func(t *testing.T) fulfillment.Store {
		_, url := pgtest.Schema(t, "fulfillment_test")
		s, err := pgstore.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
}

// idSegment matches the path segments that name a user, enrollment or
// shipment, so that requests are counted by route.
var idSegment = regexp.MustCompile(`/[0-9a-zA-Z_-]*[0-9][0-9a-zA-Z_-]{7,}`)

// TestInstancesShareWork runs three Services on one store against the same
// fakes, their Sync passes at the same instants (the worst case for
// duplicated work), through a batch's lifecycle to Shipped, and compares
// the remote calls with those of one Service on the same schedule: equal,
// route by route. Every pass of the three works on disjoint records (the
// records taken add up to those in flight), and each user has one
// enrollment, one shipment and each intent recorded once.
func TestInstancesShareWork(t *testing.T) {
	for _, st := range sharedStores {
		t.Run(st.name, func(t *testing.T) {
			one := runInstances(t, st.open(t), 1)
			three := runInstances(t, st.open(t), 3)
			if diff := cmp.Diff(one, three); diff != "" {
				t.Errorf("remote calls by route, one instance (-) vs three (+):\n%s", diff)
			}
			total := 0
			for _, n := range three {
				total += n
			}
			t.Logf("%d remote calls by %d routes, the same for one instance and three", total, len(three))
		})
	}
}

// orderedInstances starts a World on store with users Employees (logins
// beginning with prefix), orders a key for each with the World's Service,
// and returns n more Services on the same fakes and store, each with its
// own instance ID and the given SyncClaim.
func orderedInstances(t *testing.T, store fulfillment.Store, prefix string, users, n int, claim time.Duration) (*fulfillmenttest.World, []*fulfillment.Service) {
	t.Helper()
	var us []fulfillmenttest.User
	for i := range users {
		us = append(us, fulfillmenttest.Employee(fmt.Sprintf("%s%02d", prefix, i)))
	}
	w := fulfillmenttest.New(t, fulfillmenttest.WithoutEventHook(), fulfillmenttest.WithStore(store),
		fulfillmenttest.WithOkta(oktatest.WithoutRateLimits()), fulfillmenttest.WithUsers(us...))
	for _, u := range us {
		if _, err := w.Service.Order(t.Context(), u.Profile.Login); err != nil {
			t.Fatalf("Order(%s): %v", u.Profile.Login, err)
		}
	}
	svcs := make([]*fulfillment.Service, n)
	for i := range svcs {
		cfg := w.Config
		cfg.Rand, cfg.SyncClaim = nil, claim // nil: each instance its own owner ID and keys
		svc, err := fulfillment.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		svcs[i] = svc
	}
	return w, svcs
}

// runInstances orders keys for a batch and runs n Services on store,
// passing at the same instants every period until every key is Shipped.
// It returns the remote calls of the Sync passes by route, without the
// reads of Yubico's public keys (each instance caches them for itself).
func runInstances(t *testing.T, store fulfillment.Store, n int) map[string]int {
	t.Helper()
	const users = 18
	const period = 2 * time.Hour
	ctx := t.Context()
	w, svcs := orderedInstances(t, store, "share", users, n, period+fulfillment.DefaultLease)
	oktaFrom, yubicoFrom := len(w.Okta.RequestLog()), len(w.Yubico.RequestLog())

	// Until every key is Shipped, and two periods more (the sign-in
	// checks of shipped keys).
	for pass, extra := 0, 0; extra < 3; pass++ {
		if pass == 100 {
			t.Fatalf("not every key Shipped after %d periods", pass)
		}
		inFlight, err := store.List(ctx, fulfillment.Query{InFlight: true})
		if err != nil {
			t.Fatal(err)
		}
		started, err := store.List(ctx, fulfillment.Query{Statuses: []fulfillment.Status{fulfillment.FulfillmentStarted, fulfillment.FulfillmentErrored}})
		if err != nil {
			t.Fatal(err)
		}
		if len(started) == 0 {
			extra++
		}
		makeDue(t, store)
		reps := make([]fulfillment.SyncReport, n)
		var wg sync.WaitGroup
		for i, svc := range svcs {
			wg.Go(func() {
				rep, err := svc.Sync(ctx)
				if err != nil {
					t.Errorf("instance %d: Sync: %v", i, err)
				}
				reps[i] = rep
			})
		}
		wg.Wait()
		taken := 0
		for i, rep := range reps {
			taken += rep.Checked - rep.Busy
			for _, f := range rep.Failures {
				t.Errorf("instance %d: %s failed at %s: %v", i, f.UserID, f.Step, f.Err)
			}
		}
		if taken != len(inFlight) {
			t.Fatalf("pass %d: the %d instances took %d records, want the %d in flight, each once: %+v", pass, n, taken, len(inFlight), reps)
		}
		w.SetNow(w.Now().Add(period))
	}

	recs, err := store.List(ctx, fulfillment.Query{})
	if err != nil {
		t.Fatal(err)
	}
	shipments := map[string]int{}
	for _, sh := range w.Yubico.Shipments() {
		fs, _ := w.Yubico.FPRShipment(sh.ID)
		shipments[strings.ToLower(fs.Recipient.Email)]++
	}
	for _, r := range recs {
		if r.Status != fulfillment.Active {
			// The fake users sign in when they get the key; Active or
			// Shipped both mean the lifecycle went through.
			if r.Status != fulfillment.Shipped {
				t.Errorf("%s: %s at %s (%s)", r.Login, r.Status, r.Step, r.Reason)
			}
		}
		intents := map[fulfillment.Step]int{}
		for _, c := range r.History {
			if c.Step.Intent() {
				intents[c.Step]++
			}
		}
		for step, k := range intents {
			if k != 1 && step != fulfillment.StepInitiating {
				t.Errorf("%s: intent %s recorded %d times", r.Login, step, k)
			}
		}
		if k := len(w.Okta.Enrollments(r.UserID)); k != 1 {
			t.Errorf("%s: %d enrollments at Okta, want 1", r.Login, k)
		}
		if k := shipments[strings.ToLower(w.User(r.UserID).Profile.Email)]; k != 1 {
			t.Errorf("%s: %d shipments at Yubico, want 1", r.Login, k)
		}
	}
	if len(recs) != users {
		t.Errorf("%d records, want %d", len(recs), users)
	}

	calls := map[string]int{}
	for _, r := range w.Okta.RequestLog()[oktaFrom:] {
		calls["okta "+r.Method+" "+idSegment.ReplaceAllString(r.Path, "/{id}")]++
	}
	for _, r := range w.Yubico.RequestLog()[yubicoFrom:] {
		if strings.Contains(r.Path, "jwks") || strings.Contains(r.Path, ".well-known") {
			continue
		}
		calls["yubico "+r.Method+" "+idSegment.ReplaceAllString(r.Path, "/{id}")]++
	}
	return calls
}

// TestInstancesStaggered: three instances whose passes fall at different
// moments of each period (as serve's schedules do) poll each shipment once
// per period between them, not three times: the instance that took a
// record keeps it while its claim lasts, and the others skip it.
func TestInstancesStaggered(t *testing.T) {
	for _, st := range sharedStores {
		t.Run(st.name, func(t *testing.T) {
			store := st.open(t)
			const users = 9
			const period = time.Hour
			ctx := context.Background()
			w, svcs := orderedInstances(t, store, "stagger", users, 3, period+fulfillment.DefaultLease)
			polls := func() int { return shipmentGets(w, 0) }
			for p := range 6 {
				before := polls()
				busy := 0
				for _, svc := range svcs {
					makeDue(t, store)
					rep, err := svc.Sync(ctx)
					if err != nil {
						t.Fatal(err)
					}
					busy += rep.Busy
					w.Advance(period / 3)
				}
				got := polls() - before
				t.Logf("period %d: %d shipment polls, %d records skipped as held by another instance", p, got, busy)
				if got > users {
					t.Errorf("period %d: %d shipment polls by the three instances, want at most one per record (%d)", p, got, users)
				}
				if p > 0 && busy == 0 {
					t.Errorf("period %d: no instance skipped a record another holds", p)
				}
			}
		})
	}
}

// TestInstancesRecordEventOnce: Okta's deliveries of one event landing on
// three instances at once (a redelivery after a timeout, a load balancer
// spreading them) record one order: the store's event mark decides.
func TestInstancesRecordEventOnce(t *testing.T) {
	for _, st := range sharedStores {
		t.Run(st.name, func(t *testing.T) {
			store := st.open(t)
			w := fulfillmenttest.New(t, fulfillmenttest.WithoutEventHook(), fulfillmenttest.WithStore(store),
				fulfillmenttest.WithOkta(oktatest.WithoutRateLimits()))
			const events = 12
			var users []string
			for i := range events {
				users = append(users, w.AddUser(fulfillmenttest.Employee(fmt.Sprintf("event%02d", i))).ID)
			}
			var svcs []*fulfillment.Service
			for range 3 {
				cfg := w.Config
				cfg.Rand = nil
				svc, err := fulfillment.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				svcs = append(svcs, svc)
			}
			var mu sync.Mutex
			outcomes := map[fulfillment.EventOutcome]int{}
			var wg sync.WaitGroup
			for i, userID := range users {
				ev := fulfillment.HookEvent{ID: fmt.Sprintf("evt-%02d-0000-4000-8000-000000000000", i), UserID: userID,
					Items: []fulfillment.Item{w.Config.Defaults}}
				for _, svc := range svcs {
					wg.Go(func() {
						out, err := svc.RecordEvent(t.Context(), ev)
						if err != nil {
							t.Errorf("RecordEvent(%s): %v", ev.ID, err)
						}
						mu.Lock()
						outcomes[out]++
						mu.Unlock()
					})
				}
			}
			wg.Wait()
			want := map[fulfillment.EventOutcome]int{fulfillment.EventRecorded: events, fulfillment.EventDuplicate: 2 * events}
			// A delivery that reads the record after another recorded it
			// finds the user in flight: also not a second order.
			outcomes[fulfillment.EventDuplicate] += outcomes[fulfillment.EventInFlight]
			delete(outcomes, fulfillment.EventInFlight)
			if diff := cmp.Diff(want, outcomes); diff != "" {
				t.Errorf("outcomes of %d events delivered to 3 instances (-want +got):\n%s", events, diff)
			}
			recs, err := store.List(t.Context(), fulfillment.Query{})
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != events {
				t.Errorf("%d records, want %d", len(recs), events)
			}
		})
	}
}

// TestInstancesTakeOver: the records of an instance that stopped (crashed,
// or shut down without ReleaseLeases) are skipped while its claims last
// and taken by another instance once they expire; after ReleaseLeases at
// once.
func TestInstancesTakeOver(t *testing.T) {
	ctx := context.Background()
	w := fulfillmenttest.New(t, fulfillmenttest.WithoutEventHook(), fulfillmenttest.WithOkta(oktatest.WithoutRateLimits()),
		fulfillmenttest.WithUsers(fulfillmenttest.Employee("over1"), fulfillmenttest.Employee("over2")))
	for _, login := range []string{"over1@example.com", "over2@example.com"} {
		if _, err := w.Service.Order(ctx, login); err != nil {
			t.Fatal(err)
		}
	}
	mk := func() *fulfillment.Service {
		cfg := w.Config
		cfg.Rand, cfg.SyncClaim = nil, 10*time.Minute
		svc, err := fulfillment.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	dead, live := mk(), mk()
	sync := func(svc *fulfillment.Service) fulfillment.SyncReport {
		t.Helper()
		rep, err := svc.Sync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	store := w.Config.Store
	if rep := sync(dead); rep.Checked != 2 || rep.Busy != 0 || rep.Advanced != 2 {
		t.Fatalf("first instance: %+v, want both records taken and advanced", rep)
	}
	w.Advance(9 * time.Minute)
	makeDue(t, store)
	if rep := sync(live); rep.Busy != 2 {
		t.Fatalf("within the claim: %+v, want both records skipped", rep)
	}
	w.Advance(2 * time.Minute)
	makeDue(t, store)
	if rep := sync(live); rep.Busy != 0 || rep.Checked != 2 {
		t.Fatalf("after the claim: %+v, want both records taken", rep)
	}
	// The live instance shuts down gracefully: the other takes over at once.
	if n, err := live.ReleaseLeases(ctx, 0); err != nil || n != 2 {
		t.Fatalf("ReleaseLeases = %d, %v; want 2 records", n, err)
	}
	makeDue(t, store)
	if rep := sync(dead); rep.Busy != 0 || rep.Checked != 2 {
		t.Fatalf("after ReleaseLeases: %+v, want both records taken", rep)
	}
}

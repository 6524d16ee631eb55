package yubicotest

import (
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/yubico"
)

// scanNextEvent is the lifecycle's next transition found the way the fake
// found it before the schedule: a pass over every shipment.
func scanNextEvent(s *Server) (time.Time, bool) {
	var best time.Time
	found := false
	for sh := range s.order.all() {
		if t, ok := s.eventTimeLocked(sh); ok && (!found || t.Before(best)) {
			best, found = t, true
		}
	}
	return best, found
}

// scanRunDue runs the transitions due at s.now as the fake did before the
// schedule: over every shipment.
func scanRunDue(s *Server) { s.runTransitionsLocked(slices.Collect(s.order.all())) }

// scanAdvance moves s's clock by d and runs the lifecycle by scanning, as
// Advance did before the schedule (s's schedule is then out of date: s
// must only ever be advanced this way).
func scanAdvance(t *testing.T, s *Server, d time.Duration) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	target, err := s.clock.Advance(d)
	if err != nil {
		t.Fatal(err)
	}
	for {
		next, ok := scanNextEvent(s)
		if !ok || next.After(target) {
			break
		}
		if next.After(s.now) {
			s.setNowLocked(next)
		}
		scanRunDue(s)
	}
	s.setNowLocked(target)
}

// TestScheduleMatchesScan drives two fakes through the same random
// creates, edits, deletes, forced states, injected faults and clock moves:
// one runs its lifecycle from the schedule, the other by scanning every
// shipment as the fake did before. Their shipments (states, messages,
// times), inventory and next transitions must stay the same throughout.
func TestScheduleMatchesScan(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			timing := Timing{}
			if seed%2 == 1 { // short delays: transitions coincide with validation ticks and batches
				timing = Timing{ShippingDelay: 15 * time.Minute, DeliveryDelay: 30 * time.Minute, BatchAtMidnight: true}
			}
			start := func() *Server {
				s, err := Start(WithRand(mrand.NewChaCha8([32]byte{byte(seed)})), WithTiming(timing),
					WithInventory(Bucket{ProductID: 1, Quantity: 25, InventoryType: 1}), WithDeniedParties("Mallory Bad"))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(s.Close)
				return s
			}
			heapSrv, scanSrv := start(), start()
			hc, sc := heapSrv.Client(), scanSrv.Client()
			ctx := t.Context()
			rnd := mrand.New(mrand.NewPCG(seed, 42))
			var ids []string
			reached := map[yubico.ShipmentState]bool{}
			steps := []time.Duration{0, time.Minute, 7 * time.Minute, 15 * time.Minute, time.Hour, 5 * time.Hour, 24 * time.Hour, 3 * 24 * time.Hour}
			for op := range 300 {
				var what string
				switch r := rnd.IntN(100); {
				case r < 35:
					req := exactRequest()
					req.Items[0].Quantity = 1 + rnd.IntN(3)
					if rnd.IntN(8) == 0 {
						req.RecipientFirstName, req.RecipientLastName = "Mallory", "Bad"
					}
					what = "create"
					a, errA := hc.CreateShipment(ctx, req)
					b, errB := sc.CreateShipment(ctx, req)
					if errA != nil || errB != nil || a.ID != b.ID {
						t.Fatalf("op %d: create: %v / %v, IDs %q and %q", op, errA, errB, a.ID, b.ID)
					}
					ids = append(ids, a.ID)
				case r < 45 && len(ids) > 0:
					id := ids[rnd.IntN(len(ids))]
					req := exactRequest()
					req.Items[0].Quantity = 1 + rnd.IntN(3)
					what = "update " + id
					_, errA := hc.UpdateShipment(ctx, id, req)
					_, errB := sc.UpdateShipment(ctx, id, req)
					if (errA == nil) != (errB == nil) {
						t.Fatalf("op %d: %s: %v / %v", op, what, errA, errB)
					}
				case r < 55 && len(ids) > 0:
					id := ids[rnd.IntN(len(ids))]
					what = "delete " + id
					errA, errB := hc.DeleteShipment(ctx, id), sc.DeleteShipment(ctx, id)
					if (errA == nil) != (errB == nil) {
						t.Fatalf("op %d: %s: %v / %v", op, what, errA, errB)
					}
				case r < 60 && len(ids) > 0:
					id := ids[rnd.IntN(len(ids))]
					st := []yubico.ShipmentState{yubico.StateAwaitingValidation, yubico.StateSentToFulfillment,
						yubico.StateShipped, yubico.StateDelivered, yubico.StateProcessingError}[rnd.IntN(5)]
					what = fmt.Sprintf("SetState %s %d", id, st)
					errA, errB := heapSrv.SetState(id, st, "forced"), scanSrv.SetState(id, st, "forced")
					if (errA == nil) != (errB == nil) {
						t.Fatalf("op %d: %s: %v / %v", op, what, errA, errB)
					}
				case r < 65 && len(ids) > 0:
					id := ids[rnd.IntN(len(ids))]
					f := ShipmentFault(rnd.IntN(len(shipmentFaultNames) + 1))
					what = fmt.Sprintf("fault %s %s", id, f)
					errA, errB := heapSrv.InjectShipmentFault(id, f), scanSrv.InjectShipmentFault(id, f)
					if (errA == nil) != (errB == nil) {
						t.Fatalf("op %d: %s: %v / %v", op, what, errA, errB)
					}
				default:
					d := steps[rnd.IntN(len(steps))]
					what = "advance " + d.String()
					if err := heapSrv.Advance(d); err != nil {
						t.Fatal(err)
					}
					scanAdvance(t, scanSrv, d)
				}
				got, want := heapSrv.Shipments(), scanSrv.Shipments()
				if d := cmp.Diff(want, got); d != "" {
					t.Fatalf("op %d (%s): shipments differ (-scan +schedule):\n%s", op, what, d)
				}
				if d := cmp.Diff(scanSrv.Inventory(), heapSrv.Inventory()); d != "" {
					t.Fatalf("op %d (%s): inventory differs (-scan +schedule):\n%s", op, what, d)
				}
				if err := checkSchedule(heapSrv); err != nil {
					t.Fatalf("op %d (%s): %v", op, what, err)
				}
				nextA, okA := heapSrv.NextTransition()
				scanSrv.mu.Lock()
				nextB, okB := scanNextEvent(scanSrv)
				scanSrv.mu.Unlock()
				if okA != okB || !nextA.Equal(nextB) {
					t.Fatalf("op %d (%s): next transition %v %v from the schedule, %v %v by scanning", op, what, nextA, okA, nextB, okB)
				}
				for _, sh := range got {
					reached[sh.State] = true
				}
			}
			// The run must have gone through the lifecycle's moves, or it
			// compared little.
			for _, st := range []yubico.ShipmentState{yubico.StateAwaitingValidation, yubico.StateSentToFulfillment,
				yubico.StateShipped, yubico.StateDelivered, yubico.StateProcessingError, yubico.StateDPLMatch} {
				if !reached[st] {
					t.Errorf("no shipment reached state %d (%s)", int(st), st)
				}
			}
		})
	}
}

// checkSchedule checks what nextEventLocked and popDueLocked rely on: each
// shipment with a transition to come has exactly one live entry in the
// schedule, at the transition's time, and no other shipment has one.
func checkSchedule(s *Server) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	live := map[*shipment]time.Time{}
	for _, e := range s.sched {
		if e.stale() {
			continue
		}
		if _, dup := live[e.sh]; dup {
			return fmt.Errorf("shipment %s has two live entries in the schedule", e.sh.id)
		}
		live[e.sh] = e.at
	}
	for sh := range s.order.all() {
		at, scheduled := live[sh]
		delete(live, sh)
		switch want, ok := s.eventTimeLocked(sh); {
		case ok != scheduled:
			return fmt.Errorf("shipment %s (state %d): scheduled %v, has a transition to come %v", sh.id, int(sh.state), scheduled, ok)
		case ok && !at.Equal(want):
			return fmt.Errorf("shipment %s (state %d): scheduled at %v, its transition is at %v", sh.id, int(sh.state), at, want)
		}
	}
	for sh := range live {
		return fmt.Errorf("deleted shipment %s has a live entry in the schedule", sh.id)
	}
	return nil
}

func exactRequest() yubico.ShipmentRequest {
	return yubico.ShipmentRequest{
		DeliveryType: yubico.DeliveryNormal, Recipient: "Example Inc.", RecipientEmail: "jan.lindberg@example.com",
		RecipientFirstName: "Jan", RecipientLastName: "Lindberg", RecipientTelephone: "555-5555", Address: usAddressForTest(),
		Items: []yubico.ItemRequest{{ProductID: 1, InventoryProductID: 1, Quantity: 1}},
	}
}

// TestScheduleHeapOrder pushes, re-times (fix) and pops random entries
// and checks that pops come out in (time, creation) order, as a sort of
// the same entries gives them, and that init orders a shuffled slice.
func TestScheduleHeapOrder(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	less := func(a, b schedEntry) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		switch {
		case a.sh.seq < b.sh.seq:
			return -1
		case a.sh.seq > b.sh.seq:
			return 1
		}
		return 0
	}
	for seed := range uint64(8) {
		rnd := mrand.New(mrand.NewPCG(seed, 7))
		var q schedule
		var all []schedEntry
		for i := range 200 {
			// Few distinct times, so that ties are common.
			e := schedEntry{at: base.Add(time.Duration(rnd.IntN(20)) * time.Minute), sh: &shipment{seq: uint64(i)}}
			q.push(e)
			all = append(all, e)
		}
		// Re-time the root a few times, as nextEventLocked does.
		for range 20 {
			root := q[0]
			i := slices.IndexFunc(all, func(e schedEntry) bool { return e.sh == root.sh })
			q[0].at = q[0].at.Add(time.Duration(rnd.IntN(30)) * time.Minute)
			all[i].at = q[0].at
			q.fix(0)
		}
		want := slices.Clone(all)
		slices.SortFunc(want, less)

		shuffled := slices.Clone(all)
		rnd.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		inited := schedule(shuffled)
		inited.init()

		for name, h := range map[string]*schedule{"push and fix": &q, "init": &inited} {
			var got []schedEntry
			for len(*h) > 0 {
				got = append(got, h.pop())
			}
			if !slices.EqualFunc(got, want, func(a, b schedEntry) bool { return a.sh == b.sh && a.at.Equal(b.at) }) {
				t.Errorf("seed %d, %s: entries popped out of order", seed, name)
			}
		}
	}
}

// TestScheduleStaysBounded: a test that edits one shipment again and again,
// and creates and deletes others, before the clock reaches any of their
// transitions leaves a stale entry in the schedule for each change; the
// fake drops them once they are most of it, so that its memory stays
// bounded by the shipments it holds, not the changes made to them.
func TestScheduleStaysBounded(t *testing.T) {
	t.Parallel()
	s, err := Start(WithInventory(Bucket{ProductID: 1, Quantity: 10, InventoryType: 1}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	c, ctx := s.Client(), t.Context()
	kept, err := c.CreateShipment(ctx, exactRequest())
	if err != nil {
		t.Fatal(err)
	}
	const changes = 100
	longest := 0
	for i := range changes {
		if _, err := c.UpdateShipment(ctx, kept.ID, exactRequest()); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		sh, err := c.CreateShipment(ctx, exactRequest())
		if err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
		if err := c.DeleteShipment(ctx, sh.ID); err != nil {
			t.Fatalf("delete %d: %v", i, err)
		}
		s.mu.Lock()
		longest = max(longest, len(s.sched))
		s.mu.Unlock()
	}
	s.mu.Lock()
	entries, capacity, shipments := len(s.sched), cap(s.sched), len(s.shipments)
	s.mu.Unlock()
	// compactScheduleLocked keeps at most max(64, 2·shipments) entries,
	// plus the one pushed before it runs; the slice grows by appends, so
	// its capacity is at most twice that.
	const bound = 65
	if shipments != 1 || longest > bound || capacity > 2*bound {
		t.Errorf("after %d edits and %d creates and deletes: %d shipments, at most %d entries in the schedule (now %d, capacity %d); want 1 shipment, at most %d entries and capacity %d",
			changes, changes, shipments, longest, entries, capacity, bound, 2*bound)
	}
	// The kept shipment's transition is still scheduled.
	if next, ok := s.NextTransition(); !ok || next.IsZero() {
		t.Errorf("NextTransition = %v, %v; want the kept shipment's validation", next, ok)
	}
}

// TestPopDueInCreationOrder: the shipments due at the same instant come
// out of popDueLocked in creation order (which the batch takes them in),
// however their entries were pushed, from the schedule's tie-break alone;
// stale entries are skipped and entries not yet due stay.
func TestPopDueInCreationOrder(t *testing.T) {
	t.Parallel()
	s := startLocked(t)
	for seed := range uint64(8) {
		rnd := mrand.New(mrand.NewPCG(seed, 11))
		s.sched = nil
		due := s.now
		shipments := make([]*shipment, 12)
		for i := range shipments {
			shipments[i] = &shipment{id: fmt.Sprint("s", i), seq: uint64(i)}
		}
		later := &shipment{id: "later", seq: 100}
		s.sched.push(schedEntry{at: due.Add(time.Minute), sh: later})
		for _, i := range rnd.Perm(len(shipments)) {
			sh := shipments[i]
			if rnd.IntN(3) == 0 { // a stale entry of the same shipment, due too
				s.sched.push(schedEntry{at: due, sh: sh, gen: sh.gen})
				sh.gen++
			}
			s.sched.push(schedEntry{at: due, sh: sh, gen: sh.gen})
		}
		var got []string
		for _, sh := range s.popDueLocked() {
			got = append(got, sh.id)
		}
		var want []string
		for _, sh := range shipments {
			want = append(want, sh.id)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("seed %d: shipments due (-want +got):\n%s", seed, diff)
		}
		if len(s.sched) != 1 || s.sched[0].sh != later {
			t.Errorf("seed %d: %d entries left, want only the one not yet due", seed, len(s.sched))
		}
	}
}

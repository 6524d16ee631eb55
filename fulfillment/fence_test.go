package fulfillment

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestFencedBoundsAStepByItsLease(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		lease    time.Duration
		deadline bool
		want     time.Duration // the deadline's distance from now
	}{
		{2 * time.Minute, true, 90 * time.Second},
		{10 * time.Second, true, 7500 * time.Millisecond},
		{MinFencedLease, true, 750 * time.Millisecond},
		{time.Nanosecond, false, 0}, // one instance: nothing to fence off
	} {
		cfg := offlineConfig(t)
		cfg.Lease = tc.lease
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		before := time.Now()
		ctx, cancel := s.fenced(t.Context())
		dl, ok := ctx.Deadline()
		cancel()
		if ok != tc.deadline {
			t.Errorf("lease %v: deadline set = %v, want %v", tc.lease, ok, tc.deadline)
			continue
		}
		if ok && (dl.Before(before.Add(tc.want)) || dl.After(time.Now().Add(tc.want))) {
			t.Errorf("lease %v: deadline %v from now, want %v", tc.lease, dl.Sub(before), tc.want)
		}
	}
}

// TestTakeOverIsExclusive: two instances that find the same abandoned
// intent (its lease expired) both try to resume it; the lease's
// compare-and-swap lets one, and the other then sees the record leased.
func TestTakeOverIsExclusive(t *testing.T) {
	t.Parallel()
	a := minuteLeaseService(t, NewMemoryStore())
	b := minuteLeaseService(t, a.store)
	b.owner = "svc-other" // both draw their owner from the same seed
	ctx := t.Context()
	dead := Lease{Owner: "svc-dead", Until: t0.Add(-time.Second)}
	sent := dead.Until.Add(-time.Minute) // the start of the abandoned lease
	rec := putAtIntent(t, a.store, StepEnrolling, dead)
	if a.leased(rec) || b.leased(rec) {
		t.Fatal("an expired lease counts as held")
	}
	took, err := a.takeOver(ctx, rec)
	if err != nil {
		t.Fatalf("first takeOver: %v", err)
	}
	if _, err := b.takeOver(ctx, rec); !errors.Is(err, ErrVersionConflict) {
		t.Errorf("second takeOver of the same version = %v, want ErrVersionConflict", err)
	}
	stored, err := a.store.Get(ctx, "00u1")
	if err != nil {
		t.Fatal(err)
	}
	if stored.Lease.Owner != a.owner || !stored.Lease.Until.Equal(t0.Add(time.Minute)) || stored.Version != took.Version {
		t.Errorf("stored lease %+v (version %d), want %s's until %v (version %d)", stored.Lease, stored.Version, a.owner, t0.Add(time.Minute), took.Version)
	}
	if !b.leased(stored) {
		t.Error("the other instance does not see the record leased after the take-over")
	}
	// The call the abandoned lease dates is kept: the recovery rule looks
	// for the enrollments it may have made.
	if len(stored.EnrollCalls) != 1 || !stored.EnrollCalls[0].Sent.Equal(sent) {
		t.Errorf("enroll calls after take-over %+v, want one sent at %v", stored.EnrollCalls, sent)
	}
	if len(stored.History) != len(rec.History) {
		t.Errorf("take-over added %d history entries, want none (a lease change is no step)", len(stored.History)-len(rec.History))
	}
}

// TestFenceBoundsRemoteCallsOnly: once a step's fence has ended (its
// remote calls are cut off), the step's store writes still run under the
// context the step was given, so that the result of a call that returned
// just before the fence is recorded, not lost to the deadline. The
// caller's own context still ends them.
func TestFenceBoundsRemoteCallsOnly(t *testing.T) {
	t.Parallel()
	s := minuteLeaseService(t, NewMemoryStore())
	rec := putAtIntent(t, s.store, StepEnrolling, Lease{Owner: "svc-dead", Until: t0.Add(-time.Second)})
	fctx, cancel := s.fenced(t.Context())
	cancel() // the fence is over, as at its deadline
	if fctx.Err() == nil {
		t.Fatal("the fenced context is not done after its end")
	}
	writes := []struct {
		name  string
		write func(ctx context.Context, rec Record) (Record, error)
	}{
		{"takeOver", s.takeOver},
		{"touch", s.touch},
		{"save", func(ctx context.Context, rec Record) (Record, error) {
			rec.Step = StepEnrolled
			return s.save(ctx, rec, Change{Reason: "enrolled"})
		}},
	}
	for _, w := range writes {
		next, err := w.write(fctx, rec)
		if err != nil {
			t.Fatalf("%s after the fence ended: %v", w.name, err)
		}
		if next.Version != rec.Version+1 {
			t.Errorf("%s after the fence ended: version %d, want %d", w.name, next.Version, rec.Version+1)
		}
		rec = next
	}
	pctx, pcancel := context.WithCancel(t.Context())
	fctx, cancel = s.fenced(pctx)
	defer cancel()
	pcancel()
	if _, err := s.touch(fctx, rec); !errors.Is(err, context.Canceled) {
		t.Errorf("touch after the step's own context ended = %v, want context.Canceled", err)
	}
}

// TestTakeOverOwnLease: a resumed intent whose lease this instance holds
// past the end of the step's remote calls is not written again; an own
// lease that ends sooner, or another instance's expired lease, is renewed.
func TestTakeOverOwnLease(t *testing.T) {
	t.Parallel()
	const lease, owner = time.Minute, "svc-this"
	fence := lease - lease/4
	for _, tc := range []struct {
		name  string
		lease Lease
		write bool
	}{
		{"own lease, just recorded", Lease{Owner: owner, Until: t0.Add(lease)}, false},
		{"own lease, ends with the fence", Lease{Owner: owner, Until: t0.Add(fence)}, false},
		{"own lease, ends before the fence", Lease{Owner: owner, Until: t0.Add(fence - time.Second)}, true},
		{"own lease, expired", Lease{Owner: owner, Until: t0.Add(-time.Second)}, true},
		{"another's lease, expired", Lease{Owner: "svc-dead", Until: t0.Add(-time.Second)}, true},
	} {
		s := minuteLeaseService(t, NewMemoryStore())
		s.owner = owner
		rec := putAtIntent(t, s.store, StepDeleting, tc.lease)
		got, err := s.takeOver(t.Context(), rec)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want := Lease{Owner: owner, Until: t0.Add(lease)}
		if !tc.write {
			want = tc.lease
		}
		if wrote := got.Version != rec.Version; wrote != tc.write || got.Lease != want {
			t.Errorf("%s: wrote %v, lease %+v; want wrote %v, lease %+v", tc.name, wrote, got.Lease, tc.write, want)
		}
	}
}

// minuteLeaseService returns an offline Service with a one-minute lease on
// store.
func minuteLeaseService(t *testing.T, store Store) *Service {
	t.Helper()
	cfg := offlineConfig(t)
	cfg.Lease, cfg.Store = time.Minute, store
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// putAtIntent stores a new record of 00u1 at the intent step, leased by
// lease.
func putAtIntent(t *testing.T, store Store, step Step, lease Lease) Record {
	t.Helper()
	rec, err := store.Put(t.Context(), Record{UserID: "00u1", Status: FulfillmentStarted, Step: step, Lease: lease,
		Items: []Item{offlineConfig(t).Defaults}, CreatedAt: t0, UpdatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestSyncBusyUntilLeasesOnly: a pass reports when another instance's
// lease on a record it found busy ends, the earliest of them; a record
// another instance holds by its claim only counts as Busy, with no end to
// wait for (the owner renews its claims, or drops them on its way out).
func TestSyncBusyUntilLeasesOnly(t *testing.T) {
	for _, tc := range []struct {
		name string
		recs []Record
		want time.Time
	}{
		{"two leases: the first to end", []Record{
			{UserID: "00u1", Step: StepShipmentCreating, Lease: Lease{Owner: "svc-other", Until: t0.Add(30 * time.Second)}},
			{UserID: "00u2", Step: StepEnrolling, Lease: Lease{Owner: "svc-other", Until: t0.Add(10 * time.Second)}},
		}, t0.Add(10 * time.Second)},
		{"a claim", []Record{
			{UserID: "00u1", Step: StepInitiated, Claim: Lease{Owner: "svc-other", Until: t0.Add(10 * time.Second)}},
		}, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := NewMemoryStore()
			s := minuteLeaseService(t, store)
			for _, r := range tc.recs {
				r.Status, r.Items, r.CreatedAt, r.UpdatedAt = FulfillmentStarted, []Item{offlineConfig(t).Defaults}, t0, t0
				if _, err := store.Put(t.Context(), r); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := s.Sync(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if rep.Busy != len(tc.recs) || !rep.BusyUntil.Equal(tc.want) {
				t.Errorf("Sync: Busy %d, BusyUntil %v; want %d, %v", rep.Busy, rep.BusyUntil, len(tc.recs), tc.want)
			}
		})
	}
}

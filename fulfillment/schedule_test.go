package fulfillment_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/yubico"
)

// writeCountingStore counts the Puts that reach a Store.
type writeCountingStore struct {
	fulfillment.Store
	puts atomic.Int64
}

func (s *writeCountingStore) Put(ctx context.Context, r fulfillment.Record) (fulfillment.Record, error) {
	s.puts.Add(1)
	return s.Store.Put(ctx, r)
}

// remoteCalls is what a step of the test cost: requests at each fake and
// store writes.
type remoteCalls struct{ okta, yubico, puts int }

// TestSyncSkipsRecordsNotDue: a record waiting for Yubico (a shipment not
// yet shipped) or for its first sign-in is looked at only when its
// Record.NextCheck has come; until then a Sync pass costs it no remote call
// and no store write. Check looks at once, and a record without NextCheck
// (stored before it existed) is due at once. The clock is the fakes'.
func TestSyncSkipsRecordsNotDue(t *testing.T) {
	t.Parallel()
	store := &writeCountingStore{Store: fulfillment.NewMemoryStore()}
	w := fulfillmenttest.New(t, fulfillmenttest.WithoutEventHook(), fulfillmenttest.WithStore(store))
	ctx := t.Context()
	const n = 3
	var ids []string
	for _, name := range []string{"ann", "bob", "cy"} {
		u := w.AddUser(fulfillmenttest.Employee(name))
		if _, err := w.Service.Order(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	cost := func(pass func()) remoteCalls {
		t.Helper()
		o, y, p := len(w.Okta.RequestLog()), len(w.Yubico.RequestLog()), store.puts.Load()
		pass()
		return remoteCalls{len(w.Okta.RequestLog()) - o, len(w.Yubico.RequestLog()) - y, int(store.puts.Load() - p)}
	}
	sync := func(wantNotDue int) remoteCalls {
		t.Helper()
		var rep fulfillment.SyncReport
		c := cost(func() { rep = w.Sync(ctx) })
		if len(rep.Failures) > 0 || rep.NotDue != wantNotDue {
			t.Fatalf("Sync: %d not due, failures %v; want %d not due", rep.NotDue, rep.Failures, wantNotDue)
		}
		return c
	}
	get := func(id string) fulfillment.Record {
		t.Helper()
		rec, err := w.Config.Store.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}

	// Enroll and create the shipments: the first poll is due 15 minutes
	// after the create (Yubico's address validation), not in the same pass.
	created := w.Now()
	y0 := len(w.Yubico.RequestLog())
	sync(0)
	if got := shipmentGets(w, y0); got != 0 {
		t.Errorf("%d shipment reads in the pass that created the shipments, want 0", got)
	}
	for _, id := range ids {
		if rec := get(id); rec.Step != fulfillment.StepShipmentCreated || !rec.NextCheck.Equal(created.Add(15*time.Minute)) {
			t.Fatalf("after the first pass: step %s, NextCheck %v; want %s, %v", rec.Step, rec.NextCheck, fulfillment.StepShipmentCreated, created.Add(15*time.Minute))
		}
	}

	// Not due: nothing is called, nothing written.
	if c := sync(n); c != (remoteCalls{}) {
		t.Errorf("a pass with no record due cost %+v, want nothing", c)
	}
	w.Advance(14 * time.Minute)
	if c := sync(n); c != (remoteCalls{}) {
		t.Errorf("a pass 14 minutes after the create cost %+v, want nothing", c)
	}

	// Due: one read per shipment and a write per record (two when the pass
	// also renews its claim, Config.SyncClaim); the next poll is at
	// Yubico's daily batch.
	w.Advance(time.Minute)
	y0 = len(w.Yubico.RequestLog())
	if c := sync(0); c.okta != 0 || c.puts < n || c.puts > 2*n || shipmentGets(w, y0) != n || c.yubico != n {
		t.Errorf("the due pass cost %+v with %d shipment reads, want %d reads and %d to %d writes, no Okta call", c, shipmentGets(w, y0), n, n, 2*n)
	}
	batch := w.Yubico.NextBatch().Add(30 * time.Minute) // read half an hour after the batch starts
	for _, id := range ids {
		if rec := get(id); !rec.NextCheck.Equal(batch) || rec.ShipmentState != yubico.StateAwaitingValidation {
			t.Errorf("after the validation poll: NextCheck %v, state %d; want %v (after the batch), 3", rec.NextCheck, rec.ShipmentState, batch)
		}
	}
	if c := sync(n); c != (remoteCalls{}) {
		t.Errorf("a pass right after the poll cost %+v, want nothing", c)
	}

	// Check acts at once, due or not; Sync still skips the others.
	y0 = len(w.Yubico.RequestLog())
	if c := cost(func() {
		if _, err := w.Service.Check(ctx, ids[0]); err != nil {
			t.Fatal(err)
		}
	}); shipmentGets(w, y0) != 1 || c.puts != 1 {
		t.Errorf("Check cost %+v with %d shipment reads, want 1 read and 1 write", c, shipmentGets(w, y0))
	}

	// A record stored before NextCheck existed is due at once.
	legacy := get(ids[1])
	legacy.NextCheck = time.Time{}
	if _, err := w.Config.Store.Put(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	y0 = len(w.Yubico.RequestLog())
	sync(n - 1)
	if got := shipmentGets(w, y0); got != 1 {
		t.Errorf("%d shipment reads for a record without NextCheck, want 1", got)
	}

	// Programmed, shipped: activated, PIN sent, then the first sign-in is
	// checked PollInterval (1 h) later, not in the same pass.
	w.AdvanceTo(ctx, fulfillmenttest.Shipped)
	for _, id := range ids {
		if rec := get(id); rec.Status != fulfillment.Shipped || rec.Step != fulfillment.StepPINSent || !rec.NextCheck.After(w.Now()) {
			t.Fatalf("after shipping: %s at %s, NextCheck %v (now %v)", rec.Status, rec.Step, rec.NextCheck, w.Now())
		}
	}
	if c := sync(n); c != (remoteCalls{}) {
		t.Errorf("a pass right after shipping cost %+v, want nothing", c)
	}
	w.Advance(time.Hour)
	if c := sync(0); c.okta != n || c.yubico != 0 || c.puts < n || c.puts > 2*n {
		t.Errorf("the sign-in check an hour after shipping cost %+v, want %d Okta calls, %d to %d writes (the check's, a claim's), no Yubico call", c, n, n, 2*n)
	}
	if c := sync(n); c != (remoteCalls{}) {
		t.Errorf("a pass right after the sign-in check cost %+v, want nothing", c)
	}
}

// TestSignInCheckBacksOff: a shipped key that stays unused is checked less
// and less often, never less than once a day; its delivery resets the
// spacing to PollInterval.
func TestSignInCheckBacksOff(t *testing.T) {
	t.Parallel()
	w, u := orderedWorld(t)
	ctx := t.Context()
	w.AdvanceTo(ctx, fulfillmenttest.Shipped)
	var gaps []time.Duration
	var delivered []bool
	for range 24 {
		rec, err := w.Config.Store.Get(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Status != fulfillment.Shipped {
			t.Fatalf("status %s, want Shipped", rec.Status)
		}
		gaps = append(gaps, rec.NextCheck.Sub(w.Now()).Round(time.Minute))
		delivered = append(delivered, !rec.DeliveredAt.IsZero())
		w.SetNow(rec.NextCheck)
		w.Sync(ctx)
	}
	for i, g := range gaps {
		justDelivered := i > 0 && delivered[i] && !delivered[i-1]
		switch {
		case g < 54*time.Minute || g > 24*time.Hour:
			t.Errorf("gap %d is %v, want 54 min to 24 h (%v)", i, g, gaps)
		case justDelivered && g != 54*time.Minute:
			t.Errorf("gap %d after the delivery is %v, want PollInterval less a tenth (%v)", i, g, gaps)
		case i > 0 && !justDelivered && g < gaps[i-1]:
			t.Errorf("gap %d (%v) shorter than the one before without a delivery (%v)", i, g, gaps)
		}
	}
	if !delivered[len(delivered)-1] {
		t.Errorf("the parcel was never seen delivered (%v)", gaps)
	}
	if last := gaps[len(gaps)-1]; last < 20*time.Hour {
		t.Errorf("gaps %v: an unused key is still checked more than about once a day", gaps)
	}
}

// TestCheckDueRecordOnce: Check on a record whose next check has come makes
// that check once: the schedule write the check makes is no reason to make
// it again in the same pass.
func TestCheckDueRecordOnce(t *testing.T) {
	t.Parallel()
	w, u := orderedWorld(t)
	ctx := t.Context()
	w.Sync(ctx) // enrolled, shipment created; its first poll is 15 minutes on
	w.Advance(15 * time.Minute)
	y0 := len(w.Yubico.RequestLog())
	rec, err := w.Service.Check(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Step != fulfillment.StepShipmentCreated {
		t.Fatalf("step %s, want %s", rec.Step, fulfillment.StepShipmentCreated)
	}
	if got := len(w.Yubico.RequestLog()) - y0; got != 1 {
		t.Errorf("Check on a due shipment made %d Yubico calls, want 1 (%v)", got, w.Yubico.RequestLog()[y0:])
	}
}

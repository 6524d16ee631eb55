package fulfillment_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// bigInventory has room for every key a test orders.
var bigInventory = yubicotest.WithInventory(yubicotest.Bucket{ProductID: 106, Quantity: 50000, InventoryType: 3,
	ProductTier: 3, ProductMapping: []int{1, 29}, Subscription: true, Virtual: true})

// batchSize is 1,000 users, the number, except under the race
// detector or -short. The full lifecycle of 1,000 simulated keys takes about
// 40 s without the race detector (most of it the fakes' crypto: Okta's
// enroll and activate, Yubico's factory) and many minutes with it, so there
// 25 users run the same code paths with the same concurrency.
func batchSize(t *testing.T) int {
	if raceEnabled || testing.Short() {
		return 25
	}
	return 1000
}

func TestBatchLifecycle(t *testing.T) {
	t.Parallel()
	n := batchSize(t)
	e := newEnv(t, envOption{yubico: []yubicotest.Option{bigInventory}, config: func(c *fulfillment.Config) { c.Concurrency = 8 }})
	ctx := t.Context()
	start := time.Now()

	users := make([]okta.User, n)
	var logins []string
	for i := range n {
		users[i] = e.addUser(i, []okta.UserStatus{okta.UserStaged, okta.UserActive}[i%2], nil)
		logins = append(logins, users[i].Profile.Login)
	}
	// Bad rows: a profile without phone, a bad zip, an unknown login, a
	// duplicate.
	noPhone := e.addUser(n, okta.UserActive, func(p *okta.Profile) { p.PrimaryPhone = "" })
	badZip := e.addUser(n+1, okta.UserActive, func(p *okta.Profile) { p.ZipCode = "9" })
	input := append([]string{noPhone.Profile.Login}, logins[:n/2]...)
	input = append(input, "nobody@example.com", badZip.ID)
	input = append(input, logins[n/2:]...)
	input = append(input, logins[0])

	var (
		mu    sync.Mutex
		calls []fulfillment.Progress
	)
	rep, err := e.Service.OrderBatch(ctx, input, fulfillment.BatchOptions{Progress: func(p fulfillment.Progress) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, p)
	}})
	if err != nil {
		t.Fatalf("OrderBatch: %v", err)
	}
	if rep.Ordered != n || rep.Failed != 0 || rep.Skipped != 0 || len(rep.Results) != n {
		t.Fatalf("report: ordered %d failed %d skipped %d results %d, want %d ordered", rep.Ordered, rep.Failed, rep.Skipped, len(rep.Results), n)
	}
	wantInvalid := map[int]string{0: "primaryPhone", n/2 + 1: "not found", n/2 + 2: "zipCode", len(input) - 1: "also at index"}
	if len(rep.Invalid) != len(wantInvalid) {
		t.Fatalf("invalid rows: %+v, want %d", rep.Invalid, len(wantInvalid))
	}
	for _, r := range rep.Invalid {
		if want, ok := wantInvalid[r.Index]; !ok || r.Err == nil || !contains(r.Err.Error(), want) {
			t.Errorf("invalid row %d: %v, want an error about %q", r.Index, r.Err, want)
		}
	}
	if len(calls) != n || calls[n-1].Done != n || calls[n-1].Ordered != n || calls[n-1].Invalid != len(wantInvalid) {
		t.Errorf("progress: %d calls, last %+v", len(calls), calls[len(calls)-1])
	}
	for i := 1; i < len(calls); i++ {
		if calls[i].Done != calls[i-1].Done+1 {
			t.Fatalf("progress not monotonic at %d: %d after %d", i, calls[i].Done, calls[i-1].Done)
		}
	}
	for _, bad := range []okta.User{noPhone, badZip} {
		if _, err := e.Config.Store.Get(ctx, bad.ID); !errors.Is(err, fulfillment.ErrRecordNotFound) {
			t.Errorf("an invalid user was ordered: %v", err)
		}
	}
	t.Logf("%d users ordered in %v", n, time.Since(start))

	// A second batch orders nobody twice.
	again, err := e.Service.OrderBatch(ctx, logins, fulfillment.BatchOptions{})
	if err != nil || again.Skipped != n || again.Ordered != 0 {
		t.Fatalf("second batch: %+v, %v; want all %d skipped", again, err, n)
	}

	rep2 := e.sync()
	if rep2.Advanced != n || len(rep2.Failures) != 0 {
		t.Fatalf("Sync: advanced %d, failures %d (%v)", rep2.Advanced, len(rep2.Failures), firstFailure(rep2))
	}
	e.shipThrough()
	shipped := 0
	recs, err := e.Config.Store.List(ctx, fulfillment.Query{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Status == fulfillment.Shipped {
			shipped++
		}
	}
	if shipped != n {
		t.Fatalf("%d of %d keys shipped", shipped, n)
	}
	t.Logf("%d keys programmed, activated and PINs sent after %v", n, time.Since(start))

	for i, u := range users {
		to := u.Profile.Email
		if i%2 == 0 {
			to = u.Profile.SecondEmail
		}
		rec, err := e.Config.Store.Get(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		e.signIn(u, rec, e.pinFor(to))
	}
	e.Advance(time.Hour) // first sign-ins are checked on the schedule (Record.NextCheck)
	if rep3 := e.sync(); rep3.Active != n {
		t.Fatalf("after sign-in: %d active, want %d (%v)", rep3.Active, n, firstFailure(rep3))
	}
	if got := len(e.Yubico.Shipments()); got != n {
		t.Errorf("Yubico holds %d shipments for %d users", got, n)
	}
	for _, u := range users {
		if got := len(e.Okta.Enrollments(u.ID)); got != 1 {
			t.Fatalf("user %s has %d enrollments", u.ID, got)
		}
	}
	e.checkNoSecrets()
	t.Logf("%d users from order to Active in %v", n, time.Since(start))
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub)))
}

func firstFailure(r fulfillment.SyncReport) string {
	if len(r.Failures) == 0 {
		return "no failures"
	}
	return fmt.Sprintf("%s: %v", r.Failures[0].UserID, r.Failures[0].Err)
}

// TestBatchWithSQLiteStore orders and enrolls a batch with eight workers
// writing to one SQLite file: no lost update, no "database is locked".
func TestBatchWithSQLiteStore(t *testing.T) {
	t.Parallel()
	store, err := fulfillment.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := newEnv(t, envOption{config: func(c *fulfillment.Config) { c.Store = store; c.Concurrency = 8 }})
	n := 60
	if raceEnabled {
		n = 20
	}
	_, logins := seedUsers(e, n)
	rep, err := e.Service.OrderBatch(t.Context(), logins, fulfillment.BatchOptions{})
	if err != nil || rep.Ordered != n {
		t.Fatalf("OrderBatch: %+v, %v", rep, err)
	}
	e.awaitDeliveries(n)
	if s := e.sync(); s.Advanced != n || len(s.Failures) != 0 {
		t.Fatalf("Sync: %+v (%s)", s, firstFailure(s))
	}
	recs, err := store.List(t.Context(), fulfillment.Query{InFlight: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Step != fulfillment.StepShipmentCreated || r.ShipmentID == "" {
			t.Errorf("user %s at step %s", r.UserID, r.Step)
		}
	}
	if len(recs) != n || len(e.Yubico.Shipments()) != n {
		t.Errorf("%d records in flight, %d shipments, want %d", len(recs), len(e.Yubico.Shipments()), n)
	}
}

package console

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
)

// TestAuditLogs: both AuditLogs give back what was appended, newest first
// (entries of the same instant too), at most limit of them (none for a
// limit of 0 or less); a StoreAudit's entries of signed-in users are
// every StoreAudit's on the same store.
func TestAuditLogs(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	entries := []AuditEntry{
		{At: t0, Who: "root@example.com", Subject: "00u1", Role: RoleAdmin, Action: "sign in", Outcome: outcomeOK, Detail: "admin", Remote: "127.0.0.1:1"},
		{At: t0.Add(time.Second), Who: "root@example.com", Action: "order", Target: "00u2", Outcome: outcomeFailed, Detail: "Okta did not answer"},
		{At: t0.Add(time.Second), Action: "cross-origin request", Target: "/batch", Outcome: outcomeRefused},
		{At: t0.Add(time.Second + time.Nanosecond), Who: "reader@example.com", Role: RoleReadOnly, Action: "retry", Outcome: outcomeRefused},
	}
	// newest returns the newest n entries, only those of signed-in users
	// if signedIn (another instance does not see the others).
	newest := func(n int, signedIn bool) []AuditEntry {
		var out []AuditEntry
		for i := len(entries) - 1; i >= 0 && len(out) < n; i-- {
			if !signedIn || entries[i].Who != "" {
				out = append(out, entries[i])
			}
		}
		return out
	}
	docs := fulfillment.NewMemoryStore()
	for name, tc := range map[string]struct{ write, read AuditLog }{
		"memory":               {NewMemoryAudit(10), nil},
		"store":                {NewStoreAudit(fulfillment.NewMemoryStore(), 0), nil},
		"store, two instances": {NewStoreAudit(docs, 0), NewStoreAudit(docs, 0)},
	} {
		t.Run(name, func(t *testing.T) {
			read := tc.read
			if read == nil {
				read = tc.write
			}
			for _, e := range entries {
				if err := tc.write.Append(t.Context(), e); err != nil {
					t.Fatal(err)
				}
			}
			for _, limit := range []int{len(entries), 2, 0, -1} {
				got, err := read.Recent(t.Context(), limit)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(newest(limit, tc.read != nil), got); diff != "" {
					t.Errorf("Recent(%d) (-want +got):\n%s", limit, diff)
				}
			}
		})
	}
}

// TestStoreAuditKeepsAnonymousEntriesInMemory: an entry with no signed-in
// user (a refusal of a request anybody can send, such as a cross-origin
// POST) is not written to the store, which would grow with every such
// request, but kept in the instance's memory, the newest
// maxAnonymousAudit of them, and listed among the stored entries.
func TestStoreAuditKeepsAnonymousEntriesInMemory(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	docs := fulfillment.NewMemoryStore()
	a, other := NewStoreAudit(docs, 0), NewStoreAudit(docs, 0)
	signedIn := AuditEntry{At: t0, Who: "root@example.com", Action: "order", Outcome: outcomeOK}
	var anonymous []AuditEntry
	for i := range maxAnonymousAudit + 1 {
		anonymous = append(anonymous, AuditEntry{At: t0.Add(time.Duration(i) * time.Second), Action: "cross-origin request", Target: "/batch", Outcome: outcomeRefused})
	}
	for _, e := range append([]AuditEntry{signedIn}, anonymous...) {
		if err := a.Append(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	stored, err := docs.ListDocuments(t.Context(), AuditCollection, 0)
	if err != nil || len(stored) != 1 {
		t.Fatalf("%d entries in the store (%v), want the signed-in user's only", len(stored), err)
	}
	got, err := other.Recent(t.Context(), 10)
	if diff := cmp.Diff([]AuditEntry{signedIn}, got); diff != "" || err != nil {
		t.Errorf("another instance's Recent (%v) (-want +got):\n%s", err, diff)
	}
	got, err = a.Recent(t.Context(), maxAnonymousAudit+10)
	if err != nil {
		t.Fatal(err)
	}
	var want []AuditEntry
	for i := len(anonymous) - 1; i >= 1; i-- { // the oldest anonymous entry is dropped
		want = append(want, anonymous[i])
	}
	want = append(want, signedIn)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Recent on the instance that appended them (-want +got):\n%s", diff)
	}
}

// TestStoreAuditRetention: an Append deletes the stored entries older than
// the retention before its own, at most once an hour (by the entries'
// times); 0 is DefaultAuditRetention, a negative retention keeps them all.
func TestStoreAuditRetention(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	for _, tc := range []struct {
		name string
		keep time.Duration
		at   []time.Duration // after t0, one entry each
		want []int           // the entries kept, newest first
	}{
		{"default", 0, []time.Duration{0, 300 * day, DefaultAuditRetention + time.Nanosecond}, []int{2, 1}},
		{"default, none old", 0, []time.Duration{0, DefaultAuditRetention}, []int{1, 0}},
		{"two days", 2 * day, []time.Duration{0, day, 2*day + time.Second}, []int{2, 1}},
		// The third deletes nothing; the fourth, less than an hour later,
		// does not delete the first; the fifth does.
		{"hourly", 2 * day, []time.Duration{0, day, 2*day - time.Minute, 2*day + time.Minute}, []int{3, 2, 1, 0}},
		{"an hour later", 2 * day, []time.Duration{0, day, 2*day - time.Minute, 2*day + time.Minute, 2*day + time.Hour - time.Minute}, []int{4, 3, 2, 1}},
		{"negative: kept", -1, []time.Duration{0, 1000 * day}, []int{1, 0}},
		// The clock jumps 100 days ahead (the second entry deletes the
		// first), then back: the third sweeps (nothing to delete), and the
		// fourth, 3 days after it, deletes it.
		{"clock stepped back", 2 * day, []time.Duration{0, 100 * day, day, 4 * day}, []int{1, 3}},
	} {
		for _, store := range documentStores {
			t.Run(tc.name+"/"+store.name, func(t *testing.T) {
				docs := store.open(t)
				a := NewStoreAudit(docs, tc.keep)
				var entries []AuditEntry
				for i, d := range tc.at {
					e := AuditEntry{At: t0.Add(d), Who: "root@example.com", Action: "order", Target: fmt.Sprint(i), Outcome: outcomeOK}
					entries = append(entries, e)
					if err := a.Append(t.Context(), e); err != nil {
						t.Fatal(err)
					}
				}
				var want []AuditEntry
				for _, i := range tc.want {
					want = append(want, entries[i])
				}
				got, err := NewStoreAudit(docs, tc.keep).Recent(t.Context(), 100)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("kept (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestStoreAuditRetentionFailure: when the deletion of old entries fails,
// Append says so, the entry is kept, and the next Append deletes them.
func TestStoreAuditRetentionFailure(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	docs := &failingDelete{DocumentStore: fulfillment.NewMemoryStore()}
	a := NewStoreAudit(docs, time.Hour)
	old := AuditEntry{At: t0, Who: "root@example.com", Action: "sign in", Outcome: outcomeOK}
	if err := a.Append(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	docs.fail = true
	first := AuditEntry{At: t0.Add(2 * time.Hour), Who: "root@example.com", Action: "order", Outcome: outcomeOK}
	if err := a.Append(t.Context(), first); err == nil || !strings.Contains(err.Error(), "entry kept") {
		t.Errorf("Append with a failing deletion = %v, want an error saying the entry was kept", err)
	}
	docs.fail = false
	second := AuditEntry{At: t0.Add(2*time.Hour + time.Second), Who: "root@example.com", Action: "retry", Outcome: outcomeOK}
	if err := a.Append(t.Context(), second); err != nil {
		t.Fatal(err)
	}
	got, err := a.Recent(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]AuditEntry{second, first}, got); diff != "" {
		t.Errorf("kept (-want +got):\n%s", diff)
	}
}

// failingDelete fails DeleteDocuments while fail is set.
type failingDelete struct {
	fulfillment.DocumentStore
	fail bool
}

func (f *failingDelete) DeleteDocuments(ctx context.Context, collection string, before time.Time) (int, error) {
	if f.fail {
		return 0, errors.New("test: the store fails")
	}
	return f.DocumentStore.DeleteDocuments(ctx, collection, before)
}

package console

import (
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
		"store":                {NewStoreAudit(fulfillment.NewMemoryStore()), nil},
		"store, two instances": {NewStoreAudit(docs), NewStoreAudit(docs)},
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
	a, other := NewStoreAudit(docs), NewStoreAudit(docs)
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

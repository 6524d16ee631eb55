package console

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
)

// TestAuditLogs: both AuditLogs give back what was appended, newest first
// (entries of the same instant too), at most limit of them (none for a
// limit of 0 or less); a StoreAudit's entries are every StoreAudit's on
// the same store.
func TestAuditLogs(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	entries := []AuditEntry{
		{At: t0, Who: "root@example.com", Subject: "00u1", Role: RoleAdmin, Action: "sign in", Outcome: outcomeOK, Detail: "admin", Remote: "127.0.0.1:1"},
		{At: t0.Add(time.Second), Who: "root@example.com", Action: "order", Target: "00u2", Outcome: outcomeFailed, Detail: "Okta did not answer"},
		{At: t0.Add(time.Second), Action: "cross-origin request", Target: "/batch", Outcome: outcomeRefused},
		{At: t0.Add(time.Second + time.Nanosecond), Who: "reader@example.com", Role: RoleReadOnly, Action: "retry", Outcome: outcomeRefused},
	}
	newest := func(n int) []AuditEntry {
		var out []AuditEntry
		for i := len(entries) - 1; i >= 0 && len(out) < n; i-- {
			out = append(out, entries[i])
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
				if diff := cmp.Diff(newest(limit), got); diff != "" {
					t.Errorf("Recent(%d) (-want +got):\n%s", limit, diff)
				}
			}
		})
	}
}

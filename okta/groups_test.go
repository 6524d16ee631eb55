package okta_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/okta"
)

// TestListGroupMembersNextLinks: ListGroupMembers follows a next link to
// the group's own member list on the org (its ID escaped in the path as
// the first request's is), refuses one to another path of the org, and
// starts every range over the same iterator at the first page.
func TestListGroupMembersNextLinks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, groupID string
		next          string // the first page's next link, a path on the server
		wantIDs       []string
		wantPaths     []string // the escaped paths requested, per range
		errHas        string
	}{
		{name: "next page of the group's members", groupID: "00g1", next: "/api/v1/groups/00g1/users?after=2",
			wantIDs: []string{"00u1", "00u2"}, wantPaths: []string{"/api/v1/groups/00g1/users", "/api/v1/groups/00g1/users"}},
		{name: "group ID escaped in the path", groupID: "00g 1,x", next: "/api/v1/groups/00g%201%2Cx/users?after=2",
			wantIDs: []string{"00u1", "00u2"}, wantPaths: []string{"/api/v1/groups/00g%201%2Cx/users", "/api/v1/groups/00g%201%2Cx/users"}},
		{name: "another group's members refused", groupID: "00g1", next: "/api/v1/groups/00g2/users?after=2",
			wantIDs: []string{"00u1"}, wantPaths: []string{"/api/v1/groups/00g1/users"}, errHas: "outside the org's list of the group's members"},
		{name: "another path of the org refused", groupID: "00g1", next: "/api/v1/users?after=2",
			wantIDs: []string{"00u1"}, wantPaths: []string{"/api/v1/groups/00g1/users"}, errHas: "outside the org's list of the group's members"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var paths []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				paths = append(paths, r.URL.EscapedPath())
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				if r.URL.Query().Get("after") == "2" {
					_, _ = w.Write([]byte(`[{"id":"00u2","profile":{"login":"b"}}]`))
					return
				}
				w.Header().Set("Link", `<http://`+r.Host+tc.next+`>; rel="next"`)
				_, _ = w.Write([]byte(`[{"id":"00u1","profile":{"login":"a"}}]`))
			}))
			t.Cleanup(srv.Close)
			c, err := okta.NewClient(srv.URL, token, okta.WithRetryPolicy(okta.NoRetries()))
			if err != nil {
				t.Fatal(err)
			}
			members := c.ListGroupMembers(t.Context(), tc.groupID)
			for _, round := range []string{"first range", "second range"} {
				mu.Lock()
				paths = nil
				mu.Unlock()
				var ids []string
				var lastErr error
				for u, err := range members {
					if err != nil {
						lastErr = err
						break
					}
					ids = append(ids, u.ID)
				}
				if diff := cmp.Diff(tc.wantIDs, ids); diff != "" {
					t.Errorf("%s: members (-want +got):\n%s", round, diff)
				}
				if tc.errHas == "" && lastErr != nil || tc.errHas != "" && (lastErr == nil || !strings.Contains(lastErr.Error(), tc.errHas)) {
					t.Errorf("%s: error = %v, want one containing %q", round, lastErr, tc.errHas)
				}
				mu.Lock()
				if diff := cmp.Diff(tc.wantPaths, paths); diff != "" {
					t.Errorf("%s: requested paths (-want +got):\n%s", round, diff)
				}
				mu.Unlock()
			}
		})
	}
}

package oktatest_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/preenroll/preenroll/okta/oktatest"
)

// Without WithMaxPageSize every list endpoint keeps Okta's documented
// page sizes: GET /api/v1/groups answers up to 10000 groups by default.
// WithMaxPageSize still caps every endpoint.
func TestListPageSizesDefaultToOkta(t *testing.T) {
	t.Parallel()
	const n = 1001 // more than the fake's old 1000 cap
	for _, tc := range []struct {
		name     string
		opts     []oktatest.Option
		wantPage int
		wantNext bool
	}{
		{"Okta's default", nil, n, false},
		{"WithMaxPageSize(400)", []oktatest.Option{oktatest.WithMaxPageSize(400)}, 400, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := oktatest.NewServer(t, tc.opts...)
			for i := range n {
				srv.AddGroup(fmt.Sprintf("group-%04d", i))
			}
			status, h, body := raw(t, srv, "GET", "/api/v1/groups", "SSWS "+srv.Token(), "")
			if status != 200 {
				t.Fatalf("GET /api/v1/groups: %d %s", status, body)
			}
			var groups []json.RawMessage
			if err := json.Unmarshal(body, &groups); err != nil {
				t.Fatal(err)
			}
			// The fake may start with groups of its own (Everyone).
			if got := len(groups); got < tc.wantPage || (tc.wantNext && got != tc.wantPage) {
				t.Errorf("page of %d groups, want %d", got, tc.wantPage)
			}
			next := strings.Contains(strings.Join(h.Values("Link"), ","), `rel="next"`)
			if next != tc.wantNext {
				t.Errorf("Link rel=next present = %v, want %v (Link: %q)", next, tc.wantNext, h.Values("Link"))
			}
		})
	}
}

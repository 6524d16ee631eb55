package serve

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCheckHookPath: CheckHookPath refuses what Run refuses at start (a
// relative path, a query, fragment or space, serve's own endpoints), with
// the same words in Run's configuration error.
func TestCheckHookPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ path, want string }{
		{"/hooks/okta", ""},
		{"/okta/events", ""},
		{"hooks/okta", "want an absolute path like /hooks/okta"},
		{"/hooks/okta?x=1", "want an absolute path like /hooks/okta"},
		{"/hooks okta", "want an absolute path like /hooks/okta"},
		{"/healthz", "taken by serve's own endpoint"},
		{"/", "taken by serve's own endpoint"},
	} {
		got := ""
		if err := CheckHookPath(tc.path); err != nil {
			got = err.Error()
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("CheckHookPath(%q) (-want +got):\n%s", tc.path, diff)
		}
		_, err := Config{OktaOrg: "https://example.okta.com", HookPath: tc.path}.withDefaults()
		if tc.want != "" && (!errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("withDefaults(HookPath %q) = %v, want ErrConfig with %q", tc.path, err, tc.want)
		}
	}
}

package oktatest_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/internal/testhttp"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// TestNilOption: a nil option is a caller's bug. Start refuses it with an
// error naming its index in opts (the first nil one, before an invalid
// option after it), and NewServer fails the test with that error; both
// used to skip it as if it were not given.
func TestNilOption(t *testing.T) {
	t.Parallel()
	valid, invalid := oktatest.WithOrgName("Acme"), oktatest.WithToken("a b")
	for _, tc := range []struct {
		name string
		opts []oktatest.Option
		want string // Start's error and NewServer's t.Fatal; "" for none
	}{
		{"no nil", []oktatest.Option{valid}, ""},
		{"alone", []oktatest.Option{nil}, "oktatest: option 0 is nil"},
		{"after a valid one", []oktatest.Option{valid, nil}, "oktatest: option 1 is nil"},
		{"two", []oktatest.Option{valid, nil, nil}, "oktatest: option 1 is nil"},
		{"before an invalid one", []oktatest.Option{nil, invalid}, "oktatest: option 0 is nil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := map[string]string{"Start": ""}
			if s, err := oktatest.Start(tc.opts...); err != nil {
				got["Start"] = err.Error()
			} else {
				s.Close()
			}
			got["NewServer"] = testhttp.Fatal(t, func(tb testing.TB) { oktatest.NewServer(tb, tc.opts...) })
			if diff := cmp.Diff(map[string]string{"Start": tc.want, "NewServer": tc.want}, got); diff != "" {
				t.Errorf("with options %s (-want +got):\n%s", tc.name, diff)
			}
		})
	}
}

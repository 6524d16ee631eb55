package yubicotest_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/internal/testhttp"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// TestNilOption: a nil option is a caller's bug. Start refuses it with an
// error naming its index in opts (the first nil one, before an invalid
// option after it; it used to say only "nil option"), and NewServer fails
// the test with that error.
func TestNilOption(t *testing.T) {
	t.Parallel()
	valid, invalid := yubicotest.WithPINLength(6), yubicotest.WithPINLength(3)
	for _, tc := range []struct {
		name  string
		opts  []yubicotest.Option
		start string // Start's error; "" for none
		fatal string // NewServer's t.Fatal; "" for none
	}{
		{"no nil", []yubicotest.Option{valid}, "", ""},
		{"alone", []yubicotest.Option{nil}, "yubicotest: option 0 is nil", "yubicotest.NewServer: yubicotest: option 0 is nil"},
		{"after a valid one", []yubicotest.Option{valid, nil}, "yubicotest: option 1 is nil", "yubicotest.NewServer: yubicotest: option 1 is nil"},
		{"two", []yubicotest.Option{valid, nil, nil}, "yubicotest: option 1 is nil", "yubicotest.NewServer: yubicotest: option 1 is nil"},
		{"before an invalid one", []yubicotest.Option{nil, invalid}, "yubicotest: option 0 is nil", "yubicotest.NewServer: yubicotest: option 0 is nil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var start string
			if s, err := yubicotest.Start(tc.opts...); err != nil {
				start = err.Error()
			} else {
				s.Close()
			}
			fatal := testhttp.Fatal(t, func(tb testing.TB) { yubicotest.NewServer(tb, tc.opts...) })
			if diff := cmp.Diff([2]string{tc.start, tc.fatal}, [2]string{start, fatal}); diff != "" {
				t.Errorf("with options %s: [Start's error, NewServer's t.Fatal] (-want +got):\n%s", tc.name, diff)
			}
		})
	}
}

package okta_test

import (
	"testing"
	"time"

	"github.com/preenroll/preenroll/internal/testclock"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// Client.Now follows Okta's clock (the Date header of the last response),
// not only the client's own, so an enrollment's created can be compared with
// it even when the two clocks disagree (a process with a wrong clock, a
// test whose fake Okta keeps its own time).
func TestNowFollowsOktasDate(t *testing.T) {
	t.Parallel()
	oktaNow := time.Date(2031, 3, 1, 12, 0, 0, 0, time.UTC)
	srv := oktatest.NewServer(t, oktatest.WithNow(oktaNow))
	for _, tc := range []struct {
		name string
		off  time.Duration // client clock − Okta's
	}{
		{"behind", -3 * time.Hour},
		{"ahead", 90 * time.Minute},
		{"same", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := testclock.New(oktaNow.Add(tc.off))
			c := fakeClient(t, srv, okta.WithClock(clock), okta.WithRetryPolicy(okta.NoRetries()))
			if got := c.Now(); !got.Equal(clock.Now()) {
				t.Errorf("before any response Now = %v, want the client's clock %v", got, clock.Now())
			}
			u, err := srv.AddUser(okta.Profile{Login: tc.name + "@example.com", Email: tc.name + "@example.com",
				FirstName: "N", LastName: "W"}, okta.UserActive)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.GetUser(t.Context(), u.ID); err != nil {
				t.Fatal(err)
			}
			if d := c.Now().Sub(oktaNow); d < -time.Second || d > time.Second {
				t.Errorf("after a response Now = %v, %v from Okta's %v; want within a second", c.Now(), d, oktaNow)
			}
		})
	}
}

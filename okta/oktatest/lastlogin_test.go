package oktatest_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// TestSetLastLogin: the user JSON carries lastLogin null until a sign-in is
// seeded, then Okta's millisecond timestamp, which the client decodes.
func TestSetLastLogin(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	srv, c := newServerClient(t, oktatest.WithNow(now))
	u := seedUser(t, srv, "old.hand@example.com", okta.UserActive)
	auth := "SSWS " + srv.Token()

	lastLogin := func() any {
		t.Helper()
		status, _, body := raw(t, srv, "GET", "/api/v1/users/"+u.ID, auth, "")
		var m map[string]any
		if err := json.Unmarshal(body, &m); status != 200 || err != nil {
			t.Fatalf("GET user = %d %s (%v)", status, body, err)
		}
		v, ok := m["lastLogin"]
		if !ok {
			t.Fatalf("user JSON has no lastLogin member: %s", body)
		}
		return v
	}
	if v := lastLogin(); v != nil {
		t.Errorf("lastLogin of a seeded user = %v, want null", v)
	}
	if got, err := c.GetUser(t.Context(), u.ID); err != nil || !got.LastLogin.IsZero() {
		t.Errorf("GetUser before = LastLogin %v, %v; want zero", got.LastLogin, err)
	}

	signedIn := now.Add(-30 * 24 * time.Hour).Add(1500 * time.Millisecond)
	if err := srv.SetLastLogin(u.ID, signedIn.In(time.FixedZone("CET", 3600))); err != nil {
		t.Fatal(err)
	}
	if v, want := lastLogin(), "2026-01-30T09:00:01.500Z"; v != want {
		t.Errorf("lastLogin = %v, want %q", v, want)
	}
	got, err := c.GetUser(t.Context(), u.ID)
	if err != nil || !got.LastLogin.Equal(signedIn) {
		t.Errorf("GetUser = LastLogin %v, %v; want %v", got.LastLogin, err, signedIn)
	}
	if got, _ := srv.User(u.ID); !got.LastLogin.Equal(signedIn) || got.LastLogin.Location() != time.UTC {
		t.Errorf("srv.User LastLogin = %v, want %v in UTC", got.LastLogin, signedIn)
	}

	// The zero time means never again.
	if err := srv.SetLastLogin(u.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if v := lastLogin(); v != nil {
		t.Errorf("lastLogin after reset = %v, want null", v)
	}

	for _, tc := range []struct {
		name, id string
		at       time.Time
		want     string
	}{
		{"unknown user", "00unknown", now, `unknown user "00unknown"`},
		{"future", u.ID, now.Add(time.Second), "after the fake clock"},
	} {
		if err := srv.SetLastLogin(tc.id, tc.at); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: SetLastLogin = %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	if got, _ := srv.User(u.ID); !got.LastLogin.IsZero() {
		t.Errorf("a refused SetLastLogin changed LastLogin to %v", got.LastLogin)
	}
}

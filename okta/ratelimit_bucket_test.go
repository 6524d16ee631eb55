package okta_test

import (
	"strings"
	"testing"
	"time"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// Two routes of one Okta bucket share a budget: after adding members used
// it up, listing members waits for the reset instead of drawing a 429.
func TestClientKeysRateLimitsByBucket(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t, oktatest.WithBucketLimit("/api/v1/groups", 2))
	gid := srv.AddGroup("Shared budget")
	var ids []string
	for _, login := range []string{"s1@example.com", "s2@example.com"} {
		u, err := srv.AddUser(okta.Profile{Login: login, Email: login, FirstName: "S", LastName: "B"}, okta.UserActive)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	c := fakeClient(t, srv, okta.WithRetryPolicy(okta.RetryPolicy{MaxRetries: 1, Reserve: 0}))
	for _, id := range ids {
		if err := c.AddUserToGroup(t.Context(), gid, id); err != nil {
			t.Fatal(err)
		}
	}
	put, ok := c.RateLimit("PUT /api/v1/groups/{id}/users/{userId}")
	get, ok2 := c.RateLimit("GET /api/v1/groups/{id}/users")
	if !ok || !ok2 || put != get || put.Remaining != 0 {
		t.Fatalf("PUT state %+v %v and GET state %+v %v, want one shared state with 0 left", put, ok, get, ok2)
	}
	if b, _ := c.RateLimit("/api/v1/groups"); b != put {
		t.Errorf("state by bucket name %+v, want %+v", b, put)
	}
	start := srv.Now()
	n := 0
	for _, err := range c.ListGroupMembers(t.Context(), gid) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2 {
		t.Errorf("listed %d members, want 2", n)
	}
	for _, r := range srv.RequestLog() {
		if r.Status == 429 {
			t.Errorf("the client drew a 429 on %s %s: it did not see the shared budget", r.Method, r.Path)
		}
	}
	if srv.Now().Sub(start) < 59e9 {
		t.Errorf("the client waited %v of fake time, want the rest of the window", srv.Now().Sub(start))
	}
	if okta.RateLimitBucket("GET", "/api/v1/users/00u1") == okta.RateLimitBucket("POST", "/api/v1/users") {
		t.Error("getting a user and creating users share a bucket; Okta keeps them apart")
	}
}

// Two clients with their own state, standing for two processes, share one
// org's bucket: each paces by what the headers say is left, so together
// they stay under the limit (no 429) and still use most of it. Without
// pacing (Reserve -1: send until a 429, then wait for the reset) the same
// calls draw 429s, so the test can tell the two apart.
func TestTwoClientsShareABucket(t *testing.T) {
	t.Parallel()
	const (
		limit  = 20
		calls  = 90 // 45 each: more than four windows' worth
		window = time.Minute
	)
	tests := []struct {
		name     string
		policy   okta.RetryPolicy
		want429s bool
	}{
		{"paced", okta.RetryPolicy{MaxRetries: 3, Reserve: 1}, false},
		{"not paced", okta.RetryPolicy{MaxRetries: 3, Reserve: -1}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := oktatest.NewServer(t, oktatest.WithBucketLimit("GET /api/v1/users/{idOrLogin}", limit))
			u, err := srv.AddUser(okta.Profile{Login: "shared@example.com", Email: "shared@example.com", FirstName: "S", LastName: "B"}, okta.UserActive)
			if err != nil {
				t.Fatal(err)
			}
			var clients [2]*okta.Client
			for i := range clients {
				if clients[i], err = srv.Client(okta.WithRetryPolicy(tc.policy)); err != nil {
					t.Fatal(err)
				}
			}
			start := srv.Now()
			for i := range calls {
				if _, err := clients[i%2].GetUser(t.Context(), u.ID); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			elapsed := srv.Now().Sub(start)
			var ok, refused int
			for _, r := range srv.RequestLog() {
				if r.Method != "GET" || !strings.HasPrefix(r.Path, "/api/v1/users/") {
					continue
				}
				if r.Status == 429 {
					refused++
				} else {
					ok++
				}
			}
			if ok != calls {
				t.Errorf("%d calls answered, want %d", ok, calls)
			}
			if got := refused > 0; got != tc.want429s {
				t.Errorf("%d 429s; want some: %v", refused, tc.want429s)
			}
			if !tc.want429s {
				// Each client leaves one request per window unused, so
				// together they may use 18 of 20: 90 calls used fully
				// are five windows, the last call inside the fifth.
				if elapsed >= 5*window {
					t.Errorf("90 calls took %v of fake time, want less than 5 windows (%v): the budget went unused", elapsed, 5*window)
				}
			}
		})
	}
}

package okta_test

import (
	"testing"

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
	c, err := srv.Client(okta.WithRetryPolicy(okta.RetryPolicy{MaxRetries: 1, Reserve: 0}))
	if err != nil {
		t.Fatal(err)
	}
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

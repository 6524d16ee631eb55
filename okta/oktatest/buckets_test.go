package oktatest_test

import (
	"strconv"
	"testing"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// The fake counts per Okta's buckets: GET /api/v1/users/{id} apart from
// create and list, group paths apart from the group by ID, and so on.
func TestRateLimitBucketFamilies(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	u := seedUser(t, srv, "buckets@example.com", okta.UserActive)
	gid := srv.AddGroup("Buckets")
	ssws := "SSWS " + srv.Token()
	newUser := func(login string) string {
		return `{"profile":{"login":"` + login + `","email":"` + login + `","firstName":"B","lastName":"U"}}`
	}
	for i, tc := range []struct {
		method, path, body string
		limit, remaining   int
	}{
		{"GET", "/api/v1/users/" + u.ID, "", 2000, 1999},
		{"GET", "/api/v1/users/buckets@example.com", "", 2000, 1998},
		{"POST", "/api/v1/users?activate=false", newUser("b1@example.com"), 600, 599},
		{"GET", "/api/v1/users", "", 600, 598}, // create and list share a bucket
		{"POST", "/api/v1/users/" + u.ID, `{"profile":{"city":"Oslo"}}`, 600, 599},
		{"POST", "/api/v1/users/" + u.ID + "/lifecycle/suspend", "{}", 1200, 1199},
		{"GET", "/api/v1/groups", "", 500, 499},
		{"GET", "/api/v1/groups/" + gid, "", 1000, 999},
		{"PUT", "/api/v1/groups/" + gid + "/users/" + u.ID, "{}", 500, 498},
		{"GET", "/api/v1/groups/" + gid + "/users", "", 500, 497},
		{"GET", "/webauthn-registration/api/v1/users/" + u.ID + "/enrollments", "", 600, 599},
		{"GET", "/api/v1/logs", "", 120, 119},
		{"GET", "/api/v1/logs?sortOrder=DESCENDING", "", 120, 118},
	} {
		status, hdr, body := raw(t, srv, tc.method, tc.path, ssws, tc.body)
		if status >= 300 {
			t.Fatalf("%d: %s %s = %d %s", i, tc.method, tc.path, status, body)
		}
		if got := hdr.Get("X-Rate-Limit-Limit") + "/" + hdr.Get("X-Rate-Limit-Remaining"); got != strconv.Itoa(tc.limit)+"/"+strconv.Itoa(tc.remaining) {
			t.Errorf("%s %s: limit/remaining %s, want %d/%d", tc.method, tc.path, got, tc.limit, tc.remaining)
		}
	}
}

func TestBucketLimitOverride(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t, oktatest.WithBucketLimit("GET /api/v1/users/{idOrLogin}", 1))
	u := seedUser(t, srv, "override@example.com", okta.UserActive)
	ssws := "SSWS " + srv.Token()
	if status, _, _ := raw(t, srv, "GET", "/api/v1/users/"+u.ID, ssws, ""); status != 200 {
		t.Fatalf("first get: %d", status)
	}
	status, _, body := raw(t, srv, "GET", "/api/v1/users/"+u.ID, ssws, "")
	if status != 429 {
		t.Fatalf("second get: %d, want 429", status)
	}
	checkErrorBody(t, body, "E0000047", "API call exceeded rate limit due to too many requests.")
	// Listing users draws from another bucket.
	if status, hdr, _ := raw(t, srv, "GET", "/api/v1/users", ssws, ""); status != 200 || hdr.Get("X-Rate-Limit-Limit") != "600" {
		t.Errorf("list users: %d %v", status, hdr)
	}
	if _, err := oktatest.Start(oktatest.WithBucketLimit("/api/v1/users", 1)); err == nil {
		t.Error("WithBucketLimit accepted a bucket Okta does not have")
	}
}

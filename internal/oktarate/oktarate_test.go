package oktarate

import "testing"

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		want         string // bucket name; "" not limited
	}{
		{"GET", "/api/v1/users", usersCreateList.Name},
		{"POST", "/api/v1/users?activate=false", usersCreateList.Name},
		{"GET", "/api/v1/users/00u1", userGet.Name},
		{"GET", "/api/v1/users/{id}", userGet.Name},
		{"POST", "/api/v1/users/00u1", userUpdate.Name},
		{"DELETE", "/api/v1/users/00u1", userUpdate.Name},
		{"POST", "/api/v1/users/00u1/lifecycle/activate", apiV1.Name},
		{"GET", "/api/v1/groups", groups.Name},
		{"POST", "/api/v1/groups", groups.Name},
		{"GET", "/api/v1/groups/00g1", group.Name},
		{"GET", "/api/v1/groups/00g1/users", groups.Name},
		{"PUT", "/api/v1/groups/{id}/users/{userId}", groups.Name},
		{"POST", "/api/v1/authn", authn.Name},
		{"POST", "/api/v1/authn/factors/fwf1/verify", authnVerify.Name},
		{"POST", "/webauthn-registration/api/v1/enroll", preregistration.Name},
		{"GET", "/webauthn-registration/api/v1/users/00u1/enrollments", preregistration.Name},
		{"GET", "/api/v1/eventHooks", apiV1.Name},
		{"GET", "/api/v1/logs", logs.Name},
		{"GET", "/api/v1/logs?since=2026-01-01T00:00:00Z", logs.Name},
		{"GET", "/api/v1/logsx", apiV1.Name},
		{"GET", "/.well-known/openid-configuration", ""},
		{"GET", "/oauth2/v1/keys", ""},
		{"GET", "/api/v1/users/", usersCreateList.Name}, // a trailing slash is the same path
		{"GET", "/api/v1//", apiV1.Name},
	} {
		b, ok := Classify(tc.method, tc.path)
		if got := b.Name; got != tc.want || ok != (tc.want != "") {
			t.Errorf("Classify(%s %s) = %q, %v; want %q", tc.method, tc.path, got, ok, tc.want)
		}
	}
}

func TestBucketsAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, b := range Buckets() {
		if seen[b.Name] || b.Limit <= 0 {
			t.Errorf("bucket %+v repeated or without a limit", b)
		}
		seen[b.Name] = true
		if got, ok := ByName(b.Name); !ok || got != b {
			t.Errorf("ByName(%q) = %+v, %v", b.Name, got, ok)
		}
	}
	if preregistration.Documented {
		t.Error("the preregistration bucket is our choice, not Okta's")
	}
}

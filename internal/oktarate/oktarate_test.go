package oktarate

import "testing"

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		want         string // bucket name; "" not limited
	}{
		{"GET", "/api/v1/users", UsersCreateList.Name},
		{"POST", "/api/v1/users?activate=false", UsersCreateList.Name},
		{"GET", "/api/v1/users/00u1", UserGet.Name},
		{"GET", "/api/v1/users/{id}", UserGet.Name},
		{"POST", "/api/v1/users/00u1", UserUpdate.Name},
		{"DELETE", "/api/v1/users/00u1", UserUpdate.Name},
		{"POST", "/api/v1/users/00u1/lifecycle/activate", APIv1.Name},
		{"GET", "/api/v1/groups", Groups.Name},
		{"POST", "/api/v1/groups", Groups.Name},
		{"GET", "/api/v1/groups/00g1", Group.Name},
		{"GET", "/api/v1/groups/00g1/users", Groups.Name},
		{"PUT", "/api/v1/groups/{id}/users/{userId}", Groups.Name},
		{"POST", "/api/v1/authn", Authn.Name},
		{"POST", "/api/v1/authn/factors/fwf1/verify", AuthnVerify.Name},
		{"POST", "/webauthn-registration/api/v1/enroll", Preregistration.Name},
		{"GET", "/webauthn-registration/api/v1/users/00u1/enrollments", Preregistration.Name},
		{"GET", "/api/v1/eventHooks", APIv1.Name},
		{"GET", "/.well-known/openid-configuration", ""},
		{"GET", "/oauth2/v1/keys", ""},
		{"GET", "/api/v1/users/", UsersCreateList.Name}, // a trailing slash is the same path
		{"GET", "/api/v1//", APIv1.Name},
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
	if Preregistration.Documented {
		t.Error("the preregistration bucket is our choice, not Okta's")
	}
}

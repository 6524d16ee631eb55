package fakehttp

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/httpfault"
)

var testRoutes = []Route{
	{Method: "POST", Pattern: "/v1/fpr/shipments"},
	{Method: "GET", Pattern: "/v1/fpr/shipments/{id}"},
	{Method: "POST", Pattern: "/api/v1/users/{id}/lifecycle/activate"},
}

// TestRouteReaches: a prefix reaches a route when some request to the
// route has a path beginning with it: whole segments equal (a capture takes
// any non-empty one), the last possibly partial.
func TestRouteReaches(t *testing.T) {
	for _, tc := range []struct {
		method, prefix string
		want           bool
	}{
		{"", "", true},
		{"POST", "", true},
		{"post", "", false}, // methods are upper case on the wire
		{"PUT", "", false},
		{"", "/", true},
		{"", "/v1", true},
		{"", "/v1/fp", true},
		{"POST", "/v1/fpr/shipments", true},
		{"POST", "/v1/fpr/shipments/", false}, // the create has no segment after
		{"GET", "/v1/fpr/shipments/", true},
		{"GET", "/v1/fpr/shipments/fpr123", true},
		{"GET", "/v1/fpr/shipments/fpr123/items", false},
		{"", "/fpr/shipments", false}, // copied from a yubico.APIError
		{"", "v1/fpr", false},         // not from the root
		{"", "/v1/fpr/shipments?x=1", false},
		{"POST", "/api/v1/users/00u1/lifecycle", true},
		{"POST", "/api/v1/users/00u1/lifecycle/act", true},
		{"POST", "/api/v1/users//lifecycle", false}, // a capture is not empty
		{"POST", "/api/v1/users/00u1/lifecycle/suspend", false},
	} {
		got := false
		for _, rt := range testRoutes {
			got = got || rt.reaches(tc.method, tc.prefix)
		}
		if got != tc.want {
			t.Errorf("reaches(%q, %q) = %v, want %v", tc.method, tc.prefix, got, tc.want)
		}
	}
}

// TestFaultsRefuseDeadRulesAndCountLiveOnes: a rule or plan that reaches
// no route is refused, naming the route it was probably copied from; a
// live rule's firings are counted, used up or not; faults without routes
// refuse nothing.
func TestFaultsRefuseDeadRulesAndCountLiveOnes(t *testing.T) {
	f := NewFaults("fake", 1, testRoutes)
	errText := func(err error) string {
		if err == nil {
			return "<nil>"
		}
		return err.Error()
	}
	got := []string{
		errText(f.InjectHTTPFault(httpfault.Rule{Method: "POST", PathPrefix: "/fpr/shipments", Status: 503})),
		errText(f.InjectHTTPFault(httpfault.Rule{Method: "post", PathPrefix: "/v1/fpr/shipments", Status: 503})),
		errText(f.InjectHTTPFault(httpfault.Rule{Method: "put", PathPrefix: "/v1/fpr/shipments", Status: 503})), // PUT reaches nothing either
		errText(f.SetHTTPFaultPlan(httpfault.Plan{Rate: 1, PathPrefix: "/lifecycle/"})),
	}
	want := []string{
		`fake: InjectHTTPFault: HTTPFaultRule: no POST request the fake serves has a path beginning with PathPrefix "/fpr/shipments", so it would never fire (the fake serves "/v1/fpr/shipments": PathPrefix is the path from the fake's root)`,
		`fake: InjectHTTPFault: HTTPFaultRule: no post request the fake serves has a path beginning with PathPrefix "/v1/fpr/shipments", so it would never fire (a request's method is upper case: "POST")`,
		`fake: InjectHTTPFault: HTTPFaultRule: no put request the fake serves has a path beginning with PathPrefix "/v1/fpr/shipments", so it would never fire`,
		`fake: HTTPFaultPlan: no request the fake serves has a path beginning with PathPrefix "/lifecycle/", so it would never fire (the fake serves "/api/v1/users/{id}/lifecycle/": PathPrefix is the path from the fake's root)`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}

	live := httpfault.Rule{Method: "POST", PathPrefix: "/v1/fpr/shipments", Count: 2, Status: 503}
	idle := httpfault.Rule{Method: "GET", PathPrefix: "/v1/fpr/shipments/", Drop: true}
	for _, r := range []httpfault.Rule{live, idle} {
		if err := f.InjectHTTPFault(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.FailNext(1, 500); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"/v1/fpr/shipments", "/v1/fpr/shipments", "/v1/fpr/shipments"} {
		f.Take(req("POST", r))
	}
	wantCounts := []httpfault.RuleCount{
		{Rule: live, Fired: 2},
		{Rule: idle, Fired: 0},
		{Rule: httpfault.Rule{Count: 1, Status: 500}, Fired: 1},
	}
	if diff := cmp.Diff(wantCounts, f.HTTPFaultRuleCounts()); diff != "" {
		t.Errorf("HTTPFaultRuleCounts (-want +got):\n%s", diff)
	}

	if err := NewFaults("fake", 1, nil).InjectHTTPFault(httpfault.Rule{PathPrefix: "/anything", Status: 503}); err != nil {
		t.Errorf("faults without routes refused a rule: %v", err)
	}
}

package httpfault_test

import (
	"fmt"
	"log"
	"net/http"

	"github.com/preenroll/preenroll/httpfault"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// ExampleRuleCount checks that every injected rule fired: one that matched
// no request waits silently, and a test that passes without its fault
// tested nothing.
func ExampleRuleCount() {
	srv, err := oktatest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	for _, r := range []httpfault.Rule{
		{Method: http.MethodGet, PathPrefix: "/api/v1/users/", Status: http.StatusServiceUnavailable},
		{Method: http.MethodPost, PathPrefix: "/api/v1/groups", Status: http.StatusInternalServerError}, // no request will match it
	} {
		if err := srv.InjectHTTPFault(r); err != nil {
			log.Fatal(err)
		}
	}

	// The code under test: here, one GET of a user.
	resp, err := http.Get(srv.URL() + "/api/v1/users/00u1")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("GET:", resp.StatusCode)

	for _, rc := range srv.HTTPFaultRuleCounts() {
		if rc.Fired == 0 {
			fmt.Printf("never fired: %s %s (Count %d)\n", rc.Rule.Method, rc.Rule.PathPrefix, rc.Rule.Count)
		}
	}
	// Output:
	// GET: 503
	// never fired: POST /api/v1/groups (Count 0)
}

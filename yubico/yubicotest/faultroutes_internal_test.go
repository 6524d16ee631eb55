package yubicotest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestFaultRoutesAreServed: every route a fault rule may name (faultRoutes,
// which InjectHTTPFault checks a rule's path against) is one route or
// routeConsole serves, not answered 404 unknown_route.
func TestFaultRoutesAreServed(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, rt := range faultRoutes {
		path := strings.NewReplacer("{id}", "1").Replace(rt.Pattern)
		w := httptest.NewRecorder()
		r := httptest.NewRequest(rt.Method, path, strings.NewReader("{}"))
		if strings.HasPrefix(path, "/v1/") {
			s.route(w, r)
		} else {
			s.routeConsole(w, r)
		}
		var body errorBody
		_ = json.Unmarshal(w.Body.Bytes(), &body) // a success is not an errorBody
		if w.Code == http.StatusNotFound && body.ErrorCode == "unknown_route" {
			t.Errorf("%s %s: unknown_route: faultRoutes names a route the fake does not serve", rt.Method, rt.Pattern)
		}
	}
	// And the check itself: a path the fake does not serve is unknown_route.
	w := httptest.NewRecorder()
	s.route(w, httptest.NewRequest(http.MethodGet, "/v1/nothing", nil))
	if !strings.Contains(w.Body.String(), "unknown_route") {
		t.Errorf("GET /v1/nothing answered %d %s, want unknown_route", w.Code, w.Body)
	}
}

package serve

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
)

// TestDeployAlertsUseServeMetrics: every metric deploy/alerts.yml names,
// and every label value its selectors match exactly, is a series serve
// exports (from the start, or once the traffic the alert is about
// happened: a request of each vendor answered, one of them with 429, and
// a catch-up). That includes process_start_time_seconds, the process
// collector's, which the alerts on a last success use.
func TestDeployAlertsUseServeMetrics(t *testing.T) {
	t.Parallel()
	rules, err := os.ReadFile("../../deploy/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	m := newMetrics(func() float64 { return 0 })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/limited" {
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	t.Cleanup(srv.Close)
	for _, vendor := range []string{vendorOkta, vendorYubico} {
		hc := &http.Client{Transport: &transport{m: m, vendor: vendor, base: http.DefaultTransport, now: time.Now}}
		for _, path := range []string{"/ok", "/limited"} {
			resp, err := hc.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	m.observeCatchUp(fulfillment.CatchUpReport{Outcomes: map[fulfillment.EventOutcome]int{}}, nil)
	m.watchCertificate(func() time.Time { return time.Now().Add(90 * 24 * time.Hour) }) // with -tls-cert-file
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := map[string][]map[string]string{} // family → each sample's labels
	for _, f := range families {
		for _, s := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			series[f.GetName()] = append(series[f.GetName()], labels)
		}
	}

	selector := regexp.MustCompile(`\b((?:preenroll|process)_[a-z_]+)(\{([^}]*)\})?`)
	matcher := regexp.MustCompile(`(\w+)\s*=\s*"([^"]*)"`)
	checked := 0
	for _, line := range strings.Split(string(rules), "\n") {
		expr, ok := strings.CutPrefix(strings.TrimSpace(line), "expr:")
		if !ok {
			continue
		}
		for _, sel := range selector.FindAllStringSubmatch(expr, -1) {
			name := sel[1]
			samples, ok := series[name]
			if !ok {
				t.Errorf("deploy/alerts.yml names %s, which serve does not export", name)
				continue
			}
			checked++
			for _, lm := range matcher.FindAllStringSubmatch(sel[3], -1) {
				found := false
				for _, labels := range samples {
					if labels[lm[1]] == lm[2] {
						found = true
					}
				}
				if !found {
					t.Errorf("deploy/alerts.yml selects %s{%s=%q}, which serve never exports", name, lm[1], lm[2])
				}
			}
		}
	}
	if checked < 14 {
		t.Errorf("only %d metric selectors found in deploy/alerts.yml: the test no longer reads its rules", checked)
	}
}

// TestDeployAlertsSetOperatorsMatch: a rule of deploy/alerts.yml that joins
// two selectors with and/unless matches their series on every label unless
// it says on(…) or ignoring(…); sides that select different values of one
// label then never match, and the alert can never fire (the sides of
// "errors and no successes" differ in result). The test reads each such
// rule's two sides and asks for on/ignoring where their label values
// conflict.
func TestDeployAlertsSetOperatorsMatch(t *testing.T) {
	t.Parallel()
	rules, err := os.ReadFile("../../deploy/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	if problems := setOperatorProblems(string(rules)); len(problems) > 0 {
		t.Errorf("deploy/alerts.yml:\n%s", strings.Join(problems, "\n"))
	}
	// The check finds the mistake it is for.
	bad := `        expr: increase(x_total{result="error"}[15m]) > 0 and increase(x_total{result="ok"}[15m]) == 0`
	good := `        expr: increase(x_total{result="error"}[15m]) > 0 and ignoring(result) increase(x_total{result="ok"}[15m]) == 0`
	for _, tc := range []struct {
		expr string
		want int
	}{{bad, 1}, {good, 0}, {strings.Replace(bad, " and ", " unless ", 1), 1}} {
		if got := len(setOperatorProblems(tc.expr)); got != tc.want {
			t.Errorf("setOperatorProblems(%q): %d problems, want %d", tc.expr, got, tc.want)
		}
	}
}

// setOperatorProblems returns the and/unless joins of the rules' exprs
// whose sides select conflicting label values without on/ignoring.
func setOperatorProblems(rules string) []string {
	setOp := regexp.MustCompile(`\s(and|unless)\s`)
	matcher := regexp.MustCompile(`(\w+)\s*=\s*"([^"]*)"`)
	var problems []string
	for line := range strings.Lines(rules) {
		expr, ok := strings.CutPrefix(strings.TrimSpace(line), "expr:")
		if !ok {
			continue
		}
		locs := setOp.FindAllStringIndex(expr, -1)
		for i, loc := range locs {
			start, end := 0, len(expr)
			if i > 0 {
				start = locs[i-1][1]
			}
			if i+1 < len(locs) {
				end = locs[i+1][0]
			}
			left, right := expr[start:loc[0]], strings.TrimSpace(expr[loc[1]:end])
			if strings.HasPrefix(right, "on(") || strings.HasPrefix(right, "on (") || strings.HasPrefix(right, "ignoring") {
				continue
			}
			values := map[string]string{}
			for _, m := range matcher.FindAllStringSubmatch(left, -1) {
				values[m[1]] = m[2]
			}
			for _, m := range matcher.FindAllStringSubmatch(right, -1) {
				if v, ok := values[m[1]]; ok && v != m[2] {
					problems = append(problems, fmt.Sprintf("%s: its sides select %s=%q and %s=%q: without on(…) or ignoring(%s) they never match", strings.TrimSpace(expr), m[1], v, m[1], m[2], m[1]))
				}
			}
		}
	}
	return problems
}

// TestLastSuccessExportedBeforeTheFirstAnswer: serve exports each vendor
// it talks to with a last success of 0 before that vendor first answers
// (here Okta never does), so that an alert on the time since the last
// success fires for a vendor that never answered; a vendor it does not
// talk to (Yubico, order-only) is not exported.
func TestLastSuccessExportedBeforeTheFirstAnswer(t *testing.T) {
	t.Parallel()
	f := startFakes(t, 0)
	cfg := f.config(fulfillment.NewMemoryStore())
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // an Okta that does not answer
	cfg.OktaOrg, cfg.RegisterHook, cfg.YubicoToken = down.URL, false, ""
	r := start(t, cfg)
	mf := scrape(t, r.base)
	if got := value(mf, "preenroll_remote_last_success_timestamp_seconds", map[string]string{"vendor": vendorOkta}); got != 0 {
		t.Errorf("Okta's last success before any answer = %v, want 0 (exported)", got)
	}
	if got := value(mf, "preenroll_remote_last_success_timestamp_seconds", map[string]string{"vendor": vendorYubico}); got != -1 {
		t.Errorf("Yubico's last success on an order-only serve = %v, want no series", got)
	}
}

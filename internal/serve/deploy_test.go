package serve

import (
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
// a catch-up).
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

	selector := regexp.MustCompile(`(preenroll_[a-z_]+)(\{([^}]*)\})?`)
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
	if checked < 8 {
		t.Errorf("only %d metric selectors found in deploy/alerts.yml: the test no longer reads its rules", checked)
	}
}

package reliability_test

import (
	"testing"

	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// setYubicoFaults sets the fault rate of the fake Yubico (0: off), every
// kind of HTTP fault, latency just beyond the clients' timeout.
func setYubicoFaults(t testing.TB, w *world, rate float64, seed uint64) {
	t.Helper()
	if err := w.Yubico.SetHTTPFaultPlan(yubicotest.HTTPFaultPlan{Rate: rate, Latency: faultLatency, Seed: seed}); err != nil {
		t.Fatal(err)
	}
}

// yubicoFaultCounts returns the faults the fake Yubico injected, by kind.
func yubicoFaultCounts(w *world) map[string]int {
	out := map[string]int{}
	for k, n := range w.Yubico.HTTPFaultCounts() {
		out[k.String()] = n
	}
	return out
}

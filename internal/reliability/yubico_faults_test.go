package reliability_test

import "testing"

// setYubicoFaults sets the fault rate of the fake Yubico.
func setYubicoFaults(t testing.TB, w *world, rate float64, seed uint64) {}

// yubicoFaultCounts returns the faults the fake Yubico injected, by kind.
func yubicoFaultCounts(w *world) map[string]int { return nil }

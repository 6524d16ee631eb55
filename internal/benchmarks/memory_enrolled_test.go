package benchmarks_test

import (
	"bufio"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
)

// procStatusKiB returns a "VmHWM:"-style field of /proc/self/status in
// KiB (0 where there is no /proc).
func procStatusKiB(field string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			v, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return v
		}
	}
	return 0
}

// TestMemoryEnrolled100k orders 100,000 keys in one batch against the
// fakes and runs one Sync, which enrolls every user at Okta and creates
// every FIDO Pre-reg shipment at Yubico (the largest in-flight record), and
// checks that the whole process stays under 1 GiB: its peak resident set
// (VmHWM of /proc/self/status: Service, MemoryStore, both fakes with
// their 100,000 users, enrollments and shipments, and the Go runtime,
// over the whole run) and its live heap at the end. The fakes run in the
// same process; the Service's own share is the live heap freed by
// dropping it and its store. It takes minutes (100,000 enrollments cost
// P-384 cryptography at both fakes), so it runs only with
// PREENROLL_MEMORY_ENROLLED_100K=1 (scripts/bench.sh sets it unless
// MEM100K=0); PREENROLL_MEMORY_N overrides the count.
func TestMemoryEnrolled100k(t *testing.T) {
	if os.Getenv("PREENROLL_MEMORY_ENROLLED_100K") != "1" {
		t.Skip("set PREENROLL_MEMORY_ENROLLED_100K=1 to run (minutes)")
	}
	n := envCount(t, "PREENROLL_MEMORY_N", 100_000, 1)
	r := measureMemory(t, n, true)
	peak := procStatusKiB("VmHWM")
	t.Logf("enrolled=%d peak-RSS-MiB=%.1f heap-MiB=%.1f service-MiB=%.1f service-B/order=%.0f fakes-B/order=%.0f",
		r.n, float64(peak)/1024, float64(r.totalAll)/(1<<20), r.service*float64(r.n)/(1<<20), r.service, r.fakes)
	if peak == 0 {
		t.Log("no /proc/self/status: peak RSS not measured")
	}
	if peak*1024 >= 1<<30 {
		t.Errorf("peak RSS %d MiB with %d keys enrolled, want under 1024 MiB", peak>>10, n)
	}
	if r.totalAll >= 1<<30 {
		t.Errorf("live heap %d MiB with %d keys enrolled, want under 1024 MiB", r.totalAll>>20, n)
	}
}

// writeHeapProfile writes the heap profile to the file named by
// PREENROLL_MEMORY_HEAPPROFILE, if set: measureMemory calls it while the
// Service and the fakes hold every order (go test -memprofile writes its
// profile only after the test has dropped them).
func writeHeapProfile(tb testing.TB) {
	path := os.Getenv("PREENROLL_MEMORY_HEAPPROFILE")
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		tb.Fatal(err)
	}
}

// envCount returns the count in environment variable name, def if it is
// unset; a value that is not a count of at least that fails tb.
func envCount(tb testing.TB, name string, def, least int) int {
	tb.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < least {
		tb.Fatalf("%s=%q: want a count of at least %d", name, s, least)
	}
	return v
}

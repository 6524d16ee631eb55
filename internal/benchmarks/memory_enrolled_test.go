package benchmarks_test

import (
	"bufio"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
)

// memoryLimitMiB is TestMemoryEnrolled100k's default soft memory limit
// (debug.SetMemoryLimit, what GOMEMLIMIT sets), as a deployment that must
// stay under 1 GiB would set it: without one, the collector lets the heap
// grow to twice what was live at the last collection (GOGC=100), and the
// peak resident set is two to three times the live heap.
const memoryLimitMiB = 900

// memoryLogLimit is how many of their most recent requests the fakes keep
// in their request logs in TestMemoryEnrolled100k (nothing reads them;
// every request would be about 600,000 entries, 97 MiB).
const memoryLogLimit = 10_000

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
// PREENROLL_MEMORY_ENROLLED_100K=1 (scripts/bench.sh sets it with
// MEM100K_ENROLLED=1); PREENROLL_MEMORY_N overrides the count. The fakes
// keep the most recent memoryLogLimit entries of their request logs, and
// the process runs under a soft memory limit of PREENROLL_MEMORY_LIMIT_MIB
// MiB (default memoryLimitMiB; 0: none, the collector's GOGC=100 headroom
// alone).
func TestMemoryEnrolled100k(t *testing.T) {
	if os.Getenv("PREENROLL_MEMORY_ENROLLED_100K") != "1" {
		t.Skip("set PREENROLL_MEMORY_ENROLLED_100K=1 to run (minutes)")
	}
	n := envCount(t, "PREENROLL_MEMORY_N", 100_000, 1)
	// A soft memory limit, as a deployment sets with GOMEMLIMIT: the
	// collector then runs before the heap doubles over what is live.
	limitMiB := envCount(t, "PREENROLL_MEMORY_LIMIT_MIB", memoryLimitMiB, 0)
	if limitMiB > 0 {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(int64(limitMiB) << 20))
	}
	r := measureMemory(t, n, true, memoryLogLimit)
	peak := procStatusKiB("VmHWM")
	t.Logf("enrolled=%d peak-RSS-MiB=%.1f heap-MiB=%.1f service-MiB=%.1f service-B/order=%.0f fakes-B/order=%.0f memory-limit-MiB=%d request-log-limit=%d",
		r.n, float64(peak)/1024, float64(r.totalAll)/(1<<20), r.service*float64(r.n)/(1<<20), r.service, r.fakes, limitMiB, memoryLogLimit)
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

package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const sample = `goos: linux
BenchmarkPeerRatio-2   	     400	   5959542 ns/op	       981.2 ours-cpu-µs/op	         1.356 ours/theirs
BenchmarkPeerRatio-2   	     400	   3197362 ns/op	       850.6 ours-cpu-µs/op	         1.449 ours/theirs
BenchmarkPeerRatio-2   	     400	   4000000 ns/op	       900 ours-cpu-µs/op	         1.600 ours/theirs
--- FAIL: BenchmarkSomething
BenchmarkLifecycleVsFloor-2   	      30	  24791083 ns/op	      6642 floor-cpu-µs/op	     16543 life-cpu-µs/op	         3.5 life/floor
PASS
BenchmarkOrderBatchRateLimited/okta-rate-60s-window-2 	1	128980000000 ns/op	0.960 achieved/allowed	0 429/window
BenchmarkInstructions/lifecycle 	10	117500000 instr/op	1.1893 life/floor
BenchmarkInstructions/peer-ours-fresh 	100	6230000 instr/op	1.4763 ours/theirs	1.2050 ours/floor
`

func TestParseAndMedian(t *testing.T) {
	res := results{}
	if err := res.parse(strings.NewReader(sample)); err != nil {
		t.Fatal(err)
	}
	v, n, ok := res.get("BenchmarkPeerRatio", "ours/theirs")
	if diff := cmp.Diff([]any{1.449, 3, true}, []any{v, n, ok}); diff != "" {
		t.Errorf("ours/theirs median (-want +got):\n%s", diff)
	}
	if _, _, ok := res.get("BenchmarkMissing", "ns/op"); ok {
		t.Error("a missing benchmark reported a value")
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median of an even count = %v, want 2.5", got)
	}
}

func TestTargets(t *testing.T) {
	res := results{}
	if err := res.parse(strings.NewReader(sample)); err != nil {
		t.Fatal(err)
	}
	mem, err := parseMem100k("    memory_test.go:120: orders=100000 service-B/order=1356 fakes-B/order=1199 heap-MiB=612.7 service-MiB=129.3\n")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	writeTargets(&b, res, mem)
	out := b.String()
	for _, want := range []string{
		"| 1.45× | 3 | ≤ 1.50× | met |",
		"| 3.50× | 1 | ≤ 1.30× | **missed** |",
		"| not run | 0 | ≥ 0.900 | — |",
		"| 613 MiB | 1 | ≤ 1024 MiB | met |",
		"| 1.189× | 1 | ≤ 1.300× | within (diagnostic) |",
		"| 0.960 | 1 | ≥ 0.970 | **missed** |", // a floor, not a ceiling
		"| 0.00 | 1 | ≤ 1.00 | met |",
		"| 1.476× | 1 | ≤ 1.000× | beyond (diagnostic) |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("targets table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Service on SQLite, user-space instructions") {
		t.Errorf("targets table has a diagnostic row of a benchmark not run:\n%s", out)
	}
}

func TestParseRejectsBadValue(t *testing.T) {
	res := results{}
	if err := res.parse(strings.NewReader("BenchmarkX-2 10 abc ns/op\n")); err == nil || !strings.Contains(err.Error(), "BenchmarkX") {
		t.Errorf("parse of a bad value = %v, want an error naming the benchmark", err)
	}
}

func TestParseMem100kMissing(t *testing.T) {
	if _, err := parseMem100k("--- SKIP: TestMemory100k"); err == nil {
		t.Error("parseMem100k of a skipped run succeeded")
	}
}

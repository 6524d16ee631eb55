package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRefs(t *testing.T) {
	report := `==11697== Callgrind, a call-graph generating cache profiler
==11697== Events    : Ir
==11697== Collected : 646233016
==11697== 
==11697== I   refs:      646,233,016
`
	got, err := refs(report)
	if err != nil || got != 646233016 {
		t.Errorf("refs() = %d, %v; want 646233016, nil", got, err)
	}
	for _, bad := range []string{
		"",
		"==1== I   refs:      1\n==2== I   refs:      2\n",                  // two processes
		"==1== I   refs:      99,999,999,999,999,999,999,999\n",             // overflows
		"Callgrind: threads.c:247: Assertion 'sigNum == …' failed.\nPASS\n", // aborted
	} {
		if n, err := refs(bad); err == nil {
			t.Errorf("refs(%q) = %d, want an error", bad, n)
		}
	}
}

func TestPer(t *testing.T) {
	got, err := per(646_233_016, 1_811_232_234, 3, 13)
	if err != nil || got != 116_499_921.8 {
		t.Errorf("per() = %v, %v; want 116499921.8, nil", got, err)
	}
	for _, c := range []struct {
		t1, t2 uint64
		n1, n2 int
		want   string
	}{
		{1, 2, 5, 5, "the second must be larger"},
		{2, 1, 5, 25, "not usable"},
		{2, 2, 5, 25, "not usable"},
	} {
		if _, err := per(c.t1, c.t2, c.n1, c.n2); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("per(%d, %d, %d, %d) error = %v, want one saying %q", c.t1, c.t2, c.n1, c.n2, err, c.want)
		}
	}
}

func TestRan(t *testing.T) {
	for _, c := range []struct {
		out  string
		want bool
	}{
		{"goos: linux\nBenchmarkLifecycle \t      13\t 353824038 ns/op\nPASS\n", true},
		{"BenchmarkPeer/theirs \t 120\t 1 ns/op\nPASS\n", true},
		{"PASS\n", false}, // the pattern matched no benchmark
		{"BenchmarkLifecycle \t 13\t 1 ns/op\n--- FAIL: BenchmarkLifecycle\nFAIL\n", false},
	} {
		if got := ran(c.out); got != c.want {
			t.Errorf("ran(%q) = %v, want %v", c.out, got, c.want)
		}
	}
}

func TestLine(t *testing.T) {
	byName := map[string]float64{"crypto-floor": 100e6, "peer-theirs": 4e6, "fresh-floor": 5e6}
	got := []string{
		line(bench{name: "lifecycle", n1: 3, n2: 13}, 120e6, byName),
		line(bench{name: "peer-ours-fresh", n1: 20, n2: 120}, 6e6, byName),
		line(bench{name: "lifecycle-sqlite", n1: 3, n2: 13}, 130e6, map[string]float64{}), // floor not counted
	}
	want := []string{
		"BenchmarkInstructions/lifecycle \t10\t120000000 instr/op\t1.2000 life/floor\n",
		"BenchmarkInstructions/peer-ours-fresh \t100\t6000000 instr/op\t1.5000 ours/theirs\t1.2000 ours/floor\n",
		"BenchmarkInstructions/lifecycle-sqlite \t10\t130000000 instr/op\n",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

func TestGodebug(t *testing.T) {
	for in, want := range map[string]string{
		"":                   "asyncpreemptoff=1,cpu.rdtscp=off",
		"gctrace=1":          "gctrace=1,asyncpreemptoff=1,cpu.rdtscp=off",
		"madvdontneed=1,x=y": "madvdontneed=1,x=y,asyncpreemptoff=1,cpu.rdtscp=off",
	} {
		if got := godebug(in); got != want {
			t.Errorf("godebug(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestBenchesExist checks that every pattern names a benchmark function of
// internal/benchmarks and every ratio a counted benchmark, so that a rename
// fails here rather than in a long valgrind run.
func TestBenchesExist(t *testing.T) {
	files, err := filepath.Glob("../../*_test.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("the benchmarks' files: %v, %v", files, err)
	}
	var src strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(b)
	}
	top := regexp.MustCompile(`^\^(Benchmark\w+)\$`)
	names := map[string]bool{}
	for _, b := range benches {
		m := top.FindStringSubmatch(strings.SplitN(b.pattern, "/", 2)[0])
		if m == nil {
			t.Errorf("%s: pattern %q does not start with ^BenchmarkName$", b.name, b.pattern)
		} else if !strings.Contains(src.String(), "func "+m[1]+"(b *testing.B)") {
			t.Errorf("%s: no func %s in internal/benchmarks", b.name, m[1])
		}
		if names[b.name] {
			t.Errorf("benchmark %s listed twice", b.name)
		}
		names[b.name] = true
		if b.n2 <= b.n1 || b.n1 < 1 {
			t.Errorf("%s: iteration counts %d, %d", b.name, b.n1, b.n2)
		}
	}
	for name, rs := range ratios {
		if !names[name] {
			t.Errorf("ratio of %s, which is not counted", name)
		}
		for _, r := range rs {
			if !names[r.over] {
				t.Errorf("%s's %s is over %s, which is not counted", name, r.unit, r.over)
			}
		}
	}
}

// Command instructions counts the user-space instructions that one
// operation of the issue-19 benchmarks executes, under valgrind's callgrind
// tool, and prints them (and the ratios issue 19 sets targets for) as
// `go test -bench` lines, which benchtable reads.
//
// CPU time on a virtual machine drifts by 10–30% between runs of the same
// binary (BENCHMARKS.md), more than most changes move it. An instruction
// count does not drift: callgrind executes the program on a synthetic CPU
// and counts the instructions it retires, whatever else the machine does.
// It is not CPU time: it leaves out the kernel (system calls: loopback
// sockets, fsync, futex) and how fast each instruction runs (the
// cryptography's arithmetic retires several instructions a cycle; parsing,
// allocation and the collector fewer). BENCHMARKS.md ("Instructions")
// compares the two.
//
// Usage (from the repository's root; needs valgrind, Debian's package):
//
//	go run ./internal/benchmarks/cmd/instructions [-count 1] [-j 2] [-run regexp]
//
// It builds the benchmarks' test binary with CGO_ENABLED=0, runs each
// benchmark twice under callgrind, at two iteration counts, and divides the
// difference of the two totals by the difference of the counts, so that the
// test binary's start, the benchmark's setup and its warm-up cancel out.
// Each run has GOMAXPROCS=1: with two Ps, a P with no work spins looking
// for some, and under callgrind (which runs one thread at a time) that
// spinning makes the totals vary by tens of percent; with one P, three runs
// of the same lifecycle benchmark agreed within 0.3%. GODEBUG gets
// asyncpreemptoff=1 (callgrind 3.19 aborts on the Go runtime's preemption
// signals) and cpu.rdtscp=off (its CPU model has no RDTSCP, which the
// runtime's clock would use). valgrind runs each benchmark about 25 times
// slower than a native run; the default set takes about 2 minutes on 2
// idle cores (-count 1), almost 3 beside other work.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"
)

// bench is one benchmark counted: its name in the output, its -test.bench
// pattern and the two iteration counts run.
type bench struct {
	name    string
	pattern string
	n1, n2  int
}

// benches are the benchmarks of internal/benchmarks that issue 19's ratios
// compare.
var benches = []bench{
	{"crypto-floor", "^BenchmarkCryptoFloor$", 5, 25},
	{"lifecycle", "^BenchmarkLifecycle$", 3, 13},
	// SQLite's checkpoints and the peers' collections fall on different
	// operations from run to run: more operations make each count's share
	// of them steadier (within about 1% at these counts; 2% at 3/13 and
	// 20/120).
	{"lifecycle-sqlite", "^BenchmarkLifecycleSQLite$", 3, 33},
	{"peer-theirs", "^BenchmarkPeer$/^theirs$", 20, 420},
	{"peer-ours", "^BenchmarkPeer$/^ours$", 20, 420},
	{"peer-ours-fresh", "^BenchmarkPeer$/^ours-fresh$", 20, 420},
	{"fresh-floor", "^BenchmarkFreshFloor$", 20, 420},
}

// ratios are the quotients printed with a benchmark's count: its own
// instructions per op over another's, in the unit benchtable reports.
var ratios = map[string][]struct{ over, unit string }{
	"lifecycle":        {{"crypto-floor", "life/floor"}},
	"lifecycle-sqlite": {{"crypto-floor", "life/floor"}},
	"peer-ours":        {{"peer-theirs", "ours/theirs"}},
	"peer-ours-fresh":  {{"peer-theirs", "ours/theirs"}, {"fresh-floor", "ours/floor"}},
	"fresh-floor":      {{"peer-theirs", "floor/theirs"}},
}

func main() {
	count := flag.Int("count", 1, "measure every benchmark `n` times")
	jobs := flag.Int("j", 2, "run `n` valgrind processes at once (counts do not depend on it)")
	run := flag.String("run", "", "count only the benchmarks whose name matches `regexp`")
	pkg := flag.String("pkg", "./internal/benchmarks/", "the benchmarks' `package`")
	flag.Parse()
	if err := measure(context.Background(), os.Stdout, *pkg, *run, *count, *jobs); err != nil {
		fmt.Fprintln(os.Stderr, "instructions:", err)
		os.Exit(1)
	}
}

func measure(ctx context.Context, w io.Writer, pkg, run string, count, jobs int) error {
	if count < 1 || jobs < 1 {
		return errors.New("-count and -j must be at least 1")
	}
	sel := benches
	if run != "" {
		re, err := regexp.Compile(run)
		if err != nil {
			return fmt.Errorf("-run: %w", err)
		}
		sel = nil
		for _, b := range benches {
			if re.MatchString(b.name) {
				sel = append(sel, b)
			}
		}
		if len(sel) == 0 {
			return fmt.Errorf("-run %q matches no benchmark", run)
		}
	}
	if _, err := exec.LookPath("valgrind"); err != nil {
		return errors.New("valgrind not found: install it (Debian: apt-get install valgrind)")
	}
	dir, err := os.MkdirTemp("", "preenroll-instructions-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "bench.test")
	build := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, pkg)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go test -c %s: %w\n%s", pkg, err, out)
	}
	for range count {
		perOp := make([]float64, len(sel))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(jobs)
		for i, b := range sel {
			g.Go(func() error {
				var totals [2]uint64
				for j, n := range []int{b.n1, b.n2} {
					t, err := callgrind(gctx, bin, b.pattern, n)
					if err != nil {
						return fmt.Errorf("%s at %dx: %w", b.name, n, err)
					}
					totals[j] = t
				}
				var err error
				perOp[i], err = per(totals[0], totals[1], b.n1, b.n2)
				if err != nil {
					return fmt.Errorf("%s: %w", b.name, err)
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		byName := map[string]float64{}
		for i, b := range sel {
			byName[b.name] = perOp[i]
		}
		for i, b := range sel {
			fmt.Fprint(w, line(b, perOp[i], byName))
		}
	}
	return nil
}

// line is one benchmark's result as a `go test -bench` line.
func line(b bench, perOp float64, byName map[string]float64) string {
	var s strings.Builder
	fmt.Fprintf(&s, "BenchmarkInstructions/%s \t%d\t%.0f instr/op", b.name, b.n2-b.n1, perOp)
	for _, r := range ratios[b.name] {
		if d, ok := byName[r.over]; ok && d > 0 {
			fmt.Fprintf(&s, "\t%.4f %s", perOp/d, r.unit)
		}
	}
	s.WriteByte('\n')
	return s.String()
}

// per is the instructions of one operation: the difference of the two
// runs' totals over the difference of their iteration counts.
func per(t1, t2 uint64, n1, n2 int) (float64, error) {
	if n2 <= n1 {
		return 0, fmt.Errorf("iteration counts %d and %d: the second must be larger", n1, n2)
	}
	if t2 <= t1 {
		return 0, fmt.Errorf("%d iterations counted %d instructions, no more than %d iterations' %d: the counts are not usable", n2, t2, n1, t1)
	}
	return float64(t2-t1) / float64(n2-n1), nil
}

// callgrind runs one benchmark of bin n times under callgrind and returns
// the instructions the whole process executed.
func callgrind(ctx context.Context, bin, pattern string, n int) (uint64, error) {
	cmd := exec.CommandContext(ctx, "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
		bin, "-test.run", "^$", "-test.bench", pattern, "-test.benchtime", strconv.Itoa(n)+"x", "-test.count", "1")
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1", "GODEBUG="+godebug(os.Getenv("GODEBUG")))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil || !ran(stdout.String()) {
		return 0, fmt.Errorf("the benchmark did not pass (%v):\n%s%s", err, tail(stdout.String()), tail(stderr.String()))
	}
	return refs(stderr.String())
}

// godebug adds the settings callgrind needs to the caller's GODEBUG.
func godebug(v string) string {
	const need = "asyncpreemptoff=1,cpu.rdtscp=off"
	if v == "" {
		return need
	}
	return v + "," + need
}

// ran reports whether a test binary's output shows a benchmark result and
// a pass.
func ran(out string) bool {
	return benchLine.MatchString(out) && passLine.MatchString(out)
}

var (
	benchLine = regexp.MustCompile(`(?m)^Benchmark\S+\s+\d+\s+`)
	passLine  = regexp.MustCompile(`(?m)^PASS$`)
	refsLine  = regexp.MustCompile(`(?m)^==\d+== I\s+refs:\s+([\d,]+)\s*$`)
)

// refs reads callgrind's total ("==PID== I   refs:      646,233,016") from
// its report.
func refs(report string) (uint64, error) {
	m := refsLine.FindAllStringSubmatch(report, -1)
	if len(m) != 1 {
		return 0, fmt.Errorf("callgrind's report has %d instruction totals, want 1:\n%s", len(m), tail(report))
	}
	n, err := strconv.ParseUint(strings.ReplaceAll(m[0][1], ",", ""), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("callgrind's total %q: %w", m[0][1], err)
	}
	return n, nil
}

// tail is the end of a long output, for an error.
func tail(s string) string {
	const max = 2000
	if len(s) > max {
		return "…" + s[len(s)-max:]
	}
	return s
}

// Command benchtable turns `go test -bench` output (any -count) into the
// markdown tables of BENCHMARKS.md: the median, minimum and maximum of
// every metric of every benchmark, and the targets with their
// verdicts.
//
// Usage:
//
//	benchtable [-mem100k test-log] bench-output...
//
// Reading "-" or no file reads standard input. -mem100k names the verbose
// output of TestMemory100k, whose result line is added to the targets.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func main() {
	mem := flag.String("mem100k", "", "verbose `output` of TestMemory100k (optional)")
	flag.Parse()
	if err := run(os.Stdout, *mem, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, memPath string, paths []string) error {
	if len(paths) == 0 {
		paths = []string{"-"}
	}
	res := results{}
	for _, p := range paths {
		var r io.Reader = os.Stdin
		if p != "-" {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			r = f
		}
		if err := res.parse(r); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	if len(res) == 0 {
		return errors.New("no benchmark results in the input")
	}
	var mem *mem100k
	if memPath != "" {
		b, err := os.ReadFile(memPath)
		if err != nil {
			return err
		}
		if mem, err = parseMem100k(string(b)); err != nil {
			return fmt.Errorf("%s: %w", memPath, err)
		}
	}
	writeTargets(w, res, mem)
	fmt.Fprintln(w)
	writeAll(w, res)
	return nil
}

// results maps benchmark name (without the -GOMAXPROCS suffix) → unit →
// one value per run.
type results map[string]map[string][]float64

var procSuffix = regexp.MustCompile(`-\d+$`)

// parse reads benchmark lines: name, iterations, then value-unit pairs.
func (res results) parse(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := procSuffix.ReplaceAllString(f[0], "")
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return fmt.Errorf("benchmark %s: value %q of %s: %w", name, f[i], f[i+1], err)
			}
			if res[name] == nil {
				res[name] = map[string][]float64{}
			}
			res[name][f[i+1]] = append(res[name][f[i+1]], v)
		}
	}
	return sc.Err()
}

// median of vs (mean of the middle two for an even count).
func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// get returns the median of a metric and whether it was measured.
func (res results) get(name, unit string) (float64, int, bool) {
	vs := res[name][unit]
	if len(vs) == 0 {
		return 0, 0, false
	}
	return median(vs), len(vs), true
}

// mem100k is TestMemory100k's result line.
type mem100k struct {
	orders          int
	serviceBPerOrd  float64
	fakesBPerOrd    float64
	heapMiB         float64
	serviceMiBTotal float64
}

var memLine = regexp.MustCompile(`orders=(\d+) service-B/order=([\d.-]+) fakes-B/order=([\d.-]+) heap-MiB=([\d.]+) service-MiB=([\d.-]+)`)

func parseMem100k(s string) (*mem100k, error) {
	m := memLine.FindStringSubmatch(s)
	if m == nil {
		return nil, errors.New("no TestMemory100k result line (was it run with -v and PREENROLL_MEMORY_100K=1?)")
	}
	var r mem100k
	r.orders, _ = strconv.Atoi(m[1])
	vals := []*float64{&r.serviceBPerOrd, &r.fakesBPerOrd, &r.heapMiB, &r.serviceMiBTotal}
	for i, p := range vals {
		v, err := strconv.ParseFloat(m[i+2], 64)
		if err != nil {
			return nil, fmt.Errorf("value %q: %w", m[i+2], err)
		}
		*p = v
	}
	return &r, nil
}

// target is one line of the targets.
type target struct {
	what, bench, unit string
	limit             float64
	atMost            bool // the median must be ≤ limit (else ≥)
	format            string
}

var targets = []target{
	{"simulator Platform vs virtualwebauthn, registration + authentication (thread CPU, ours/theirs)", "BenchmarkPeerRatio", "ours/theirs", 1.5, true, "%.2f×"},
	{"browser-like ceremonies (a fresh key agreement each, as browsers do) vs virtualwebauthn (thread CPU, ours/theirs; issue 19)", "BenchmarkPeerRatioFreshKeyAgreement", "ours/theirs", 1, true, "%.2f×"},
	{"full lifecycle per key vs its crypto floor (process CPU, life/floor; issue 11: ≤ 3×)", "BenchmarkLifecycleVsFloor", "life/floor", 1.3, true, "%.2f×"},
	{"full lifecycle per key vs its crypto floor, Service on SQLite (process CPU, life/floor)", "BenchmarkLifecycleVsFloorSQLite", "life/floor", 1.3, true, "%.2f×"},
	{"batch ordering against a rate-limited fake Okta, achieved/allowed (no order lost)", "BenchmarkOrderBatchRateLimited/okta-rate-20s-window", "achieved/allowed", 0.9, false, "%.3f"},
	{"batch ordering in Okta's 60 s rate-limit windows, achieved/allowed (no order lost)", "BenchmarkOrderBatchRateLimited/okta-rate-60s-window", "achieved/allowed", 0.97, false, "%.3f"},
	{"batch ordering in Okta's 60 s rate-limit windows, 429s per window", "BenchmarkOrderBatchRateLimited/okta-rate-60s-window", "429/window", 1, true, "%.2f"},
	{"two `preenroll batch` processes sharing one org's bucket (10 s windows), achieved/allowed together (no order lost)", "BenchmarkOrderBatchTwoProcesses/two-processes-10s-window", "achieved/allowed", 0.97, false, "%.3f"},
	{"two `preenroll batch` processes sharing one org's bucket (10 s windows), 429s per window together", "BenchmarkOrderBatchTwoProcesses/two-processes-10s-window", "429/window", 1, true, "%.2f"},
	{"Service memory for 100,000 in-flight orders, extrapolated from 10,000 ordered (MiB)", "BenchmarkMemory/ordered-10k", "service-MiB/100k", 1024, true, "%.0f MiB"},
	{"Service memory for 100,000 in-flight orders, extrapolated from 2,000 enrolled (MiB)", "BenchmarkMemory/enrolled-2k", "service-MiB/100k", 1024, true, "%.0f MiB"},
}

// diagnostics measure a target's quantity another way than the issue does
// (user-space instructions counted by cmd/instructions rather than CPU
// time), so their verdict says whether the median is within the limit, not
// whether the target is met. Rows of benchmarks not run are left out.
var diagnostics = []target{
	{"full lifecycle per key vs its crypto floor, user-space instructions (callgrind, deterministic; not the issue's measure)", "BenchmarkInstructions/lifecycle", "life/floor", 1.3, true, "%.3f×"},
	{"full lifecycle per key vs its crypto floor, Service on SQLite, user-space instructions (callgrind)", "BenchmarkInstructions/lifecycle-sqlite", "life/floor", 1.3, true, "%.3f×"},
	{"browser-like ceremonies vs virtualwebauthn, user-space instructions (callgrind, ours/theirs)", "BenchmarkInstructions/peer-ours-fresh", "ours/theirs", 1, true, "%.3f×"},
	{"the browser-like path's cryptography alone vs all of virtualwebauthn's ceremonies, user-space instructions (callgrind, floor/theirs)", "BenchmarkInstructions/fresh-floor", "floor/theirs", 1, true, "%.3f×"},
}

func writeTargets(w io.Writer, res results, mem *mem100k) {
	fmt.Fprintln(w, "| target | median | runs | limit | verdict |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---|")
	for _, t := range targets {
		v, n, ok := res.get(t.bench, t.unit)
		if !ok {
			fmt.Fprintf(w, "| %s | not run | 0 | %s | — |\n", t.what, limitText(t))
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %d | %s | %s |\n", t.what, fmt.Sprintf(t.format, v), n, limitText(t), verdict(t.within(v)))
	}
	for _, t := range diagnostics {
		v, n, ok := res.get(t.bench, t.unit)
		if !ok {
			continue
		}
		within := "beyond (diagnostic)"
		if t.within(v) {
			within = "within (diagnostic)"
		}
		fmt.Fprintf(w, "| %s | %s | %d | %s | %s |\n", t.what, fmt.Sprintf(t.format, v), n, limitText(t), within)
	}
	if mem != nil {
		fmt.Fprintf(w, "| real run: %d orders in flight, live heap of the whole process (Service %.0f MiB = %.0f B/order; fakes %.0f B/order; plus the %d Okta users) | %.0f MiB | 1 | ≤ 1024 MiB | %s |\n",
			mem.orders, mem.serviceMiBTotal, mem.serviceBPerOrd, mem.fakesBPerOrd, mem.orders, mem.heapMiB, verdict(mem.heapMiB < 1024))
	}
}

// within reports whether v is on the right side of t's limit.
func (t target) within(v float64) bool {
	if t.atMost {
		return v <= t.limit
	}
	return v >= t.limit
}

func limitText(t target) string {
	op := "≥"
	if t.atMost {
		op = "≤"
	}
	return op + " " + strings.TrimSpace(fmt.Sprintf(t.format, t.limit))
}

func verdict(pass bool) string {
	if pass {
		return "met"
	}
	return "**missed**"
}

// writeAll lists every metric's median, minimum and maximum.
func writeAll(w io.Writer, res results) {
	fmt.Fprintln(w, "| benchmark | metric | median | min | max | runs |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|")
	names := make([]string, 0, len(res))
	for n := range res {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		units := make([]string, 0, len(res[n]))
		for u := range res[n] {
			units = append(units, u)
		}
		slices.SortFunc(units, func(a, b string) int {
			// ns/op first, then alphabetical.
			switch {
			case a == b:
				return 0
			case a == "ns/op":
				return -1
			case b == "ns/op":
				return 1
			}
			return strings.Compare(a, b)
		})
		for _, u := range units {
			vs := res[n][u]
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %d |\n", n, u, num(median(vs), u), num(slices.Min(vs), u), num(slices.Max(vs), u), len(vs))
		}
	}
}

// num prints a value readably: durations in ns/op as µs or ms.
func num(v float64, unit string) string {
	if unit == "ns/op" {
		switch {
		case v >= 1e9:
			return fmt.Sprintf("%.2f s", v/1e9)
		case v >= 1e6:
			return fmt.Sprintf("%.2f ms", v/1e6)
		case v >= 1e3:
			return fmt.Sprintf("%.1f µs", v/1e3)
		}
		return fmt.Sprintf("%.0f ns", v)
	}
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

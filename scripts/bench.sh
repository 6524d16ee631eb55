#!/bin/sh
# bench.sh regenerates the tables of BENCHMARKS.md: it runs the benchmarks
# of internal/benchmarks COUNT times (default 5; the rate limit in Okta's
# 60 s windows, about 2¼ minutes a run, and two processes sharing one org's
# rate limit, about 32 s a run, RATE60_COUNT times, default 3), the
# 100,000-order memory run once (skip it with MEM100K=0), 10,000 orders with 1 and 3
# instances on PostgreSQL INSTANCES_COUNT times (default 3; about 1 minute a run; skip
# them with PG=0), writes the raw output (benchstat-compatible) under OUT (default
# $TMPDIR/preenroll-bench) and replaces the text between the bench:begin/bench:end
# markers of BENCHMARKS.md with the medians.
#
# PostgreSQL: with PREENROLL_POSTGRES_URL set, that server is used; otherwise bench.sh
# starts a throwaway cluster with .ci/postgres.sh (which installs Debian's postgresql
# if needed, as root) and stops it when it ends. PG=0 runs only the memory and SQLite
# cases of BenchmarkOrderBatchInstances.
#
# With valgrind installed (INSTR=0 skips it), it also counts the user-space
# instructions of the lifecycle, its floor and the peer ceremonies under
# callgrind, INSTR_COUNT times (default 2; about 2 minutes a time):
# go run ./internal/benchmarks/cmd/instructions. The counts do not depend on
# the machine's load (BENCHMARKS.md, "Instructions").
#
# Two long runs are off by default (the default run above already takes
# about 15 minutes on 2 idle cores: 902 s on 2026-12-06, two-process runs
# included; 20-25 beside other work, whose load also skews the ratios):
# SYNCSCALE=1 adds BenchmarkSyncScale once (10,000 keys in flight; its call
# counts are deterministic; 3-4 minutes of CPU, 11 minutes on a loaded VM;
# 2.1-2.4 minutes of CPU and 110-113 s at a load average of 2-11 on
# 2026-12-06), MEM100K_ENROLLED=1 adds TestMemoryEnrolled100k (100,000
# keys ordered AND enrolled: 100,000 enrollments' P-384 cryptography at both
# fakes, 8-12 minutes on 2 cores in the runs BENCHMARKS.md reports), whose
# result line is printed and kept in OUT/mem100k-enrolled.txt (BENCHMARKS.md,
# "Sync at scale" and "Memory at 100,000 enrolled keys").
#
#	scripts/bench.sh                 # everything by default, ~15 minutes on 2 idle cores
#	COUNT=10 MEM100K=0 PG=0 scripts/bench.sh
#	SYNCSCALE=1 MEM100K_ENROLLED=1 MEM100K=0 PG=0 COUNT=1 RATE60_COUNT=1 scripts/bench.sh
#	benchstat /tmp/preenroll-bench/bench.txt   # if you have benchstat
set -eu
cd "$(dirname "$0")/.."
COUNT=${COUNT:-5}
RATE60_COUNT=${RATE60_COUNT:-3}
OUT=${OUT:-${TMPDIR:-/tmp}/preenroll-bench}
MEM100K=${MEM100K:-1}
INSTANCES_COUNT=${INSTANCES_COUNT:-3}
PG=${PG:-1}
MEM100K_ENROLLED=${MEM100K_ENROLLED:-0}
SYNCSCALE=${SYNCSCALE:-0}
INSTR=${INSTR:-1}
INSTR_COUNT=${INSTR_COUNT:-2}
PKG=./internal/benchmarks/
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
START=$(date +%s) # for the run's wall time (POSIX sh has no $SECONDS)
# The commit measured, marked when the work tree differs from it.
REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || REV="$REV with uncommitted changes"
mkdir -p "$OUT"
: >"$OUT/bench.txt"

# PostgreSQL for BenchmarkOrderBatchInstances, started first so that a failure
# to start it costs no benchmark run.
if [ "$PG" = 1 ] && [ -z "${PREENROLL_POSTGRES_URL:-}" ]; then
	PGENV=$(bash .ci/postgres.sh start) || {
		echo "bench.sh: could not start a throwaway PostgreSQL (.ci/postgres.sh); set PREENROLL_POSTGRES_URL, or PG=0 to skip" >&2
		exit 1
	}
	eval "$PGENV"
	trap 'bash .ci/postgres.sh stop "$PREENROLL_PG_DIR"' EXIT
	trap 'exit 130' INT TERM
fi

bench() { # pattern benchtime [count]
	go test -run '^$' -bench "$1" -benchtime "$2" -count "${3:-$COUNT}" -timeout 60m "$PKG" | tee -a "$OUT/bench.txt"
}
bench '^Benchmark(Peer|PeerRatio|PeerRatioNoPIN|PeerRatioFreshKeyAgreement|CryptoFloor|Lifecycle|LifecycleVsFloor|LifecycleVsFloorSQLite|CountByStatus|SQLitePut|CatchUp)$' 1s
bench '^BenchmarkOrderBatchRateLimited$/^okta-rate-20s-window$' 1x
bench '^BenchmarkOrderBatchRateLimited$/^okta-rate-60s-window$' 1x "$RATE60_COUNT"
# Two preenroll batch processes sharing one org's bucket (10 s windows): the
# program is built for each run (cached after the first), which takes about
# 32 s on a fake org of its own (about 100 s at RATE60_COUNT=3).
bench '^BenchmarkOrderBatchTwoProcesses$' 1x "$RATE60_COUNT"
bench '^BenchmarkMemory$' 1x
bench '^BenchmarkOktaSeedUsers$' 1x
if [ "$SYNCSCALE" = 1 ]; then
	bench '^BenchmarkSyncScale$' 1x 1
fi

# 1 vs 3 instances on PostgreSQL (and 1 on memory and SQLite for reference),
# and what a pgstore Put costs with the change feed's triggers.
if [ "$PG" = 1 ]; then
	bench '^BenchmarkOrderBatchInstances$' 1x "$INSTANCES_COUNT"
	go test -run '^$' -bench '^BenchmarkPut$' -benchtime 3000x -count "$COUNT" -timeout 30m ./fulfillment/pgstore/ | tee -a "$OUT/bench.txt"
else
	bench '^BenchmarkOrderBatchInstances$/^(memory|sqlite)-' 1x "$INSTANCES_COUNT"
fi

if [ "$INSTR" = 1 ]; then
	if command -v valgrind >/dev/null 2>&1; then
		# To a file first: a failed count must stop the run (a pipe into
		# tee would hide its status, and its rows would be missing).
		if ! go run ./internal/benchmarks/cmd/instructions -count "$INSTR_COUNT" >"$OUT/instr.txt"; then
			echo "bench.sh: the instruction counts failed; BENCHMARKS.md left unchanged" >&2
			exit 1
		fi
		tee -a "$OUT/bench.txt" <"$OUT/instr.txt"
	else
		echo "bench.sh: valgrind not installed; no instruction counts (apt-get install valgrind, or INSTR=0)" >&2
		INSTR=skipped
	fi
fi

if grep -q -e '^--- FAIL' -e '^FAIL' "$OUT/bench.txt"; then
	echo "bench.sh: a benchmark failed; BENCHMARKS.md left unchanged" >&2
	exit 1
fi

set --
if [ "$MEM100K" = 1 ]; then
	PREENROLL_MEMORY_100K=1 go test -run '^TestMemory100k$' -v -count 1 -timeout 60m "$PKG" | tee "$OUT/mem100k.txt"
	if ! grep -q '^--- PASS: TestMemory100k' "$OUT/mem100k.txt"; then
		echo "bench.sh: TestMemory100k failed; BENCHMARKS.md left unchanged" >&2
		exit 1
	fi
	set -- -mem100k "$OUT/mem100k.txt"
fi
if [ "$MEM100K_ENROLLED" = 1 ]; then
	# Not fatal: a run over its 1 GiB target still reports what it measured.
	PREENROLL_MEMORY_ENROLLED_100K=1 go test -run '^TestMemoryEnrolled100k$' -v -count 1 -timeout 60m "$PKG" >"$OUT/mem100k-enrolled.txt" 2>&1 || true
	grep -e 'enrolled=' -e '^--- ' "$OUT/mem100k-enrolled.txt" >&2 ||
		echo "bench.sh: TestMemoryEnrolled100k reported nothing; see $OUT/mem100k-enrolled.txt" >&2
fi

{
	echo "Generated $(date -u '+%Y-%m-%d %H:%M UTC') by scripts/bench.sh (COUNT=$COUNT, RATE60_COUNT=$RATE60_COUNT, INSTANCES_COUNT=$INSTANCES_COUNT, PG=$PG, INSTR=$INSTR) at $REV on $(go env GOOS)/$(go env GOARCH), $(getconf _NPROCESSORS_ONLN) CPUs, $(go version | cut -d' ' -f3), $(( $(date +%s) - START )) s of wall time; load average before/after: $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)."
	echo
	go run ./internal/benchmarks/cmd/benchtable "$@" "$OUT/bench.txt"
} >"$OUT/table.md"
cat "$OUT/table.md"

# Replace the generated part of BENCHMARKS.md.
awk -v table="$OUT/table.md" '
	/<!-- bench:begin -->/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
	/<!-- bench:end -->/ { skip = 0 }
	!skip { print }
' BENCHMARKS.md >"$OUT/BENCHMARKS.md.new"
mv "$OUT/BENCHMARKS.md.new" BENCHMARKS.md

// Package benchmarks holds the cross-package benchmarks of preenroll: the
// simulator against github.com/descope/virtualwebauthn, the full key
// lifecycle against the crypto it cannot avoid, batch ordering against a
// rate-limited fake Okta (in one process, and in two OS processes of the
// preenroll program sharing one org's rate limit:
// BenchmarkOrderBatchTwoProcesses), the memory an in-flight order costs (up to
// 100,000 keys enrolled: TestMemoryEnrolled100k), 10,000 orders by one
// instance or three sharing a PostgreSQL store
// (BenchmarkOrderBatchInstances; its PostgreSQL cases need
// PREENROLL_POSTGRES_URL, which scripts/bench.sh provides), a Sync pass
// with 10,000 keys in flight (BenchmarkSyncScale), counting records by
// status (BenchmarkCountByStatus) and one SQLite store write, a step or
// bookkeeping (BenchmarkSQLitePut). cmd/instructions counts the
// instructions of the lifecycle, its floor and the peer ceremonies under
// valgrind's callgrind, a measure the machine's load does not move.
//
// Everything is in _test.go files; the package itself is empty. Run
// scripts/bench.sh from the repository root to regenerate the table in
// BENCHMARKS.md, or a single benchmark with
//
//	go test -run '^$' -bench BenchmarkPeer -count 5 ./internal/benchmarks/
package benchmarks

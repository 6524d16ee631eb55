// Package reliability holds the project's reliability suites; it has no
// API of its own. Its tests drive the real fulfillment.Service, the real
// okta and yubico clients and simulated keys against the fakes in
// okta/oktatest and yubico/yubicotest:
//
//   - the fault suite (TestFaultSuite): a batch of users is taken through
//     the whole lifecycle — order, Sync rounds while the fakes' clocks
//     advance, parcel, first sign-in (PIN change, WebAuthn assertion through
//     Okta's Authn API), Sync — while both fakes inject faults at a rate on
//     every endpoint (429 with rate-limit headers, 500/502/503, latency
//     beyond the client's timeout, connections dropped before or after the
//     request took effect). It ends with every user Active or reported with
//     a reason, exactly one shipment per user at Yubico and one enrollment
//     per user at Okta, and logs the counts (faults per kind, retries,
//     duplicates, lost);
//   - the crash suite (TestCrashSuite): the program in cmd/crashbatch, built
//     with go build, runs the batch against the fakes (which run in the test
//     process) with a SQLite state file and is killed with SIGKILL at points
//     chosen from a seed, then rerun; the same invariants hold;
//   - two Service instances on one SQLite store, concurrently, under faults
//     (TestTwoInstancesShareOneStore);
//   - security properties (security_test.go): secrets never in logs, errors,
//     stored records or URLs, PINs zeroed and wiped, tokens and hook secrets
//     enforced, responses bound to their user and enrollment, credentials
//     bound to their user and RP, the PIN lockout not bypassable through the
//     simulator's API.
//
// The default run (also under -race) takes 200 users through the fault
// suite and 20 crash seeds; the full run is
//
//	go test -run 'TestFaultSuite$' ./internal/reliability/ -args -faultsuite.users=2000
//
// and -crashsuite.seeds=N runs more seeds. -short runs 40 users and skips
// the crash suite.
package reliability

// Package interop holds the tests that run software nobody here wrote —
// piv-go, piv-go's own hardware test suite, ykman and python-fido2 —
// against the simulated YubiKey through a real pcscd (see
// [github.com/preenroll/preenroll/internal/pcsctest]). The tests need the
// build tag pcsc, cgo and the Debian packages pcscd, vsmartcard-vpcd,
// libpcsclite-dev, yubikey-manager and python3-fido2 (.ci/pcsc.sh installs
// them); without them they skip, or fail when PREENROLL_REQUIRE_PCSC=1.
//
//	CGO_ENABLED=1 go test -tags pcsc ./internal/interop/
//
// TestPIVGoSuite runs piv-go's own hardware suite against the simulated key;
// pivSuiteExclusions in pivsuite_test.go lists the tests left out and why.
package interop

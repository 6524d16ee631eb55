#!/usr/bin/env bash
# PC/SC interop: real, unmodified clients (piv-go, piv-go's own hardware
# suite, ykman, python-fido2, yubico-piv-tool, OpenSC's pkcs11-tool) against
# the simulated YubiKey through a real pcscd with Debian's vsmartcard-vpcd
# reader (its two ports drawn from 20000-32767, below the ephemeral range).
# Run as root on Debian; called by .ci/run. The harness (internal/pcsctest) starts its own pcscd in a private
# mount namespace and stops it by PID; nothing is left running.
#
#   bash .ci/pcsc.sh                 install the packages, run the tests
#   bash .ci/pcsc.sh --install-only  only install (libpcsclite-dev is what
#                                    `go vet -tags pcsc ./...` needs for cgo)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	pcscd vsmartcard-vpcd libpcsclite-dev yubikey-manager python3-fido2 \
	yubico-piv-tool opensc opensc-pkcs11
if [ "${1:-}" = "--install-only" ]; then
	exit 0
fi

export PREENROLL_REQUIRE_PCSC=1 CGO_ENABLED=1

# Our interop tests and the harness's own tests: ykman (info, piv, fido,
# config usb --disable/--enable and the lock code, piv objects import,
# a management-key algorithm change seen by piv info), yubico-piv-tool
# against firmware 5.4.3 (3DES default management key) and 5.7.1,
# pkcs11-tool signing through OpenSC's PIV driver, python-fido2, and
# TestPIVGoSuite, which runs piv-go's hardware suite
# (go test github.com/go-piv/piv-go/v2/piv -args -wipe-yubikey) against a
# simulated key; its exclusions and their reasons are listed in
# internal/interop/pivsuite_test.go (pivSuiteExclusions).
go test -tags pcsc -count=1 -timeout 15m \
	./internal/interop/... ./internal/pcsctest/... ./examples/pivcheck/...

# The APDU round trip through pcscd (target: median <= 0.5 ms).
go test -tags pcsc -count=1 -run '^$' -bench 'Transmit' -benchtime 2000x ./internal/pcsctest/

//go:build pcsc

package interop

import (
	"os"
	"testing"

	"github.com/preenroll/preenroll/internal/pcsctest"
	"github.com/preenroll/preenroll/simulator"
)

const testSerial = 12345678

// newKey returns a fresh simulated YubiKey 5 NFC with the default CAs.
func newKey(t testing.TB, opts ...simulator.Option) *simulator.Key {
	t.Helper()
	k, err := simulator.New(append([]simulator.Option{simulator.WithSerial(testSerial)}, opts...)...)
	if err != nil {
		t.Fatalf("simulator.New: %v", err)
	}
	return k
}

// requireOrSkip skips t for a missing client program, or fails it when
// PREENROLL_REQUIRE_PCSC=1 (CI installs every client).
func requireOrSkip(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv(pcsctest.RequireEnv) == "1" {
		t.Fatalf("%s, and %s=1", reason, pcsctest.RequireEnv)
	}
	t.Skip(reason)
}

//go:build pcsc

package interop

import (
	"testing"

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

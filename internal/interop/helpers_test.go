//go:build pcsc

package interop

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

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

// setPresent removes the key behind v from reader slot (present false) or
// inserts it again, and waits (10 s at most) until pcscd sees the change.
func setPresent(t *testing.T, st *pcsctest.Stack, slot int, v *simulator.VPCD, present bool) {
	t.Helper()
	if present {
		v.Insert()
	} else {
		v.Remove()
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := st.WaitCard(ctx, slot, present); err != nil {
		t.Fatal(err)
	}
}

// pemDER returns the contents of the first PEM block in out, what the
// client command what printed or wrote.
func pemDER(t *testing.T, what, out string) []byte {
	t.Helper()
	block, _ := pem.Decode([]byte(out))
	if block == nil {
		t.Fatalf("%s printed no PEM:\n%s", what, out)
	}
	return block.Bytes
}

// p256Key returns pub, the public key a client's call what returned with
// err, and fails t unless the call succeeded with a P-256 key.
func p256Key(t *testing.T, what string, pub crypto.PublicKey, err error) *ecdsa.PublicKey {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		t.Fatalf("%s returned %T, want a P-256 *ecdsa.PublicKey", what, pub)
	}
	return ec
}

// verifyAttestation checks a slot's attestation certificate and the F9
// certificate that signed it with piv-go's verifier, trusting the
// simulator's default PIV CA, and returns what the attestation says.
func verifyAttestation(t *testing.T, attCert, slotCert *x509.Certificate) *piv.Attestation {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(simulator.DefaultPIVCA().Root())
	att, err := (&piv.Verifier{Roots: roots}).Verify(attCert, slotCert)
	if err != nil {
		t.Fatalf("piv.Verifier{simulator root}.Verify: %v", err)
	}
	return att
}

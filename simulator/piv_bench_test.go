package simulator

import (
	"crypto/sha256"
	"testing"
)

// BenchmarkPIVSignP256 measures one GENERAL AUTHENTICATE with a P-256 key
// (PIN policy never), parsing and answering included.
func BenchmarkPIVSignP256(b *testing.B) {
	a, _ := newTestPIV(b, pivFW571)
	pivAuthDefault(b, a)
	pivGenerate(b, a, 0x9A, pivAlgP256, pivPINPolicyNever, pivTouchNever)
	digest := sha256.Sum256([]byte("bench"))
	cmd := pivCmd(pivInsAuthenticate, pivAlgP256, 0x9A, pivTLV(0x7C, []byte{0x82, 0x00}, pivTLV(0x81, digest[:]))...)
	for b.Loop() {
		if r := a.handle(cmd); r.sw != swOK {
			b.Fatalf("SW %04X", r.sw)
		}
	}
}

// BenchmarkPIVAttest measures ATTEST of a P-256 key: building and signing
// the certificate.
func BenchmarkPIVAttest(b *testing.B) {
	a, _ := newTestPIV(b, pivFW571)
	pivAuthDefault(b, a)
	pivGenerate(b, a, 0x9A, pivAlgP256, pivPINPolicyNever, pivTouchNever)
	cmd := pivCmd(pivInsAttest, 0x9A, 0)
	for b.Loop() {
		if r := a.handle(cmd); r.sw != swOK {
			b.Fatalf("SW %04X", r.sw)
		}
	}
}

// BenchmarkPIVGenerate measures GENERATE for each algorithm class; RSA
// 2048 is what the tests avoid.
func BenchmarkPIVGenerate(b *testing.B) {
	for _, bc := range []struct {
		name string
		alg  byte
	}{{"P256", pivAlgP256}, {"P384", pivAlgP384}, {"Ed25519", pivAlgEd25519}, {"RSA2048", pivAlgRSA2048}} {
		b.Run(bc.name, func(b *testing.B) {
			a, _ := newTestPIV(b, pivFW571)
			pivAuthDefault(b, a)
			cmd := pivCmd(pivInsGenerate, 0, 0x9A, 0xAC, 0x03, 0x80, 0x01, bc.alg)
			for b.Loop() {
				if r := a.handle(cmd); r.sw != swOK {
					b.Fatalf("SW %04X", r.sw)
				}
			}
		})
	}
}

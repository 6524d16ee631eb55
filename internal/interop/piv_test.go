//go:build pcsc

package interop

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"
	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/internal/pcsctest"
	"github.com/preenroll/preenroll/simulator"
)

// TestPIVGo drives the simulated key with piv-go v2 (cgo, libpcsclite)
// through a real pcscd, API call by API call. The subtests share one key and
// run in order: each starts from the state the previous one left.
func TestPIVGo(t *testing.T) {
	st := pcsctest.Start(t, pcsctest.Options{})
	k := newKey(t)
	st.Insert(t, 0, k)
	reader := st.ReaderName(0)

	var yk *piv.YubiKey
	t.Cleanup(func() {
		if yk != nil {
			yk.Close()
		}
	})
	must := func(t *testing.T) *piv.YubiKey {
		t.Helper()
		if yk == nil {
			t.Fatal("no open key (Open failed)")
		}
		return yk
	}
	// Keys generated along the way.
	var pub9a *ecdsa.PublicKey

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"Cards", func(t *testing.T) {
			cards, err := piv.Cards()
			if err != nil {
				t.Fatalf("Cards: %v", err)
			}
			if !slices.Contains(cards, reader) {
				t.Errorf("Cards() = %q, want it to contain %q", cards, reader)
			}
		}},
		{"Open", func(t *testing.T) {
			var err error
			if yk, err = piv.Open(reader); err != nil {
				t.Fatalf("Open(%q): %v", reader, err)
			}
			// piv-go holds an exclusive connection until Close.
			if yk2, err := piv.Open(reader); err == nil {
				yk2.Close()
				t.Error("second Open succeeded, want a sharing violation")
			}
		}},
		{"Version", func(t *testing.T) {
			fw := k.Firmware()
			want := piv.Version{Major: int(fw.Major), Minor: int(fw.Minor), Patch: int(fw.Patch)}
			if got := must(t).Version(); got != want {
				t.Errorf("Version() = %+v, want %+v", got, want)
			}
		}},
		{"Serial", func(t *testing.T) {
			got, err := must(t).Serial()
			if err != nil || got != testSerial {
				t.Errorf("Serial() = %d, %v; want %d", got, err, testSerial)
			}
		}},
		{"FormFactor", func(t *testing.T) {
			got, err := must(t).FormFactor()
			if err != nil || got != piv.FormfactorUSBAKeychain {
				t.Errorf("FormFactor() = %v, %v; want %v", got, err, piv.FormfactorUSBAKeychain)
			}
		}},
		{"Retries", func(t *testing.T) {
			got, err := must(t).Retries()
			if err != nil || got != 3 {
				t.Errorf("Retries() = %d, %v; want 3", got, err)
			}
		}},
		{"VerifyPIN", func(t *testing.T) {
			yk := must(t)
			var auth piv.AuthErr
			if err := yk.VerifyPIN("000000"); !errors.As(err, &auth) || auth.Retries != 2 {
				t.Errorf("VerifyPIN(wrong) = %v, want AuthErr{Retries: 2}", err)
			}
			if err := yk.VerifyPIN(piv.DefaultPIN); err != nil {
				t.Errorf("VerifyPIN(default) = %v", err)
			}
			// A good PIN resets the counter: the next wrong one leaves 2
			// again. (Retries() would fail here, on a real key too: piv-go
			// expects 63Cx for an empty VERIFY, and a verified PIN answers
			// 9000.)
			if err := yk.VerifyPIN("000000"); !errors.As(err, &auth) || auth.Retries != 2 {
				t.Errorf("VerifyPIN(wrong) after a good PIN = %v, want AuthErr{Retries: 2}", err)
			}
			if err := yk.VerifyPIN(piv.DefaultPIN); err != nil {
				t.Errorf("VerifyPIN(default) = %v", err)
			}
		}},
		{"GenerateKey", func(t *testing.T) {
			yk := must(t)
			opts := piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever}
			pub, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotAuthentication, opts)
			pub9a = p256Key(t, "GenerateKey", pub, err)
			info, err := yk.KeyInfo(piv.SlotAuthentication)
			if err != nil {
				t.Fatalf("KeyInfo: %v", err)
			}
			want := piv.KeyInfo{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever, Origin: piv.OriginGenerated, PublicKey: pub}
			if diff := cmp.Diff(want, info, cmp.Comparer(func(a, b *ecdsa.PublicKey) bool { return a.Equal(b) })); diff != "" {
				t.Errorf("KeyInfo(9a) (-want +got):\n%s", diff)
			}
			// A wrong management key is refused.
			bad := bytes.Repeat([]byte{0x42}, 24)
			if _, err := yk.GenerateKey(bad, piv.SlotSignature, opts); err == nil {
				t.Error("GenerateKey with a wrong management key succeeded")
			}
		}},
		{"PrivateKeySignECDSA", func(t *testing.T) {
			yk := must(t)
			priv, err := yk.PrivateKey(piv.SlotAuthentication, pub9a, piv.KeyAuth{PIN: piv.DefaultPIN})
			if err != nil {
				t.Fatalf("PrivateKey: %v", err)
			}
			digest := sha256.Sum256([]byte("signed by a simulated YubiKey through pcscd"))
			sig, err := priv.(crypto.Signer).Sign(rand.Reader, digest[:], crypto.SHA256)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if !ecdsa.VerifyASN1(pub9a, digest[:], sig) {
				t.Error("ECDSA signature from the key does not verify")
			}
			// ECDH on the key agrees with ECDH done in software.
			peer, err := ecdh.P256().GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			onKey, err := priv.(*piv.ECDSAPrivateKey).ECDH(peer.PublicKey())
			if err != nil {
				t.Fatalf("ECDH: %v", err)
			}
			pubECDH, err := pub9a.ECDH()
			if err != nil {
				t.Fatal(err)
			}
			inSoftware, err := peer.ECDH(pubECDH)
			if err != nil || !bytes.Equal(onKey, inSoftware) {
				t.Errorf("ECDH on the key = %X, in software %X (%v)", onKey, inSoftware, err)
			}
		}},
		{"PrivateKeySignEd25519", func(t *testing.T) {
			yk := must(t)
			opts := piv.Key{Algorithm: piv.AlgorithmEd25519, PINPolicy: piv.PINPolicyNever, TouchPolicy: piv.TouchPolicyNever}
			pub, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotSignature, opts)
			if err != nil {
				t.Fatalf("GenerateKey(Ed25519): %v", err)
			}
			priv, err := yk.PrivateKey(piv.SlotSignature, pub, piv.KeyAuth{})
			if err != nil {
				t.Fatalf("PrivateKey: %v", err)
			}
			msg := []byte("an Ed25519 message")
			sig, err := priv.(crypto.Signer).Sign(rand.Reader, msg, crypto.Hash(0))
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if !ed25519.Verify(pub.(ed25519.PublicKey), msg, sig) {
				t.Error("Ed25519 signature does not verify")
			}
		}},
		{"SetCertificate", func(t *testing.T) {
			yk := must(t)
			if _, err := yk.Certificate(piv.SlotAuthentication); !errors.Is(err, piv.ErrNotFound) {
				t.Errorf("Certificate(empty 9a) = %v, want ErrNotFound", err)
			}
			cert := issueCert(t, pub9a)
			if err := yk.SetCertificate(piv.DefaultManagementKey, piv.SlotAuthentication, cert); err != nil {
				t.Fatalf("SetCertificate: %v", err)
			}
			got, err := yk.Certificate(piv.SlotAuthentication)
			if err != nil {
				t.Fatalf("Certificate: %v", err)
			}
			if !bytes.Equal(got.Raw, cert.Raw) {
				t.Error("Certificate(9a) differs from the one stored")
			}
		}},
		{"AttestVerify", func(t *testing.T) {
			yk := must(t)
			slotCert, err := yk.Attest(piv.SlotAuthentication)
			if err != nil {
				t.Fatalf("Attest: %v", err)
			}
			attCert, err := yk.AttestationCertificate()
			if err != nil {
				t.Fatalf("AttestationCertificate: %v", err)
			}
			att := verifyAttestation(t, attCert, slotCert)
			want := &piv.Attestation{
				Version: piv.Version{Major: 5, Minor: 7, Patch: 1}, Serial: testSerial,
				Formfactor: piv.FormfactorUSBAKeychain, PINPolicy: piv.PINPolicyOnce,
				TouchPolicy: piv.TouchPolicyNever, Slot: piv.SlotAuthentication,
			}
			if diff := cmp.Diff(want, att); diff != "" {
				t.Errorf("attestation (-want +got):\n%s", diff)
			}
			if !pub9a.Equal(slotCert.PublicKey) {
				t.Error("the attested key is not the generated one")
			}
			// Yubico's real roots (piv-go's default) must not accept it.
			if _, err := piv.Verify(attCert, slotCert); err == nil {
				t.Error("piv.Verify with Yubico's roots accepted a simulated attestation")
			}
		}},
		{"SetManagementKey", func(t *testing.T) {
			yk := must(t)
			newKey := bytes.Repeat([]byte{0x5A}, 32) // AES-256 (firmware >= 5.4)
			if err := yk.SetManagementKey(piv.DefaultManagementKey, newKey); err != nil {
				t.Fatalf("SetManagementKey: %v", err)
			}
			cert := issueCert(t, pub9a)
			if err := yk.SetCertificate(piv.DefaultManagementKey, piv.SlotAuthentication, cert); err == nil {
				t.Error("SetCertificate with the old management key succeeded")
			}
			if err := yk.SetCertificate(newKey, piv.SlotAuthentication, cert); err != nil {
				t.Errorf("SetCertificate with the new management key: %v", err)
			}
			if err := yk.SetManagementKey(newKey, piv.DefaultManagementKey); err != nil {
				t.Fatalf("SetManagementKey(back to default): %v", err)
			}
		}},
		{"SetPINPUKUnblock", func(t *testing.T) {
			yk := must(t)
			const pin, puk, pin2 = "654321", "87654321", "11223344"
			if err := yk.SetPIN(piv.DefaultPIN, pin); err != nil {
				t.Fatalf("SetPIN: %v", err)
			}
			if err := yk.VerifyPIN(piv.DefaultPIN); err == nil {
				t.Error("old PIN still verifies")
			}
			if err := yk.VerifyPIN(pin); err != nil {
				t.Errorf("VerifyPIN(new PIN): %v", err)
			}
			if err := yk.SetPUK(piv.DefaultPUK, puk); err != nil {
				t.Fatalf("SetPUK: %v", err)
			}
			for range 3 {
				yk.VerifyPIN("000000")
			}
			if err := yk.VerifyPIN(pin); err == nil {
				t.Error("VerifyPIN succeeded on a blocked PIN")
			}
			if got, err := yk.Retries(); err != nil || got != 0 {
				t.Errorf("Retries() on a blocked PIN = %d, %v; want 0", got, err)
			}
			if err := yk.Unblock(piv.DefaultPUK, pin2); err == nil {
				t.Error("Unblock with the old PUK succeeded")
			}
			if err := yk.Unblock(puk, pin2); err != nil {
				t.Fatalf("Unblock: %v", err)
			}
			if err := yk.VerifyPIN(pin2); err != nil {
				t.Errorf("VerifyPIN(after Unblock): %v", err)
			}
		}},
		{"Reset", func(t *testing.T) {
			yk := must(t)
			if err := yk.Reset(); err != nil {
				t.Fatalf("Reset: %v", err)
			}
			if err := yk.VerifyPIN(piv.DefaultPIN); err != nil {
				t.Errorf("VerifyPIN(default) after Reset: %v", err)
			}
			if _, err := yk.Certificate(piv.SlotAuthentication); !errors.Is(err, piv.ErrNotFound) {
				t.Errorf("Certificate(9a) after Reset = %v, want ErrNotFound", err)
			}
			if _, err := yk.KeyInfo(piv.SlotAuthentication); err == nil {
				t.Error("KeyInfo(9a) after Reset found a key")
			}
			if err := yk.SetCertificate(piv.DefaultManagementKey, piv.SlotAuthentication, issueCert(t, pub9a)); err != nil {
				t.Errorf("default management key after Reset: %v", err)
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) && s.name == "Open" {
			return
		}
	}
}

// issueCert returns a certificate for pub issued by a throwaway
// simulator CA.
func issueCert(t *testing.T, pub *ecdsa.PublicKey) *x509.Certificate {
	t.Helper()
	ca, err := simulator.NewCA(rand.Reader, "interop test CA", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(rand.Reader, &x509.Certificate{Subject: pkix.Name{CommonName: "interop test"}}, pub)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestPIVGoRemoveInsert pulls the key out of the reader while piv-go holds
// it, then puts it back: piv-go's open handle fails, a new one works, and the
// PIN verification of the old session is gone, as with a real key.
func TestPIVGoRemoveInsert(t *testing.T) {
	st := pcsctest.Start(t, pcsctest.Options{})
	v := st.Insert(t, 0, newKey(t))
	yk, err := piv.Open(st.ReaderName(0))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := yk.VerifyPIN(piv.DefaultPIN); err != nil {
		t.Fatalf("VerifyPIN: %v", err)
	}

	setPresent(t, st, 0, v, false)
	if _, err := yk.Serial(); err == nil {
		t.Error("Serial() on a removed key succeeded")
	}
	yk.Close()
	if yk, err := piv.Open(st.ReaderName(0)); err == nil {
		yk.Close()
		t.Error("Open with the key removed succeeded")
	}

	setPresent(t, st, 0, v, true)
	yk, err = piv.Open(st.ReaderName(0))
	if err != nil {
		t.Fatalf("Open after re-insert: %v", err)
	}
	defer yk.Close()
	// A still-verified PIN would make piv-go's Retries fail (VERIFY with no
	// data answers 9000); a fresh session reports the counter.
	if got, err := yk.Retries(); err != nil || got != 3 {
		t.Errorf("Retries() after re-insert = %d, %v; want 3 (PIN no longer verified)", got, err)
	}
}

// BenchmarkPIVGoSerial measures piv-go's Serial (one GET SERIAL APDU, F8)
// through libpcsclite, pcscd, vpcd and the simulator, and reports the median
// round trip (target: at most 0.5 ms).
func BenchmarkPIVGoSerial(b *testing.B) {
	st := pcsctest.Start(b, pcsctest.Options{})
	st.Insert(b, 0, newKey(b))
	yk, err := piv.Open(st.ReaderName(0))
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	defer yk.Close()
	times := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		serial, err := yk.Serial()
		times = append(times, time.Since(start))
		if err != nil || serial != testSerial {
			b.Fatalf("Serial() = %d, %v", serial, err)
		}
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds())/1e6, "ms-median")
	b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds())/1e6, "ms-p99")
}

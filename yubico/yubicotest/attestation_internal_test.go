package yubicotest

import (
	mrand "math/rand/v2"
	"testing"

	"github.com/preenroll/preenroll/simulator"
)

// TestFactoryAttestationPerAAGUID: the factory's keys share one FIDO
// attestation per AAGUID, made at the first key that reports it: the
// models of a series (5 NFC and 5C NFC report one AAGUID) share it, a
// model of another series gets its own, and asking again makes nothing
// new.
func TestFactoryAttestationPerAAGUID(t *testing.T) {
	s, err := Start(WithRand(mrand.NewChaCha8([32]byte{'a', 't', 't'})))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if simulator.YubiKey5NFC.AAGUID() != simulator.YubiKey5CNFC.AAGUID() || simulator.YubiKey5NFC.AAGUID() == simulator.YubiKey5Nano.AAGUID() {
		t.Fatal("the models' AAGUIDs are not as this test assumes")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	get := func(m simulator.Model) *simulator.FIDOAttestation {
		t.Helper()
		att, err := s.fidoAttestationLocked(m)
		if err != nil {
			t.Fatalf("attestation for %v: %v", m, err)
		}
		if att.AAGUID() != m.AAGUID() || att.CA() != s.fidoCA {
			t.Errorf("attestation for %v: AAGUID %v, CA %p; want %v and the Server's CA", m, att.AAGUID(), att.CA(), m.AAGUID())
		}
		return att
	}
	nfc := get(simulator.YubiKey5NFC)
	if get(simulator.YubiKey5CNFC) != nfc || get(simulator.YubiKey5NFC) != nfc {
		t.Error("keys of one AAGUID got different attestations")
	}
	if get(simulator.YubiKey5Nano) == nfc {
		t.Error("a key of another AAGUID got the first one's attestation")
	}
	if len(s.fidoAtts) != 2 {
		t.Errorf("%d attestations made, want 2 (one per AAGUID)", len(s.fidoAtts))
	}
}

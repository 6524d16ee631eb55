package simulator_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/preenroll/preenroll/internal/simtest"
	"github.com/preenroll/preenroll/simulator"
)

// TestSharedFIDOAttestation: two keys of a batch attest with one
// FIDOAttestation, and an RP that trusts the CA's root accepts both
// registrations as packed basic attestation.
func TestSharedFIDOAttestation(t *testing.T) {
	t.Parallel()
	att, err := simulator.NewFIDOAttestation(simtest.Rand(11), simulator.DefaultFIDOCA(), simulator.YubiKey5NFC.AAGUID(), 7)
	if err != nil {
		t.Fatalf("NewFIDOAttestation: %v", err)
	}
	if att.AAGUID() != simulator.YubiKey5NFC.AAGUID() || att.CA() != simulator.DefaultFIDOCA() {
		t.Errorf("attestation for %v under %p, want %v under %p", att.AAGUID(), att.CA(), simulator.YubiKey5NFC.AAGUID(), simulator.DefaultFIDOCA())
	}
	for _, serial := range []uint32{20000001, 20000002} {
		f := newFixture(t, simulator.WithSerial(serial), simulator.WithFIDOAttestation(att))
		if err := f.plat.SetPIN(t.Context(), testPIN); err != nil {
			t.Fatalf("key %d: SetPIN: %v", serial, err)
		}
		cred, err := f.register(t, testPIN)
		if err != nil {
			t.Fatalf("key %d: register: %v", serial, err)
		}
		if cred.AttestationFormat != "packed" || cred.AttestationType != "basic_full" {
			t.Errorf("key %d: attestation %s/%s, want packed/basic_full", serial, cred.AttestationFormat, cred.AttestationType)
		}
		if _, err := f.login(t, testOrigin, testPIN); err != nil {
			t.Errorf("key %d: login: %v", serial, err)
		}
	}
}

// TestFIDOAttestationRefused: NewFIDOAttestation and New refuse what a
// FIDOAttestation cannot serve, with errors that say why.
func TestFIDOAttestationRefused(t *testing.T) {
	t.Parallel()
	ca := simulator.DefaultFIDOCA()
	aaguid := simulator.YubiKey5NFC.AAGUID()
	att, err := simulator.NewFIDOAttestation(simtest.Rand(12), ca, aaguid, 1)
	if err != nil {
		t.Fatalf("NewFIDOAttestation: %v", err)
	}
	other, err := simulator.NewCA(simtest.Rand(13), "Other Root", fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	newAtt := func(r bool, ca *simulator.CA, id uuid.UUID) error {
		rand := simtest.Rand(14)
		if !r {
			rand = nil
		}
		_, err := simulator.NewFIDOAttestation(rand, ca, id, 1)
		return err
	}
	newKey := func(opts ...simulator.Option) error { _, err := simulator.New(opts...); return err }
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"nil rand", newAtt(false, ca, aaguid), "simulator: FIDO attestation: nil rand"},
		{"nil CA", newAtt(true, nil, aaguid), "simulator: FIDO attestation: nil CA"},
		{"zero AAGUID", newAtt(true, ca, uuid.Nil), "simulator: FIDO attestation: zero AAGUID"},
		{"nil attestation", newKey(simulator.WithFIDOAttestation(nil)), "simulator: nil FIDO attestation"},
		{"zero attestation", newKey(simulator.WithFIDOAttestation(&simulator.FIDOAttestation{})), "simulator: zero FIDOAttestation (make one with NewFIDOAttestation)"},
		{"another model", newKey(simulator.WithModel(simulator.YubiKey5C), simulator.WithFIDOAttestation(att)),
			"simulator: the FIDO attestation is for AAGUID " + aaguid.String() + ", the key reports " + simulator.YubiKey5C.AAGUID().String()},
		{"another CA", newKey(simulator.WithFIDOCA(other), simulator.WithFIDOAttestation(att)),
			"simulator: the FIDO attestation was issued by another CA than WithFIDOCA's"},
	} {
		got := "<nil>"
		if tc.err != nil {
			got = tc.err.Error()
		}
		if got != tc.want {
			t.Errorf("%s: error %q, want %q", tc.name, got, tc.want)
		}
	}
	if err := newKey(simulator.WithFIDOCA(ca), simulator.WithFIDOAttestation(att)); err != nil {
		t.Errorf("WithFIDOCA naming the attestation's CA: %v", err)
	}
}

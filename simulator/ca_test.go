package simulator

import (
	"crypto/x509"
	"testing"

	"github.com/preenroll/preenroll/internal/simtest"
)

func TestCA(t *testing.T) {
	t.Parallel()
	seeded := func() *CA {
		t.Helper()
		ca, err := NewCA(simtest.Rand(3), "Test Root", testDay)
		if err != nil {
			t.Fatal(err)
		}
		return ca
	}
	ca, again := seeded(), seeded()
	if !ca.rootKey.Equal(again.rootKey) || !ca.interKey.Equal(again.interKey) {
		t.Error("same seed gave different CA keys")
	}
	root, inter := ca.Root(), ca.Intermediate()
	if len(root.CRLDistributionPoints)+len(root.OCSPServer)+len(inter.CRLDistributionPoints)+len(inter.OCSPServer) != 0 {
		t.Error("CA certificates carry revocation URLs")
	}
	// A key's FIDO attestation certificate chains to the root and carries
	// the AAGUID extension.
	k := newTestKey(t, WithFIDOCA(ca))
	leaf, err := x509.ParseCertificate(k.fido.attChain[0])
	if err != nil {
		t.Fatal(err)
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	inters.AddCert(inter)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, CurrentTime: testDay, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("attestation certificate does not chain: %v", err)
	}
	aaguid := k.AAGUID()
	found := false
	for _, e := range leaf.Extensions {
		if e.Id.Equal(oidFIDOAAGUID) {
			found = string(e.Value) == "\x04\x10"+string(aaguid[:])
		}
	}
	if !found || leaf.IsCA || leaf.Subject.OrganizationalUnit[0] != "Authenticator Attestation" {
		t.Errorf("attestation certificate: AAGUID extension %v, CA %v, subject %v", found, leaf.IsCA, leaf.Subject)
	}

	loaded, err := LoadCA(root, ca.rootKey, inter, ca.interKey)
	if err != nil {
		t.Fatalf("LoadCA: %v", err)
	}
	if !loaded.Root().Equal(root) {
		t.Error("loaded root differs")
	}
	if _, err := LoadCA(root, ca.interKey, inter, ca.interKey); err == nil {
		t.Error("LoadCA accepted a mismatched root key")
	}
	if _, err := LoadCA(inter, ca.interKey, inter, ca.interKey); err == nil {
		t.Error("LoadCA accepted a root that is not self-signed")
	}
	if _, err := NewCA(simtest.Rand(1), "", testDay); err == nil {
		t.Error("NewCA accepted an empty name")
	}
}

// TestFIDOAttestationShared: keys made with one FIDOAttestation send its
// chain, named by its batch number; a key without one makes its own,
// named by the key's serial.
func TestFIDOAttestationShared(t *testing.T) {
	t.Parallel()
	att, err := NewFIDOAttestation(simtest.Rand(5), DefaultFIDOCA(), YubiKey5NFC.AAGUID(), 42)
	if err != nil {
		t.Fatal(err)
	}
	a, b := newTestKey(t, WithFIDOAttestation(att)), newTestKey(t, WithSerial(12345679), WithFIDOAttestation(att))
	own := newTestKey(t)
	if a.fido.attKey != att.key || b.fido.attKey != att.key || &a.fido.attChain[0][0] != &b.fido.attChain[0][0] {
		t.Error("keys made with one FIDOAttestation do not share its key and chain")
	}
	if own.fido.attKey.Equal(att.key) {
		t.Error("a key without WithFIDOAttestation uses the batch's key")
	}
	for _, tc := range []struct {
		name string
		der  []byte
		want string
	}{
		{"shared", a.fido.attChain[0], "Simulated Yubico FIDO EE Serial 42"},
		{"own", own.fido.attChain[0], "Simulated Yubico FIDO EE Serial 12345678"},
	} {
		leaf, err := x509.ParseCertificate(tc.der)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if leaf.Subject.CommonName != tc.want {
			t.Errorf("%s: subject CN %q, want %q", tc.name, leaf.Subject.CommonName, tc.want)
		}
	}
}

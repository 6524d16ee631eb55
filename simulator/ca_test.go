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

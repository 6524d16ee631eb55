package simulator

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
)

// PIV attestation (https://developers.yubico.com/PIV/Introduction/PIV_attestation.html):
// slot F9 holds an attestation key and object 5FFF01 its certificate,
// installed at the factory; ATTEST (INS F9) issues an X.509 certificate
// for a key generated in a slot, signed by the F9 key, with Yubico's
// extensions.
//
// The simulated factory certifies the F9 key directly under the PIV CA's
// root, as Yubico did for firmware before 5.7.4 ("Yubico PIV Root CA
// Serial 263751" issues "Yubico PIV Attestation"). The CA's intermediate
// cannot be used: it is constrained to issue leaves only (path length 0),
// and the F9 certificate is itself a CA. So piv-go's
// piv.Verifier{Roots: pool with ca.Root()} verifies the chain
// slot certificate → F9 certificate → root.

// Yubico's attestation extensions (piv-go key.go; yubico-piv-tool).
var (
	oidYubicoFirmware   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 3} // 3 bytes: major minor patch
	oidYubicoSerial     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7} // DER INTEGER
	oidYubicoPolicy     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 8} // 2 bytes: PIN policy, touch policy
	oidYubicoFormFactor = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 9} // 1 byte
)

const (
	pivAttestationIssuerCN  = "Yubico PIV Attestation"
	pivAttestationSubjectCN = "YubiKey PIV Attestation " // + slot in lower-case hex
)

// pivCertObject encodes a certificate object (SP 800-73-4 Part 1 Table 10):
// 70 certificate, 71 CertInfo (uncompressed), FE error detection code.
func pivCertObject(der []byte) []byte {
	return pivConcat(pivTLV(0x70, der), pivTLV(0x71, []byte{0x00}), pivTLV(0xFE, nil))
}

// provisionAttestation installs the factory attestation key (P-256) in
// slot F9 and its certificate, issued by the PIV CA's root, in object
// 5FFF01, unless done already, the host replaced either, or the key has no
// PIV CA.
func (a *pivApplet) provisionAttestation() error {
	if a.attestationReady || a.env.pivCA == nil {
		return nil
	}
	ca := a.env.pivCA
	priv, err := generatePIVKey(a.env.rand, pivAlgP256)
	if err != nil {
		return err
	}
	k := &pivKey{alg: pivAlgP256, pinPolicy: pivPINPolicyNever, touchPolicy: pivTouchNever, origin: pivOriginImported, priv: priv}
	serial, err := a.certSerial()
	if err != nil {
		return err
	}
	exts, err := a.yubicoExtensions(nil)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: pivAttestationIssuerCN},
		NotBefore:             ca.root.NotBefore,
		NotAfter:              ca.root.NotAfter,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		ExtraExtensions:       exts,
	}
	// A nil reader makes the root's ECDSA signature deterministic (RFC 6979).
	der, err := x509.CreateCertificate(nil, tmpl, ca.root, k.public(), ca.rootKey)
	if err != nil {
		return fmt.Errorf("simulator: piv: attestation certificate: %w", err)
	}
	a.keys[pivSlotAttestation] = k
	a.objects[pivObjAttestation] = pivCertObject(der)
	a.attestationReady = true
	return nil
}

// certSerial draws a positive 127-bit serial number from the applet's
// randomness.
func (a *pivApplet) certSerial() (*big.Int, error) {
	b, err := a.random(16)
	if err != nil {
		return nil, err
	}
	b[0] = b[0]&0x7F | 0x40
	return new(big.Int).SetBytes(b), nil
}

// yubicoExtensions returns the firmware and serial extensions and, for a
// slot key, the policy and form factor ones. Their values are raw bytes,
// not DER, except the serial (piv-go Attestation.addExt).
func (a *pivApplet) yubicoExtensions(k *pivKey) ([]pkix.Extension, error) {
	v := a.env.firmware
	serial, err := asn1.Marshal(int64(a.env.serial))
	if err != nil {
		return nil, err
	}
	exts := []pkix.Extension{
		{Id: oidYubicoFirmware, Value: []byte{v.Major, v.Minor, v.Patch}},
		{Id: oidYubicoSerial, Value: serial},
	}
	if k != nil {
		ff := byte(a.env.model.FormFactor())
		if a.env.model.FIPS() {
			ff |= 0x80
		}
		exts = append(exts,
			pkix.Extension{Id: oidYubicoPolicy, Value: []byte{k.pinPolicy, k.touchPolicy}},
			pkix.Extension{Id: oidYubicoFormFactor, Value: []byte{ff}},
		)
	}
	return exts, nil
}

// attest is Yubico's ATTEST (INS F9, P1 slot): the DER certificate of the
// slot's public key signed by the F9 key, issuer the subject of the
// certificate in 5FFF01. Only keys generated on the card in 9A, 9C, 9D and
// 9E are attested (docs/yubico.md §PIV defaults): an empty slot or an imported
// key answers 6A80 (what piv-go maps to ErrNotFound), a retired slot 6A86.
func (a *pivApplet) attest(cmd command) response {
	if cmd.p2 != 0x00 {
		return pivSW(swIncorrectP1P2)
	}
	slot := cmd.p1
	if !pivKeySlot(slot) || pivRetiredSlot(slot) {
		return pivSW(swIncorrectP1P2)
	}
	k, ok := a.keys[slot]
	if !ok || k.origin != pivOriginGenerated {
		return pivSW(swIncorrectData)
	}
	signer, issuer, ok := a.attestationSigner()
	if !ok {
		return pivSW(swIncorrectData)
	}
	serial, err := a.certSerial()
	if err != nil {
		return pivSW(swUnknownError)
	}
	exts, err := a.yubicoExtensions(k)
	if err != nil {
		return pivSW(swUnknownError)
	}
	tmpl := &x509.Certificate{
		SerialNumber:    serial,
		Subject:         pkix.Name{CommonName: fmt.Sprintf("%s%02x", pivAttestationSubjectCN, slot)},
		NotBefore:       issuer.NotBefore,
		NotAfter:        issuer.NotAfter,
		ExtraExtensions: exts,
	}
	// The parent carries only the issuer's name and key identifier: the
	// card signs with whatever key is in F9, matching or not.
	parent := &x509.Certificate{RawSubject: issuer.RawSubject, SubjectKeyId: issuer.SubjectKeyId}
	der, err := x509.CreateCertificate(nil, tmpl, parent, k.public(), signer)
	if err != nil {
		return pivSW(swUnknownError)
	}
	return response{data: der, sw: swOK}
}

// attestationSigner returns the F9 key and the certificate in 5FFF01.
func (a *pivApplet) attestationSigner() (crypto.Signer, *x509.Certificate, bool) {
	k, ok := a.keys[pivSlotAttestation]
	if !ok {
		return nil, nil, false
	}
	signer, ok := k.priv.(crypto.Signer)
	if !ok {
		return nil, nil, false
	}
	obj, ok := a.objects[pivObjAttestation]
	if !ok {
		return nil, nil, false
	}
	tlvs, err := pivParseTLVs(obj)
	if err != nil {
		return nil, nil, false
	}
	cert, err := x509.ParseCertificate(tlvs[0x70])
	if err != nil {
		return nil, nil, false
	}
	return signer, cert, true
}

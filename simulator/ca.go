package simulator

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sync"
	"time"
)

// CA is a simulated attestation certificate authority: a self-signed P-384
// root and a P-256 intermediate under it, which issues the per-key
// attestation certificates. Its certificates carry no CRL or OCSP URLs, so
// verifiers never go to the network for them. Create one with [NewCA];
// the zero CA is not usable.
type CA struct {
	root, intermediate *x509.Certificate
	rootKey, interKey  *ecdsa.PrivateKey
	// serial numbers of issued certificates; guarded by mu.
	mu     sync.Mutex
	serial int64
}

// NewCA makes a CA whose root is named commonName, valid from now for 50
// years. Keys are derived from rand, so a deterministic rand gives
// deterministic keys.
func NewCA(rand io.Reader, commonName string, now time.Time) (*CA, error) {
	if rand == nil {
		return nil, errors.New("simulator: new CA: nil rand")
	}
	if commonName == "" {
		return nil, errors.New("simulator: new CA: empty common name")
	}
	rootKey, err := newECDSAKey(elliptic.P384(), rand)
	if err != nil {
		return nil, fmt.Errorf("simulator: new CA: root key: %w", err)
	}
	interKey, err := newECDSAKey(elliptic.P256(), rand)
	if err != nil {
		return nil, fmt.Errorf("simulator: new CA: intermediate key: %w", err)
	}
	notBefore := now.Add(-time.Hour).UTC().Truncate(time.Second)
	notAfter := notBefore.AddDate(50, 0, 0)
	caCert := func(serial int64, name string, key *ecdsa.PrivateKey, parent *x509.Certificate) (*x509.Certificate, error) {
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(serial),
			Subject:               pkix.Name{CommonName: name, Organization: []string{"Simulated Yubico"}},
			NotBefore:             notBefore,
			NotAfter:              notAfter,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			BasicConstraintsValid: true,
			IsCA:                  true,
			MaxPathLenZero:        parent != nil, // the intermediate signs only leaves
			SubjectKeyId:          keyID(&key.PublicKey),
		}
		if parent == nil {
			parent = tmpl // self-signed root
		}
		der, err := x509.CreateCertificate(rand, tmpl, parent, &key.PublicKey, rootKey)
		if err != nil {
			return nil, err
		}
		return x509.ParseCertificate(der)
	}
	root, err := caCert(1, commonName, rootKey, nil)
	if err != nil {
		return nil, fmt.Errorf("simulator: new CA: root certificate: %w", err)
	}
	inter, err := caCert(2, commonName+" Intermediate", interKey, root)
	if err != nil {
		return nil, fmt.Errorf("simulator: new CA: intermediate certificate: %w", err)
	}
	return &CA{root: root, intermediate: inter, rootKey: rootKey, interKey: interKey, serial: 1000}, nil
}

// LoadCA makes a CA from existing certificates and keys, for tests that
// keep a fixed CA on disk. The root must be a self-signed CA certificate
// for rootKey, and the intermediate a CA certificate for intermediateKey
// signed by the root.
func LoadCA(root *x509.Certificate, rootKey *ecdsa.PrivateKey, intermediate *x509.Certificate, intermediateKey *ecdsa.PrivateKey) (*CA, error) {
	if root == nil || rootKey == nil || intermediate == nil || intermediateKey == nil {
		return nil, errors.New("simulator: load CA: missing certificate or key")
	}
	if !root.IsCA || !intermediate.IsCA {
		return nil, errors.New("simulator: load CA: root and intermediate must be CA certificates")
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("simulator: load CA: root is not self-signed: %w", err)
	}
	if err := intermediate.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("simulator: load CA: intermediate not signed by the root: %w", err)
	}
	if !rootKey.PublicKey.Equal(root.PublicKey) {
		return nil, errors.New("simulator: load CA: root key does not match the root certificate")
	}
	if !intermediateKey.PublicKey.Equal(intermediate.PublicKey) {
		return nil, errors.New("simulator: load CA: intermediate key does not match the intermediate certificate")
	}
	return &CA{root: root, intermediate: intermediate, rootKey: rootKey, interKey: intermediateKey, serial: 1000}, nil
}

// Root returns the self-signed root certificate, the trust anchor tests
// configure in place of Yubico's.
func (ca *CA) Root() *x509.Certificate { return ca.root }

// Intermediate returns the intermediate certificate that issues attestation
// certificates.
func (ca *CA) Intermediate() *x509.Certificate { return ca.intermediate }

// Issue signs a leaf certificate for pub from tmpl under the intermediate.
// It fills in the serial number, issuer, validity (when zero) and basic
// constraints (not a CA). The PIV applet uses it for ATTEST.
func (ca *CA) Issue(rand io.Reader, tmpl *x509.Certificate, pub crypto.PublicKey) (*x509.Certificate, error) {
	t := *tmpl
	ca.mu.Lock()
	ca.serial++
	t.SerialNumber = big.NewInt(ca.serial)
	ca.mu.Unlock()
	if t.NotBefore.IsZero() {
		t.NotBefore = ca.intermediate.NotBefore
	}
	if t.NotAfter.IsZero() {
		t.NotAfter = ca.intermediate.NotAfter
	}
	t.BasicConstraintsValid = true
	t.IsCA = false
	der, err := x509.CreateCertificate(rand, &t, ca.intermediate, pub, ca.interKey)
	if err != nil {
		return nil, fmt.Errorf("simulator: issue certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

var (
	defaultFIDOCA, defaultPIVCA     *CA
	defaultFIDOOnce, defaultPIVOnce sync.Once
)

// DefaultFIDOCA returns the process-wide FIDO attestation CA ("Simulated
// Yubico FIDO Root CA"), generated on first use. Keys made without
// [WithFIDOCA] attest under it; tests trust DefaultFIDOCA().Root().
func DefaultFIDOCA() *CA {
	defaultFIDOOnce.Do(func() { defaultFIDOCA = mustCA("Simulated Yubico FIDO Root CA") })
	return defaultFIDOCA
}

// DefaultPIVCA returns the process-wide PIV attestation CA ("Simulated
// Yubico PIV Root CA"), generated on first use.
func DefaultPIVCA() *CA {
	defaultPIVOnce.Do(func() { defaultPIVCA = mustCA("Simulated Yubico PIV Root CA") })
	return defaultPIVCA
}

func mustCA(name string) *CA {
	ca, err := NewCA(rand.Reader, name, time.Now())
	if err != nil {
		// Only a broken crypto/rand gets here, and the Go runtime
		// already crashes the program in that case.
		panic(err)
	}
	return ca
}

// newECDSAKey derives a private key on c from r (crypto/ecdsa.GenerateKey
// ignores its reader since Go 1.26); see [drawKey].
func newECDSAKey(c elliptic.Curve, r io.Reader) (*ecdsa.PrivateKey, error) {
	return drawKey(r, (c.Params().BitSize+7)/8, func(b []byte) (*ecdsa.PrivateKey, error) {
		return ecdsa.ParseRawPrivateKey(c, b)
	})
}

// drawKey reads size-byte scalars from r until parse accepts one (one in
// [1, n-1]), so a deterministic r gives a deterministic key.
func drawKey[K any](r io.Reader, size int, parse func([]byte) (K, error)) (K, error) {
	buf := make([]byte, size)
	defer clear(buf)
	for range 64 {
		if _, err := io.ReadFull(r, buf); err != nil {
			return *new(K), fmt.Errorf("read random: %w", err)
		}
		if k, err := parse(buf); err == nil {
			return k, nil
		}
	}
	return *new(K), errors.New("random source produced no valid scalar")
}

func keyID(pub *ecdsa.PublicKey) []byte {
	b, err := pub.Bytes()
	if err != nil {
		return nil
	}
	h := sha1.Sum(b)
	return h[:]
}

// oidFIDOAAGUID is the FIDO AAGUID certificate extension
// (id-fido-gen-ce-aaguid).
var oidFIDOAAGUID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}

// oidFIDOTransports is the FIDO U2F transports extension
// (id-fido-u2f-ce-transports).
var oidFIDOTransports = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 2, 1, 1}

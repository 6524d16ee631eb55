package simulator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"fmt"
	"io"

	"github.com/google/uuid"
)

// FIDOAttestation is a FIDO attestation key and its certificate chain
// (leaf, then the CA's intermediate) for keys reporting one AAGUID. A real
// YubiKey's is made at manufacture and shared by a batch of keys of one
// model: FIDO's basic attestation asks for batches of at least 100,000
// authenticators, so that the certificate does not single a key out.
// [New] makes one per key unless given one with [WithFIDOAttestation]; a
// key's own costs a P-256 key, a certificate (which crypto/x509 verifies
// after signing it) and its parsing, each time a key is made. Create one
// with [NewFIDOAttestation]; it is immutable and safe for concurrent use
// by any number of keys. The zero FIDOAttestation is not usable.
type FIDOAttestation struct {
	ca     *CA
	aaguid uuid.UUID
	key    *ecdsa.PrivateKey
	chain  [][]byte // DER: leaf, intermediate
}

// NewFIDOAttestation derives an attestation key from rand and has ca issue
// its certificate for keys reporting aaguid, named "Simulated Yubico FIDO
// EE Serial <batch>" (Yubico's attestation certificates name a batch
// number there, not a key's serial). A deterministic rand gives a
// deterministic key.
func NewFIDOAttestation(rand io.Reader, ca *CA, aaguid uuid.UUID, batch uint32) (*FIDOAttestation, error) {
	switch {
	case rand == nil:
		return nil, errors.New("simulator: FIDO attestation: nil rand")
	case ca == nil:
		return nil, errors.New("simulator: FIDO attestation: nil CA")
	case aaguid == uuid.Nil:
		return nil, errors.New("simulator: FIDO attestation: zero AAGUID")
	}
	key, err := newECDSAKey(elliptic.P256(), rand)
	if err != nil {
		return nil, fmt.Errorf("simulator: FIDO attestation key: %w", err)
	}
	leaf, err := ca.Issue(rand, fidoAttestationTemplate(aaguid, batch), &key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("simulator: FIDO attestation certificate: %w", err)
	}
	return &FIDOAttestation{ca: ca, aaguid: aaguid, key: key, chain: [][]byte{leaf.Raw, ca.Intermediate().Raw}}, nil
}

// AAGUID returns the AAGUID the attestation certificate names: the keys
// that use it must report it.
func (a *FIDOAttestation) AAGUID() uuid.UUID { return a.aaguid }

// CA returns the CA that issued the attestation certificate.
func (a *FIDOAttestation) CA() *CA { return a.ca }

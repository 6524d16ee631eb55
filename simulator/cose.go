package simulator

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
)

// COSE algorithm identifiers (IANA COSE Algorithms).
const (
	coseES256  = -7
	coseEdDSA  = -8
	coseECDHES = -25 // ECDH-ES+HKDF-256, the CTAP key agreement "alg"
)

// coseKey is a COSE_Key (RFC 9052 §7) for EC2 and OKP keys.
type coseKey struct {
	Kty int    `cbor:"1,keyasint"`
	Alg int    `cbor:"3,keyasint"`
	Crv int    `cbor:"-1,keyasint"`
	X   []byte `cbor:"-2,keyasint"`
	Y   []byte `cbor:"-3,keyasint,omitempty"`
}

// ecdhPublic validates a platform key agreement key (EC2, P-256) and
// returns it.
func (c *coseKey) ecdhPublic() (*ecdh.PublicKey, error) {
	if c.Kty != 2 || c.Crv != 1 {
		return nil, errors.New("key agreement: not an EC2 P-256 key")
	}
	if len(c.X) != 32 || len(c.Y) != 32 {
		return nil, errors.New("key agreement: coordinates must be 32 bytes")
	}
	pt := make([]byte, 0, 65)
	pt = append(pt, 4)
	pt = append(append(pt, c.X...), c.Y...)
	return ecdh.P256().NewPublicKey(pt)
}

func coseFromECDH(pub *ecdh.PublicKey) coseKey {
	b := pub.Bytes() // 0x04 || X || Y
	return coseKey{Kty: 2, Alg: coseECDHES, Crv: 1, X: b[1:33], Y: b[33:65]}
}

// credKey is a credential's private key.
type credKey struct {
	alg  int
	ec   *ecdsa.PrivateKey
	ed   ed25519.PrivateKey
	seed []byte // the 32 private bytes kept in the credential ID
}

func newCredKey(alg int, seed []byte) (*credKey, error) {
	k := &credKey{alg: alg, seed: seed}
	switch alg {
	case coseES256:
		ec, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), seed)
		if err != nil {
			return nil, err
		}
		k.ec = ec
	case coseEdDSA:
		k.ed = ed25519.NewKeyFromSeed(seed)
	default:
		return nil, fmt.Errorf("unsupported algorithm %d", alg)
	}
	return k, nil
}

// coseES256Prefix is the CTAP2 canonical CBOR of an EC2 P-256 ES256
// COSE_Key up to its x coordinate: map(5) {1: 2, 3: -7, -1: 1, -2: bstr(32)
// ...}; y follows as -3: bstr(32).
var coseES256Prefix = []byte{0xA5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20}

// cose returns the CBOR of the public COSE key (what makeCredential puts
// in the attested credential data and credential management reports). An
// assertion does not need it, so it is not computed with the key.
func (k *credKey) cose() ([]byte, error) {
	if k.ec != nil {
		pub, err := k.ec.PublicKey.Bytes() // 0x04 || X || Y
		if err != nil {
			return nil, err
		}
		b := make([]byte, 0, len(coseES256Prefix)+32+3+32)
		b = append(b, coseES256Prefix...)
		b = append(b, pub[1:33]...)
		b = append(b, 0x22, 0x58, 0x20)
		return append(b, pub[33:]...), nil
	}
	return ctapEnc.Marshal(coseKey{Kty: 1, Alg: coseEdDSA, Crv: 6, X: k.ed.Public().(ed25519.PublicKey)})
}

// generateCredKey makes a new key from rand.
func generateCredKey(alg int, rand io.Reader) (*credKey, error) {
	seed := make([]byte, 32)
	for range 64 {
		if _, err := io.ReadFull(rand, seed); err != nil {
			return nil, err
		}
		if k, err := newCredKey(alg, seed); err == nil {
			return k, nil
		}
	}
	return nil, errors.New("random source produced no valid key")
}

func (k *credKey) sign(rand io.Reader, msg []byte) ([]byte, error) {
	if k.ed != nil {
		return ed25519.Sign(k.ed, msg), nil
	}
	h := sha256.Sum256(msg)
	return ecdsa.SignASN1(rand, k.ec, h[:])
}

// Credential IDs wrap the private key under the applet's master key
// (AES-256-GCM, the RP ID hash as associated data), as a YubiKey does for
// non-discoverable credentials: nothing is stored, and a reset (new master
// key) invalidates every ID.
//
//	id = 0x01 | nonce(12) | GCM(alg(1) | flags(1) | credProtect(1) | seed(32)) | tag(16)
const (
	credIDVersion = 0x01
	credIDLen     = 1 + 12 + 35 + 16

	credFlagResident   = 0x01
	credFlagHMACSecret = 0x02
)

type credMeta struct {
	alg         int
	resident    bool
	hmacSecret  bool
	credProtect byte
}

func wrapCredential(master []byte, rand io.Reader, rpIDHash []byte, m credMeta, seed []byte) ([]byte, error) {
	gcm, err := newGCM(master)
	if err != nil {
		return nil, err
	}
	pt := make([]byte, 0, 35)
	alg := byte(0)
	if m.alg == coseEdDSA {
		alg = 1
	}
	var flags byte
	if m.resident {
		flags |= credFlagResident
	}
	if m.hmacSecret {
		flags |= credFlagHMACSecret
	}
	pt = append(pt, alg, flags, m.credProtect)
	pt = append(pt, seed...)
	id := make([]byte, 13, credIDLen)
	id[0] = credIDVersion
	if _, err := io.ReadFull(rand, id[1:13]); err != nil {
		return nil, err
	}
	return gcm.Seal(id, id[1:13], pt, rpIDHash), nil
}

// openCredential decrypts a credential ID minted by this key for this RP;
// ok is false for anything else. It returns the metadata and the private
// key bytes without deriving the key.
func openCredential(master []byte, rpIDHash, id []byte) (credMeta, []byte, bool) {
	if len(id) != credIDLen || id[0] != credIDVersion {
		return credMeta{}, nil, false
	}
	gcm, err := newGCM(master)
	if err != nil {
		return credMeta{}, nil, false
	}
	pt, err := gcm.Open(nil, id[1:13], id[13:], rpIDHash)
	if err != nil || len(pt) != 35 {
		return credMeta{}, nil, false
	}
	m := credMeta{alg: coseES256, resident: pt[1]&credFlagResident != 0, hmacSecret: pt[1]&credFlagHMACSecret != 0, credProtect: pt[2]}
	if pt[0] == 1 {
		m.alg = coseEdDSA
	}
	return m, pt[3:], true
}

// unwrapCredential opens a credential ID and derives its key.
func unwrapCredential(master []byte, rpIDHash, id []byte) (credMeta, *credKey, bool) {
	m, seed, ok := openCredential(master, rpIDHash, id)
	if !ok {
		return credMeta{}, nil, false
	}
	k, err := newCredKey(m.alg, seed)
	if err != nil {
		return credMeta{}, nil, false
	}
	return m, k, true
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

package simulator

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"
)

// PIN/UV auth protocols 1 and 2 (CTAP 2.1 §6.5.6, §6.5.7). Both sides of
// the exchange use these functions: the FIDO applet and the Platform.

// sharedSecret derives the protocol's shared secret from the ECDH x
// coordinate z: SHA-256(z) for protocol 1 (32 bytes); for protocol 2 an
// HMAC key and an AES key from HKDF-SHA-256 (64 bytes).
func sharedSecret(proto int, z []byte) ([]byte, error) {
	if proto == 1 {
		h := sha256.Sum256(z)
		return h[:], nil
	}
	// HKDF-SHA-256(salt = 32 zero bytes, IKM = z) for both keys: one
	// extract, two expands.
	prk, err := hkdf.Extract(sha256.New, z, make([]byte, 32))
	if err != nil {
		return nil, err
	}
	defer clear(prk)
	hk, err := hkdf.Expand(sha256.New, prk, "CTAP2 HMAC key", 32)
	if err != nil {
		return nil, err
	}
	ak, err := hkdf.Expand(sha256.New, prk, "CTAP2 AES key", 32)
	if err != nil {
		return nil, err
	}
	out := append(hk, ak...)
	clear(ak)
	return out, nil
}

// ecdhShared runs ECDH and derives the shared secret.
func ecdhShared(proto int, priv *ecdh.PrivateKey, pub *ecdh.PublicKey) ([]byte, error) {
	z, err := priv.ECDH(pub)
	if err != nil {
		return nil, err
	}
	return sharedSecret(proto, z)
}

func aesKey(proto int, key []byte) []byte {
	if proto == 2 && len(key) == 64 {
		return key[32:]
	}
	return key[:32]
}

// pinEncrypt encrypts pt (a multiple of 16 bytes): AES-256-CBC with a zero
// IV for protocol 1; with a random IV prepended for protocol 2.
func pinEncrypt(proto int, key, pt []byte, rand io.Reader) ([]byte, error) {
	if len(pt)%aes.BlockSize != 0 {
		return nil, errors.New("plaintext not a multiple of the block size")
	}
	b, err := aes.NewCipher(aesKey(proto, key))
	if err != nil {
		return nil, err
	}
	iv := make([]byte, aes.BlockSize)
	var out []byte
	if proto == 2 {
		if _, err := io.ReadFull(rand, iv); err != nil {
			return nil, err
		}
		out = append(out, iv...)
	}
	ct := make([]byte, len(pt))
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(ct, pt)
	return append(out, ct...), nil
}

// pinDecrypt reverses pinEncrypt.
func pinDecrypt(proto int, key, ct []byte) ([]byte, error) {
	b, err := aes.NewCipher(aesKey(proto, key))
	if err != nil {
		return nil, err
	}
	iv := make([]byte, aes.BlockSize)
	if proto == 2 {
		if len(ct) < aes.BlockSize {
			return nil, errors.New("ciphertext shorter than the IV")
		}
		iv, ct = ct[:aes.BlockSize], ct[aes.BlockSize:]
	}
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, errors.New("ciphertext not a multiple of the block size")
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(b, iv).CryptBlocks(pt, ct)
	return pt, nil
}

// pinAuthenticate is the protocol's MAC: HMAC-SHA-256 with the first 32
// bytes of key, truncated to 16 bytes for protocol 1.
func pinAuthenticate(proto int, key, msg []byte) []byte {
	m := hmac.New(sha256.New, key[:32])
	m.Write(msg)
	sum := m.Sum(nil)
	if proto == 1 {
		return sum[:16]
	}
	return sum
}

// pinVerify checks a MAC in constant time.
func pinVerify(proto int, key, msg, mac []byte) bool {
	want := pinAuthenticate(proto, key, msg)
	return len(mac) == len(want) && subtle.ConstantTimeCompare(mac, want) == 1
}

// newECDHKey derives a P-256 key agreement key from rand (crypto/ecdh's
// GenerateKey ignores its reader since Go 1.26); see [drawKey].
func newECDHKey(rand io.Reader) (*ecdh.PrivateKey, error) {
	return drawKey(rand, 32, ecdh.P256().NewPrivateKey)
}

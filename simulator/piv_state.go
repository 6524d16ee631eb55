package simulator

import (
	"crypto"
	"slices"
)

// PIVState is the PIV application's part of a key's state for tests. It
// holds no secrets: no PIN, PUK, management key or private key.
type PIVState struct {
	PINRetries, PINMaxRetries int // tries left and the limit; 0 left means blocked
	PUKRetries, PUKMaxRetries int
	DefaultPIN                bool // the PIN is still 123456
	DefaultPUK                bool // the PUK is still 12345678
	DefaultManagementKey      bool // the management key is still 0102…0708 ×3 with the factory algorithm
	// ManagementKeyAlgorithm is the PIV algorithm identifier of the
	// management key: 0x03 3DES, 0x08 AES-128, 0x0A AES-192, 0x0C AES-256.
	ManagementKeyAlgorithm byte
	// Keys are the asymmetric keys in slots 9A, 9C, 9D, 9E, 82–95 and the
	// attestation slot F9, by ascending slot.
	Keys []PIVKeyState
	// Objects are the tags of the stored data objects (e.g. 0x5FC105 for
	// the certificate of slot 9A), ascending.
	Objects []uint32
}

// PIVKeyState describes the key in one PIV slot.
type PIVKeyState struct {
	Slot byte
	// Algorithm is the PIV algorithm identifier: 0x11 P-256, 0x14 P-384,
	// 0xE0 Ed25519, 0xE1 X25519, 0x06/0x07/0x05/0x16 RSA 1024/2048/3072/4096.
	Algorithm byte
	// PINPolicy is 1 never, 2 once or 3 always; TouchPolicy 1 never,
	// 2 always or 3 cached (Yubico's wire values, as in GET METADATA).
	PINPolicy, TouchPolicy byte
	Imported               bool // imported rather than generated on the key
	PublicKey              crypto.PublicKey
}

// state returns the applet's PIVState.
func (a *pivApplet) state() PIVState {
	st := PIVState{
		PINRetries: max(a.pin.retries, 0), PINMaxRetries: a.pin.maxRetries,
		PUKRetries: max(a.puk.retries, 0), PUKMaxRetries: a.puk.maxRetries,
		DefaultPIN:             a.pin.isDefault(pivDefaultPIN),
		DefaultPUK:             a.puk.isDefault(pivDefaultPUK),
		DefaultManagementKey:   a.mgmtIsDefault(),
		ManagementKeyAlgorithm: a.mgmt.alg,
	}
	for slot, k := range a.keys {
		st.Keys = append(st.Keys, PIVKeyState{
			Slot: slot, Algorithm: k.alg, PINPolicy: k.pinPolicy, TouchPolicy: k.touchPolicy,
			Imported: k.origin == pivOriginImported, PublicKey: k.public(),
		})
	}
	slices.SortFunc(st.Keys, func(x, y PIVKeyState) int { return int(x.Slot) - int(y.Slot) })
	for tag := range a.objects {
		st.Objects = append(st.Objects, tag)
	}
	slices.Sort(st.Objects)
	return st
}

package simulator

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/binary"
	"slices"
)

// U2F (CTAP1) raw messages over ISO 7816 (FIDO U2F raw message formats
// §3, NFC protocol §5), CLA 0x00 while the FIDO application is selected.
const (
	insU2FRegister     byte = 0x01
	insU2FAuthenticate byte = 0x02
	insU2FVersion      byte = 0x03

	u2fEnforceUP   byte = 0x03
	u2fCheckOnly   byte = 0x07
	u2fDontEnforce byte = 0x08
)

// u2f handles one U2F message. Key handles are credential IDs wrapped
// with the application parameter as RP ID hash, so a U2F registration can
// also be used through CTAP2 getAssertion, as on a YubiKey.
func (a *fidoApplet) u2f(cmd command) response {
	switch cmd.ins {
	case insU2FVersion:
		if len(cmd.data) != 0 {
			return response{sw: swWrongLength}
		}
		return response{data: []byte("U2F_V2"), sw: swOK}
	case insU2FRegister, insU2FAuthenticate:
		if a.alwaysUV {
			// U2F has no user verification: alwaysUv disables it.
			return response{sw: swConditionsNotMet}
		}
		if cmd.ins == insU2FRegister {
			return a.u2fRegister(cmd)
		}
		return a.u2fAuthenticate(cmd)
	}
	return response{sw: swInsNotSupported}
}

func (a *fidoApplet) u2fRegister(cmd command) response {
	if len(cmd.data) != 64 {
		return response{sw: swWrongLength}
	}
	challenge, app := cmd.data[:32], cmd.data[32:]
	if a.env.touch() != nil {
		return response{sw: swConditionsNotMet}
	}
	key, err := generateCredKey(coseES256, a.env.rand)
	if err != nil {
		return response{sw: swUnknownError}
	}
	kh, err := wrapCredential(a.master, a.env.rand, app, credMeta{alg: coseES256}, key.seed)
	if err != nil {
		return response{sw: swUnknownError}
	}
	pub, err := key.ec.PublicKey.Bytes()
	if err != nil {
		return response{sw: swUnknownError}
	}
	signed := slices.Concat([]byte{0x00}, app, challenge, kh, pub)
	h := sha256.Sum256(signed)
	sig, err := ecdsa.SignASN1(a.env.rand, a.attKey, h[:])
	if err != nil {
		return response{sw: swUnknownError}
	}
	out := slices.Concat([]byte{0x05}, pub, []byte{byte(len(kh))}, kh, a.attChain[0], sig)
	return response{data: out, sw: swOK}
}

func (a *fidoApplet) u2fAuthenticate(cmd command) response {
	if len(cmd.data) < 65 || len(cmd.data) != 65+int(cmd.data[64]) {
		return response{sw: swWrongLength}
	}
	challenge, app, kh := cmd.data[:32], cmd.data[32:64], cmd.data[65:]
	m, key, ok := unwrapCredential(a.master, app, kh)
	// U2F has no user verification, so a credential made with credProtect
	// userVerificationRequired (3) is not usable through it (CTAP 2.1
	// §12.1): it answers as an unknown key handle.
	if !ok || m.alg != coseES256 || (m.resident && a.findResident(kh) == nil) || m.credProtect == 3 {
		return response{sw: swIncorrectData}
	}
	var flags byte
	switch cmd.p1 {
	case u2fCheckOnly:
		// "Success" of check-only is conditions-not-satisfied.
		return response{sw: swConditionsNotMet}
	case u2fEnforceUP:
		if a.env.touch() != nil {
			return response{sw: swConditionsNotMet}
		}
		flags = flagUP
	case u2fDontEnforce:
	default:
		return response{sw: swIncorrectP1P2}
	}
	a.counter++
	ctr := binary.BigEndian.AppendUint32(nil, a.counter)
	signed := slices.Concat(app, []byte{flags}, ctr, challenge)
	sig, err := key.sign(a.env.rand, signed)
	if err != nil {
		return response{sw: swUnknownError}
	}
	return response{data: slices.Concat([]byte{flags}, ctr, sig), sw: swOK}
}

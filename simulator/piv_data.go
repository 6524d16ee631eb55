package simulator

import (
	"errors"
)

// BER-TLV as PIV uses it (SP 800-73-4 Part 2 §3, ISO 7816-4 §5.2.2): tags
// of one to three bytes, definite lengths in one to four bytes. The
// encoder always writes minimal DER lengths, which piv-go's encoding/asn1
// parsing insists on.

var errPIVTLV = errors.New("simulator: piv: malformed TLV")

// pivTLV encodes tag and the concatenation of values.
func pivTLV(tag uint32, values ...[]byte) []byte {
	n := 0
	for _, v := range values {
		n += len(v)
	}
	out := make([]byte, 0, n+8)
	switch {
	case tag > 0xFFFF:
		out = append(out, byte(tag>>16), byte(tag>>8), byte(tag))
	case tag > 0xFF:
		out = append(out, byte(tag>>8), byte(tag))
	default:
		out = append(out, byte(tag))
	}
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	case n <= 0xFF:
		out = append(out, 0x81, byte(n))
	case n <= 0xFFFF:
		out = append(out, 0x82, byte(n>>8), byte(n))
	default:
		out = append(out, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	for _, v := range values {
		out = append(out, v...)
	}
	return out
}

// pivReadTLV splits the first TLV off b.
func pivReadTLV(b []byte) (tag uint32, value, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, errPIVTLV
	}
	tag = uint32(b[0])
	i := 1
	if b[0]&0x1F == 0x1F { // multi-byte tag: continue while bit 8 is set
		for {
			if i >= len(b) || i > 3 {
				return 0, nil, nil, errPIVTLV
			}
			tag = tag<<8 | uint32(b[i])
			i++
			if b[i-1]&0x80 == 0 {
				break
			}
		}
	}
	if i >= len(b) {
		return 0, nil, nil, errPIVTLV
	}
	l := int(b[i])
	i++
	if l >= 0x80 {
		nb := l & 0x7F
		if nb == 0 || nb > 3 || i+nb > len(b) {
			return 0, nil, nil, errPIVTLV
		}
		l = 0
		for _, c := range b[i : i+nb] {
			l = l<<8 | int(c)
		}
		i += nb
	}
	if l > len(b)-i {
		return 0, nil, nil, errPIVTLV
	}
	return tag, b[i : i+l], b[i+l:], nil
}

// pivParseTLVs splits b into a sequence of TLVs and indexes them by tag.
// A repeated tag or trailing garbage is an error.
func pivParseTLVs(b []byte) (map[uint32][]byte, error) {
	m := map[uint32][]byte{}
	for len(b) > 0 {
		tag, v, rest, err := pivReadTLV(b)
		if err != nil {
			return nil, err
		}
		if _, dup := m[tag]; dup {
			return nil, errPIVTLV
		}
		m[tag] = v
		b = rest
	}
	return m, nil
}

// pivReadOnly reads exactly one TLV with the given tag and nothing after.
func pivReadOnly(b []byte, want uint32) ([]byte, error) {
	tag, v, rest, err := pivReadTLV(b)
	if err != nil {
		return nil, err
	}
	if tag != want || len(rest) != 0 {
		return nil, errPIVTLV
	}
	return v, nil
}

// pivReadTemplate reads exactly one TLV with the given tag (a template
// such as 7C or AC) and parses the TLVs inside it.
func pivReadTemplate(b []byte, want uint32) (map[uint32][]byte, error) {
	v, err := pivReadOnly(b, want)
	if err != nil {
		return nil, err
	}
	return pivParseTLVs(v)
}

// Data objects (SP 800-73-4 Part 1 §3 Table 3, Yubico's 5FFFxx).
const (
	pivObjDiscovery   = 0x7E
	pivObjFingerprint = 0x5FC103
	pivObjFacial      = 0x5FC108
	pivObjPrinted     = 0x5FC109
	pivObjIris        = 0x5FC121
	pivObjAttestation = 0x5FFF01

	// pivMaxObject is the largest object a YubiKey 5 stores (ykpiv
	// CB_OBJ_MAX), pivMaxStorage roughly its PIV storage.
	pivMaxObject  = 3063
	pivMaxStorage = 51200
)

// pivObjectWritable reports whether tag names a data object the host may
// store. A YubiKey takes any three-byte tag 5F0000–5FFFFF, not only the
// PIV objects 5FC101–5FC123 and Yubico's 5FFF00–5FFFFF: "Yubico writable
// PIV objects are available in the range 5f0000 - 5fffff" (ykman piv
// objects import --help,
// https://github.com/Yubico/yubikey-manager/blob/main/ykman/_cli/piv.py).
func pivObjectWritable(tag uint32) bool {
	return tag >= 0x5F0000 && tag <= 0x5FFFFF
}

// pivObjectNeedsPIN reports whether reading tag needs the PIN (SP 800-73-4
// Part 1 Table 2: biometrics and printed information).
func pivObjectNeedsPIN(tag uint32) bool {
	switch tag {
	case pivObjFingerprint, pivObjFacial, pivObjPrinted, pivObjIris:
		return true
	}
	return false
}

// pivDiscovery is the Discovery Object (SP 800-73-4 Part 1 §3.3.2): the
// AID and the PIN usage policy (application PIN only).
func pivDiscovery() []byte {
	return pivTLV(pivObjDiscovery, pivTLV(0x4F, pivAID), pivTLV(0x5F2F, []byte{0x40, 0x00}))
}

// parseObjectTag reads the tag list 5C of GET DATA / PUT DATA.
func pivObjectTag(b []byte) (tag uint32, rest []byte, ok bool) {
	t, v, rest, err := pivReadTLV(b)
	if err != nil || t != 0x5C || len(v) == 0 || len(v) > 3 {
		return 0, nil, false
	}
	for _, c := range v {
		tag = tag<<8 | uint32(c)
	}
	return tag, rest, true
}

// getData is GET DATA (SP 800-73-4 Part 2 §3.1.2): P1P2 3FFF, data 5C tag.
// Stored objects come back as 53 { content }; absent ones as 6A82.
func (a *pivApplet) getData(cmd command) response {
	if cmd.p1 != 0x3F || cmd.p2 != 0xFF {
		return pivSW(swIncorrectP1P2)
	}
	tag, rest, ok := pivObjectTag(cmd.data)
	if !ok || len(rest) != 0 {
		return pivSW(swIncorrectData)
	}
	if tag == pivObjDiscovery {
		return response{data: pivDiscovery(), sw: swOK}
	}
	if pivObjectNeedsPIN(tag) && !a.pinVerified {
		return pivSW(swSecurityStatus)
	}
	content, ok := a.objects[tag]
	if !ok {
		return pivSW(swFileNotFound)
	}
	return response{data: pivTLV(0x53, content), sw: swOK}
}

// putData is PUT DATA (SP 800-73-4 Part 2 §3.3.2): 5C tag then 53 content,
// after management-key authentication. An empty 53 deletes the object, as
// on a YubiKey.
func (a *pivApplet) putData(cmd command) response {
	if cmd.p1 != 0x3F || cmd.p2 != 0xFF {
		return pivSW(swIncorrectP1P2)
	}
	if !a.mgmtAuthed {
		return pivSW(swSecurityStatus)
	}
	tag, rest, ok := pivObjectTag(cmd.data)
	if !ok || !pivObjectWritable(tag) {
		return pivSW(swIncorrectData)
	}
	content, err := pivReadOnly(rest, 0x53)
	if err != nil {
		return pivSW(swIncorrectData)
	}
	if len(content) == 0 {
		delete(a.objects, tag)
		return pivSW(swOK)
	}
	if len(content) > pivMaxObject {
		return pivSW(pivSwNotEnoughMemory)
	}
	used := len(content)
	for t, o := range a.objects {
		if t != tag {
			used += len(o)
		}
	}
	if used > pivMaxStorage {
		return pivSW(pivSwNotEnoughMemory)
	}
	a.objects[tag] = append([]byte(nil), content...)
	if tag == pivObjAttestation {
		a.attestationReady = true
	}
	return pivSW(swOK)
}

// metadata is Yubico's GET METADATA (INS F7, firmware 5.3+; TLVs per
// https://docs.yubico.com/yesdk/users-manual/application-piv/apdu/metadata.html):
// 01 algorithm, 02 PIN and touch policy, 03 origin, 04 public key,
// 05 default value, 06 retries (total, left).
func (a *pivApplet) metadata(cmd command) response {
	if cmd.p1 != 0x00 {
		return pivSW(swIncorrectP1P2)
	}
	if !a.fwAtLeast(5, 3, 0) {
		return pivSW(swInsNotSupported)
	}
	switch cmd.p2 {
	case pivRefPIN, pivRefPUK:
		cred, def := &a.pin, pivDefaultPIN
		if cmd.p2 == pivRefPUK {
			cred, def = &a.puk, pivDefaultPUK
		}
		return response{sw: swOK, data: pivConcat(
			pivTLV(0x01, []byte{pivAlgPIN}),
			pivTLV(0x05, pivBool(cred.isDefault(def))),
			pivTLV(0x06, []byte{byte(cred.maxRetries), byte(max(cred.retries, 0))}),
		)}
	case pivSlotMgmt:
		touch := byte(pivTouchNever)
		if a.mgmt.touch {
			touch = pivTouchAlways
		}
		return response{sw: swOK, data: pivConcat(
			pivTLV(0x01, []byte{a.mgmt.alg}),
			pivTLV(0x02, []byte{pivPINPolicyDefault, touch}),
			pivTLV(0x05, pivBool(a.mgmtIsDefault())),
		)}
	}
	if !pivKeySlot(cmd.p2) && cmd.p2 != pivSlotAttestation {
		return pivSW(swRefNotFound)
	}
	k, ok := a.keys[cmd.p2]
	if !ok {
		return pivSW(swRefNotFound)
	}
	pub, err := k.publicTLVs()
	if err != nil {
		return pivSW(swUnknownError)
	}
	return response{sw: swOK, data: pivConcat(
		pivTLV(0x01, []byte{k.alg}),
		pivTLV(0x02, []byte{k.pinPolicy, k.touchPolicy}),
		pivTLV(0x03, []byte{k.origin}),
		pivTLV(0x04, pub),
	)}
}

func pivConcat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func pivBool(b bool) []byte {
	if b {
		return []byte{0x01}
	}
	return []byte{0x00}
}

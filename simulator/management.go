package simulator

import "encoding/binary"

// managementAID is the YubiKey Management application.
var managementAID = []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17}

const insReadConfig byte = 0x1D

// READ CONFIG tags (yubikit management.py TAG).
const (
	tagUSBSupported byte = 0x01
	tagSerial       byte = 0x02
	tagUSBEnabled   byte = 0x03
	tagFormFactor   byte = 0x04
	tagVersion      byte = 0x05
	tagNFCSupported byte = 0x0D
	tagNFCEnabled   byte = 0x0E
)

// Form factor flag bits above the form factor code.
const (
	formFactorFIPS byte = 0x80
	formFactorSKY  byte = 0x40
)

// managementApplet answers the version (in the SELECT response) and READ
// CONFIG, which is what ykman's read_info needs over CCID.
type managementApplet struct {
	env *env
}

func newManagementApplet(e *env) *managementApplet { return &managementApplet{env: e} }

func (a *managementApplet) aid() []byte { return managementAID }

func (a *managementApplet) selectApplet() response {
	return response{data: []byte("Virtual YubiKey - " + a.env.firmware.String()), sw: swOK}
}

func (a *managementApplet) handle(cmd command) response {
	if cmd.ins != insReadConfig {
		return response{sw: swInsNotSupported}
	}
	if cmd.p1 != 0 {
		// ykman ≥ 5.6 pages with P1; everything fits on page 0, so
		// further pages are empty.
		return response{data: []byte{0}, sw: swOK}
	}
	return response{data: a.deviceInfo(), sw: swOK}
}

func (a *managementApplet) powerOff() {}

// deviceInfo is READ CONFIG's answer: one length byte, then TLVs in tag
// order 01, 02, 03, 04, 05, 0D, 0E (docs/simulator.md §Management applet). Enabled equals
// supported, as on a key fresh from the factory; applications the
// simulator does not host (OTP, OATH, OpenPGP) answer SELECT with 6A82.
func (a *managementApplet) deviceInfo() []byte {
	mi, _ := a.env.model.info()
	var tlv []byte
	add := func(tag byte, v []byte) {
		tlv = append(tlv, tag, byte(len(v)))
		tlv = append(tlv, v...)
	}
	add(tagUSBSupported, binary.BigEndian.AppendUint16(nil, mi.usbCaps))
	add(tagSerial, binary.BigEndian.AppendUint32(nil, a.env.serial))
	add(tagUSBEnabled, binary.BigEndian.AppendUint16(nil, mi.usbCaps))
	ff := byte(mi.formFactor)
	if mi.fips {
		ff |= formFactorFIPS
	}
	if mi.usbCaps == capsSecurity {
		ff |= formFactorSKY
	}
	add(tagFormFactor, []byte{ff})
	add(tagVersion, []byte{a.env.firmware.Major, a.env.firmware.Minor, a.env.firmware.Patch})
	if mi.nfcCaps != 0 {
		add(tagNFCSupported, binary.BigEndian.AppendUint16(nil, mi.nfcCaps))
		add(tagNFCEnabled, binary.BigEndian.AppendUint16(nil, mi.nfcCaps))
	}
	return append([]byte{byte(len(tlv))}, tlv...)
}

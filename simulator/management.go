package simulator

import (
	"crypto/subtle"
	"encoding/binary"
	"fmt"
)

// managementAID is the YubiKey Management application.
var managementAID = []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17}

// Management instructions (yubikit management.py INS_*).
const (
	insWriteConfig byte = 0x1C
	insReadConfig  byte = 0x1D
)

// READ CONFIG / WRITE CONFIG tags (yubikit management.py TAG_*,
// https://github.com/Yubico/yubikey-manager/blob/main/yubikit/management.py).
const (
	tagUSBSupported byte = 0x01
	tagSerial       byte = 0x02
	tagUSBEnabled   byte = 0x03
	tagFormFactor   byte = 0x04
	tagVersion      byte = 0x05
	tagAutoEject    byte = 0x06
	tagChalResp     byte = 0x07
	tagDeviceFlags  byte = 0x08
	tagConfigLock   byte = 0x0A
	tagUnlock       byte = 0x0B
	tagReboot       byte = 0x0C
	tagNFCSupported byte = 0x0D
	tagNFCEnabled   byte = 0x0E
)

// lockCodeLen is the length of the configuration lock code; sixteen zero
// bytes as the new code clear it (ykman CLEAR_LOCK_CODE).
const lockCodeLen = 16

// Form factor flag bits above the form factor code.
const (
	formFactorFIPS byte = 0x80
	formFactorSKY  byte = 0x40
)

// deviceConfig is the part of the management state WRITE CONFIG changes.
// It is persistent: power cycles keep it.
type deviceConfig struct {
	usbEnabled, nfcEnabled Capability
	autoEject              uint16 // CCID auto-eject timeout, seconds
	chalResp               byte   // OTP challenge-response timeout, seconds
	flags                  byte   // device flags (yubikit DEVICE_FLAG)
	lockCode               []byte // nil when the configuration is not locked
}

// managementApplet answers the version (in the SELECT response), READ
// CONFIG, which is what ykman's read_info needs over CCID, and WRITE
// CONFIG, which "ykman config usb/nfc" and "ykman config set-lock-code"
// send.
type managementApplet struct {
	env    *env
	cfg    deviceConfig
	reboot bool // the last WRITE CONFIG asked for a reboot
}

func newManagementApplet(e *env) *managementApplet {
	mi, _ := e.model.info()
	// Enabled equals supported, as on a key fresh from the factory.
	return &managementApplet{env: e, cfg: deviceConfig{usbEnabled: mi.usbCaps, nfcEnabled: mi.nfcCaps}}
}

func (a *managementApplet) aid() []byte { return managementAID }

func (a *managementApplet) capability() Capability { return 0 }

func (a *managementApplet) selectApplet() response {
	return response{data: []byte("Virtual YubiKey - " + a.env.firmware.String()), sw: swOK}
}

func (a *managementApplet) handle(cmd command) response {
	switch cmd.ins {
	case insReadConfig:
		if cmd.p1 != 0 {
			// ykman ≥ 5.6 pages with P1; everything fits on page 0, so
			// further pages are empty.
			return response{data: []byte{0}, sw: swOK}
		}
		return response{data: a.deviceInfo(), sw: swOK}
	case insWriteConfig:
		return response{sw: a.writeConfig(cmd)}
	}
	return response{sw: swInsNotSupported}
}

func (a *managementApplet) powerOff() {}

// Format prints the applet without its lock code, under every verb.
func (a *managementApplet) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "managementApplet{usb: %s, nfc: %s, locked: %t}", a.cfg.usbEnabled, a.cfg.nfcEnabled, a.cfg.lockCode != nil)
}

// enabled returns the applications enabled on transport t.
func (a *managementApplet) enabled(t Transport) Capability {
	if t == TransportNFC {
		return a.cfg.nfcEnabled
	}
	return a.cfg.usbEnabled
}

// takeReboot reports whether the last command asked the key to reboot, and
// clears the request.
func (a *managementApplet) takeReboot() bool {
	r := a.reboot
	a.reboot = false
	return r
}

// deviceInfo is READ CONFIG's answer: one length byte, then TLVs in
// ascending tag order (docs/simulator.md §Management applet). Supported is what the simulator hosts (see
// [Capability]); enabled is what WRITE CONFIG left.
func (a *managementApplet) deviceInfo() []byte {
	mi, _ := a.env.model.info()
	var tlv []byte
	add := func(tag byte, v []byte) {
		tlv = append(tlv, tag, byte(len(v)))
		tlv = append(tlv, v...)
	}
	add(tagUSBSupported, binary.BigEndian.AppendUint16(nil, uint16(mi.usbCaps)))
	add(tagSerial, binary.BigEndian.AppendUint32(nil, a.env.serial))
	add(tagUSBEnabled, binary.BigEndian.AppendUint16(nil, uint16(a.cfg.usbEnabled)))
	ff := byte(mi.formFactor)
	if mi.fips {
		ff |= formFactorFIPS
	}
	if mi.usbCaps == capsSecurity {
		ff |= formFactorSKY
	}
	add(tagFormFactor, []byte{ff})
	add(tagVersion, []byte{a.env.firmware.Major, a.env.firmware.Minor, a.env.firmware.Patch})
	add(tagAutoEject, binary.BigEndian.AppendUint16(nil, a.cfg.autoEject))
	add(tagChalResp, []byte{a.cfg.chalResp})
	add(tagDeviceFlags, []byte{a.cfg.flags})
	add(tagConfigLock, pivBool(a.cfg.lockCode != nil))
	if mi.nfcCaps != 0 {
		add(tagNFCSupported, binary.BigEndian.AppendUint16(nil, uint16(mi.nfcCaps)))
		add(tagNFCEnabled, binary.BigEndian.AppendUint16(nil, uint16(a.cfg.nfcEnabled)))
	}
	return append([]byte{byte(len(tlv))}, tlv...)
}

// writeConfigTags are the tags WRITE CONFIG takes, with their value
// lengths. NFC restricted (0x17) and the other tags are not simulated and
// refused with 6A80.
var writeConfigTags = map[byte]int{
	tagReboot:      0,
	tagUnlock:      lockCodeLen,
	tagUSBEnabled:  2,
	tagNFCEnabled:  2,
	tagAutoEject:   2,
	tagChalResp:    1,
	tagDeviceFlags: 1,
	tagConfigLock:  lockCodeLen,
}

// writeConfig is WRITE CONFIG (INS 1C): one length byte, then TLVs in the
// layout yubikit's DeviceConfig.get_bytes writes. Every field is checked
// before anything changes, so a refused command changes nothing:
//   - malformed data, an unknown or repeated tag, a wrong value length, an
//     application the key does not support on that transport, NFC
//     settings on a key without NFC, or no application left over USB:
//     6A80;
//   - a locked configuration without the right current lock code (tag
//     0B): 6982.
//
// Changes take effect at once; with tag 0C the key also reboots after
// answering (see [Key.Transmit]), as after a power cycle.
func (a *managementApplet) writeConfig(cmd command) uint16 {
	if cmd.p1 != 0 || cmd.p2 != 0 {
		return swIncorrectP1P2
	}
	d := cmd.data
	if len(d) == 0 || int(d[0]) != len(d)-1 {
		return swIncorrectData
	}
	fields := map[byte][]byte{}
	for b := d[1:]; len(b) > 0; {
		if len(b) < 2 || int(b[1]) > len(b)-2 {
			return swIncorrectData
		}
		tag, v := b[0], b[2:2+int(b[1])]
		want, known := writeConfigTags[tag]
		if _, dup := fields[tag]; !known || dup || len(v) != want {
			return swIncorrectData
		}
		fields[tag] = v
		b = b[2+len(v):]
	}

	mi, _ := a.env.model.info()
	next := a.cfg
	if v, ok := fields[tagUSBEnabled]; ok {
		next.usbEnabled = Capability(binary.BigEndian.Uint16(v))
		if next.usbEnabled&^mi.usbCaps != 0 || next.usbEnabled == 0 {
			return swIncorrectData
		}
	}
	if v, ok := fields[tagNFCEnabled]; ok {
		next.nfcEnabled = Capability(binary.BigEndian.Uint16(v))
		if mi.nfcCaps == 0 || next.nfcEnabled&^mi.nfcCaps != 0 {
			return swIncorrectData
		}
	}
	if v, ok := fields[tagAutoEject]; ok {
		next.autoEject = binary.BigEndian.Uint16(v)
	}
	if v, ok := fields[tagChalResp]; ok {
		next.chalResp = v[0]
	}
	if v, ok := fields[tagDeviceFlags]; ok {
		next.flags = v[0]
	}
	if a.cfg.lockCode != nil {
		unlock, ok := fields[tagUnlock]
		if !ok || subtle.ConstantTimeCompare(unlock, a.cfg.lockCode) != 1 {
			return swSecurityStatus
		}
	}
	if v, ok := fields[tagConfigLock]; ok {
		next.lockCode = nil
		if subtle.ConstantTimeCompare(v, make([]byte, lockCodeLen)) != 1 {
			next.lockCode = append([]byte(nil), v...)
		}
		clear(a.cfg.lockCode)
	}
	a.cfg = next
	_, a.reboot = fields[tagReboot]
	return swOK
}

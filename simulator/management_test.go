package simulator

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	apduSelectMgmt = "00A4040008A000000527471117"
	apduSelectPIV  = "00A4040005A000000308"
	apduSelectFIDO = "00A4040008A0000006472F0001"
	apduReadConfig = "001D000000"
)

// writeConfigAPDU builds WRITE CONFIG the way yubikit's
// DeviceConfig.get_bytes does: a length byte, then the TLVs.
func writeConfigAPDU(tlvs ...[]byte) string {
	body := bytes.Join(tlvs, nil)
	data := append([]byte{byte(len(body))}, body...)
	return hex.EncodeToString(append([]byte{0x00, 0x1C, 0x00, 0x00, byte(len(data))}, data...))
}

func cfgTLV(tag byte, v ...byte) []byte { return append([]byte{tag, byte(len(v))}, v...) }

func capsTLV(tag byte, c Capability) []byte {
	return cfgTLV(tag, binary.BigEndian.AppendUint16(nil, uint16(c))...)
}

// readConfigTag returns the value of tag in READ CONFIG, or nil.
func readConfigTag(t *testing.T, k *Key, tag byte) []byte {
	t.Helper()
	if sw := transmitHex(t, k, apduSelectMgmt); !strings.HasSuffix(sw, "9000") {
		t.Fatalf("SELECT management: %s", sw)
	}
	resp := mustHex(t, transmitHex(t, k, apduReadConfig))
	if len(resp) < 3 || !bytes.HasSuffix(resp, []byte{0x90, 0x00}) {
		t.Fatalf("READ CONFIG: % X", resp)
	}
	for b := resp[1 : len(resp)-2]; len(b) >= 2; b = b[2+int(b[1]):] {
		if b[0] == tag {
			return b[2 : 2+int(b[1])]
		}
	}
	return nil
}

// writeConfig selects the management applet and sends WRITE CONFIG,
// returning the status word.
func writeConfig(t *testing.T, k *Key, tlvs ...[]byte) string {
	t.Helper()
	transmitHex(t, k, apduSelectMgmt)
	return transmitHex(t, k, writeConfigAPDU(tlvs...))
}

func sw(t *testing.T, k *Key, apdu string) string {
	t.Helper()
	out := transmitHex(t, k, apdu)
	return out[len(out)-4:]
}

// TestWriteConfigDisablesAnApplication disables PIV over USB as
// "ykman config usb --disable PIV" does: SELECT answers 6A82 over USB but
// not over NFC, READ CONFIG and the snapshot show it, a power cycle keeps
// it, and enabling it again brings PIV back.
func TestWriteConfigDisablesAnApplication(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	if got := sw(t, k, apduSelectPIV); got != "9000" {
		t.Fatalf("SELECT PIV on a new key: %s", got)
	}
	// ykman 4.0.9 sends the device flags along.
	if got := writeConfig(t, k, capsTLV(tagUSBEnabled, CapU2F|CapFIDO2), cfgTLV(tagDeviceFlags, 0)); got != "9000" {
		t.Fatalf("WRITE CONFIG: %s", got)
	}
	if got := sw(t, k, apduSelectPIV); got != "6a82" {
		t.Errorf("SELECT PIV disabled over USB: %s, want 6a82", got)
	}
	if got := sw(t, k, apduSelectFIDO); got != "9000" {
		t.Errorf("SELECT FIDO still enabled: %s", got)
	}
	if got := readConfigTag(t, k, tagUSBEnabled); !bytes.Equal(got, []byte{0x02, 0x02}) {
		t.Errorf("READ CONFIG USB enabled = % X, want 02 02", got)
	}
	if got := readConfigTag(t, k, tagUSBSupported); !bytes.Equal(got, []byte{0x02, 0x12}) {
		t.Errorf("READ CONFIG USB supported = % X, want 02 12 (unchanged)", got)
	}
	k.PowerCycle()
	if got := sw(t, k, apduSelectPIV); got != "6a82" {
		t.Errorf("SELECT PIV after a power cycle: %s, want 6a82 (the setting persists)", got)
	}
	st := k.Snapshot()
	want := State{Transport: TransportUSB, USBEnabled: CapU2F | CapFIDO2, NFCEnabled: CapU2F | CapPIV | CapFIDO2}
	got := State{Transport: st.Transport, USBEnabled: st.USBEnabled, NFCEnabled: st.NFCEnabled, ConfigLocked: st.ConfigLocked}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Snapshot (-want +got):\n%s", diff)
	}

	// Over NFC PIV is still enabled.
	if err := k.SetTransport(TransportNFC); err != nil {
		t.Fatal(err)
	}
	if got := sw(t, k, apduSelectPIV); got != "9000" {
		t.Errorf("SELECT PIV over NFC: %s, want 9000", got)
	}
	if err := k.SetTransport(TransportUSB); err != nil {
		t.Fatal(err)
	}
	if got := writeConfig(t, k, capsTLV(tagUSBEnabled, CapU2F|CapPIV|CapFIDO2)); got != "9000" {
		t.Fatalf("WRITE CONFIG enable: %s", got)
	}
	if got := sw(t, k, apduSelectPIV); got != "9000" {
		t.Errorf("SELECT PIV enabled again: %s", got)
	}
}

// TestWriteConfigFIDO checks that FIDO2 and U2F are switched apart: the
// FIDO AID answers while either is enabled, each refuses its own commands
// when disabled, and Key.CTAP (USB HID) follows FIDO2 over USB.
func TestWriteConfigFIDO(t *testing.T) {
	t.Parallel()
	const (
		u2fVersion = "0003000000"
		getInfo    = "80108000010400"
	)
	k := newTestKey(t)
	if got := writeConfig(t, k, capsTLV(tagUSBEnabled, CapU2F|CapPIV)); got != "9000" {
		t.Fatalf("WRITE CONFIG: %s", got)
	}
	if got := sw(t, k, apduSelectFIDO); got != "9000" {
		t.Fatalf("SELECT FIDO with U2F enabled: %s", got)
	}
	if got := sw(t, k, getInfo); got != "6d00" {
		t.Errorf("NFCCTAP getInfo with FIDO2 disabled: %s, want 6d00", got)
	}
	if got := transmitHex(t, k, u2fVersion); got != hex.EncodeToString([]byte("U2F_V2"))+"9000" {
		t.Errorf("U2F VERSION: %s", got)
	}
	if resp, err := k.CTAP([]byte{cmdGetInfo}); err != nil || !bytes.Equal(resp, []byte{ctapInvalidCommand}) {
		t.Errorf("CTAP getInfo with FIDO2 disabled over USB = % X, %v; want 01", resp, err)
	}

	if got := writeConfig(t, k, capsTLV(tagUSBEnabled, CapFIDO2|CapPIV)); got != "9000" {
		t.Fatalf("WRITE CONFIG: %s", got)
	}
	sw(t, k, apduSelectFIDO)
	if got := sw(t, k, u2fVersion); got != "6d00" {
		t.Errorf("U2F VERSION with U2F disabled: %s, want 6d00", got)
	}
	if got := sw(t, k, getInfo); got != "9000" && !strings.HasPrefix(got, "61") {
		t.Errorf("NFCCTAP getInfo with FIDO2 enabled: %s, want 9000 or 61xx", got)
	}

	if got := writeConfig(t, k, capsTLV(tagUSBEnabled, CapPIV)); got != "9000" {
		t.Fatalf("WRITE CONFIG: %s", got)
	}
	if got := sw(t, k, apduSelectFIDO); got != "6a82" {
		t.Errorf("SELECT FIDO with U2F and FIDO2 disabled: %s, want 6a82", got)
	}
	if _, _, err := NewPlatform(k).PINRetries(t.Context()); err == nil {
		t.Error("Platform reached a FIDO application disabled over USB")
	}
}

// TestWriteConfigRefused checks that every malformed or unsupported WRITE
// CONFIG is refused and changes nothing.
func TestWriteConfigRefused(t *testing.T) {
	t.Parallel()
	const oath, otp Capability = 0x20, 0x01
	tests := []struct {
		name  string
		model Model
		apdu  string
		want  string
	}{
		{"OATH is not hosted", YubiKey5NFC, writeConfigAPDU(capsTLV(tagUSBEnabled, CapPIV|oath)), "6a80"},
		{"OTP is not hosted", YubiKey5NFC, writeConfigAPDU(capsTLV(tagNFCEnabled, otp)), "6a80"},
		{"nothing left over USB", YubiKey5NFC, writeConfigAPDU(capsTLV(tagUSBEnabled, 0)), "6a80"},
		{"NFC on a key without NFC", YubiKey5C, writeConfigAPDU(capsTLV(tagNFCEnabled, CapPIV)), "6a80"},
		{"PIV on a Security Key", SecurityKeyNFC, writeConfigAPDU(capsTLV(tagUSBEnabled, CapPIV|CapFIDO2)), "6a80"},
		{"NFC restricted is not simulated", YubiKey5NFC, writeConfigAPDU(cfgTLV(0x17, 1)), "6a80"},
		{"unknown tag", YubiKey5NFC, writeConfigAPDU(cfgTLV(0x42, 1)), "6a80"},
		{"repeated tag", YubiKey5NFC, writeConfigAPDU(capsTLV(tagUSBEnabled, CapPIV), capsTLV(tagUSBEnabled, CapFIDO2)), "6a80"},
		{"short value", YubiKey5NFC, writeConfigAPDU(cfgTLV(tagUSBEnabled, 0x10)), "6a80"},
		{"short lock code", YubiKey5NFC, writeConfigAPDU(cfgTLV(tagConfigLock, 1, 2, 3)), "6a80"},
		{"truncated TLV", YubiKey5NFC, "001C000004030302" + "00", "6a80"},
		{"length byte disagrees", YubiKey5NFC, "001C0000050503020210", "6a80"},
		{"no data", YubiKey5NFC, "001C0000", "6a80"},
		{"P1", YubiKey5NFC, "001C0100" + writeConfigAPDU(capsTLV(tagUSBEnabled, CapPIV))[8:], "6a86"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := newTestKey(t, WithModel(tt.model))
			before := k.Snapshot()
			transmitHex(t, k, apduSelectMgmt)
			if got := sw(t, k, tt.apdu); got != tt.want {
				t.Errorf("WRITE CONFIG %s: %s, want %s", tt.apdu, got, tt.want)
			}
			if diff := cmp.Diff(before, k.Snapshot()); diff != "" {
				t.Errorf("a refused WRITE CONFIG changed the state (-before +after):\n%s", diff)
			}
		})
	}
}

// TestWriteConfigLockCode sets, uses, changes and clears the
// configuration lock code as "ykman config set-lock-code" and
// "ykman config usb --lock-code" do.
func TestWriteConfigLockCode(t *testing.T) {
	t.Parallel()
	k := newTestKey(t, WithTranscript())
	code := bytes.Repeat([]byte{0xA5}, lockCodeLen)
	other := bytes.Repeat([]byte{0x5A}, lockCodeLen)
	if got := writeConfig(t, k, cfgTLV(tagConfigLock, code...)); got != "9000" {
		t.Fatalf("set lock code: %s", got)
	}
	if got := readConfigTag(t, k, tagConfigLock); !bytes.Equal(got, []byte{1}) {
		t.Errorf("READ CONFIG lock = % X, want 01", got)
	}
	disablePIV := capsTLV(tagUSBEnabled, CapU2F|CapFIDO2)
	steps := []struct {
		name string
		tlvs [][]byte
		want string
	}{
		{"no lock code", [][]byte{disablePIV}, "6982"},
		{"wrong lock code", [][]byte{cfgTLV(tagUnlock, other...), disablePIV}, "6982"},
		{"right lock code", [][]byte{cfgTLV(tagUnlock, code...), disablePIV}, "9000"},
		{"change it without the old one", [][]byte{cfgTLV(tagConfigLock, other...)}, "6982"},
		{"change it", [][]byte{cfgTLV(tagUnlock, code...), cfgTLV(tagConfigLock, other...)}, "9000"},
		{"the old one no longer works", [][]byte{cfgTLV(tagUnlock, code...), capsTLV(tagUSBEnabled, CapU2F|CapPIV|CapFIDO2)}, "6982"},
		{"clear it", [][]byte{cfgTLV(tagUnlock, other...), cfgTLV(tagConfigLock, make([]byte, lockCodeLen)...)}, "9000"},
		{"unlocked", [][]byte{capsTLV(tagUSBEnabled, CapU2F|CapPIV|CapFIDO2)}, "9000"},
	}
	for _, s := range steps {
		if got := writeConfig(t, k, s.tlvs...); got != s.want {
			t.Errorf("%s: %s, want %s", s.name, got, s.want)
		}
	}
	if got := readConfigTag(t, k, tagConfigLock); !bytes.Equal(got, []byte{0}) {
		t.Errorf("READ CONFIG lock after clearing = % X, want 00", got)
	}
	if got := k.Snapshot().USBEnabled; got != CapU2F|CapPIV|CapFIDO2 {
		t.Errorf("USB enabled = %s, want all three", got)
	}
	// The lock codes never show in the transcript's String or the
	// applet's formatting.
	var out strings.Builder
	for _, e := range k.Transcript() {
		out.WriteString(e.String())
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		fmt.Fprintf(&out, verb, k.mgmt)
	}
	for _, secret := range [][]byte{code, other} {
		if s := strings.ToLower(out.String()); strings.Contains(s, hex.EncodeToString(secret)) {
			t.Errorf("a lock code leaks: %s", s)
		}
	}
}

// TestWriteConfigReboot checks the reboot flag: the key answers, then
// restarts as after a power cycle (the selection is forgotten).
func TestWriteConfigReboot(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	before := k.powerOffs()
	if got := writeConfig(t, k, cfgTLV(tagReboot), capsTLV(tagUSBEnabled, CapPIV)); got != "9000" {
		t.Fatalf("WRITE CONFIG with reboot: %s", got)
	}
	if got := k.powerOffs(); got != before+1 {
		t.Errorf("power-offs = %d, want %d (one reboot)", got, before+1)
	}
	if got := sw(t, k, apduReadConfig); got != "6985" {
		t.Errorf("READ CONFIG without SELECT after the reboot: %s, want 6985", got)
	}
	writeConfig(t, k, capsTLV(tagUSBEnabled, CapPIV|CapFIDO2))
	if got := k.powerOffs(); got != before+1 {
		t.Errorf("power-offs = %d after a WRITE CONFIG without reboot, want %d", got, before+1)
	}
}

func TestTransport(t *testing.T) {
	t.Parallel()
	if _, err := New(WithModel(YubiKey5C), WithTransport(TransportNFC)); err == nil {
		t.Error("New accepted NFC for a YubiKey 5C")
	}
	if _, err := New(WithTransport(Transport(9))); err == nil {
		t.Error("New accepted transport 9")
	}
	k := newTestKey(t, WithModel(YubiKey5C))
	if err := k.SetTransport(TransportNFC); err == nil {
		t.Error("SetTransport(NFC) succeeded on a YubiKey 5C")
	}
	k = newTestKey(t, WithTransport(TransportNFC))
	if got := k.Transport(); got != TransportNFC {
		t.Errorf("Transport() = %s, want NFC", got)
	}
	if got, want := (CapU2F | CapPIV | CapFIDO2 | 0x8000).String(), "U2F|PIV|FIDO2|0x8000"; got != want {
		t.Errorf("Capability.String() = %q, want %q", got, want)
	}
}

// FuzzWriteConfig sends arbitrary WRITE CONFIG data: the applet never
// panics, answers 9000, 6A80 or 6982, changes nothing when it refuses,
// and always leaves at least one application enabled over USB.
func FuzzWriteConfig(f *testing.F) {
	f.Add(mustHexF(writeConfigAPDU(capsTLV(tagUSBEnabled, CapPIV|CapFIDO2), cfgTLV(tagDeviceFlags, 0))[10:]))
	f.Add(mustHexF(writeConfigAPDU(cfgTLV(tagReboot), capsTLV(tagNFCEnabled, 0))[10:]))
	f.Add(mustHexF(writeConfigAPDU(cfgTLV(tagConfigLock, bytes.Repeat([]byte{7}, lockCodeLen)...))[10:]))
	f.Add([]byte{0x02, 0x0C, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 255 {
			return
		}
		k := newTestKey(t)
		before := k.Snapshot()
		transmitHex(t, k, apduSelectMgmt)
		apdu := append([]byte{0x00, 0x1C, 0x00, 0x00, byte(len(data))}, data...)
		if len(data) == 0 {
			apdu = apdu[:4]
		}
		resp, err := k.Transmit(apdu)
		if err != nil {
			t.Fatal(err)
		}
		after := k.Snapshot()
		switch got := hex.EncodeToString(resp); got {
		case "9000":
			if after.USBEnabled == 0 || after.USBEnabled&^before.USBEnabled != 0 {
				t.Errorf("USB enabled %s after accepting % X", after.USBEnabled, data)
			}
		case "6a80", "6982", "6700":
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("refused % X (%s) but the state changed:\n%s", data, got, diff)
			}
		default:
			t.Errorf("WRITE CONFIG % X answered %s", data, got)
		}
	})
}

func mustHexF(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

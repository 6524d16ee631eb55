package simulator

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/internal/simtest"
)

// mustDo returns f(arg), failing the test when f fails.
func mustDo[A, R any](t testing.TB, f func(A) (R, error), arg A) R {
	t.Helper()
	r, err := f(arg)
	if err != nil {
		t.Fatalf("%v: %v", arg, err)
	}
	return r
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	return mustDo(t, hex.DecodeString, s)
}

// testDay is when the internal tests' certificates are made and checked.
var testDay = time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)

func newTestKey(t testing.TB, opts ...Option) *Key {
	t.Helper()
	k, err := New(append([]Option{WithSerial(12345678), WithRand(simtest.Rand(1))}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return k
}

func transmitHex(t testing.TB, k *Key, apdu string) string {
	t.Helper()
	resp, err := k.Transmit(mustHex(t, apdu))
	if err != nil {
		t.Fatalf("Transmit(%s): %v", apdu, err)
	}
	return hex.EncodeToString(resp)
}

func TestParseAPDU(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		apdu string
		want command
		sw   uint16
	}{
		{"case 1", "00200080", command{ins: 0x20, p2: 0x80}, 0},
		{"case 2S", "00FD000003", command{ins: 0xFD, ne: 3}, 0},
		{"case 2S Le 0", "00FD000000", command{ins: 0xFD, ne: 256}, 0},
		{"case 3S", "00A4040005A000000308", command{ins: 0xA4, p1: 4, data: mustHex(t, "A000000308")}, 0},
		{"case 4S", "80108000010400", command{cla: 0x80, ins: 0x10, p1: 0x80, data: []byte{4}, ne: 256}, 0},
		{"case 2E", "001D0000000000", command{ins: 0x1D, ne: 65536, extended: true}, 0},
		{"case 2E Le 3", "00FD0000000003", command{ins: 0xFD, ne: 3, extended: true}, 0},
		{"case 3E", "00CB3FFF0000055C035FFF00", command{ins: 0xCB, p1: 0x3F, p2: 0xFF, data: mustHex(t, "5C035FFF00"), extended: true}, 0},
		{"case 4E", "00CB3FFF0000055C035FFF000100", command{ins: 0xCB, p1: 0x3F, p2: 0xFF, data: mustHex(t, "5C035FFF00"), ne: 256, extended: true}, 0},
		{"case 4E Le 0", "00F70080000000", command{ins: 0xF7, p2: 0x80, ne: 65536, extended: true}, 0},
		{"too short", "00A404", command{}, swWrongLength},
		{"short Lc too long", "00A4040005A0000003", command{}, swWrongLength},
		{"short Lc trailing", "00A4040001A00000", command{}, swWrongLength},
		{"extended Lc 0", "00A40400000000A0", command{}, swWrongLength},
		{"extended truncated", "00A404000000", command{}, swWrongLength},
		{"extended Lc mismatch", "00A404000000FFA0", command{}, swWrongLength},
		{"CLA FF", "FFA40400", command{}, swClaNotSupported},
		{"secure messaging", "0CA40400", command{}, swSecureMessaging},
		{"logical channel", "01A40400", command{}, swLogicalChannel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, sw := parseAPDU(mustHex(t, tt.apdu))
			if sw != tt.sw {
				t.Fatalf("sw = %04X, want %04X", sw, tt.sw)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(command{})); tt.sw == 0 && diff != "" {
				t.Errorf("parseAPDU(%s) mismatch (-want +got):\n%s", tt.apdu, diff)
			}
		})
	}
}

// TestManagementTrace replays ykman's "info" exchange byte for byte: the
// commands ykman sends and the answers its parser expects (docs/simulator.md
// §How real tools talk to it). Supported and enabled (01, 03, 0D, 0E) are U2F|PIV|FIDO2 (0212): the
// applications the simulator hosts; 06, 07, 08 and 0A are the auto-eject
// and challenge-response timeouts, the device flags and the lock state.
func TestManagementTrace(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	steps := []struct{ apdu, want string }{
		{"00A4040008A000000527471117", hex.EncodeToString([]byte("Virtual YubiKey - 5.7.1")) + "9000"},
		{"001D000000", "2b01020212020400bc614e03020212040101050305070106020000070100080100" + "0a0100" + "0d0202120e0202129000"},
		{"00A4040008A0000006472F0001", hex.EncodeToString([]byte("FIDO_2_0")) + "9000"},
		{"00A4040005A000000527", hex.EncodeToString([]byte("Virtual YubiKey - 5.7.1")) + "9000"}, // prefix
		{"00A4040007A0000005272001", "6a82"}, // OTP not hosted
		{"00A4040004A0000005", "6a82"},       // prefix too short
	}
	for _, s := range steps {
		if got := transmitHex(t, k, s.apdu); got != s.want {
			t.Errorf("Transmit(%s) = %s, want %s", s.apdu, got, s.want)
		}
	}
}

func TestManagementModels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		model Model
		want  string
	}{
		{YubiKey5CNFC, "2b01020212020400bc614e03020212040103050305070106020000070100080100" + "0a0100" + "0d0202120e0202129000"},
		{YubiKey5C, "2301020212020400bc614e03020212040103050305070106020000070100080100" + "0a0100" + "9000"},
		{YubiKey5NFCFIPS, "2b01020212020400bc614e03020212040181050305070406020000070100080100" + "0a0100" + "0d0202120e0202129000"},
		{SecurityKeyNFC, "2b01020202020400bc614e03020202040141050305070106020000070100080100" + "0a0100" + "0d0202020e0202029000"},
	}
	for _, tt := range tests {
		t.Run(tt.model.String(), func(t *testing.T) {
			k := newTestKey(t, WithModel(tt.model))
			transmitHex(t, k, "00A4040008A000000527471117")
			if got := transmitHex(t, k, "001D000000"); got != tt.want {
				t.Errorf("READ CONFIG = %s, want %s", got, tt.want)
			}
		})
	}
}

// echoApplet answers INS 01 with its command data and INS 02 with P1*256+P2
// bytes, for testing the card's chaining.
type echoApplet struct{}

func (echoApplet) aid() []byte { return []byte{0xF0, 1, 2, 3, 4, 5} }

func (echoApplet) capability() Capability { return 0 }
func (echoApplet) selectApplet() response { return response{sw: swOK} }
func (echoApplet) powerOff()              {}
func (echoApplet) handle(cmd command) response {
	switch cmd.ins {
	case 1:
		return response{data: cmd.data, sw: swOK}
	case 2:
		n := int(cmd.p1)<<8 | int(cmd.p2)
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i)
		}
		return response{data: b, sw: swOK}
	}
	return response{sw: swInsNotSupported}
}

func TestChaining(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	k.applets = append(k.applets, echoApplet{})
	transmitHex(t, k, "00A4040006F00102030405")

	// Command chaining: two blocks reassembled.
	if got := transmitHex(t, k, "1001000002AABB"); got != "9000" {
		t.Fatalf("first block = %s", got)
	}
	if got := transmitHex(t, k, "0001000002CCDD00"); got != "aabbccdd9000" {
		t.Fatalf("last block = %s", got)
	}
	// A chain interrupted by another INS fails.
	transmitHex(t, k, "1001000001AA")
	if got := transmitHex(t, k, "0002000000"); got != "6883" {
		t.Fatalf("interrupted chain = %s", got)
	}

	// Response chaining: 600 bytes with short Le.
	var all []byte
	resp, _ := k.Transmit(mustHex(t, "0002025800"))
	for {
		data, sw, _ := splitSW(resp)
		all = append(all, data...)
		if sw == swOK {
			break
		}
		if sw&0xFF00 != swMoreDataBase {
			t.Fatalf("sw = %04X", sw)
		}
		le := byte(sw)
		resp, _ = k.Transmit([]byte{0, insGetResponse, 0, 0, le})
	}
	if len(all) != 600 {
		t.Fatalf("got %d bytes, want 600", len(all))
	}
	for i, b := range all {
		if b != byte(i) {
			t.Fatalf("byte %d = %d", i, b)
		}
	}
	// Extended Le gets everything at once.
	resp, _ = k.Transmit(mustHex(t, "00020258000000"))
	if len(resp) != 602 || !bytes.Equal(resp[600:], []byte{0x90, 0}) {
		t.Fatalf("extended response %d bytes", len(resp))
	}
	// GET RESPONSE with nothing pending.
	if got := transmitHex(t, k, "00C0000000"); got != "6985" {
		t.Fatalf("GET RESPONSE = %s", got)
	}
}

func TestRemoveInsert(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	transmitHex(t, k, "00A4040008A000000527471117")
	k.Remove()
	if _, err := k.Transmit(mustHex(t, "001D000000")); !errors.Is(err, ErrNotPresent) {
		t.Fatalf("Transmit while removed: err = %v, want ErrNotPresent", err)
	}
	if _, err := k.CTAP([]byte{4}); !errors.Is(err, ErrNotPresent) {
		t.Fatalf("CTAP while removed: err = %v, want ErrNotPresent", err)
	}
	k.Insert()
	// Selection is lost across the power loss.
	if got := transmitHex(t, k, "001D000000"); got != "6985" {
		t.Fatalf("READ CONFIG without SELECT after insert = %s", got)
	}
	if got, want := hex.EncodeToString(k.ATR()), "3bfd1300008131fe158073c021c057597562694b657940"; got != want {
		t.Errorf("ATR = %s, want %s", got, want)
	}
}

func TestSecurityKeyHasNoPIV(t *testing.T) {
	t.Parallel()
	if got := transmitHex(t, newTestKey(t, WithModel(SecurityKeyNFC)), "00A4040005A000000308"); got != "6a82" {
		t.Errorf("PIV SELECT on a Security Key = %s, want 6a82", got)
	}
	if got := transmitHex(t, newTestKey(t), "00A4040005A000000308"); got == "6a82" {
		t.Error("PIV SELECT on a YubiKey 5 NFC failed")
	}
}

func TestModels(t *testing.T) {
	t.Parallel()
	for _, m := range Models() {
		byID, ok := ModelByProductID(m.ProductID())
		if !ok || byID != m {
			t.Errorf("ModelByProductID(%d) = %v, %v", m.ProductID(), byID, ok)
		}
		byName, ok := ModelByName(m.String())
		if !ok || byName != m {
			t.Errorf("ModelByName(%q) = %v, %v", m.String(), byName, ok)
		}
		if m.AAGUID() == m.YubicoAAGUID() || m.AAGUID().Version() != 5 {
			t.Errorf("%v: simulated AAGUID %v must be a v5 UUID distinct from Yubico's", m, m.AAGUID())
		}
	}
	if m, ok := ModelByName("yubikey-5c-nfc"); !ok || m != YubiKey5CNFC || m.ProductID() != 29 {
		t.Errorf("ModelByName(yubikey-5c-nfc) = %v %v", m, ok)
	}
	if _, ok := ModelByName("YubiKey 6"); ok {
		t.Error("ModelByName(YubiKey 6) found a model")
	}
	if YubiKey5NFC.AAGUID() != YubiKey5CNFC.AAGUID() {
		t.Error("5 NFC and 5C NFC share an AAGUID series but differ")
	}
}

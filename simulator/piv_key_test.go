package simulator

import (
	"bytes"
	"crypto/aes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// These tests drive the PIV applet through Key.Transmit with raw APDU
// bytes, as piv-go sends them over PC/SC (short APDUs, Lc-only VERIFY
// status, CLA 10 chaining, 61xx / GET RESPONSE).

// pivHost is a minimal piv-go-style host over Key.Transmit.
type pivHost struct {
	t *testing.T
	k *Key
}

// tx sends one short APDU, chaining data over 255 bytes and collecting
// 61xx continuations, and returns the data and the final status word.
func (h pivHost) tx(ins, p1, p2 byte, data []byte) ([]byte, uint16) {
	h.t.Helper()
	for len(data) > 0xFF {
		resp := h.raw(append([]byte{0x10, ins, p1, p2, 0xFF}, data[:0xFF]...))
		if sw := pivStatus(resp); sw != swOK {
			return nil, sw
		}
		data = data[0xFF:]
	}
	apdu := []byte{0x00, ins, p1, p2, byte(len(data))}
	resp := h.raw(append(apdu, data...))
	var out []byte
	for {
		sw := pivStatus(resp)
		out = append(out, resp[:len(resp)-2]...)
		if sw&0xFF00 != swMoreDataBase {
			return out, sw
		}
		resp = h.raw([]byte{0x00, 0xC0, 0x00, 0x00, 0x00})
	}
}

func (h pivHost) raw(apdu []byte) []byte {
	h.t.Helper()
	resp, err := h.k.Transmit(apdu)
	if err != nil {
		h.t.Fatalf("Transmit(% X): %v", apdu, err)
	}
	if len(resp) < 2 {
		h.t.Fatalf("Transmit(% X) = % X: no status word", apdu, resp)
	}
	return resp
}

func pivStatus(resp []byte) uint16 {
	return uint16(resp[len(resp)-2])<<8 | uint16(resp[len(resp)-1])
}

func (h pivHost) ok(ins, p1, p2 byte, data []byte) []byte {
	h.t.Helper()
	out, sw := h.tx(ins, p1, p2, data)
	if sw != swOK {
		h.t.Fatalf("INS %02X P1 %02X P2 %02X: SW %04X", ins, p1, p2, sw)
	}
	return out
}

func newPIVHost(t *testing.T) pivHost {
	t.Helper()
	clock := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	k, err := New(
		WithSerial(12345678),
		WithRand(rand.NewChaCha8([32]byte{'k', 'e', 'y'})),
		WithClock(func() time.Time { return clock }),
		WithPIVCA(testPIVCA(t)),
	)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return pivHost{t: t, k: k}
}

func TestPIVThroughKeyTransmit(t *testing.T) {
	t.Parallel()
	h := newPIVHost(t)
	// SELECT by the 5-byte AID prefix, as piv-go and ykman do.
	if got := h.ok(0xA4, 0x04, 0x00, pivAID[:5]); !bytes.Equal(got, pivHex(t, "61114F0600001000010079074F05A000000308")) {
		t.Errorf("SELECT answer % X", got)
	}
	// piv-go's Retries(): VERIFY with Lc 00 and no data.
	if got := pivStatus(h.raw(pivHex(t, "0020008000"))); got != 0x63C3 {
		t.Errorf("VERIFY status: SW %04X, want 63C3", got)
	}
	// OpenSC's case-1 VERIFY.
	if got := pivStatus(h.raw(pivHex(t, "00200080"))); got != 0x63C3 {
		t.Errorf("case-1 VERIFY: SW %04X, want 63C3", got)
	}
	if got := pivStatus(h.raw(pivHex(t, "0020008008303030303030FFFF"))); got != 0x63C2 {
		t.Errorf("wrong PIN: SW %04X, want 63C2", got)
	}
	// ykman's extended APDUs (docs/simulator.md §How real tools talk to it).
	for _, tc := range []struct{ apdu, want string }{
		{"00F70080000000", "0101FF050101060203029000"}, // PIN metadata, case 2E (one wrong PIN above)
		{"00F7009B000000", "01010A02020001050101" + "9000"},
		{"00CB3FFF0000055C035FFF00", "6A82"}, // pivman data, extended Lc, no Le
		{"00CB3FFF035C017E00", "7E124F0BA0000003080000100001005F2F0240009000"},
	} {
		if got := hex.EncodeToString(h.raw(pivHex(t, tc.apdu))); !strings.EqualFold(got, tc.want) {
			t.Errorf("%s → %s, want %s", tc.apdu, got, tc.want)
		}
	}
	h.ok(pivInsVerify, 0, pivRefPIN, pivPad("123456"))

	// Management key, piv-go style: metadata for the type, then mutual auth.
	md := h.ok(pivInsGetMetadata, 0, pivSlotMgmt, nil)
	if md[2] != pivAlgAES192 {
		t.Fatalf("management key type 0x%02X", md[2])
	}
	block, err := aes.NewCipher(pivDefaultMgmtKey)
	if err != nil {
		t.Fatal(err)
	}
	w := h.ok(pivInsAuthenticate, pivAlgAES192, pivSlotMgmt, []byte{0x7C, 0x02, 0x80, 0x00})
	plain := make([]byte, 16)
	block.Decrypt(plain, w[4:])
	challenge := bytes.Repeat([]byte{7}, 16)
	resp := h.ok(pivInsAuthenticate, pivAlgAES192, pivSlotMgmt, pivTLV(0x7C, pivTLV(0x80, plain), pivTLV(0x81, challenge)))
	want := make([]byte, 16)
	block.Encrypt(want, challenge)
	if !bytes.Equal(resp, pivTLV(0x7C, pivTLV(0x82, want))) {
		t.Fatalf("mutual authentication answer % X", resp)
	}

	gen := h.ok(pivInsGenerate, 0, 0x9A, []byte{0xAC, 0x09, 0x80, 0x01, pivAlgP256, 0xAA, 0x01, pivPINPolicyOnce, 0xAB, 0x01, pivTouchNever})
	tmpl, err := pivReadOnly(gen, 0x7F49)
	if err != nil {
		t.Fatal(err)
	}
	pts, err := pivParseTLVs(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pts[0x86])
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("through the card"))
	out := h.ok(pivInsAuthenticate, pivAlgP256, 0x9A, pivTLV(0x7C, []byte{0x82, 0x00}, pivTLV(0x81, digest[:])))
	inner, err := pivReadOnly(out, 0x7C)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := pivReadOnly(inner, 0x82)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		t.Error("signature through Transmit does not verify")
	}

	// A certificate larger than one short APDU: PUT DATA chained, GET DATA
	// and ATTEST answered in 61xx chunks.
	slotCert, err := x509.ParseCertificate(h.ok(pivInsAttest, 0x9A, 0, nil))
	if err != nil {
		t.Fatalf("ATTEST: %v", err)
	}
	large := pivCertObject(append(bytes.Clone(slotCert.Raw), make([]byte, 600)...))
	h.ok(pivInsPutData, 0x3F, 0xFF, append([]byte{0x5C, 0x03, 0x5F, 0xC1, 0x05}, pivTLV(0x53, large)...))
	if got := h.ok(pivInsGetData, 0x3F, 0xFF, []byte{0x5C, 0x03, 0x5F, 0xC1, 0x05}); !bytes.Equal(got, pivTLV(0x53, large)) {
		t.Errorf("GET DATA returned %d bytes, want %d", len(got), len(pivTLV(0x53, large)))
	}

	// A power cycle forgets the PIN: policy "once" wants it again.
	h.k.PowerCycle()
	h.ok(0xA4, 0x04, 0x00, pivAID[:5])
	if _, sw := h.tx(pivInsAuthenticate, pivAlgP256, 0x9A, pivTLV(0x7C, []byte{0x82, 0x00}, pivTLV(0x81, digest[:]))); sw != swSecurityStatus {
		t.Errorf("sign after power cycle: SW %04X, want 6982", sw)
	}
	if got := h.ok(pivInsGetSerial, 0, 0, nil); !bytes.Equal(got, []byte{0x00, 0xBC, 0x61, 0x4E}) {
		t.Errorf("serial % X", got)
	}
}

func pivHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

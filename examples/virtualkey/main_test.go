package main

import (
	"bytes"
	"context"
	"crypto/des"
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// reader plays the vpcd side of one connection (see simulator/vpcd.go).
type reader struct {
	t    *testing.T
	conn net.Conn
}

func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func accept(t *testing.T, ln net.Listener) *reader {
	t.Helper()
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	conn, err := ln.Accept()
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return &reader{t: t, conn: conn}
}

func (r *reader) exchange(msg []byte) []byte {
	r.t.Helper()
	out := binary.BigEndian.AppendUint16(nil, uint16(len(msg)))
	if _, err := r.conn.Write(append(out, msg...)); err != nil {
		r.t.Fatalf("write: %v", err)
	}
	var hdr [2]byte
	if _, err := io.ReadFull(r.conn, hdr[:]); err != nil {
		r.t.Fatalf("read length: %v", err)
	}
	resp := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(r.conn, resp); err != nil {
		r.t.Fatalf("read: %v", err)
	}
	return resp
}

// transmit sends an APDU, collects a long answer with GET RESPONSE (61xx)
// and checks for 9000, returning the data.
func (r *reader) transmit(what string, apdu []byte) []byte {
	r.t.Helper()
	var data []byte
	resp := r.exchange(apdu)
	for len(resp) >= 2 && resp[len(resp)-2] == 0x61 {
		data = append(data, resp[:len(resp)-2]...)
		resp = r.exchange([]byte{0x00, 0xC0, 0x00, 0x00, resp[len(resp)-1]})
	}
	if !bytes.HasSuffix(resp, []byte{0x90, 0x00}) {
		r.t.Fatalf("%s: response % X, want ...9000", what, resp)
	}
	return append(data, resp[:len(resp)-2]...)
}

// start runs the command in the background; stop cancels it and returns
// its exit code and output.
func start(t *testing.T, args ...string) (stop func() (int, string, string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, &stdout, &stderr) }()
	return func() (int, string, string) {
		cancel()
		code := <-done
		return code, stdout.String(), stderr.String()
	}
}

var (
	selectManagement = []byte{0x00, 0xA4, 0x04, 0x00, 0x08, 0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17}
	readConfig       = []byte{0x00, 0x1D, 0x00, 0x00, 0x00}
	selectPIV        = []byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}
	selectFIDO       = []byte{0x00, 0xA4, 0x04, 0x00, 0x08, 0xA0, 0x00, 0x00, 0x06, 0x47, 0x2F, 0x00, 0x01}
)

// tlv finds tag in the READ CONFIG answer (length byte, then TLVs).
func tlv(t *testing.T, cfg []byte, tag byte) []byte {
	t.Helper()
	if len(cfg) == 0 || int(cfg[0]) != len(cfg)-1 {
		t.Fatalf("READ CONFIG % X: bad length byte", cfg)
	}
	for b := cfg[1:]; len(b) >= 2; b = b[2+int(b[1]):] {
		if int(b[1]) > len(b)-2 {
			break
		}
		if b[0] == tag {
			return b[2 : 2+int(b[1])]
		}
	}
	t.Fatalf("READ CONFIG % X: no tag %02X", cfg, tag)
	return nil
}

func TestRunServesKey(t *testing.T) {
	t.Parallel()
	ln := listen(t, "127.0.0.1:0")
	stop := start(t, "-vpcd", ln.Addr().String(), "-serial", "4242", "-model", "yubikey-5c-nfc", "-piv-pin", "654321")
	r := accept(t, ln)

	if atr := r.exchange([]byte{0x04}); len(atr) < 2 || atr[0] != 0x3B {
		t.Errorf("ATR = % X, want one starting 3B", atr)
	}
	r.transmit("SELECT management", selectManagement)
	cfg := r.transmit("READ CONFIG", readConfig)
	if got := binary.BigEndian.Uint32(tlv(t, cfg, 0x02)); got != 4242 {
		t.Errorf("serial = %d, want 4242", got)
	}
	if got := tlv(t, cfg, 0x04); !bytes.Equal(got, []byte{0x03}) {
		t.Errorf("form factor = % X, want 03 (USB-C keychain)", got)
	}

	r.transmit("SELECT PIV", selectPIV)
	verify := func(pin string) []byte {
		return r.exchange(append([]byte{0x00, 0x20, 0x00, 0x80, 0x08}, padPIN(pin)...))
	}
	if resp := verify("123456"); !bytes.Equal(resp, []byte{0x63, 0xC2}) {
		t.Errorf("VERIFY default PIN = % X, want 63C2 (the PIN was changed)", resp)
	}
	if resp := verify("654321"); !bytes.Equal(resp, []byte{0x90, 0x00}) {
		t.Errorf("VERIFY -piv-pin = % X, want 9000", resp)
	}

	code, stdout, stderr := stop()
	if code != 0 {
		t.Errorf("run() = %d, want 0; stderr:\n%s", code, stderr)
	}
	want := "serving YubiKey 5C NFC serial 4242 firmware 5.7.1 to vpcd " + ln.Addr().String()
	if !strings.Contains(stdout, want) || !strings.Contains(stdout, "PIV PIN set") || !strings.Contains(stdout, "stopped") {
		t.Errorf("stdout = %q, want it to contain %q, \"PIV PIN set\" and \"stopped\"", stdout, want)
	}
	if strings.Contains(stdout+stderr, "654321") {
		t.Error("the PIV PIN appears in the output")
	}
}

// TestRunFirmware serves a key with -firmware 5.4.3, as tools written for
// keys before 5.7 expect: the version in SELECT and READ CONFIG, and the
// PIV management key at its 3DES default, which authenticates.
func TestRunFirmware(t *testing.T) {
	t.Parallel()
	ln := listen(t, "127.0.0.1:0")
	stop := start(t, "-vpcd", ln.Addr().String(), "-firmware", "5.4.3")
	r := accept(t, ln)

	if got := string(r.transmit("SELECT management", selectManagement)); got != "Virtual YubiKey - 5.4.3" {
		t.Errorf("SELECT management = %q, want version 5.4.3", got)
	}
	if got := tlv(t, r.transmit("READ CONFIG", readConfig), 0x05); !bytes.Equal(got, []byte{5, 4, 3}) {
		t.Errorf("READ CONFIG version = % X, want 05 04 03", got)
	}
	r.transmit("SELECT PIV", selectPIV)
	// GET METADATA 9B: 01 algorithm 03 (3DES), 05 default.
	if got, want := r.transmit("GET METADATA 9B", []byte{0x00, 0xF7, 0x00, 0x9B, 0x00}), []byte{0x01, 0x01, 0x03, 0x02, 0x02, 0x00, 0x01, 0x05, 0x01, 0x01}; !bytes.Equal(got, want) {
		t.Errorf("GET METADATA 9B = % X, want % X (3DES, default)", got, want)
	}
	// Card authentication with the default key under 3DES
	// (SP 800-73-4 Part 2 Appendix A.1): 81 00 → 81 challenge; 82 E(challenge).
	resp := r.transmit("GENERAL AUTHENTICATE challenge", []byte{0x00, 0x87, 0x03, 0x9B, 0x04, 0x7C, 0x02, 0x81, 0x00})
	if len(resp) != 12 || resp[2] != 0x81 || resp[3] != 8 {
		t.Fatalf("challenge = % X, want 7C 0A 81 08 <8 bytes>", resp)
	}
	block, err := des.NewTripleDESCipher(bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 3))
	if err != nil {
		t.Fatal(err)
	}
	enc := make([]byte, 8)
	block.Encrypt(enc, resp[4:])
	r.transmit("GENERAL AUTHENTICATE response", append([]byte{0x00, 0x87, 0x03, 0x9B, 0x0C, 0x7C, 0x0A, 0x82, 0x08}, enc...))

	code, stdout, stderr := stop()
	if code != 0 {
		t.Errorf("run() = %d, want 0; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "firmware 5.4.3") {
		t.Errorf("stdout = %q, want it to name firmware 5.4.3", stdout)
	}
}

// ctap sends one CTAP2 command through NFCCTAP_MSG and decodes the answer.
func ctap(t *testing.T, r *reader, cmd byte, params any) map[int]any {
	t.Helper()
	body := []byte{cmd}
	if params != nil {
		enc, err := cbor.Marshal(params)
		if err != nil {
			t.Fatalf("cbor: %v", err)
		}
		body = append(body, enc...)
	}
	apdu := append([]byte{0x80, 0x10, 0x80, 0x00, byte(len(body))}, body...)
	resp := r.transmit("NFCCTAP_MSG", append(apdu, 0x00))
	if len(resp) == 0 || resp[0] != 0 {
		t.Fatalf("CTAP command %02X: status % X, want 00", cmd, resp)
	}
	var m map[int]any
	if err := cbor.Unmarshal(resp[1:], &m); err != nil {
		t.Fatalf("CTAP command %02X: %v", cmd, err)
	}
	return m
}

func TestRunFIDOPIN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		args      []string
		clientPin bool
	}{
		{"no PIN by default", nil, false},
		{"with -fido-pin", []string{"-fido-pin", "9713"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ln := listen(t, "127.0.0.1:0")
			stop := start(t, append([]string{"-vpcd", ln.Addr().String()}, tc.args...)...)
			r := accept(t, ln)
			r.transmit("SELECT FIDO", selectFIDO)
			info := ctap(t, r, 0x04, nil) // authenticatorGetInfo
			opts, _ := info[4].(map[any]any)
			if got, _ := opts["clientPin"].(bool); got != tc.clientPin {
				t.Errorf("GetInfo options clientPin = %v, want %v (options %v)", opts["clientPin"], tc.clientPin, opts)
			}
			if tc.clientPin {
				// authenticatorClientPIN getPINRetries, protocol 1.
				if got := ctap(t, r, 0x06, map[int]int{1: 1, 2: 1})[3]; got != uint64(8) {
					t.Errorf("PIN retries = %v, want 8", got)
				}
			}
			if code, stdout, stderr := stop(); code != 0 || strings.Contains(stdout+stderr, "9713") {
				t.Errorf("run() = %d (stderr %q); output must not hold the PIN: %q", code, stderr, stdout)
			}
		})
	}
}

func TestRunTwoKeys(t *testing.T) {
	t.Parallel()
	// Two listeners on consecutive ports, like vpcd's two slots.
	var ln0, ln1 net.Listener
	for range 20 {
		ln := listen(t, "127.0.0.1:0")
		port := ln.Addr().(*net.TCPAddr).Port
		if next, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+1)); err == nil {
			t.Cleanup(func() { next.Close() })
			ln0, ln1 = ln, next
			break
		}
	}
	if ln0 == nil {
		t.Skip("no two consecutive free ports")
	}
	stop := start(t, "-vpcd", ln0.Addr().String(), "-keys", "2", "-serial", "100")
	for i, ln := range []net.Listener{ln0, ln1} {
		r := accept(t, ln)
		r.transmit("SELECT management", selectManagement)
		if got := binary.BigEndian.Uint32(tlv(t, r.transmit("READ CONFIG", readConfig), 0x02)); got != uint32(100+i) {
			t.Errorf("key %d: serial %d, want %d", i, got, 100+i)
		}
	}
	if code, _, stderr := stop(); code != 0 {
		t.Errorf("run() = %d, want 0; stderr:\n%s", code, stderr)
	}
}

func TestRunBadFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad vpcd", []string{"-vpcd", "localhost"}, "-vpcd"},
		{"bad port", []string{"-vpcd", "127.0.0.1:99999"}, "-vpcd"},
		{"zero serial", []string{"-serial", "0"}, "-serial"},
		{"serial too big", []string{"-serial", "4294967296"}, "-serial"},
		{"second serial too big", []string{"-keys", "2", "-serial", "4294967295"}, "-serial"},
		{"three keys", []string{"-keys", "3"}, "-keys"},
		{"unknown model", []string{"-model", "YubiKey 9"}, "-model"},
		{"two-part firmware", []string{"-firmware", "5.4"}, "-firmware \"5.4\": want a version such as 5.4.3"},
		{"garbled firmware", []string{"-firmware", "five"}, "-firmware \"five\": want a version such as 5.4.3"},
		{"firmware out of range", []string{"-firmware", "5.300.1"}, "-firmware \"5.300.1\""},
		{"firmware with a prefix", []string{"-firmware", "v5.4.3"}, "-firmware \"v5.4.3\""},
		{"YubiKey 4 firmware", []string{"-firmware", "4.3.7"}, "-firmware 4.3.7: only YubiKey 5 firmware (5.x.y) is simulated"},
		{"short FIDO PIN", []string{"-fido-pin", "12"}, "-fido-pin"},
		{"long PIV PIN", []string{"-piv-pin", "123456789"}, "-piv-pin"},
		{"stray argument", []string{"extra"}, "unexpected argument"},
		{"unknown flag", []string{"-frobnicate"}, "frobnicate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			if code := run(t.Context(), tc.args, &stdout, &stderr); code != 2 {
				t.Errorf("run(%q) = %d, want 2", tc.args, code)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("run(%q) stderr = %q, want it to mention %q", tc.args, stderr.String(), tc.want)
			}
			for _, secret := range []string{"123456789"} {
				if strings.Contains(stderr.String(), secret) {
					t.Errorf("stderr repeats the PIN: %q", stderr.String())
				}
			}
		})
	}
}

func TestRunHelp(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"-h"}, &stdout, &stderr); code != 0 {
		t.Errorf("run(-h) = %d, want 0", code)
	}
	if !strings.Contains(stderr.String(), "-fido-pin") {
		t.Errorf("usage %q does not list -fido-pin", stderr.String())
	}
}

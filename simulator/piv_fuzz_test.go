package simulator

import (
	"bytes"
	"crypto/sha256"
	"testing"
)

// FuzzPIV feeds the PIV applet a script of commands after an optional
// setup and checks that it never panics, answers only well-formed status
// words and keeps its state consistent.
//
// setup bits: 1 authenticate the management key, 2 verify the PIN,
// 4 generate a P-256 key in 9A, 8 deny every touch. The script is a
// sequence of INS P1 P2 Lc data records. RSA key generation is skipped:
// it is correct but too slow for fuzzing.
func FuzzPIV(f *testing.F) {
	digest := sha256.Sum256([]byte("fuzz"))
	seeds := [][]byte{
		pivRecord(pivInsVerify, 0, pivRefPIN, pivPad("123456")),
		pivRecord(pivInsVerify, 0xFF, pivRefPIN, nil),
		pivRecord(pivInsChangeRef, 0, pivRefPIN, append(pivPad("123456"), pivPad("654321")...)),
		pivRecord(pivInsResetRetry, 0, pivRefPIN, append(pivPad("12345678"), pivPad("654321")...)),
		pivRecord(pivInsAuthenticate, pivAlgAES192, pivSlotMgmt, []byte{0x7C, 0x02, 0x80, 0x00}),
		pivRecord(pivInsAuthenticate, pivAlgAES192, pivSlotMgmt, []byte{0x7C, 0x02, 0x81, 0x00}),
		pivRecord(pivInsAuthenticate, pivAlgP256, 0x9A, pivTLV(0x7C, []byte{0x82, 0x00}, pivTLV(0x81, digest[:]))),
		pivRecord(pivInsAuthenticate, pivAlgP256, 0x9A, pivTLV(0x7C, []byte{0x82, 0x00}, pivTLV(0x85, make([]byte, 65)))),
		pivRecord(pivInsGenerate, 0, 0x9C, []byte{0xAC, 0x09, 0x80, 0x01, pivAlgEd25519, 0xAA, 0x01, 0x02, 0xAB, 0x01, 0x03}),
		pivRecord(pivInsGetData, 0x3F, 0xFF, []byte{0x5C, 0x03, 0x5F, 0xFF, 0x01}),
		pivRecord(pivInsPutData, 0x3F, 0xFF, append([]byte{0x5C, 0x03, 0x5F, 0xC1, 0x02}, pivTLV(0x53, []byte("x"))...)),
		pivRecord(pivInsGetMetadata, 0, 0x9A, nil),
		pivRecord(pivInsAttest, 0x9A, 0, nil),
		pivRecord(pivInsSetRetries, 5, 5, nil),
		pivRecord(pivInsReset, 0, 0, nil),
		pivRecord(pivInsMoveKey, 0x9C, 0x9A, nil),
		pivRecord(pivInsMoveKey, 0xFF, pivSlotAttestation, nil),
		pivRecord(pivInsImportKey, pivAlgX25519, 0x9D, pivTLV(0x08, bytes.Repeat([]byte{9}, 32))),
		pivRecord(pivInsSetMgmtKey, 0xFF, 0xFE, append([]byte{pivAlgAES128, pivSlotMgmt, 16}, make([]byte, 16)...)),
	}
	for i, s := range seeds {
		f.Add(byte(i), s)
	}
	f.Add(byte(7), bytes.Join(seeds, nil))
	f.Fuzz(func(t *testing.T, setup byte, script []byte) {
		a, te := newTestPIV(t, pivFW571)
		if setup&1 != 0 {
			pivAuthDefault(t, a)
		}
		if setup&2 != 0 {
			pivDo(t, a, pivVerifyCmd("123456"), swOK)
		}
		if setup&4 != 0 {
			if setup&1 == 0 {
				pivAuthDefault(t, a)
			}
			pivGenerate(t, a, 0x9A, pivAlgP256, pivPINPolicyNever, pivTouchAlways)
		}
		if setup&8 != 0 {
			te.touchFn = func() error { return errTouchDenied }
		}
		for len(script) >= 4 {
			n := min(int(script[3]), len(script)-4)
			cmd := command{ins: script[0], p1: script[1], p2: script[2], data: script[4 : 4+n]}
			script = script[4+n:]
			if pivSlowGenerate(cmd) {
				continue
			}
			r := a.handle(cmd)
			pivCheckResponse(t, cmd, r)
			pivCheckInvariants(t, a)
		}
		// The applet still works.
		if r := a.handle(command{ins: pivInsGetVersion}); r.sw != swOK || !bytes.Equal(r.data, []byte{5, 7, 1}) {
			t.Fatalf("GET VERSION after the script: % X %04X", r.data, r.sw)
		}
	})
}

func pivRecord(ins, p1, p2 byte, data []byte) []byte {
	return append([]byte{ins, p1, p2, byte(len(data))}, data...)
}

// pivSlowGenerate reports whether cmd would generate an RSA key.
func pivSlowGenerate(cmd command) bool {
	if cmd.ins != pivInsGenerate {
		return false
	}
	ctl, err := pivReadOnly(cmd.data, 0xAC)
	if err != nil {
		return false
	}
	tlvs, err := pivParseTLVs(ctl)
	if err != nil {
		return false
	}
	alg := tlvs[0x80]
	return len(alg) == 1 && pivRSABits(alg[0]) != 0
}

// pivCheckResponse checks the status word is one the applet may send and
// that only success carries data.
func pivCheckResponse(t *testing.T, cmd command, r response) {
	t.Helper()
	switch {
	case r.sw == swOK:
	case r.sw&0xFFF0 == swVerifyFailBase:
	case r.sw == swWrongLength, r.sw == swSecurityStatus, r.sw == swAuthBlocked,
		r.sw == swConditionsNotMet, r.sw == swIncorrectData, r.sw == swFileNotFound,
		r.sw == swIncorrectP1P2, r.sw == swRefNotFound, r.sw == swInsNotSupported,
		r.sw == pivSwNotEnoughMemory:
	default:
		t.Fatalf("INS %02X P1 %02X P2 %02X: unexpected SW %04X", cmd.ins, cmd.p1, cmd.p2, r.sw)
	}
	if r.sw != swOK && len(r.data) != 0 {
		t.Fatalf("INS %02X: SW %04X with data % X", cmd.ins, r.sw, r.data)
	}
}

// pivCheckInvariants checks the applet's state is one the protocol can
// reach.
func pivCheckInvariants(t *testing.T, a *pivApplet) {
	t.Helper()
	for name, c := range map[string]*pivCredential{"PIN": &a.pin, "PUK": &a.puk} {
		if c.maxRetries < 1 || c.maxRetries > 255 || c.retries < 0 || c.retries > c.maxRetries {
			t.Fatalf("%s retries %d/%d", name, c.retries, c.maxRetries)
		}
		if _, ok := a.parseNewPIN(c.value[:], false); !ok {
			t.Fatalf("%s holds an invalid value", name)
		}
	}
	if a.pinVerified && a.pin.blocked() {
		t.Fatal("PIN verified and blocked")
	}
	if n := pivMgmtKeyLen(a.mgmt.alg); n == 0 || n != len(a.mgmt.key) {
		t.Fatalf("management key of %d bytes for algorithm 0x%02X", len(a.mgmt.key), a.mgmt.alg)
	}
	for slot, k := range a.keys {
		if !pivKeySlot(slot) && slot != pivSlotAttestation {
			t.Fatalf("key in slot %02X", slot)
		}
		if k.pinPolicy < pivPINPolicyNever || k.pinPolicy > pivPINPolicyAlways ||
			k.touchPolicy < pivTouchNever || k.touchPolicy > pivTouchCached ||
			(k.origin != pivOriginGenerated && k.origin != pivOriginImported) {
			t.Fatalf("slot %02X: policies %d/%d origin %d", slot, k.pinPolicy, k.touchPolicy, k.origin)
		}
		if _, err := k.publicTLVs(); err != nil {
			t.Fatalf("slot %02X: %v", slot, err)
		}
	}
	total := 0
	for tag, o := range a.objects {
		if !pivObjectWritable(tag) || len(o) == 0 || len(o) > pivMaxObject {
			t.Fatalf("object %06X of %d bytes", tag, len(o))
		}
		total += len(o)
	}
	if total > pivMaxStorage {
		t.Fatalf("%d bytes of objects", total)
	}
}

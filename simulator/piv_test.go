package simulator

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// pivTestEnv is the environment of one test applet: a seeded reader, a
// clock the test advances and a touch hook that counts and answers as
// told.
type pivTestEnv struct {
	env     *env
	now     time.Time
	touches int
	touchFn func() error
}

var (
	pivTestCAOnce sync.Once
	pivTestCA     *CA
	pivTestCAErr  error
)

// testPIVCA is one CA for all tests, generated from a fixed seed.
func testPIVCA(t testing.TB) *CA {
	t.Helper()
	pivTestCAOnce.Do(func() {
		pivTestCA, pivTestCAErr = NewCA(rand.NewChaCha8([32]byte{'c', 'a'}), "Test PIV Root CA",
			time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	})
	if pivTestCAErr != nil {
		t.Fatalf("NewCA: %v", pivTestCAErr)
	}
	return pivTestCA
}

func newTestPIV(t testing.TB, fw Version) (*pivApplet, *pivTestEnv) {
	t.Helper()
	te := &pivTestEnv{now: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	te.env = &env{
		rand:     rand.NewChaCha8([32]byte{'p', 'i', 'v'}),
		now:      func() time.Time { return te.now },
		serial:   12345678,
		firmware: fw,
		model:    YubiKey5NFC,
		touch: func() error {
			te.touches++
			if te.touchFn != nil {
				return te.touchFn()
			}
			return nil
		},
		pivCA: testPIVCA(t),
	}
	a := newPIVApplet(te.env)
	if r := a.selectApplet(); r.sw != swOK {
		t.Fatalf("select: SW %04X", r.sw)
	}
	return a, te
}

var pivFW571 = Version{5, 7, 1}

func pivCmd(ins, p1, p2 byte, data ...byte) command {
	return command{ins: ins, p1: p1, p2: p2, data: data}
}

// do runs cmd and fails the test unless the status word is want.
func pivDo(t testing.TB, a *pivApplet, cmd command, want uint16) []byte {
	t.Helper()
	r := a.handle(cmd)
	if r.sw != want {
		t.Fatalf("INS %02X P1 %02X P2 %02X: SW %04X, want %04X", cmd.ins, cmd.p1, cmd.p2, r.sw, want)
	}
	return r.data
}

func pivPad(pin string) []byte {
	b := bytes.Repeat([]byte{0xFF}, 8)
	copy(b, pin)
	return b
}

func pivVerifyCmd(pin string) command { return pivCmd(pivInsVerify, 0, pivRefPIN, pivPad(pin)...) }

// authMgmt authenticates with the management key the way piv-go does
// (mutual authentication, witness then challenge) and checks the card's
// answer.
func pivAuthMgmt(t testing.TB, a *pivApplet, alg byte, key []byte) uint16 {
	t.Helper()
	var block cipher.Block
	var err error
	if alg == pivAlg3DES {
		block, err = des.NewTripleDESCipher(key)
	} else {
		block, err = aes.NewCipher(key)
	}
	if err != nil {
		t.Fatalf("cipher: %v", err)
	}
	n := byte(block.BlockSize())
	witness := pivDo(t, a, pivCmd(pivInsAuthenticate, alg, pivSlotMgmt, 0x7C, 0x02, 0x80, 0x00), swOK)
	if len(witness) != int(4+n) || !bytes.Equal(witness[:4], []byte{0x7C, n + 2, 0x80, n}) {
		t.Fatalf("witness % X", witness)
	}
	plain := make([]byte, n)
	block.Decrypt(plain, witness[4:])
	challenge := bytes.Repeat([]byte{0xA5}, int(n))
	data := append([]byte{0x7C, 2 * (n + 2), 0x80, n}, plain...)
	data = append(data, 0x81, n)
	data = append(data, challenge...)
	r := a.handle(pivCmd(pivInsAuthenticate, alg, pivSlotMgmt, data...))
	if r.sw != swOK {
		return r.sw
	}
	want := make([]byte, n)
	block.Encrypt(want, challenge)
	if !bytes.Equal(r.data, append([]byte{0x7C, n + 2, 0x82, n}, want...)) {
		t.Fatalf("card response % X, want encrypted challenge % X", r.data, want)
	}
	return swOK
}

func pivAuthDefault(t testing.TB, a *pivApplet) {
	t.Helper()
	if sw := pivAuthMgmt(t, a, pivAlgAES192, pivDefaultMgmtKey); sw != swOK {
		t.Fatalf("management key authentication: SW %04X", sw)
	}
}

// newAuthedPIV is newTestPIV at firmware 5.7.1 with the host
// authenticated by the default management key.
func newAuthedPIV(t testing.TB) (*pivApplet, *pivTestEnv) {
	t.Helper()
	a, te := newTestPIV(t, pivFW571)
	pivAuthDefault(t, a)
	return a, te
}

// generate makes a key in slot and parses the 7F49 template the way piv-go
// does.
func pivGenerate(t testing.TB, a *pivApplet, slot, alg, pinPolicy, touchPolicy byte) crypto.PublicKey {
	t.Helper()
	data := []byte{0xAC, 0x09, 0x80, 0x01, alg, 0xAA, 0x01, pinPolicy, 0xAB, 0x01, touchPolicy}
	resp := pivDo(t, a, pivCmd(pivInsGenerate, 0, slot, data...), swOK)
	tmpl, err := pivReadOnly(resp, 0x7F49)
	if err != nil {
		t.Fatalf("7F49 template % X: %v", resp, err)
	}
	return pivParsePublic(t, alg, tmpl)
}

func pivParsePublic(t testing.TB, alg byte, tmpl []byte) crypto.PublicKey {
	t.Helper()
	tlvs, err := pivParseTLVs(tmpl)
	if err != nil {
		t.Fatalf("public key TLVs % X: %v", tmpl, err)
	}
	switch alg {
	case pivAlgP256, pivAlgP384:
		pub, err := ecdsa.ParseUncompressedPublicKey(pivCurve(alg), tlvs[0x86])
		if err != nil {
			t.Fatalf("EC point: %v", err)
		}
		return pub
	case pivAlgEd25519:
		if len(tlvs[0x86]) != ed25519.PublicKeySize {
			t.Fatalf("Ed25519 key % X", tlvs[0x86])
		}
		return ed25519.PublicKey(tlvs[0x86])
	case pivAlgX25519:
		pub, err := ecdh.X25519().NewPublicKey(tlvs[0x86])
		if err != nil {
			t.Fatalf("X25519 key: %v", err)
		}
		return pub
	}
	e := new(big.Int).SetBytes(tlvs[0x82])
	return &rsa.PublicKey{N: new(big.Int).SetBytes(tlvs[0x81]), E: int(e.Int64())}
}

// sign asks the card to sign msg with the key in slot and returns the
// content of 7C { 82 }.
func pivSign(t testing.TB, a *pivApplet, alg, slot byte, msg []byte, want uint16) []byte {
	t.Helper()
	inner := append([]byte{0x82, 0x00}, pivTLV(0x81, msg)...)
	resp := pivDo(t, a, pivCmd(pivInsAuthenticate, alg, slot, pivTLV(0x7C, inner)...), want)
	if want != swOK {
		return nil
	}
	out, err := pivReadOnly(resp, 0x7C)
	if err != nil {
		t.Fatalf("response % X: %v", resp, err)
	}
	sig, err := pivReadOnly(out, 0x82)
	if err != nil {
		t.Fatalf("response % X: %v", resp, err)
	}
	return sig
}

func TestPIVSelectVersionSerial(t *testing.T) {
	t.Parallel()
	a, _ := newTestPIV(t, pivFW571)
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		// The APT of SP 800-73-4 Part 2 §3.1.1 (docs/simulator.md §PIV applet).
		{"select", a.selectApplet().data, "61114F0600001000010079074F05A000000308"},
		{"version", pivDo(t, a, pivCmd(pivInsGetVersion, 0, 0), swOK), "050701"},
		{"serial", pivDo(t, a, pivCmd(pivInsGetSerial, 0, 0), swOK), "00BC614E"},
	}
	for _, tt := range tests {
		if got := strings.ToUpper(hex.EncodeToString(tt.got)); got != tt.want {
			t.Errorf("%s = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestPIVVerifyAndLockout(t *testing.T) {
	t.Parallel()
	a, _ := newTestPIV(t, pivFW571)
	status := pivCmd(pivInsVerify, 0, pivRefPIN)
	steps := []struct {
		name string
		cmd  command
		want uint16
	}{
		{"status fresh", status, 0x63C3},
		{"wrong 1", pivVerifyCmd("000000"), 0x63C2},
		{"right resets counter", pivVerifyCmd("123456"), swOK},
		{"status verified", status, swOK},
		{"P1 FF forgets verification", pivCmd(pivInsVerify, 0xFF, pivRefPIN), swOK},
		{"status after reset", status, 0x63C3},
		{"wrong 1 again", pivVerifyCmd("0"), 0x63C2},
		{"wrong 2", pivVerifyCmd("0"), 0x63C1},
		{"wrong 3 reports 0 left", pivVerifyCmd("0"), 0x63C0},
		{"right PIN when blocked", pivVerifyCmd("123456"), swAuthBlocked},
		{"status blocked", status, swAuthBlocked},
		{"bad length", pivCmd(pivInsVerify, 0, pivRefPIN, 1, 2, 3), swWrongLength},
		{"PUK is not verifiable", pivCmd(pivInsVerify, 0, pivRefPUK, pivPad("12345678")...), swRefNotFound},
	}
	for _, s := range steps {
		if got := a.handle(s.cmd).sw; got != s.want {
			t.Fatalf("%s: SW %04X, want %04X", s.name, got, s.want)
		}
	}
	if a.pinVerified {
		t.Error("PIN verified while blocked")
	}
}

func TestPIVChangeAndUnblock(t *testing.T) {
	t.Parallel()
	a, _ := newTestPIV(t, pivFW571)
	change := func(p2 byte, old, new string) command {
		return pivCmd(pivInsChangeRef, 0, p2, append(pivPad(old), pivPad(new)...)...)
	}
	unblock := func(puk, pin string) command {
		return pivCmd(pivInsResetRetry, 0, pivRefPIN, append(pivPad(puk), pivPad(pin)...)...)
	}
	steps := []struct {
		name string
		cmd  command
		want uint16
	}{
		{"change PIN, wrong old", change(pivRefPIN, "654321", "654321"), 0x63C2},
		{"change PIN", change(pivRefPIN, "123456", "654321"), swOK},
		{"old PIN fails", pivVerifyCmd("123456"), 0x63C2},
		{"new PIN works", pivVerifyCmd("654321"), swOK},
		{"new PIN too short", change(pivRefPIN, "654321", "12345"), swIncorrectData},
		{"change PUK, wrong old", change(pivRefPUK, "87654321", "87654321"), 0x63C2},
		{"change PUK", change(pivRefPUK, "12345678", "87654321"), swOK},
		{"non-ASCII PUK on 5.7", change(pivRefPUK, "87654321", "\xC3\xA9abcdef"), swIncorrectData},
		{"block PIN 1", pivVerifyCmd("000000"), 0x63C2},
		{"block PIN 2", pivVerifyCmd("000000"), 0x63C1},
		{"block PIN 3", pivVerifyCmd("000000"), 0x63C0},
		{"unblock, wrong PUK", unblock("12345678", "111111"), 0x63C2},
		{"unblock", unblock("87654321", "111111"), swOK},
		{"unblocked PIN", pivVerifyCmd("111111"), swOK},
	}
	for _, s := range steps {
		if got := a.handle(s.cmd).sw; got != s.want {
			t.Fatalf("%s: SW %04X, want %04X", s.name, got, s.want)
		}
	}
	if a.puk.retries != 3 {
		t.Errorf("PUK retries after a correct PUK = %d, want 3", a.puk.retries)
	}
}

func TestPIVManagementKey(t *testing.T) {
	t.Parallel()
	a, te := newTestPIV(t, pivFW571)
	genNoAuth := pivCmd(pivInsGenerate, 0, 0x9A, 0xAC, 0x03, 0x80, 0x01, pivAlgP256)
	pivDo(t, a, genNoAuth, swSecurityStatus)

	// 5.7 defaults to AES-192 with the well-known value.
	if got, want := pivDo(t, a, pivCmd(pivInsGetMetadata, 0, pivSlotMgmt), swOK), []byte{0x01, 0x01, 0x0A, 0x02, 0x02, 0x00, 0x01, 0x05, 0x01, 0x01}; !bytes.Equal(got, want) {
		t.Errorf("9B metadata % X, want % X", got, want)
	}
	wrong := bytes.Repeat([]byte{0x42}, 24)
	if sw := pivAuthMgmt(t, a, pivAlgAES192, wrong); sw != swSecurityStatus {
		t.Fatalf("wrong key: SW %04X, want 6982", sw)
	}
	// The wrong algorithm answers 6A80, as on a YubiKey 5.7
	// (sigstore/cosign#3742, gravitational/teleport#55889).
	pivDo(t, a, pivCmd(pivInsAuthenticate, pivAlg3DES, pivSlotMgmt, 0x7C, 0x02, 0x80, 0x00), swIncorrectData)
	pivAuthDefault(t, a)

	newKey := bytes.Repeat([]byte{0x17}, 32)
	set := append([]byte{pivAlgAES256, pivSlotMgmt, 32}, newKey...)
	pivDo(t, a, pivCmd(pivInsSetMgmtKey, 0xFF, 0xFE, set...), swOK)
	if got, want := pivDo(t, a, pivCmd(pivInsGetMetadata, 0, pivSlotMgmt), swOK), []byte{0x01, 0x01, 0x0C, 0x02, 0x02, 0x00, 0x02, 0x05, 0x01, 0x00}; !bytes.Equal(got, want) {
		t.Errorf("9B metadata after change % X, want % X", got, want)
	}

	a.selectApplet() // forgets the authentication
	pivDo(t, a, genNoAuth, swSecurityStatus)
	if sw := pivAuthMgmt(t, a, pivAlgAES256, newKey[:]); sw != swOK {
		t.Fatalf("new key: SW %04X", sw)
	}
	if te.touches != 1 {
		t.Errorf("touches = %d, want 1 (key set with touch)", te.touches)
	}
	te.touchFn = func() error { return errTouchDenied }
	if sw := pivAuthMgmt(t, a, pivAlgAES256, newKey[:]); sw != swSecurityStatus {
		t.Errorf("denied touch: SW %04X, want 6982", sw)
	}
	te.touchFn = nil

	// 3DES is still accepted when set as 3DES.
	pivAuthMgmt(t, a, pivAlgAES256, newKey)
	des3 := []byte("0123456789abcdefghijklmn")
	pivDo(t, a, pivCmd(pivInsSetMgmtKey, 0xFF, 0xFF, append([]byte{pivAlg3DES, pivSlotMgmt, 24}, des3...)...), swOK)
	pivDo(t, a, pivCmd(pivInsSetMgmtKey, 0xFF, 0xFF, pivAlgAES128, pivSlotMgmt, 3, 1, 2, 3), swIncorrectData)
	a.selectApplet()
	if sw := pivAuthMgmt(t, a, pivAlg3DES, des3); sw != swOK {
		t.Fatalf("3DES key: SW %04X", sw)
	}
}

// TestPIVManagementKeyDefaultFlag checks GET METADATA's "default" flag
// for slot 9B: the factory key is the well-known bytes under the
// firmware's default algorithm, so the same bytes under another algorithm
// are not default.
func TestPIVManagementKeyDefaultFlag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fw      Version
		factory byte // the factory algorithm
		setAlg  byte // SET MANAGEMENT KEY to the default bytes under this algorithm
		want    bool
	}{
		{"5.7 AES-192 kept", pivFW571, pivAlgAES192, pivAlgAES192, true},
		{"5.7 changed to 3DES", pivFW571, pivAlgAES192, pivAlg3DES, false},
		{"5.4.3 3DES kept", Version{5, 4, 3}, pivAlg3DES, pivAlg3DES, true},
		{"5.4.3 changed to AES-192", Version{5, 4, 3}, pivAlg3DES, pivAlgAES192, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := newTestPIV(t, tt.fw)
			if sw := pivAuthMgmt(t, a, tt.factory, pivDefaultMgmtKey); sw != swOK {
				t.Fatalf("factory key: SW %04X", sw)
			}
			set := append([]byte{tt.setAlg, pivSlotMgmt, 24}, pivDefaultMgmtKey...)
			pivDo(t, a, pivCmd(pivInsSetMgmtKey, 0xFF, 0xFF, set...), swOK)
			got := pivDo(t, a, pivCmd(pivInsGetMetadata, 0, pivSlotMgmt), swOK)
			want := []byte{0x01, 0x01, tt.setAlg, 0x02, 0x02, 0x00, 0x01, 0x05, 0x01, 0x00}
			if tt.want {
				want[len(want)-1] = 0x01
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("9B metadata (-want +got):\n%s", diff)
			}
			if st := a.state(); st.DefaultManagementKey != tt.want {
				t.Errorf("PIVState.DefaultManagementKey = %v, want %v", st.DefaultManagementKey, tt.want)
			}
		})
	}
}

// TestPIVManagementKeyCardAuth runs the single (card-only) authentication:
// 81 00 gives a clear challenge, 82 returns it encrypted.
func TestPIVManagementKeyCardAuth(t *testing.T) {
	t.Parallel()
	a, _ := newTestPIV(t, pivFW571)
	block, err := aes.NewCipher(pivDefaultMgmtKey)
	if err != nil {
		t.Fatal(err)
	}
	resp := pivDo(t, a, pivCmd(pivInsAuthenticate, pivAlgAES192, pivSlotMgmt, 0x7C, 0x02, 0x81, 0x00), swOK)
	if len(resp) != 20 {
		t.Fatalf("challenge % X", resp)
	}
	enc := make([]byte, 16)
	block.Encrypt(enc, resp[4:])
	bad := bytes.Clone(enc)
	bad[0] ^= 1
	pivDo(t, a, pivCmd(pivInsAuthenticate, pivAlgAES192, pivSlotMgmt, append([]byte{0x7C, 0x12, 0x82, 0x10}, bad...)...), swSecurityStatus)
	// The challenge is single-use: the right answer now fails too.
	pivDo(t, a, pivCmd(pivInsAuthenticate, pivAlgAES192, pivSlotMgmt, append([]byte{0x7C, 0x12, 0x82, 0x10}, enc...)...), swSecurityStatus)

	resp = pivDo(t, a, pivCmd(pivInsAuthenticate, pivAlgAES192, pivSlotMgmt, 0x7C, 0x02, 0x81, 0x00), swOK)
	block.Encrypt(enc, resp[4:])
	pivDo(t, a, pivCmd(pivInsAuthenticate, pivAlgAES192, pivSlotMgmt, append([]byte{0x7C, 0x12, 0x82, 0x10}, enc...)...), swOK)
	if !a.mgmtAuthed {
		t.Error("not authenticated after a correct card-only authentication")
	}
}

func TestPIVGenerateSignAgree(t *testing.T) {
	t.Parallel()
	a, _ := newAuthedPIV(t)
	digest := sha256.Sum256([]byte("hello"))

	t.Run("P-256 ECDSA", func(t *testing.T) {
		pub := pivGenerate(t, a, 0x9A, pivAlgP256, pivPINPolicyNever, pivTouchNever).(*ecdsa.PublicKey)
		sig := pivSign(t, a, pivAlgP256, 0x9A, digest[:], swOK)
		if !ecdsa.VerifyASN1(pub, digest[:], sig) {
			t.Error("P-256 signature does not verify")
		}
		// Deterministic (RFC 6979): the same digest gives the same signature.
		if again := pivSign(t, a, pivAlgP256, 0x9A, digest[:], swOK); !bytes.Equal(again, sig) {
			t.Error("signature not deterministic")
		}
		short := digest[:20]
		if sig := pivSign(t, a, pivAlgP256, 0x9A, short, swOK); !ecdsa.VerifyASN1(pub, short, sig) {
			t.Error("signature of a 20-byte digest does not verify")
		}
		pivSign(t, a, pivAlgP256, 0x9A, make([]byte, 33), swIncorrectData)
		pivSign(t, a, pivAlgP384, 0x9A, digest[:], swIncorrectData) // P1 must match the key
	})
	t.Run("P-384 ECDSA and ECDH", func(t *testing.T) {
		pub := pivGenerate(t, a, 0x9D, pivAlgP384, pivPINPolicyNever, pivTouchNever).(*ecdsa.PublicKey)
		d384 := make([]byte, 48)
		copy(d384, digest[:])
		if sig := pivSign(t, a, pivAlgP384, 0x9D, d384, swOK); !ecdsa.VerifyASN1(pub, d384, sig) {
			t.Error("P-384 signature does not verify")
		}
		peer, err := ecdh.P384().GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		got := pivDo(t, a, pivCmd(pivInsAuthenticate, pivAlgP384, 0x9D, pivTLV(0x7C, []byte{0x82, 0x00}, pivTLV(0x85, peer.PublicKey().Bytes()))...), swOK)
		cardPub, err := pub.ECDH()
		if err != nil {
			t.Fatal(err)
		}
		want, err := peer.ECDH(cardPub)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, pivTLV(0x7C, pivTLV(0x82, want))) {
			t.Errorf("ECDH response % X, want shared secret % X", got, want)
		}
		bad := peer.PublicKey().Bytes()
		bad[5] ^= 1 // off the curve
		pivDo(t, a, pivCmd(pivInsAuthenticate, pivAlgP384, 0x9D, pivTLV(0x7C, []byte{0x82, 0x00}, pivTLV(0x85, bad))...), swIncorrectData)
	})
	t.Run("Ed25519", func(t *testing.T) {
		pub := pivGenerate(t, a, 0x9C, pivAlgEd25519, pivPINPolicyNever, pivTouchNever).(ed25519.PublicKey)
		msg := []byte("a whole message, not a digest")
		if sig := pivSign(t, a, pivAlgEd25519, 0x9C, msg, swOK); !ed25519.Verify(pub, msg, sig) {
			t.Error("Ed25519 signature does not verify")
		}
	})
	t.Run("X25519", func(t *testing.T) {
		pub := pivGenerate(t, a, 0x9E, pivAlgX25519, pivPINPolicyNever, pivTouchNever).(*ecdh.PublicKey)
		peer, err := ecdh.X25519().GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		got := pivDo(t, a, pivCmd(pivInsAuthenticate, pivAlgX25519, 0x9E, pivTLV(0x7C, []byte{0x82, 0x00}, pivTLV(0x85, peer.PublicKey().Bytes()))...), swOK)
		want, err := peer.ECDH(pub)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, pivTLV(0x7C, pivTLV(0x82, want))) {
			t.Errorf("X25519 response % X, want % X", got, want)
		}
		pivSign(t, a, pivAlgX25519, 0x9E, digest[:], swIncorrectData) // cannot sign
	})
	t.Run("retired slot and refusals", func(t *testing.T) {
		pivGenerate(t, a, 0x95, pivAlgP256, pivPINPolicyNever, pivTouchNever)
		pivSign(t, a, pivAlgP256, 0x95, digest[:], swOK)
		pivSign(t, a, pivAlgP256, 0x82, digest[:], swRefNotFound)
		pivDo(t, a, pivCmd(pivInsGenerate, 0, 0x96, 0xAC, 0x03, 0x80, 0x01, pivAlgP256), swIncorrectP1P2)
		pivDo(t, a, pivCmd(pivInsGenerate, 0, 0x9A, 0xAC, 0x03, 0x80, 0x01, 0x42), swIncorrectData)
		pivDo(t, a, pivCmd(pivInsGenerate, 0, 0x9A, 0xAC, 0x06, 0x80, 0x01, pivAlgP256, 0xAA, 0x01, 0x04), swIncorrectData)
	})
}

func TestPIVAlgorithmsNeedFirmware(t *testing.T) {
	t.Parallel()
	a, _ := newTestPIV(t, Version{5, 4, 3})
	if sw := pivAuthMgmt(t, a, pivAlg3DES, pivDefaultMgmtKey); sw != swOK {
		t.Fatalf("3DES default before 5.7: SW %04X", sw)
	}
	for _, alg := range []byte{pivAlgEd25519, pivAlgX25519, pivAlgRSA3072, pivAlgRSA4096} {
		pivDo(t, a, pivCmd(pivInsGenerate, 0, 0x9A, 0xAC, 0x03, 0x80, 0x01, alg), swIncorrectData)
	}
	pivGenerate(t, a, 0x9A, pivAlgP384, pivPINPolicyNever, pivTouchNever)
}

func TestPIVPINPolicy(t *testing.T) {
	t.Parallel()
	a, _ := newAuthedPIV(t)
	digest := sha256.Sum256([]byte("policy"))
	pivGenerate(t, a, 0x9A, pivAlgP256, pivPINPolicyOnce, pivTouchNever)
	pivGenerate(t, a, 0x9C, pivAlgP256, pivPINPolicyDefault, pivTouchNever) // 9C defaults to always
	pivGenerate(t, a, 0x9E, pivAlgP256, pivPINPolicyDefault, pivTouchNever) // 9E defaults to never

	pivSign(t, a, pivAlgP256, 0x9E, digest[:], swOK)
	pivSign(t, a, pivAlgP256, 0x9A, digest[:], swSecurityStatus)
	pivSign(t, a, pivAlgP256, 0x9C, digest[:], swSecurityStatus)
	pivDo(t, a, pivVerifyCmd("123456"), swOK)
	pivSign(t, a, pivAlgP256, 0x9C, digest[:], swOK)             // right after VERIFY
	pivSign(t, a, pivAlgP256, 0x9C, digest[:], swSecurityStatus) // not any more
	pivSign(t, a, pivAlgP256, 0x9A, digest[:], swOK)             // once: for the session
	pivSign(t, a, pivAlgP256, 0x9A, digest[:], swOK)
	a.powerOff()
	a.selectApplet()
	pivSign(t, a, pivAlgP256, 0x9A, digest[:], swSecurityStatus)

	if got := pivDo(t, a, pivCmd(pivInsGetMetadata, 0, 0x9C), swOK)[:7]; !bytes.Equal(got, []byte{0x01, 0x01, pivAlgP256, 0x02, 0x02, pivPINPolicyAlways, pivTouchNever}) {
		t.Errorf("9C metadata starts % X, want the resolved policy always/never", got)
	}
}

func TestPIVTouchPolicy(t *testing.T) {
	t.Parallel()
	a, te := newAuthedPIV(t)
	digest := sha256.Sum256([]byte("touch"))
	pivGenerate(t, a, 0x9A, pivAlgP256, pivPINPolicyNever, pivTouchAlways)
	pivGenerate(t, a, 0x9D, pivAlgP256, pivPINPolicyNever, pivTouchCached)

	pivSign(t, a, pivAlgP256, 0x9A, digest[:], swOK)
	pivSign(t, a, pivAlgP256, 0x9A, digest[:], swOK)
	if te.touches != 2 {
		t.Errorf("touch always: %d touches, want 2", te.touches)
	}
	te.touchFn = func() error { return errTouchTimeout }
	pivSign(t, a, pivAlgP256, 0x9A, digest[:], swSecurityStatus)
	te.touchFn = nil

	te.touches = 0
	pivSign(t, a, pivAlgP256, 0x9D, digest[:], swOK)
	te.now = te.now.Add(10 * time.Second)
	pivSign(t, a, pivAlgP256, 0x9D, digest[:], swOK)
	if te.touches != 1 {
		t.Errorf("touch cached within 15 s: %d touches, want 1", te.touches)
	}
	te.now = te.now.Add(6 * time.Second)
	pivSign(t, a, pivAlgP256, 0x9D, digest[:], swOK)
	if te.touches != 2 {
		t.Errorf("touch cached after 16 s: %d touches, want 2", te.touches)
	}
}

// pivAttestationInfo mirrors piv-go's Attestation: what a verifier reads out of
// an attestation certificate.
type pivAttestationInfo struct {
	Firmware   [3]byte
	Serial     int64
	Policy     [2]byte
	FormFactor byte
	CommonName string
}

// parseAttestation reads Yubico's extensions with the rules of piv-go's
// Attestation.addExt: raw 3, 2 and 1 bytes, and a DER INTEGER serial.
func pivParseAttestation(t *testing.T, cert *x509.Certificate) pivAttestationInfo {
	t.Helper()
	at := pivAttestationInfo{CommonName: cert.Subject.CommonName}
	for _, e := range cert.Extensions {
		switch {
		case e.Id.Equal(oidYubicoFirmware):
			if len(e.Value) != 3 {
				t.Fatalf("firmware extension % X", e.Value)
			}
			copy(at.Firmware[:], e.Value)
		case e.Id.Equal(oidYubicoSerial):
			if rest, err := asn1.Unmarshal(e.Value, &at.Serial); err != nil || len(rest) != 0 {
				t.Fatalf("serial extension % X: %v", e.Value, err)
			}
		case e.Id.Equal(oidYubicoPolicy):
			if len(e.Value) != 2 {
				t.Fatalf("policy extension % X", e.Value)
			}
			copy(at.Policy[:], e.Value)
		case e.Id.Equal(oidYubicoFormFactor):
			if len(e.Value) != 1 {
				t.Fatalf("form factor extension % X", e.Value)
			}
			at.FormFactor = e.Value[0]
		}
	}
	return at
}

func TestPIVAttestation(t *testing.T) {
	t.Parallel()
	a, _ := newTestPIV(t, pivFW571)
	ca := testPIVCA(t)
	pivAuthDefault(t, a)
	pivDo(t, a, pivCmd(pivInsAttest, 0x9A, 0), swIncorrectData) // empty slot: piv-go's ErrNotFound
	pub := pivGenerate(t, a, 0x9A, pivAlgP256, pivPINPolicyOnce, pivTouchCached)

	der := pivDo(t, a, pivCmd(pivInsAttest, 0x9A, 0), swOK)
	slotCert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("attestation certificate: %v", err)
	}
	obj, err := pivReadOnly(pivDo(t, a, pivCmd(pivInsGetData, 0x3F, 0xFF, 0x5C, 0x03, 0x5F, 0xFF, 0x01), swOK), 0x53)
	if err != nil {
		t.Fatal(err)
	}
	tlvs, err := pivParseTLVs(obj)
	if err != nil {
		t.Fatal(err)
	}
	f9Cert, err := x509.ParseCertificate(tlvs[0x70])
	if err != nil {
		t.Fatalf("F9 certificate: %v", err)
	}

	// The chain piv-go's Verifier builds: slot → F9 (as intermediate) → roots.
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(ca.Root())
	inter.AddCert(f9Cert)
	if _, err := slotCert.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		CurrentTime: testDay,
	}); err != nil {
		t.Fatalf("attestation chain: %v", err)
	}
	if !pub.(*ecdsa.PublicKey).Equal(slotCert.PublicKey) {
		t.Error("attested public key differs from the generated one")
	}
	want := pivAttestationInfo{
		Firmware: [3]byte{5, 7, 1}, Serial: 12345678,
		Policy: [2]byte{pivPINPolicyOnce, pivTouchCached}, FormFactor: 0x01,
		CommonName: "YubiKey PIV Attestation 9a",
	}
	if diff := cmp.Diff(want, pivParseAttestation(t, slotCert)); diff != "" {
		t.Errorf("attestation (-want +got):\n%s", diff)
	}
	if got := f9Cert.Subject.CommonName; got != "Yubico PIV Attestation" {
		t.Errorf("F9 certificate CN %q", got)
	}

	// Refusals: an imported key, a retired slot.
	_, d := newECKey(t, elliptic.P256())
	pivDo(t, a, pivCmd(pivInsImportKey, pivAlgP256, 0x9C, pivTLV(0x06, d)...), swOK)
	pivDo(t, a, pivCmd(pivInsAttest, 0x9C, 0), swIncorrectData)
	pivGenerate(t, a, 0x82, pivAlgP256, pivPINPolicyNever, pivTouchNever)
	pivDo(t, a, pivCmd(pivInsAttest, 0x82, 0), swIncorrectP1P2)

	// A FIPS model reports its form factor with bit 7 set.
	a.env.model = YubiKey5CNFCFIPS
	fips, err := x509.ParseCertificate(pivDo(t, a, pivCmd(pivInsAttest, 0x9A, 0), swOK))
	if err != nil {
		t.Fatal(err)
	}
	if got := pivParseAttestation(t, fips).FormFactor; got != 0x83 {
		t.Errorf("FIPS USB-C form factor 0x%02X, want 0x83", got)
	}
}

func TestPIVMetadata(t *testing.T) {
	t.Parallel()
	a, _ := newTestPIV(t, pivFW571)
	md := func(p2 byte) string {
		return strings.ToUpper(hex.EncodeToString(pivDo(t, a, pivCmd(pivInsGetMetadata, 0, p2), swOK)))
	}
	// The layout ykman parses (docs/simulator.md §PIV applet): 01 algorithm
	// FF, 05 default flag, 06 total and remaining tries.
	if got := md(pivRefPIN); got != "0101FF05010106020303" {
		t.Errorf("PIN metadata %s", got)
	}
	pivDo(t, a, pivVerifyCmd("999999"), 0x63C2)
	pivDo(t, a, pivCmd(pivInsChangeRef, 0, pivRefPUK, append(pivPad("12345678"), pivPad("11223344")...)...), swOK)
	if got := md(pivRefPIN); got != "0101FF05010106020302" {
		t.Errorf("PIN metadata after a wrong PIN %s", got)
	}
	if got := md(pivRefPUK); got != "0101FF05010006020303" {
		t.Errorf("PUK metadata after change %s", got)
	}
	pivDo(t, a, pivCmd(pivInsGetMetadata, 0, 0x9A), swRefNotFound)

	pivAuthDefault(t, a)
	pub := pivGenerate(t, a, 0x9A, pivAlgP256, pivPINPolicyNever, pivTouchAlways).(*ecdsa.PublicKey)
	point, err := pub.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	want := "010111" + "02020102" + "030101" + "0443" + "8641" + strings.ToUpper(hex.EncodeToString(point))
	if got := md(0x9A); got != want {
		t.Errorf("9A metadata\n got %s\nwant %s", got, want)
	}
	// Slot F9 holds the factory attestation key.
	if got := md(pivSlotAttestation)[:20]; got != "01011102020101030102" {
		t.Errorf("F9 metadata starts %s", got)
	}
}

func TestPIVSetRetriesAndReset(t *testing.T) {
	t.Parallel()
	a, _ := newTestPIV(t, pivFW571)
	pivDo(t, a, pivCmd(pivInsSetRetries, 5, 4), swSecurityStatus)
	pivAuthDefault(t, a)
	pivDo(t, a, pivCmd(pivInsSetRetries, 5, 4), swSecurityStatus) // needs the PIN too
	pivDo(t, a, pivVerifyCmd("123456"), swOK)
	pivDo(t, a, pivCmd(pivInsSetRetries, 0, 4), swIncorrectP1P2)
	pivDo(t, a, pivCmd(pivInsSetRetries, 5, 4), swOK)
	if got := pivDo(t, a, pivCmd(pivInsVerify, 0, pivRefPIN), 0x63C5); got != nil {
		t.Errorf("status data % X", got)
	}

	pivGenerate(t, a, 0x9A, pivAlgP256, pivPINPolicyNever, pivTouchNever)
	pivDo(t, a, pivCmd(pivInsPutData, 0x3F, 0xFF, append([]byte{0x5C, 0x03, 0x5F, 0xC1, 0x02}, pivTLV(0x53, []byte("chuid"))...)...), swOK)
	f9Before := pivDo(t, a, pivCmd(pivInsGetData, 0x3F, 0xFF, 0x5C, 0x03, 0x5F, 0xFF, 0x01), swOK)

	pivDo(t, a, pivCmd(pivInsReset, 0, 0), swConditionsNotMet)
	for range 5 {
		a.handle(pivVerifyCmd("000000"))
	}
	pivDo(t, a, pivCmd(pivInsReset, 0, 0), swConditionsNotMet) // PUK still usable
	for range 4 {
		a.handle(pivCmd(pivInsChangeRef, 0, pivRefPUK, append(pivPad("00000000"), pivPad("00000000")...)...))
	}
	pivDo(t, a, pivCmd(pivInsReset, 0, 0), swOK)

	pivDo(t, a, pivCmd(pivInsVerify, 0, pivRefPIN), 0x63C3)
	pivDo(t, a, pivVerifyCmd("123456"), swOK)
	pivDo(t, a, pivCmd(pivInsGetMetadata, 0, 0x9A), swRefNotFound)
	pivDo(t, a, pivCmd(pivInsGetData, 0x3F, 0xFF, 0x5C, 0x03, 0x5F, 0xC1, 0x02), swFileNotFound)
	if got := pivDo(t, a, pivCmd(pivInsGetData, 0x3F, 0xFF, 0x5C, 0x03, 0x5F, 0xFF, 0x01), swOK); !bytes.Equal(got, f9Before) {
		t.Error("reset changed the attestation certificate")
	}
	pivDo(t, a, pivCmd(pivInsGenerate, 0, 0x9A, 0xAC, 0x03, 0x80, 0x01, pivAlgP256), swSecurityStatus)
	pivAuthDefault(t, a) // default management key again
}

func TestPIVDataObjects(t *testing.T) {
	t.Parallel()
	a, _ := newTestPIV(t, pivFW571)
	get := func(tag ...byte) command {
		return pivCmd(pivInsGetData, 0x3F, 0xFF, append([]byte{0x5C, byte(len(tag))}, tag...)...)
	}
	put := func(content []byte, tag ...byte) command {
		data := append([]byte{0x5C, byte(len(tag))}, tag...)
		return pivCmd(pivInsPutData, 0x3F, 0xFF, append(data, pivTLV(0x53, content)...)...)
	}
	cert := pivCertObject(bytes.Repeat([]byte{0x30}, 700))

	pivDo(t, a, get(0x5F, 0xC1, 0x05), swFileNotFound)
	pivDo(t, a, put(cert, 0x5F, 0xC1, 0x05), swSecurityStatus)
	if got, want := pivDo(t, a, get(0x7E), swOK), "7E124F0BA0000003080000100001005F2F024000"; strings.ToUpper(hex.EncodeToString(got)) != want {
		t.Errorf("discovery object % X, want %s", got, want)
	}
	pivAuthDefault(t, a)
	pivDo(t, a, put(cert, 0x5F, 0xC1, 0x05), swOK)
	if got := pivDo(t, a, get(0x5F, 0xC1, 0x05), swOK); !bytes.Equal(got, pivTLV(0x53, cert)) {
		t.Error("GET DATA does not return what PUT DATA stored")
	}
	pivDo(t, a, put(nil, 0x5F, 0xC1, 0x05), swOK)
	pivDo(t, a, get(0x5F, 0xC1, 0x05), swFileNotFound)

	pivDo(t, a, put([]byte("printed"), 0x5F, 0xC1, 0x09), swOK)
	pivDo(t, a, get(0x5F, 0xC1, 0x09), swSecurityStatus)
	pivDo(t, a, pivVerifyCmd("123456"), swOK)
	pivDo(t, a, get(0x5F, 0xC1, 0x09), swOK)

	pivDo(t, a, put(make([]byte, pivMaxObject+1), 0x5F, 0xC1, 0x0A), pivSwNotEnoughMemory)
	pivDo(t, a, put([]byte{1}, 0x7E), swIncorrectData)
	// Any tag 5F0000–5FFFFF is writable (ykman piv objects import).
	for _, tag := range [][]byte{{0x5F, 0x00, 0x00}, {0x5F, 0x00, 0x01}, {0x5F, 0xC2, 0x01}, {0x5F, 0xFF, 0xFF}} {
		pivDo(t, a, put([]byte("blob"), tag...), swOK)
		if got := pivDo(t, a, get(tag...), swOK); !bytes.Equal(got, pivTLV(0x53, []byte("blob"))) {
			t.Errorf("GET DATA % X = % X, want what PUT DATA stored", tag, got)
		}
		pivDo(t, a, put(nil, tag...), swOK)
	}
	pivDo(t, a, put([]byte{1}, 0x5E, 0xFF, 0xFF), swIncorrectData)
	pivDo(t, a, put([]byte{1}, 0x60, 0x00, 0x00), swIncorrectData)
	pivDo(t, a, put([]byte{1}, 0x5F, 0xC1), swIncorrectData)
	pivDo(t, a, pivCmd(pivInsGetData, 0x3F, 0xFE, 0x5C, 0x01, 0x7E), swIncorrectP1P2)
	pivDo(t, a, pivCmd(pivInsGetData, 0x3F, 0xFF, 0x5C, 0x05, 0x7E), swIncorrectData)

	total := 0
	for i := byte(0x0D); ; i++ {
		sw := a.handle(put(make([]byte, pivMaxObject), 0x5F, 0xC1, i)).sw
		if sw == pivSwNotEnoughMemory {
			break
		}
		if sw != swOK {
			t.Fatalf("PUT DATA 5FC1%02X: SW %04X", i, sw)
		}
		total += pivMaxObject
	}
	if total > pivMaxStorage {
		t.Errorf("stored %d bytes, more than %d", total, pivMaxStorage)
	}
}

// newECKey returns a new ECDSA key on c and its scalar, the form IMPORT
// KEY takes (tag 06).
func newECKey(t testing.TB, c elliptic.Curve) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := k.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return k, d
}

func TestPIVImport(t *testing.T) {
	t.Parallel()
	a, _ := newAuthedPIV(t)
	digest := sha256.Sum256([]byte("imported"))
	policies := []byte{0xAA, 0x01, pivPINPolicyNever, 0xAB, 0x01, pivTouchNever}

	ec, d := newECKey(t, elliptic.P384())
	pivDo(t, a, pivCmd(pivInsImportKey, pivAlgP384, 0x9A, append(pivTLV(0x06, d), policies...)...), swOK)
	d48 := make([]byte, 48)
	copy(d48, digest[:])
	if sig := pivSign(t, a, pivAlgP384, 0x9A, d48, swOK); !ecdsa.VerifyASN1(&ec.PublicKey, d48, sig) {
		t.Error("imported P-384 key: signature does not verify")
	}
	if got := pivDo(t, a, pivCmd(pivInsGetMetadata, 0, 0x9A), swOK); !bytes.Contains(got, []byte{0x03, 0x01, pivOriginImported}) {
		t.Errorf("metadata % X lacks origin imported", got)
	}

	_, ed, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	pivDo(t, a, pivCmd(pivInsImportKey, pivAlgEd25519, 0x9C, append(pivTLV(0x07, ed.Seed()), policies...)...), swOK)
	if sig := pivSign(t, a, pivAlgEd25519, 0x9C, []byte("m"), swOK); !ed25519.Verify(ed.Public().(ed25519.PublicKey), []byte("m"), sig) {
		t.Error("imported Ed25519 key: signature does not verify")
	}

	x, err := ecdh.X25519().GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	pivDo(t, a, pivCmd(pivInsImportKey, pivAlgX25519, 0x9D, append(pivTLV(0x08, x.Bytes()), policies...)...), swOK)
	if got := pivDo(t, a, pivCmd(pivInsGetMetadata, 0, 0x9D), swOK); !bytes.HasSuffix(got, x.PublicKey().Bytes()) {
		t.Errorf("X25519 metadata % X lacks the public key", got)
	}

	r, err := rsa.GenerateKey(nil, 1024)
	if err != nil {
		t.Fatal(err)
	}
	r.Precompute()
	parts := []*big.Int{r.Primes[0], r.Primes[1], r.Precomputed.Dp, r.Precomputed.Dq, r.Precomputed.Qinv}
	var rsaData []byte
	for i, p := range parts {
		rsaData = append(rsaData, pivTLV(uint32(0x01+i), pivLeftPad(p.Bytes(), 64))...)
	}
	bad := bytes.Clone(rsaData)
	bad[len(bad)-1] ^= 1 // qInv no longer matches
	pivDo(t, a, pivCmd(pivInsImportKey, pivAlgRSA1024, 0x9E, bad...), swIncorrectData)
	pivDo(t, a, pivCmd(pivInsImportKey, pivAlgRSA1024, 0x9E, append(rsaData, policies...)...), swOK)
	em := pivPKCS1v15(t, 128, digest[:])
	sig := pivSign(t, a, pivAlgRSA1024, 0x9E, em, swOK)
	if err := rsa.VerifyPKCS1v15(&r.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
		t.Errorf("imported RSA key: %v", err)
	}

	pivDo(t, a, pivCmd(pivInsImportKey, pivAlgP256, 0x9A, pivTLV(0x06, make([]byte, 32))...), swIncorrectData) // zero scalar
	pivDo(t, a, pivCmd(pivInsImportKey, pivAlgX25519, pivSlotAttestation, pivTLV(0x08, x.Bytes())...), swIncorrectP1P2)
}

// pkcs1v15 pads a SHA-256 digest for signing, as piv-go does on the host.
func pivPKCS1v15(t testing.TB, size int, digest []byte) []byte {
	t.Helper()
	prefix := []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	em := []byte{0x00, 0x01}
	em = append(em, bytes.Repeat([]byte{0xFF}, size-3-len(prefix)-len(digest))...)
	em = append(em, 0x00)
	em = append(em, prefix...)
	return append(em, digest...)
}

// TestPIVGenerateRSA2048 is the one test that generates an RSA 2048 key:
// slow under -race, so nothing else does.
func TestPIVGenerateRSA2048(t *testing.T) {
	t.Parallel()
	a, _ := newAuthedPIV(t)
	pub := pivGenerate(t, a, 0x9A, pivAlgRSA2048, pivPINPolicyNever, pivTouchNever).(*rsa.PublicKey)
	if pub.N.BitLen() != 2048 || pub.E != 65537 {
		t.Fatalf("RSA key of %d bits, e = %d", pub.N.BitLen(), pub.E)
	}
	digest := sha256.Sum256([]byte("rsa"))
	sig := pivSign(t, a, pivAlgRSA2048, 0x9A, pivPKCS1v15(t, 256, digest[:]), swOK)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		t.Errorf("RSA signature: %v", err)
	}
	pivSign(t, a, pivAlgRSA2048, 0x9A, digest[:], swIncorrectData) // not a full block
}

// TestPIVDeterministic checks that the same seed gives the same keys and
// attestation certificates.
func TestPIVDeterministic(t *testing.T) {
	t.Parallel()
	run := func() ([]byte, []byte) {
		a, _ := newAuthedPIV(t)
		gen := pivDo(t, a, pivCmd(pivInsGenerate, 0, 0x9A, 0xAC, 0x03, 0x80, 0x01, pivAlgP256), swOK)
		return gen, pivDo(t, a, pivCmd(pivInsAttest, 0x9A, 0), swOK)
	}
	g1, a1 := run()
	g2, a2 := run()
	if !bytes.Equal(g1, g2) || !bytes.Equal(a1, a2) {
		t.Error("same seed, different key or attestation")
	}
}

func TestPIVRejectsMalformed(t *testing.T) {
	t.Parallel()
	a, _ := newTestPIV(t, pivFW571)
	tests := []struct {
		name string
		cmd  command
		want uint16
	}{
		{"class", command{cla: 0x80, ins: pivInsGetVersion}, swClaNotSupported},
		{"instruction", pivCmd(0x42, 0, 0), swInsNotSupported},
		{"GENERAL AUTHENTICATE not a 7C", pivCmd(pivInsAuthenticate, pivAlgAES192, pivSlotMgmt, 0x7D, 0x02, 0x80, 0x00), swIncorrectData},
		{"GENERAL AUTHENTICATE truncated", pivCmd(pivInsAuthenticate, pivAlgAES192, pivSlotMgmt, 0x7C, 0x05, 0x80, 0x00), swIncorrectData},
		{"GENERAL AUTHENTICATE trailing", pivCmd(pivInsAuthenticate, pivAlgAES192, pivSlotMgmt, 0x7C, 0x02, 0x80, 0x00, 0x00), swIncorrectData},
		{"witness without request", pivCmd(pivInsAuthenticate, pivAlgAES192, pivSlotMgmt, pivTLV(0x7C, pivTLV(0x80, make([]byte, 16)), pivTLV(0x81, make([]byte, 16)))...), swSecurityStatus},
		{"CHANGE REFERENCE short", pivCmd(pivInsChangeRef, 0, pivRefPIN, 1, 2), swWrongLength},
		{"metadata unknown slot", pivCmd(pivInsGetMetadata, 0, 0x42), swRefNotFound},
		{"attest P2", pivCmd(pivInsAttest, 0x9A, 1), swIncorrectP1P2},
		{"SET MGMT KEY P1", pivCmd(pivInsSetMgmtKey, 0, 0xFF), swIncorrectP1P2},
		{"RESET RETRY COUNTER for the PUK", pivCmd(pivInsResetRetry, 0, pivRefPUK, append(pivPad("12345678"), pivPad("123456")...)...), swRefNotFound},
		{"RESET RETRY COUNTER P1", pivCmd(pivInsResetRetry, 1, pivRefPIN, append(pivPad("12345678"), pivPad("123456")...)...), swIncorrectP1P2},
		{"RESET RETRY COUNTER bad new PIN", pivCmd(pivInsResetRetry, 0, pivRefPIN, append(pivPad("12345678"), 0x31, 0xFF, 0x32, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF)...), swIncorrectData},
		{"GENERATE needs the management key", pivCmd(pivInsGenerate, 0, 0x9A, 0xAC, 0x03, 0x80, 0x01, pivAlgP256), swSecurityStatus},
		{"IMPORT needs the management key", pivCmd(pivInsImportKey, pivAlgP256, 0x9A, pivTLV(0x06, make([]byte, 32))...), swSecurityStatus},
		{"GENERAL AUTHENTICATE on F9", pivCmd(pivInsAuthenticate, pivAlgP256, pivSlotAttestation, pivTLV(0x7C, []byte{0x82, 0x00}, pivTLV(0x81, make([]byte, 32)))...), swIncorrectP1P2},
	}
	for _, tt := range tests {
		if got := a.handle(tt.cmd).sw; got != tt.want {
			t.Errorf("%s: SW %04X, want %04X", tt.name, got, tt.want)
		}
	}
}

func TestPIVFormatHidesSecrets(t *testing.T) {
	t.Parallel()
	a, _ := newTestPIV(t, pivFW571)
	for _, s := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		out := strings.ToLower(fmt.Sprintf(s, a))
		for _, secret := range []string{"123456", "313233343536", "0102030405060708"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s of the applet contains a secret: %s", s, out)
			}
		}
	}
}

func TestPIVState(t *testing.T) {
	t.Parallel()
	a, _ := newAuthedPIV(t)
	pub := pivGenerate(t, a, 0x9C, pivAlgP384, pivPINPolicyDefault, pivTouchCached)
	pivDo(t, a, pivVerifyCmd("000000"), 0x63C2)
	pivDo(t, a, pivCmd(pivInsChangeRef, 0, pivRefPUK, append(pivPad("12345678"), pivPad("24682468")...)...), swOK)

	got := a.state()
	want := PIVState{
		PINRetries: 2, PINMaxRetries: 3, PUKRetries: 3, PUKMaxRetries: 3,
		DefaultPIN: true, DefaultManagementKey: true, ManagementKeyAlgorithm: pivAlgAES192,
		Keys: []PIVKeyState{
			{Slot: 0x9C, Algorithm: pivAlgP384, PINPolicy: pivPINPolicyAlways, TouchPolicy: pivTouchCached},
			{Slot: pivSlotAttestation, Algorithm: pivAlgP256, PINPolicy: pivPINPolicyNever, TouchPolicy: pivTouchNever, Imported: true},
		},
		Objects: []uint32{pivObjAttestation},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(PIVKeyState{}, "PublicKey")); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
	if len(got.Keys) == 2 && !pub.(*ecdsa.PublicKey).Equal(got.Keys[0].PublicKey) {
		t.Error("state: public key of 9C differs from the generated one")
	}
}

// pivFailingReader fails every read.
type pivFailingReader struct{}

func (pivFailingReader) Read([]byte) (int, error) { return 0, errTouchTimeout }

// TestPIVRandomnessFailure checks that a failing randomness source is
// reported (6F00), not swallowed, and that the applet recovers.
func TestPIVRandomnessFailure(t *testing.T) {
	t.Parallel()
	te := &pivTestEnv{now: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	te.env = &env{rand: pivFailingReader{}, now: func() time.Time { return te.now }, firmware: pivFW571, model: YubiKey5NFC, pivCA: testPIVCA(t)}
	a := newPIVApplet(te.env)
	a.selectApplet()
	pivDo(t, a, pivCmd(pivInsGetVersion, 0, 0), swUnknownError)
	te.env.rand = rand.NewChaCha8([32]byte{})
	pivDo(t, a, pivCmd(pivInsGetVersion, 0, 0), swOK)
	pivAuthDefault(t, a)
	te.env.rand = pivFailingReader{}
	pivDo(t, a, pivCmd(pivInsGenerate, 0, 0x9A, 0xAC, 0x03, 0x80, 0x01, pivAlgP256), swUnknownError)
	pivDo(t, a, pivCmd(pivInsGetMetadata, 0, 0x9A), swRefNotFound)
	if _, ok := a.keys[pivSlotAttestation]; !ok {
		t.Error("no attestation key after recovery")
	}
}

func TestPIVMoveAndDeleteKey(t *testing.T) {
	t.Parallel()
	a, _ := newTestPIV(t, pivFW571)
	move := func(dst, src byte) command { return pivCmd(pivInsMoveKey, dst, src) }
	pivDo(t, a, move(0x9C, 0x9A), swSecurityStatus)
	pivAuthDefault(t, a)
	pivDo(t, a, move(0x9C, 0x9A), swRefNotFound)
	pub := pivGenerate(t, a, 0x9A, pivAlgP256, pivPINPolicyNever, pivTouchNever).(*ecdsa.PublicKey)
	pivGenerate(t, a, 0x9D, pivAlgP256, pivPINPolicyNever, pivTouchNever)
	pivDo(t, a, move(0x9D, 0x9A), swIncorrectData) // destination taken
	pivDo(t, a, move(0x9A, pivSlotAttestation), swIncorrectP1P2)
	pivDo(t, a, move(0x85, 0x9A), swOK)

	pivDo(t, a, pivCmd(pivInsGetMetadata, 0, 0x9A), swRefNotFound)
	digest := sha256.Sum256([]byte("moved"))
	if sig := pivSign(t, a, pivAlgP256, 0x85, digest[:], swOK); !ecdsa.VerifyASN1(pub, digest[:], sig) {
		t.Error("moved key does not sign as the generated one")
	}
	pivDo(t, a, move(0xFF, 0x85), swOK)
	pivSign(t, a, pivAlgP256, 0x85, digest[:], swRefNotFound)
	pivDo(t, a, move(0xFF, pivSlotAttestation), swOK) // the attestation key can be deleted
	pivGenerate(t, a, 0x9E, pivAlgP256, pivPINPolicyNever, pivTouchNever)
	pivDo(t, a, pivCmd(pivInsAttest, 0x9E, 0), swIncorrectData)

	old, _ := newTestPIV(t, Version{5, 4, 3})
	pivDo(t, old, move(0xFF, 0x9A), swInsNotSupported)
}

// TestPIVCustomAttestationCA replaces the factory attestation key and
// certificate, as an organisation running its own attestation CA does, and
// checks that ATTEST then chains to that CA.
func TestPIVCustomAttestationCA(t *testing.T) {
	t.Parallel()
	a, _ := newAuthedPIV(t)

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := testDay
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Org PIV Root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(nil, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}

	// The organisation's attestation key lives in F9, its certificate in 5FFF01.
	f9Pub := pivGenerate(t, a, pivSlotAttestation, pivAlgP384, pivPINPolicyDefault, pivTouchDefault)
	f9Tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Org PIV Attestation"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	f9DER, err := x509.CreateCertificate(nil, f9Tmpl, caCert, f9Pub, caKey)
	if err != nil {
		t.Fatal(err)
	}
	put := append([]byte{0x5C, 0x03, 0x5F, 0xFF, 0x01}, pivTLV(0x53, pivCertObject(f9DER))...)
	pivDo(t, a, pivCmd(pivInsPutData, 0x3F, 0xFF, put...), swOK)

	pivGenerate(t, a, 0x9D, pivAlgEd25519, pivPINPolicyNever, pivTouchNever)
	slotCert, err := x509.ParseCertificate(pivDo(t, a, pivCmd(pivInsAttest, 0x9D, 0), swOK))
	if err != nil {
		t.Fatal(err)
	}
	f9Cert, err := x509.ParseCertificate(f9DER)
	if err != nil {
		t.Fatal(err)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(caCert)
	inter.AddCert(f9Cert)
	if _, err := slotCert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("attestation under the organisation's CA: %v", err)
	}
	if got := slotCert.Issuer.CommonName; got != "Org PIV Attestation" {
		t.Errorf("issuer %q", got)
	}
	// The factory chain no longer verifies it.
	factory := x509.NewCertPool()
	factory.AddCert(testPIVCA(t).Root())
	if _, err := slotCert.Verify(x509.VerifyOptions{Roots: factory, Intermediates: inter, CurrentTime: now}); err == nil {
		t.Error("attestation still verifies under the factory CA")
	}
}

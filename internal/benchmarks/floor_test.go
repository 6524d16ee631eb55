package benchmarks_test

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"io"
	"runtime"
	"testing"
	"time"

	josecipher "github.com/go-jose/go-jose/v4/cipher"

	"github.com/preenroll/preenroll/internal/cputime"
)

// Plaintext sizes of the four pre-registration messages, rounded up from
// what the fakes exchange (the credential response carries the packed
// attestation with its certificate, base64 in a JWS).
const (
	pinRequestSize   = 512
	credRequestSize  = 1024
	pinResponseSize  = 1024
	credResponseSize = 3072
)

// floorOps lists, per key, the cryptographic operations its lifecycle
// cannot avoid, and who does them. The numbers are what crypto.run does.
//
//	P-384 key generation   5  Okta's response key; the ephemeral key of each of the 4 JWEs
//	P-384 ECDH             8  seal and open of 4 JWEs (pin request, cred request, pin response, cred response)
//	AES-KW wrap + unwrap   4+4  the content key of each JWE (A256KW)
//	AES-256-GCM seal+open  4+4  each JWE's content; +1 seal/open of the PIN Okta stores until send-pin
//	ES384 sign + verify    2+2  Yubico signs both responses (JWS), Okta verifies them
//	P-256 key generation   5  2 authenticator key-agreement keys (factory power-up, user's power-up);
//	                          2 platform key-agreement keys (one per power-up: the platform
//	                          reuses its shared secret while the key's key is unchanged); the
//	                          credential key
//	P-256 ECDH             4  both sides of the 2 key agreements, each with HKDF
//	AES-256-CBC + HMAC     per side of 4 PIN-protocol sessions: factory setPIN, factory
//	                          getPinUvAuthToken (mc+acfg permissions, also authorises
//	                          forcePINChange), user changePIN, user getPinUvAuthToken (ga):
//	                          the encrypted PIN / token and its pinUvAuthParam (protocol 2)
//	ECDSA P-256 sign       2  packed attestation at the factory; the assertion at sign-in
//	ECDSA P-256 verify     3  Okta verifies the attestation and the attestation certificate
//	                          (issued by a P-256 intermediate) and the assertion
//	ECDSA P-384 verify     1  the intermediate under the P-384 root
//
// Not counted: TLS (the fakes are plain HTTP on loopback), the simulator's
// per-key attestation key and certificate (a real YubiKey's is made at
// manufacture), hashing of requests.
type cryptoFloor struct {
	transport *ecdh.PrivateKey  // Yubico's transport key (P-384)
	signing   *ecdsa.PrivateKey // Yubico's response signing key (P-384)
	root      *ecdsa.PrivateKey // attestation root (P-384)
	inter     *ecdsa.PrivateKey // attestation intermediate (P-256)
	att       *ecdsa.PrivateKey // the key's attestation key (P-256)
	pinStore  cipher.AEAD       // Okta's key for stored PINs
	msgs      [4][]byte         // plaintexts: pin req, cred req, pin resp, cred resp
	sigs      [3][]byte         // intermediate-by-root, att-cert-by-intermediate signatures
	hashes    [2][]byte         // the certificates' to-be-signed hashes (SHA-384, SHA-256)
}

func newCryptoFloor(tb testing.TB) *cryptoFloor {
	tb.Helper()
	must := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	f := &cryptoFloor{}
	var err error
	f.transport, err = ecdh.P384().GenerateKey(rand.Reader)
	must(err)
	f.signing, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	must(err)
	f.root, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	must(err)
	f.inter, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	f.att, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	key := make([]byte, 32)
	rand.Read(key)
	block, err := aes.NewCipher(key)
	must(err)
	f.pinStore, err = cipher.NewGCM(block)
	must(err)
	for i, n := range []int{pinRequestSize, credRequestSize, pinResponseSize, credResponseSize} {
		f.msgs[i] = make([]byte, n)
		rand.Read(f.msgs[i])
	}
	h384 := sha512.Sum384([]byte("intermediate tbsCertificate"))
	h256 := sha256.Sum256([]byte("attestation tbsCertificate"))
	f.hashes = [2][]byte{h384[:], h256[:]}
	f.sigs[0], err = ecdsa.SignASN1(rand.Reader, f.root, f.hashes[0])
	must(err)
	f.sigs[1], err = ecdsa.SignASN1(rand.Reader, f.inter, f.hashes[1])
	must(err)
	return f
}

// jwe is ECDH-ES+A256KW / A256GCM sealed to one P-384 key: what go-jose
// does minus the JSON and base64.
type jwe struct {
	epk *ecdh.PublicKey
	ek  []byte // wrapped content key
	iv  []byte
	ct  []byte
}

func seal(tb testing.TB, to *ecdh.PublicKey, plaintext []byte) jwe {
	eph, err := ecdh.P384().GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	z, err := eph.ECDH(to)
	if err != nil {
		tb.Fatal(err)
	}
	kek := concatKDF(z)
	cek := make([]byte, 32)
	rand.Read(cek)
	ek, err := josecipher.KeyWrap(aesBlock(tb, kek), cek)
	if err != nil {
		tb.Fatal(err)
	}
	gcm, err := cipher.NewGCM(aesBlock(tb, cek))
	if err != nil {
		tb.Fatal(err)
	}
	iv := make([]byte, gcm.NonceSize())
	rand.Read(iv)
	return jwe{epk: eph.PublicKey(), ek: ek, iv: iv, ct: gcm.Seal(nil, iv, plaintext, []byte("protected header"))}
}

func open(tb testing.TB, with *ecdh.PrivateKey, m jwe) []byte {
	z, err := with.ECDH(m.epk)
	if err != nil {
		tb.Fatal(err)
	}
	cek, err := josecipher.KeyUnwrap(aesBlock(tb, concatKDF(z)), m.ek)
	if err != nil {
		tb.Fatal(err)
	}
	gcm, err := cipher.NewGCM(aesBlock(tb, cek))
	if err != nil {
		tb.Fatal(err)
	}
	pt, err := gcm.Open(nil, m.iv, m.ct, []byte("protected header"))
	if err != nil {
		tb.Fatal(err)
	}
	return pt
}

func concatKDF(z []byte) []byte {
	kek := make([]byte, 32)
	r := josecipher.NewConcatKDF(crypto.SHA256, z, []byte("ECDH-ES+A256KW"), nil, nil, []byte{0, 0, 1, 0}, nil)
	io.ReadFull(r, kek)
	return kek
}

func aesBlock(tb testing.TB, key []byte) cipher.Block {
	b, err := aes.NewCipher(key)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// pinAgree is a CTAP2 PIN/UV auth protocol 2 key agreement: the
// platform's key pair, both sides' ECDH with the authenticator's key and
// HKDF. It returns each side's HMAC and AES keys. A platform reuses it for
// every session until the authenticator's key changes (at power-up), so
// the lifecycle needs one per power-up: the factory's and the user's.
func pinAgree(tb testing.TB, auth *ecdh.PrivateKey) [2][2][]byte {
	plat, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	z1, err := plat.ECDH(auth.PublicKey())
	if err != nil {
		tb.Fatal(err)
	}
	z2, err := auth.ECDH(plat.PublicKey())
	if err != nil {
		tb.Fatal(err)
	}
	var keys [2][2][]byte
	for i, z := range [][]byte{z1, z2} {
		hmacKey, _ := hkdf.Key(sha256.New, z, make([]byte, 32), "CTAP2 HMAC key", 32)
		aesKey, _ := hkdf.Key(sha256.New, z, make([]byte, 32), "CTAP2 AES key", 32)
		keys[i] = [2][]byte{hmacKey, aesKey}
	}
	return keys
}

// pinSession is one PIN/UV auth protocol 2 exchange under an agreed key:
// on each side one AES-256-CBC encryption and decryption of a 64-byte
// block (the new PIN or the PIN hash) and its HMAC-SHA-256
// pinUvAuthParam.
func pinSession(tb testing.TB, keys [2][2][]byte) {
	for _, k := range keys {
		block := aesBlock(tb, k[1])
		iv := make([]byte, 16)
		rand.Read(iv)
		buf := make([]byte, 64)
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(buf, buf)
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(buf, buf)
		m := hmac.New(sha256.New, k[0])
		m.Write(buf)
		m.Sum(nil)
	}
}

// run does one key's unavoidable crypto (see cryptoFloor).
func (f *cryptoFloor) run(tb testing.TB) {
	// Okta enroll: a response key, the PIN and credential requests sealed
	// to Yubico's transport key.
	resp, err := ecdh.P384().GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	pinReq := seal(tb, f.transport.PublicKey(), f.msgs[0])
	credReq := seal(tb, f.transport.PublicKey(), f.msgs[1])
	// Yubico's factory opens them and programs the key.
	open(tb, f.transport, pinReq)
	open(tb, f.transport, credReq)
	authKA, err := ecdh.P256().GenerateKey(rand.Reader) // power-up
	if err != nil {
		tb.Fatal(err)
	}
	keys := pinAgree(tb, authKA)
	pinSession(tb, keys) // setPIN
	pinSession(tb, keys) // getPinUvAuthToken (mc, acfg)
	cred, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	attHash := sha256.Sum256(append(f.msgs[1][:200], byte(cred.X.Bit(0))))
	attSig, err := ecdsa.SignASN1(rand.Reader, f.att, attHash[:])
	if err != nil {
		tb.Fatal(err)
	}
	// Yubico signs (ES384) and seals both responses to Okta's key.
	var sealed [2]jwe
	var sigs [2][]byte
	for i, m := range [][]byte{f.msgs[2], f.msgs[3]} {
		h := sha512.Sum384(m)
		if sigs[i], err = ecdsa.SignASN1(rand.Reader, f.signing, h[:]); err != nil {
			tb.Fatal(err)
		}
		sealed[i] = seal(tb, resp.PublicKey(), m)
	}
	// Okta activate: open, verify the JWS and the attestation; store the
	// PIN; send-pin opens it.
	for i := range sealed {
		m := open(tb, resp, sealed[i])
		h := sha512.Sum384(m)
		if !ecdsa.VerifyASN1(&f.signing.PublicKey, h[:], sigs[i]) {
			tb.Fatal("ES384 verify failed")
		}
	}
	if !ecdsa.VerifyASN1(&f.att.PublicKey, attHash[:], attSig) ||
		!ecdsa.VerifyASN1(&f.inter.PublicKey, f.hashes[1], f.sigs[1]) ||
		!ecdsa.VerifyASN1(&f.root.PublicKey, f.hashes[0], f.sigs[0]) {
		tb.Fatal("attestation verify failed")
	}
	nonce := make([]byte, f.pinStore.NonceSize())
	rand.Read(nonce)
	stored := f.pinStore.Seal(nil, nonce, []byte("12345678"), nil)
	if _, err := f.pinStore.Open(nil, nonce, stored, nil); err != nil {
		tb.Fatal(err)
	}
	// The user: power-up, changePIN, sign in with the new PIN.
	authKA, err = ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	keys = pinAgree(tb, authKA)
	pinSession(tb, keys) // changePIN
	pinSession(tb, keys) // getPinUvAuthToken (ga)
	h := sha256.Sum256(f.msgs[0][:100])
	sig, err := ecdsa.SignASN1(rand.Reader, cred, h[:])
	if err != nil {
		tb.Fatal(err)
	}
	if !ecdsa.VerifyASN1(&cred.PublicKey, h[:], sig) {
		tb.Fatal("assertion verify failed")
	}
}

// BenchmarkCryptoFloor is one key's unavoidable crypto, done directly.
func BenchmarkCryptoFloor(b *testing.B) {
	f := newCryptoFloor(b)
	for b.Loop() {
		f.run(b)
	}
}

// BenchmarkLifecycleVsFloor alternates one key's lifecycle (as
// BenchmarkLifecycle) with its crypto floor (as BenchmarkCryptoFloor) and
// reports the ratio of the process CPU time each takes (target: at most
// 1.3). Process CPU time counts our work on every thread (HTTP handlers,
// the fakes, GC) and not the time spent waiting for a core on a loaded
// machine; both halves pay the same GC background rate.
func BenchmarkLifecycleVsFloor(b *testing.B) {
	lifecycleVsFloor(b, worldOptions{})
}

// BenchmarkLifecycleVsFloorSQLite is BenchmarkLifecycleVsFloor with the
// Service on fulfillment's SQLite store (a file in a temporary directory,
// modernc.org/sqlite in this process, so its CPU counts in the lifecycle).
func BenchmarkLifecycleVsFloorSQLite(b *testing.B) {
	lifecycleVsFloor(b, worldOptions{store: sqliteStore(b)()})
}

func lifecycleVsFloor(b *testing.B, o worldOptions) {
	w := newWorld(b, o)
	ctx := b.Context()
	w.lifecycle(ctx, w.addUsers(1))
	f := newCryptoFloor(b)
	runtime.GC()
	var lifeUser, lifeSys, floorUser, floorSys time.Duration
	for b.Loop() {
		users := w.addUsers(1)
		u0, s0 := cputime.ProcessSplit()
		w.lifecycle(ctx, users)
		u1, s1 := cputime.ProcessSplit()
		f.run(b)
		u2, s2 := cputime.ProcessSplit()
		lifeUser += u1 - u0
		lifeSys += s1 - s0
		floorUser += u2 - u1
		floorSys += s2 - s1
	}
	life, floor := lifeUser+lifeSys, floorUser+floorSys
	b.ReportMetric(float64(life)/float64(floor), "life/floor")
	b.ReportMetric(float64(life.Microseconds())/float64(b.N), "life-cpu-µs/op")
	b.ReportMetric(float64(floor.Microseconds())/float64(b.N), "floor-cpu-µs/op")
	// The same split into user space and the kernel (system calls:
	// loopback sockets, fsync, the scheduler's futex wake-ups): what the
	// ratio would be on user time alone, and the kernel's share of each.
	b.ReportMetric(float64(lifeUser)/float64(floorUser), "life/floor-user")
	b.ReportMetric(float64(lifeSys.Microseconds())/float64(b.N), "life-sys-µs/op")
	b.ReportMetric(float64(floorSys.Microseconds())/float64(b.N), "floor-sys-µs/op")
}

package simulator

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"time"
	"unicode/utf8"
)

// The PIV applet models a YubiKey 5's PIV application: NIST SP 800-73-4
// (Part 2 §3 card commands) plus Yubico's extensions
// (https://developers.yubico.com/PIV/Introduction/Yubico_extensions.html,
// https://docs.yubico.com/yesdk/users-manual/application-piv/commands.html).
// docs/simulator.md §PIV applet lists what piv-go, ykman and yubico-piv-tool
// send and expect.

// pivAID is the PIV application identifier (NIST SP 800-73-4 Part 1 §2.2).
var pivAID = []byte{0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00}

// PIV instructions: ISO 7816 / SP 800-73-4 and Yubico's extensions.
const (
	pivInsVerify         = 0x20
	pivInsChangeRef      = 0x24
	pivInsResetRetry     = 0x2C
	pivInsGenerate       = 0x47
	pivInsAuthenticate   = 0x87
	pivInsGetData        = 0xCB
	pivInsPutData        = 0xDB
	pivInsMoveKey        = 0xF6
	pivInsGetMetadata    = 0xF7
	pivInsGetSerial      = 0xF8
	pivInsAttest         = 0xF9
	pivInsSetRetries     = 0xFA
	pivInsReset          = 0xFB
	pivInsGetVersion     = 0xFD
	pivInsImportKey      = 0xFE
	pivInsSetMgmtKey     = 0xFF
	pivRefPIN            = 0x80 // key reference of the PIV Card Application PIN
	pivRefPUK            = 0x81 // key reference of the PIN Unblocking Key
	pivSlotMgmt          = 0x9B // PIV Card Application Administration Key
	pivSlotAttestation   = 0xF9 // Yubico's attestation key
	pivSwNotEnoughMemory = 0x6A84
)

// Algorithm identifiers (NIST SP 800-78-4 Table 6-2; 0xE0/0xE1 are Yubico's
// for firmware 5.7).
const (
	pivAlg3DES    = 0x03
	pivAlgAES128  = 0x08
	pivAlgAES192  = 0x0A
	pivAlgAES256  = 0x0C
	pivAlgRSA1024 = 0x06
	pivAlgRSA2048 = 0x07
	pivAlgRSA3072 = 0x05
	pivAlgRSA4096 = 0x16
	pivAlgP256    = 0x11
	pivAlgP384    = 0x14
	pivAlgEd25519 = 0xE0
	pivAlgX25519  = 0xE1
	pivAlgPIN     = 0xFF // what GET METADATA reports for the PIN and PUK
)

// PIN and touch policies (Yubico's GENERATE tags AA and AB). 0 means "the
// slot's default" on the wire; stored keys always hold a resolved policy.
const (
	pivPINPolicyDefault = 0x00
	pivPINPolicyNever   = 0x01
	pivPINPolicyOnce    = 0x02
	pivPINPolicyAlways  = 0x03

	pivTouchDefault = 0x00
	pivTouchNever   = 0x01
	pivTouchAlways  = 0x02
	pivTouchCached  = 0x03

	pivOriginGenerated = 0x01
	pivOriginImported  = 0x02
)

// pivTouchCacheFor is how long a touch satisfies a "cached" touch policy
// (Yubico: 15 seconds).
const pivTouchCacheFor = 15 * time.Second

// Factory defaults (docs/yubico.md §PIV defaults).
var (
	pivDefaultPIN     = []byte("123456")
	pivDefaultPUK     = []byte("12345678")
	pivDefaultMgmtKey = []byte{
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	}
)

const (
	pivDefaultRetries = 3
	pivPINLen         = 8 // PINs travel FF-padded to 8 bytes
	pivMinPINLen      = 6
)

// pivCredential is the PIN or the PUK: its FF-padded value and its retry
// counter.
type pivCredential struct {
	value      [pivPINLen]byte
	retries    int // attempts left; 0 means blocked
	maxRetries int
}

func newPIVCredential(plain []byte, maxRetries int) pivCredential {
	c := pivCredential{retries: maxRetries, maxRetries: maxRetries}
	c.set(plain)
	return c
}

func (c *pivCredential) set(plain []byte) {
	for i := range c.value {
		c.value[i] = 0xFF
	}
	copy(c.value[:], plain)
}

func (c *pivCredential) blocked() bool { return c.retries <= 0 }

// check compares a padded candidate in constant time and updates the retry
// counter: it returns swOK, 63Cx (wrong, x tries left) or 6983 (blocked).
func (c *pivCredential) check(candidate []byte) uint16 {
	if c.blocked() {
		return swAuthBlocked
	}
	if len(candidate) == pivPINLen && subtle.ConstantTimeCompare(candidate, c.value[:]) == 1 {
		c.retries = c.maxRetries
		return swOK
	}
	c.retries--
	return pivRetriesSW(c.retries)
}

func (c *pivCredential) isDefault(plain []byte) bool {
	var d pivCredential
	d.set(plain)
	return subtle.ConstantTimeCompare(d.value[:], c.value[:]) == 1
}

// pivRetriesSW is the "verification failed" status word: 63Cx with x the
// tries left (capped at 15, the nibble's range).
func pivRetriesSW(n int) uint16 {
	n = max(0, min(n, 15))
	return swVerifyFailBase | uint16(n)
}

// pivMgmtKey is the card administration key of slot 9B.
type pivMgmtKey struct {
	alg   byte // pivAlg3DES or an AES algorithm
	key   []byte
	touch bool // Yubico: touch required to authenticate
}

// pivApplet is the PIV applet. Its persistent state survives power cycles;
// the volatile part (verified PIN, authenticated management key, pending
// challenge, touch cache) is cleared by SELECT and by power off. The card
// serializes calls, so it needs no lock.
type pivApplet struct {
	env *env

	// Persistent state.
	pin, puk pivCredential
	mgmt     pivMgmtKey
	keys     map[byte]*pivKey  // by slot
	objects  map[uint32][]byte // data objects by tag: the content of tag 53
	// attestationReady is set once slot F9 has been provisioned (its key
	// and certificate) or overwritten by the host.
	attestationReady bool

	// Volatile state.
	pinVerified bool
	// pinFresh is set by a successful VERIFY and lasts for exactly one more
	// command: what PIN policy "always" requires.
	pinFresh         bool
	mgmtAuthed       bool
	mgmtPending      pivMgmtChallenge
	touchCachedUntil time.Time
}

// pivMgmtChallenge is the state between the two GENERAL AUTHENTICATE
// commands of a management-key authentication.
type pivMgmtChallenge struct {
	kind  byte   // 0 none, 0x80 witness (mutual auth), 0x81 challenge (card-only auth)
	alg   byte   // algorithm of the first command
	plain []byte // the witness or challenge in clear
}

func newPIVApplet(e *env) *pivApplet {
	a := &pivApplet{env: e}
	a.factoryReset()
	return a
}

// factoryReset puts the applet in its factory state, keeping the attestation
// key and certificate (slot F9 and object 5FFF01), as a PIV reset does.
func (a *pivApplet) factoryReset() {
	a.pin = newPIVCredential(pivDefaultPIN, pivDefaultRetries)
	a.puk = newPIVCredential(pivDefaultPUK, pivDefaultRetries)
	clear(a.mgmt.key)
	a.mgmt = pivMgmtKey{alg: a.defaultMgmtAlg(), key: bytes.Clone(pivDefaultMgmtKey)}
	keys := map[byte]*pivKey{}
	objects := map[uint32][]byte{}
	if k, ok := a.keys[pivSlotAttestation]; ok {
		keys[pivSlotAttestation] = k
	}
	if o, ok := a.objects[pivObjAttestation]; ok {
		objects[pivObjAttestation] = o
	}
	a.keys, a.objects = keys, objects
	a.clearSession()
}

// defaultMgmtAlg is AES-192 from firmware 5.7 on, 3DES before
// (docs/yubico.md §PIV defaults).
func (a *pivApplet) defaultMgmtAlg() byte {
	if a.fwAtLeast(5, 7, 0) {
		return pivAlgAES192
	}
	return pivAlg3DES
}

func (a *pivApplet) fwAtLeast(major, minor, patch uint8) bool {
	v := a.env.firmware
	if v.Major != major {
		return v.Major > major
	}
	if v.Minor != minor {
		return v.Minor > minor
	}
	return v.Patch >= patch
}

func (a *pivApplet) clearSession() {
	a.pinVerified = false
	a.pinFresh = false
	a.mgmtAuthed = false
	clear(a.mgmtPending.plain)
	a.mgmtPending = pivMgmtChallenge{}
	a.touchCachedUntil = time.Time{}
}

// Format keeps PINs, the management key and private keys out of fmt
// output: only the shape of the state is printed.
func (a *pivApplet) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "pivApplet{keys:%d objects:%d pinRetries:%d/%d pukRetries:%d/%d}",
		len(a.keys), len(a.objects), a.pin.retries, a.pin.maxRetries, a.puk.retries, a.puk.maxRetries)
}

func (a *pivApplet) aid() []byte { return pivAID }

func (a *pivApplet) capability() Capability { return CapPIV }

// selectApplet answers SELECT with the Application Property Template
// (SP 800-73-4 Part 2 §3.1.1): 61 { 4F PIX, 79 { 4F RID } }
// (docs/simulator.md §PIV applet).
func (a *pivApplet) selectApplet() response {
	a.clearSession()
	apt := pivTLV(0x61,
		pivTLV(0x4F, pivAID[5:]),
		pivTLV(0x79, pivTLV(0x4F, pivAID[:5])),
	)
	return response{data: apt, sw: swOK}
}

func (a *pivApplet) powerOff() { a.clearSession() }

// handle runs one command. Unknown instructions answer 6D00, a class
// other than 00 answers 6E00.
func (a *pivApplet) handle(cmd command) response {
	fresh := a.pinFresh
	a.pinFresh = false
	if cmd.cla&^0x10 != 0 {
		return response{sw: swClaNotSupported}
	}
	// Slot F9 is provisioned on first use, so building an applet stays
	// cheap. Only a failing randomness source makes it fail; the command
	// then answers 6F00 and the next one tries again.
	if err := a.provisionAttestation(); err != nil {
		return pivSW(swUnknownError)
	}
	switch cmd.ins {
	case pivInsVerify:
		return a.verify(cmd)
	case pivInsChangeRef:
		return a.changeReference(cmd)
	case pivInsResetRetry:
		return a.resetRetryCounter(cmd)
	case pivInsGenerate:
		return a.generate(cmd)
	case pivInsAuthenticate:
		return a.authenticate(cmd, fresh)
	case pivInsGetData:
		return a.getData(cmd)
	case pivInsPutData:
		return a.putData(cmd)
	case pivInsMoveKey:
		return a.moveKey(cmd)
	case pivInsGetMetadata:
		return a.metadata(cmd)
	case pivInsGetSerial:
		return a.serial(cmd)
	case pivInsAttest:
		return a.attest(cmd)
	case pivInsSetRetries:
		return a.setRetries(cmd)
	case pivInsReset:
		return a.reset(cmd)
	case pivInsGetVersion:
		return a.version(cmd)
	case pivInsImportKey:
		return a.importKey(cmd)
	case pivInsSetMgmtKey:
		return a.setMgmtKey(cmd)
	}
	return response{sw: swInsNotSupported}
}

func pivSW(sw uint16) response { return response{sw: sw} }

// verify is VERIFY (SP 800-73-4 Part 2 §3.2.1). Only the PIN (80) is a
// verifiable reference. Without data it reports the state: 9000 when
// verified, else 63Cx or 6983. P1 FF without data resets the verified
// state.
func (a *pivApplet) verify(cmd command) response {
	if cmd.p2 != pivRefPIN {
		return pivSW(swRefNotFound)
	}
	switch cmd.p1 {
	case 0x00:
	case 0xFF:
		if len(cmd.data) != 0 {
			return pivSW(swWrongLength)
		}
		a.pinVerified = false
		return pivSW(swOK)
	default:
		return pivSW(swIncorrectP1P2)
	}
	if len(cmd.data) == 0 {
		switch {
		case a.pinVerified:
			return pivSW(swOK)
		case a.pin.blocked():
			return pivSW(swAuthBlocked)
		}
		return pivSW(pivRetriesSW(a.pin.retries))
	}
	if len(cmd.data) != pivPINLen {
		return pivSW(swWrongLength)
	}
	sw := a.pin.check(cmd.data)
	a.pinVerified = sw == swOK
	a.pinFresh = a.pinVerified
	return pivSW(sw)
}

// changeReference is CHANGE REFERENCE DATA (SP 800-73-4 Part 2 §3.2.2) for
// the PIN (P2 80) or the PUK (P2 81): data is old ‖ new, each FF-padded to
// 8 bytes. The old value is checked first (costing a retry when wrong),
// then the new one's format.
func (a *pivApplet) changeReference(cmd command) response {
	if cmd.p1 != 0x00 {
		return pivSW(swIncorrectP1P2)
	}
	var cred *pivCredential
	switch cmd.p2 {
	case pivRefPIN:
		cred = &a.pin
	case pivRefPUK:
		cred = &a.puk
	default:
		return pivSW(swRefNotFound)
	}
	if len(cmd.data) != 2*pivPINLen {
		return pivSW(swWrongLength)
	}
	if sw := cred.check(cmd.data[:pivPINLen]); sw != swOK {
		if cmd.p2 == pivRefPIN {
			a.pinVerified = false
		}
		return pivSW(sw)
	}
	plain, ok := a.parseNewPIN(cmd.data[pivPINLen:], cmd.p2 == pivRefPUK)
	if !ok {
		return pivSW(swIncorrectData)
	}
	cred.set(plain)
	if cmd.p2 == pivRefPIN {
		a.pinVerified = true
	}
	return pivSW(swOK)
}

// resetRetryCounter is RESET RETRY COUNTER (SP 800-73-4 Part 2 §3.2.3):
// PUK ‖ new PIN unblocks and sets the PIN.
func (a *pivApplet) resetRetryCounter(cmd command) response {
	if cmd.p1 != 0x00 {
		return pivSW(swIncorrectP1P2)
	}
	if cmd.p2 != pivRefPIN {
		return pivSW(swRefNotFound)
	}
	if len(cmd.data) != 2*pivPINLen {
		return pivSW(swWrongLength)
	}
	if sw := a.puk.check(cmd.data[:pivPINLen]); sw != swOK {
		return pivSW(sw)
	}
	plain, ok := a.parseNewPIN(cmd.data[pivPINLen:], false)
	if !ok {
		return pivSW(swIncorrectData)
	}
	a.pin.set(plain)
	a.pin.retries = a.pin.maxRetries
	a.pinVerified = false
	return pivSW(swOK)
}

// parseNewPIN validates a new FF-padded PIN or PUK and returns it without
// padding: 6 to 8 bytes, no FF inside. From firmware 5.7 a PIN is counted
// in code points and must be UTF-8, and a PUK must be ASCII
// (docs/yubico.md §PIV defaults).
func (a *pivApplet) parseNewPIN(padded []byte, puk bool) ([]byte, bool) {
	plain := padded
	if i := bytes.IndexByte(padded, 0xFF); i >= 0 {
		plain = padded[:i]
		for _, b := range padded[i:] {
			if b != 0xFF {
				return nil, false
			}
		}
	}
	n := len(plain)
	if a.fwAtLeast(5, 7, 0) {
		switch {
		case puk:
			for _, b := range plain {
				if b >= 0x80 {
					return nil, false
				}
			}
		case !utf8.Valid(plain):
			return nil, false
		default:
			n = utf8.RuneCount(plain)
		}
	}
	if n < pivMinPINLen {
		return nil, false
	}
	return plain, true
}

// setRetries is Yubico's SET PIN RETRIES (INS FA, P1 PIN tries, P2 PUK
// tries). It needs the management key and the PIN, and resets PIN and PUK
// to their defaults, so the PIN must be verified again.
func (a *pivApplet) setRetries(cmd command) response {
	if !a.mgmtAuthed || !a.pinVerified {
		return pivSW(swSecurityStatus)
	}
	if cmd.p1 == 0 || cmd.p2 == 0 {
		return pivSW(swIncorrectP1P2)
	}
	a.pin = newPIVCredential(pivDefaultPIN, int(cmd.p1))
	a.puk = newPIVCredential(pivDefaultPUK, int(cmd.p2))
	a.pinVerified = false
	return pivSW(swOK)
}

// reset is Yubico's RESET (INS FB): allowed only when both the PIN and the
// PUK are blocked; it restores the factory state except slot F9.
func (a *pivApplet) reset(cmd command) response {
	if !a.pin.blocked() || !a.puk.blocked() {
		return pivSW(swConditionsNotMet)
	}
	a.factoryReset()
	return pivSW(swOK)
}

// version is Yubico's GET VERSION (INS FD): the firmware version, 3 bytes.
func (a *pivApplet) version(command) response {
	v := a.env.firmware
	return response{data: []byte{v.Major, v.Minor, v.Patch}, sw: swOK}
}

// serial is Yubico's GET SERIAL (INS F8, firmware 5+): 4 bytes big-endian.
func (a *pivApplet) serial(command) response {
	s := a.env.serial
	return response{data: []byte{byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)}, sw: swOK}
}

// touch asks the simulated user for presence as the slot's touch policy
// demands. A cached touch lasts pivTouchCacheFor.
func (a *pivApplet) touch(policy byte) bool {
	switch policy {
	case pivTouchAlways:
	case pivTouchCached:
		if a.env.now().Before(a.touchCachedUntil) {
			return true
		}
	default:
		return true
	}
	if a.env.touch != nil {
		if err := a.env.touch(); err != nil {
			return false
		}
	}
	if policy == pivTouchCached {
		a.touchCachedUntil = a.env.now().Add(pivTouchCacheFor)
	}
	return true
}

package simulator

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/google/uuid"
)

// TouchPolicy is how the simulated user answers when the key asks for a
// touch.
type TouchPolicy int

// Touch policies.
const (
	TouchApprove TouchPolicy = iota // the user touches the key (default)
	TouchDeny                       // the user refuses (CTAP2_ERR_OPERATION_DENIED)
	TouchTimeout                    // nobody touches it (CTAP2_ERR_USER_ACTION_TIMEOUT)
)

// touchNames names every touch policy.
var touchNames = map[TouchPolicy]string{TouchApprove: "approve", TouchDeny: "deny", TouchTimeout: "timeout"}

// String names the policy.
func (p TouchPolicy) String() string { return enumString(p, "TouchPolicy", touchNames) }

// enumString is the String of an enumeration: its name in names, or
// typ(n) for a value without one.
func enumString[T ~int](v T, typ string, names map[T]string) string {
	if s, ok := names[v]; ok {
		return s
	}
	return fmt.Sprintf("%s(%d)", typ, int(v))
}

// atr is the answer to reset of a YubiKey 5 over USB CCID (docs/simulator.md
// §APDUs): T=1, historical bytes ending in "YubiKey". ykman reads USB from
// atr[1]&0xF0 == 0xF0.
var atr = []byte{0x3B, 0xFD, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x15, 0x80, 0x73, 0xC0, 0x21, 0xC0, 0x57, 0x59, 0x75, 0x62, 0x69, 0x4B, 0x65, 0x79, 0x40}

// Option configures a [Key].
type Option func(*config) error

type config struct {
	serial     uint32
	serialSet  bool
	model      Model
	firmware   Version
	rand       io.Reader
	now        func() time.Time
	fidoCA     *CA
	fidoAtt    *FIDOAttestation
	pivCA      *CA
	touch      TouchPolicy
	aaguid     uuid.UUID
	transcript bool
	transport  Transport
}

// checked makes an option that sets a configuration field with set, or
// fails with err, the refusal of the option's argument, when it is not nil.
func checked[C any](err error, set func(*C)) func(*C) error {
	return func(c *C) error {
		if err != nil {
			return err
		}
		set(c)
		return nil
	}
}

// refuse is the error of a refused option argument (format and args as
// for fmt.Errorf) when bad holds, and nil otherwise.
func refuse(bad bool, format string, args ...any) error {
	if !bad {
		return nil
	}
	return fmt.Errorf(format, args...)
}

// WithSerial sets the serial number (default: 8 digits drawn from the
// key's randomness). It must be non-zero.
func WithSerial(serial uint32) Option {
	return checked(refuse(serial == 0, "simulator: serial must not be zero"),
		func(c *config) { c.serial, c.serialSet = serial, true })
}

// WithModel sets the model (default [YubiKey5NFC]).
func WithModel(m Model) Option {
	_, ok := m.info()
	return checked(refuse(!ok, "simulator: unknown model %d", int(m)),
		func(c *config) { c.model = m })
}

// WithFirmware sets the firmware version (default 5.7.1; 5.7.4 for FIPS
// models). Versions before
// 5.0.0 are refused: the simulator models the YubiKey 5 series.
func WithFirmware(v Version) Option {
	return checked(refuse(v.Major != 5, "simulator: firmware %s: only 5.x is simulated", v),
		func(c *config) { c.firmware = v })
}

// WithRand sets the source of every random byte the key uses: key pairs,
// credential IDs, PIN tokens, nonces. A deterministic reader makes key
// material and identifiers deterministic (ECDSA signatures stay
// randomized: Go's crypto/ecdsa draws its own nonces, so the attestation
// certificate a CA signs for the key differs from run to run too).
// Default crypto/rand.
//
// Two keys made with the same options and readers that yield the same
// bytes (e.g. math/rand/v2's ChaCha8 with one seed) hold the same secrets:
// each can sign with the credentials the other made, except discoverable
// ones, which stay on the key that made them. Each counts its own
// signatures, so the second is a cloned key to a relying party that
// checks the signature counter (see the package's example relyingParty).
func WithRand(r io.Reader) Option {
	return checked(refuse(r == nil, "simulator: nil rand"),
		func(c *config) { c.rand = r })
}

// WithClock sets the key's clock (default time.Now). It times the reset
// window after power-up, the PIN token lifetime and the PIV touch cache.
// Attestation certificates take their validity from their CA (see
// [NewCA]); [DefaultFIDOCA] and [DefaultPIVCA] are dated by time.Now.
func WithClock(now func() time.Time) Option {
	return checked(refuse(now == nil, "simulator: nil clock"),
		func(c *config) { c.now = now })
}

// WithFIDOCA sets the CA that issues the key's FIDO attestation
// certificate (default [DefaultFIDOCA]).
func WithFIDOCA(ca *CA) Option {
	return checked(refuse(ca == nil, "simulator: nil FIDO CA"),
		func(c *config) { c.fidoCA = ca })
}

// WithFIDOAttestation makes the key attest with att, the attestation key
// and certificate it shares with the other keys of its batch, instead of
// making its own from its randomness under its FIDO CA (see
// [FIDOAttestation]). att must name the AAGUID the key reports, and
// [WithFIDOCA], if given too, att's CA; [New] fails otherwise.
func WithFIDOAttestation(att *FIDOAttestation) Option {
	err := refuse(att == nil, "simulator: nil FIDO attestation")
	if err == nil {
		err = refuse(att.key == nil, "simulator: zero FIDOAttestation (make one with NewFIDOAttestation)")
	}
	return checked(err, func(c *config) { c.fidoAtt = att })
}

// WithPIVCA sets the CA that issues the PIV attestation certificate
// (default [DefaultPIVCA]).
func WithPIVCA(ca *CA) Option {
	return checked(refuse(ca == nil, "simulator: nil PIV CA"),
		func(c *config) { c.pivCA = ca })
}

// WithTouch sets the initial touch policy (default [TouchApprove]).
func WithTouch(p TouchPolicy) Option {
	return checked(refuse(touchNames[p] == "", "simulator: unknown touch policy %d", int(p)),
		func(c *config) { c.touch = p })
}

// WithAAGUID makes the key report aaguid instead of its model's
// simulated AAGUID, e.g. [Model.YubicoAAGUID] to test that a relying party
// rejects a key claiming a real model with a simulated attestation chain.
func WithAAGUID(aaguid uuid.UUID) Option {
	return checked(refuse(aaguid == uuid.Nil, "simulator: zero AAGUID"),
		func(c *config) { c.aaguid = aaguid })
}

// WithTranscript makes the key record every APDU exchange; read them with
// [Key.Transcript].
func WithTranscript() Option {
	return func(c *config) error {
		c.transcript = true
		return nil
	}
}

// Key is a simulated YubiKey 5: Management, FIDO2 and PIV applications
// behind an ISO 7816 APDU interface. It is safe for concurrent use; APDUs
// are processed one at a time. Create one with [New]; the zero Key is not
// usable.
type Key struct {
	mu       sync.Mutex
	txn      sync.Mutex // held by a Platform for a whole operation
	env      *env
	aaguid   uuid.UUID
	applets  []applet
	mgmt     *managementApplet
	fido     *fidoApplet
	piv      *pivApplet // nil on FIDO-only models
	selected applet
	present  bool
	chain    *command // reassembled data of an unfinished command chain
	pending  []byte   // response data left for GET RESPONSE
	pendSW   uint16
	touch    TouchPolicy
	touchFn  func() TouchPolicy
	touches  int
	record   bool
	log      []Exchange
	powerOff uint64 // power-offs so far (PowerCycle, Remove): platforms drop their key agreement caches
	// transport is how the key is attached; the management applet keeps
	// the applications enabled on each.
	transport Transport
}

// New makes a key, plugged in and powered. Without options it is a
// YubiKey 5 NFC with firmware 5.7.1 (FIPS models default to 5.7.4, the
// FIPS 140-3 release, with alwaysUv on and an 8-character minimum PIN), a random serial, no FIDO PIN, the
// default PIV PIN/PUK/management key, attesting under [DefaultFIDOCA] and
// [DefaultPIVCA]. An invalid option is an error, and so is a nil one (a
// caller's bug, not a default): "simulator: option 1 is nil" names its
// index in opts, from 0.
func New(opts ...Option) (*Key, error) {
	c := config{model: YubiKey5NFC, rand: rand.Reader, now: time.Now, transport: TransportUSB}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("simulator: option %d is nil", i)
		}
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	if err := checkTransport(c.model, c.transport); err != nil {
		return nil, err
	}
	if c.firmware == (Version{}) {
		c.firmware = defaultFirmware
		if c.model.FIPS() {
			c.firmware = defaultFIPSFirmware
		}
	}
	if !c.serialSet {
		var b [4]byte
		if _, err := io.ReadFull(c.rand, b[:]); err != nil {
			return nil, fmt.Errorf("simulator: serial: read random: %w", err)
		}
		c.serial = 10_000_000 + binary.BigEndian.Uint32(b[:])%90_000_000
	}
	if a := c.fidoAtt; a != nil {
		if c.fidoCA != nil && c.fidoCA != a.ca {
			return nil, errors.New("simulator: the FIDO attestation was issued by another CA than WithFIDOCA's")
		}
		c.fidoCA = a.ca
	}
	if c.fidoCA == nil {
		c.fidoCA = DefaultFIDOCA()
	}
	if c.pivCA == nil {
		c.pivCA = DefaultPIVCA()
	}
	k := &Key{present: true, touch: c.touch, record: c.transcript, transport: c.transport}
	k.aaguid = c.aaguid
	if k.aaguid == uuid.Nil {
		k.aaguid = c.model.AAGUID()
	}
	if c.fidoAtt != nil && c.fidoAtt.aaguid != k.aaguid {
		return nil, fmt.Errorf("simulator: the FIDO attestation is for AAGUID %s, the key reports %s", c.fidoAtt.aaguid, k.aaguid)
	}
	k.env = &env{
		rand:      c.rand,
		now:       c.now,
		serial:    c.serial,
		firmware:  c.firmware,
		model:     c.model,
		touch:     k.askTouch,
		fidoCA:    c.fidoCA,
		fidoAtt:   c.fidoAtt,
		pivCA:     c.pivCA,
		aaguid:    k.aaguid,
		poweredAt: c.now(),
		enabled:   k.enabledLocked,
	}
	k.mgmt = newManagementApplet(k.env)
	fido, err := newFIDOApplet(k.env)
	if err != nil {
		return nil, err
	}
	k.fido = fido
	k.applets = []applet{k.mgmt, k.fido}
	if mi, _ := c.model.info(); mi.usbCaps&CapPIV != 0 {
		k.piv = newPIVApplet(k.env)
		k.applets = append(k.applets, k.piv)
	}
	return k, nil
}

// String describes the key, e.g. "YubiKey 5 NFC (serial 12345678,
// firmware 5.7.1)". It never includes secrets.
func (k *Key) String() string {
	return fmt.Sprintf("%s (serial %d, firmware %s)", k.env.model, k.env.serial, k.env.firmware)
}

// Serial returns the serial number.
func (k *Key) Serial() uint32 { return k.env.serial }

// Firmware returns the firmware version.
func (k *Key) Firmware() Version { return k.env.firmware }

// Model returns the model.
func (k *Key) Model() Model { return k.env.model }

// AAGUID returns the AAGUID the FIDO applet reports.
func (k *Key) AAGUID() uuid.UUID { return k.aaguid }

// ATR returns the answer to reset.
func (k *Key) ATR() []byte { return append([]byte(nil), atr...) }

// Transmit sends one command APDU and returns the response APDU (data
// followed by SW1 SW2). Malformed APDUs get an error status word, not an
// error; the only error is [ErrNotPresent] while the key is removed.
func (k *Key) Transmit(apdu []byte) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.present {
		return nil, ErrNotPresent
	}
	resp := k.process(apdu)
	if k.mgmt.takeReboot() {
		// WRITE CONFIG asked for a reboot: the answer goes out, then the
		// key restarts as after a power cycle.
		k.powerOffLocked()
		k.env.poweredAt = k.env.now()
	}
	if k.record {
		k.log = append(k.log, Exchange{Command: append([]byte(nil), apdu...), Response: append([]byte(nil), resp...)})
	}
	return resp, nil
}

// CTAP runs one CTAP2 command (command byte followed by CBOR parameters) on
// the FIDO applet, as the USB HID transport (CTAPHID_CBOR) does, without
// touching the smart-card applet selection. It returns the status byte
// followed by the CBOR response; with FIDO2 disabled over USB (WRITE
// CONFIG) the status is CTAP1_ERR_INVALID_COMMAND. The only error is
// [ErrNotPresent].
func (k *Key) CTAP(req []byte) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.present {
		return nil, ErrNotPresent
	}
	if k.mgmt.enabled(TransportUSB)&CapFIDO2 == 0 {
		// FIDO2 disabled over USB (WRITE CONFIG): CTAPHID_CBOR is not
		// offered.
		return []byte{ctapInvalidCommand}, nil
	}
	// A copy: the applet keeps some answers it returns (getInfo,
	// getKeyAgreement) to give them again.
	return bytes.Clone(k.fido.ctap(req)), nil
}

// PowerCycle powers the key off and on again, as pulling it out and
// plugging it back in does: PIN tokens, verified PINs, selected
// applications and pending responses are forgotten; the FIDO "power cycle
// required" PIN block is lifted.
func (k *Key) PowerCycle() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.powerOffLocked()
	k.env.poweredAt = k.env.now()
}

// Remove unplugs the key: until [Key.Insert], Transmit and CTAP return
// [ErrNotPresent].
func (k *Key) Remove() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.powerOffLocked()
	k.present = false
}

// Insert plugs the key back in and powers it up.
func (k *Key) Insert() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.present {
		k.present = true
		k.env.poweredAt = k.env.now()
	}
}

// powerOffs returns how many times the key has been powered off, as a
// platform sees the device disappear.
func (k *Key) powerOffs() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.powerOff
}

// Present reports whether the key is plugged in.
func (k *Key) Present() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.present
}

// SetTouch sets how the simulated user answers touch requests from now on.
// A policy other than the three defined ones acts as [TouchTimeout].
func (k *Key) SetTouch(p TouchPolicy) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.touch = p
	k.touchFn = nil
}

// SetTouchFunc makes f answer every touch request (for example approve the
// first and deny the second); nil restores the fixed policy. f runs while
// the key processes a command and must not call the key's methods.
func (k *Key) SetTouchFunc(f func() TouchPolicy) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.touchFn = f
}

// Touches returns how many times the key asked for a touch.
func (k *Key) Touches() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.touches
}

// askTouch is env.touch; it runs with k.mu held.
func (k *Key) askTouch() error {
	k.touches++
	p := k.touch
	if k.touchFn != nil {
		p = k.touchFn()
	}
	switch p {
	case TouchApprove:
		return nil
	case TouchDeny:
		return errTouchDenied
	default:
		return errTouchTimeout
	}
}

func (k *Key) powerOffLocked() {
	k.powerOff++
	for _, a := range k.applets {
		a.powerOff()
	}
	k.selected = nil
	k.chain = nil
	k.pending = nil
}

// process runs one APDU with k.mu held.
func (k *Key) process(raw []byte) []byte {
	cmd, sw := parseAPDU(raw)
	if sw != 0 {
		k.chain, k.pending = nil, nil
		return appendSW(nil, sw)
	}
	if cmd.ins == insGetResponse && cmd.cla&0x80 == 0 {
		return k.getResponse(cmd)
	}
	k.pending = nil
	if cmd.cla&claChain != 0 {
		if k.chain != nil && !sameHeader(*k.chain, cmd) {
			k.chain = nil
			return appendSW(nil, swLastCommandExpected)
		}
		if k.chain == nil {
			c := cmd
			c.cla &^= claChain
			c.data = nil
			k.chain = &c
		}
		if len(k.chain.data)+len(cmd.data) > maxChainedData {
			k.chain = nil
			return appendSW(nil, swWrongLength)
		}
		k.chain.data = append(k.chain.data, cmd.data...)
		return appendSW(nil, swOK)
	}
	if k.chain != nil {
		head := *k.chain
		k.chain = nil
		if !sameHeader(head, cmd) {
			return appendSW(nil, swLastCommandExpected)
		}
		if len(head.data)+len(cmd.data) > maxChainedData {
			return appendSW(nil, swWrongLength)
		}
		cmd.data = append(head.data, cmd.data...)
		cmd.extended = cmd.extended || head.extended
	}
	return k.deliver(cmd, k.dispatch(cmd))
}

func sameHeader(a, b command) bool {
	return a.cla&^claChain == b.cla&^claChain && a.ins == b.ins && a.p1 == b.p1 && a.p2 == b.p2
}

func (k *Key) dispatch(cmd command) response {
	if cmd.ins == insSelect && cmd.cla == 0 {
		if cmd.p1 != 0x04 {
			return response{sw: swIncorrectP1P2}
		}
		if len(cmd.data) < 5 {
			return response{sw: swFileNotFound}
		}
		for _, a := range k.applets {
			if hasPrefix(a.aid(), cmd.data) {
				if c := a.capability(); c != 0 && k.enabledLocked()&c == 0 {
					// Disabled on this transport (WRITE CONFIG): the
					// application answers as absent.
					return response{sw: swFileNotFound}
				}
				k.selected = a
				return a.selectApplet()
			}
		}
		return response{sw: swFileNotFound}
	}
	if k.selected == nil {
		return response{sw: swConditionsNotMet}
	}
	return k.selected.handle(cmd)
}

func hasPrefix(aid, prefix []byte) bool {
	if len(prefix) > len(aid) {
		return false
	}
	for i, b := range prefix {
		if aid[i] != b {
			return false
		}
	}
	return true
}

// deliver returns as much of r as the command allows, keeping the rest for
// GET RESPONSE (61xx).
func (k *Key) deliver(cmd command, r response) []byte {
	limit := cmd.ne
	if limit == 0 {
		limit = 256
		if cmd.extended {
			limit = 65536
		}
	}
	if len(r.data) <= limit {
		return withSW(r.data, r.sw)
	}
	k.pending = append([]byte(nil), r.data[limit:]...)
	k.pendSW = r.sw
	return withSW(r.data[:limit], moreData(len(k.pending)))
}

func (k *Key) getResponse(cmd command) []byte {
	if k.pending == nil || cmd.p1 != 0 || cmd.p2 != 0 {
		k.pending = nil
		if cmd.p1 != 0 || cmd.p2 != 0 {
			return appendSW(nil, swIncorrectP1P2)
		}
		return appendSW(nil, swConditionsNotMet)
	}
	n := cmd.ne
	if n == 0 {
		n = 256
	}
	if n >= len(k.pending) {
		out := appendSW(k.pending, k.pendSW)
		k.pending = nil
		return out
	}
	out := k.pending[:n]
	k.pending = k.pending[n:]
	return withSW(out, moreData(len(k.pending)))
}

func moreData(remaining int) uint16 {
	if remaining >= 256 {
		return swMoreDataBase
	}
	return swMoreDataBase | uint16(remaining)
}

// Exchange is one APDU and its response, recorded with [WithTranscript].
// The raw bytes may contain secrets (PIV VERIFY carries the PIN in clear,
// SET MANAGEMENT KEY the new management key, IMPORT KEY a private key,
// WRITE CONFIG the lock code); String redacts them.
type Exchange struct {
	Command, Response []byte
}

// String returns "C: <hex> R: <hex>", with the data of PIV VERIFY, CHANGE
// REFERENCE DATA, RESET RETRY COUNTER, IMPORT ASYMMETRIC KEY and SET
// MANAGEMENT KEY and of the management WRITE CONFIG (which carries the
// configuration lock code) replaced by "[REDACTED]", and so both ways for GET DATA
// and PUT DATA of the PIN-protected objects (printed information, where
// ykman keeps a PIN-protected management key, and biometrics).
func (e Exchange) String() string {
	c, r := hex.EncodeToString(e.Command), hex.EncodeToString(e.Response)
	if len(e.Command) > 5 && e.Command[0]&0x80 == 0 {
		redacted := hex.EncodeToString(e.Command[:4]) + " [REDACTED]"
		switch e.Command[1] {
		case pivInsVerify, pivInsChangeRef, pivInsResetRetry, pivInsImportKey, pivInsSetMgmtKey, insWriteConfig:
			c = redacted
		case pivInsGetData, pivInsPutData:
			if i := bytes.Index(e.Command[4:], []byte{0x5C, 0x03}); i >= 0 && len(e.Command) >= 4+i+5 {
				tag := e.Command[4+i+2:][:3]
				if pivObjectNeedsPIN(uint32(tag[0])<<16 | uint32(tag[1])<<8 | uint32(tag[2])) {
					c = redacted
					if n := len(e.Response); n > 2 {
						r = "[REDACTED] " + hex.EncodeToString(e.Response[n-2:])
					}
				}
			}
		}
	}
	return "C: " + c + " R: " + r
}

// Transcript returns the exchanges recorded since the key was made (or
// since the last ClearTranscript). It is empty without [WithTranscript].
func (k *Key) Transcript() []Exchange {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]Exchange(nil), k.log...)
}

// ClearTranscript forgets the recorded exchanges.
func (k *Key) ClearTranscript() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.log = nil
}

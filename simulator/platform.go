package simulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/fxamacker/cbor/v2"
)

// Platform plays the browser and operating system in front of one [Key]:
// it turns WebAuthn options into CTAP2 commands, sends them to the key's
// FIDO application as NFCCTAP APDUs through [Key.Transmit] (short APDUs,
// command chaining, GET RESPONSE, like python-fido2 over NFC), runs the
// PIN/UV auth protocol (2, else 1) and returns the PublicKeyCredential
// JSON a browser would hand to a relying party.
//
// Errors the key reports come back as [*CTAPError] (errors.Is matches
// [ErrPINInvalid], [ErrPINBlocked] and the other sentinels); a removed key
// gives [ErrNotPresent]; origins and RP IDs a browser would refuse give
// [ErrSecurity]; user verification the ceremony cannot give (no PIN set,
// or none given) gives [ErrConstraint], wrapping the *CTAPError the key
// would answer, without asking it. A Platform is safe for concurrent use; operations of all
// platforms on one key run one at a time. Direct [Key.Transmit] calls from
// elsewhere can still change the selected application between a
// platform's APDUs, as another PC/SC client without a transaction would.
//
// Key agreement: every PIN/UV auth protocol session (a PIN token, setPIN,
// changePIN, hmac-secret) starts with getKeyAgreement. By default the
// platform keeps its ephemeral P-256 key and the shared secret derived
// with the authenticator's key agreement key, and reuses both for as long
// as getKeyAgreement returns that same key: the authenticator changes it
// only at power-up, at reset and after a wrong PIN (CTAP 2.1 §6.5.4), and
// the secret is a function of the two keys alone. A different key, a power
// off seen by the platform ([Key.PowerCycle], [Key.Remove]) or
// [Platform.Reset] makes it derive again with a new ephemeral key, zeroing
// the old secret; [Platform.ForgetKeyAgreement] zeroes it on demand.
// [WithFreshKeyAgreement] makes a new ephemeral key for every session
// instead, as browsers do, and keeps no secret between sessions.
type Platform struct {
	key            *Key
	rand           io.Reader
	rawAttestation bool
	pinProtocol    int // 0: the key's first preference
	freshKA        bool

	// Guarded by the key's transaction lock.
	kaCache     [2]platformKA // PIN/UV auth protocols 1 and 2
	derivations int           // ECDH key agreements run (for tests)
	info        infoMemo
	reqBuf      bytes.Buffer // CTAP requests are encoded here
}

// infoMemo is the last authenticatorGetInfo response the platform decoded:
// every session still sends getInfo and reads the answer, but an answer
// byte-for-byte equal to the last one is not decoded again. Callers treat
// the decoded response as read-only.
type infoMemo struct {
	raw    []byte
	parsed *getInfoResponse
}

// platformKA is a cached PIN/UV auth protocol key agreement.
type platformKA struct {
	powerOffs uint64  // the key's power-off count when it was derived
	peer      []byte  // the authenticator's key: 0x04 || X || Y
	own       coseKey // the platform's public key
	shared    []byte
}

func (c *platformKA) drop() {
	clear(c.shared)
	*c = platformKA{}
}

// dropKeyAgreements zeroes and forgets the cached shared secrets.
func (p *Platform) dropKeyAgreements() {
	for i := range p.kaCache {
		p.kaCache[i].drop()
	}
}

// ForgetKeyAgreement zeroes and forgets the platform's cached PIN/UV key
// agreement (see [Platform]); the next session derives a new one. Call it
// when done with a platform whose shared secret should not wait for the
// garbage collector.
func (p *Platform) ForgetKeyAgreement() {
	unlock := p.lock()
	defer unlock()
	p.dropKeyAgreements()
}

// PlatformOption configures a [Platform].
type PlatformOption func(*Platform)

// WithPlatformRand sets the platform's randomness (its ECDH keys and IVs).
// By default the platform draws from the key's [WithRand] source, so a
// deterministic key gives a deterministic platform. A nil r is ignored.
func WithPlatformRand(r io.Reader) PlatformOption {
	return func(p *Platform) {
		if r != nil {
			p.rand = r
		}
	}
}

// WithRawAttestation makes the platform return the key's attestation
// unchanged whatever the RP's conveyance preference, as a native FIDO
// client (libfido2, a programming station) does. By default it behaves
// like a browser: for attestation "none" (or absent) it replaces the
// attestation statement with "none" and zeroes the AAGUID.
func WithRawAttestation() PlatformOption {
	return func(p *Platform) { p.rawAttestation = true }
}

// WithPINProtocol makes the platform use PIN/UV auth protocol 1 or 2
// instead of the key's first preference (2 on a YubiKey 5.7). Other
// values are ignored.
func WithPINProtocol(version int) PlatformOption {
	return func(p *Platform) {
		if version == 1 || version == 2 {
			p.pinProtocol = version
		}
	}
}

// WithFreshKeyAgreement makes the platform generate a new ephemeral P-256
// key and run ECDH for every PIN/UV auth protocol session, as browsers do,
// instead of reusing the shared secret while the authenticator's key
// agreement key is unchanged (the default; see [Platform]). Both are valid
// CTAP 2.1 platform behaviour; this one costs a key generation and an ECDH
// on each side per ceremony.
func WithFreshKeyAgreement() PlatformOption {
	return func(p *Platform) { p.freshKA = true }
}

// locked runs op under the key's transaction lock (see [Platform.lock])
// and prefixes its error with "simulator: " and what.
func (p *Platform) locked(what string, op func() error) error {
	unlock := p.lock()
	defer unlock()
	if err := op(); err != nil {
		return fmt.Errorf("simulator: %s: %w", what, err)
	}
	return nil
}

// lock takes the key's transaction lock (like PC/SC's
// SCardBeginTransaction), so operations of several platforms on one key do
// not interleave their APDUs.
func (p *Platform) lock() func() {
	if p.key == nil {
		return func() {}
	}
	p.key.txn.Lock()
	return p.key.txn.Unlock
}

// keyRand reads the key's randomness under the key's lock, so a platform
// and other users of the key may draw from a non-thread-safe reader.
type keyRand struct{ k *Key }

// Read implements io.Reader.
func (r keyRand) Read(b []byte) (int, error) {
	r.k.mu.Lock()
	defer r.k.mu.Unlock()
	return r.k.env.rand.Read(b)
}

// NewPlatform returns a platform in front of k. It has no error to
// return, and its options ignore what they cannot use: a nil option is
// skipped, as if it were not given ([New] refuses one).
func NewPlatform(k *Key, opts ...PlatformOption) *Platform {
	p := &Platform{key: k}
	if k != nil {
		p.rand = keyRand{k}
	}
	for _, o := range opts {
		if o != nil {
			o(p)
		}
	}
	return p
}

// --- transport -------------------------------------------------------------

// transmit sends one APDU and collects a long response with GET RESPONSE.
func (p *Platform) transmit(ctx context.Context, apdu []byte) ([]byte, uint16, error) {
	var out []byte
	for {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		resp, err := p.key.Transmit(apdu)
		if err != nil {
			return nil, 0, err
		}
		data, sw, ok := splitSW(resp)
		if !ok {
			return nil, 0, fmt.Errorf("response of %d bytes: %w", len(resp), ErrCard)
		}
		if out == nil && sw&0xFF00 != swMoreDataBase {
			return data, sw, nil // the whole response: no copy
		}
		if out == nil {
			// 61xx: xx more bytes to come, 00 for 256 or more.
			more := int(byte(sw))
			if more == 0 {
				more = 256
			}
			out = make([]byte, 0, len(data)+more)
		}
		out = append(out, data...)
		if sw&0xFF00 != swMoreDataBase {
			return out, sw, nil
		}
		apdu = []byte{0x00, insGetResponse, 0x00, 0x00, byte(sw)}
	}
}

func (p *Platform) selectFIDO(ctx context.Context) error {
	data, sw, err := p.transmit(ctx, encodeAPDU(0x00, insSelect, 0x04, 0x00, fidoAID, 256))
	if err != nil {
		return err
	}
	if sw != swOK {
		return &CardError{SW: sw}
	}
	if string(data) != "FIDO_2_0" && string(data) != "U2F_V2" {
		return fmt.Errorf("FIDO SELECT answered %q: %w", data, ErrCard)
	}
	return nil
}

// ctap sends one CTAP2 command in NFCCTAP_MSG APDUs (chained in blocks of
// ctapBlock bytes) and decodes the response into resp (which may be nil).
func (p *Platform) ctap(ctx context.Context, cmd byte, req, resp any) error {
	data, err := p.ctapRaw(ctx, cmd, req)
	if err != nil || resp == nil || len(data) == 0 {
		return err
	}
	if err := cbor.Unmarshal(data, resp); err != nil {
		return fmt.Errorf("decode CTAP response: %w", err)
	}
	return nil
}

// ctapBlock is the size of the blocks a long CTAP message is chained in.
const ctapBlock = 250

// ctapHeader is the room encodeCTAPMessage leaves in front of the
// message: CLA INS P1 P2 Lc of a short APDU.
const ctapHeader = 5

// encodeCTAPMessage encodes cmd and req (nil: none) as an NFCCTAP_MSG
// message (command byte, then the CBOR parameters) into buf, after
// ctapHeader bytes left for shortCTAPAPDU to fill, and returns buf's
// bytes.
func encodeCTAPMessage(buf *bytes.Buffer, cmd byte, req any) ([]byte, error) {
	buf.Reset()
	// Room for the largest message the key takes and the short APDU's Le:
	// neither the encoder nor shortCTAPAPDU then moves the request to an
	// array that ctapRaw does not clear.
	buf.Grow(ctapHeader + 1 + fidoMaxMsgSize + 1)
	var head [ctapHeader + 1]byte
	head[ctapHeader] = cmd
	buf.Write(head[:])
	if req != nil {
		if err := ctapEnc.MarshalToBuffer(req, buf); err != nil {
			return nil, fmt.Errorf("encode CTAP request: %w", err)
		}
	}
	return buf.Bytes(), nil
}

// shortCTAPAPDU turns encodeCTAPMessage's buffer, whose message is at
// most ctapBlock bytes, into the one NFCCTAP_MSG APDU that carries it, in
// place: the bytes encodeAPDU(0x80, insNFCCTAPMsg, 0x80, 0x00, msg, 256)
// gives.
func shortCTAPAPDU(b []byte) []byte {
	b[0], b[1], b[2], b[3], b[4] = 0x80, insNFCCTAPMsg, 0x80, 0x00, byte(len(b)-ctapHeader)
	return append(b, 0x00) // Le: 256
}

// ctapRaw is ctap returning the response's CBOR undecoded (empty for a
// status-only response).
func (p *Platform) ctapRaw(ctx context.Context, cmd byte, req any) ([]byte, error) {
	// The platform's request buffer: ctapRaw runs under the key's
	// transaction lock, and the key keeps no reference to a command APDU.
	// The request holds PIN/UV auth parameters and encrypted PIN hashes:
	// the buffer's whole array is cleared when the command ends (a request
	// too large for the key, which encodeCTAPMessage's room does not
	// hold, may leave a copy in an array the encoder grew), and so is
	// every APDU of a chained request.
	defer func() {
		all := p.reqBuf.Bytes()
		clear(all[:cap(all)])
	}()
	b, err := encodeCTAPMessage(&p.reqBuf, cmd, req)
	if err != nil {
		return nil, err
	}
	var apdu []byte
	if msg := b[ctapHeader:]; len(msg) <= ctapBlock {
		apdu = shortCTAPAPDU(b)
	} else {
		for len(msg) > ctapBlock {
			block := encodeAPDU(0x80|claChain, insNFCCTAPMsg, 0x80, 0x00, msg[:ctapBlock], 0)
			_, sw, err := p.transmit(ctx, block)
			clear(block)
			if err != nil {
				return nil, err
			}
			if sw != swOK {
				return nil, &CardError{SW: sw}
			}
			msg = msg[ctapBlock:]
		}
		apdu = encodeAPDU(0x80, insNFCCTAPMsg, 0x80, 0x00, msg, 256)
		defer clear(apdu)
	}
	data, sw, err := p.transmit(ctx, apdu)
	if err != nil {
		return nil, err
	}
	if sw != swOK {
		return nil, &CardError{SW: sw}
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("empty CTAP response: %w", ErrCard)
	}
	if data[0] != ctapOK {
		return nil, &CTAPError{Code: data[0]}
	}
	return data[1:], nil
}

// session selects the FIDO application and reads authenticatorGetInfo.
func (p *Platform) session(ctx context.Context) (*getInfoResponse, error) {
	if p.key == nil {
		return nil, errors.New("platform has no key") // every caller prefixes "simulator: <operation>: "
	}
	if err := p.selectFIDO(ctx); err != nil {
		return nil, err
	}
	raw, err := p.ctapRaw(ctx, cmdGetInfo, nil)
	if err != nil {
		return nil, err
	}
	if p.info.parsed != nil && bytes.Equal(raw, p.info.raw) {
		return p.info.parsed, nil
	}
	info := new(getInfoResponse)
	if len(raw) > 0 {
		if err := cbor.Unmarshal(raw, info); err != nil {
			return nil, fmt.Errorf("decode CTAP response: %w", err)
		}
	}
	p.info = infoMemo{raw: bytes.Clone(raw), parsed: info}
	return info, nil
}

package simulator

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-webauthn/webauthn/protocol"
	"golang.org/x/text/unicode/norm"
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
// [ErrSecurity]. A Platform is safe for concurrent use; operations of all
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

// NewPlatform returns a platform in front of k.
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
// 250 bytes) and decodes the response into resp (which may be nil).
func (p *Platform) ctap(ctx context.Context, cmd byte, req, resp any) error {
	var b []byte
	if req != nil {
		var err error
		if b, err = ctapEnc.Marshal(req); err != nil {
			return fmt.Errorf("encode CTAP request: %w", err)
		}
	}
	msg := make([]byte, 1, 1+len(b))
	msg[0] = cmd
	msg = append(msg, b...)
	const block = 250
	for len(msg) > block {
		_, sw, err := p.transmit(ctx, encodeAPDU(0x80|claChain, insNFCCTAPMsg, 0x80, 0x00, msg[:block], 0))
		if err != nil {
			return err
		}
		if sw != swOK {
			return &CardError{SW: sw}
		}
		msg = msg[block:]
	}
	data, sw, err := p.transmit(ctx, encodeAPDU(0x80, insNFCCTAPMsg, 0x80, 0x00, msg, 256))
	if err != nil {
		return err
	}
	if sw != swOK {
		return &CardError{SW: sw}
	}
	if len(data) == 0 {
		return fmt.Errorf("empty CTAP response: %w", ErrCard)
	}
	if data[0] != ctapOK {
		return &CTAPError{Code: data[0]}
	}
	if resp == nil || len(data) == 1 {
		return nil
	}
	if err := cbor.Unmarshal(data[1:], resp); err != nil {
		return fmt.Errorf("decode CTAP response: %w", err)
	}
	return nil
}

// session selects the FIDO application and reads authenticatorGetInfo.
func (p *Platform) session(ctx context.Context) (*getInfoResponse, error) {
	if p.key == nil {
		return nil, errors.New("simulator: platform has no key")
	}
	if err := p.selectFIDO(ctx); err != nil {
		return nil, err
	}
	info := new(getInfoResponse)
	if err := p.ctap(ctx, cmdGetInfo, nil, info); err != nil {
		return nil, err
	}
	return info, nil
}

// --- PIN/UV auth protocol -------------------------------------------------

// protocol picks the PIN/UV auth protocol: the configured one if the key
// supports it, else the key's first supported preference; 0 if none.
func (p *Platform) protocol(info *getInfoResponse) int {
	if p.pinProtocol != 0 {
		if slices.Contains(info.PINProtocols, p.pinProtocol) {
			return p.pinProtocol
		}
		return 0
	}
	for _, v := range info.PINProtocols {
		if v == 2 || v == 1 {
			return v
		}
	}
	return 0
}

// agree runs getKeyAgreement and returns the platform's COSE key and the
// shared secret, which the caller owns (and should clear). It reuses the
// cached key agreement when the authenticator's key is the one it was
// derived with (see [Platform]).
func (p *Platform) agree(ctx context.Context, proto int) (coseKey, []byte, error) {
	if proto != 1 && proto != 2 {
		return coseKey{}, nil, fmt.Errorf("no common PIN/UV auth protocol: %w", ErrNotSupported)
	}
	// Read before getKeyAgreement: a power off after it makes the cache
	// entry look older, never newer, than the key it was derived with.
	powerOffs := p.key.powerOffs()
	var resp clientPINResponse
	req := clientPINRequest{Protocol: &proto, SubCommand: intp(pinGetKeyAgreement)}
	if err := p.ctap(ctx, cmdClientPIN, req, &resp); err != nil {
		return coseKey{}, nil, err
	}
	if resp.KeyAgreement == nil {
		return coseKey{}, nil, fmt.Errorf("getKeyAgreement without key: %w", ErrCard)
	}
	peer, err := resp.KeyAgreement.ecdhPublic()
	if err != nil {
		return coseKey{}, nil, fmt.Errorf("authenticator %v: %w", err, ErrCard)
	}
	c := &p.kaCache[proto-1]
	if p.freshKA {
		c.drop()
	} else if c.shared != nil {
		if c.powerOffs == powerOffs && bytes.Equal(c.peer, peer.Bytes()) {
			return c.own, bytes.Clone(c.shared), nil
		}
		c.drop() // the key changed or was powered off: stale
	}
	priv, err := newECDHKey(p.rand)
	if err != nil {
		return coseKey{}, nil, fmt.Errorf("key agreement: %w", err)
	}
	shared, err := ecdhShared(proto, priv, peer)
	if err != nil {
		return coseKey{}, nil, fmt.Errorf("key agreement: %w", err)
	}
	p.derivations++
	own := coseFromECDH(priv.PublicKey())
	if !p.freshKA {
		*c = platformKA{powerOffs: powerOffs, peer: peer.Bytes(), own: own, shared: bytes.Clone(shared)}
	}
	return own, shared, nil
}

// normalizePIN applies what browsers do to a PIN before sending it:
// Unicode NFC, at most 63 bytes.
func normalizePIN(pin string) ([]byte, error) {
	b := []byte(norm.NFC.String(pin))
	if len(b) > fidoMaxPINBytes {
		return nil, fmt.Errorf("PIN longer than %d bytes: %w", fidoMaxPINBytes, ErrPINPolicyViolation)
	}
	return b, nil
}

func padPIN(pin []byte) []byte {
	out := make([]byte, paddedPINLength)
	copy(out, pin)
	return out
}

// pinToken gets a pinUvAuthToken with perms (bound to rpID when not
// empty), using getPinUvAuthTokenUsingPinWithPermissions when the key
// supports it, else the legacy getPinToken.
func (p *Platform) pinToken(ctx context.Context, info *getInfoResponse, pin string, perms byte, rpID string) (int, []byte, error) {
	proto := p.protocol(info)
	if proto == 0 {
		return 0, nil, fmt.Errorf("no common PIN/UV auth protocol: %w", ErrNotSupported)
	}
	pb, err := normalizePIN(pin)
	if err != nil {
		return 0, nil, err
	}
	defer clear(pb)
	ka, shared, err := p.agree(ctx, proto)
	if err != nil {
		return 0, nil, err
	}
	defer clear(shared)
	pinHash := pinHashOf(pb) // enough to brute-force the PIN offline
	defer clear(pinHash)
	pinHashEnc, err := pinEncrypt(proto, shared, pinHash, p.rand)
	if err != nil {
		return 0, nil, fmt.Errorf("encrypt PIN hash: %w", err)
	}
	req := clientPINRequest{Protocol: &proto, KeyAgreement: &ka, PinHashEnc: pinHashEnc}
	if info.Options["pinUvAuthToken"] {
		req.SubCommand = intp(pinGetTokenWithPerms)
		req.Permissions = intp(int(perms))
		if rpID != "" {
			req.RPID = &rpID
		}
	} else {
		req.SubCommand = intp(pinGetPINToken)
	}
	var resp clientPINResponse
	if err := p.ctap(ctx, cmdClientPIN, req, &resp); err != nil {
		return 0, nil, err
	}
	token, err := pinDecrypt(proto, shared, resp.PinUvAuthToken)
	if err != nil {
		return 0, nil, fmt.Errorf("decrypt PIN token: %v: %w", err, ErrCard)
	}
	return proto, token, nil
}

// SetPIN sets the key's first FIDO PIN (clientPIN setPIN).
func (p *Platform) SetPIN(ctx context.Context, pin string) error {
	unlock := p.lock()
	defer unlock()
	if err := p.setPIN(ctx, pin); err != nil {
		return fmt.Errorf("simulator: set PIN: %w", err)
	}
	return nil
}

func (p *Platform) setPIN(ctx context.Context, pin string) error {
	info, err := p.session(ctx)
	if err != nil {
		return err
	}
	if info.Options["clientPin"] {
		return &CTAPError{Code: ctapNotAllowed}
	}
	pb, err := normalizePIN(pin)
	if err != nil {
		return err
	}
	defer clear(pb)
	proto := p.protocol(info)
	ka, shared, err := p.agree(ctx, proto)
	if err != nil {
		return err
	}
	defer clear(shared)
	padded := padPIN(pb)
	defer clear(padded)
	newPinEnc, err := pinEncrypt(proto, shared, padded, p.rand)
	if err != nil {
		return err
	}
	req := clientPINRequest{
		Protocol: &proto, SubCommand: intp(pinSetPIN), KeyAgreement: &ka,
		NewPinEnc: newPinEnc, PinUvAuth: pinAuthenticate(proto, shared, newPinEnc),
	}
	return p.ctap(ctx, cmdClientPIN, req, nil)
}

// ChangePIN changes the FIDO PIN (clientPIN changePIN), which also clears
// a pending forced PIN change.
func (p *Platform) ChangePIN(ctx context.Context, oldPIN, newPIN string) error {
	unlock := p.lock()
	defer unlock()
	if err := p.changePIN(ctx, oldPIN, newPIN); err != nil {
		return fmt.Errorf("simulator: change PIN: %w", err)
	}
	return nil
}

func (p *Platform) changePIN(ctx context.Context, oldPIN, newPIN string) error {
	info, err := p.session(ctx)
	if err != nil {
		return err
	}
	if !info.Options["clientPin"] {
		return &CTAPError{Code: ctapPINNotSet}
	}
	oldB, err := normalizePIN(oldPIN)
	if err != nil {
		return err
	}
	defer clear(oldB)
	newB, err := normalizePIN(newPIN)
	if err != nil {
		return err
	}
	defer clear(newB)
	proto := p.protocol(info)
	ka, shared, err := p.agree(ctx, proto)
	if err != nil {
		return err
	}
	defer clear(shared)
	padded := padPIN(newB)
	defer clear(padded)
	newPinEnc, err := pinEncrypt(proto, shared, padded, p.rand)
	if err != nil {
		return err
	}
	pinHash := pinHashOf(oldB) // enough to brute-force the PIN offline
	defer clear(pinHash)
	pinHashEnc, err := pinEncrypt(proto, shared, pinHash, p.rand)
	if err != nil {
		return err
	}
	req := clientPINRequest{
		Protocol: &proto, SubCommand: intp(pinChangePIN), KeyAgreement: &ka,
		NewPinEnc: newPinEnc, PinHashEnc: pinHashEnc,
		PinUvAuth: pinAuthenticate(proto, shared, append(append([]byte(nil), newPinEnc...), pinHashEnc...)),
	}
	return p.ctap(ctx, cmdClientPIN, req, nil)
}

// ForcePINChange makes the key refuse PIN tokens until the PIN is changed
// (authenticatorConfig setMinPINLength with forceChangePin), as Yubico's
// pre-registration does. pin is the current PIN.
func (p *Platform) ForcePINChange(ctx context.Context, pin string) error {
	unlock := p.lock()
	defer unlock()
	if err := p.setMinPINLength(ctx, pin, 0, true); err != nil {
		return fmt.Errorf("simulator: force PIN change: %w", err)
	}
	return nil
}

// SetMinPINLength raises the minimum PIN length (code points); the key
// forces a PIN change when the current PIN is shorter.
func (p *Platform) SetMinPINLength(ctx context.Context, pin string, minLength int) error {
	unlock := p.lock()
	defer unlock()
	if minLength < 1 {
		return fmt.Errorf("simulator: set minimum PIN length: %d is not positive", minLength)
	}
	if err := p.setMinPINLength(ctx, pin, minLength, false); err != nil {
		return fmt.Errorf("simulator: set minimum PIN length: %w", err)
	}
	return nil
}

func (p *Platform) setMinPINLength(ctx context.Context, pin string, minLength int, force bool) error {
	info, err := p.session(ctx)
	if err != nil {
		return err
	}
	if !info.Options["setMinPINLength"] || !info.Options["authnrCfg"] {
		return fmt.Errorf("key lacks setMinPINLength: %w", ErrNotSupported)
	}
	params := setMinPINLengthParams{}
	if minLength > 0 {
		params.NewMinPINLength = &minLength
	}
	if force {
		params.ForceChangePIN = &force
	}
	pb, err := ctapEnc.Marshal(params)
	if err != nil {
		return err
	}
	req := configRequest{SubCommand: intp(cfgSetMinPINLength), Params: pb}
	if info.Options["clientPin"] {
		proto, token, err := p.pinToken(ctx, info, pin, permAuthnrConfig, "")
		if err != nil {
			return err
		}
		defer clear(token)
		req.Protocol, req.PinUvAuth = &proto, pinAuthenticate(proto, token, configAuthMessage(cfgSetMinPINLength, pb))
	}
	return p.ctap(ctx, cmdConfig, req, nil)
}

// ToggleAlwaysUV switches the key's alwaysUv setting (authenticatorConfig
// toggleAlwaysUv): when on, every registration and assertion needs the
// PIN and U2F is off. pin is the current PIN ("" when none is set).
// FIPS 140-3 keys refuse with [ErrOperationDenied].
func (p *Platform) ToggleAlwaysUV(ctx context.Context, pin string) error {
	unlock := p.lock()
	defer unlock()
	if err := p.toggleAlwaysUV(ctx, pin); err != nil {
		return fmt.Errorf("simulator: toggle alwaysUv: %w", err)
	}
	return nil
}

func (p *Platform) toggleAlwaysUV(ctx context.Context, pin string) error {
	info, err := p.session(ctx)
	if err != nil {
		return err
	}
	if !info.Options["authnrCfg"] {
		return fmt.Errorf("key lacks authenticatorConfig: %w", ErrNotSupported)
	}
	req := configRequest{SubCommand: intp(cfgToggleAlwaysUV)}
	if info.Options["clientPin"] {
		proto, token, err := p.pinToken(ctx, info, pin, permAuthnrConfig, "")
		if err != nil {
			return err
		}
		defer clear(token)
		req.Protocol, req.PinUvAuth = &proto, pinAuthenticate(proto, token, configAuthMessage(cfgToggleAlwaysUV, nil))
	}
	return p.ctap(ctx, cmdConfig, req, nil)
}

// PINRetries returns the FIDO PIN retries left and whether the key must be
// power cycled before the next PIN attempt.
func (p *Platform) PINRetries(ctx context.Context) (retries int, powerCycleRequired bool, err error) {
	unlock := p.lock()
	defer unlock()
	if _, err := p.session(ctx); err != nil {
		return 0, false, fmt.Errorf("simulator: PIN retries: %w", err)
	}
	var resp clientPINResponse
	if err := p.ctap(ctx, cmdClientPIN, clientPINRequest{SubCommand: intp(pinGetRetries)}, &resp); err != nil {
		return 0, false, fmt.Errorf("simulator: PIN retries: %w", err)
	}
	if resp.Retries == nil {
		return 0, false, fmt.Errorf("simulator: PIN retries: response without retries: %w", ErrCard)
	}
	return *resp.Retries, resp.PowerCycleState != nil && *resp.PowerCycleState, nil
}

// Reset runs authenticatorReset: it wipes the PIN and every credential.
// Like a real key it needs a touch and works only within seconds of
// power-up (call [Key.PowerCycle] first).
func (p *Platform) Reset(ctx context.Context) error {
	unlock := p.lock()
	defer unlock()
	if _, err := p.session(ctx); err != nil {
		return fmt.Errorf("simulator: reset: %w", err)
	}
	p.dropKeyAgreements()
	if err := p.ctap(ctx, cmdReset, nil, nil); err != nil {
		return fmt.Errorf("simulator: reset: %w", err)
	}
	return nil
}

// --- WebAuthn ceremonies --------------------------------------------------

// checkOrigin validates a web origin and the RP ID against it as browsers
// do: https (or http on localhost), and the RP ID equal to the host or a
// parent domain of it. It returns the serialized origin and the RP ID.
func checkOrigin(origin, rpID string) (string, string, error) {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("origin %q is not a web origin: %w", origin, ErrSecurity)
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && (host == "localhost" || strings.HasSuffix(host, ".localhost")):
	default:
		return "", "", fmt.Errorf("origin %q is not secure: %w", origin, ErrSecurity)
	}
	if rpID == "" {
		rpID = host
	}
	rpID = strings.ToLower(rpID)
	if net.ParseIP(host) != nil && rpID != host {
		return "", "", fmt.Errorf("RP ID %q does not match IP origin %q: %w", rpID, origin, ErrSecurity)
	}
	if rpID != host && !strings.HasSuffix(host, "."+rpID) {
		return "", "", fmt.Errorf("RP ID %q is not a registrable suffix of origin %q: %w", rpID, origin, ErrSecurity)
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), rpID, nil
}

type clientData struct {
	Type        string `json:"type"`
	Challenge   string `json:"challenge"`
	Origin      string `json:"origin"`
	CrossOrigin bool   `json:"crossOrigin"`
}

func clientDataJSON(typ string, challenge []byte, origin string) ([]byte, error) {
	return json.Marshal(clientData{Type: typ, Challenge: b64(challenge), Origin: origin})
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// userID extracts the user handle from go-webauthn's UserEntity.ID, which
// holds bytes when built in Go and a base64url string when decoded from
// JSON.
func userID(v any) ([]byte, error) {
	var id []byte
	switch x := v.(type) {
	case protocol.URLEncodedBase64:
		id = x
	case []byte:
		id = x
	case string:
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(x, "="))
		if err != nil {
			return nil, errors.New("user.id is not base64url")
		}
		id = b
	default:
		return nil, fmt.Errorf("user.id has unsupported type %T", v)
	}
	if len(id) == 0 || len(id) > 64 {
		return nil, fmt.Errorf("user.id is %d bytes, want 1 to 64", len(id))
	}
	return id, nil
}

// uvPlan decides whether the platform gets a PIN token: required UV needs
// the PIN; preferred uses it when given; discoverable credentials on a
// key with a PIN need it (CTAP 2.1 makeCredUvNotRqd covers only
// non-discoverable ones).
func uvPlan(info *getInfoResponse, uv protocol.UserVerificationRequirement, pin string, needForRK bool) (bool, error) {
	pinSet := info.Options["clientPin"]
	switch {
	case uv == protocol.VerificationRequired || info.Options["alwaysUv"]:
		if !pinSet {
			return false, &CTAPError{Code: ctapPINNotSet}
		}
		if pin == "" {
			return false, &CTAPError{Code: ctapPUATRequired}
		}
		return true, nil
	case uv == protocol.VerificationDiscouraged:
	default:
		if pinSet && pin != "" {
			return true, nil
		}
	}
	if needForRK && pinSet {
		if pin == "" {
			return false, &CTAPError{Code: ctapPUATRequired}
		}
		return true, nil
	}
	return false, nil
}

type attestationObject struct {
	Fmt      string          `cbor:"fmt"`
	AttStmt  cbor.RawMessage `cbor:"attStmt"`
	AuthData []byte          `cbor:"authData"`
}

type attestationResponseJSON struct {
	ClientDataJSON     string   `json:"clientDataJSON"`
	AttestationObject  string   `json:"attestationObject"`
	AuthenticatorData  string   `json:"authenticatorData"`
	Transports         []string `json:"transports"`
	PublicKey          string   `json:"publicKey,omitempty"`
	PublicKeyAlgorithm int      `json:"publicKeyAlgorithm"`
}

type assertionResponseJSON struct {
	ClientDataJSON    string `json:"clientDataJSON"`
	AuthenticatorData string `json:"authenticatorData"`
	Signature         string `json:"signature"`
	UserHandle        string `json:"userHandle,omitempty"`
}

type credentialJSON struct {
	ID                      string                                         `json:"id"`
	RawID                   string                                         `json:"rawId"`
	Type                    string                                         `json:"type"`
	AuthenticatorAttachment string                                         `json:"authenticatorAttachment"`
	ClientExtensionResults  protocol.AuthenticationExtensionsClientOutputs `json:"clientExtensionResults"`
	Response                any                                            `json:"response"`
}

var credProtectLevels = map[protocol.CredentialProtectionPolicy]int{
	"userVerificationOptional":                     1,
	"userVerificationOptionalWithCredentialIDList": 2,
	"userVerificationRequired":                     3,
}

// CreateCredential runs navigator.credentials.create() at origin with
// opts and returns the PublicKeyCredential JSON (the shape of
// PublicKeyCredential.toJSON(), which go-webauthn's
// protocol.ParseCredentialCreationResponseBytes parses). pin is the FIDO
// PIN the user types when the key asks for one ("" for none).
func (p *Platform) CreateCredential(ctx context.Context, origin string, opts protocol.PublicKeyCredentialCreationOptions, pin string) ([]byte, error) {
	unlock := p.lock()
	defer unlock()
	out, err := p.create(ctx, origin, opts, pin)
	if err != nil {
		return nil, fmt.Errorf("simulator: create credential: %w", err)
	}
	return out, nil
}

// CreateCredentialJSON is CreateCredential with the options as JSON, either
// {"publicKey": {...}} (go-webauthn's protocol.CredentialCreation) or the
// bare options.
func (p *Platform) CreateCredentialJSON(ctx context.Context, origin string, optionsJSON []byte, pin string) ([]byte, error) {
	opts, err := decodeOptions[protocol.PublicKeyCredentialCreationOptions](optionsJSON)
	if err != nil {
		return nil, fmt.Errorf("simulator: create credential: options JSON: %w", err)
	}
	return p.CreateCredential(ctx, origin, opts, pin)
}

// decodeOptions decodes WebAuthn options given either as {"publicKey":
// {...}} (go-webauthn's protocol.CredentialCreation and
// protocol.CredentialAssertion) or bare.
func decodeOptions[T any](optionsJSON []byte) (T, error) {
	var wrapped struct {
		PublicKey *T `json:"publicKey"`
	}
	var opts T
	if err := json.Unmarshal(optionsJSON, &wrapped); err != nil {
		return opts, err
	}
	if wrapped.PublicKey != nil {
		return *wrapped.PublicKey, nil
	}
	err := json.Unmarshal(optionsJSON, &opts)
	return opts, err
}

func (p *Platform) create(ctx context.Context, origin string, opts protocol.PublicKeyCredentialCreationOptions, pin string) ([]byte, error) {
	origin, rpID, err := checkOrigin(origin, opts.RelyingParty.ID)
	if err != nil {
		return nil, err
	}
	if len(opts.Challenge) == 0 {
		return nil, errors.New("challenge is empty")
	}
	uid, err := userID(opts.User.ID)
	if err != nil {
		return nil, err
	}
	var params []credParam
	for _, cp := range opts.Parameters {
		if cp.Type == protocol.PublicKeyCredentialType {
			params = append(params, credParam{Alg: int(cp.Algorithm), Type: "public-key"})
		}
	}
	if len(opts.Parameters) == 0 {
		params = []credParam{{Alg: coseES256, Type: "public-key"}, {Alg: -257, Type: "public-key"}}
	}
	cdj, err := clientDataJSON("webauthn.create", opts.Challenge, origin)
	if err != nil {
		return nil, err
	}
	cdh := sha256.Sum256(cdj)

	info, err := p.session(ctx)
	if err != nil {
		return nil, err
	}
	supported := false
	for _, cp := range params {
		for _, a := range info.Algorithms {
			supported = supported || cp.Alg == a.Alg
		}
	}
	if !supported {
		return nil, fmt.Errorf("no requested algorithm is supported by the key: %w", ErrNotSupported)
	}
	sel := opts.AuthenticatorSelection
	if sel.AuthenticatorAttachment == protocol.Platform {
		return nil, fmt.Errorf("platform attachment requested, the key is cross-platform: %w", ErrNotSupported)
	}
	rk := false
	switch {
	case sel.ResidentKey == protocol.ResidentKeyRequirementRequired:
		rk = true
	case sel.ResidentKey == protocol.ResidentKeyRequirementPreferred:
		rk = info.Options["rk"] && info.Options["clientPin"] && pin != ""
	case sel.ResidentKey == "" && sel.RequireResidentKey != nil && *sel.RequireResidentKey:
		rk = true
	}
	if rk && !info.Options["rk"] {
		return nil, fmt.Errorf("resident key required: %w", ErrNotSupported)
	}
	useToken, err := uvPlan(info, sel.UserVerification, pin, rk)
	if err != nil {
		return nil, err
	}
	req := makeCredentialRequest{
		ClientDataHash: cdh[:],
		RP:             &rpEntity{ID: &rpID, Name: opts.RelyingParty.Name},
		User:           &userEntity{ID: uid, Name: opts.User.Name, DisplayName: opts.User.DisplayName},
		Params:         params,
	}
	for _, d := range opts.CredentialExcludeList {
		if d.Type == protocol.PublicKeyCredentialType {
			req.ExcludeList = append(req.ExcludeList, credDescriptor{Type: "public-key", ID: d.CredentialID})
		}
	}
	var tok *pinTok
	if useToken {
		perms := permMakeCredential
		if len(req.ExcludeList) > info.MaxCredsInList {
			perms |= permGetAssertion // for the silent probes
		}
		proto, token, err := p.pinToken(ctx, info, pin, perms, rpID)
		if err != nil {
			return nil, err
		}
		defer clear(token)
		tok = &pinTok{proto, token}
		req.Protocol, req.PinUvAuth = &proto, pinAuthenticate(proto, token, cdh[:])
	}
	if req.ExcludeList, err = p.narrow(ctx, info, rpID, req.ExcludeList, tok); err != nil {
		return nil, err
	}
	if rk {
		req.Options = map[string]bool{"rk": true}
	}
	ext := opts.Extensions
	var outputs protocol.AuthenticationExtensionsClientOutputs
	authExt := map[string]any{}
	if ext.CredentialProtectionPolicy != "" {
		level, ok := credProtectLevels[ext.CredentialProtectionPolicy]
		if !ok {
			return nil, fmt.Errorf("unknown credentialProtectionPolicy %q", ext.CredentialProtectionPolicy)
		}
		authExt["credProtect"] = level
	}
	hmacRequested := ext.HMACCreateSecret || ext.PRF != nil
	if hmacRequested {
		authExt["hmac-secret"] = true
	}
	if len(authExt) > 0 {
		req.Extensions = map[string]cbor.RawMessage{}
		for k, v := range authExt {
			b, err := ctapEnc.Marshal(v)
			if err != nil {
				return nil, err
			}
			req.Extensions[k] = b
		}
	}
	var resp struct {
		Fmt      string          `cbor:"1,keyasint"`
		AuthData []byte          `cbor:"2,keyasint"`
		AttStmt  cbor.RawMessage `cbor:"3,keyasint"`
	}
	if err := p.ctap(ctx, cmdMakeCredential, req, &resp); err != nil {
		return nil, err
	}
	parsed, err := parseAttestedAuthData(resp.AuthData)
	if err != nil {
		return nil, err
	}
	// Client extension outputs, only for extensions the RP asked for.
	if ext.CredProps {
		outputs.CredProps = &protocol.CredentialPropertiesOutput{RK: &rk}
	}
	hmacOK := bytes.Contains(parsed.ext, []byte("hmac-secret"))
	if ext.HMACCreateSecret {
		outputs.HMACCreateSecret = &hmacOK
	}
	if ext.PRF != nil {
		outputs.PRF = &protocol.PRFOutputs{Enabled: &hmacOK}
	}
	obj := attestationObject{Fmt: resp.Fmt, AttStmt: resp.AttStmt, AuthData: resp.AuthData}
	if !p.rawAttestation && (opts.Attestation == "" || opts.Attestation == protocol.PreferNoAttestation) {
		// Browsers replace the attestation with "none" and zero the AAGUID.
		ad := bytes.Clone(resp.AuthData)
		clear(ad[37:53])
		obj = attestationObject{Fmt: "none", AttStmt: []byte{0xA0}, AuthData: ad}
	}
	attObj, err := ctapEnc.Marshal(obj)
	if err != nil {
		return nil, err
	}
	transports := []string{"usb"}
	if slices.Contains(info.Transports, "nfc") {
		transports = []string{"nfc", "usb"}
	}
	return json.Marshal(credentialJSON{
		ID:                      b64(parsed.credID),
		RawID:                   b64(parsed.credID),
		Type:                    "public-key",
		AuthenticatorAttachment: "cross-platform",
		ClientExtensionResults:  outputs,
		Response: attestationResponseJSON{
			ClientDataJSON:     b64(cdj),
			AttestationObject:  b64(attObj),
			AuthenticatorData:  b64(obj.AuthData),
			Transports:         transports,
			PublicKey:          b64(parsed.spki),
			PublicKeyAlgorithm: parsed.alg,
		},
	})
}

type attestedData struct {
	credID []byte
	alg    int
	spki   []byte
	ext    []byte
}

// parseAttestedAuthData reads the credential ID and public key from
// authenticator data with attested credential data.
func parseAttestedAuthData(ad []byte) (attestedData, error) {
	bad := func(what string) (attestedData, error) {
		return attestedData{}, fmt.Errorf("authenticator data %s: %w", what, ErrCard)
	}
	if len(ad) < 37+16+2 || ad[32]&flagAT == 0 {
		return bad("without attested credential data")
	}
	n := int(binary.BigEndian.Uint16(ad[53:55]))
	if len(ad) < 55+n {
		return bad("truncated")
	}
	out := attestedData{credID: ad[55 : 55+n]}
	var ck coseKey
	rest, err := cbor.UnmarshalFirst(ad[55+n:], &ck)
	if err != nil {
		return bad("with a bad public key")
	}
	out.ext = rest
	out.alg = ck.Alg
	var pub any
	switch ck.Alg {
	case coseES256:
		pk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, ck.X...), ck.Y...))
		if err != nil {
			return bad("with a bad P-256 key")
		}
		pub = pk
	case coseEdDSA:
		if len(ck.X) != ed25519.PublicKeySize {
			return bad("with a bad Ed25519 key")
		}
		pub = ed25519.PublicKey(ck.X)
	}
	if pub != nil {
		if out.spki, err = x509.MarshalPKIXPublicKey(pub); err != nil {
			return bad("with an unencodable key")
		}
	}
	return out, nil
}

// pinTok is a PIN/UV auth token and its protocol.
type pinTok struct {
	proto int
	token []byte
}

// narrow reduces a credential list longer than the key's
// maxCredentialCountInList to the one credential the key knows, probing
// batches with silent (up=false) getAssertion as browsers do. It returns
// nil when no batch matches.
func (p *Platform) narrow(ctx context.Context, info *getInfoResponse, rpID string, list []credDescriptor, tok *pinTok) ([]credDescriptor, error) {
	limit := info.MaxCredsInList
	if limit <= 0 || len(list) <= limit {
		return list, nil
	}
	probeHash := make([]byte, 32)
	for start := 0; start < len(list); start += limit {
		batch := list[start:min(start+limit, len(list))]
		req := getAssertionRequest{RPID: &rpID, ClientDataHash: probeHash, AllowList: batch, Options: map[string]bool{"up": false}}
		if tok != nil {
			req.Protocol, req.PinUvAuth = &tok.proto, pinAuthenticate(tok.proto, tok.token, probeHash)
		}
		var resp struct {
			Credential credDescriptor `cbor:"1,keyasint"`
		}
		err := p.ctap(ctx, cmdGetAssertion, req, &resp)
		switch {
		case err == nil:
			return []credDescriptor{resp.Credential}, nil
		case errors.Is(err, ErrNoCredentials):
		default:
			return nil, err
		}
	}
	return nil, nil
}

// GetAssertion runs navigator.credentials.get() at origin with opts and
// returns the PublicKeyCredential JSON that go-webauthn's
// protocol.ParseCredentialRequestResponseBytes parses. When several
// discoverable credentials match, it picks the most recent one, as a user
// choosing the first account would.
func (p *Platform) GetAssertion(ctx context.Context, origin string, opts protocol.PublicKeyCredentialRequestOptions, pin string) ([]byte, error) {
	unlock := p.lock()
	defer unlock()
	out, err := p.get(ctx, origin, opts, pin)
	if err != nil {
		return nil, fmt.Errorf("simulator: get assertion: %w", err)
	}
	return out, nil
}

// GetAssertionJSON is GetAssertion with the options as JSON, either
// {"publicKey": {...}} (go-webauthn's protocol.CredentialAssertion) or the
// bare options.
func (p *Platform) GetAssertionJSON(ctx context.Context, origin string, optionsJSON []byte, pin string) ([]byte, error) {
	opts, err := decodeOptions[protocol.PublicKeyCredentialRequestOptions](optionsJSON)
	if err != nil {
		return nil, fmt.Errorf("simulator: get assertion: options JSON: %w", err)
	}
	return p.GetAssertion(ctx, origin, opts, pin)
}

// hmacSecretOutput decrypts the hmac-secret output in an assertion's
// authenticator data (n bytes: one or two 32-byte outputs). Like a
// browser, it returns nil (no client output) when the key sent none or an
// undecodable one.
func hmacSecretOutput(authData []byte, proto int, shared []byte, n int) []byte {
	if len(authData) <= 37 || authData[32]&flagED == 0 {
		return nil
	}
	var ext map[string]cbor.RawMessage
	if err := cbor.Unmarshal(authData[37:], &ext); err != nil {
		return nil
	}
	var enc []byte
	if err := cbor.Unmarshal(ext["hmac-secret"], &enc); err != nil {
		return nil
	}
	plain, err := pinDecrypt(proto, shared, enc)
	if err != nil || len(plain) != n {
		return nil
	}
	return plain
}

// prfSalt maps a WebAuthn PRF input to an hmac-secret salt.
func prfSalt(in []byte) []byte {
	h := sha256.New()
	h.Write([]byte("WebAuthn PRF\x00"))
	h.Write(in)
	return h.Sum(nil)
}

func (p *Platform) get(ctx context.Context, origin string, opts protocol.PublicKeyCredentialRequestOptions, pin string) ([]byte, error) {
	origin, rpID, err := checkOrigin(origin, opts.RelyingPartyID)
	if err != nil {
		return nil, err
	}
	if len(opts.Challenge) == 0 {
		return nil, errors.New("challenge is empty")
	}
	cdj, err := clientDataJSON("webauthn.get", opts.Challenge, origin)
	if err != nil {
		return nil, err
	}
	cdh := sha256.Sum256(cdj)
	info, err := p.session(ctx)
	if err != nil {
		return nil, err
	}
	useToken, err := uvPlan(info, opts.UserVerification, pin, false)
	if err != nil {
		return nil, err
	}
	req := getAssertionRequest{RPID: &rpID, ClientDataHash: cdh[:]}
	for _, d := range opts.AllowedCredentials {
		if d.Type == protocol.PublicKeyCredentialType {
			req.AllowList = append(req.AllowList, credDescriptor{Type: "public-key", ID: d.CredentialID})
		}
	}
	var tok *pinTok
	if useToken {
		proto, token, err := p.pinToken(ctx, info, pin, permGetAssertion, rpID)
		if err != nil {
			return nil, err
		}
		defer clear(token)
		tok = &pinTok{proto, token}
		req.Protocol, req.PinUvAuth = &proto, pinAuthenticate(proto, token, cdh[:])
	}
	if len(opts.AllowedCredentials) > 0 {
		if req.AllowList, err = p.narrow(ctx, info, rpID, req.AllowList, tok); err != nil {
			return nil, err
		}
		if len(req.AllowList) == 0 {
			return nil, &CTAPError{Code: ctapNoCredentials}
		}
	}
	// hmac-secret (from hmacGetSecret or PRF eval).
	ext := opts.Extensions
	var salts []byte
	var prf bool
	switch {
	case ext.PRF != nil && !ext.PRF.Eval.IsZero():
		prf = true
		salts = prfSalt(ext.PRF.Eval.First)
		if len(ext.PRF.Eval.Second) > 0 {
			salts = append(salts, prfSalt(ext.PRF.Eval.Second)...)
		}
	case !ext.HMACGetSecret.IsZero():
		if len(ext.HMACGetSecret.Salt1) != 32 || (len(ext.HMACGetSecret.Salt2) != 0 && len(ext.HMACGetSecret.Salt2) != 32) {
			return nil, errors.New("hmacGetSecret salts must be 32 bytes")
		}
		salts = append(bytes.Clone(ext.HMACGetSecret.Salt1), ext.HMACGetSecret.Salt2...)
	}
	var hmacShared []byte
	var hmacProto int
	if salts != nil {
		hmacProto = p.protocol(info)
		ka, shared, err := p.agree(ctx, hmacProto)
		if err != nil {
			return nil, err
		}
		saltEnc, err := pinEncrypt(hmacProto, shared, salts, p.rand)
		if err != nil {
			return nil, err
		}
		in := hmacSecretInput{KeyAgreement: &ka, SaltEnc: saltEnc, SaltAuth: pinAuthenticate(hmacProto, shared, saltEnc), Protocol: &hmacProto}
		b, err := ctapEnc.Marshal(in)
		if err != nil {
			return nil, err
		}
		req.Extensions = map[string]cbor.RawMessage{"hmac-secret": b}
		hmacShared = shared
		defer clear(shared)
	}
	var resp struct {
		Credential credDescriptor `cbor:"1,keyasint"`
		AuthData   []byte         `cbor:"2,keyasint"`
		Signature  []byte         `cbor:"3,keyasint"`
		User       *userEntity    `cbor:"4,keyasint"`
		NumCreds   int            `cbor:"5,keyasint"`
	}
	if err := p.ctap(ctx, cmdGetAssertion, req, &resp); err != nil {
		return nil, err
	}
	if len(resp.AuthData) < 37 {
		return nil, fmt.Errorf("authenticator data of %d bytes: %w", len(resp.AuthData), ErrCard)
	}
	var outputs protocol.AuthenticationExtensionsClientOutputs
	if ext.AppID != "" {
		f := false
		outputs.AppID = &f
	}
	if salts != nil {
		if plain := hmacSecretOutput(resp.AuthData, hmacProto, hmacShared, len(salts)); plain != nil {
			first, second := plain[:32], plain[32:]
			if len(second) == 0 {
				second = nil
			}
			if prf {
				outputs.PRF = &protocol.PRFOutputs{Results: &protocol.PRFValues{First: first, Second: second}}
			} else {
				outputs.HMACGetSecret = &protocol.HMACGetSecretOutputs{Output1: first, Output2: second}
			}
		}
	}
	ar := assertionResponseJSON{
		ClientDataJSON:    b64(cdj),
		AuthenticatorData: b64(resp.AuthData),
		Signature:         b64(resp.Signature),
	}
	if resp.User != nil {
		ar.UserHandle = b64(resp.User.ID)
	}
	return json.Marshal(credentialJSON{
		ID:                      b64(resp.Credential.ID),
		RawID:                   b64(resp.Credential.ID),
		Type:                    "public-key",
		AuthenticatorAttachment: "cross-platform",
		ClientExtensionResults:  outputs,
		Response:                ar,
	})
}

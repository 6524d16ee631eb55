package simulator

import (
	"bytes"
	"crypto/ecdh"
	"crypto/sha256"
	"crypto/subtle"
	"io"
	"unicode/utf8"
)

// clientPIN subcommands (CTAP 2.1 §6.5.5).
const (
	pinGetRetries        = 0x01
	pinGetKeyAgreement   = 0x02
	pinSetPIN            = 0x03
	pinChangePIN         = 0x04
	pinGetPINToken       = 0x05
	pinGetTokenUsingUV   = 0x06
	pinGetUVRetries      = 0x07
	pinGetTokenWithPerms = 0x09
	paddedPINLength      = 64
	pinHashLength        = 16
	pinTokenLength       = 32
)

type clientPINRequest struct {
	Protocol     *int     `cbor:"1,keyasint,omitempty"`
	SubCommand   *int     `cbor:"2,keyasint,omitempty"`
	KeyAgreement *coseKey `cbor:"3,keyasint,omitempty"`
	PinUvAuth    []byte   `cbor:"4,keyasint,omitempty"`
	NewPinEnc    []byte   `cbor:"5,keyasint,omitempty"`
	PinHashEnc   []byte   `cbor:"6,keyasint,omitempty"`
	Permissions  *int     `cbor:"9,keyasint,omitempty"`
	RPID         *string  `cbor:"10,keyasint,omitempty"`
}

type clientPINResponse struct {
	KeyAgreement    *coseKey `cbor:"1,keyasint,omitempty"`
	PinUvAuthToken  []byte   `cbor:"2,keyasint,omitempty"`
	Retries         *int     `cbor:"3,keyasint,omitempty"`
	PowerCycleState *bool    `cbor:"4,keyasint,omitempty"`
}

func (a *fidoApplet) clientPIN(params []byte) []byte {
	var req clientPINRequest
	sub, code := decodeSubcommand(params, &req)
	if code != ctapOK {
		return statusOnly(code)
	}
	switch sub {
	case pinGetRetries:
		r, pc := a.retries, a.authBlocked
		return encodeCTAP(clientPINResponse{Retries: &r, PowerCycleState: &pc})
	case pinGetTokenUsingUV, pinGetUVRetries:
		// No built-in user verification (no fingerprint sensor).
		return statusOnly(ctapInvalidSubcommand)
	}
	if req.Protocol == nil {
		return statusOnly(ctapMissingParameter)
	}
	proto := *req.Protocol
	if proto != 1 && proto != 2 {
		return statusOnly(ctapInvalidParameter)
	}
	switch sub {
	case pinGetKeyAgreement:
		ka, err := a.keyAgreement()
		if err != nil {
			return statusOnly(ctapOther)
		}
		if a.kaResp.ka != ka {
			ck := coseFromECDH(ka.PublicKey())
			a.kaResp = kaResp{ka: ka, resp: encodeCTAP(clientPINResponse{KeyAgreement: &ck})}
		}
		return a.kaResp.resp
	case pinSetPIN:
		return statusOnly(a.setPIN(proto, &req))
	case pinChangePIN:
		return statusOnly(a.changePIN(proto, &req))
	case pinGetPINToken:
		if req.Permissions != nil || req.RPID != nil {
			return statusOnly(ctapInvalidParameter)
		}
		return a.getToken(proto, &req, permMakeCredential|permGetAssertion, "")
	case pinGetTokenWithPerms:
		if req.Permissions == nil {
			return statusOnly(ctapMissingParameter)
		}
		perms := *req.Permissions
		if perms <= 0 || perms > 0xFF {
			return statusOnly(ctapInvalidParameter)
		}
		if byte(perms)&^permSupported != 0 {
			return statusOnly(ctapUnauthorizedPermission)
		}
		rpID := ""
		if req.RPID != nil {
			rpID = *req.RPID
		}
		return a.getToken(proto, &req, byte(perms), rpID)
	}
	return statusOnly(ctapInvalidSubcommand)
}

// keyAgreement returns the authenticator's key agreement key, made at
// power-up (lazily) and after every wrong PIN.
func (a *fidoApplet) keyAgreement() (*ecdh.PrivateKey, error) {
	if a.ka == nil {
		k, err := newECDHKey(a.env.rand)
		if err != nil {
			return nil, err
		}
		a.ka = k
	}
	return a.ka, nil
}

// dropKeyAgreement forgets the key agreement key (the next
// getKeyAgreement makes a new one) and the memoized shared secret.
func (a *fidoApplet) dropKeyAgreement() {
	a.ka = nil
	a.kaResp = kaResp{}
	a.kaMemo.drop()
}

// kaResp is a simulator optimisation, not key behaviour: the encoded
// getKeyAgreement answer (status byte and CBOR) for the key agreement key
// ka. The answer is a function of the key alone, and a platform asks for
// it at every PIN/UV auth protocol session; a new key encodes it again.
type kaResp struct {
	ka   *ecdh.PrivateKey
	resp []byte
}

// kaMemo is a simulator optimisation, not key behaviour: the shared secret
// derived for the last platform key agreement key the applet saw, under
// the current key agreement key. A platform that keeps its ephemeral key
// while the authenticator's key is unchanged (CTAP 2.1 §6.5.4 changes it
// only at power-up, reset and after a wrong PIN) sends the same key every
// session; the output is what the ECDH and KDF would give again. Dropped
// (and zeroed) with the key agreement key, at power off and at reset.
type kaMemo struct {
	ka     *ecdh.PrivateKey // the key agreement key it was derived with
	proto  int
	peer   []byte // the platform's key: 0x04 || X || Y
	shared []byte
}

func (m *kaMemo) drop() {
	clear(m.shared)
	*m = kaMemo{}
}

// shared decodes the platform's key agreement key and derives the shared
// secret. The caller owns (and should clear) the returned slice.
func (a *fidoApplet) shared(proto int, ck *coseKey) ([]byte, byte) {
	if ck == nil {
		return nil, ctapMissingParameter
	}
	if ck.Kty != 2 || ck.Crv != 1 || len(ck.X) != 32 || len(ck.Y) != 32 {
		return nil, ctapInvalidParameter
	}
	ka, err := a.keyAgreement()
	if err != nil {
		return nil, ctapOther
	}
	m := &a.kaMemo
	if m.ka == ka && m.proto == proto && len(m.peer) == 65 &&
		bytes.Equal(m.peer[1:33], ck.X) && bytes.Equal(m.peer[33:], ck.Y) {
		return bytes.Clone(m.shared), ctapOK
	}
	pub, err := ck.ecdhPublic()
	if err != nil {
		return nil, ctapInvalidParameter
	}
	s, err := ecdhShared(proto, ka, pub)
	if err != nil {
		return nil, ctapInvalidParameter
	}
	m.drop()
	*m = kaMemo{ka: ka, proto: proto, peer: pub.Bytes(), shared: bytes.Clone(s)}
	return s, ctapOK
}

// decodeNewPIN decrypts newPinEnc and checks the PIN rules: 64 bytes of
// padding, at least minPINLength code points, at most 63 bytes, UTF-8.
func (a *fidoApplet) decodeNewPIN(proto int, shared, enc []byte) ([]byte, int, byte) {
	want := paddedPINLength
	if proto == 2 {
		want += 16
	}
	if len(enc) != want {
		return nil, 0, ctapInvalidParameter
	}
	padded, err := pinDecrypt(proto, shared, enc)
	if err != nil {
		return nil, 0, ctapInvalidParameter
	}
	pin := padded
	if i := bytes.IndexByte(padded, 0); i >= 0 {
		pin = padded[:i]
		if !allZero(padded[i:]) {
			clear(padded)
			return nil, 0, ctapPINPolicyViolation
		}
	}
	n := utf8.RuneCount(pin)
	if len(pin) > fidoMaxPINBytes || !utf8.Valid(pin) || n < a.minPINLen {
		clear(padded) // a refused PIN is still a secret
		return nil, 0, ctapPINPolicyViolation
	}
	return pin, n, ctapOK
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func pinHashOf(pin []byte) []byte {
	h := sha256.Sum256(pin)
	return h[:pinHashLength]
}

func (a *fidoApplet) setPIN(proto int, req *clientPINRequest) byte {
	if req.KeyAgreement == nil || req.PinUvAuth == nil || req.NewPinEnc == nil {
		return ctapMissingParameter
	}
	if a.pinHash != nil {
		return ctapNotAllowed
	}
	shared, code := a.shared(proto, req.KeyAgreement)
	if code != ctapOK {
		return code
	}
	defer clear(shared)
	if !pinVerify(proto, shared, req.NewPinEnc, req.PinUvAuth) {
		return ctapPINAuthInvalid
	}
	pin, n, code := a.decodeNewPIN(proto, shared, req.NewPinEnc)
	if code != ctapOK {
		return code
	}
	defer clear(pin)
	a.pinHash, a.pinCodePts = pinHashOf(pin), n
	a.retries = fidoPINRetries
	return ctapOK
}

// checkPIN verifies pinHashEnc against the stored PIN, counting retries.
func (a *fidoApplet) checkPIN(proto int, shared, pinHashEnc []byte) byte {
	want := pinHashLength
	if proto == 2 {
		want += 16
	}
	if len(pinHashEnc) != want {
		return ctapInvalidParameter
	}
	if a.retries == 0 {
		return ctapPINBlocked
	}
	if a.authBlocked {
		return ctapPINAuthBlocked
	}
	a.retries--
	got, err := pinDecrypt(proto, shared, pinHashEnc)
	defer clear(got)
	if err != nil || subtle.ConstantTimeCompare(got, a.pinHash) != 1 {
		a.dropKeyAgreement() // regenerate the key agreement key
		a.consecutive++
		switch {
		case a.retries == 0:
			return ctapPINBlocked
		case a.consecutive >= fidoPINFailsPerBoot:
			a.authBlocked = true
			return ctapPINAuthBlocked
		}
		return ctapPINInvalid
	}
	a.retries = fidoPINRetries
	a.consecutive = 0
	return ctapOK
}

func (a *fidoApplet) changePIN(proto int, req *clientPINRequest) byte {
	if req.KeyAgreement == nil || req.PinUvAuth == nil || req.NewPinEnc == nil || req.PinHashEnc == nil {
		return ctapMissingParameter
	}
	if a.pinHash == nil {
		return ctapPINNotSet
	}
	if a.retries == 0 {
		return ctapPINBlocked
	}
	shared, code := a.shared(proto, req.KeyAgreement)
	if code != ctapOK {
		return code
	}
	defer clear(shared)
	msg := append(append([]byte(nil), req.NewPinEnc...), req.PinHashEnc...)
	if !pinVerify(proto, shared, msg, req.PinUvAuth) {
		return ctapPINAuthInvalid
	}
	if code := a.checkPIN(proto, shared, req.PinHashEnc); code != ctapOK {
		return code
	}
	pin, n, code := a.decodeNewPIN(proto, shared, req.NewPinEnc)
	if code != ctapOK {
		return code
	}
	defer clear(pin)
	h := pinHashOf(pin)
	if a.forceChange && subtle.ConstantTimeCompare(h, a.pinHash) == 1 {
		return ctapPINPolicyViolation
	}
	a.pinHash, a.pinCodePts = h, n
	a.forceChange = false
	a.resetToken()
	return ctapOK
}

func (a *fidoApplet) getToken(proto int, req *clientPINRequest, perms byte, rpID string) []byte {
	if req.KeyAgreement == nil || req.PinHashEnc == nil {
		return statusOnly(ctapMissingParameter)
	}
	if a.pinHash == nil {
		return statusOnly(ctapPINNotSet)
	}
	if a.retries == 0 {
		return statusOnly(ctapPINBlocked)
	}
	shared, code := a.shared(proto, req.KeyAgreement)
	if code != ctapOK {
		return statusOnly(code)
	}
	defer clear(shared)
	if code := a.checkPIN(proto, shared, req.PinHashEnc); code != ctapOK {
		return statusOnly(code)
	}
	if a.forceChange {
		return statusOnly(ctapPINPolicyViolation)
	}
	token := make([]byte, pinTokenLength)
	if _, err := io.ReadFull(a.env.rand, token); err != nil {
		return statusOnly(ctapOther)
	}
	enc, err := pinEncrypt(proto, shared, token, a.env.rand)
	if err != nil {
		return statusOnly(ctapOther)
	}
	a.token, a.tokenProto, a.tokenPerms, a.tokenRPID = token, proto, perms, rpID
	a.tokenUntil = a.env.now().Add(fidoTokenLifetime)
	return encodeCTAP(clientPINResponse{PinUvAuthToken: enc})
}

// tokenUsed is what makeCredential and getAssertion do once the user has
// touched the key (CTAP 2.1 §6.1.2 and §6.2.2,
// clearPinUvAuthTokenPermissionsExceptLbw): the token cannot authorize a
// second ceremony, so a platform needs a fresh token for each. Silent
// (up=false) probes keep it.
func (a *fidoApplet) tokenUsed() { a.tokenPerms = 0 }

// useToken checks pinUvAuthParam over msg with the current token, its
// permission perm and its RP binding (binding it to rpID when unbound).
func (a *fidoApplet) useToken(proto int, msg, param []byte, perm byte, rpID string) byte {
	// A key keeps one token per protocol (CTAP 2.1 §6.5); the
	// simulator keeps only the latest, so a token is good only with the
	// protocol it was issued under.
	if a.token == nil || proto != a.tokenProto || a.env.now().After(a.tokenUntil) {
		return ctapPINAuthInvalid
	}
	if !pinVerify(proto, a.token, msg, param) {
		return ctapPINAuthInvalid
	}
	if a.tokenPerms&perm == 0 {
		return ctapPINAuthInvalid
	}
	if rpID != "" {
		if a.tokenRPID != "" && a.tokenRPID != rpID {
			return ctapPINAuthInvalid
		}
		a.tokenRPID = rpID
	}
	return ctapOK
}

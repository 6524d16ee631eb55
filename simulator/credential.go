package simulator

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"slices"

	"github.com/fxamacker/cbor/v2"
)

// authenticator data flags (WebAuthn §6.1).
const (
	flagUP byte = 0x01
	flagUV byte = 0x04
	flagAT byte = 0x40
	flagED byte = 0x80
)

type rpEntity struct {
	ID   *string `cbor:"id"`
	Name string  `cbor:"name,omitempty"`
}

type userEntity struct {
	ID          []byte `cbor:"id"`
	Name        string `cbor:"name,omitempty"`
	DisplayName string `cbor:"displayName,omitempty"`
}

type credDescriptor struct {
	Type string `cbor:"type"`
	ID   []byte `cbor:"id"`
}

type makeCredentialRequest struct {
	ClientDataHash []byte                     `cbor:"1,keyasint,omitempty"`
	RP             *rpEntity                  `cbor:"2,keyasint,omitempty"`
	User           *userEntity                `cbor:"3,keyasint,omitempty"`
	Params         []credParam                `cbor:"4,keyasint,omitempty"`
	ExcludeList    []credDescriptor           `cbor:"5,keyasint,omitempty"`
	Extensions     map[string]cbor.RawMessage `cbor:"6,keyasint,omitempty"`
	Options        map[string]bool            `cbor:"7,keyasint,omitempty"`
	PinUvAuth      []byte                     `cbor:"8,keyasint,omitempty"`
	Protocol       *int                       `cbor:"9,keyasint,omitempty"`
	EnterpriseAtt  *int                       `cbor:"10,keyasint,omitempty"`
}

type attStmt struct {
	Alg int      `cbor:"alg"`
	Sig []byte   `cbor:"sig"`
	X5C [][]byte `cbor:"x5c"`
}

type makeCredentialResponse struct {
	Fmt      string  `cbor:"1,keyasint"`
	AuthData []byte  `cbor:"2,keyasint"`
	AttStmt  attStmt `cbor:"3,keyasint"`
}

type getAssertionRequest struct {
	RPID           *string                    `cbor:"1,keyasint,omitempty"`
	ClientDataHash []byte                     `cbor:"2,keyasint,omitempty"`
	AllowList      []credDescriptor           `cbor:"3,keyasint,omitempty"`
	Extensions     map[string]cbor.RawMessage `cbor:"4,keyasint,omitempty"`
	Options        map[string]bool            `cbor:"5,keyasint,omitempty"`
	PinUvAuth      []byte                     `cbor:"6,keyasint,omitempty"`
	Protocol       *int                       `cbor:"7,keyasint,omitempty"`
}

type getAssertionResponse struct {
	Credential credDescriptor `cbor:"1,keyasint"`
	AuthData   []byte         `cbor:"2,keyasint"`
	Signature  []byte         `cbor:"3,keyasint"`
	User       *userEntity    `cbor:"4,keyasint,omitempty"`
	NumCreds   int            `cbor:"5,keyasint,omitempty"`
}

// hmacSecretInput is the hmac-secret extension input of getAssertion.
type hmacSecretInput struct {
	KeyAgreement *coseKey `cbor:"1,keyasint,omitempty"`
	SaltEnc      []byte   `cbor:"2,keyasint,omitempty"`
	SaltAuth     []byte   `cbor:"3,keyasint,omitempty"`
	Protocol     *int     `cbor:"4,keyasint,omitempty"`
}

// assertionState is what getNextAssertion continues from.
type assertionState struct {
	creds    []*residentCred
	rpIDHash []byte
	cdh      []byte
	flags    byte
	hmacIn   *hmacSecretInput
}

// checkPinUvAuth handles the pinUvAuthParam of makeCredential and
// getAssertion. It returns whether the user was verified.
func (a *fidoApplet) checkPinUvAuth(param []byte, proto *int, cdh []byte, perm byte, rpID string) (bool, byte) {
	if param == nil {
		return false, ctapOK
	}
	if len(param) == 0 {
		// A zero-length pinUvAuthParam asks the key to blink for
		// selection (CTAP 2.1 §6.1.2 step 1).
		if code := a.userPresence(); code != ctapOK {
			return false, code
		}
		if a.pinHash != nil {
			return false, ctapPINInvalid
		}
		return false, ctapPINNotSet
	}
	if proto == nil {
		return false, ctapMissingParameter
	}
	if *proto != 1 && *proto != 2 {
		return false, ctapInvalidParameter
	}
	if a.pinHash == nil {
		return false, ctapPINNotSet
	}
	if code := a.useToken(*proto, cdh, param, perm, rpID); code != ctapOK {
		return false, code
	}
	return true, ctapOK
}

func (a *fidoApplet) makeCredential(params []byte) []byte {
	var req makeCredentialRequest
	if code := decodeCTAP(params, &req); code != ctapOK {
		return statusOnly(code)
	}
	if req.ClientDataHash == nil || req.RP == nil || req.RP.ID == nil || req.User == nil || req.User.ID == nil || req.Params == nil {
		return statusOnly(ctapMissingParameter)
	}
	if len(req.ClientDataHash) != 32 || len(req.User.ID) > 64 || *req.RP.ID == "" {
		return statusOnly(ctapInvalidParameter)
	}
	if len(req.ExcludeList) > fidoMaxCredsInList {
		return statusOnly(ctapLimitExceeded)
	}
	rpID := *req.RP.ID
	alg := 0
	for _, p := range req.Params {
		if p.Type == "public-key" && (p.Alg == coseES256 || p.Alg == coseEdDSA) {
			alg = p.Alg
			break
		}
	}
	if alg == 0 {
		return statusOnly(ctapUnsupportedAlgorithm)
	}
	rk := false
	for name, v := range req.Options {
		switch name {
		case "rk":
			rk = v
		case "up":
			if !v {
				return statusOnly(ctapInvalidOption)
			}
		case "uv":
			if v {
				// No built-in user verification: UV is done with the PIN.
				return statusOnly(ctapInvalidOption)
			}
		}
	}
	if req.EnterpriseAtt != nil {
		return statusOnly(ctapInvalidParameter)
	}
	uv, code := a.verifyUser(req.PinUvAuth, req.Protocol, req.ClientDataHash, permMakeCredential, rpID)
	if code != ctapOK {
		return statusOnly(code)
	}
	if !uv && a.pinHash != nil && rk {
		// makeCredUvNotRqd covers non-discoverable credentials only.
		return statusOnly(ctapPUATRequired)
	}
	// Extensions.
	var credProtect byte
	hmacSecret := false
	if raw, ok := req.Extensions["credProtect"]; ok {
		var level int
		if decodeCTAP(raw, &level) != ctapOK || level < 1 || level > 3 {
			return statusOnly(ctapInvalidParameter)
		}
		credProtect = byte(level)
	}
	if raw, ok := req.Extensions["hmac-secret"]; ok {
		if decodeCTAP(raw, &hmacSecret) != ctapOK {
			return statusOnly(ctapInvalidParameter)
		}
	}
	rpIDHash := sha256.Sum256([]byte(rpID))
	for _, d := range req.ExcludeList {
		m, _, ok := openCredential(a.master, rpIDHash[:], d.ID)
		if !ok || (m.resident && a.findResident(d.ID) == nil) {
			continue
		}
		if m.credProtect == 3 && !uv {
			continue
		}
		if code := a.userPresence(); code != ctapOK {
			return statusOnly(code)
		}
		return statusOnly(ctapCredentialExcluded)
	}
	if rk && a.replaceableResident(rpID, req.User.ID) == nil && len(a.resident) >= fidoMaxResident {
		return statusOnly(ctapKeyStoreFull)
	}
	if code := a.userPresence(); code != ctapOK {
		return statusOnly(code)
	}
	a.tokenUsed()
	key, err := generateCredKey(alg, a.env.rand)
	if err != nil {
		return statusOnly(ctapOther)
	}
	coseB, err := key.cose()
	if err != nil {
		return statusOnly(ctapOther)
	}
	meta := credMeta{alg: alg, resident: rk, hmacSecret: hmacSecret, credProtect: credProtect}
	id, err := wrapCredential(a.master, a.env.rand, rpIDHash[:], meta, key.seed)
	if err != nil {
		return statusOnly(ctapOther)
	}
	if rk {
		if old := a.replaceableResident(rpID, req.User.ID); old != nil {
			a.deleteResident(old.id)
		}
		a.seq++
		a.resident = append(a.resident, &residentCred{
			id: id, rpID: rpID, rpName: req.RP.Name, rpIDHash: rpIDHash[:],
			userID: slices.Clone(req.User.ID), userName: req.User.Name, displayName: req.User.DisplayName,
			credProtect: credProtect, seq: a.seq,
		})
	}
	flags := flagUP | flagAT
	if uv {
		flags |= flagUV
	}
	var ext []byte
	if credProtect != 0 || hmacSecret {
		out := map[string]any{}
		if credProtect != 0 {
			out["credProtect"] = credProtect
		}
		if hmacSecret {
			out["hmac-secret"] = true
		}
		ext, err = ctapEnc.Marshal(out)
		if err != nil {
			return statusOnly(ctapOther)
		}
		flags |= flagED
	}
	a.counter++
	authData := make([]byte, 0, 37+16+2+len(id)+len(coseB)+len(ext))
	authData = append(authData, rpIDHash[:]...)
	authData = append(authData, flags)
	authData = binary.BigEndian.AppendUint32(authData, a.counter)
	authData = append(authData, a.env.aaguid[:]...)
	authData = binary.BigEndian.AppendUint16(authData, uint16(len(id)))
	authData = append(authData, id...)
	authData = append(authData, coseB...)
	authData = append(authData, ext...)

	h := sha256.Sum256(append(slices.Clone(authData), req.ClientDataHash...))
	sig, err := ecdsa.SignASN1(a.env.rand, a.attKey, h[:])
	if err != nil {
		return statusOnly(ctapOther)
	}
	return encodeCTAP(makeCredentialResponse{
		Fmt:      "packed",
		AuthData: authData,
		AttStmt:  attStmt{Alg: coseES256, Sig: sig, X5C: a.attChain},
	})
}

// verifyUser is checkPinUvAuth followed by requireUV: the user
// verification step of makeCredential and getAssertion. It returns
// whether the user was verified.
func (a *fidoApplet) verifyUser(param []byte, proto *int, cdh []byte, perm byte, rpID string) (bool, byte) {
	uv, code := a.checkPinUvAuth(param, proto, cdh, perm, rpID)
	if code != ctapOK {
		return false, code
	}
	return uv, a.requireUV(uv)
}

// requireUV enforces alwaysUv: without user verification, an operation
// fails with PIN_NOT_SET (no PIN to verify with) or PUAT_REQUIRED.
func (a *fidoApplet) requireUV(uv bool) byte {
	switch {
	case !a.alwaysUV || uv:
		return ctapOK
	case a.pinHash == nil:
		return ctapPINNotSet
	}
	return ctapPUATRequired
}

func (a *fidoApplet) findResident(id []byte) *residentCred {
	for _, c := range a.resident {
		if bytes.Equal(c.id, id) {
			return c
		}
	}
	return nil
}

// replaceableResident is the stored credential a new one for the same RP
// and user overwrites.
func (a *fidoApplet) replaceableResident(rpID string, userID []byte) *residentCred {
	for _, c := range a.resident {
		if c.rpID == rpID && bytes.Equal(c.userID, userID) {
			return c
		}
	}
	return nil
}

func (a *fidoApplet) deleteResident(id []byte) bool {
	for i, c := range a.resident {
		if bytes.Equal(c.id, id) {
			a.resident = slices.Delete(a.resident, i, i+1)
			return true
		}
	}
	return false
}

func (a *fidoApplet) getAssertion(params []byte) []byte {
	var req getAssertionRequest
	if code := decodeCTAP(params, &req); code != ctapOK {
		return statusOnly(code)
	}
	if req.RPID == nil || req.ClientDataHash == nil {
		return statusOnly(ctapMissingParameter)
	}
	if len(req.ClientDataHash) != 32 || *req.RPID == "" {
		return statusOnly(ctapInvalidParameter)
	}
	if len(req.AllowList) > fidoMaxCredsInList {
		return statusOnly(ctapLimitExceeded)
	}
	rpID := *req.RPID
	up := true
	for name, v := range req.Options {
		switch name {
		case "up":
			up = v
		case "uv":
			if v {
				return statusOnly(ctapInvalidOption)
			}
		case "rk":
			return statusOnly(ctapUnsupportedOption)
		}
	}
	uv, code := a.verifyUser(req.PinUvAuth, req.Protocol, req.ClientDataHash, permGetAssertion, rpID)
	if code != ctapOK {
		return statusOnly(code)
	}
	var hmacIn *hmacSecretInput
	if raw, ok := req.Extensions["hmac-secret"]; ok {
		hmacIn = new(hmacSecretInput)
		if code := decodeCTAP(raw, hmacIn); code != ctapOK {
			return statusOnly(code)
		}
		if hmacIn.KeyAgreement == nil || hmacIn.SaltEnc == nil || hmacIn.SaltAuth == nil {
			return statusOnly(ctapMissingParameter)
		}
	}
	rpIDHash := sha256.Sum256([]byte(rpID))
	var creds []*residentCred
	if len(req.AllowList) > 0 {
		for _, d := range req.AllowList {
			m, _, ok := openCredential(a.master, rpIDHash[:], d.ID)
			if !ok || d.Type != "public-key" {
				continue
			}
			c := &residentCred{id: d.ID, rpID: rpID, rpIDHash: rpIDHash[:], credProtect: m.credProtect}
			if m.resident {
				if c = a.findResident(d.ID); c == nil {
					continue // deleted discoverable credential
				}
			}
			if c.credProtect == 3 && !uv {
				continue
			}
			creds = append(creds, c)
			break
		}
	} else {
		for i := len(a.resident) - 1; i >= 0; i-- { // newest first
			c := a.resident[i]
			if c.rpID != rpID || (c.credProtect >= 2 && !uv) {
				continue
			}
			creds = append(creds, c)
		}
	}
	if len(creds) == 0 {
		return statusOnly(ctapNoCredentials)
	}
	var flags byte
	if up {
		if code := a.userPresence(); code != ctapOK {
			return statusOnly(code)
		}
		a.tokenUsed()
		flags |= flagUP
	}
	if uv {
		flags |= flagUV
	}
	st := &assertionState{creds: creds, rpIDHash: rpIDHash[:], cdh: req.ClientDataHash, flags: flags, hmacIn: hmacIn}
	discoverable := len(req.AllowList) == 0
	n := 0
	if discoverable && len(creds) > 1 {
		n = len(creds)
	}
	out := a.assert(st, discoverable, n)
	if discoverable && len(creds) > 1 {
		a.next = st
	}
	return out
}

func (a *fidoApplet) getNextAssertion() []byte {
	if a.next == nil || len(a.next.creds) == 0 {
		a.next = nil
		return statusOnly(ctapNotAllowed)
	}
	out := a.assert(a.next, true, 0)
	if len(a.next.creds) == 0 {
		a.next = nil
	}
	return out
}

// assert signs an assertion with st.creds[0] and pops it. numCreds > 0
// reports numberOfCredentials (first response of a discoverable
// assertion with several credentials).
func (a *fidoApplet) assert(st *assertionState, discoverable bool, numCreds int) []byte {
	c := st.creds[0]
	st.creds = st.creds[1:]
	m, key, ok := unwrapCredential(a.master, st.rpIDHash, c.id)
	if !ok {
		return statusOnly(ctapInvalidCredential)
	}
	flags := st.flags
	var ext []byte
	if st.hmacIn != nil && m.hmacSecret {
		out, code := a.hmacSecret(st.hmacIn, key, flags&flagUV != 0)
		if code != ctapOK {
			return statusOnly(code)
		}
		b, err := ctapEnc.Marshal(map[string][]byte{"hmac-secret": out})
		if err != nil {
			return statusOnly(ctapOther)
		}
		ext = b
		flags |= flagED
	}
	a.counter++
	authData := make([]byte, 0, 37+len(ext))
	authData = append(authData, st.rpIDHash...)
	authData = append(authData, flags)
	authData = binary.BigEndian.AppendUint32(authData, a.counter)
	authData = append(authData, ext...)
	sig, err := key.sign(a.env.rand, append(slices.Clone(authData), st.cdh...))
	if err != nil {
		return statusOnly(ctapOther)
	}
	resp := getAssertionResponse{
		Credential: credDescriptor{Type: "public-key", ID: c.id},
		AuthData:   authData,
		Signature:  sig,
	}
	if m.resident && c.userID != nil {
		resp.User = &userEntity{ID: c.userID}
		if flags&flagUV != 0 && discoverable {
			resp.User.Name, resp.User.DisplayName = c.userName, c.displayName
		}
	}
	resp.NumCreds = numCreds
	return encodeCTAP(resp)
}

// hmacSecret computes the hmac-secret extension output (CTAP 2.1
// §12.5): HMAC-SHA-256(CredRandom, salt) for one or two salts, encrypted
// to the platform. CredRandom is derived from the credential's key, one
// value with UV and one without.
func (a *fidoApplet) hmacSecret(in *hmacSecretInput, key *credKey, uv bool) ([]byte, byte) {
	proto := 1
	if in.Protocol != nil {
		proto = *in.Protocol
	}
	if proto != 1 && proto != 2 {
		return nil, ctapInvalidParameter
	}
	shared, code := a.shared(proto, in.KeyAgreement)
	if code != ctapOK {
		return nil, code
	}
	defer clear(shared)
	if !pinVerify(proto, shared, in.SaltEnc, in.SaltAuth) {
		return nil, ctapPINAuthInvalid
	}
	salts, err := pinDecrypt(proto, shared, in.SaltEnc)
	if err != nil || (len(salts) != 32 && len(salts) != 64) {
		return nil, ctapInvalidLength
	}
	label := []byte("hmac-secret without uv")
	if uv {
		label = []byte("hmac-secret with uv")
	}
	credRandom := hmacSHA256(key.seed, label)
	var out []byte
	for i := 0; i < len(salts); i += 32 {
		out = append(out, hmacSHA256(credRandom, salts[i:i+32])...)
	}
	enc, err := pinEncrypt(proto, shared, out, a.env.rand)
	if err != nil {
		return nil, ctapOther
	}
	return enc, ctapOK
}

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

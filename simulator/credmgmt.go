package simulator

import (
	"bytes"
	"slices"

	"github.com/fxamacker/cbor/v2"
)

// credentialManagement subcommands (CTAP 2.1 §6.8).
const (
	cmGetCredsMetadata    = 0x01
	cmEnumerateRPsBegin   = 0x02
	cmEnumerateRPsNext    = 0x03
	cmEnumerateCredsBegin = 0x04
	cmEnumerateCredsNext  = 0x05
	cmDeleteCredential    = 0x06
	cmUpdateUserInfo      = 0x07
)

type cmParams struct {
	RPIDHash     []byte          `cbor:"1,keyasint,omitempty"`
	CredentialID *credDescriptor `cbor:"2,keyasint,omitempty"`
	User         *userEntity     `cbor:"3,keyasint,omitempty"`
}

type cmRequest struct {
	SubCommand *int            `cbor:"1,keyasint,omitempty"`
	Params     cbor.RawMessage `cbor:"2,keyasint,omitempty"`
	Protocol   *int            `cbor:"3,keyasint,omitempty"`
	PinUvAuth  []byte          `cbor:"4,keyasint,omitempty"`
}

type cmRP struct {
	ID   string `cbor:"id"`
	Name string `cbor:"name,omitempty"`
}

type cmResponse struct {
	ExistingCount  *int            `cbor:"1,keyasint,omitempty"`
	RemainingCount *int            `cbor:"2,keyasint,omitempty"`
	RP             *cmRP           `cbor:"3,keyasint,omitempty"`
	RPIDHash       []byte          `cbor:"4,keyasint,omitempty"`
	TotalRPs       *int            `cbor:"5,keyasint,omitempty"`
	User           *userEntity     `cbor:"6,keyasint,omitempty"`
	CredentialID   *credDescriptor `cbor:"7,keyasint,omitempty"`
	PublicKey      cbor.RawMessage `cbor:"8,keyasint,omitempty"`
	TotalCreds     *int            `cbor:"9,keyasint,omitempty"`
	CredProtect    *int            `cbor:"10,keyasint,omitempty"`
}

func intp(v int) *int { return &v }

// authorize checks the pinUvAuthParam of a credentialManagement or
// authenticatorConfig request over msg with the PIN token, which must
// hold permission perm: PUAT_REQUIRED without one, INVALID_PARAMETER for
// a protocol other than 1 or 2.
func (a *fidoApplet) authorize(req *cmRequest, msg []byte, perm byte) byte {
	if req.PinUvAuth == nil || req.Protocol == nil {
		return ctapPUATRequired
	}
	if *req.Protocol != 1 && *req.Protocol != 2 {
		return ctapInvalidParameter
	}
	return a.useToken(*req.Protocol, msg, req.PinUvAuth, perm, "")
}

func (a *fidoApplet) credentialManagement(params []byte) []byte {
	var req cmRequest
	sub, code := decodeSubcommand(params, &req)
	if code != ctapOK {
		return statusOnly(code)
	}
	var p cmParams
	if req.Params != nil {
		if code := decodeCTAP(req.Params, &p); code != ctapOK {
			return statusOnly(code)
		}
	}
	switch sub {
	case cmEnumerateRPsNext:
		return a.nextRP()
	case cmEnumerateCredsNext:
		return a.nextCred()
	case cmGetCredsMetadata, cmEnumerateRPsBegin, cmEnumerateCredsBegin, cmDeleteCredential, cmUpdateUserInfo:
	default:
		return statusOnly(ctapInvalidSubcommand)
	}
	a.cmRPs, a.cmCreds = nil, nil
	if code := a.authorize(&req, append([]byte{byte(sub)}, req.Params...), permCredMgmt); code != ctapOK {
		return statusOnly(code)
	}
	switch sub {
	case cmGetCredsMetadata:
		return encodeCTAP(cmResponse{ExistingCount: intp(len(a.resident)), RemainingCount: intp(fidoMaxResident - len(a.resident))})
	case cmEnumerateRPsBegin:
		var rps []string
		for _, c := range a.resident {
			if !slices.Contains(rps, c.rpID) {
				rps = append(rps, c.rpID)
			}
		}
		if len(rps) == 0 {
			return statusOnly(ctapNoCredentials)
		}
		slices.Sort(rps)
		a.cmRPs = rps
		return a.nextRPTotal(len(rps))
	case cmEnumerateCredsBegin:
		if p.RPIDHash == nil {
			return statusOnly(ctapMissingParameter)
		}
		var creds []*residentCred
		for _, c := range a.resident {
			if bytes.Equal(c.rpIDHash, p.RPIDHash) {
				creds = append(creds, c)
			}
		}
		if len(creds) == 0 {
			return statusOnly(ctapNoCredentials)
		}
		a.cmCreds = creds
		return a.nextCredTotal(len(creds))
	case cmDeleteCredential:
		if p.CredentialID == nil {
			return statusOnly(ctapMissingParameter)
		}
		if !a.deleteResident(p.CredentialID.ID) {
			return statusOnly(ctapNoCredentials)
		}
		return statusOnly(ctapOK)
	default: // cmUpdateUserInfo
		if p.CredentialID == nil || p.User == nil {
			return statusOnly(ctapMissingParameter)
		}
		c := a.findResident(p.CredentialID.ID)
		if c == nil {
			return statusOnly(ctapNoCredentials)
		}
		if !bytes.Equal(c.userID, p.User.ID) {
			return statusOnly(ctapInvalidParameter)
		}
		c.userName, c.displayName = p.User.Name, p.User.DisplayName
		return statusOnly(ctapOK)
	}
}

// popFront removes the first element of an enumeration's queue; ok is
// false when the enumeration is over (or was never started).
func popFront[T any](q *[]T) (v T, ok bool) {
	if len(*q) == 0 {
		return v, false
	}
	v, *q = (*q)[0], (*q)[1:]
	return v, true
}

func (a *fidoApplet) nextRP() []byte { return a.nextRPTotal(0) }

func (a *fidoApplet) nextRPTotal(total int) []byte {
	id, ok := popFront(&a.cmRPs)
	if !ok {
		return statusOnly(ctapNotAllowed)
	}
	rp := &cmRP{ID: id}
	var hash []byte
	for _, c := range a.resident {
		if c.rpID == id {
			rp.Name, hash = c.rpName, c.rpIDHash
			break
		}
	}
	resp := cmResponse{RP: rp, RPIDHash: hash}
	if total > 0 {
		resp.TotalRPs = intp(total)
	}
	return encodeCTAP(resp)
}

func (a *fidoApplet) nextCred() []byte { return a.nextCredTotal(0) }

func (a *fidoApplet) nextCredTotal(total int) []byte {
	c, ok := popFront(&a.cmCreds)
	if !ok {
		return statusOnly(ctapNotAllowed)
	}
	_, key, ok := unwrapCredential(a.master, c.rpIDHash, c.id)
	if !ok {
		return statusOnly(ctapInvalidCredential)
	}
	coseB, err := key.cose()
	if err != nil {
		return statusOnly(ctapOther)
	}
	resp := cmResponse{
		User:         &userEntity{ID: c.userID, Name: c.userName, DisplayName: c.displayName},
		CredentialID: &credDescriptor{Type: "public-key", ID: c.id},
		PublicKey:    coseB,
	}
	if c.credProtect != 0 {
		resp.CredProtect = intp(int(c.credProtect))
	}
	if total > 0 {
		resp.TotalCreds = intp(total)
	}
	return encodeCTAP(resp)
}

// authenticatorConfig subcommands (CTAP 2.1 §6.11).
const (
	cfgEnableEnterpriseAttestation = 0x01
	cfgToggleAlwaysUV              = 0x02
	cfgSetMinPINLength             = 0x03
)

// configRequest has the keys of a credential management request
// (subCommand, subCommandParams, pinUvAuthProtocol, pinUvAuthParam).
type configRequest = cmRequest

type setMinPINLengthParams struct {
	NewMinPINLength *int     `cbor:"1,keyasint,omitempty"`
	RPIDs           []string `cbor:"2,keyasint,omitempty"`
	ForceChangePIN  *bool    `cbor:"3,keyasint,omitempty"`
}

// configAuthMessage is what the pinUvAuthParam of authenticatorConfig
// authenticates (CTAP 2.1 §6.11): 32×0xFF ‖ 0x0D ‖ subCommand ‖
// subCommandParams.
func configAuthMessage(sub byte, params []byte) []byte {
	msg := make([]byte, 32, 34+len(params))
	for i := range msg {
		msg[i] = 0xFF
	}
	msg = append(msg, cmdConfig, sub)
	return append(msg, params...)
}

func (a *fidoApplet) config(params []byte) []byte {
	var req configRequest
	sub, code := decodeSubcommand(params, &req)
	if code != ctapOK {
		return statusOnly(code)
	}
	if sub != cfgSetMinPINLength && sub != cfgToggleAlwaysUV {
		// Enterprise attestation is not simulated.
		return statusOnly(ctapInvalidSubcommand)
	}
	if a.pinHash != nil || a.alwaysUV {
		if code := a.authorize(&req, configAuthMessage(byte(sub), req.Params), permAuthnrConfig); code != ctapOK {
			return statusOnly(code)
		}
	}
	if sub == cfgToggleAlwaysUV {
		if a.fipsMode() {
			// Permanently on for FIPS 140-3 keys.
			return statusOnly(ctapOperationDenied)
		}
		a.alwaysUV = !a.alwaysUV
		return statusOnly(ctapOK)
	}
	var p setMinPINLengthParams
	if req.Params != nil {
		if code := decodeCTAP(req.Params, &p); code != ctapOK {
			return statusOnly(code)
		}
	}
	newMin := a.minPINLen
	if p.NewMinPINLength != nil {
		newMin = *p.NewMinPINLength
	}
	if newMin < a.minPINLen || newMin > fidoMaxPINBytes {
		return statusOnly(ctapPINPolicyViolation)
	}
	if len(p.RPIDs) > 0 {
		// minPinLength RP lists are not simulated.
		return statusOnly(ctapInvalidParameter)
	}
	force := p.ForceChangePIN != nil && *p.ForceChangePIN
	if force && a.pinHash == nil {
		return statusOnly(ctapPINNotSet)
	}
	a.minPINLen = newMin
	if force || (a.pinHash != nil && a.pinCodePts < newMin) {
		a.forceChange = true
	}
	return statusOnly(ctapOK)
}

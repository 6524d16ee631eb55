package simulator

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
)

// fidoAID is the FIDO application (FIDO NFC protocol §3.1).
var fidoAID = []byte{0xA0, 0x00, 0x00, 0x06, 0x47, 0x2F, 0x00, 0x01}

// NFCCTAP instructions (CTAP 2.1 §11.3), CLA 0x80.
const (
	insNFCCTAPMsg         byte = 0x10
	insNFCCTAPGetResponse byte = 0x11
)

// CTAP2 command bytes (CTAP 2.1 §6).
const (
	cmdMakeCredential       byte = 0x01
	cmdGetAssertion         byte = 0x02
	cmdGetInfo              byte = 0x04
	cmdClientPIN            byte = 0x06
	cmdReset                byte = 0x07
	cmdGetNextAssertion     byte = 0x08
	cmdCredentialManagement byte = 0x0A
	cmdSelection            byte = 0x0B
	cmdConfig               byte = 0x0D
	cmdCredMgmtPreview      byte = 0x41
)

// YubiKey 5.7 FIDO limits and defaults: the PIN rules of docs/yubico.md
// §FIDO2 PIN and CTAP 2.1 (docs/simulator.md §FIDO2 applet); the message,
// list and resident-credential limits are our settings (docs/decisions.md).
const (
	fidoMaxMsgSize      = 1200
	fidoPINRetries      = 8
	fidoPINFailsPerBoot = 3 // consecutive wrong PINs before a power cycle is required
	fidoMinPINLength    = 4
	// FIPS 140-3 keys (firmware 5.7.4+) require an 8-character PIN and
	// always UV (docs/yubico.md §FIDO2 PIN, Yubico "yk5-fips-140-compare").
	fidoFIPSMinPINLength = 8
	fidoMaxPINBytes      = 63
	fidoMaxResident      = 100
	fidoMaxCredsInList   = 8
	fidoMaxCredIDLength  = 128
	// fidoResetWindow is how long after power-up authenticatorReset is
	// allowed: "Yubico authenticators will return FIDO_ERR_NOT_ALLOWED if
	// a reset is issued later than 5 seconds after power-up" (libfido2).
	fidoResetWindow = 5 * time.Second
	// fidoTokenLifetime bounds a pinUvAuthToken's use (CTAP 2.1
	// §6.5.2.1 maximum usage period).
	fidoTokenLifetime = 10 * time.Minute
)

// pinUvAuthToken permissions (CTAP 2.1 §6.5.5.7).
const (
	permMakeCredential byte = 0x01
	permGetAssertion   byte = 0x02
	permCredMgmt       byte = 0x04
	permBioEnroll      byte = 0x08
	permLargeBlobWrite byte = 0x10
	permAuthnrConfig   byte = 0x20
	permSupported           = permMakeCredential | permGetAssertion | permCredMgmt | permAuthnrConfig
)

// residentCred is a discoverable credential stored on the key.
type residentCred struct {
	id          []byte
	rpID        string
	rpName      string
	rpIDHash    []byte
	userID      []byte
	userName    string
	displayName string
	credProtect byte
	seq         uint64 // creation order
}

// fidoApplet is the FIDO2 application: CTAP 2.1 over NFCCTAP APDUs.
type fidoApplet struct {
	env *env

	// Persistent state (survives power cycles, cleared by reset).
	master      []byte // wraps credential IDs
	attKey      *ecdsa.PrivateKey
	attChain    [][]byte // DER: leaf, intermediate
	pinHash     []byte   // LEFT(SHA-256(PIN), 16); nil when no PIN is set
	pinCodePts  int
	retries     int
	forceChange bool
	minPINLen   int
	alwaysUV    bool
	counter     uint32
	resident    []*residentCred
	seq         uint64

	// Volatile state (lost on power off).
	consecutive int  // consecutive wrong PINs since power-up
	authBlocked bool // a power cycle is required
	ka          *ecdh.PrivateKey
	kaMemo      kaMemo // the shared secret with the last platform key seen
	kaResp      kaResp // the encoded getKeyAgreement answer
	infoCache   infoCache
	token       []byte
	tokenProto  int // the PIN/UV auth protocol the token was issued under
	tokenPerms  byte
	tokenRPID   string
	tokenUntil  time.Time
	next        *assertionState
	cmRPs       []string        // credentialManagement enumeration of RPs
	cmCreds     []*residentCred // credentialManagement enumeration of credentials
}

func newFIDOApplet(e *env) (*fidoApplet, error) {
	a := &fidoApplet{env: e}
	if err := a.wipe(); err != nil {
		return nil, fmt.Errorf("simulator: FIDO applet: %w", err)
	}
	att := e.fidoAtt
	if att == nil {
		// The key's own, numbered with its serial.
		var err error
		if att, err = NewFIDOAttestation(e.rand, e.fidoCA, e.aaguid, e.serial); err != nil {
			return nil, err
		}
	}
	a.attKey = att.key
	a.attChain = att.chain
	return a, nil
}

// fidoAttestationTemplate is the batch attestation certificate packed
// attestation requires (WebAuthn §8.2.1): subject C, O, OU "Authenticator
// Attestation", CN (naming serial); not a CA; the AAGUID extension.
func fidoAttestationTemplate(id uuid.UUID, serial uint32) *x509.Certificate {
	aaguid, _ := asn1.Marshal(id[:])
	// Transports: bit 2 USB, bit 3 NFC (id-fido-u2f-ce-transports).
	transports, _ := asn1.Marshal(asn1.BitString{Bytes: []byte{0x30}, BitLength: 4})
	return &x509.Certificate{
		Subject: pkix.Name{
			Country:            []string{"SE"},
			Organization:       []string{"Simulated Yubico"},
			OrganizationalUnit: []string{"Authenticator Attestation"},
			CommonName:         fmt.Sprintf("Simulated Yubico FIDO EE Serial %d", serial),
		},
		KeyUsage: x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{
			{Id: oidFIDOAAGUID, Value: aaguid},
			{Id: oidFIDOTransports, Value: transports},
		},
	}
}

// wipe is authenticatorReset: new master key, no PIN, no credentials.
func (a *fidoApplet) wipe() error {
	master := make([]byte, 32)
	if _, err := io.ReadFull(a.env.rand, master); err != nil {
		return err
	}
	a.master = master
	a.pinHash = nil
	a.pinCodePts = 0
	a.retries = fidoPINRetries
	a.forceChange = false
	a.minPINLen = fidoMinPINLength
	a.alwaysUV = a.fipsMode()
	if a.fipsMode() {
		a.minPINLen = fidoFIPSMinPINLength
	}
	a.resident = nil
	a.consecutive = 0
	a.authBlocked = false
	a.dropKeyAgreement() // a new key agreement key: it changes at power-up and at reset (CTAP 2.1 §6.5.4)
	a.resetToken()
	a.next = nil
	a.cmRPs, a.cmCreds = nil, nil
	return nil
}

// fipsMode reports whether the key is a FIPS 140-3 key (a FIPS model with
// firmware 5.7.4 or later): alwaysUv is permanently on and PINs need 8
// code points.
func (a *fidoApplet) fipsMode() bool {
	v := a.env.firmware
	return a.env.model.FIPS() && (v.Minor > 7 || v.Minor == 7 && v.Patch >= 4)
}

func (a *fidoApplet) aid() []byte { return fidoAID }

func (a *fidoApplet) capability() Capability { return CapU2F | CapFIDO2 }

func (a *fidoApplet) selectApplet() response {
	return response{data: []byte("FIDO_2_0"), sw: swOK}
}

func (a *fidoApplet) handle(cmd command) response {
	if cmd.cla&0x80 == 0 {
		if !a.env.appEnabled(CapU2F) {
			return response{sw: swInsNotSupported}
		}
		return a.u2f(cmd)
	}
	switch cmd.ins {
	case insNFCCTAPMsg:
		if !a.env.appEnabled(CapFIDO2) {
			return response{sw: swInsNotSupported}
		}
		if cmd.p1&^0x80 != 0 || cmd.p2 != 0 {
			return response{sw: swIncorrectP1P2}
		}
		if len(cmd.data) == 0 {
			return response{sw: swWrongLength}
		}
		return response{data: a.ctap(cmd.data), sw: swOK}
	case insNFCCTAPGetResponse:
		// Every command completes synchronously; there is never a
		// pending response to poll for.
		return response{sw: swConditionsNotMet}
	}
	return response{sw: swInsNotSupported}
}

func (a *fidoApplet) powerOff() {
	a.consecutive = 0
	a.authBlocked = false
	a.dropKeyAgreement()
	a.resetToken()
	a.next = nil
	a.cmRPs, a.cmCreds = nil, nil
}

func (a *fidoApplet) resetToken() {
	a.token = nil
	a.tokenProto = 0
	a.tokenPerms = 0
	a.tokenRPID = ""
	a.tokenUntil = time.Time{}
}

// ctap runs one CTAP2 command: command byte ‖ CBOR → status ‖ CBOR. The
// answer may be bytes the applet keeps (the encoded getInfo and
// getKeyAgreement): callers must not modify it.
func (a *fidoApplet) ctap(req []byte) []byte {
	if len(req) == 0 {
		return []byte{ctapInvalidLength}
	}
	if len(req) > fidoMaxMsgSize {
		return []byte{ctapRequestTooLarge}
	}
	cmd, params := req[0], req[1:]
	if cmd != cmdGetNextAssertion {
		a.next = nil
	}
	switch cmd {
	case cmdGetInfo:
		if len(params) != 0 {
			return []byte{ctapInvalidLength}
		}
		return a.encodedInfo()
	case cmdMakeCredential:
		return a.makeCredential(params)
	case cmdGetAssertion:
		return a.getAssertion(params)
	case cmdGetNextAssertion:
		return a.getNextAssertion()
	case cmdClientPIN:
		return a.clientPIN(params)
	case cmdReset:
		return a.reset()
	case cmdCredentialManagement, cmdCredMgmtPreview:
		return a.credentialManagement(params)
	case cmdSelection:
		return statusOnly(a.userPresence())
	case cmdConfig:
		return a.config(params)
	}
	return []byte{ctapInvalidCommand}
}

func statusOnly(code byte) []byte { return []byte{code} }

// userPresence asks the simulated user to touch the key.
func (a *fidoApplet) userPresence() byte {
	switch err := a.env.touch(); err {
	case nil:
		return ctapOK
	case errTouchDenied:
		return ctapOperationDenied
	default:
		return ctapUserActionTimeout
	}
}

type getInfoResponse struct {
	Versions          []string        `cbor:"1,keyasint"`
	Extensions        []string        `cbor:"2,keyasint"`
	AAGUID            []byte          `cbor:"3,keyasint"`
	Options           map[string]bool `cbor:"4,keyasint"`
	MaxMsgSize        int             `cbor:"5,keyasint"`
	PINProtocols      []int           `cbor:"6,keyasint"`
	MaxCredsInList    int             `cbor:"7,keyasint"`
	MaxCredIDLength   int             `cbor:"8,keyasint"`
	Transports        []string        `cbor:"9,keyasint"`
	Algorithms        []credParam     `cbor:"10,keyasint"`
	ForcePINChange    bool            `cbor:"12,keyasint"`
	MinPINLength      int             `cbor:"13,keyasint"`
	FirmwareVersion   int             `cbor:"14,keyasint"`
	RemainingResident int             `cbor:"20,keyasint"`
}

type credParam struct {
	Alg  int    `cbor:"alg"`
	Type string `cbor:"type"`
}

// info is authenticatorGetInfo, shaped after a YubiKey 5.7 and listing only
// what the simulator implements (docs/simulator.md §FIDO2 applet; Yubico
// publishes no byte-exact getInfo, so the contents are our choice).
func (a *fidoApplet) info() getInfoResponse {
	v := a.env.firmware
	transports := []string{"usb"}
	if a.env.model.NFC() {
		transports = []string{"nfc", "usb"}
	}
	return getInfoResponse{
		Versions:   []string{"U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE", "FIDO_2_1"},
		Extensions: []string{"credProtect", "hmac-secret"},
		AAGUID:     a.env.aaguid[:],
		Options: map[string]bool{
			"rk":                    true,
			"up":                    true,
			"plat":                  false,
			"clientPin":             a.pinHash != nil,
			"credMgmt":              true,
			"credentialMgmtPreview": true,
			"authnrCfg":             true,
			"setMinPINLength":       true,
			"pinUvAuthToken":        true,
			"makeCredUvNotRqd":      !a.alwaysUV,
			"alwaysUv":              a.alwaysUV,
		},
		MaxMsgSize:        fidoMaxMsgSize,
		PINProtocols:      []int{2, 1},
		MaxCredsInList:    fidoMaxCredsInList,
		MaxCredIDLength:   fidoMaxCredIDLength,
		Transports:        transports,
		Algorithms:        []credParam{{coseES256, "public-key"}, {coseEdDSA, "public-key"}},
		ForcePINChange:    a.forceChange,
		MinPINLength:      a.minPINLen,
		FirmwareVersion:   int(v.Major)<<16 | int(v.Minor)<<8 | int(v.Patch),
		RemainingResident: fidoMaxResident - len(a.resident),
	}
}

// infoCache is a simulator optimisation, not key behaviour: the encoded
// authenticatorGetInfo response (status byte and CBOR) and the state it
// was encoded from. A platform sends getInfo at every session; while the
// state is the same the answer is the same bytes, so it is encoded once.
type infoCache struct {
	state infoState
	resp  []byte
}

// infoState is everything [fidoApplet.info] reads.
type infoState struct {
	pinSet, alwaysUV, forceChange bool
	minPINLen, resident           int
	firmware                      Version
	nfc                           bool
	aaguid                        [16]byte
}

// encodedInfo returns the encoded getInfo response, encoding it only when
// the state it depends on changed since the last call. Callers must not
// modify the returned bytes.
func (a *fidoApplet) encodedInfo() []byte {
	st := infoState{
		pinSet: a.pinHash != nil, alwaysUV: a.alwaysUV, forceChange: a.forceChange,
		minPINLen: a.minPINLen, resident: len(a.resident),
		firmware: a.env.firmware, nfc: a.env.model.NFC(), aaguid: a.env.aaguid,
	}
	if a.infoCache.resp == nil || a.infoCache.state != st {
		a.infoCache = infoCache{state: st, resp: encodeCTAP(a.info())}
	}
	return a.infoCache.resp
}

// reset is authenticatorReset: allowed within fidoResetWindow of power-up
// and with a touch.
func (a *fidoApplet) reset() []byte {
	if a.env.now().Sub(a.env.poweredAt) > fidoResetWindow {
		return statusOnly(ctapNotAllowed)
	}
	if code := a.userPresence(); code != ctapOK {
		return statusOnly(code)
	}
	if err := a.wipe(); err != nil {
		return statusOnly(ctapOther)
	}
	return statusOnly(ctapOK)
}

package webauthn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math/big"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/uuid"
)

// This file builds WebAuthn registrations and assertions by hand (the bytes
// a YubiKey and a browser would produce; docs/simulator.md §FIDO2 applet), so the
// relying party is tested without package simulator.

var (
	testAAGUID  = uuid.MustParse("2fc0579f-8113-47ea-b116-bb5a8db9202a") // YubiKey 5 NFC, firmware 5.2/5.4 (docs/yubico.md §AAGUIDs)
	otherAAGUID = uuid.MustParse("a25342c0-3cdc-4414-8e46-f4807fca511c")
	oidAAGUID   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}
	ctap2CBOR   = func() cbor.EncMode {
		m, err := cbor.CTAP2EncOptions().EncMode()
		if err != nil {
			panic(err)
		}
		return m
	}()
)

// testCA is a FIDO attestation root and one attestation certificate per AAGUID.
type testCA struct {
	root    *x509.Certificate
	rootKey *ecdsa.PrivateKey
}

func newTestCA(t testing.TB, cn string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Test"}},
		NotBefore:             time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	root, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{root: root, rootKey: key}
}

// attestationCert issues a packed attestation certificate (WebAuthn L3
// §8.2.1) with the AAGUID extension.
func (ca *testCA) attestationCert(t testing.TB, aaguid uuid.UUID) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ext, err := asn1.Marshal(aaguid[:])
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject: pkix.Name{
			Country: []string{"SE"}, Organization: []string{"Test Vendor"},
			OrganizationalUnit: []string{"Authenticator Attestation"}, CommonName: "Test FIDO EE",
		},
		NotBefore:             time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC),
		BasicConstraintsValid: true,
		IsCA:                  false,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtraExtensions:       []pkix.Extension{{Id: oidAAGUID, Value: ext}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.root, &key.PublicKey, ca.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

// testAuthenticator holds one credential key.
type testAuthenticator struct {
	credID []byte
	key    *ecdsa.PrivateKey
	aaguid uuid.UUID
	ca     *testCA
}

func newTestAuthenticator(t testing.TB, ca *testCA, aaguid uuid.UUID) *testAuthenticator {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		t.Fatal(err)
	}
	return &testAuthenticator{credID: id, key: key, aaguid: aaguid, ca: ca}
}

func (a *testAuthenticator) coseKey(t testing.TB) []byte {
	t.Helper()
	b, err := a.key.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	out, err := ctap2CBOR.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: b[1:33], -3: b[33:]})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// regParams describes one registration; the zero values of the booleans give
// a valid packed registration with UV.
type regParams struct {
	rpID       string // authenticator data RP ID hash (default req.RPID)
	origin     string // client data origin (default https://req.RPID)
	challenge  []byte // client data challenge (default req.Challenge)
	format     string // "packed" (default), "self", "none"
	noUV       bool
	noUP       bool
	extensions map[string]any // authenticator extension outputs (default from req)
}

const (
	flagUP = 0x01
	flagUV = 0x04
	flagAT = 0x40
	flagED = 0x80
)

func sign(t testing.TB, key *ecdsa.PrivateKey, data ...[]byte) []byte {
	t.Helper()
	h := sha256.New()
	for _, d := range data {
		h.Write(d)
	}
	sig, err := ecdsa.SignASN1(rand.Reader, key, h.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// clientData returns the client data JSON of a ceremony of type typ and the
// hash of its RP ID. Empty rpID, origin and challenge default to the
// ceremony's own: defRPID, its https origin and defChallenge.
func clientData(t testing.TB, typ, rpID, origin string, challenge []byte, defRPID string, defChallenge []byte) ([]byte, [32]byte) {
	t.Helper()
	if rpID == "" {
		rpID = defRPID
	}
	if origin == "" {
		origin = "https://" + defRPID
	}
	if challenge == nil {
		challenge = defChallenge
	}
	cdj, err := json.Marshal(map[string]any{
		"type": typ, "challenge": base64.RawURLEncoding.EncodeToString(challenge),
		"origin": origin, "crossOrigin": false,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cdj, sha256.Sum256([]byte(rpID))
}

// register answers req like a YubiKey behind a browser at p.origin.
func (a *testAuthenticator) register(t testing.TB, req CredentialRequest, p regParams) CredentialResponse {
	t.Helper()
	if p.extensions == nil {
		p.extensions = map[string]any{}
		if req.CredProtect != 0 {
			p.extensions["credProtect"] = req.CredProtect
		}
		if req.HMACSecret {
			p.extensions["hmac-secret"] = true
		}
	}
	cdj, rpHash := clientData(t, "webauthn.create", p.rpID, p.origin, p.challenge, req.RPID, req.Challenge)
	flags := byte(flagUP | flagUV | flagAT)
	if p.noUV {
		flags &^= flagUV
	}
	if p.noUP {
		flags &^= flagUP
	}
	var ext []byte
	if len(p.extensions) > 0 {
		flags |= flagED
		var err error
		if ext, err = ctap2CBOR.Marshal(p.extensions); err != nil {
			t.Fatal(err)
		}
	}
	authData := append([]byte{}, rpHash[:]...)
	authData = append(authData, flags, 0, 0, 0, 0) // signCount 0, like a YubiKey 5
	authData = append(authData, a.aaguid[:]...)
	authData = binary.BigEndian.AppendUint16(authData, uint16(len(a.credID)))
	authData = append(authData, a.credID...)
	authData = append(authData, a.coseKey(t)...)
	authData = append(authData, ext...)
	cdHash := sha256.Sum256(cdj)

	var attObj map[string]any
	switch p.format {
	case "", "packed":
		certDER, attKey := a.ca.attestationCert(t, a.aaguid)
		attObj = map[string]any{"fmt": "packed", "authData": authData, "attStmt": map[string]any{
			"alg": -7, "sig": sign(t, attKey, authData, cdHash[:]), "x5c": [][]byte{certDER},
		}}
	case "self":
		attObj = map[string]any{"fmt": "packed", "authData": authData, "attStmt": map[string]any{
			"alg": -7, "sig": sign(t, a.key, authData, cdHash[:]),
		}}
	case "none":
		attObj = map[string]any{"fmt": "none", "authData": authData, "attStmt": map[string]any{}}
	default:
		t.Fatalf("unknown format %q", p.format)
	}
	ao, err := ctap2CBOR.Marshal(attObj)
	if err != nil {
		t.Fatal(err)
	}
	return CredentialResponse{
		Version: MessageVersion, UserID: req.UserID, EnrollmentID: req.EnrollmentID,
		CredentialID: a.credID, AttestationObject: ao, ClientDataJSON: cdj, Transports: []string{"nfc", "usb"},
	}
}

// assertParams describes one assertion; zero values give a valid one.
type assertParams struct {
	rpID       string
	origin     string
	challenge  []byte
	counter    uint32
	noUV       bool
	userHandle []byte // default: the session's
	wrongKey   bool
}

// assert answers a login session like a YubiKey behind a browser.
func (a *testAuthenticator) assert(t testing.TB, s LoginSession, p assertParams) Assertion {
	t.Helper()
	if p.userHandle == nil {
		p.userHandle = s.UserHandle
	}
	cdj, rpHash := clientData(t, "webauthn.get", p.rpID, p.origin, p.challenge, s.RPID, s.Challenge)
	flags := byte(flagUP | flagUV)
	if p.noUV {
		flags &^= flagUV
	}
	authData := append(append([]byte{}, rpHash[:]...), flags)
	authData = binary.BigEndian.AppendUint32(authData, p.counter)
	cdHash := sha256.Sum256(cdj)
	key := a.key
	if p.wrongKey {
		key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	return Assertion{
		CredentialID: a.credID, ClientDataJSON: cdj, AuthenticatorData: authData,
		Signature: sign(t, key, authData, cdHash[:]), UserHandle: p.userHandle,
	}
}

// assertionJSON is the browser-shaped JSON of an assertion.
func assertionJSON(a Assertion) []byte {
	enc := base64.RawURLEncoding.EncodeToString
	b, _ := json.Marshal(map[string]any{
		"id": enc(a.CredentialID), "rawId": enc(a.CredentialID), "type": "public-key",
		"clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON": enc(a.ClientDataJSON), "authenticatorData": enc(a.AuthenticatorData),
			"signature": enc(a.Signature), "userHandle": enc(a.UserHandle),
		},
	})
	return b
}

// registrationJSON is the browser-shaped JSON of a registration.
func registrationJSON(r CredentialResponse) []byte {
	enc := base64.RawURLEncoding.EncodeToString
	b, _ := json.Marshal(map[string]any{
		"id": enc(r.CredentialID), "rawId": enc(r.CredentialID), "type": "public-key",
		"authenticatorAttachment": "cross-platform", "clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON": enc(r.ClientDataJSON), "attestationObject": enc(r.AttestationObject),
			"transports": r.Transports,
		},
	})
	return b
}

package yubicotest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"slices"
	"time"

	"github.com/preenroll/preenroll/internal/fakehttp"
	"github.com/preenroll/preenroll/webauthn"
)

// The opened requests of a FIDO Pre-reg shipment wait in the fake until
// its factory batch; a fake with 100,000 shipments holds 100,000 of each.
// They are kept in a compact form: a response key as its point (the two
// 64-character base64url coordinates as 96 bytes), without the members
// every request that opened has (version, kty "EC", crv "P-384", use
// "enc": webauthn refuses any other), the credential requests' user ID
// once (openFactoryInput checks it is the PIN request's), byte slices
// without the spare capacity JSON decoding leaves, and strings that repeat
// across keys interned. [keptPIN.request] and [keptCred.request] rebuild
// the requests that were opened, for the factory (a coordinate comes back
// in canonical base64url: one sent with line breaks, which the decoder
// skips, comes back without them; the point is the same).

// p384Coord is the length of a P-384 coordinate.
const p384Coord = 48

// keptKey is a response key of an opened request.
type keptKey struct {
	kid string
	alg string // informative, as sent; interned
	xy  [2 * p384Coord]byte
}

// keepKey returns the compact form of k, a response key that has passed
// webauthn's checks of an opened request.
func keepKey(k webauthn.PublicJWK) (keptKey, error) {
	kk := keptKey{kid: k.Kid, alg: fakehttp.Intern(k.Alg)}
	for i, c := range []string{k.X, k.Y} {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || len(b) != p384Coord {
			return keptKey{}, fmt.Errorf("response key %q: coordinate %d is not %d bytes of base64url", k.Kid, i, p384Coord)
		}
		copy(kk.xy[i*p384Coord:], b)
	}
	return kk, nil
}

// jwk rebuilds the response key.
func (k keptKey) jwk() webauthn.PublicJWK {
	return webauthn.PublicJWK{
		Kty: "EC", Crv: "P-384", Kid: k.kid, Use: string(webauthn.UseEncryption),
		X:   base64.RawURLEncoding.EncodeToString(k.xy[:p384Coord]),
		Y:   base64.RawURLEncoding.EncodeToString(k.xy[p384Coord:]),
		Alg: k.alg,
	}
}

// keptPIN is an opened PIN request.
type keptPIN struct {
	userID string
	key    keptKey
}

// keepPIN returns the compact form of an opened PIN request.
func keepPIN(r webauthn.PINRequest) (keptPIN, error) {
	k, err := keepKey(r.ResponseKey)
	return keptPIN{userID: r.UserID, key: k}, err
}

// request rebuilds the PIN request.
func (p keptPIN) request() webauthn.PINRequest {
	return webauthn.PINRequest{Version: webauthn.MessageVersion, UserID: p.userID, ResponseKey: p.key.jwk()}
}

// keptCred is an opened credential request, less its user ID (its PIN
// request's).
type keptCred struct {
	enrollmentID     string
	rpID, rpName     string // interned
	userHandle       []byte
	userName         string
	userDisplayName  string
	challenge        []byte // zeroed by factoryInput.purge
	algorithms       []int
	userVerification string // interned
	credProtect      int
	residentKey      bool
	hmacSecret       bool
	expiresAt        time.Time
	key              keptKey
}

// keepCred returns the compact form of an opened credential request and
// zeroes r's challenge (the kept form has its own copy).
func keepCred(r webauthn.CredentialRequest) (keptCred, error) {
	k, err := keepKey(r.ResponseKey)
	if err != nil {
		clear(r.Challenge)
		return keptCred{}, err
	}
	c := keptCred{
		enrollmentID: r.EnrollmentID, rpID: fakehttp.Intern(r.RPID), rpName: fakehttp.Intern(r.RPName),
		userHandle: bytes.Clone(r.UserHandle), userName: r.UserName, userDisplayName: r.UserDisplayName,
		challenge: bytes.Clone(r.Challenge), algorithms: slices.Clone(r.Algorithms), userVerification: fakehttp.Intern(r.UserVerification),
		credProtect: r.CredProtect, residentKey: r.ResidentKey, hmacSecret: r.HMACSecret,
		expiresAt: r.ExpiresAt, key: k,
	}
	clear(r.Challenge)
	return c, nil
}

// request rebuilds the credential request of user userID.
func (c *keptCred) request(userID string) webauthn.CredentialRequest {
	return webauthn.CredentialRequest{
		Version: webauthn.MessageVersion, UserID: userID, EnrollmentID: c.enrollmentID,
		RPID: c.rpID, RPName: c.rpName,
		UserHandle: bytes.Clone(c.userHandle), UserName: c.userName, UserDisplayName: c.userDisplayName,
		Challenge: bytes.Clone(c.challenge), Algorithms: slices.Clone(c.algorithms),
		ResidentKey: c.residentKey, UserVerification: c.userVerification, CredProtect: c.credProtect, HMACSecret: c.hmacSecret,
		ExpiresAt:   c.expiresAt,
		ResponseKey: c.key.jwk(),
	}
}

package oktatest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/preenroll/preenroll/internal/fakehttp"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/webauthn"
)

// fulfillment is one key being fulfilled: the enrollments of one enroll
// call (one per RP ID) and the PIN they share. Its enrollments point to
// it; it lives as long as one of them does.
type fulfillment struct {
	id          string // internal: no API shows it
	userID      string
	pinKey      responseKey // Okta's response key for the PIN, also its first enrollment's
	pin         []byte      // AES-GCM sealed PIN; nil before activation and after wiping
	pinWiped    bool
	serial      string
	version     string
	enrollments []string
}

type enrollment struct {
	id          string
	userID      string
	f           *fulfillment // the key's, shared by its enrollments
	rpID        string
	status      okta.EnrollmentStatus
	created     time.Time
	lastUpdated time.Time
	key         responseKey          // response key; its kid is the keyId
	request     credRequest          // what of the sealed credential request is its own
	cred        *webauthn.Credential // nil before activation
}

// authenticatorNameActive is an enrollment's authenticatorName from its
// activation on.
const authenticatorNameActive = "YubiKey"

// authenticatorName is e's profile.authenticatorName: none before
// activation.
func (e *enrollment) authenticatorName() string {
	if e.cred == nil {
		return ""
	}
	return authenticatorNameActive
}

// credRequest is what an enrollment keeps of the credential request sealed
// into its credRequestJwe: only what is its own. The rest is the same for
// every enrollment of the org (RP name, algorithms, user verification,
// resident key, credProtect), is the enrollment's (IDs, RP ID, expiry from
// its creation time) or is its response key's public half, and
// [Server.credentialRequest] rebuilds the request from them. A fake with
// 100,000 keys in fulfillment kept each request whole, with its response
// key's coordinates in base64 and its own copy of the algorithm list: about
// 500 bytes a key more.
type credRequest struct {
	userHandle      []byte // the user's, shared by the enrollments of one enroll; read-only
	userName        string // the user's login at enroll
	userDisplayName string
	challenge       [challengeLen]byte
}

// challengeLen is the length of a credential request's challenge.
const challengeLen = 32

// credentialRequest returns the credential request sealed into e's
// credRequestJwe, with responseKey (the public half of e.key) as its
// response key: enroll seals what this returns, and activation verifies
// against it. Its byte slices are fresh copies.
func (s *Server) credentialRequest(e *enrollment, responseKey webauthn.PublicJWK) webauthn.CredentialRequest {
	return webauthn.CredentialRequest{
		Version: webauthn.MessageVersion, UserID: e.userID, EnrollmentID: e.id,
		RPID: e.rpID, RPName: s.orgName,
		UserHandle: bytes.Clone(e.request.userHandle), UserName: e.request.userName, UserDisplayName: e.request.userDisplayName,
		Challenge: bytes.Clone(e.request.challenge[:]), Algorithms: []int{-7},
		ResidentKey: true, UserVerification: "required", CredProtect: 2,
		ExpiresAt:   e.created.Add(s.ttl),
		ResponseKey: responseKey,
	}
}

// EnrollmentDetail is the fake's view of an enrollment, beyond what the
// list endpoint shows.
type EnrollmentDetail struct {
	Enrollment okta.Enrollment // as the list endpoint shows it
	RPID       string          // the relying party
	KeyID      string          // Okta's response key (keyId)
	// Request is the credential request sealed into credRequestJwe.
	Request webauthn.CredentialRequest
	// Credential is the verified credential, nil before activation.
	Credential *webauthn.Credential
	// PINStored reports whether the (encrypted) preset PIN is held.
	PINStored bool
	Serial    string // the key's serial, after activation
	Version   string // its firmware, after activation
}

// Enrollments returns a user's preregistered factors as the list endpoint
// shows them.
func (s *Server) Enrollments(userID string) []okta.Enrollment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []okta.Enrollment
	for _, e := range s.userEnrollmentsLocked(userID) {
		out = append(out, s.enrollmentLocked(e))
	}
	return out
}

// Enrollment returns the fake's full view of one enrollment.
func (s *Server) Enrollment(id string) (EnrollmentDetail, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.enrollments[id]
	if !ok {
		return EnrollmentDetail{}, false
	}
	key, err := e.key.private()
	if err != nil {
		// The kept point came from crypto/ecdsa's own encoding of the key.
		panic(fmt.Sprintf("oktatest: response key of enrollment %s: %v", e.id, err))
	}
	f := e.f
	d := EnrollmentDetail{
		Enrollment: s.enrollmentLocked(e), RPID: e.rpID, KeyID: e.key.kid, Request: s.credentialRequest(e, key.Public()),
		PINStored: f.pin != nil, Serial: f.serial, Version: f.version,
	}
	if e.cred != nil {
		c := *e.cred
		d.Credential = &c
	}
	return d, true
}

func (s *Server) userEnrollmentsLocked(userID string) []*enrollment {
	// The per-user index keeps this independent of the org's size: it was
	// a sorted scan of every enrollment, which made each list call
	// O(N log N) and an N-user batch quadratic.
	return slices.Clone(s.byUser[userID])
}

func (s *Server) enrollmentLocked(e *enrollment) okta.Enrollment {
	f := e.f
	oe := okta.Enrollment{
		ID: e.id, FactorType: "webauthn", Provider: "FIDO", VendorName: "FIDO", FulfillmentProvider: okta.ProviderYubico,
		Status: e.status, Created: e.created, LastUpdated: e.lastUpdated,
		Profile: okta.EnrollmentProfile{AuthenticatorName: e.authenticatorName(), PresetPINAvailable: e.status == okta.StatusActive && f.pin != nil},
	}
	if e.cred != nil {
		oe.Profile.CredentialID = base64.RawURLEncoding.EncodeToString(e.cred.ID)
	}
	return oe
}

// enrollmentWire is one item of the list endpoint.
type enrollmentWire struct {
	ID                  string                `json:"id"`
	FactorType          string                `json:"factorType"`
	Provider            string                `json:"provider"`
	VendorName          string                `json:"vendorName"`
	FulfillmentProvider string                `json:"fulfillmentProvider"`
	Status              okta.EnrollmentStatus `json:"status"`
	Created             oktaTime              `json:"created"`
	LastUpdated         oktaTime              `json:"lastUpdated"`
	Profile             enrollmentProfileWire `json:"profile"`
	Links               enrollmentLinks       `json:"_links"`
}

// enrollmentProfileWire is an enrollment's profile; its fields are in the
// order of their names (as a map would encode them).
type enrollmentProfileWire struct {
	AuthenticatorName  string `json:"authenticatorName,omitempty"`
	CredentialID       string `json:"credentialId,omitempty"`
	PresetPINAvailable bool   `json:"presetPinAvailable"`
}

// enrollmentLinks are an enrollment's _links: self, which may be deleted.
type enrollmentLinks struct {
	Self struct {
		Hints struct {
			Allow []string `json:"allow"`
		} `json:"hints"`
		Href string `json:"href"`
	} `json:"self"`
}

// allowDelete is the self link's allowed methods (shared, never changed).
var allowDelete = []string{"DELETE"}

func (s *Server) enrollmentWireLocked(e *enrollment) enrollmentWire {
	oe := s.enrollmentLocked(e)
	w := enrollmentWire{
		ID: e.id, FactorType: "webauthn", Provider: "FIDO", VendorName: "FIDO", FulfillmentProvider: okta.ProviderYubico,
		Status: e.status, Created: oktaTime(e.created), LastUpdated: oktaTime(e.lastUpdated),
		Profile: enrollmentProfileWire{AuthenticatorName: oe.Profile.AuthenticatorName, CredentialID: oe.Profile.CredentialID,
			PresetPINAvailable: oe.Profile.PresetPINAvailable},
	}
	w.Links.Self.Hints.Allow = allowDelete
	w.Links.Self.Href = s.srv.URL + prereg + "/users/" + e.userID + "/enrollments/" + e.id
	return w
}

// inFulfillmentLocked returns an enrollment of the user that is still in
// fulfillment (FULFILLMENT_PENDING or FULFILLMENT_ERRORED), if any.
func (s *Server) inFulfillmentLocked(userID string) *enrollment {
	for _, e := range s.userEnrollmentsLocked(userID) {
		if e.status == okta.StatusFulfillmentPending || e.status == okta.StatusFulfillmentErrored {
			return e
		}
	}
	return nil
}

func (s *Server) refuseSecondKey(x *exchange, e *enrollment) {
	s.validation(x, "userId", fmt.Sprintf("userId: The user already has a YubiKey in fulfillment (enrollment %s, status %s); delete it before ordering another", e.id, e.status))
}

// userForBodyLocked resolves a body's userId: 400 when blank, 404 when unknown.
func (s *Server) userForBodyLocked(x *exchange, id string) *user {
	if strings.TrimSpace(id) == "" {
		s.validation(x, "userId", "userId: The field cannot be left blank")
		return nil
	}
	u, ok := s.users[id]
	if !ok {
		s.notFound(x, id, "User")
		return nil
	}
	return u
}

// preregBody is what every preregistration request body carries.
type preregBody struct {
	UserID              string `json:"userId"`
	FulfillmentProvider string `json:"fulfillmentProvider"`
}

// withPreregUser runs fn under s.mu with the user of b (see
// preregUserLocked); when b is wrong it answers the error and fn does not
// run.
func (s *Server) withPreregUser(x *exchange, b preregBody, fn func(*user)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.preregUserLocked(x, b); u != nil {
		fn(u)
	}
}

// preregUserLocked resolves the userId of a preregistration body and checks
// its fulfillmentProvider, answering the error and returning nil when
// either is wrong.
func (s *Server) preregUserLocked(x *exchange, b preregBody) *user {
	u := s.userForBodyLocked(x, b.UserID)
	if u == nil {
		return nil
	}
	if b.FulfillmentProvider != okta.ProviderYubico {
		s.validation(x, "fulfillmentProvider", fmt.Sprintf("fulfillmentProvider: Invalid value %q; the only supported provider is \"yubico\"", b.FulfillmentProvider))
		return nil
	}
	return u
}

func (s *Server) handleInitiate(x *exchange) {
	var req struct {
		preregBody
		FulfillmentData okta.FulfillmentData `json:"fulfillmentData"`
	}
	if !s.decode(x, &req) {
		return
	}
	s.withPreregUser(x, req.preregBody, func(u *user) {
		if len(req.FulfillmentData) == 0 {
			s.validation(x, "fulfillmentData", "fulfillmentData: The field cannot be left blank")
			return
		}
		for i, o := range req.FulfillmentData {
			// productId, inventoryProductId and customizationId are all required:
			// the FIDO Pre-reg shipment needs them (docs/decisions.md §Order items).
			for _, f := range []struct{ name, v string }{
				{"productId", o.ProductID}, {"inventoryProductId", o.InventoryProductID}, {"customizationId", o.CustomizationID},
			} {
				if strings.TrimSpace(f.v) == "" {
					s.validation(x, "fulfillmentData", fmt.Sprintf("fulfillmentData[%d].%s: The field cannot be left blank", i, f.name))
					return
				}
			}
		}
		if e := s.inFulfillmentLocked(u.id); e != nil {
			s.refuseSecondKey(x, e)
			return
		}
		for _, o := range req.FulfillmentData {
			// The event log keeps these for the server's life: one copy
			// each of the provider and the product and customization IDs
			// most orders share.
			o.ProductID, o.InventoryProductID, o.CustomizationID = fakehttp.Intern(o.ProductID), fakehttp.Intern(o.InventoryProductID), fakehttp.Intern(o.CustomizationID)
			s.emitLocked(x, Event{EventType: okta.EventTypePreregisterInitiate, UserID: u.id, UserLogin: u.profile.Login,
				FulfillmentProvider: fakehttp.Intern(req.FulfillmentProvider), Order: o})
		}
		s.writeNoContent(x)
	})
}

var hostnameRE = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)

func (s *Server) handleEnroll(x *exchange) {
	var req struct {
		preregBody
		EnrollmentRPIDs []string            `json:"enrollmentRpIds"`
		TransportKey    *webauthn.PublicJWK `json:"yubicoTransportKeyJWK"`
	}
	if !s.decode(x, &req) {
		return
	}
	s.mu.Lock()
	snap, ok := s.enrollCheckLocked(x, req.preregBody, req.EnrollmentRPIDs, req.TransportKey)
	s.mu.Unlock()
	if !ok {
		return
	}
	// The keys and envelopes (P-384 work) are made outside the lock, so
	// that enrolls of different users run in parallel; the commit below
	// checks again that no other enroll of this user won meanwhile.
	f, created, resp, err := s.sealEnrollment(snap, req.EnrollmentRPIDs, *req.TransportKey)
	if err != nil {
		s.preregFailed(x, enrollFailedSummary, "generate requests: %v", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.inFulfillmentLocked(snap.userID); e != nil {
		s.refuseSecondKey(x, e)
		return
	}
	for _, e := range created {
		s.enrollments[e.id] = e
		s.byUser[e.userID] = append(s.byUser[e.userID], e)
		f.enrollments = append(f.enrollments, e.id)
	}
	s.writeJSON(x, http.StatusOK, resp)
}

// enrollSnapshot is what sealEnrollment needs of the user and the clock,
// read under the lock.
type enrollSnapshot struct {
	userID, login, display string
	userHandle             []byte
	now                    time.Time
}

// enrollCheckLocked validates an enroll request and answers its error; ok
// reports that it passed.
func (s *Server) enrollCheckLocked(x *exchange, b preregBody, rpIDs []string, tk *webauthn.PublicJWK) (snap enrollSnapshot, ok bool) {
	u := s.preregUserLocked(x, b)
	if u == nil {
		return snap, false
	}
	if len(rpIDs) == 0 {
		s.validation(x, "enrollmentRpIds", "enrollmentRpIds: The field cannot be left blank")
		return snap, false
	}
	seen := map[string]bool{}
	for i, rp := range rpIDs {
		if len(rp) > 253 || !hostnameRE.MatchString(rp) {
			s.validation(x, "enrollmentRpIds", fmt.Sprintf("enrollmentRpIds[%d]: %q is not a host name", i, truncate(rp, 64)))
			return snap, false
		}
		if seen[strings.ToLower(rp)] {
			s.validation(x, "enrollmentRpIds", fmt.Sprintf("enrollmentRpIds[%d]: duplicate RP ID %q", i, rp))
			return snap, false
		}
		seen[strings.ToLower(rp)] = true
	}
	if tk == nil {
		s.validation(x, "yubicoTransportKeyJWK", "yubicoTransportKeyJWK: The field cannot be left blank")
		return snap, false
	}
	if err := tk.Validate(); err != nil {
		x.detail("transport key: %v", err)
		s.validation(x, "yubicoTransportKeyJWK", "yubicoTransportKeyJWK: "+jwkProblem(err))
		return snap, false
	}
	if tk.Use != string(webauthn.UseEncryption) {
		s.validation(x, "yubicoTransportKeyJWK", fmt.Sprintf("yubicoTransportKeyJWK.use: Invalid value %q, expected \"enc\"", tk.Use))
		return snap, false
	}
	if u.status == okta.UserDeprovisioned || u.status == okta.UserSuspended {
		s.fail(x, http.StatusForbidden, "E0000038", "This operation is not allowed in the user's current status.")
		return snap, false
	}
	if e := s.inFulfillmentLocked(u.id); e != nil {
		s.refuseSecondKey(x, e)
		return snap, false
	}
	return enrollSnapshot{
		userID: u.id, login: u.profile.Login, display: strings.TrimSpace(u.profile.FirstName + " " + u.profile.LastName),
		userHandle: bytes.Clone(u.userHandle), now: s.now(),
	}, true
}

// jwkProblem words for an error cause what is wrong with a key, an error
// of webauthn's PublicJWK.Validate or ParseJWKS: the member and its
// problem (`jwk "k1": y: missing`) when webauthn names one, else Okta's
// phrase for a value it refuses (the error itself is in the exchange's
// detail).
func jwkProblem(err error) string {
	var fe *webauthn.FieldError
	if errors.As(err, &fe) {
		return fe.Reason()
	}
	return "Does not match required pattern"
}

type credRequestWire struct {
	AuthenticatorEnrollmentID string `json:"authenticatorEnrollmentId"`
	CredRequestJWE            string `json:"credRequestJwe"`
	KeyID                     string `json:"keyId"`
}

type enrollResponseWire struct {
	CredRequests        []credRequestWire `json:"credRequests"`
	FulfillmentProvider string            `json:"fulfillmentProvider"`
	PINRequestJWE       string            `json:"pinRequestJwe"`
	UserID              string            `json:"userId"`
}

// sealEnrollment makes the fulfillment and its enrollments (one per RP ID)
// with their response keys, and seals the PIN and credential requests to
// the transport key. It needs no lock; nothing is stored.
func (s *Server) sealEnrollment(u enrollSnapshot, rpIDs []string, transport webauthn.PublicJWK) (*fulfillment, []*enrollment, enrollResponseWire, error) {
	f := &fulfillment{id: s.randomID("", 20), userID: u.userID}
	var pinKey *webauthn.PrivateKey
	var err error
	if f.pinKey, pinKey, err = s.newResponseKey(); err != nil {
		return nil, nil, enrollResponseWire{}, err
	}
	pinJWE, err := webauthn.SealPINRequest(transport, webauthn.PINRequest{
		Version: webauthn.MessageVersion, UserID: u.userID, ResponseKey: pinKey.Public(),
	})
	if err != nil {
		return nil, nil, enrollResponseWire{}, err
	}
	out := enrollResponseWire{FulfillmentProvider: okta.ProviderYubico, PINRequestJWE: pinJWE, UserID: u.userID}
	var created []*enrollment
	for i, rpID := range rpIDs {
		e := &enrollment{
			// The RP ID is the same for every key of most orgs: one copy
			// of it, not one per enroll request.
			id: s.randomID("fwf", 17), userID: u.userID, f: f, rpID: fakehttp.Intern(rpID),
			status: okta.StatusFulfillmentPending, created: u.now, lastUpdated: u.now,
			request: credRequest{userHandle: u.userHandle, userName: u.login, userDisplayName: u.display},
		}
		// The first enrollment's response key is the PIN's: a second
		// key would cost a P-384 key generation and buy nothing, as each
		// response says what it holds (its content type) and for whom.
		key := pinKey
		if i == 0 {
			e.key = f.pinKey
		} else if e.key, key, err = s.newResponseKey(); err != nil {
			return nil, nil, enrollResponseWire{}, err
		}
		s.randomFill(e.request.challenge[:])
		jwe, err := webauthn.SealCredentialRequest(transport, s.credentialRequest(e, key.Public()))
		if err != nil {
			return nil, nil, enrollResponseWire{}, err
		}
		out.CredRequests = append(out.CredRequests, credRequestWire{AuthenticatorEnrollmentID: e.id, CredRequestJWE: jwe, KeyID: e.key.kid})
		created = append(created, e)
	}
	return f, created, out, nil
}

// responseKey is one of Okta's response keys (use "enc") in compact form:
// its kid, its 48-byte P-384 scalar and its 97-byte uncompressed public
// point, instead of an *ecdsa.PrivateKey with the big.Int forms of both
// and the internal key crypto/ecdsa caches (a fake with 100,000 keys in
// fulfillment holds two of these per key). [responseKey.private] rebuilds
// the key when a response is opened without recomputing the point (a
// P-384 base-point multiplication, about 170 µs, per key per activation).
type responseKey struct {
	kid string
	d   [48]byte
	q   [97]byte
}

// newResponseKey generates a response key: its compact form to keep and
// the key itself, to seal its public half into a request.
func (s *Server) newResponseKey() (responseKey, *webauthn.PrivateKey, error) {
	rk := responseKey{kid: s.randomID("", 20)}
	k, err := ecdsa.GenerateKey(elliptic.P384(), s.rand)
	if err != nil {
		return responseKey{}, nil, fmt.Errorf("generate response key: %w", err)
	}
	d, err := k.Bytes()
	if err != nil {
		return responseKey{}, nil, fmt.Errorf("response key: %w", err)
	}
	copy(rk.d[:], d)
	clear(d)
	q, err := k.PublicKey.Bytes()
	if err != nil {
		return responseKey{}, nil, fmt.Errorf("response key: %w", err)
	}
	copy(rk.q[:], q)
	key, err := webauthn.NewPrivateKey(k, rk.kid, webauthn.UseEncryption)
	if err != nil {
		return responseKey{}, nil, err
	}
	return rk, key, nil
}

// private rebuilds the key from the kept scalar and point. The point is
// checked to be on the curve; the scalar goes into D as go-jose's ECDH-ES
// reads it (crypto/ecdsa has no constructor from both halves, and
// ParseRawPrivateKey would recompute the point).
func (k responseKey) private() (*webauthn.PrivateKey, error) {
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P384(), k.q[:])
	if err != nil {
		return nil, err
	}
	//lint:ignore SA1019 D is go-jose's input (it takes a *ecdsa.PrivateKey); ParseRawPrivateKey would recompute the point, this key's largest cost
	ek := &ecdsa.PrivateKey{PublicKey: *pub, D: new(big.Int).SetBytes(k.d[:])}
	return webauthn.NewPrivateKey(ek, k.kid, webauthn.UseEncryption)
}

var (
	serialRE  = regexp.MustCompile(`^[0-9]{1,10}$`)
	versionRE = regexp.MustCompile(`^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$`)
)

func (s *Server) handleActivate(x *exchange) {
	var req struct {
		preregBody
		Serial         string              `json:"serial"`
		Version        string              `json:"version"`
		PINResponseJWE string              `json:"pinResponseJwe"`
		CredResponses  []okta.CredResponse `json:"credResponses"`
		SigningKeys    []json.RawMessage   `json:"yubicoSigningJwks"`
	}
	if !s.decode(x, &req) {
		return
	}
	// Checks that need no state.
	switch {
	case !serialRE.MatchString(req.Serial):
		s.validation(x, "serial", fmt.Sprintf("serial: %q is not a decimal serial number", truncate(req.Serial, 32)))
		return
	case !versionRE.MatchString(req.Version):
		s.validation(x, "version", fmt.Sprintf("version: %q is not a firmware version like 5.7.1", truncate(req.Version, 32)))
		return
	case req.PINResponseJWE == "":
		s.validation(x, "pinResponseJwe", "pinResponseJwe: The field cannot be left blank")
		return
	case len(req.CredResponses) == 0:
		s.validation(x, "credResponses", "credResponses: The field cannot be left blank")
		return
	case len(req.SigningKeys) == 0:
		s.validation(x, "yubicoSigningJwks", "yubicoSigningJwks: The field cannot be left blank")
		return
	}
	keysDoc, _ := json.Marshal(map[string][]json.RawMessage{"keys": req.SigningKeys})
	signers, err := webauthn.ParseJWKS(keysDoc)
	if err != nil {
		x.detail("signing keys: %v", err)
		s.validation(x, "yubicoSigningJwks", "yubicoSigningJwks: "+jwkProblem(err))
		return
	}
	for i, k := range signers.Keys {
		if k.Use != string(webauthn.UseSigning) {
			s.validation(x, "yubicoSigningJwks", fmt.Sprintf("yubicoSigningJwks[%d].use: Invalid value %q, expected \"sig\"", i, k.Use))
			return
		}
	}

	// Resolve the enrollments under the lock; verify outside it.
	s.mu.Lock()
	u, jobs, f, ok := s.activationJobsLocked(x, req.preregBody, req.CredResponses)
	var pinKey responseKey
	if ok {
		pinKey = f.pinKey
	}
	s.mu.Unlock()
	if !ok {
		return
	}

	fail := func(format string, args ...any) {
		s.preregFailed(x, "Api validation failed: pinResponseJwe|webAuthnCredResponse", format, args...)
	}
	ctx := x.r.Context()
	creds := make([]webauthn.Credential, len(jobs))
	for i, j := range jobs {
		key, err := j.snap.key.private()
		if err != nil {
			s.internalError(x, "credResponses[%d]: response key: %v", i, err)
			return
		}
		resp, err := webauthn.OpenCredentialResponse(webauthn.Keyring{key}, signers, j.jwe)
		if err != nil {
			fail("credResponses[%d]: %v", i, err)
			return
		}
		if resp.UserID != u.id || resp.EnrollmentID != j.e.id {
			fail("credResponses[%d]: sealed for user %q enrollment %q, not user %q enrollment %q", i, resp.UserID, resp.EnrollmentID, u.id, j.e.id)
			return
		}
		rp, err := s.relyingParty(j.snap.rpID)
		if err != nil {
			fail("credResponses[%d]: relying party: %v", i, err)
			return
		}
		cred, err := rp.VerifyPreregistered(ctx, s.credentialRequest(&j.snap, key.Public()), resp)
		if err != nil {
			fail("credResponses[%d]: %v", i, err)
			return
		}
		creds[i] = cred
	}
	pinPriv, err := pinKey.private()
	if err != nil {
		s.internalError(x, "pinResponseJwe: response key: %v", err)
		return
	}
	pinResp, err := webauthn.OpenPINResponse(webauthn.Keyring{pinPriv}, signers, req.PINResponseJWE)
	if err != nil {
		fail("pinResponseJwe: %v", err)
		return
	}
	defer pinResp.PIN.Zero()
	if pinResp.UserID != u.id {
		fail("pinResponseJwe: sealed for user %q, not %q", pinResp.UserID, u.id)
		return
	}
	if len(pinResp.PIN) < 4 {
		fail("pinResponseJwe: PIN shorter than 4 digits")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range jobs {
		if cur, ok := s.enrollments[j.e.id]; !ok || cur != j.e || (cur.status != okta.StatusFulfillmentPending && cur.status != okta.StatusFulfillmentErrored) {
			s.notFound(x, j.e.id, "UserFactor")
			return
		}
	}
	f.pin = s.sealPIN(pinResp.PIN)
	f.pinWiped = false
	f.serial, f.version = req.Serial, req.Version
	ids := make([]string, 0, len(jobs))
	for i, j := range jobs {
		c := creds[i]
		j.e.cred = &c
		j.e.status = okta.StatusActive
		j.e.lastUpdated = s.now()
		ids = append(ids, j.e.id)
	}
	s.writeJSON(x, http.StatusOK, struct {
		AuthenticatorEnrollmentIDs []string `json:"authenticatorEnrollmentIds"`
		FulfillmentProvider        string   `json:"fulfillmentProvider"`
		UserID                     string   `json:"userId"`
	}{ids, okta.ProviderYubico, u.id})
}

// activationJob is one credential response of an activate request, with
// the enrollment it answers.
type activationJob struct {
	e    *enrollment
	snap enrollment // *e as it was under s.mu, verified against outside it
	jwe  string
}

// activationJobsLocked resolves the enrollments an activate request
// answers: all of one key in fulfillment, each once. It writes the error
// and returns ok false otherwise.
func (s *Server) activationJobsLocked(x *exchange, b preregBody, responses []okta.CredResponse) (u *user, jobs []activationJob, f *fulfillment, ok bool) {
	if u = s.preregUserLocked(x, b); u == nil {
		return nil, nil, nil, false
	}
	seen := map[string]bool{}
	for i, cr := range responses {
		e, found := s.enrollments[cr.AuthenticatorEnrollmentID]
		switch {
		case !found || e.userID != u.id:
			s.notFound(x, cr.AuthenticatorEnrollmentID, "UserFactor")
			return nil, nil, nil, false
		case seen[e.id]:
			s.validation(x, "credResponses", fmt.Sprintf("credResponses[%d].authenticatorEnrollmentId: duplicate enrollment %s", i, e.id))
			return nil, nil, nil, false
		case e.status != okta.StatusFulfillmentPending && e.status != okta.StatusFulfillmentErrored:
			s.validation(x, "credResponses", fmt.Sprintf("credResponses[%d].authenticatorEnrollmentId: enrollment %s is %s, not in fulfillment", i, e.id, e.status))
			return nil, nil, nil, false
		case f != nil && e.f != f:
			s.validation(x, "credResponses", fmt.Sprintf("credResponses[%d].authenticatorEnrollmentId: enrollment %s belongs to another key", i, e.id))
			return nil, nil, nil, false
		}
		seen[e.id] = true
		f = e.f
		jobs = append(jobs, activationJob{e: e, snap: *e, jwe: cr.CredResponseJWE})
	}
	for _, id := range f.enrollments {
		if !seen[id] {
			s.validation(x, "credResponses", "credResponses: missing the response for enrollment "+id)
			return nil, nil, nil, false
		}
	}
	return u, jobs, f, true
}

// relyingParty returns the verifier for one RP ID (created on first use).
func (s *Server) relyingParty(rpID string) (*webauthn.RelyingParty, error) {
	s.mu.Lock()
	rp, ok := s.rps[rpID]
	s.mu.Unlock()
	if ok {
		return rp, nil
	}
	rp, err := webauthn.New(webauthn.Config{
		RPIDs: []string{rpID}, DisplayName: s.orgName, TrustRoots: s.roots, AllowedAAGUIDs: s.aaguids,
		RequireAttestation: true, Now: s.Now, Rand: s.rand,
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if existing, ok := s.rps[rpID]; ok {
		return existing, nil
	}
	s.rps[rpID] = rp
	return rp, nil
}

func (s *Server) handleSendPIN(x *exchange) {
	var req struct {
		preregBody
		AuthenticatorEnrollmentID string `json:"authenticatorEnrollmentId"`
	}
	if !s.decode(x, &req) {
		return
	}
	s.withPreregUser(x, req.preregBody, func(u *user) {
		e, ok := s.enrollments[req.AuthenticatorEnrollmentID]
		if !ok || e.userID != u.id {
			s.notFound(x, req.AuthenticatorEnrollmentID, "UserFactor")
			return
		}
		if e.status != okta.StatusActive {
			s.validation(x, "authenticatorEnrollmentId", fmt.Sprintf("authenticatorEnrollmentId: enrollment %s is %s; the PIN is available only after activation", e.id, e.status))
			return
		}
		f := e.f
		if f.pin == nil {
			s.validation(x, "authenticatorEnrollmentId", fmt.Sprintf("authenticatorEnrollmentId: enrollment %s has no preset PIN any more; it was used to sign in", e.id))
			return
		}
		to := u.profile.Email
		if u.status == okta.UserStaged {
			to = u.profile.SecondEmail
			if to == "" {
				s.validation(x, "secondEmail", "secondEmail: Secondary email is not available for Staged user")
				return
			}
		}
		pin, err := s.openPIN(f.pin)
		if err != nil {
			s.internalError(x, "%v", err)
			return
		}
		body := fmt.Sprintf("Hello %s,\n\nYour security key (YubiKey serial %s) is on its way. The first time you sign in with it, enter this PIN:\n\n    %s\n\nYou will then be asked to choose a new PIN.\n",
			u.profile.FirstName, f.serial, pin)
		clear(pin)
		s.sendMailLocked(to, pinEmailSubject, body)
		s.writeNoContent(x)
	})
}

func (s *Server) handleListEnrollments(x *exchange) {
	s.withPathUser(x, "uid", func(u *user) {
		s.writeJSON(x, http.StatusOK, fakehttp.Map(s.userEnrollmentsLocked(u.id), s.enrollmentWireLocked))
	})
}

// withPathEnrollment runs fn under s.mu with the user uid and its
// enrollment eid of the path; when either is unknown it answers 404
// E0000007 and fn does not run.
func (s *Server) withPathEnrollment(x *exchange, fn func(*user, *enrollment)) {
	s.withPathUser(x, "uid", func(u *user) {
		e, ok := s.enrollments[x.params["eid"]]
		if !ok || e.userID != u.id {
			s.notFound(x, x.params["eid"], "UserFactor")
			return
		}
		fn(u, e)
	})
}

// handleDeleteEnrollment permanently deletes an enrollment and its
// credential; the last enrollment of a key takes the stored PIN with it.
// As Okta does since 2024.10.1 it notifies the user by email and logs an
// event (the exact event type is not published; user.mfa.factor.deactivate
// is used).
func (s *Server) handleDeleteEnrollment(x *exchange) {
	s.withPathEnrollment(x, func(u *user, e *enrollment) {
		s.removeEnrollmentLocked(e)
		s.emitLocked(x, Event{EventType: "user.mfa.factor.deactivate", UserID: u.id, UserLogin: u.profile.Login, EnrollmentID: e.id})
		s.sendMailLocked(u.profile.Email, "A security key was removed from your account",
			fmt.Sprintf("Hello %s,\n\nA pre-registered security key was removed from your %s account.\n", u.profile.FirstName, s.orgName))
		s.writeNoContent(x)
	})
}

// removeEnrollmentLocked deletes e and, with its fulfillment's last
// enrollment, wipes the fulfillment's PIN (the fulfillment itself goes
// with the enrollments that point to it).
func (s *Server) removeEnrollmentLocked(e *enrollment) {
	delete(s.enrollments, e.id)
	if rest := slices.DeleteFunc(s.byUser[e.userID], func(o *enrollment) bool { return o == e }); len(rest) > 0 {
		s.byUser[e.userID] = rest
	} else {
		delete(s.byUser, e.userID)
	}
	f := e.f
	for i, id := range f.enrollments {
		if id == e.id {
			f.enrollments = append(f.enrollments[:i:i], f.enrollments[i+1:]...)
			break
		}
	}
	if len(f.enrollments) == 0 {
		clear(f.pin)
		f.pin = nil
	}
}

func (s *Server) handleMarkError(x *exchange) {
	s.withPathEnrollment(x, func(_ *user, e *enrollment) {
		e.status = okta.StatusFulfillmentErrored
		e.lastUpdated = s.now()
		s.writeNoContent(x)
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// enrollFailedSummary is Okta's summary of an enroll it cannot complete.
const enrollFailedSummary = "Api validation failed: webAuthnPreregistrationPinRequest|webAuthnPreregistrationCredentialRequest"

// preregFailed answers an enroll or activate the fake cannot complete. Okta
// answers every such failure with 400 E0000001, summary and the same
// generic cause; the fake adds its own explanation (format, args) as a
// second cause and in the request log, so a test sees why.
func (s *Server) preregFailed(x *exchange, summary, format string, args ...any) {
	x.detail(format, args...)
	s.writeError(x, http.StatusBadRequest, errorBody{
		ErrorCode: "E0000001", ErrorLink: "E0000001", ErrorSummary: summary,
		ErrorCauses: []cause{
			{"There was an unexpected internal error. Please try again."},
			{"oktatest: " + fmt.Sprintf(format, args...)},
		},
	})
}

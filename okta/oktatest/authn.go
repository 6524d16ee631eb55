package oktatest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/preenroll/preenroll/internal/fakehttp"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/webauthn"
)

// authnTTL is how long an Authn state token lives.
const authnTTL = 5 * time.Minute

// txn is a classic Authn transaction.
type txn struct {
	userID   string
	expires  time.Time
	factorID string                 // challenged factor
	session  *webauthn.LoginSession // its login session
}

// factorWire is a WebAuthn factor in an Authn transaction.
type factorWire struct {
	ID         string              `json:"id"`
	FactorType string              `json:"factorType"`
	Provider   string              `json:"provider"`
	VendorName string              `json:"vendorName"`
	Profile    factorProfileWire   `json:"profile"`
	Embedded   *factorEmbeddedWire `json:"_embedded,omitempty"`
	Links      struct {
		Verify struct {
			Hints struct {
				Allow []string `json:"allow"`
			} `json:"hints"`
			Href string `json:"href"`
		} `json:"verify"`
	} `json:"_links"`
}

// factorProfileWire is a factor's profile.
type factorProfileWire struct {
	AuthenticatorName string `json:"authenticatorName"`
	CredentialID      string `json:"credentialId"`
}

// factorEmbeddedWire is the challenge of a challenged factor.
type factorEmbeddedWire struct {
	Challenge struct {
		Challenge        string   `json:"challenge"`
		Extensions       struct{} `json:"extensions"`
		UserVerification string   `json:"userVerification"`
	} `json:"challenge"`
}

// allowPost is the verify link's allowed methods (shared, never changed).
var allowPost = []string{"POST"}

func (s *Server) factorWireLocked(e *enrollment) factorWire {
	w := factorWire{
		ID: e.id, FactorType: "webauthn", Provider: "FIDO", VendorName: "FIDO",
		Profile: factorProfileWire{AuthenticatorName: e.authenticatorName(), CredentialID: base64.RawURLEncoding.EncodeToString(e.cred.ID)},
	}
	w.Links.Verify.Hints.Allow = allowPost
	w.Links.Verify.Href = s.srv.URL + "/api/v1/authn/factors/" + e.id + "/verify"
	return w
}

// authnWire is an Authn transaction. The JSON names of its members and of
// their members are in byte order, as the maps it replaced encoded them.
type authnWire struct {
	Embedded struct {
		Factor  *factorWire   `json:"factor,omitempty"`  // MFA_CHALLENGE
		Factors []factorWire  `json:"factors,omitempty"` // MFA_REQUIRED
		User    authnUserWire `json:"user"`
	} `json:"_embedded"`
	Links struct {
		Cancel hrefLink       `json:"cancel"`
		Next   *authnNextLink `json:"next,omitempty"` // MFA_CHALLENGE
	} `json:"_links"`
	ChallengeType string           `json:"challengeType,omitempty"`
	ExpiresAt     oktaTime         `json:"expiresAt"`
	FactorResult  string           `json:"factorResult,omitempty"`
	SessionToken  string           `json:"sessionToken,omitempty"`
	StateToken    string           `json:"stateToken,omitempty"`
	Status        okta.AuthnStatus `json:"status"`
}

// authnNextLink is an Authn transaction's next step.
type authnNextLink struct {
	Href string `json:"href"`
	Name string `json:"name"`
}

// authnUserWire is the user of an Authn transaction.
type authnUserWire struct {
	ID              string    `json:"id"`
	PasswordChanged *oktaTime `json:"passwordChanged"` // always null: the fake's users have no password
	Profile         struct {
		FirstName string `json:"firstName"`
		LastName  string `json:"lastName"`
		Locale    string `json:"locale"`
		Login     string `json:"login"`
		TimeZone  string `json:"timeZone"`
	} `json:"profile"`
}

// newAuthnWire is an Authn transaction of u in status st, expiring at
// expires.
func (s *Server) newAuthnWire(u *user, st okta.AuthnStatus, expires time.Time) *authnWire {
	w := &authnWire{ExpiresAt: oktaTime(expires), Status: st}
	au := &w.Embedded.User
	au.ID = u.id
	au.Profile.FirstName, au.Profile.LastName, au.Profile.Login = u.profile.FirstName, u.profile.LastName, u.profile.Login
	au.Profile.Locale, au.Profile.TimeZone = "en", "America/Los_Angeles"
	w.Links.Cancel.Href = s.srv.URL + "/api/v1/authn/cancel"
	return w
}

// signInFactorsLocked are the user's ACTIVE enrollments with a credential.
func (s *Server) signInFactorsLocked(userID string) []*enrollment {
	var out []*enrollment
	for _, e := range s.userEnrollmentsLocked(userID) {
		if e.status == okta.StatusActive && e.cred != nil {
			out = append(out, e)
		}
	}
	return out
}

func (s *Server) authFailed(x *exchange, why string) {
	x.detail("%s", why)
	s.fail(x, http.StatusUnauthorized, "E0000004", "Authentication failed")
}

// handleAuthn is primary authentication. The fake's users have no
// passwords: identifier-only primary authentication (no password) is
// accepted for ACTIVE users with a WebAuthn factor and answers
// MFA_REQUIRED; anything else is 401 E0000004, as Okta answers for a
// STAGED user.
func (s *Server) handleAuthn(x *exchange) {
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if !s.decode(x, &req) {
		return
	}
	if req.Username == "" {
		s.validation(x, "username", "username: The field cannot be left blank")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userByLoginLocked(req.Username)
	switch {
	case u == nil:
		s.authFailed(x, "unknown username")
		return
	case u.status != okta.UserActive:
		s.authFailed(x, "user is "+string(u.status))
		return
	case req.Password != "":
		s.authFailed(x, "the fake's users have no password")
		return
	}
	factors := s.signInFactorsLocked(u.id)
	if len(factors) == 0 {
		s.authFailed(x, "user has no active WebAuthn factor")
		return
	}
	for tok, old := range s.txns { // state tokens die with their transaction
		if !s.now().Before(old.expires) {
			delete(s.txns, tok)
		}
	}
	token := s.randomID("00", 40)
	t := &txn{userID: u.id, expires: s.now().Add(authnTTL)}
	s.txns[token] = t
	w := s.newAuthnWire(u, okta.AuthnMFARequired, t.expires)
	w.StateToken = token
	w.Embedded.Factors = fakehttp.Map(factors, s.factorWireLocked)
	s.writeJSON(x, http.StatusOK, w)
}

func (s *Server) invalidStateToken(x *exchange, why string) {
	x.detail("%s", why)
	s.failStatus(x, http.StatusUnauthorized)
}

func (s *Server) handleVerifyFactor(x *exchange) {
	var req struct {
		StateToken        string `json:"stateToken"`
		ClientData        string `json:"clientData"`
		AuthenticatorData string `json:"authenticatorData"`
		SignatureData     string `json:"signatureData"`
	}
	if !s.decode(x, &req) {
		return
	}
	fid := x.params["fid"]
	s.mu.Lock()
	t, ok := s.txns[req.StateToken]
	if !ok || req.StateToken == "" {
		s.mu.Unlock()
		s.invalidStateToken(x, "unknown state token")
		return
	}
	if !s.now().Before(t.expires) {
		delete(s.txns, req.StateToken)
		s.mu.Unlock()
		s.invalidStateToken(x, "state token expired")
		return
	}
	u := s.users[t.userID]
	e, ok := s.enrollments[fid]
	if !ok || e.userID != u.id || e.status != okta.StatusActive || e.cred == nil {
		s.mu.Unlock()
		s.notFound(x, fid, "UserFactor")
		return
	}
	cred := *e.cred
	rpID, userHandle := e.rpID, bytes.Clone(u.userHandle)
	s.mu.Unlock()

	rp, err := s.relyingParty(rpID)
	if err != nil {
		s.internalError(x, "relying party: %v", err)
		return
	}
	if req.ClientData == "" && req.AuthenticatorData == "" && req.SignatureData == "" {
		s.challenge(x, rp, req.StateToken, t, fid, rpID, userHandle, cred)
		return
	}
	s.verify(x, rp, req.StateToken, fid, cred, req.ClientData, req.AuthenticatorData, req.SignatureData)
}

func (s *Server) challenge(x *exchange, rp *webauthn.RelyingParty, token string, t *txn, fid, rpID string, userHandle []byte, cred webauthn.Credential) {
	opts, session, err := rp.BeginLogin(rpID, userHandle, []webauthn.Credential{cred})
	if err != nil {
		s.internalError(x, "begin login: %v", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.txns[token]; !ok || cur != t {
		s.invalidStateToken(x, "state token ended during the challenge")
		return
	}
	t.factorID, t.session = fid, &session
	e, ok := s.enrollments[fid]
	if !ok || e.cred == nil {
		s.notFound(x, fid, "UserFactor")
		return
	}
	fw := s.factorWireLocked(e)
	fw.Embedded = &factorEmbeddedWire{}
	fw.Embedded.Challenge.Challenge = base64.RawURLEncoding.EncodeToString(opts.Challenge)
	fw.Embedded.Challenge.UserVerification = string(opts.UserVerification)
	w := s.newAuthnWire(s.users[t.userID], okta.AuthnMFAChallenge, t.expires)
	w.StateToken, w.FactorResult, w.ChallengeType = token, "CHALLENGE", "FACTOR"
	w.Embedded.Factor = &fw
	w.Links.Next = &authnNextLink{Href: s.srv.URL + "/api/v1/authn/factors/" + fid + "/verify", Name: "verify"}
	s.writeJSON(x, http.StatusOK, w)
}

// decodeAny accepts standard or URL base64, padded or not.
func decodeAny(v string) ([]byte, error) {
	v = strings.TrimRight(v, "=")
	if strings.ContainsAny(v, "+/") {
		return base64.RawStdEncoding.DecodeString(v)
	}
	return base64.RawURLEncoding.DecodeString(v)
}

func (s *Server) wrongAnswer(x *exchange, format string, args ...any) {
	x.detail(format, args...)
	s.fail(x, http.StatusForbidden, "E0000068", "Invalid Passcode/Answer", "Your passcode doesn't match our records. Please try again.")
}

func (s *Server) verify(x *exchange, rp *webauthn.RelyingParty, token, fid string, cred webauthn.Credential, cd, ad, sig string) {
	var a webauthn.Assertion
	a.CredentialID = cred.ID
	for _, f := range []struct {
		name string
		in   string
		out  *[]byte
	}{{"clientData", cd, &a.ClientDataJSON}, {"authenticatorData", ad, &a.AuthenticatorData}, {"signatureData", sig, &a.Signature}} {
		b, err := decodeAny(f.in)
		if err != nil || len(b) == 0 {
			s.validation(x, f.name, f.name+": The field is missing or not base64")
			return
		}
		*f.out = b
	}
	s.mu.Lock()
	t, ok := s.txns[token]
	var session webauthn.LoginSession
	if ok && t.session != nil && t.factorID == fid {
		session = *t.session
	}
	s.mu.Unlock()
	if !ok {
		s.invalidStateToken(x, "state token ended")
		return
	}
	if session.Challenge == nil {
		s.wrongAnswer(x, "no challenge was issued for factor %s in this transaction", fid)
		return
	}
	updated, err := rp.FinishLogin(x.r.Context(), session, []webauthn.Credential{cred}, a)
	if err != nil {
		if errors.Is(err, webauthn.ErrClonedKey) {
			s.mu.Lock()
			if e, ok := s.enrollments[fid]; ok && e.cred != nil {
				e.cred.CloneWarning = true
			}
			s.mu.Unlock()
		}
		s.wrongAnswer(x, "finish login: %v", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.txns[token]; !ok || cur != t {
		s.invalidStateToken(x, "state token ended during verification")
		return
	}
	e, ok := s.enrollments[fid]
	if !ok || e.cred == nil {
		s.notFound(x, fid, "UserFactor")
		return
	}
	delete(s.txns, token) // a state token completes once
	e.cred = &updated
	e.lastUpdated = s.now()
	f := e.f
	if f.pin != nil {
		// The first sign-in ends the preset PIN's life (the key forced a
		// PIN change): wipe it so send-pin is refused from now on.
		clear(f.pin)
		f.pin = nil
		f.pinWiped = true
	}
	u := s.users[t.userID]
	u.lastLogin = s.now()
	w := s.newAuthnWire(u, okta.AuthnSuccess, s.now().Add(authnTTL))
	w.SessionToken = s.randomID("20111", 40)
	s.writeJSON(x, http.StatusOK, w)
}

// PINWiped reports whether the preset PIN of the key an enrollment belongs
// to was wiped after the first sign-in.
func (s *Server) PINWiped(enrollmentID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.enrollments[enrollmentID]
	if !ok {
		return false
	}
	return e.f.pinWiped
}

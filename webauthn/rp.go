package webauthn

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"
)

// Config configures a [RelyingParty]. RPIDs is required; every other field
// has a default.
type Config struct {
	// RPIDs are the relying party IDs (hostnames) credentials are bound to.
	RPIDs []string
	// Origins are the allowed client-data origins, e.g.
	// "https://example.okta.com". Each must be https (or http on localhost)
	// with a host equal to, or a subdomain of, one of the RP IDs (WebAuthn
	// L3 §5.1.3 step 8), and each RP ID needs at least one. Empty means
	// "https://"+rpID for each RP ID.
	Origins []string
	// DisplayName is the relying party's display name (default: the RP ID).
	DisplayName string
	// TrustRoots are the FIDO attestation root certificates (Yubico's FIDO
	// root in production, simulator.DefaultFIDOCA().Root() in tests). A
	// packed/x5c attestation must chain to one of them. Empty means no
	// certificate trust is checked, which is only allowed when
	// RequireAttestation is false.
	TrustRoots []*x509.Certificate
	// AllowedAAGUIDs restricts the authenticator models admitted. Empty means
	// any non-zero AAGUID. The zero AAGUID is never admitted.
	AllowedAAGUIDs []uuid.UUID
	// RequireAttestation rejects "none" and self (basic_surrogate)
	// attestation; only certificate-backed attestation chaining to
	// TrustRoots is accepted.
	RequireAttestation bool
	// LoginUserVerification is the user verification requirement of sign-in
	// ceremonies: "required" (default: the PIN is the second factor),
	// "preferred" or "discouraged".
	LoginUserVerification string
	// LoginTimeout is how long a [LoginSession] stays valid (default 5 min).
	LoginTimeout time.Duration
	// Now is the clock (default time.Now). Certificate validity periods are
	// checked by go-webauthn and crypto/x509 against the real time.
	Now func() time.Time
	// Rand is the source of login challenges (default crypto/rand.Reader).
	// The RelyingParty reads it under a lock, so it need not be safe for
	// concurrent use.
	Rand io.Reader
}

// RelyingParty verifies pre-registered credentials and runs sign-in
// ceremonies on top of github.com/go-webauthn/webauthn. It is immutable after
// [New] and safe for concurrent use; it stores nothing (credentials and
// login sessions are plain values the caller persists).
type RelyingParty struct {
	rps          map[string]*gowebauthn.WebAuthn // per RP ID
	origins      map[string][]string             // per RP ID
	allowed      map[uuid.UUID]bool
	requireAtt   bool
	trusted      bool // TrustRoots configured
	loginUV      string
	loginTimeout time.Duration
	now          func() time.Time
	randMu       sync.Mutex // guards rand
	rand         io.Reader
}

// New validates cfg and returns a RelyingParty. Errors wrap [ErrConfig] and
// name the offending field.
func New(cfg Config) (*RelyingParty, error) {
	rp := &RelyingParty{
		rps:          make(map[string]*gowebauthn.WebAuthn, len(cfg.RPIDs)),
		origins:      make(map[string][]string, len(cfg.RPIDs)),
		allowed:      make(map[uuid.UUID]bool, len(cfg.AllowedAAGUIDs)),
		requireAtt:   cfg.RequireAttestation,
		trusted:      len(cfg.TrustRoots) > 0,
		loginUV:      cfg.LoginUserVerification,
		loginTimeout: cfg.LoginTimeout,
		now:          cfg.Now,
		rand:         cfg.Rand,
	}
	if rp.loginUV == "" {
		rp.loginUV = string(protocol.VerificationRequired)
	}
	if !userVerificationValues[rp.loginUV] {
		return nil, fieldError("new relying party", "LoginUserVerification", fmt.Sprintf("%q, want \"required\", \"preferred\" or \"discouraged\"", rp.loginUV), ErrConfig)
	}
	if rp.loginTimeout == 0 {
		rp.loginTimeout = 5 * time.Minute
	}
	if rp.loginTimeout < 0 {
		return nil, fieldError("new relying party", "LoginTimeout", "negative", ErrConfig)
	}
	if rp.now == nil {
		rp.now = time.Now
	}
	if rp.rand == nil {
		rp.rand = rand.Reader
	}
	if len(cfg.RPIDs) == 0 {
		return nil, fieldError("new relying party", "RPIDs", "empty", ErrConfig)
	}
	for i, id := range cfg.RPIDs {
		if problem := RPIDProblem(id); problem != "" {
			return nil, fieldError("new relying party", fmt.Sprintf("RPIDs[%d]", i), fmt.Sprintf("%q: %s", id, problem), ErrConfig)
		}
		if _, dup := rp.origins[id]; dup {
			return nil, fieldError("new relying party", fmt.Sprintf("RPIDs[%d]", i), fmt.Sprintf("duplicate %q", id), ErrConfig)
		}
		rp.origins[id] = nil
	}
	origins := cfg.Origins
	if len(origins) == 0 {
		for _, id := range cfg.RPIDs {
			origins = append(origins, "https://"+id)
		}
	}
	for i, o := range origins {
		host, err := originHost(o)
		if err != nil {
			return nil, fieldError("new relying party", fmt.Sprintf("Origins[%d]", i), fmt.Sprintf("%q: %v", o, err), ErrConfig)
		}
		matched := false
		for _, id := range cfg.RPIDs {
			if host == id || strings.HasSuffix(host, "."+id) {
				rp.origins[id] = append(rp.origins[id], o)
				matched = true
			}
		}
		if !matched {
			return nil, fieldError("new relying party", fmt.Sprintf("Origins[%d]", i), fmt.Sprintf("%q is not within any RP ID", o), ErrConfig)
		}
	}
	for i, r := range cfg.TrustRoots {
		if r == nil {
			return nil, fieldError("new relying party", fmt.Sprintf("TrustRoots[%d]", i), "nil certificate", ErrConfig)
		}
	}
	if cfg.RequireAttestation && !rp.trusted {
		return nil, fieldError("new relying party", "TrustRoots", "empty while RequireAttestation is set", ErrConfig)
	}
	for i, a := range cfg.AllowedAAGUIDs {
		if a == uuid.Nil {
			return nil, fieldError("new relying party", fmt.Sprintf("AllowedAAGUIDs[%d]", i), "the zero AAGUID is never admitted", ErrConfig)
		}
		rp.allowed[a] = true
	}
	var mds metadata.Provider
	if rp.trusted {
		mds = &trustProvider{roots: slices.Clone(cfg.TrustRoots), allowed: rp.allowed, allowSelf: !cfg.RequireAttestation}
	}
	for _, id := range cfg.RPIDs {
		if len(rp.origins[id]) == 0 {
			return nil, fieldError("new relying party", "Origins", fmt.Sprintf("no origin for RP ID %q", id), ErrConfig)
		}
		name := cfg.DisplayName
		if name == "" {
			name = id
		}
		w, err := gowebauthn.New(&gowebauthn.Config{
			RPID:                  id,
			RPDisplayName:         name,
			RPOrigins:             rp.origins[id],
			AttestationPreference: protocol.PreferDirectAttestation,
			MDS:                   mds,
		})
		if err != nil {
			return nil, fmt.Errorf("webauthn: new relying party: RP ID %q: %w: %w", id, ErrConfig, err)
		}
		rp.rps[id] = w
	}
	return rp, nil
}

// originHost checks the shape of a web origin and returns its host.
func originHost(o string) (string, error) {
	u, err := url.Parse(o)
	if err != nil {
		return "", errors.New("not a URL")
	}
	host := u.Hostname()
	switch {
	case u.Scheme != "https" && !(u.Scheme == "http" && host == "localhost"):
		return "", errors.New("scheme must be https (http only for localhost)")
	case host == "":
		return "", errors.New("missing host")
	case u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return "", errors.New("an origin has only scheme, host and port")
	}
	return host, nil
}

// Credential is a verified WebAuthn credential record to persist: the
// public key, the authenticator model and its signature counter.
type Credential struct {
	ID                []byte
	PublicKey         []byte // COSE_Key
	AAGUID            uuid.UUID
	SignCount         uint32
	RPID              string
	UserHandle        []byte
	AttestationType   string // "basic_full", "attca", "basic_surrogate" (self) or "none"
	AttestationFormat string // "packed", "fido-u2f", "none", ...
	Transports        []string
	BackupEligible    bool
	// CloneWarning is set once a sign counter went backwards.
	CloneWarning bool
}

// VerifyPreregistered verifies a credential created out of band (at the
// factory) for req: there is no browser session, so the challenge, RP ID,
// user handle and user verification requirement come from req, and the
// client data origin must be one of the configured origins for req.RPID.
// The attestation must verify and, when trust roots are configured, chain
// to one of them; the AAGUID must be non-zero and allowed; "none"/self
// attestation is refused when RequireAttestation is set; UV must be present
// when req.UserVerification is "required".
//
// Errors wrap [ErrExpired], [ErrUserMismatch], [ErrRPIDMismatch],
// [ErrChallengeMismatch], [ErrOriginMismatch], [ErrUserPresence],
// [ErrUserVerification], [ErrAAGUIDNotAllowed], [ErrAttestation],
// [ErrUntrustedAttestation], [ErrMalformed] or [ErrVerification]; a
// go-webauthn *protocol.Error stays in the chain.
func (rp *RelyingParty) VerifyPreregistered(ctx context.Context, req CredentialRequest, resp CredentialResponse) (Credential, error) {
	const scope = "verify preregistered credential"
	if err := ctx.Err(); err != nil {
		return Credential{}, fmt.Errorf("webauthn: %s: %w", scope, err)
	}
	if err := req.validateCeremony(scope, "request "); err != nil {
		return Credential{}, err
	}
	if now := rp.now(); now.After(req.ExpiresAt) {
		return Credential{}, fmt.Errorf("webauthn: %s: enrollment %q: request %w at %s", scope, req.EnrollmentID, ErrExpired, req.ExpiresAt.UTC().Format(time.RFC3339))
	}
	w, ok := rp.rps[req.RPID]
	if !ok {
		return Credential{}, fieldError(scope, "request rpId", fmt.Sprintf("%q is not configured", req.RPID), ErrRPIDMismatch)
	}
	if err := resp.validate(scope); err != nil {
		return Credential{}, err
	}
	if resp.UserID != req.UserID || resp.EnrollmentID != req.EnrollmentID {
		return Credential{}, fmt.Errorf("webauthn: %s: response for user %q enrollment %q, request for user %q enrollment %q: %w",
			scope, resp.UserID, resp.EnrollmentID, req.UserID, req.EnrollmentID, ErrUserMismatch)
	}
	parsed, err := resp.creationResponse().Parse()
	if err != nil {
		return Credential{}, fmt.Errorf("webauthn: %s: parse response: %w: %w", scope, ErrMalformed, err)
	}
	cd := parsed.Response.CollectedClientData
	authData := parsed.Response.AttestationObject.AuthData
	if err := rp.checkCeremony(scope, protocol.CreateCeremony, cd, req.RPID, req.Challenge); err != nil {
		return Credential{}, err
	}
	if err := checkAuthData(scope, authData, req.RPID, req.UserVerification); err != nil {
		return Credential{}, err
	}
	aaguid, err := uuid.FromBytes(authData.AttData.AAGUID)
	if err != nil {
		return Credential{}, fieldError(scope, "authenticator data aaguid", "not 16 bytes", ErrMalformed)
	}
	if err := rp.checkAAGUID(scope, aaguid); err != nil {
		return Credential{}, err
	}
	// Close go-webauthn's policy gap (docs/simulator.md §Relying party:
	// go-webauthn): "none"
	// skips metadata entirely, and self attestation carries no x5c to chain.
	att := parsed.Response.AttestationObject
	if rp.requireAtt && (att.Format == string(protocol.AttestationFormatNone) || att.AttStatement["x5c"] == nil) {
		return Credential{}, fmt.Errorf("webauthn: %s: attestation format %q without a certificate chain while attestation is required: %w",
			scope, truncate(att.Format, 32), ErrAttestation)
	}
	opts := req.CreationOptions()
	session := gowebauthn.SessionData{
		Challenge:        base64.RawURLEncoding.EncodeToString(req.Challenge),
		RelyingPartyID:   req.RPID,
		UserID:           req.UserHandle,
		UserVerification: protocol.UserVerificationRequirement(req.UserVerification),
		Extensions:       opts.Extensions.Session(),
		CredParams:       opts.Parameters,
	}
	user := &waUser{id: req.UserHandle, name: req.UserName, displayName: req.UserDisplayName}
	wc, err := w.CreateCredential(user, session, parsed)
	if err != nil {
		return Credential{}, mapProtocolError(scope, err)
	}
	if rp.requireAtt && !certificateAttestation(wc.AttestationType) {
		return Credential{}, fmt.Errorf("webauthn: %s: attestation type %q while attestation is required: %w", scope, wc.AttestationType, ErrAttestation)
	}
	return credentialFrom(wc, aaguid, req.RPID, req.UserHandle), nil
}

// certificateAttestation reports whether an attestation type is backed by a
// certificate chain (rather than "none" or self attestation).
func certificateAttestation(t string) bool {
	switch metadata.AuthenticatorAttestationType(t) {
	case metadata.BasicFull, metadata.AttCA, metadata.AnonCA:
		return true
	}
	return false
}

// checkCeremony verifies client data type, challenge and origin (WebAuthn L3
// §7.1 steps 7-9, §7.2 steps 11-13) so that these failures get precise
// sentinels; go-webauthn repeats the checks.
func (rp *RelyingParty) checkCeremony(scope string, ceremony protocol.CeremonyType, cd protocol.CollectedClientData, rpID string, challenge []byte) error {
	if cd.Type != ceremony {
		return fieldError(scope, "clientDataJSON type", fmt.Sprintf("%q, want %q", truncate(string(cd.Type), 32), ceremony), ErrVerification)
	}
	want := base64.RawURLEncoding.EncodeToString(challenge)
	if subtle.ConstantTimeCompare([]byte(cd.Challenge), []byte(want)) != 1 {
		return fieldError(scope, "clientDataJSON challenge", "does not match the issued challenge", ErrChallengeMismatch)
	}
	if !protocol.IsOriginInHaystack(cd.Origin, rp.origins[rpID]) {
		return fieldError(scope, "clientDataJSON origin", fmt.Sprintf("%q not allowed for RP ID %q", truncate(cd.Origin, 128), rpID), ErrOriginMismatch)
	}
	if cd.CrossOrigin {
		return fieldError(scope, "clientDataJSON crossOrigin", "true; cross-origin ceremonies are not allowed", ErrOriginMismatch)
	}
	return nil
}

// checkAuthData verifies the RP ID hash and the UP/UV flags (WebAuthn L3
// §7.1 steps 14-16, §7.2 steps 15-17).
func checkAuthData(scope string, ad protocol.AuthenticatorData, rpID, userVerification string) error {
	sum := sha256.Sum256([]byte(rpID))
	if !bytes.Equal(ad.RPIDHash, sum[:]) {
		return fieldError(scope, "authenticator data rpIdHash", fmt.Sprintf("not SHA-256 of RP ID %q", rpID), ErrRPIDMismatch)
	}
	if !ad.Flags.UserPresent() {
		return fieldError(scope, "authenticator data flags", "user presence (UP) not set", ErrUserPresence)
	}
	if userVerification == string(protocol.VerificationRequired) && !ad.Flags.UserVerified() {
		return fieldError(scope, "authenticator data flags", "user verification (UV) required but not set", ErrUserVerification)
	}
	return nil
}

// checkAAGUID applies the AAGUID policy: never zero; in the allowlist when
// one is configured.
func (rp *RelyingParty) checkAAGUID(scope string, aaguid uuid.UUID) error {
	if aaguid == uuid.Nil {
		return fieldError(scope, "aaguid", "all zero (authenticator model hidden)", ErrAAGUIDNotAllowed)
	}
	if len(rp.allowed) > 0 && !rp.allowed[aaguid] {
		return fieldError(scope, "aaguid", fmt.Sprintf("%s not in the allowlist", aaguid), ErrAAGUIDNotAllowed)
	}
	return nil
}

func credentialFrom(wc *gowebauthn.Credential, aaguid uuid.UUID, rpID string, userHandle []byte) Credential {
	c := Credential{
		ID:                bytes.Clone(wc.ID),
		PublicKey:         bytes.Clone(wc.PublicKey),
		AAGUID:            aaguid,
		SignCount:         wc.Authenticator.SignCount,
		RPID:              rpID,
		UserHandle:        bytes.Clone(userHandle),
		AttestationType:   wc.AttestationType,
		AttestationFormat: wc.AttestationFormat,
		BackupEligible:    wc.Flags.BackupEligible,
		CloneWarning:      wc.Authenticator.CloneWarning,
	}
	for _, t := range wc.Transport {
		c.Transports = append(c.Transports, string(t))
	}
	return c
}

// LoginSession is the state of a sign-in ceremony between
// [RelyingParty.BeginLogin] and [RelyingParty.FinishLogin]. It is plain data:
// persist it server-side (it must not be modifiable by the client).
type LoginSession struct {
	RPID                 string
	Challenge            []byte
	UserHandle           []byte
	AllowedCredentialIDs [][]byte
	UserVerification     string
	Expires              time.Time
}

// BeginLogin starts a sign-in ceremony for the user with userHandle on rpID,
// allowing the user's credentials among creds (those with that RP ID and
// user handle). It returns the options for navigator.credentials.get and the
// session to keep. Errors wrap [ErrRPIDMismatch], [ErrMalformed] or
// [ErrUnknownCredential] (no credential of the user for rpID).
func (rp *RelyingParty) BeginLogin(rpID string, userHandle []byte, creds []Credential) (protocol.PublicKeyCredentialRequestOptions, LoginSession, error) {
	const scope = "begin login"
	if _, ok := rp.rps[rpID]; !ok {
		return protocol.PublicKeyCredentialRequestOptions{}, LoginSession{}, fieldError(scope, "rpID", fmt.Sprintf("%q is not configured", rpID), ErrRPIDMismatch)
	}
	if err := checkBytes(scope, "userHandle", userHandle, 1, maxUserHandleLen); err != nil {
		return protocol.PublicKeyCredentialRequestOptions{}, LoginSession{}, err
	}
	owned := ownedCredentials(creds, rpID, userHandle)
	if len(owned) == 0 {
		return protocol.PublicKeyCredentialRequestOptions{}, LoginSession{}, fmt.Errorf("webauthn: %s: no credential of the user for RP ID %q: %w", scope, rpID, ErrUnknownCredential)
	}
	challenge := make([]byte, 32)
	rp.randMu.Lock()
	_, err := io.ReadFull(rp.rand, challenge)
	rp.randMu.Unlock()
	if err != nil {
		return protocol.PublicKeyCredentialRequestOptions{}, LoginSession{}, fmt.Errorf("webauthn: %s: generate challenge: %w", scope, err)
	}
	opts := protocol.PublicKeyCredentialRequestOptions{
		Challenge:        protocol.URLEncodedBase64(challenge),
		Timeout:          int(rp.loginTimeout.Milliseconds()),
		RelyingPartyID:   rpID,
		UserVerification: protocol.UserVerificationRequirement(rp.loginUV),
	}
	s := LoginSession{
		RPID:             rpID,
		Challenge:        bytes.Clone(challenge),
		UserHandle:       bytes.Clone(userHandle),
		UserVerification: rp.loginUV,
		Expires:          rp.now().Add(rp.loginTimeout),
	}
	for _, c := range owned {
		d := protocol.CredentialDescriptor{Type: protocol.PublicKeyCredentialType, CredentialID: bytes.Clone(c.ID)}
		for _, t := range c.Transports {
			d.Transport = append(d.Transport, protocol.AuthenticatorTransport(t))
		}
		opts.AllowedCredentials = append(opts.AllowedCredentials, d)
		s.AllowedCredentialIDs = append(s.AllowedCredentialIDs, bytes.Clone(c.ID))
	}
	return opts, s, nil
}

func ownedCredentials(creds []Credential, rpID string, userHandle []byte) []Credential {
	var out []Credential
	for _, c := range creds {
		if c.RPID == rpID && bytes.Equal(c.UserHandle, userHandle) && len(c.ID) > 0 {
			out = append(out, c)
		}
	}
	return out
}

// Assertion is a WebAuthn assertion (AuthenticatorAssertionResponse plus
// the credential ID), decoded from the browser's JSON by [ParseAssertionJSON].
type Assertion struct {
	CredentialID, ClientDataJSON, AuthenticatorData, Signature, UserHandle []byte
}

// parseBrowserJSON parses b, a browser-shaped PublicKeyCredential JSON
// (field names it in errors), with parse, one of go-webauthn's parsers. A
// b over the plaintext limit and parse's errors wrap [ErrMalformed].
func parseBrowserJSON[T any](scope, field string, b []byte, parse func([]byte) (T, error)) (T, error) {
	var zero T
	if err := checkMax(scope, field, len(b), maxPlaintextLen, "bytes"); err != nil {
		return zero, err
	}
	p, err := parse(b)
	if err != nil {
		return zero, fmt.Errorf("webauthn: %s: %w: %w", scope, ErrMalformed, err)
	}
	return p, nil
}

// ParseAssertionJSON decodes a browser-shaped PublicKeyCredential JSON of an
// assertion: {"id","rawId","type":"public-key","response":{"clientDataJSON",
// "authenticatorData","signature","userHandle"}}. Nothing is verified.
// Errors wrap [ErrMalformed].
func ParseAssertionJSON(b []byte) (Assertion, error) {
	const scope = "parse assertion"
	p, err := parseBrowserJSON(scope, "JSON", b, protocol.ParseCredentialRequestResponseBytes)
	if err != nil {
		return Assertion{}, err
	}
	return Assertion{
		CredentialID:      bytes.Clone(p.RawID),
		ClientDataJSON:    bytes.Clone(p.Raw.AssertionResponse.ClientDataJSON),
		AuthenticatorData: bytes.Clone(p.Raw.AssertionResponse.AuthenticatorData),
		Signature:         bytes.Clone(p.Raw.AssertionResponse.Signature),
		UserHandle:        bytes.Clone(p.Raw.AssertionResponse.UserHandle),
	}, nil
}

// FinishLogin verifies assertion a against session s and the user's
// credentials creds, and returns the used credential with its updated
// SignCount. A counter that does not increase (unless both are zero) is
// reported as an error wrapping [ErrClonedKey], returned together with the
// credential marked CloneWarning so the caller can persist the flag.
// Other errors wrap [ErrExpired], [ErrUnknownCredential], [ErrUserMismatch],
// [ErrRPIDMismatch], [ErrChallengeMismatch], [ErrOriginMismatch],
// [ErrUserPresence], [ErrUserVerification], [ErrBadSignature], [ErrMalformed]
// or [ErrVerification].
func (rp *RelyingParty) FinishLogin(ctx context.Context, s LoginSession, creds []Credential, a Assertion) (Credential, error) {
	const scope = "finish login"
	if err := ctx.Err(); err != nil {
		return Credential{}, fmt.Errorf("webauthn: %s: %w", scope, err)
	}
	w, ok := rp.rps[s.RPID]
	if !ok {
		return Credential{}, fieldError(scope, "session rpId", fmt.Sprintf("%q is not configured", s.RPID), ErrRPIDMismatch)
	}
	if now := rp.now(); s.Expires.IsZero() || now.After(s.Expires) {
		return Credential{}, fmt.Errorf("webauthn: %s: session %w at %s", scope, ErrExpired, s.Expires.UTC().Format(time.RFC3339))
	}
	if len(s.Challenge) == 0 || len(s.UserHandle) == 0 {
		return Credential{}, fieldError(scope, "session", "missing challenge or user handle", ErrMalformed)
	}
	if len(a.CredentialID) == 0 {
		return Credential{}, fieldError(scope, "assertion credentialId", "missing", ErrMalformed)
	}
	owned := ownedCredentials(creds, s.RPID, s.UserHandle)
	var stored *Credential
	for i := range owned {
		if bytes.Equal(owned[i].ID, a.CredentialID) {
			stored = &owned[i]
		}
	}
	if stored == nil || !slices.ContainsFunc(s.AllowedCredentialIDs, func(id []byte) bool { return bytes.Equal(id, a.CredentialID) }) {
		return Credential{}, fmt.Errorf("webauthn: %s: credential %s is not an allowed credential of the user: %w", scope,
			base64.RawURLEncoding.EncodeToString(a.CredentialID[:min(len(a.CredentialID), 64)]), ErrUnknownCredential)
	}
	if len(a.UserHandle) > 0 && !bytes.Equal(a.UserHandle, s.UserHandle) {
		return Credential{}, fieldError(scope, "assertion userHandle", "does not match the session's user", ErrUserMismatch)
	}
	var car protocol.CredentialAssertionResponse
	car.ID = base64.RawURLEncoding.EncodeToString(a.CredentialID)
	car.Type = string(protocol.PublicKeyCredentialType)
	car.RawID = protocol.URLEncodedBase64(a.CredentialID)
	car.AssertionResponse.ClientDataJSON = protocol.URLEncodedBase64(a.ClientDataJSON)
	car.AssertionResponse.AuthenticatorData = protocol.URLEncodedBase64(a.AuthenticatorData)
	car.AssertionResponse.Signature = protocol.URLEncodedBase64(a.Signature)
	car.AssertionResponse.UserHandle = protocol.URLEncodedBase64(a.UserHandle)
	parsed, err := car.Parse()
	if err != nil {
		return Credential{}, fmt.Errorf("webauthn: %s: parse assertion: %w: %w", scope, ErrMalformed, err)
	}
	if err := rp.checkCeremony(scope, protocol.AssertCeremony, parsed.Response.CollectedClientData, s.RPID, s.Challenge); err != nil {
		return Credential{}, err
	}
	if err := checkAuthData(scope, parsed.Response.AuthenticatorData, s.RPID, s.UserVerification); err != nil {
		return Credential{}, err
	}
	if err := rp.checkAAGUID(scope, stored.AAGUID); err != nil {
		return Credential{}, err
	}
	user := &waUser{id: s.UserHandle}
	for _, c := range owned {
		user.creds = append(user.creds, c.goWebAuthn())
	}
	session := gowebauthn.SessionData{
		Challenge:            base64.RawURLEncoding.EncodeToString(s.Challenge),
		RelyingPartyID:       s.RPID,
		UserID:               s.UserHandle,
		AllowedCredentialIDs: s.AllowedCredentialIDs,
		UserVerification:     protocol.UserVerificationRequirement(s.UserVerification),
	}
	wc, err := w.ValidateLogin(user, session, parsed)
	if err != nil {
		return Credential{}, mapProtocolError(scope, err)
	}
	updated := *stored
	updated.ID = bytes.Clone(stored.ID)
	updated.PublicKey = bytes.Clone(stored.PublicKey)
	updated.UserHandle = bytes.Clone(stored.UserHandle)
	updated.Transports = slices.Clone(stored.Transports)
	// WebAuthn L3 §7.2 step 22 (sign counter): go-webauthn flags regression
	// in wc.Authenticator.CloneWarning but keeps the flag sticky, so compare
	// the counters here.
	counter := parsed.Response.AuthenticatorData.Counter
	if counter <= stored.SignCount && (counter != 0 || stored.SignCount != 0) {
		updated.CloneWarning = true
		return updated, fmt.Errorf("webauthn: %s: credential sign counter %d after %d: %w", scope, counter, stored.SignCount, ErrClonedKey)
	}
	updated.SignCount = wc.Authenticator.SignCount
	return updated, nil
}

// goWebAuthn converts a stored credential into go-webauthn's record.
func (c Credential) goWebAuthn() gowebauthn.Credential {
	wc := gowebauthn.Credential{
		ID:                c.ID,
		PublicKey:         c.PublicKey,
		AttestationType:   c.AttestationType,
		AttestationFormat: c.AttestationFormat,
		Flags:             gowebauthn.CredentialFlags{BackupEligible: c.BackupEligible},
		Authenticator: gowebauthn.Authenticator{
			AAGUID:       c.AAGUID[:],
			SignCount:    c.SignCount,
			CloneWarning: c.CloneWarning,
		},
	}
	for _, t := range c.Transports {
		wc.Transport = append(wc.Transport, protocol.AuthenticatorTransport(t))
	}
	return wc
}

// waUser adapts a user handle and credentials to go-webauthn's User.
type waUser struct {
	id          []byte
	name        string
	displayName string
	creds       []gowebauthn.Credential
}

func (u *waUser) WebAuthnID() []byte                           { return u.id }
func (u *waUser) WebAuthnName() string                         { return u.name }
func (u *waUser) WebAuthnDisplayName() string                  { return u.displayName }
func (u *waUser) WebAuthnCredentials() []gowebauthn.Credential { return u.creds }

// mapProtocolError maps a go-webauthn failure onto our sentinels by the
// Type of the *protocol.Error values in its chain (errors.Is on go-webauthn's
// sentinels never matches; docs/simulator.md §Relying party: go-webauthn),
// keeping err wrapped.
func mapProtocolError(scope string, err error) error {
	var unknown *protocol.ErrorUnknownCredential
	if errors.As(err, &unknown) {
		return fmt.Errorf("webauthn: %s: %w: %w", scope, ErrUnknownCredential, err)
	}
	types := map[string]bool{}
	var details []string
	for e := err; e != nil; {
		var pe *protocol.Error
		if !errors.As(e, &pe) {
			break
		}
		types[pe.Type] = true
		for _, d := range []string{pe.Details, pe.DevInfo} {
			if d = strings.TrimSpace(d); d != "" && !slices.ContainsFunc(details, func(have string) bool {
				return strings.HasPrefix(d, strings.TrimSuffix(have, "...")) || strings.HasPrefix(have, d)
			}) {
				details = append(details, truncate(d, 300))
			}
		}
		e = pe.Err
	}
	sentinel := ErrVerification
	switch {
	case types[protocol.ErrMetadata.Type]:
		sentinel = ErrUntrustedAttestation
	case types[protocol.ErrChallengeMismatch.Type]:
		sentinel = ErrChallengeMismatch
	case types[protocol.ErrAttestation.Type], types[protocol.ErrInvalidAttestation.Type],
		types[protocol.ErrAttestationCertificate.Type], types[protocol.ErrAttestationFormat.Type]:
		sentinel = ErrAttestation
	case types[protocol.ErrAssertionSignature.Type]:
		sentinel = ErrBadSignature
	case types[protocol.ErrParsingData.Type]:
		sentinel = ErrMalformed
	}
	msg := fmt.Sprintf("webauthn: %s: %v", scope, sentinel)
	if len(details) > 0 {
		msg += ": " + strings.Join(details, "; ")
	}
	return &protocolError{msg: msg, sentinel: sentinel, err: err}
}

// protocolError carries a go-webauthn failure: its message describes the
// whole *protocol.Error chain, and it unwraps to both our sentinel and the
// original error.
type protocolError struct {
	msg      string
	sentinel error
	err      error
}

func (e *protocolError) Error() string   { return e.msg }
func (e *protocolError) Unwrap() []error { return []error{e.sentinel, e.err} }

// trustProvider is a metadata.Provider that vouches for every allowed
// non-zero AAGUID (every non-zero AAGUID when the allowlist is empty) with
// the configured trust roots, in place of a FIDO MDS3 BLOB. It makes
// go-webauthn verify the x5c chain of an attestation against the roots
// (WebAuthn L3 §7.1 step 21-22). The zero AAGUID has no entry and is
// refused (GetValidateEntryPermitZeroAAGUID is false).
type trustProvider struct {
	roots     []*x509.Certificate
	allowed   map[uuid.UUID]bool
	allowSelf bool
}

var _ metadata.Provider = (*trustProvider)(nil)

func (p *trustProvider) GetEntry(_ context.Context, aaguid uuid.UUID) (*metadata.Entry, error) {
	if aaguid == uuid.Nil || (len(p.allowed) > 0 && !p.allowed[aaguid]) {
		return nil, nil
	}
	types := metadata.AuthenticatorAttestationTypes{metadata.BasicFull, metadata.AttCA, metadata.AnonCA}
	if p.allowSelf {
		types = append(types, metadata.BasicSurrogate)
	}
	return &metadata.Entry{
		AaGUID: aaguid,
		MetadataStatement: metadata.Statement{
			AaGUID:                      aaguid,
			AttestationTypes:            types,
			AttestationRootCertificates: p.roots,
		},
		StatusReports: []metadata.StatusReport{{Status: metadata.FidoCertified}},
	}, nil
}

func (p *trustProvider) GetValidateEntry(context.Context) bool                 { return true }
func (p *trustProvider) GetValidateEntryPermitZeroAAGUID(context.Context) bool { return false }
func (p *trustProvider) GetValidateTrustAnchor(context.Context) bool           { return true }
func (p *trustProvider) GetValidateStatus(context.Context) bool                { return false }
func (p *trustProvider) GetValidateAttestationTypes(context.Context) bool      { return true }
func (p *trustProvider) ValidateStatusReports(context.Context, []metadata.StatusReport) error {
	return nil
}

package webauthn

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

var (
	casOnce       sync.Once
	trustedCA     *testCA
	untrustedCA   *testCA
	testRPID      = "example.okta.com"
	testRPOrigins = []string{"https://example.okta.com", "https://login.example.okta.com"}
)

func cas(t testing.TB) (trusted, untrusted *testCA) {
	casOnce.Do(func() {
		trustedCA = newTestCA(t, "Test FIDO Root")
		untrustedCA = newTestCA(t, "Rogue FIDO Root")
	})
	return trustedCA, untrustedCA
}

// clock is a settable clock for Config.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time // guarded by mu
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newTestRP(t testing.TB, mod func(*Config)) (*RelyingParty, *clock) {
	t.Helper()
	trusted, _ := cas(t)
	clk := &clock{now: testNow}
	cfg := Config{
		RPIDs:              []string{testRPID, "other.example.com"},
		Origins:            append([]string{"https://other.example.com"}, testRPOrigins...),
		DisplayName:        "Example",
		TrustRoots:         []*x509.Certificate{trusted.root},
		AllowedAAGUIDs:     []uuid.UUID{testAAGUID},
		RequireAttestation: true,
		Now:                clk.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	rp, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return rp, clk
}

func TestNewConfig(t *testing.T) {
	t.Parallel()
	trusted, _ := cas(t)
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no RP IDs", Config{}},
		{"bad RP ID", Config{RPIDs: []string{"https://example.com"}}},
		{"duplicate RP ID", Config{RPIDs: []string{"a.example", "a.example"}}},
		{"origin outside RP IDs", Config{RPIDs: []string{"a.example"}, Origins: []string{"https://b.example"}}},
		{"http origin", Config{RPIDs: []string{"a.example"}, Origins: []string{"http://a.example"}}},
		{"origin with path", Config{RPIDs: []string{"a.example"}, Origins: []string{"https://a.example/login"}}},
		{"RP ID without origin", Config{RPIDs: []string{"a.example", "b.example"}, Origins: []string{"https://a.example"}}},
		{"attestation without roots", Config{RPIDs: []string{"a.example"}, RequireAttestation: true}},
		{"nil root", Config{RPIDs: []string{"a.example"}, TrustRoots: []*x509.Certificate{nil}}},
		{"zero AAGUID allowed", Config{RPIDs: []string{"a.example"}, TrustRoots: []*x509.Certificate{trusted.root}, AllowedAAGUIDs: []uuid.UUID{uuid.Nil}}},
		{"bad login UV", Config{RPIDs: []string{"a.example"}, LoginUserVerification: "always"}},
		{"negative timeout", Config{RPIDs: []string{"a.example"}, LoginTimeout: -time.Second}},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%s) = %v, want ErrConfig", tt.name, err)
		}
	}
	if _, err := New(Config{RPIDs: []string{"localhost"}, Origins: []string{"http://localhost:8080"}}); err != nil {
		t.Errorf("New(localhost) = %v, want nil", err)
	}
}

func TestVerifyPreregistered(t *testing.T) {
	t.Parallel()
	trusted, untrusted := cas(t)
	rp, _ := newTestRP(t, nil)
	req := sampleCredentialRequest(t)
	auth := newTestAuthenticator(t, trusted, testAAGUID)

	t.Run("valid", func(t *testing.T) {
		t.Parallel()
		got, err := rp.VerifyPreregistered(t.Context(), req, auth.register(t, req, regParams{}))
		if err != nil {
			t.Fatalf("VerifyPreregistered: %v", err)
		}
		want := Credential{
			ID: auth.credID, PublicKey: auth.coseKey(t), AAGUID: testAAGUID, SignCount: 0,
			RPID: req.RPID, UserHandle: req.UserHandle, AttestationType: "basic_full",
			AttestationFormat: "packed", Transports: []string{"nfc", "usb"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("VerifyPreregistered (-want +got):\n%s", diff)
		}
	})

	type tc struct {
		name string
		rp   *RelyingParty
		req  CredentialRequest
		resp CredentialResponse
		want error
	}
	modReq := func(f func(*CredentialRequest)) CredentialRequest {
		r := sampleCredentialRequest(t)
		f(&r)
		return r
	}
	expiredRP, clk := newTestRP(t, nil)
	clk.Advance(31 * 24 * time.Hour)
	zero := newTestAuthenticator(t, trusted, uuid.Nil)
	other := newTestAuthenticator(t, trusted, otherAAGUID)
	rogue := newTestAuthenticator(t, untrusted, testAAGUID)
	valid := auth.register(t, req, regParams{})
	mismatchedID := auth.register(t, req, regParams{})
	mismatchedID.CredentialID = []byte("another-credential-id")
	badSig := auth.register(t, req, regParams{})
	badSig.AttestationObject = bytes.Clone(badSig.AttestationObject)
	badSig.AttestationObject[len(badSig.AttestationObject)-300] ^= 0x01 // inside the x5c or sig
	wrongUser := auth.register(t, req, regParams{})
	wrongUser.UserID = "00u-someone-else"
	preferred := modReq(func(r *CredentialRequest) { r.UserVerification = "preferred" })
	tests := []tc{
		{"wrong origin", rp, req, auth.register(t, req, regParams{origin: "https://evil.example"}), ErrOriginMismatch},
		{"origin of another RP ID", rp, req, auth.register(t, req, regParams{origin: "https://other.example.com"}), ErrOriginMismatch},
		{"wrong RP ID hash", rp, req, auth.register(t, req, regParams{rpID: "other.example.com"}), ErrRPIDMismatch},
		{"RP ID not configured", rp, modReq(func(r *CredentialRequest) { r.RPID = "unknown.example" }), valid, ErrRPIDMismatch},
		{"wrong challenge", rp, req, auth.register(t, req, regParams{challenge: []byte("another challenge 0123456789")}), ErrChallengeMismatch},
		{"expired request", expiredRP, req, valid, ErrExpired},
		{"untrusted root", rp, req, rogue.register(t, req, regParams{}), ErrUntrustedAttestation},
		{"none attestation", rp, req, auth.register(t, req, regParams{format: "none"}), ErrAttestation},
		{"self attestation", rp, req, auth.register(t, req, regParams{format: "self"}), ErrAttestation},
		{"zero AAGUID", rp, req, zero.register(t, req, regParams{}), ErrAAGUIDNotAllowed},
		{"AAGUID not allowlisted", rp, req, other.register(t, req, regParams{}), ErrAAGUIDNotAllowed},
		{"UV missing when required", rp, req, auth.register(t, req, regParams{noUV: true}), ErrUserVerification},
		{"UP missing", rp, req, auth.register(t, req, regParams{noUP: true}), ErrUserPresence},
		{"wrong user", rp, req, wrongUser, ErrUserMismatch},
		{"credProtect not applied", rp, req, auth.register(t, req, regParams{extensions: map[string]any{"hmac-secret": true}}), ErrVerification},
		{"credential ID differs from attested", rp, req, mismatchedID, ErrVerification},
		{"altered attestation", rp, req, badSig, nil},
		{"garbage attestation object", rp, req, func() CredentialResponse { r := valid; r.AttestationObject = []byte{0xff}; return r }(), ErrMalformed},
		{"garbage client data", rp, req, func() CredentialResponse { r := valid; r.ClientDataJSON = []byte("{"); return r }(), ErrMalformed},
		{"bad request", rp, modReq(func(r *CredentialRequest) { r.Challenge = nil }), valid, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.rp.VerifyPreregistered(t.Context(), tt.req, tt.resp)
			if err == nil {
				t.Fatalf("VerifyPreregistered = %+v, nil; want error", got)
			}
			if testing.Verbose() {
				t.Logf("error: %v", err)
			}
			if !wrapsSentinel(err) {
				t.Errorf("VerifyPreregistered error %v wraps no sentinel", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("VerifyPreregistered = %v, want %v", err, tt.want)
			}
		})
	}

	t.Run("UV missing when preferred", func(t *testing.T) {
		t.Parallel()
		if _, err := rp.VerifyPreregistered(t.Context(), preferred, auth.register(t, preferred, regParams{noUV: true})); err != nil {
			t.Errorf("VerifyPreregistered(UV preferred, no UV) = %v, want nil", err)
		}
	})
	t.Run("go-webauthn error stays in chain", func(t *testing.T) {
		t.Parallel()
		_, err := rp.VerifyPreregistered(t.Context(), req, rogue.register(t, req, regParams{}))
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			t.Errorf("VerifyPreregistered(untrusted) = %v, want a *protocol.Error in the chain", err)
		}
	})
	t.Run("canceled context", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := rp.VerifyPreregistered(ctx, req, valid); !errors.Is(err, context.Canceled) {
			t.Errorf("VerifyPreregistered(canceled) = %v, want context.Canceled", err)
		}
	})
}

func TestVerifyPreregisteredPolicies(t *testing.T) {
	t.Parallel()
	trusted, untrusted := cas(t)
	req := sampleCredentialRequest(t)
	auth := newTestAuthenticator(t, trusted, testAAGUID)
	other := newTestAuthenticator(t, trusted, otherAAGUID)
	zero := newTestAuthenticator(t, trusted, uuid.Nil)
	rogue := newTestAuthenticator(t, untrusted, otherAAGUID)

	lenient, _ := newTestRP(t, func(c *Config) { c.RequireAttestation = false; c.TrustRoots = nil; c.AllowedAAGUIDs = nil })
	anyModel, _ := newTestRP(t, func(c *Config) { c.AllowedAAGUIDs = nil })
	selfOK, _ := newTestRP(t, func(c *Config) { c.RequireAttestation = false })
	tests := []struct {
		name     string
		rp       *RelyingParty
		resp     CredentialResponse
		want     error
		wantType string
	}{
		{"lenient accepts none", lenient, auth.register(t, req, regParams{format: "none"}), nil, "none"},
		{"lenient accepts self", lenient, auth.register(t, req, regParams{format: "self"}), nil, "basic_surrogate"},
		{"lenient accepts unknown root", lenient, rogue.register(t, req, regParams{}), nil, "basic_full"},
		{"lenient still refuses zero AAGUID", lenient, zero.register(t, req, regParams{format: "none"}), ErrAAGUIDNotAllowed, ""},
		{"empty allowlist admits any model", anyModel, other.register(t, req, regParams{}), nil, "basic_full"},
		{"empty allowlist refuses zero AAGUID", anyModel, zero.register(t, req, regParams{}), ErrAAGUIDNotAllowed, ""},
		{"empty allowlist keeps trust", anyModel, rogue.register(t, req, regParams{}), ErrUntrustedAttestation, ""},
		{"attestation optional accepts self", selfOK, auth.register(t, req, regParams{format: "self"}), nil, "basic_surrogate"},
		{"attestation optional keeps trust", selfOK, newTestAuthenticator(t, untrusted, testAAGUID).register(t, req, regParams{}), ErrUntrustedAttestation, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.rp.VerifyPreregistered(t.Context(), req, tt.resp)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("VerifyPreregistered = %v, want %v", err, tt.want)
			}
			if got.AttestationType != tt.wantType {
				t.Errorf("AttestationType = %q, want %q", got.AttestationType, tt.wantType)
			}
		})
	}
}

// registered returns an RP, its clock, an authenticator and its verified
// credential.
func registered(t *testing.T) (*RelyingParty, *clock, *testAuthenticator, Credential) {
	t.Helper()
	trusted, _ := cas(t)
	rp, clk := newTestRP(t, nil)
	req := sampleCredentialRequest(t)
	auth := newTestAuthenticator(t, trusted, testAAGUID)
	cred, err := rp.VerifyPreregistered(t.Context(), req, auth.register(t, req, regParams{}))
	if err != nil {
		t.Fatalf("VerifyPreregistered: %v", err)
	}
	return rp, clk, auth, cred
}

func TestLogin(t *testing.T) {
	t.Parallel()
	rp, _, auth, cred := registered(t)
	opts, s, err := rp.BeginLogin(cred.RPID, cred.UserHandle, []Credential{cred})
	if err != nil {
		t.Fatalf("BeginLogin: %v", err)
	}
	wantOpts := protocol.PublicKeyCredentialRequestOptions{
		Challenge: s.Challenge, Timeout: 300000, RelyingPartyID: testRPID,
		AllowedCredentials: []protocol.CredentialDescriptor{{Type: "public-key", CredentialID: cred.ID,
			Transport: []protocol.AuthenticatorTransport{"nfc", "usb"}}},
		UserVerification: "required",
	}
	if diff := cmp.Diff(wantOpts, opts); diff != "" {
		t.Errorf("BeginLogin options (-want +got):\n%s", diff)
	}
	if len(s.Challenge) != 32 || !s.Expires.Equal(testNow.Add(5*time.Minute)) {
		t.Errorf("BeginLogin session challenge %d bytes, expires %v; want 32 bytes, %v", len(s.Challenge), s.Expires, testNow.Add(5*time.Minute))
	}
	got, err := rp.FinishLogin(t.Context(), s, []Credential{cred}, auth.assert(t, s, assertParams{counter: 7}))
	if err != nil {
		t.Fatalf("FinishLogin: %v", err)
	}
	want := cred
	want.SignCount = 7
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FinishLogin (-want +got):\n%s", diff)
	}

	// Through the browser JSON.
	a, err := ParseAssertionJSON(assertionJSON(auth.assert(t, s, assertParams{counter: 8})))
	if err != nil {
		t.Fatalf("ParseAssertionJSON: %v", err)
	}
	if got, err := rp.FinishLogin(t.Context(), s, []Credential{got}, a); err != nil || got.SignCount != 8 {
		t.Errorf("FinishLogin(parsed JSON) = %d, %v; want 8, nil", got.SignCount, err)
	}
}

func TestLoginDeterministicChallenge(t *testing.T) {
	t.Parallel()
	_, _, _, cred := registered(t)
	seed := bytes.Repeat([]byte{0x42}, 32)
	rp, _ := newTestRP(t, func(c *Config) { c.Rand = bytes.NewReader(seed); c.LoginUserVerification = "preferred" })
	opts, s, err := rp.BeginLogin(cred.RPID, cred.UserHandle, []Credential{cred})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(opts.Challenge, seed) || !bytes.Equal(s.Challenge, seed) || s.UserVerification != "preferred" {
		t.Errorf("BeginLogin challenge %x uv %q, want %x preferred", s.Challenge, s.UserVerification, seed)
	}
	if _, _, err := rp.BeginLogin(cred.RPID, cred.UserHandle, []Credential{cred}); err == nil {
		t.Errorf("BeginLogin with an exhausted Rand = nil error, want error")
	}
}

// TestBeginLoginConcurrentRand runs BeginLogin from several goroutines on
// one RelyingParty whose Rand is not safe for concurrent use (run with
// -race): the RP serializes its reads, and every challenge is distinct.
func TestBeginLoginConcurrentRand(t *testing.T) {
	t.Parallel()
	_, _, _, cred := registered(t)
	seed := make([]byte, 32*8)
	for i := range seed {
		seed[i] = byte(i)
	}
	rp, _ := newTestRP(t, func(c *Config) { c.Rand = bytes.NewReader(seed) })
	challenges := make(chan string, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, s, err := rp.BeginLogin(cred.RPID, cred.UserHandle, []Credential{cred})
			if err != nil {
				t.Errorf("BeginLogin: %v", err)
				return
			}
			challenges <- string(s.Challenge)
		})
	}
	wg.Wait()
	close(challenges)
	seen := map[string]bool{}
	for c := range challenges {
		seen[c] = true
	}
	if len(seen) != 8 {
		t.Errorf("%d distinct challenges from 8 logins, want 8", len(seen))
	}
}

func TestFinishLoginFailures(t *testing.T) {
	t.Parallel()
	trusted, _ := cas(t)
	rp, clk, auth, cred := registered(t)
	stranger := newTestAuthenticator(t, trusted, testAAGUID)
	begin := func() LoginSession {
		_, s, err := rp.BeginLogin(cred.RPID, cred.UserHandle, []Credential{cred})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := begin()
	counted := cred
	counted.SignCount = 5
	otherUser := cred
	otherUser.UserHandle = []byte("someone-else")
	expiredRP, expiredClock := newTestRP(t, nil)
	_, es, err := expiredRP.BeginLogin(cred.RPID, cred.UserHandle, []Credential{cred})
	if err != nil {
		t.Fatal(err)
	}
	expiredClock.Advance(6 * time.Minute)
	_ = clk
	tests := []struct {
		name  string
		rp    *RelyingParty
		s     LoginSession
		creds []Credential
		a     Assertion
		want  error
	}{
		{"counter regression", rp, s, []Credential{counted}, auth.assert(t, s, assertParams{counter: 3}), ErrClonedKey},
		{"counter unchanged", rp, s, []Credential{counted}, auth.assert(t, s, assertParams{counter: 5}), ErrClonedKey},
		{"counter stuck at zero after use", rp, s, []Credential{counted}, auth.assert(t, s, assertParams{counter: 0}), ErrClonedKey},
		{"unknown credential", rp, s, []Credential{cred}, stranger.assert(t, s, assertParams{counter: 1}), ErrUnknownCredential},
		{"credential of another user", rp, s, []Credential{otherUser}, auth.assert(t, s, assertParams{counter: 1}), ErrUnknownCredential},
		{"wrong user handle", rp, s, []Credential{cred}, auth.assert(t, s, assertParams{counter: 1, userHandle: []byte("someone-else")}), ErrUserMismatch},
		{"wrong origin", rp, s, []Credential{cred}, auth.assert(t, s, assertParams{counter: 1, origin: "https://evil.example"}), ErrOriginMismatch},
		{"wrong RP ID", rp, s, []Credential{cred}, auth.assert(t, s, assertParams{counter: 1, rpID: "other.example.com"}), ErrRPIDMismatch},
		{"wrong challenge", rp, s, []Credential{cred}, auth.assert(t, s, assertParams{counter: 1, challenge: []byte("0123456789abcdef0123456789abcdef")}), ErrChallengeMismatch},
		{"UV missing", rp, s, []Credential{cred}, auth.assert(t, s, assertParams{counter: 1, noUV: true}), ErrUserVerification},
		{"bad signature", rp, s, []Credential{cred}, auth.assert(t, s, assertParams{counter: 1, wrongKey: true}), ErrBadSignature},
		{"expired session", expiredRP, es, []Credential{cred}, auth.assert(t, es, assertParams{counter: 1}), ErrExpired},
		{"no credential ID", rp, s, []Credential{cred}, Assertion{}, ErrMalformed},
		{"garbage authenticator data", rp, s, []Credential{cred}, func() Assertion {
			a := auth.assert(t, s, assertParams{counter: 1})
			a.AuthenticatorData = a.AuthenticatorData[:10]
			return a
		}(), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.rp.FinishLogin(t.Context(), tt.s, tt.creds, tt.a)
			if !errors.Is(err, tt.want) {
				t.Fatalf("FinishLogin = %+v, %v; want %v", got, err, tt.want)
			}
			if testing.Verbose() {
				t.Logf("error: %v", err)
			}
			if tt.want == ErrClonedKey && (!got.CloneWarning || got.SignCount != 5) {
				t.Errorf("FinishLogin(regression) credential CloneWarning %v SignCount %d, want true 5", got.CloneWarning, got.SignCount)
			}
		})
	}

	t.Run("begin without credentials", func(t *testing.T) {
		t.Parallel()
		if _, _, err := rp.BeginLogin(cred.RPID, []byte("nobody"), []Credential{cred}); !errors.Is(err, ErrUnknownCredential) {
			t.Errorf("BeginLogin(no credentials) = %v, want ErrUnknownCredential", err)
		}
		if _, _, err := rp.BeginLogin("unknown.example", cred.UserHandle, []Credential{cred}); !errors.Is(err, ErrRPIDMismatch) {
			t.Errorf("BeginLogin(unknown RP ID) = %v, want ErrRPIDMismatch", err)
		}
	})
}

func TestParseJSONBridges(t *testing.T) {
	t.Parallel()
	trusted, _ := cas(t)
	auth := newTestAuthenticator(t, trusted, testAAGUID)
	req := sampleCredentialRequest(t)
	resp := auth.register(t, req, regParams{})
	got, err := NewCredentialResponse(req.UserID, req.EnrollmentID, registrationJSON(resp))
	if err != nil {
		t.Fatalf("NewCredentialResponse: %v", err)
	}
	if diff := cmp.Diff(resp, got); diff != "" {
		t.Errorf("NewCredentialResponse (-want +got):\n%s", diff)
	}
	for _, in := range []string{"", "{}", `{"id":"AA","rawId":"AQ","type":"public-key","response":{}}`, strings.Repeat(" ", maxPlaintextLen+1)} {
		if _, err := NewCredentialResponse("u", "e", []byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("NewCredentialResponse(%.20q) = %v, want ErrMalformed", in, err)
		}
		if _, err := ParseAssertionJSON([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseAssertionJSON(%.20q) = %v, want ErrMalformed", in, err)
		}
	}
	if _, err := NewCredentialResponse("", "e", registrationJSON(resp)); !errors.Is(err, ErrMalformed) {
		t.Errorf("NewCredentialResponse(no user) = %v, want ErrMalformed", err)
	}
}

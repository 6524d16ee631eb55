package simulator_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/internal/simtest"
	"github.com/preenroll/preenroll/simulator"
)

// registered returns a fixture with a PIN and one registered credential.
func registered(t *testing.T, opts ...webauthn.RegistrationOption) *fixture {
	t.Helper()
	f := newFixture(t)
	if err := f.plat.SetPIN(t.Context(), testPIN); err != nil {
		t.Fatalf("SetPIN: %v", err)
	}
	if _, err := f.register(t, testPIN, opts...); err != nil {
		t.Fatalf("register: %v", err)
	}
	return f
}

// protocolErr returns the go-webauthn error type and details of err.
func protocolErr(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Type + ": " + pe.Details
	}
	return ""
}

// wantRefused fails the test unless the ceremony what failed with err:
// with the sentinel want when the key or platform refused (want not nil),
// with a go-webauthn error of type rp when the RP refused (rp not empty).
func wantRefused(t *testing.T, what string, err, want error, rp string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s succeeded", what)
	}
	t.Logf("err = %v (%s)", err, protocolErr(err))
	if want != nil && !errors.Is(err, want) {
		t.Errorf("err = %v, want %v", err, want)
	}
	if want == nil && rp == "" {
		t.Fatal("the test case names neither a sentinel nor an RP error type")
	}
	if rp != "" {
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Type != rp {
			t.Errorf("err = %v (%s), want go-webauthn %q", err, protocolErr(err), rp)
		}
	}
}

func TestLoginFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		prep   func(f *fixture) // before the login
		origin string           // default testOrigin
		pin    string
		opts   []webauthn.LoginOption
		run    func(t *testing.T, f *fixture) error // instead of a login
		want   error                                // sentinel, when the key or platform refuses
		rp     string                               // go-webauthn error type, when the RP refuses
	}{
		{
			// A subdomain may use the parent RP ID, but the RP does not
			// accept that origin.
			name: "wrong origin", origin: "https://login.example.com", pin: testPIN,
			rp: "verification_error",
		},
		{
			name: "RP ID not matching the origin", origin: "https://evil.example", pin: testPIN,
			want: simulator.ErrSecurity,
		},
		{
			name: "credential used for another RP ID",
			run: func(t *testing.T, f *fixture) error {
				assertion, _ := f.beginLogin(t, f.user)
				opts := assertion.Response
				opts.RelyingPartyID = "evil.example"
				_, err := f.plat.GetAssertion(t.Context(), "https://evil.example", opts, testPIN)
				return err
			},
			want: simulator.ErrNoCredentials,
		},
		{
			name: "replayed assertion",
			run: func(t *testing.T, f *fixture) error {
				assertion, session := f.beginLogin(t, f.user)
				resp, err := f.plat.GetAssertion(t.Context(), testOrigin, assertion.Response, testPIN)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.finishLogin(f.user, session, resp); err != nil {
					t.Fatalf("first use: %v", err)
				}
				_, session2 := f.beginLogin(t, f.user)
				_, err = f.finishLogin(f.user, session2, resp)
				return err
			},
			rp: "verification_error",
		},
		{name: "wrong PIN", pin: "0000", want: simulator.ErrPINInvalid},
		{
			name: "PIN required but not given",
			opts: []webauthn.LoginOption{webauthn.WithUserVerification(protocol.VerificationRequired)},
			want: simulator.ErrPINRequired,
		},
		{name: "removed key", prep: func(f *fixture) { f.key.Remove() }, pin: testPIN, want: simulator.ErrNotPresent},
		{name: "denied touch", prep: func(f *fixture) { f.key.SetTouch(simulator.TouchDeny) }, pin: testPIN, want: simulator.ErrOperationDenied},
		{name: "touch timeout", prep: func(f *fixture) { f.key.SetTouch(simulator.TouchTimeout) }, pin: testPIN, want: simulator.ErrUserActionTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := registered(t)
			if tt.prep != nil {
				tt.prep(f)
			}
			var err error
			if tt.run != nil {
				err = tt.run(t, f)
			} else {
				origin := tt.origin
				if origin == "" {
					origin = testOrigin
				}
				_, err = f.login(t, origin, tt.pin, tt.opts...)
			}
			wantRefused(t, "login", err, tt.want, tt.rp)
		})
	}
}

// TestManyCredentials has more credentials than the key takes in one list
// (maxCredentialCountInList 8): the platform probes batches.
func TestManyCredentials(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i := range 10 {
		if _, err := f.register(t, ""); err != nil {
			t.Fatalf("register %d: %v", i, err)
		}
	}
	// A match in the first batch of 8, and one behind 8 unknown IDs.
	var unknown []webauthn.Credential
	for i := range 8 {
		unknown = append(unknown, webauthn.Credential{ID: []byte{byte(i), 1, 2, 3}})
	}
	for _, tc := range []struct {
		creds []webauthn.Credential
		want  []byte
	}{
		{f.user.Creds, f.user.Creds[0].ID},
		{append(unknown, f.user.Creds[9]), f.user.Creds[9].ID},
	} {
		user := &simtest.User{ID: f.user.ID, Creds: tc.creds}
		assertion, session := f.beginLogin(t, user)
		resp, err := f.plat.GetAssertion(t.Context(), testOrigin, assertion.Response, "")
		if err != nil {
			t.Fatalf("GetAssertion with %d allowed credentials: %v", len(tc.creds), err)
		}
		cred, err := f.finishLogin(user, session, resp)
		if err != nil {
			t.Fatalf("ValidateLogin: %v", err)
		}
		if string(cred.ID) != string(tc.want) {
			t.Errorf("signed with %x, want %x", cred.ID, tc.want)
		}
	}
	_, err := f.register(t, "", webauthn.WithExclusions(webauthn.Credentials(f.user.Creds[9:]).CredentialDescriptors()))
	if !errors.Is(err, simulator.ErrCredentialExcluded) {
		t.Fatalf("excluded in second batch: err = %v, want ErrCredentialExcluded", err)
	}
	_, err = f.register(t, "", webauthn.WithExclusions(webauthn.Credentials(f.user.Creds).CredentialDescriptors()))
	if !errors.Is(err, simulator.ErrCredentialExcluded) {
		t.Fatalf("excluded among 10: err = %v, want ErrCredentialExcluded", err)
	}
}

func TestRegistrationFailures(t *testing.T) {
	t.Parallel()
	other, err := simulator.NewCA(simtest.Rand(99), "Other CA", fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	setPIN := func(t *testing.T, f *fixture) {
		if err := f.plat.SetPIN(t.Context(), testPIN); err != nil {
			t.Fatalf("SetPIN: %v", err)
		}
	}
	tests := []struct {
		name    string
		keyOpts []simulator.Option
		prep    func(t *testing.T, f *fixture) // after the key is made
		pin     string
		opts    func(f *fixture) []webauthn.RegistrationOption
		run     func(t *testing.T, f *fixture) error // instead of f.register
		want    error                                // sentinel, when the key or platform refuses
		rp      string                               // go-webauthn error type, when the RP refuses
	}{
		{
			name: "excluded credential",
			prep: func(t *testing.T, f *fixture) {
				setPIN(t, f)
				if _, err := f.register(t, testPIN); err != nil {
					t.Fatalf("register: %v", err)
				}
			},
			pin: testPIN,
			opts: func(f *fixture) []webauthn.RegistrationOption {
				return []webauthn.RegistrationOption{webauthn.WithExclusions(webauthn.Credentials(f.user.Creds).CredentialDescriptors())}
			},
			want: simulator.ErrCredentialExcluded,
		},
		{
			name: "wrong origin",
			run: func(t *testing.T, f *fixture) error {
				creation, session := f.beginRegistration(t, webauthn.WithConveyancePreference(protocol.PreferDirectAttestation))
				resp, err := f.plat.CreateCredential(t.Context(), "https://www.example.com", creation.Response, "")
				if err != nil {
					t.Fatal(err)
				}
				_, err = f.finishRegistration(session, resp)
				return err
			},
			rp: "verification_error",
		},
		{name: "untrusted CA", keyOpts: []simulator.Option{simulator.WithFIDOCA(other)}, rp: "invalid_attestation"},
		{
			name:    "key claiming Yubico's AAGUID",
			keyOpts: []simulator.Option{simulator.WithAAGUID(simulator.YubiKey5NFC.YubicoAAGUID())},
			prep: func(t *testing.T, f *fixture) {
				f.rp = simtest.NewRP(t, testRPID, testOrigin, simulator.DefaultFIDOCA().Root(), simulator.YubiKey5NFC.AAGUID())
			},
			rp: "invalid_attestation",
		},
		{name: "denied touch", keyOpts: []simulator.Option{simulator.WithTouch(simulator.TouchDeny)}, want: simulator.ErrOperationDenied},
		{
			name: "discoverable without PIN on a PIN-protected key",
			prep: setPIN,
			opts: func(*fixture) []webauthn.RegistrationOption {
				return []webauthn.RegistrationOption{webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired)}
			},
			want: simulator.ErrPINRequired,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tt.keyOpts...)
			if tt.prep != nil {
				tt.prep(t, f)
			}
			var err error
			if tt.run != nil {
				err = tt.run(t, f)
			} else {
				var opts []webauthn.RegistrationOption
				if tt.opts != nil {
					opts = tt.opts(f)
				}
				_, err = f.register(t, tt.pin, opts...)
			}
			wantRefused(t, "registration", err, tt.want, tt.rp)
		})
	}
}

// TestPINLockout walks the CTAP PIN retry rules: 3 consecutive wrong PINs
// need a power cycle, 8 wrong PINs block the PIN until reset.
func TestPINLockout(t *testing.T) {
	t.Parallel()
	f := registered(t)
	ctx := t.Context()
	retries := func() (int, bool) {
		t.Helper()
		n, pc, err := f.plat.PINRetries(ctx)
		if err != nil {
			t.Fatalf("PINRetries: %v", err)
		}
		return n, pc
	}
	type step struct {
		pin        string
		powerCycle bool // before the attempt
		want       error
		retries    int
		pcRequired bool
	}
	steps := []step{
		{pin: "bad1", want: simulator.ErrPINInvalid, retries: 7},
		{pin: "bad2", want: simulator.ErrPINInvalid, retries: 6},
		{pin: "bad3", want: simulator.ErrPINAuthBlocked, retries: 5, pcRequired: true},
		{pin: testPIN, want: simulator.ErrPINAuthBlocked, retries: 5, pcRequired: true},
		{pin: testPIN, powerCycle: true, retries: 8},
		{pin: "bad4", want: simulator.ErrPINInvalid, retries: 7},
		{pin: "bad5", want: simulator.ErrPINInvalid, retries: 6},
		{pin: "bad6", want: simulator.ErrPINAuthBlocked, retries: 5, pcRequired: true},
		{pin: "bad7", powerCycle: true, want: simulator.ErrPINInvalid, retries: 4},
		{pin: "bad8", want: simulator.ErrPINInvalid, retries: 3},
		{pin: "bad9", want: simulator.ErrPINAuthBlocked, retries: 2, pcRequired: true},
		{pin: "bad10", powerCycle: true, want: simulator.ErrPINInvalid, retries: 1},
		{pin: "bad11", want: simulator.ErrPINBlocked, retries: 0},
		{pin: testPIN, powerCycle: true, want: simulator.ErrPINBlocked, retries: 0},
	}
	for i, s := range steps {
		if s.powerCycle {
			f.key.PowerCycle()
		}
		_, err := f.login(t, testOrigin, s.pin)
		if s.want == nil && err != nil || s.want != nil && !errors.Is(err, s.want) {
			t.Fatalf("step %d: err = %v, want %v", i, err, s.want)
		}
		n, pc := retries()
		if diff := cmp.Diff([]any{s.retries, s.pcRequired}, []any{n, pc}); diff != "" {
			t.Fatalf("step %d: retries, power cycle required (-want +got):\n%s", i, diff)
		}
	}
	if st := f.key.Snapshot(); st.FIDO.PINRetries != 0 || !st.FIDO.PINSet {
		t.Errorf("snapshot = %+v", st.FIDO)
	}
	// Only a reset (within seconds of power-up, with a touch) recovers.
	f.key.PowerCycle()
	if err := f.plat.Reset(ctx); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	if st := f.key.Snapshot(); st.FIDO.PINSet || st.FIDO.PINRetries != 8 {
		t.Errorf("after reset: %+v", st.FIDO)
	}
	if _, err := f.login(t, testOrigin, ""); !errors.Is(err, simulator.ErrNoCredentials) {
		t.Errorf("login after reset: err = %v, want ErrNoCredentials", err)
	}
}

func TestDiscoverableLogin(t *testing.T) {
	t.Parallel()
	f := registered(t, webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired))
	assertion, session, err := f.rp.BeginDiscoverableLogin()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := f.plat.GetAssertion(t.Context(), testOrigin, assertion.Response, testPIN)
	if err != nil {
		t.Fatalf("GetAssertion: %v", err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(resp)
	if err != nil {
		t.Fatal(err)
	}
	user, cred, err := f.rp.ValidatePasskeyLogin(func(rawID, userHandle []byte) (webauthn.User, error) {
		if string(userHandle) != string(f.user.ID) {
			return nil, errors.New("unknown user handle")
		}
		return f.user, nil
	}, *session, parsed)
	if err != nil {
		t.Fatalf("ValidatePasskeyLogin: %v", err)
	}
	if user != f.user || !cred.Flags.UserVerified {
		t.Errorf("user %v, flags %+v", user, cred.Flags)
	}
	st := f.key.Snapshot()
	want := []simulator.ResidentCredential{{ID: cred.ID, RPID: testRPID, UserHandle: f.user.ID, UserName: "alice@example.com", DisplayName: "Alice"}}
	if diff := cmp.Diff(want, st.FIDO.Credentials); diff != "" {
		t.Errorf("resident credentials (-want +got):\n%s", diff)
	}
}

func TestExtensions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	if err := f.plat.SetPIN(ctx, testPIN); err != nil {
		t.Fatal(err)
	}
	creation, session, err := f.rp.BeginRegistration(f.user,
		webauthn.WithConveyancePreference(protocol.PreferDirectAttestation),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		webauthn.WithExtensions(
			webauthn.WithExtensionCredProps(),
			webauthn.WithExtensionCredentialProtectionPolicy(protocol.CredentialProtectionPolicy("userVerificationRequired"), true),
			webauthn.WithExtensionHMACCreateSecret(),
		),
	)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := f.plat.CreateCredential(ctx, testOrigin, creation.Response, testPIN)
	if err != nil {
		t.Fatalf("CreateCredential: %v", err)
	}
	var out struct {
		ClientExtensionResults map[string]any `json:"clientExtensionResults"`
	}
	if err := json.Unmarshal(resp, &out); err != nil {
		t.Fatal(err)
	}
	wantExt := map[string]any{"credProps": map[string]any{"rk": true}, "hmacCreateSecret": true}
	if diff := cmp.Diff(wantExt, out.ClientExtensionResults); diff != "" {
		t.Errorf("client extension results (-want +got):\n%s", diff)
	}
	cred, err := f.finishRegistration(session, resp)
	if err != nil {
		t.Fatalf("CreateCredential (RP): %v", err)
	}
	f.user.Creds = append(f.user.Creds, *cred)
	if st := f.key.Snapshot(); len(st.FIDO.Credentials) != 1 || st.FIDO.Credentials[0].CredProtect != 3 {
		t.Fatalf("credProtect not stored: %+v", st.FIDO.Credentials)
	}
	// credProtect 3: invisible without UV, usable with it.
	if _, err := f.login(t, testOrigin, "", webauthn.WithUserVerification(protocol.VerificationDiscouraged)); !errors.Is(err, simulator.ErrNoCredentials) {
		t.Errorf("login without UV: err = %v, want ErrNoCredentials", err)
	}
	// hmac-secret: the same salt gives the same output, another salt another.
	salt := make([]byte, 32)
	get := func(salt []byte) []byte {
		t.Helper()
		assertion, _ := f.beginLogin(t, f.user)
		opts := assertion.Response
		opts.Extensions.HMACGetSecret = protocol.HMACGetSecretInputs{Salt1: salt}
		resp, err := f.plat.GetAssertion(ctx, testOrigin, opts, testPIN)
		if err != nil {
			t.Fatalf("GetAssertion: %v", err)
		}
		var out struct {
			Ext struct {
				HMAC struct {
					Output1 protocol.URLEncodedBase64 `json:"output1"`
				} `json:"hmacGetSecret"`
			} `json:"clientExtensionResults"`
		}
		if err := json.Unmarshal(resp, &out); err != nil {
			t.Fatal(err)
		}
		if len(out.Ext.HMAC.Output1) != 32 {
			t.Fatalf("hmacGetSecret output1 is %d bytes", len(out.Ext.HMAC.Output1))
		}
		return out.Ext.HMAC.Output1
	}
	a, b := get(salt), get(salt)
	salt[0] = 1
	c := get(salt)
	if string(a) != string(b) || string(a) == string(c) {
		t.Errorf("hmac-secret outputs: same salt equal %v, other salt differs %v", string(a) == string(b), string(a) != string(c))
	}
}

func TestPINProtocol1AndJSON(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.plat = simulator.NewPlatform(f.key, simulator.WithPINProtocol(1))
	ctx := t.Context()
	if err := f.plat.SetPIN(ctx, "ünïcödé"); err != nil {
		t.Fatalf("SetPIN: %v", err)
	}
	creation, session := f.beginRegistration(t, webauthn.WithConveyancePreference(protocol.PreferDirectAttestation))
	optsJSON, err := json.Marshal(creation)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := f.plat.CreateCredentialJSON(ctx, testOrigin, optsJSON, "ünïcödé")
	if err != nil {
		t.Fatalf("CreateCredentialJSON: %v", err)
	}
	cred, err := f.finishRegistration(session, resp)
	if err != nil {
		t.Fatalf("CreateCredential (RP): %v", err)
	}
	f.user.Creds = append(f.user.Creds, *cred)
	assertion, lsession := f.beginLogin(t, f.user)
	aJSON, err := json.Marshal(assertion.Response) // bare options
	if err != nil {
		t.Fatal(err)
	}
	resp, err = f.plat.GetAssertionJSON(ctx, testOrigin, aJSON, "ünïcödé")
	if err != nil {
		t.Fatalf("GetAssertionJSON: %v", err)
	}
	if _, err := f.finishLogin(f.user, lsession, resp); err != nil {
		t.Fatalf("ValidateLogin: %v", err)
	}
	// A 3-code-point PIN is too short; 64 bytes too long.
	if err := f.plat.ChangePIN(ctx, "ünïcödé", "abc"); !errors.Is(err, simulator.ErrPINPolicyViolation) {
		t.Errorf("ChangePIN to 3 code points: err = %v, want ErrPINPolicyViolation", err)
	}
	long := string(make([]byte, 64))
	if err := f.plat.ChangePIN(ctx, "ünïcödé", long); !errors.Is(err, simulator.ErrPINPolicyViolation) {
		t.Errorf("ChangePIN to 64 bytes: err = %v, want ErrPINPolicyViolation", err)
	}
}

func TestAttestationNoneStripped(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	creation, session := f.beginRegistration(t, webauthn.WithConveyancePreference(protocol.PreferNoAttestation))
	resp, err := f.plat.CreateCredential(t.Context(), testOrigin, creation.Response, "")
	if err != nil {
		t.Fatal(err)
	}
	cred, err := f.finishRegistration(session, resp)
	if err != nil {
		t.Fatalf("CreateCredential (RP): %v", err)
	}
	if cred.AttestationFormat != "none" || string(cred.Authenticator.AAGUID) != string(make([]byte, 16)) {
		t.Errorf("format %q AAGUID %x, want none and zero", cred.AttestationFormat, cred.Authenticator.AAGUID)
	}
	if cred.Flags.UserVerified {
		t.Error("UV set without a PIN")
	}
}

func TestEdDSAAndPRF(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cred, err := f.register(t, "",
		webauthn.WithCredentialParameters([]protocol.CredentialParameter{{Type: protocol.PublicKeyCredentialType, Algorithm: -8}}),
		webauthn.WithExtensions(webauthn.WithExtensionPRFSupport()),
	)
	if err != nil {
		t.Fatalf("register EdDSA: %v", err)
	}
	if cred.Attestation.PublicKeyAlgorithm != -8 {
		t.Errorf("public key algorithm %d, want -8", cred.Attestation.PublicKeyAlgorithm)
	}
	eval := func(first string) []byte {
		t.Helper()
		assertion, session := f.beginLogin(t, f.user, webauthn.WithAssertionExtensions(webauthn.WithExtensionPRF(protocol.PRFValues{First: []byte(first)})))
		resp, err := f.plat.GetAssertion(t.Context(), testOrigin, assertion.Response, "")
		if err != nil {
			t.Fatalf("GetAssertion: %v", err)
		}
		parsed, err := protocol.ParseCredentialRequestResponseBytes(resp)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.rp.ValidateLogin(f.user, *session, parsed); err != nil {
			t.Fatalf("ValidateLogin: %v", err)
		}
		prf := parsed.ClientExtensionResults.PRF
		if prf == nil || prf.Results == nil || len(prf.Results.First) != 32 {
			t.Fatalf("PRF results = %+v", prf)
		}
		return prf.Results.First
	}
	a, b, c := eval("one"), eval("one"), eval("two")
	if string(a) != string(b) || string(a) == string(c) {
		t.Error("PRF is not a function of its input")
	}
}

// TestManyCredentialsAlwaysUV probes batches with the PIN token when the
// key demands UV for everything.
func TestManyCredentialsAlwaysUV(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simulator.WithModel(simulator.YubiKey5NFCFIPS))
	const pin = "12345678"
	if err := f.plat.SetPIN(t.Context(), pin); err != nil {
		t.Fatal(err)
	}
	for i := range 9 {
		if _, err := f.register(t, pin); err != nil {
			t.Fatalf("register %d: %v", i, err)
		}
	}
	// The known credential sits behind 8 unknown IDs: found by a probe of
	// the second batch.
	all := f.user.Creds
	var creds []webauthn.Credential
	for i := range 8 {
		creds = append(creds, webauthn.Credential{ID: []byte{byte(i), 9, 9}})
	}
	f.user.Creds = append(creds, all[8])
	cred, err := f.login(t, testOrigin, pin)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if string(cred.ID) != string(all[8].ID) || !cred.Flags.UserVerified {
		t.Errorf("signed with %x (UV %v), want %x", cred.ID, cred.Flags.UserVerified, all[8].ID)
	}
	exclude := webauthn.Credentials(f.user.Creds).CredentialDescriptors()
	f.user.Creds = all
	_, err = f.register(t, pin, webauthn.WithExclusions(exclude))
	if !errors.Is(err, simulator.ErrCredentialExcluded) {
		t.Fatalf("err = %v, want ErrCredentialExcluded", err)
	}
}

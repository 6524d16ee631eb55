package simulator_test

import (
	"errors"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/preenroll/preenroll/internal/simtest"
	"github.com/preenroll/preenroll/simulator"
)

const (
	testRPID   = "example.com"
	testOrigin = "https://example.com"
	testPIN    = "4831-pin"
)

type fixture struct {
	key  *simulator.Key
	plat *simulator.Platform
	rp   *webauthn.WebAuthn
	user *simtest.User
}

var fixedNow = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func newFixture(t testing.TB, opts ...simulator.Option) *fixture {
	t.Helper()
	k, err := simulator.New(append([]simulator.Option{
		simulator.WithSerial(12345678),
		simulator.WithRand(simtest.Rand(7)),
		simulator.WithClock(func() time.Time { return fixedNow }),
	}, opts...)...)
	if err != nil {
		t.Fatalf("simulator.New: %v", err)
	}
	return &fixture{
		key:  k,
		plat: simulator.NewPlatform(k),
		rp:   simtest.NewRP(t, testRPID, testOrigin, simulator.DefaultFIDOCA().Root(), k.AAGUID()),
		user: &simtest.User{ID: []byte("user-handle-0001")},
	}
}

// beginRegistration starts a registration of f.user at the RP; it fails
// the test on error.
func (f *fixture) beginRegistration(t testing.TB, opts ...webauthn.RegistrationOption) (*protocol.CredentialCreation, *webauthn.SessionData) {
	t.Helper()
	creation, session, err := f.rp.BeginRegistration(f.user, opts...)
	if err != nil {
		t.Fatalf("BeginRegistration: %v", err)
	}
	return creation, session
}

// beginLogin starts a login of user at the RP; it fails the test on
// error.
func (f *fixture) beginLogin(t testing.TB, user webauthn.User, opts ...webauthn.LoginOption) (*protocol.CredentialAssertion, *webauthn.SessionData) {
	t.Helper()
	assertion, session, err := f.rp.BeginLogin(user, opts...)
	if err != nil {
		t.Fatalf("BeginLogin: %v", err)
	}
	return assertion, session
}

// register runs a full registration and stores the credential.
func (f *fixture) register(t testing.TB, pin string, opts ...webauthn.RegistrationOption) (*webauthn.Credential, error) {
	t.Helper()
	opts = append([]webauthn.RegistrationOption{webauthn.WithConveyancePreference(protocol.PreferDirectAttestation)}, opts...)
	creation, session := f.beginRegistration(t, opts...)
	resp, err := f.plat.CreateCredential(t.Context(), testOrigin, creation.Response, pin)
	if err != nil {
		return nil, err
	}
	cred, err := f.finishRegistration(session, resp)
	if err != nil {
		return nil, err
	}
	f.user.Creds = append(f.user.Creds, *cred)
	return cred, nil
}

// finishRegistration is the RP's side of a registration of f.user.
func (f *fixture) finishRegistration(session *webauthn.SessionData, resp []byte) (*webauthn.Credential, error) {
	return simtest.FinishRegistration(f.rp, f.user, session, resp)
}

// finishLogin is the RP's side of a login of user.
func (f *fixture) finishLogin(user webauthn.User, session *webauthn.SessionData, resp []byte) (*webauthn.Credential, error) {
	return simtest.FinishLogin(f.rp, user, session, resp)
}

// login runs a full login and updates the stored credential.
func (f *fixture) login(t testing.TB, origin, pin string, opts ...webauthn.LoginOption) (*webauthn.Credential, error) {
	t.Helper()
	assertion, session := f.beginLogin(t, f.user, opts...)
	resp, err := f.plat.GetAssertion(t.Context(), origin, assertion.Response, pin)
	if err != nil {
		return nil, err
	}
	cred, err := f.finishLogin(f.user, session, resp)
	if err != nil {
		return nil, err
	}
	for i := range f.user.Creds {
		if string(f.user.Creds[i].ID) == string(cred.ID) {
			f.user.Creds[i] = *cred
		}
	}
	return cred, nil
}

func TestRegisterAndLogin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if err := f.plat.SetPIN(t.Context(), testPIN); err != nil {
		t.Fatalf("SetPIN: %v", err)
	}
	cred, err := f.register(t, testPIN)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	if cred.AttestationFormat != "packed" || cred.AttestationType != "basic_full" {
		t.Errorf("attestation = %s/%s, want packed/basic_full", cred.AttestationFormat, cred.AttestationType)
	}
	if got := uuid.UUID(cred.Authenticator.AAGUID); got != f.key.AAGUID() {
		t.Errorf("AAGUID = %v, want %v", got, f.key.AAGUID())
	}
	if !cred.Flags.UserPresent || !cred.Flags.UserVerified {
		t.Errorf("flags = %+v, want UP and UV", cred.Flags)
	}
	got, err := f.login(t, testOrigin, testPIN)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if got.Authenticator.SignCount <= cred.Authenticator.SignCount || got.Authenticator.CloneWarning {
		t.Errorf("sign count %d after %d (clone warning %v)", got.Authenticator.SignCount, cred.Authenticator.SignCount, got.Authenticator.CloneWarning)
	}
}

// TestPreregistrationFlow is what Yubico's factory and the user do:
// SetPIN, CreateCredential, ForcePINChange; later ChangePIN and sign in.
func TestPreregistrationFlow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	if err := f.plat.SetPIN(ctx, testPIN); err != nil {
		t.Fatalf("SetPIN: %v", err)
	}
	if _, err := f.register(t, testPIN, webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired)); err != nil {
		t.Fatalf("register: %v", err)
	}
	if err := f.plat.ForcePINChange(ctx, testPIN); err != nil {
		t.Fatalf("ForcePINChange: %v", err)
	}
	if _, err := f.login(t, testOrigin, testPIN); !errors.Is(err, simulator.ErrPINPolicyViolation) {
		t.Fatalf("login before PIN change: err = %v, want ErrPINPolicyViolation", err)
	}
	if err := f.plat.ChangePIN(ctx, testPIN, testPIN); !errors.Is(err, simulator.ErrPINPolicyViolation) {
		t.Fatalf("ChangePIN to the same PIN: err = %v, want ErrPINPolicyViolation", err)
	}
	if err := f.plat.ChangePIN(ctx, testPIN, "new-pin-2"); err != nil {
		t.Fatalf("ChangePIN: %v", err)
	}
	cred, err := f.login(t, testOrigin, "new-pin-2")
	if err != nil {
		t.Fatalf("login after PIN change: %v", err)
	}
	if !cred.Flags.UserVerified {
		t.Error("login after PIN change is not user verified")
	}
}

// TestRegisterAndLoginKeyAgreementModes runs registration and sign-in,
// verified by go-webauthn, with the cached key agreement (the default)
// and with WithFreshKeyAgreement, across a power cycle in between.
func TestRegisterAndLoginKeyAgreementModes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts []simulator.PlatformOption
	}{
		{"cached", nil},
		{"fresh", []simulator.PlatformOption{simulator.WithFreshKeyAgreement()}},
		{"cached-protocol-1", []simulator.PlatformOption{simulator.WithPINProtocol(1)}},
	} {
		f := newFixture(t)
		f.plat = simulator.NewPlatform(f.key, tc.opts...)
		if err := f.plat.SetPIN(t.Context(), testPIN); err != nil {
			t.Fatalf("%s: SetPIN: %v", tc.name, err)
		}
		for i := range 2 {
			if _, err := f.register(t, testPIN); err != nil {
				t.Fatalf("%s: register %d: %v", tc.name, i, err)
			}
			cred, err := f.login(t, testOrigin, testPIN)
			if err != nil {
				t.Fatalf("%s: login %d: %v", tc.name, i, err)
			}
			if !cred.Flags.UserVerified {
				t.Errorf("%s: login %d without UV", tc.name, i)
			}
			f.key.PowerCycle()
		}
	}
}

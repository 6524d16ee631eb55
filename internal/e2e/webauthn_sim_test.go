package e2e_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/preenroll/preenroll/internal/simtest"
	"github.com/preenroll/preenroll/simulator"
	"github.com/preenroll/preenroll/webauthn"
)

// These tests check that the two halves of the pre-registration story fit:
// a simulated YubiKey, driven by simulator.Platform from the options of a
// webauthn.CredentialRequest, produces credentials and assertions that
// webauthn.RelyingParty accepts (packed attestation chained to the simulated
// FIDO CA), and rejects them for the right reason when they are bound to
// another RP ID.

const (
	rpID   = "example.okta.com"
	origin = "https://" + rpID
	// subRPID is a registrable subdomain of rpID: a browser at subOrigin may
	// use it as RP ID, and the RP below accepts subOrigin as an origin of
	// rpID, so only the RP ID hash tells the two apart.
	subRPID   = "login." + rpID
	subOrigin = "https://" + subRPID
	userID    = "00u1e2etest"
	enrollID  = "pfd1e2etest"
)

var e2eNow = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

type world struct {
	key  *simulator.Key
	plat *simulator.Platform
	rp   *webauthn.RelyingParty
	req  webauthn.CredentialRequest
}

func newWorld(t *testing.T, model simulator.Model, seed uint64) *world {
	t.Helper()
	clock := func() time.Time { return e2eNow }
	k, err := simulator.New(
		simulator.WithModel(model),
		simulator.WithSerial(20_000_000+uint32(seed)),
		simulator.WithRand(simtest.Rand(seed)),
		simulator.WithClock(clock),
	)
	if err != nil {
		t.Fatalf("simulator.New(%v): %v", model, err)
	}
	rp, err := webauthn.New(webauthn.Config{
		RPIDs:              []string{rpID},
		Origins:            []string{origin, subOrigin},
		TrustRoots:         []*x509.Certificate{simulator.DefaultFIDOCA().Root()},
		AllowedAAGUIDs:     []uuid.UUID{k.AAGUID()},
		RequireAttestation: true,
		Now:                clock,
		Rand:               simtest.Rand(seed + 1000),
	})
	if err != nil {
		t.Fatalf("webauthn.New: %v", err)
	}
	okta, err := webauthn.GenerateKey(nil, "okta-response-1", webauthn.UseEncryption)
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	req := webauthn.CredentialRequest{
		Version:          webauthn.MessageVersion,
		UserID:           userID,
		EnrollmentID:     enrollID,
		RPID:             rpID,
		RPName:           "Example",
		UserHandle:       []byte("user-handle-e2e"),
		UserName:         "ada@example.com",
		UserDisplayName:  "Ada",
		Challenge:        bytes.Repeat([]byte{0x5A}, 32),
		Algorithms:       []int{-7},
		UserVerification: "required",
		ExpiresAt:        e2eNow.Add(time.Hour),
		ResponseKey:      okta.Public(),
	}
	return &world{key: k, plat: simulator.NewPlatform(k), rp: rp, req: req}
}

// register runs the factory's side: a credential for w.req made at
// createOrigin with the request's options (RP ID rpIDOverride when set).
func (w *world) register(t *testing.T, pin, createOrigin, rpIDOverride string) webauthn.CredentialResponse {
	t.Helper()
	opts := w.req.CreationOptions()
	if rpIDOverride != "" {
		opts.RelyingParty.ID = rpIDOverride
	}
	out, err := w.plat.CreateCredential(t.Context(), createOrigin, opts, pin)
	if err != nil {
		t.Fatalf("CreateCredential: %v", err)
	}
	resp, err := webauthn.NewCredentialResponse(userID, enrollID, out)
	if err != nil {
		t.Fatalf("NewCredentialResponse: %v", err)
	}
	return resp
}

func TestSimulatorCredentialsVerifyAtTheRelyingParty(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		model simulator.Model
		pin   string
	}{
		{"YubiKey 5 NFC", simulator.YubiKey5NFC, "4831-pin"},
		// FIPS 140-3: alwaysUv and an 8-character minimum PIN.
		{"YubiKey 5 NFC FIPS", simulator.YubiKey5NFCFIPS, "4831-9275"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			w := newWorld(t, tc.model, uint64(tc.model))
			if err := w.plat.SetPIN(ctx, tc.pin); err != nil {
				t.Fatalf("SetPIN: %v", err)
			}
			resp := w.register(t, tc.pin, origin, "")
			cred, err := w.rp.VerifyPreregistered(ctx, w.req, resp)
			if err != nil {
				t.Fatalf("VerifyPreregistered: %v", err)
			}
			if cred.AttestationType != "basic_full" || cred.AttestationFormat != "packed" {
				t.Errorf("attestation = %q/%q, want basic_full/packed", cred.AttestationType, cred.AttestationFormat)
			}
			if cred.AAGUID != w.key.AAGUID() {
				t.Errorf("AAGUID = %v, want the key's %v", cred.AAGUID, w.key.AAGUID())
			}
			if !bytes.Equal(cred.UserHandle, w.req.UserHandle) || cred.RPID != rpID || !bytes.Equal(cred.ID, resp.CredentialID) {
				t.Errorf("credential = {RPID %q, UserHandle %q, ID %x}, want {%q, %q, %x}",
					cred.RPID, cred.UserHandle, cred.ID, rpID, w.req.UserHandle, resp.CredentialID)
			}
			creds := []webauthn.Credential{cred}

			opts, session, err := w.rp.BeginLogin(rpID, cred.UserHandle, creds)
			if err != nil {
				t.Fatalf("BeginLogin: %v", err)
			}
			assertionJSON, err := w.plat.GetAssertion(ctx, origin, opts, tc.pin)
			if err != nil {
				t.Fatalf("GetAssertion: %v", err)
			}
			a, err := webauthn.ParseAssertionJSON(assertionJSON)
			if err != nil {
				t.Fatalf("ParseAssertionJSON: %v", err)
			}
			updated, err := w.rp.FinishLogin(ctx, session, creds, a)
			if err != nil {
				t.Fatalf("FinishLogin: %v", err)
			}
			if updated.SignCount <= cred.SignCount {
				t.Errorf("SignCount after login = %d, want more than %d", updated.SignCount, cred.SignCount)
			}
			if updated.CloneWarning {
				t.Error("CloneWarning set after a good login")
			}

			// Replaying the same assertion: the counter did not move.
			_, err = w.rp.FinishLogin(ctx, session, []webauthn.Credential{updated}, a)
			if !errors.Is(err, webauthn.ErrClonedKey) {
				t.Errorf("FinishLogin(replayed assertion) = %v, want ErrClonedKey", err)
			}

			// A wrong PIN fails at the key, as a real key does.
			if _, err := w.plat.GetAssertion(ctx, origin, opts, "9999-wrong"); !errors.Is(err, simulator.ErrPINInvalid) {
				t.Errorf("GetAssertion(wrong PIN) = %v, want ErrPINInvalid", err)
			}
		})
	}
}

func TestFIPSKeyRefusesShortPIN(t *testing.T) {
	t.Parallel()
	w := newWorld(t, simulator.YubiKey5NFCFIPS, 3)
	if err := w.plat.SetPIN(t.Context(), "123456"); !errors.Is(err, simulator.ErrPINPolicyViolation) {
		t.Fatalf("SetPIN(6 characters) on a FIPS key = %v, want ErrPINPolicyViolation", err)
	}
	// Without a PIN, a FIPS key (alwaysUv) makes no credential at all.
	_, err := w.plat.CreateCredential(t.Context(), origin, w.req.CreationOptions(), "")
	if !errors.Is(err, simulator.ErrPINNotSet) {
		t.Fatalf("CreateCredential without a PIN on a FIPS key = %v, want ErrPINNotSet", err)
	}
}

func TestRPIDMismatch(t *testing.T) {
	t.Parallel()
	const pin = "4831-pin"
	ctx := t.Context()
	w := newWorld(t, simulator.YubiKey5NFC, 4)
	if err := w.plat.SetPIN(ctx, pin); err != nil {
		t.Fatalf("SetPIN: %v", err)
	}

	t.Run("registration bound to a subdomain", func(t *testing.T) {
		// The origin is one the RP accepts, but the credential is scoped to
		// login.example.okta.com, not the requested example.okta.com.
		resp := w.register(t, pin, subOrigin, subRPID)
		if _, err := w.rp.VerifyPreregistered(ctx, w.req, resp); !errors.Is(err, webauthn.ErrRPIDMismatch) {
			t.Errorf("VerifyPreregistered = %v, want ErrRPIDMismatch", err)
		}
	})

	t.Run("request for an RP ID the RP does not serve", func(t *testing.T) {
		req := w.req
		req.RPID = "other.example"
		if _, err := w.rp.VerifyPreregistered(ctx, req, w.register(t, pin, origin, "")); !errors.Is(err, webauthn.ErrRPIDMismatch) {
			t.Errorf("VerifyPreregistered(request RP ID %q) = %v, want ErrRPIDMismatch", req.RPID, err)
		}
		if _, _, err := w.rp.BeginLogin(req.RPID, req.UserHandle, nil); !errors.Is(err, webauthn.ErrRPIDMismatch) {
			t.Errorf("BeginLogin(%q) = %v, want ErrRPIDMismatch", req.RPID, err)
		}
	})

	t.Run("login", func(t *testing.T) {
		cred, err := w.rp.VerifyPreregistered(ctx, w.req, w.register(t, pin, origin, ""))
		if err != nil {
			t.Fatalf("VerifyPreregistered: %v", err)
		}
		opts, session, err := w.rp.BeginLogin(rpID, cred.UserHandle, []webauthn.Credential{cred})
		if err != nil {
			t.Fatalf("BeginLogin: %v", err)
		}
		// A page on the subdomain asking for its own RP ID: the key has no
		// credential for it (the credential ID is bound to the RP ID hash).
		sub := opts
		sub.RelyingPartyID = subRPID
		if _, err := w.plat.GetAssertion(ctx, subOrigin, sub, pin); !errors.Is(err, simulator.ErrNoCredentials) {
			t.Errorf("GetAssertion(RP ID %q) = %v, want ErrNoCredentials", subRPID, err)
		}
		// A page on another site cannot claim the RP ID: the browser refuses.
		if _, err := w.plat.GetAssertion(ctx, "https://evil.example", opts, pin); !errors.Is(err, simulator.ErrSecurity) {
			t.Errorf("GetAssertion(origin evil.example) = %v, want ErrSecurity", err)
		}
		// The session is still good for the right RP ID.
		assertionJSON, err := w.plat.GetAssertion(ctx, origin, opts, pin)
		if err != nil {
			t.Fatalf("GetAssertion: %v", err)
		}
		a, err := webauthn.ParseAssertionJSON(assertionJSON)
		if err != nil {
			t.Fatalf("ParseAssertionJSON: %v", err)
		}
		if _, err := w.rp.FinishLogin(ctx, session, []webauthn.Credential{cred}, a); err != nil {
			t.Errorf("FinishLogin: %v", err)
		}
		// The same assertion presented for a session of another RP ID.
		other := session
		other.RPID = "other.example"
		if _, err := w.rp.FinishLogin(ctx, other, []webauthn.Credential{cred}, a); !errors.Is(err, webauthn.ErrRPIDMismatch) {
			t.Errorf("FinishLogin(session RP ID %q) = %v, want ErrRPIDMismatch", other.RPID, err)
		}
	})
}

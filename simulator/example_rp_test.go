package simulator_test

import (
	"context"
	cryptorand "crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"time"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/go-webauthn/webauthn/metadata/providers/memory"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/preenroll/preenroll/simulator"
)

// exampleUser is the relying party's user (go-webauthn's webauthn.User).
type exampleUser struct {
	id    []byte
	name  string
	creds []webauthn.Credential
}

func (u *exampleUser) WebAuthnID() []byte                         { return u.id }
func (u *exampleUser) WebAuthnName() string                       { return u.name }
func (u *exampleUser) WebAuthnDisplayName() string                { return u.name }
func (u *exampleUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// exampleRP is a relying party of your own on go-webauthn that requires
// user verification and trusts only the simulated YubiKeys' AAGUID under
// the simulator's FIDO CA, through an in-memory metadata provider (the
// place Yubico's metadata and roots take in production).
func exampleRP(aaguid uuid.UUID) *webauthn.WebAuthn {
	mds, err := memory.New(memory.WithMetadata(map[uuid.UUID]*metadata.Entry{
		aaguid: {
			AaGUID: aaguid,
			MetadataStatement: metadata.Statement{
				AaGUID:                      aaguid,
				Description:                 "Simulated YubiKey 5 NFC",
				AttestationTypes:            metadata.AuthenticatorAttestationTypes{metadata.BasicFull},
				AttestationRootCertificates: []*x509.Certificate{simulator.DefaultFIDOCA().Root()},
			},
			StatusReports: []metadata.StatusReport{{Status: metadata.FidoCertifiedL1}},
		},
	}))
	if err != nil {
		log.Fatal(err)
	}
	rp, err := webauthn.New(&webauthn.Config{
		RPID:          "example.com",
		RPDisplayName: "Example",
		RPOrigins:     []string{"https://example.com"},
		MDS:           mds,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			UserVerification: protocol.VerificationRequired,
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	return rp
}

// exampleRegister runs a registration: the RP's options go to the
// platform as the JSON your server would send the browser, and the
// platform's answer comes back as the JSON the browser would post.
func exampleRegister(ctx context.Context, rp *webauthn.WebAuthn, user *exampleUser, p *simulator.Platform, pin string) (*webauthn.Credential, error) {
	creation, session, err := rp.BeginRegistration(user,
		webauthn.WithConveyancePreference(protocol.PreferDirectAttestation))
	if err != nil {
		return nil, err
	}
	options, err := json.Marshal(creation)
	if err != nil {
		return nil, err
	}
	resp, err := p.CreateCredentialJSON(ctx, "https://example.com", options, pin)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(resp)
	if err != nil {
		return nil, err
	}
	return rp.CreateCredential(user, *session, parsed)
}

// exampleLogin runs a login with user verification required.
func exampleLogin(ctx context.Context, rp *webauthn.WebAuthn, user *exampleUser, p *simulator.Platform, pin string) (*webauthn.Credential, error) {
	assertion, session, err := rp.BeginLogin(user, webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, err
	}
	options, err := json.Marshal(assertion)
	if err != nil {
		return nil, err
	}
	resp, err := p.GetAssertionJSON(ctx, "https://example.com", options, pin)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(resp)
	if err != nil {
		return nil, err
	}
	return rp.ValidateLogin(user, *session, parsed)
}

// Test your own relying party with a simulated key: a go-webauthn RP
// that trusts the simulator's FIDO CA registers the key and signs the
// user in with user verification; then the failures it must handle. The
// helpers (exampleRP, exampleRegister, exampleLogin) are in this file.
func Example_relyingParty() {
	ctx := context.Background()
	seed := [32]byte{7} // deterministic keys, and a clone of this one below
	k, err := simulator.New(simulator.WithRand(rand.NewChaCha8(seed)))
	if err != nil {
		log.Fatal(err)
	}
	p := simulator.NewPlatform(k) // the browser, with the key plugged in
	const pin = "4831-pin"
	if err := p.SetPIN(ctx, pin); err != nil { // a fresh key has no FIDO PIN
		log.Fatal(err)
	}
	rp := exampleRP(k.AAGUID())
	alice := &exampleUser{id: []byte("user-1"), name: "alice"}
	cred, err := exampleRegister(ctx, rp, alice, p, pin)
	if err != nil {
		log.Fatal(err)
	}
	alice.creds = append(alice.creds, *cred)
	fmt.Println("registered:", cred.AttestationFormat, cred.AttestationType, "UV", cred.Flags.UserVerified)
	cred, err = exampleLogin(ctx, rp, alice, p, pin)
	if err != nil {
		log.Fatal(err)
	}
	alice.creds[0].Authenticator = cred.Authenticator // keep the sign count
	fmt.Println("signed in: UV", cred.Flags.UserVerified)

	// The user types a wrong PIN: the key refuses before the RP sees anything.
	_, err = exampleLogin(ctx, rp, alice, p, "0000")
	fmt.Println("wrong PIN:", errors.Is(err, simulator.ErrPINInvalid))
	// The user does not confirm with a touch.
	k.SetTouch(simulator.TouchDeny)
	_, err = exampleLogin(ctx, rp, alice, p, pin)
	fmt.Println("touch denied:", errors.Is(err, simulator.ErrOperationDenied))
	k.SetTouch(simulator.TouchApprove)
	// No PIN typed though the RP requires user verification: the browser
	// refuses on its own.
	_, err = exampleLogin(ctx, rp, alice, p, "")
	fmt.Println("no PIN:", errors.Is(err, simulator.ErrConstraint))

	// Keys the RP must not accept: attested by a CA it does not trust, or
	// claiming an AAGUID it has no metadata for (here Yubico's real one).
	otherCA, err := simulator.NewCA(cryptorand.Reader, "Another FIDO CA", time.Now())
	if err != nil {
		log.Fatal(err)
	}
	for _, opt := range []simulator.Option{
		simulator.WithFIDOCA(otherCA),
		simulator.WithAAGUID(simulator.YubiKey5NFC.YubicoAAGUID()),
	} {
		other, err := simulator.New(opt)
		if err != nil {
			log.Fatal(err)
		}
		op := simulator.NewPlatform(other)
		if err := op.SetPIN(ctx, pin); err != nil {
			log.Fatal(err)
		}
		_, err = exampleRegister(ctx, rp, &exampleUser{id: []byte("user-2"), name: "mallory"}, op, pin)
		var rpErr *protocol.Error
		fmt.Println("registration refused by the RP:", errors.As(err, &rpErr))
	}

	// A cloned key: a key made with the same options and a reader that
	// yields the same bytes holds the same secrets, so it signs with the
	// original's credentials (not its discoverable ones: those stay on the
	// key that made them) but counts its own signatures. go-webauthn
	// accepts the assertion and only sets CloneWarning: the RP must check
	// it.
	clone, err := simulator.New(simulator.WithRand(rand.NewChaCha8(seed)))
	if err != nil {
		log.Fatal(err)
	}
	cp := simulator.NewPlatform(clone)
	if err := cp.SetPIN(ctx, pin); err != nil {
		log.Fatal(err)
	}
	cred, err = exampleLogin(ctx, rp, alice, cp, pin)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("clone warning:", cred.Authenticator.CloneWarning)
	// Output:
	// registered: packed basic_full UV true
	// signed in: UV true
	// wrong PIN: true
	// touch denied: true
	// no PIN: true
	// registration refused by the RP: true
	// registration refused by the RP: true
	// clone warning: true
}

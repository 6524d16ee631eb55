// Package simtest holds what the simulator's tests share with the
// cross-package tests that drive a simulated key (internal/e2e,
// internal/interop, internal/benchmarks): a deterministic random stream;
// a go-webauthn relying party, a user to register with it, and the
// relying party's side of both ceremonies; and the fixed P-256 keys of an
// authenticator for benchmarks that redo its cryptography directly.
//
// It does not import the simulator, so the simulator's internal tests can
// use it too.
package simtest

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"io"
	"testing"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/go-webauthn/webauthn/metadata/providers/memory"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"
)

// Rand returns a deterministic byte stream for seed (SHA-256 in counter
// mode over seed and a block counter): the same seed gives the same bytes
// on every run and platform.
func Rand(seed uint64) io.Reader { return &detRand{seed: seed} }

type detRand struct {
	seed, counter uint64
	buf           []byte
}

func (r *detRand) Read(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if len(r.buf) == 0 {
			var in [16]byte
			binary.BigEndian.PutUint64(in[:8], r.seed)
			binary.BigEndian.PutUint64(in[8:], r.counter)
			r.counter++
			h := sha256.Sum256(in[:])
			r.buf = h[:]
		}
		c := copy(p, r.buf)
		p, r.buf = p[c:], r.buf[c:]
	}
	return n, nil
}

// User is a go-webauthn user, alice@example.com ("Alice"), with user
// handle ID and the credentials the relying party stored for her.
type User struct {
	ID    []byte
	Creds []webauthn.Credential
}

// WebAuthnID implements webauthn.User.
func (u *User) WebAuthnID() []byte { return u.ID }

// WebAuthnName implements webauthn.User.
func (u *User) WebAuthnName() string { return "alice@example.com" }

// WebAuthnDisplayName implements webauthn.User.
func (u *User) WebAuthnDisplayName() string { return "Alice" }

// WebAuthnCredentials implements webauthn.User.
func (u *User) WebAuthnCredentials() []webauthn.Credential { return u.Creds }

// NewRP returns a go-webauthn relying party for rpID at origin that
// trusts packed attestations chaining to root for the authenticator model
// aaguid, through an in-memory metadata provider: it checks AAGUID and
// chain as it would against the FIDO Metadata Service.
func NewRP(tb testing.TB, rpID, origin string, root *x509.Certificate, aaguid uuid.UUID) *webauthn.WebAuthn {
	tb.Helper()
	mds, err := memory.New(memory.WithMetadata(map[uuid.UUID]*metadata.Entry{
		aaguid: {
			AaGUID: aaguid,
			MetadataStatement: metadata.Statement{
				AaGUID:                      aaguid,
				Description:                 "Simulated YubiKey 5 Series with NFC",
				AttestationTypes:            metadata.AuthenticatorAttestationTypes{metadata.BasicFull},
				AttestationRootCertificates: []*x509.Certificate{root},
			},
			StatusReports: []metadata.StatusReport{{Status: metadata.FidoCertifiedL1}},
		},
	}))
	if err != nil {
		tb.Fatalf("memory.New: %v", err)
	}
	w, err := webauthn.New(&webauthn.Config{RPID: rpID, RPDisplayName: "Example", RPOrigins: []string{origin}, MDS: mds})
	if err != nil {
		tb.Fatalf("webauthn.New: %v", err)
	}
	return w
}

// P256Keys returns a new P-256 key agreement key and a new P-256 ECDSA
// key from crypto/rand: the fixed keys of an authenticator (its key
// agreement and attestation keys) for benchmarks that redo its
// cryptography with the standard library.
func P256Keys(tb testing.TB) (*ecdh.PrivateKey, *ecdsa.PrivateKey) {
	tb.Helper()
	agree, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	sign, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return agree, sign
}

// FinishRegistration is the relying party's side of a registration: it
// parses the platform's response (PublicKeyCredential JSON) and has rp
// verify it against session for user.
func FinishRegistration(rp *webauthn.WebAuthn, user webauthn.User, session *webauthn.SessionData, resp []byte) (*webauthn.Credential, error) {
	parsed, err := protocol.ParseCredentialCreationResponseBytes(resp)
	if err != nil {
		return nil, err
	}
	return rp.CreateCredential(user, *session, parsed)
}

// FinishLogin is the relying party's side of a login: it parses the
// platform's assertion response and has rp validate it against session
// for user.
func FinishLogin(rp *webauthn.WebAuthn, user webauthn.User, session *webauthn.SessionData, resp []byte) (*webauthn.Credential, error) {
	parsed, err := protocol.ParseCredentialRequestResponseBytes(resp)
	if err != nil {
		return nil, err
	}
	return rp.ValidateLogin(user, *session, parsed)
}

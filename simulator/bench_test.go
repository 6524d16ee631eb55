package simulator_test

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/preenroll/preenroll/simulator"
)

func benchOptions() protocol.PublicKeyCredentialCreationOptions {
	return protocol.PublicKeyCredentialCreationOptions{
		RelyingParty: protocol.RelyingPartyEntity{ID: testRPID, CredentialEntity: protocol.CredentialEntity{Name: "Example"}},
		User:         protocol.UserEntity{ID: []byte("user-1"), DisplayName: "Alice", CredentialEntity: protocol.CredentialEntity{Name: "alice"}},
		Challenge:    make([]byte, 32),
		Parameters:   []protocol.CredentialParameter{{Type: protocol.PublicKeyCredentialType, Algorithm: -7}},
		Attestation:  protocol.PreferDirectAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			UserVerification: protocol.VerificationRequired,
		},
	}
}

func benchPlatform(b *testing.B) *simulator.Platform {
	k, err := simulator.New()
	if err != nil {
		b.Fatal(err)
	}
	p := simulator.NewPlatform(k)
	if err := p.SetPIN(context.Background(), testPIN); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkRegistration is one navigator.credentials.create() through the
// Platform with a PIN: SELECT, getInfo, key agreement, PIN token,
// makeCredential with packed attestation, all over APDUs.
func BenchmarkRegistration(b *testing.B) {
	p := benchPlatform(b)
	opts := benchOptions()
	ctx := context.Background()
	for b.Loop() {
		if _, err := p.CreateCredential(ctx, testOrigin, opts, testPIN); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthentication is one navigator.credentials.get() through the
// Platform with a PIN.
func BenchmarkAuthentication(b *testing.B) {
	p := benchPlatform(b)
	ctx := context.Background()
	resp, err := p.CreateCredential(ctx, testOrigin, benchOptions(), testPIN)
	if err != nil {
		b.Fatal(err)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(resp)
	if err != nil {
		b.Fatal(err)
	}
	opts := protocol.PublicKeyCredentialRequestOptions{
		Challenge:          make([]byte, 32),
		RelyingPartyID:     testRPID,
		AllowedCredentials: []protocol.CredentialDescriptor{{Type: protocol.PublicKeyCredentialType, CredentialID: parsed.RawID}},
		UserVerification:   protocol.VerificationRequired,
	}
	for b.Loop() {
		if _, err := p.GetAssertion(ctx, testOrigin, opts, testPIN); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkECDSAP256Sign is the raw signature each ceremony contains
// (attestation at registration, assertion at authentication).
func BenchmarkECDSAP256Sign(b *testing.B) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.Sum256([]byte("authenticator data and client data hash"))
	for b.Loop() {
		if _, err := ecdsa.SignASN1(rand.Reader, k, h[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPairCrypto is all the public-key crypto one registration plus
// one authentication with a PIN contain, done directly: per ceremony one
// platform ECDH key pair, ECDH on both sides, one P-256 private key
// derivation (new credential, or unwrapping its ID) and one ECDSA
// signature.
func BenchmarkPairCrypto(b *testing.B) {
	auth, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	signer, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	scalar := make([]byte, 32)
	scalar[31] = 7
	h := sha256.Sum256([]byte("authenticator data and client data hash"))
	for b.Loop() {
		for range 2 { // registration, authentication
			plat, err := ecdh.P256().GenerateKey(rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := plat.ECDH(auth.PublicKey()); err != nil {
				b.Fatal(err)
			}
			if _, err := auth.ECDH(plat.PublicKey()); err != nil {
				b.Fatal(err)
			}
			if _, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), scalar); err != nil {
				b.Fatal(err)
			}
			if _, err := ecdsa.SignASN1(rand.Reader, signer, h[:]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

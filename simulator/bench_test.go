package simulator_test

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"runtime"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/preenroll/preenroll/internal/cputime"
	"github.com/preenroll/preenroll/internal/simtest"
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

func benchPlatform(b *testing.B, opts ...simulator.PlatformOption) *simulator.Platform {
	k, err := simulator.New()
	if err != nil {
		b.Fatal(err)
	}
	p := simulator.NewPlatform(k, opts...)
	if err := p.SetPIN(context.Background(), testPIN); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkRegistration is one navigator.credentials.create() through the
// Platform with a PIN: SELECT, getInfo, getKeyAgreement (the platform
// reuses its shared secret: the key's key agreement key does not change
// between iterations), PIN token, makeCredential with packed attestation,
// all over APDUs.
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
	opts := benchLoginOptions(b, p)
	for b.Loop() {
		if _, err := p.GetAssertion(ctx, testOrigin, opts, testPIN); err != nil {
			b.Fatal(err)
		}
	}
}

// benchLoginOptions registers a credential through p and returns request
// options that allow it, with user verification required.
func benchLoginOptions(b *testing.B, p *simulator.Platform) protocol.PublicKeyCredentialRequestOptions {
	b.Helper()
	resp, err := p.CreateCredential(context.Background(), testOrigin, benchOptions(), testPIN)
	if err != nil {
		b.Fatal(err)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(resp)
	if err != nil {
		b.Fatal(err)
	}
	return protocol.PublicKeyCredentialRequestOptions{
		Challenge:          make([]byte, 32),
		RelyingPartyID:     testRPID,
		AllowedCredentials: []protocol.CredentialDescriptor{{Type: protocol.PublicKeyCredentialType, CredentialID: parsed.RawID}},
		UserVerification:   protocol.VerificationRequired,
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

// BenchmarkPairRatio alternates a registration+authentication pair through
// the Platform with the raw crypto of BenchmarkPairCrypto and reports the
// ratio of the CPU time each takes on the benchmark's thread (target: at
// most 3), which stays meaningful on a loaded machine. Background GC work
// on other threads is not counted. The platform makes a new key agreement
// per ceremony (WithFreshKeyAgreement), as the crypto counted does; with
// the default reuse the pair skips ECDH the floor still counts.
func BenchmarkPairRatio(b *testing.B) {
	p := benchPlatform(b, simulator.WithFreshKeyAgreement())
	ctx := context.Background()
	getOpts := benchLoginOptions(b, p)
	c := newPairCrypto(b)
	var pair, crypto time.Duration
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for b.Loop() {
		t0 := cputime.Thread()
		if _, err := p.CreateCredential(ctx, testOrigin, benchOptions(), testPIN); err != nil {
			b.Fatal(err)
		}
		if _, err := p.GetAssertion(ctx, testOrigin, getOpts, testPIN); err != nil {
			b.Fatal(err)
		}
		t1 := cputime.Thread()
		c.run(b)
		pair += t1 - t0
		crypto += cputime.Thread() - t1
	}
	b.ReportMetric(float64(pair)/float64(crypto), "pair/crypto")
	b.ReportMetric(float64(pair.Microseconds())/float64(b.N), "pair-µs/op")
	b.ReportMetric(float64(crypto.Microseconds())/float64(b.N), "crypto-µs/op")
}

// BenchmarkPairCrypto is all the public-key crypto one registration plus
// one authentication with a PIN contain, done directly: per ceremony one
// platform ECDH key pair, ECDH on both sides, one P-256 private key
// derivation (new credential, or unwrapping its ID) and one ECDSA
// signature.
func BenchmarkPairCrypto(b *testing.B) {
	c := newPairCrypto(b)
	for b.Loop() {
		c.run(b)
	}
}

type pairCrypto struct {
	auth   *ecdh.PrivateKey
	signer *ecdsa.PrivateKey
	scalar []byte
	hash   [32]byte
}

func newPairCrypto(b *testing.B) *pairCrypto {
	auth, signer := simtest.P256Keys(b)
	scalar := make([]byte, 32)
	scalar[31] = 7
	return &pairCrypto{auth: auth, signer: signer, scalar: scalar, hash: sha256.Sum256([]byte("authenticator data and client data hash"))}
}

func (c *pairCrypto) run(b *testing.B) {
	for range 2 { // registration, authentication
		plat, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := plat.ECDH(c.auth.PublicKey()); err != nil {
			b.Fatal(err)
		}
		if _, err := c.auth.ECDH(plat.PublicKey()); err != nil {
			b.Fatal(err)
		}
		if _, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), c.scalar); err != nil {
			b.Fatal(err)
		}
		if _, err := ecdsa.SignASN1(rand.Reader, c.signer, c.hash[:]); err != nil {
			b.Fatal(err)
		}
	}
}

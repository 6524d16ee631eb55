package webauthn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
)

// testKeys are generated once per test binary: P-384 generation is cheap but
// not free, and the keys carry no state.
type testKeys struct {
	yubicoTransport *PrivateKey // enc: Okta seals requests to it
	yubicoSign      *PrivateKey // sig: Yubico signs responses
	oktaResponse    *PrivateKey // enc: Yubico seals responses to it
	other           *PrivateKey // enc: an unrelated key
	otherSign       *PrivateKey // sig: an unrelated signer
}

var (
	keysOnce sync.Once
	keysVal  testKeys
)

func mustKey(kid string, use KeyUse) *PrivateKey {
	k, err := GenerateKey(rand.Reader, kid, use)
	if err != nil {
		panic(err)
	}
	return k
}

func keys(t testing.TB) testKeys {
	t.Helper()
	keysOnce.Do(func() {
		keysVal = testKeys{
			yubicoTransport: mustKey("yubico-transport-1", UseEncryption),
			yubicoSign:      mustKey("yubico-sign-1", UseSigning),
			oktaResponse:    mustKey("okta-response-1", UseEncryption),
			other:           mustKey("other-enc", UseEncryption),
			otherSign:       mustKey("other-sig", UseSigning),
		}
	})
	return keysVal
}

var testNow = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func sampleCredentialRequest(t testing.TB) CredentialRequest {
	return CredentialRequest{
		Version:          MessageVersion,
		UserID:           "00u1abcd",
		EnrollmentID:     "pfd1enroll",
		RPID:             "example.okta.com",
		RPName:           "Example Org",
		UserHandle:       []byte("user-handle-0001"),
		UserName:         "ada@example.com",
		UserDisplayName:  "Ada Lovelace",
		Challenge:        []byte("0123456789abcdef0123456789abcdef"),
		Algorithms:       []int{-7, -257},
		ResidentKey:      true,
		UserVerification: "required",
		CredProtect:      2,
		HMACSecret:       true,
		ExpiresAt:        testNow.Add(30 * 24 * time.Hour),
		ResponseKey:      keys(t).oktaResponse.Public(),
	}
}

func sampleCredentialResponse() CredentialResponse {
	return CredentialResponse{
		Version:           MessageVersion,
		UserID:            "00u1abcd",
		EnrollmentID:      "pfd1enroll",
		CredentialID:      []byte{1, 2, 3, 4, 5, 6, 7, 8},
		AttestationObject: []byte{0xa3, 0x63, 'f', 'm', 't'},
		ClientDataJSON:    []byte(`{"type":"webauthn.create"}`),
		Transports:        []string{"nfc", "usb"},
	}
}

const testPIN = "73920418"

func samplePINResponse() PINResponse {
	return PINResponse{Version: MessageVersion, UserID: "00u1abcd", PIN: Secret(testPIN)}
}

// sentinels lists every sentinel error; a clean failure wraps one of them.
var sentinels = []error{
	ErrMalformed, ErrUnsupportedVersion, ErrWrongKey, ErrBadSignature, ErrExpired,
	ErrRPIDMismatch, ErrChallengeMismatch, ErrOriginMismatch, ErrUserMismatch,
	ErrAttestation, ErrUntrustedAttestation, ErrAAGUIDNotAllowed, ErrUserVerification,
	ErrUserPresence, ErrUnknownCredential, ErrClonedKey, ErrVerification,
}

func wrapsSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// checkRefused fails the test unless err, which op returned with got, is an
// error wrapping a sentinel, and want too when want is not nil.
func checkRefused(t *testing.T, op string, got any, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s = %+v, nil; want error", op, got)
	}
	if !wrapsSentinel(err) {
		t.Errorf("%s error %v wraps no sentinel", op, err)
	}
	if want != nil && !errors.Is(err, want) {
		t.Errorf("%s = %v, want %v", op, err, want)
	}
}

func TestRoundTrips(t *testing.T) {
	t.Parallel()
	k := keys(t)
	ring := Keyring{k.other, k.yubicoTransport}
	oktaRing := Keyring{k.oktaResponse}
	signers := JWKS{Keys: []PublicJWK{k.otherSign.Public(), k.yubicoSign.Public()}}

	sealRequest := func(m CredentialRequest) (string, error) { return SealCredentialRequest(k.yubicoTransport.Public(), m) }
	openRequest := func(jwe string) (CredentialRequest, error) { return OpenCredentialRequest(ring, jwe, testNow) }

	t.Run("credential request", func(t *testing.T) {
		t.Parallel()
		want := sampleCredentialRequest(t)
		_, got := sealOpen(t, want, sealRequest, openRequest)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("credential request round trip (-want +got):\n%s", diff)
		}
	})
	t.Run("credential request zero version", func(t *testing.T) {
		t.Parallel()
		in := sampleCredentialRequest(t)
		in.Version = 0
		if _, got := sealOpen(t, in, sealRequest, openRequest); got.Version != MessageVersion {
			t.Errorf("Version = %d, want %d", got.Version, MessageVersion)
		}
	})
	t.Run("pin request", func(t *testing.T) {
		t.Parallel()
		want := PINRequest{Version: MessageVersion, UserID: "00u1abcd", ResponseKey: k.oktaResponse.Public()}
		_, got := sealOpen(t, want,
			func(m PINRequest) (string, error) { return SealPINRequest(k.yubicoTransport.Public(), m) },
			func(jwe string) (PINRequest, error) { return OpenPINRequest(ring, jwe) })
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("pin request round trip (-want +got):\n%s", diff)
		}
	})
	t.Run("credential response", func(t *testing.T) {
		t.Parallel()
		want := sampleCredentialResponse()
		_, got := sealOpen(t, want,
			func(m CredentialResponse) (string, error) {
				return SealCredentialResponse(k.oktaResponse.Public(), k.yubicoSign, m)
			},
			func(jwe string) (CredentialResponse, error) { return OpenCredentialResponse(oktaRing, signers, jwe) })
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("credential response round trip (-want +got):\n%s", diff)
		}
	})
	t.Run("pin response", func(t *testing.T) {
		t.Parallel()
		want := samplePINResponse()
		jwe, got := sealOpen(t, want,
			func(m PINResponse) (string, error) { return SealPINResponse(k.oktaResponse.Public(), k.yubicoSign, m) },
			func(jwe string) (PINResponse, error) { return OpenPINResponse(oktaRing, signers, jwe) })
		if strings.Contains(jwe, testPIN) {
			t.Fatalf("sealed PIN response contains the PIN in clear")
		}
		if string(got.PIN) != testPIN || got.UserID != want.UserID || got.Version != want.Version {
			t.Errorf("OpenPINResponse = {%d %q pin-len %d}, want {%d %q pin-len %d} with the same PIN",
				got.Version, got.UserID, len(got.PIN), want.Version, want.UserID, len(want.PIN))
		}
	})
}

// sealOpen seals in with seal and opens the result with open, failing the
// test on an error of either; it returns the sealed form and what opened.
func sealOpen[M any](t *testing.T, in M, seal func(M) (string, error), open func(string) (M, error)) (string, M) {
	t.Helper()
	jwe, err := seal(in)
	if err != nil {
		t.Fatalf("seal: %v", err)
	}
	got, err := open(jwe)
	if err != nil {
		t.Fatalf("open (%d bytes): %v", len(jwe), err)
	}
	return jwe, got
}

// decodeHeader returns the decoded protected header of a compact object.
func decodeHeader(t *testing.T, compact string) map[string]any {
	t.Helper()
	b64, _, _ := strings.Cut(compact, ".")
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("decode header: %v", err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("unmarshal header: %v", err)
	}
	return h
}

func TestMaximalCredentialResponse(t *testing.T) {
	t.Parallel()
	k := keys(t)
	want := sampleCredentialResponse()
	want.UserID = strings.Repeat("u", maxIDLen)
	want.EnrollmentID = strings.Repeat("e", maxIDLen)
	want.CredentialID = make([]byte, maxCredentialIDLen)
	want.AttestationObject = make([]byte, maxAttestationLen)
	want.ClientDataJSON = make([]byte, maxClientDataLen)
	want.Transports = []string{"usb", "nfc", "ble", "internal", "hybrid", "smart-card", "x", strings.Repeat("t", maxTransportLen)}
	_, got := sealOpen(t, want,
		func(m CredentialResponse) (string, error) {
			return SealCredentialResponse(k.oktaResponse.Public(), k.yubicoSign, m)
		},
		func(jwe string) (CredentialResponse, error) {
			return OpenCredentialResponse(Keyring{k.oktaResponse}, JWKS{Keys: []PublicJWK{k.yubicoSign.Public()}}, jwe)
		})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("maximal round trip (-want +got):\n%s", diff)
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	k := keys(t)
	jwe := mustSealResponse(t, k.oktaResponse.Public(), k.yubicoSign, sampleCredentialResponse())
	h := decodeHeader(t, jwe)
	delete(h, "epk")
	want := map[string]any{"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": "okta-response-1", "cty": "JOSE"}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("JWE protected header (-want +got):\n%s", diff)
	}
	jws, err := openJWE("test", Keyring{k.oktaResponse}, ctyNested, jwe)
	if err != nil {
		t.Fatal(err)
	}
	wantJWS := map[string]any{"alg": "ES384", "kid": "yubico-sign-1", "cty": ctyCredentialResponse}
	if diff := cmp.Diff(wantJWS, decodeHeader(t, string(jws))); diff != "" {
		t.Errorf("JWS protected header (-want +got):\n%s", diff)
	}
}

func TestOpenCredentialRequestExpired(t *testing.T) {
	t.Parallel()
	k := keys(t)
	req := sampleCredentialRequest(t)
	jwe, err := SealCredentialRequest(k.yubicoTransport.Public(), req)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		now  time.Time
		want error
	}{
		{"at expiry", req.ExpiresAt, nil},
		{"after expiry", req.ExpiresAt.Add(time.Second), ErrExpired},
		{"zero now", time.Time{}, ErrMalformed},
	}
	for _, tt := range tests {
		_, err := OpenCredentialRequest(Keyring{k.yubicoTransport}, jwe, tt.now)
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: OpenCredentialRequest(now=%v) = %v, want %v", tt.name, tt.now, err, tt.want)
		}
	}
}

// flipPart decodes part i of a compact serialization, flips one bit in its
// middle byte, and re-encodes it canonically.
func flipPart(t *testing.T, compact string, i int) string {
	t.Helper()
	parts := strings.Split(compact, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatalf("decode part %d: %v", i, err)
	}
	if len(b) == 0 {
		t.Fatalf("part %d is empty", i)
	}
	b[len(b)/2] ^= 0x01
	parts[i] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// setHeader rewrites member name of the protected header of compact.
func setHeader(t *testing.T, compact, name string, value any) string {
	t.Helper()
	parts := strings.Split(compact, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	if value == nil {
		delete(h, name)
	} else {
		h[name] = value
	}
	b, _ := json.Marshal(h)
	parts[0] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

func TestTamperedJWE(t *testing.T) {
	t.Parallel()
	k := keys(t)
	ring := Keyring{k.yubicoTransport, k.other}
	jwe, err := SealCredentialRequest(k.yubicoTransport.Public(), sampleCredentialRequest(t))
	if err != nil {
		t.Fatal(err)
	}
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p256JWE := func() string {
		enc, err := jose.NewEncrypter(jose.A256GCM,
			jose.Recipient{Algorithm: jose.ECDH_ES_A256KW, Key: &p256.PublicKey, KeyID: k.yubicoTransport.KeyID()},
			(&jose.EncrypterOptions{}).WithContentType(ctyCredentialRequest))
		if err != nil {
			t.Fatal(err)
		}
		obj, err := enc.Encrypt([]byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		s, err := obj.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	parts := strings.Split(jwe, ".")
	tests := []struct {
		name string
		in   string
		ring Keyring
		want error
	}{
		{"flip protected header", flipPart(t, jwe, 0), ring, nil},
		{"flip encrypted key", flipPart(t, jwe, 1), ring, ErrWrongKey},
		{"flip iv", flipPart(t, jwe, 2), ring, ErrWrongKey},
		{"flip ciphertext", flipPart(t, jwe, 3), ring, ErrWrongKey},
		{"flip tag", flipPart(t, jwe, 4), ring, ErrWrongKey},
		{"swapped kid", setHeader(t, jwe, "kid", k.other.KeyID()), ring, ErrWrongKey},
		{"unknown kid", setHeader(t, jwe, "kid", "nobody"), ring, ErrWrongKey},
		{"missing kid", setHeader(t, jwe, "kid", nil), ring, ErrMalformed},
		{"alg none", setHeader(t, jwe, "alg", "none"), ring, ErrMalformed},
		{"alg dir", setHeader(t, jwe, "alg", "dir"), ring, ErrMalformed},
		{"enc A128GCM", setHeader(t, jwe, "enc", "A128GCM"), ring, ErrMalformed},
		{"zip header", setHeader(t, jwe, "zip", "DEF"), ring, ErrMalformed},
		{"crit header", setHeader(t, jwe, "crit", []string{"exp"}), ring, ErrMalformed},
		{"wrong cty", setHeader(t, jwe, "cty", ctyPINRequest), ring, ErrMalformed},
		{"epk on P-256", setHeader(t, jwe, "epk", map[string]string{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}), ring, ErrWrongKey},
		{"encrypted to P-256 key", p256JWE, ring, ErrWrongKey},
		{"wrong recipient keyring", jwe, Keyring{k.other}, ErrWrongKey},
		{"same kid different key", jwe, Keyring{mustKey(k.yubicoTransport.KeyID(), UseEncryption)}, ErrWrongKey},
		{"kid names a signing key", jwe, Keyring{mustKey(k.yubicoTransport.KeyID(), UseSigning)}, ErrWrongKey},
		{"empty keyring", jwe, nil, ErrWrongKey},
		{"four parts", strings.Join(parts[:4], "."), ring, ErrMalformed},
		{"six parts", jwe + ".AA", ring, ErrMalformed},
		{"padded base64", parts[0] + "=." + strings.Join(parts[1:], "."), ring, ErrMalformed},
		{"empty", "", ring, ErrMalformed},
		{"oversized", strings.Repeat("A", maxCompactLen+1), ring, ErrMalformed},
		{"oversized with dots", jwe + strings.Repeat("A", maxCompactLen), ring, ErrMalformed},
		{"json serialization", `{"protected":"` + parts[0] + `"}`, ring, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := OpenCredentialRequest(tt.ring, tt.in, testNow)
			checkRefused(t, "OpenCredentialRequest(tampered)", got, err, tt.want)
			if diff := cmp.Diff(CredentialRequest{}, got); diff != "" {
				t.Errorf("OpenCredentialRequest(tampered) returned data (-want +got):\n%s", diff)
			}
		})
	}
}

// rewrapJWS decrypts a sealed response, applies f to the nested JWS and
// seals the result again to the same key, so only the JWS is altered.
func rewrapJWS(t *testing.T, jwe string, f func(string) string) string {
	t.Helper()
	k := keys(t)
	jws, err := openJWE("test", Keyring{k.oktaResponse}, ctyNested, jwe)
	if err != nil {
		t.Fatal(err)
	}
	out, err := sealJWE("test", k.oktaResponse.Public(), ctyNested, []byte(f(string(jws))))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// signJWS signs payload with an arbitrary key and algorithm.
func signJWS(t *testing.T, alg jose.SignatureAlgorithm, key any, kid, cty string, payload []byte) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithContentType(jose.ContentType(cty)))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTamperedJWS(t *testing.T) {
	t.Parallel()
	k := keys(t)
	oktaRing := Keyring{k.oktaResponse}
	signers := JWKS{Keys: []PublicJWK{k.yubicoSign.Public(), k.otherSign.Public()}}
	resp := sampleCredentialResponse()
	jwe := mustSealResponse(t, k.oktaResponse.Public(), k.yubicoSign, resp)
	payload, _ := json.Marshal(resp)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	flip := func(i int) func(string) string {
		return func(s string) string { return flipPart(t, s, i) }
	}
	replace := func(s string) func(string) string { return func(string) string { return s } }
	tests := []struct {
		name    string
		in      string
		signers JWKS
		want    error
	}{
		{"flip jws header", rewrapJWS(t, jwe, flip(0)), signers, nil},
		{"flip jws payload", rewrapJWS(t, jwe, flip(1)), signers, ErrBadSignature},
		{"flip jws signature", rewrapJWS(t, jwe, flip(2)), signers, ErrBadSignature},
		{"swapped signer kid", rewrapJWS(t, jwe, func(s string) string { return setHeader(t, s, "kid", k.otherSign.KeyID()) }), signers, ErrBadSignature},
		{"alg none", rewrapJWS(t, jwe, func(s string) string {
			p := strings.Split(setHeader(t, s, "alg", "none"), ".")
			return p[0] + "." + p[1] + "."
		}), signers, ErrBadSignature},
		{"signed by key not in JWKS", rewrapJWS(t, jwe, replace(signJWS(t, jose.ES384, mustKey("rogue", UseSigning).key, "rogue", ctyCredentialResponse, payload))), signers, ErrBadSignature},
		{"signed by other key with trusted kid", rewrapJWS(t, jwe, replace(signJWS(t, jose.ES384, k.otherSign.key, k.yubicoSign.KeyID(), ctyCredentialResponse, payload))), signers, ErrBadSignature},
		{"ES256 on P-256", rewrapJWS(t, jwe, replace(signJWS(t, jose.ES256, p256, k.yubicoSign.KeyID(), ctyCredentialResponse, payload))), signers, ErrBadSignature},
		{"HS256 with public key bytes", rewrapJWS(t, jwe, replace(signJWS(t, jose.HS256, []byte(k.yubicoSign.Public().X), k.yubicoSign.KeyID(), ctyCredentialResponse, payload))), signers, ErrBadSignature},
		{"pin response type", rewrapJWS(t, jwe, func(s string) string { return setHeader(t, s, "cty", ctyPINResponse) }), signers, ErrMalformed},
		{"not a jws", rewrapJWS(t, jwe, replace(string(payload))), signers, ErrMalformed},
		{"signer JWKS empty", jwe, JWKS{}, ErrBadSignature},
		{"signer listed as enc", jwe, JWKS{Keys: []PublicJWK{func() PublicJWK { p := k.yubicoSign.Public(); p.Use = "enc"; return p }()}}, ErrWrongKey},
		{"sealed to other key", mustSealResponse(t, k.other.Public(), k.yubicoSign, resp), signers, ErrWrongKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := OpenCredentialResponse(oktaRing, tt.signers, tt.in)
			checkRefused(t, "OpenCredentialResponse(tampered)", got, err, tt.want)
		})
	}
}

func mustSealResponse(t *testing.T, to PublicJWK, signer *PrivateKey, resp CredentialResponse) string {
	t.Helper()
	s, err := SealCredentialResponse(to, signer, resp)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStrictPlaintext(t *testing.T) {
	t.Parallel()
	k := keys(t)
	ring := Keyring{k.yubicoTransport}
	valid, _ := json.Marshal(PINRequest{Version: 1, UserID: "00u1", ResponseKey: k.oktaResponse.Public()})
	withMember := func(name string, v any) []byte {
		var m map[string]any
		_ = json.Unmarshal(valid, &m)
		if v == nil {
			delete(m, name)
		} else {
			m[name] = v
		}
		b, _ := json.Marshal(m)
		return b
	}
	tests := []struct {
		name string
		pt   []byte
		want error
	}{
		{"valid", valid, nil},
		{"unknown member", withMember("admin", true), ErrMalformed},
		{"version 2", withMember("version", 2), ErrUnsupportedVersion},
		{"version missing", withMember("version", nil), ErrUnsupportedVersion},
		{"user missing", withMember("userId", nil), ErrMalformed},
		{"user too long", withMember("userId", strings.Repeat("u", maxIDLen+1)), ErrMalformed},
		{"wrong type", withMember("userId", 42), ErrMalformed},
		{"trailing data", append(append([]byte{}, valid...), []byte(` {}`)...), ErrMalformed},
		{"array", []byte(`[]`), ErrMalformed},
		{"response key signing", withMember("responseKey", k.yubicoSign.Public()), ErrWrongKey},
		{"response key bad point", withMember("responseKey", map[string]string{"kty": "EC", "crv": "P-384", "kid": "x", "use": "enc", "x": strings.Repeat("A", 64), "y": strings.Repeat("A", 64)}), ErrMalformed},
		{"oversized", append(withMember("userId", strings.Repeat("u", maxPlaintextLen)), ' '), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			jwe, err := sealJWE("test", k.yubicoTransport.Public(), ctyPINRequest, tt.pt)
			if err != nil {
				t.Fatal(err)
			}
			_, err = OpenPINRequest(ring, jwe)
			if (tt.want == nil) != (err == nil) || !errors.Is(err, tt.want) {
				t.Errorf("OpenPINRequest(%s) = %v, want %v", tt.name, err, tt.want)
			}
		})
	}
}

func TestSealValidation(t *testing.T) {
	t.Parallel()
	k := keys(t)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p256JWK := PublicJWK{Kty: "EC", Crv: "P-256", Kid: "p256", Use: "enc",
		X: base64.RawURLEncoding.EncodeToString(p256.X.FillBytes(make([]byte, 32))),
		Y: base64.RawURLEncoding.EncodeToString(p256.Y.FillBytes(make([]byte, 32)))}
	mod := func(f func(*CredentialRequest)) CredentialRequest {
		r := sampleCredentialRequest(t)
		f(&r)
		return r
	}
	tests := []struct {
		name string
		to   PublicJWK
		req  CredentialRequest
		want error
	}{
		{"P-256 recipient", p256JWK, sampleCredentialRequest(t), ErrWrongKey},
		{"signing key recipient", k.yubicoSign.Public(), sampleCredentialRequest(t), ErrWrongKey},
		{"empty recipient", PublicJWK{}, sampleCredentialRequest(t), ErrMalformed},
		{"version 7", k.yubicoTransport.Public(), mod(func(r *CredentialRequest) { r.Version = 7 }), ErrUnsupportedVersion},
		{"short challenge", k.yubicoTransport.Public(), mod(func(r *CredentialRequest) { r.Challenge = []byte("short") }), ErrMalformed},
		{"no rp id", k.yubicoTransport.Public(), mod(func(r *CredentialRequest) { r.RPID = "" }), ErrMalformed},
		{"no algorithms", k.yubicoTransport.Public(), mod(func(r *CredentialRequest) { r.Algorithms = nil }), ErrMalformed},
		{"bad uv", k.yubicoTransport.Public(), mod(func(r *CredentialRequest) { r.UserVerification = "always" }), ErrMalformed},
		{"cred protect 4", k.yubicoTransport.Public(), mod(func(r *CredentialRequest) { r.CredProtect = 4 }), ErrMalformed},
		{"long user handle", k.yubicoTransport.Public(), mod(func(r *CredentialRequest) { r.UserHandle = make([]byte, 65) }), ErrMalformed},
		{"no expiry", k.yubicoTransport.Public(), mod(func(r *CredentialRequest) { r.ExpiresAt = time.Time{} }), ErrMalformed},
		{"response key P-256", k.yubicoTransport.Public(), mod(func(r *CredentialRequest) { r.ResponseKey = p256JWK }), ErrWrongKey},
	}
	for _, tt := range tests {
		_, err := SealCredentialRequest(tt.to, tt.req)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: SealCredentialRequest = %v, want %v", tt.name, err, tt.want)
		}
	}
	resp := sampleCredentialResponse()
	if _, err := SealCredentialResponse(k.oktaResponse.Public(), k.yubicoTransport, resp); !errors.Is(err, ErrWrongKey) {
		t.Errorf("SealCredentialResponse(signer use enc) = %v, want ErrWrongKey", err)
	}
	if _, err := SealCredentialResponse(k.oktaResponse.Public(), nil, resp); !errors.Is(err, ErrMalformed) {
		t.Errorf("SealCredentialResponse(nil signer) = %v, want ErrMalformed", err)
	}
	resp.AttestationObject = make([]byte, maxAttestationLen+1)
	if _, err := SealCredentialResponse(k.oktaResponse.Public(), k.yubicoSign, resp); !errors.Is(err, ErrMalformed) {
		t.Errorf("SealCredentialResponse(oversized attestation) = %v, want ErrMalformed", err)
	}
}

func TestParseJWKS(t *testing.T) {
	t.Parallel()
	k := keys(t)
	pub := k.yubicoSign.Public()
	jwk := func(mod func(m map[string]any)) map[string]any {
		m := map[string]any{"kty": pub.Kty, "crv": pub.Crv, "kid": pub.Kid, "use": pub.Use, "x": pub.X, "y": pub.Y}
		if mod != nil {
			mod(m)
		}
		return m
	}
	doc := func(keys ...map[string]any) []byte {
		b, _ := json.Marshal(map[string]any{"keys": keys, "extra": "ignored"})
		return b
	}
	t.Run("tolerates extra members", func(t *testing.T) {
		t.Parallel()
		in := doc(jwk(func(m map[string]any) {
			m["alg"] = "ES384"
			m["x5c"] = []string{"MIIB"}
			m["x5t#S256"] = "abc"
		}))
		got, err := ParseJWKS(in)
		if err != nil {
			t.Fatalf("ParseJWKS: %v", err)
		}
		want := pub
		want.Alg = "ES384"
		if diff := cmp.Diff(JWKS{Keys: []PublicJWK{want}}, got); diff != "" {
			t.Errorf("ParseJWKS (-want +got):\n%s", diff)
		}
		if k, ok := got.Key(pub.Kid); !ok || k.X != pub.X {
			t.Errorf("Key(%q) = %v, %v; want the key", pub.Kid, k, ok)
		}
		if _, ok := got.Key("missing"); ok {
			t.Errorf("Key(missing) found a key")
		}
	})
	t.Run("round trip of Keyring.JWKS", func(t *testing.T) {
		t.Parallel()
		set := Keyring{k.yubicoTransport, k.oktaResponse}.JWKS()
		b, err := json.Marshal(set)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseJWKS(b)
		if err != nil {
			t.Fatalf("ParseJWKS: %v", err)
		}
		if diff := cmp.Diff(set, got); diff != "" {
			t.Errorf("ParseJWKS(Keyring.JWKS) (-want +got):\n%s", diff)
		}
	})
	bad := []struct {
		name string
		in   []byte
		want error
	}{
		{"not json", []byte("{"), ErrMalformed},
		{"no keys", []byte(`{}`), ErrMalformed},
		{"trailing", append(doc(jwk(nil)), '{'), ErrMalformed},
		{"trailing ]", append(doc(jwk(nil)), ']'), ErrMalformed},
		{"trailing }", append(doc(jwk(nil)), '}'), ErrMalformed},
		{"rsa", doc(jwk(func(m map[string]any) { m["kty"] = "RSA" })), ErrWrongKey},
		{"P-256", doc(jwk(func(m map[string]any) { m["crv"] = "P-256" })), ErrWrongKey},
		{"no kid", doc(jwk(func(m map[string]any) { delete(m, "kid") })), ErrMalformed},
		{"bad use", doc(jwk(func(m map[string]any) { m["use"] = "wrap" })), ErrMalformed},
		{"short x", doc(jwk(func(m map[string]any) { m["x"] = "AAAA" })), ErrMalformed},
		{"padded x", doc(jwk(func(m map[string]any) { m["x"] = pub.X + "=" })), ErrMalformed},
		{"off curve", doc(jwk(func(m map[string]any) { m["y"] = pub.X })), ErrMalformed},
		{"duplicate kid", doc(jwk(nil), jwk(nil)), ErrMalformed},
		{"too many keys", doc(func() []map[string]any {
			var ks []map[string]any
			for i := range maxJWKSKeys + 1 {
				ks = append(ks, jwk(func(m map[string]any) { m["kid"] = fmt.Sprint(i) }))
			}
			return ks
		}()...), ErrMalformed},
		{"oversized", make([]byte, maxJWKSSize+1), ErrMalformed},
	}
	for _, tt := range bad {
		if _, err := ParseJWKS(tt.in); !errors.Is(err, tt.want) {
			t.Errorf("ParseJWKS(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestGenerateKey(t *testing.T) {
	t.Parallel()
	if _, err := GenerateKey(nil, "", UseSigning); !errors.Is(err, ErrMalformed) {
		t.Errorf("GenerateKey(kid \"\") = %v, want ErrMalformed", err)
	}
	if _, err := GenerateKey(nil, "k", "wrap"); !errors.Is(err, ErrMalformed) {
		t.Errorf("GenerateKey(use wrap) = %v, want ErrMalformed", err)
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := NewPrivateKey(p256, "k", UseSigning); !errors.Is(err, ErrWrongKey) {
		t.Errorf("NewPrivateKey(P-256) = %v, want ErrWrongKey", err)
	}
	k := keys(t).yubicoSign
	if err := k.Public().Validate(); err != nil {
		t.Errorf("Public().Validate() = %v", err)
	}
	d, _ := k.key.Bytes()
	dHex := fmt.Sprintf("%x", d)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{k, struct{ K *PrivateKey }{k}, Keyring{k}} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, dHex[:16]) || strings.Contains(out, new(big.Int).SetBytes(d).String()[:16]) {
				t.Errorf("fmt.Sprintf(%q, key) leaks the private scalar: %s", verb, out)
			}
			if !strings.Contains(out, k.KeyID()) {
				t.Errorf("fmt.Sprintf(%q, key) = %s, want it to name kid %q", verb, out, k.KeyID())
			}
		}
	}
}

func TestJWKSRandom(t *testing.T) {
	t.Parallel()
	k := keys(t)
	set := JWKS{Keys: []PublicJWK{k.yubicoSign.Public(), k.yubicoTransport.Public(), k.other.Public()}}
	// crypto/rand.Int reads one byte per pick among two candidates.
	got, err := set.Random(strings.NewReader(strings.Repeat("\x00", 8)), UseEncryption)
	if err != nil || got.Kid != k.yubicoTransport.KeyID() {
		t.Errorf("Random(zeros, enc) = %q, %v; want %q", got.Kid, err, k.yubicoTransport.KeyID())
	}
	seen := map[string]bool{}
	r := strings.NewReader("\x00\x01")
	for range 2 {
		got, err := set.Random(r, UseEncryption)
		if err != nil {
			t.Fatal(err)
		}
		seen[got.Kid] = true
	}
	if diff := cmp.Diff(map[string]bool{k.yubicoTransport.KeyID(): true, k.other.KeyID(): true}, seen); diff != "" {
		t.Errorf("Random(enc) picked (-want +got):\n%s", diff)
	}
	if _, err := (JWKS{Keys: []PublicJWK{k.yubicoSign.Public()}}).Random(nil, UseEncryption); !errors.Is(err, ErrWrongKey) {
		t.Errorf("Random(no enc key) = %v, want ErrWrongKey", err)
	}
	if _, err := set.Random(strings.NewReader(""), UseEncryption); err == nil {
		t.Errorf("Random(empty reader) = nil error, want error")
	}
}

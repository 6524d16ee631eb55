package okta_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/preenroll/preenroll/internal/testhttp"
	"github.com/preenroll/preenroll/okta"
)

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestParsePrivateKey(t *testing.T) {
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ec224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pemBlock("PRIVATE KEY", der)
	}
	sec1, err := x509.MarshalECPrivateKey(ec384)
	if err != nil {
		t.Fatal(err)
	}
	ecParams := pemBlock("EC PARAMETERS", []byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22})
	tests := []struct {
		name    string
		data    []byte
		wantAlg string
		wantKID string
		wantErr string
	}{
		{name: "PKCS #8 EC", data: pkcs8(ec256), wantAlg: "ES256"},
		{name: "PKCS #8 RSA", data: pkcs8(rsa2048), wantAlg: "RS256"},
		{name: "PKCS #1 RSA", data: pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa2048)), wantAlg: "RS256"},
		{name: "SEC 1 EC after EC PARAMETERS (openssl ecparam -genkey)", data: append(ecParams, pemBlock("EC PRIVATE KEY", sec1)...), wantAlg: "ES384"},
		{name: "JWK with kid", data: testhttp.MustJSON(t, jose.JSONWebKey{Key: ec256, KeyID: "okta-generated"}), wantAlg: "ES256", wantKID: "okta-generated"},
		{name: "RSA JWK with alg RS512", data: testhttp.MustJSON(t, jose.JSONWebKey{Key: rsa2048, KeyID: "r", Algorithm: "RS512"}), wantAlg: "RS512", wantKID: "r"},
		{name: "EC JWK with a mismatched alg", data: testhttp.MustJSON(t, jose.JSONWebKey{Key: ec256, Algorithm: "ES384"}), wantErr: `JWK alg "ES384" does not suit a P-256 key`},
		{name: "RSA JWK with PS256", data: testhttp.MustJSON(t, jose.JSONWebKey{Key: rsa2048, Algorithm: "PS256"}), wantErr: "not RS256, RS384 or RS512"},
		{name: "public JWK", data: testhttp.MustJSON(t, jose.JSONWebKey{Key: &ec256.PublicKey}), wantErr: "holds a public key"},
		{name: "JWK set", data: testhttp.MustJSON(t, map[string]any{"keys": []jose.JSONWebKey{{Key: ec256}}}), wantErr: "a JWK set"},
		{name: "broken JWK", data: []byte(`{"kty":"EC","crv":"P-256","d":"secretbits"}`), wantErr: "not a valid JWK"},
		{name: "short RSA", data: pkcs8(rsa1024), wantErr: "RSA key of 1024 bits is shorter than 2048"},
		{name: "P-224", data: pkcs8(ec224), wantErr: "EC curve P-224"},
		{name: "Ed25519", data: pkcs8(ed), wantErr: "not accepted by Okta"},
		{name: "encrypted PEM", data: pemBlock("ENCRYPTED PRIVATE KEY", []byte{1, 2, 3}), wantErr: "is encrypted"},
		{name: "certificate", data: pemBlock("CERTIFICATE", []byte{1, 2, 3}), wantErr: `PEM block "CERTIFICATE" is not a private key`},
		{name: "corrupt DER", data: pemBlock("PRIVATE KEY", []byte("secretbits")), wantErr: `PEM block "PRIVATE KEY" does not hold a valid key`},
		{name: "garbage", data: []byte("secretbits"), wantErr: "neither a PEM private key nor a JWK"},
		{name: "empty", data: nil, wantErr: "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := okta.ParsePrivateKey(tt.data)
			if tt.wantErr != "" {
				if !errors.Is(err, okta.ErrInvalidArgument) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want ErrInvalidArgument containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secretbits") {
					t.Errorf("error quotes the input: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.Algorithm() != tt.wantAlg || k.KeyID() != tt.wantKID {
				t.Errorf("alg %s kid %q, want %s %q", k.Algorithm(), k.KeyID(), tt.wantAlg, tt.wantKID)
			}
			jwk := k.PublicJWK()
			if !jwk.IsPublic() || jwk.Algorithm != tt.wantAlg || jwk.Use != "sig" {
				t.Errorf("PublicJWK = %+v", jwk)
			}
			if tp := k.Thumbprint(); len(tp) != 43 {
				t.Errorf("Thumbprint %q is not 32 bytes base64url", tp)
			}
		})
	}
}

// hsmSigner stands for a key the process cannot read (HSM, KMS, PIV).
type hsmSigner struct{ k *ecdsa.PrivateKey }

func (h hsmSigner) Public() crypto.PublicKey { return &h.k.PublicKey }
func (h hsmSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return h.k.Sign(r, digest, opts)
}

func TestOAuthWithOpaqueSigner(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, err := okta.NewPrivateKey(hsmSigner{ec}, "hsm-1")
	if err != nil {
		t.Fatal(err)
	}
	dpopEC, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	dpopKey, err := okta.NewPrivateKey(hsmSigner{dpopEC}, "")
	if err != nil {
		t.Fatal(err)
	}
	st := newOAuthSetup(t, oktatestApp(okta.ScopeUsersRead, true), okta.OAuthConfig{PrivateKey: key, DPoP: true, DPoPKey: dpopKey})
	u := st.addUser(t)
	if _, err := st.c.GetUser(t.Context(), u.ID); err != nil {
		t.Fatalf("GetUser with keys behind crypto.Signer: %v", err)
	}
	if _, err := okta.NewPrivateKey(nil, ""); !errors.Is(err, okta.ErrInvalidArgument) {
		t.Errorf("NewPrivateKey(nil) = %v", err)
	}
	if _, err := okta.NewPrivateKey(ec, "bad\nkid"); !errors.Is(err, okta.ErrInvalidArgument) {
		t.Errorf("NewPrivateKey with a control character in the kid = %v", err)
	}
}

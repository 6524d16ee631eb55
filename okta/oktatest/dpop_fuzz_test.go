package oktatest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// FuzzParseDPoPProof feeds arbitrary DPoP header values to the proof
// parser: it must never panic, and whatever it accepts must carry a key
// thumbprint and every required claim.
func FuzzParseDPoPProof(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		f.Fatal(err)
	}
	for _, claims := range []map[string]any{
		{"jti": "a", "htm": "GET", "htu": "http://127.0.0.1/api/v1/users", "iat": 1767225600, "ath": "x"},
		{"jti": "b", "htm": "POST", "htu": "http://127.0.0.1/oauth2/v1/token", "iat": 1767225600.5, "nonce": "n"},
		{"jti": "", "htm": "GET"},
	} {
		payload, _ := json.Marshal(claims)
		jws, err := sig.Sign(payload)
		if err != nil {
			f.Fatal(err)
		}
		s, _ := jws.CompactSerialize()
		f.Add(s)
		f.Add(s[:len(s)/2])
		f.Add(strings.Replace(s, ".", "..", 1))
	}
	f.Add("")
	f.Add("e30.e30.")
	f.Fuzz(func(t *testing.T, proof string) {
		p, err := parseDPoPProof(proof)
		if err != nil {
			if p != nil {
				t.Fatal("a proof returned with an error")
			}
			return
		}
		c := p.claims
		if p.jkt == "" || c.JTI == "" || c.HTM == "" || c.HTU == "" || c.IAT == nil {
			t.Fatalf("accepted an incomplete proof: %+v", p)
		}
	})
}

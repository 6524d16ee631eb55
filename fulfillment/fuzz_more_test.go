package fulfillment

import (
	"encoding/base64"
	"strings"
	"testing"
)

// FuzzPairResponses feeds arbitrary credential responses (Yubico's
// fido_credential_responses, read before anything is decrypted) and
// enrollment key IDs to pairResponses: never a panic; a pairing it returns
// covers every enrollment exactly once, each with one of the responses
// given.
func FuzzPairResponses(f *testing.F) {
	hdr := func(kid string) string {
		return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ECDH-ES+A256KW","enc":"A256GCM","kid":"`+kid+`"}`)) + ".a.b.c.d"
	}
	f.Add("ka,kb", hdr("kb")+"|"+hdr("ka"))
	f.Add("ka,ka", hdr("ka")+"|"+hdr("ka"))
	f.Add(",", "x|y")
	f.Add("ka", hdr("ka")+"|"+hdr("ka"))
	f.Add("ka,kb", "eyJraWQiOjF9.a.b.c.d|"+hdr("kb"))
	f.Add("k", strings.Repeat("A", 5000)+".a.b.c.d")
	f.Fuzz(func(t *testing.T, kids, responses string) {
		var es []Enrollment
		for i, kid := range strings.Split(kids, ",") {
			es = append(es, Enrollment{ID: "fwf" + string(rune('A'+i%26)) + strings.Repeat("x", i/26), KeyID: kid})
		}
		rs := strings.Split(responses, "|")
		out, _, _, err := pairResponses(es, rs)
		if err != nil {
			return
		}
		if len(out) != len(es) {
			t.Fatalf("%d pairs for %d enrollments", len(out), len(es))
		}
		given := map[string]bool{}
		for _, r := range rs {
			given[r] = true
		}
		for i, p := range out {
			if p.AuthenticatorEnrollmentID != es[i].ID {
				t.Fatalf("pair %d is for %q, want %q", i, p.AuthenticatorEnrollmentID, es[i].ID)
			}
			if !given[p.CredResponseJWE] || p.CredResponseJWE == "" {
				t.Fatalf("pair %d carries a response that was not given", i)
			}
		}
	})
}

package webauthn

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	resp := samplePINResponse()
	values := map[string]any{
		"Secret":       resp.PIN,
		"*Secret":      &resp.PIN,
		"PINResponse":  resp,
		"*PINResponse": &resp,
		"[]Secret":     []Secret{resp.PIN},
		"map":          map[string]Secret{"pin": resp.PIN},
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, testPIN) || strings.Contains(out, fmt.Sprintf("%x", testPIN)) ||
				strings.Contains(out, fmt.Sprintf("%X", testPIN)) || strings.Contains(out, fmt.Sprint([]byte(testPIN))[1:12]) {
				t.Errorf("fmt.Sprintf(%q, %s) = %s: leaks the PIN", verb, name, out)
			}
		}
	}
	if got := fmt.Sprint(resp.PIN); got != "[REDACTED]" {
		t.Errorf("fmt.Sprint(Secret) = %q, want [REDACTED]", got)
	}
	b, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), testPIN) || !strings.Contains(string(b), "[REDACTED]") {
		t.Errorf("json.Marshal(PINResponse) = %s, want the PIN redacted", b)
	}
	if !resp.PIN.Equal(Secret(testPIN)) || resp.PIN.Equal(Secret("00000000")) {
		t.Errorf("Secret.Equal gives wrong answers")
	}
	s := Secret(testPIN)
	s.Zero()
	if string(s) != strings.Repeat("\x00", len(testPIN)) {
		t.Errorf("Zero left %q", string(s))
	}
}

func TestPINNeverInErrors(t *testing.T) {
	t.Parallel()
	k := keys(t)
	const longPIN = "98765432109876543210987654321098765432109876543210987654321098765"
	if _, err := SealPINResponse(k.oktaResponse.Public(), k.yubicoSign,
		PINResponse{UserID: "u", PIN: Secret(longPIN)}); err == nil || strings.Contains(err.Error(), "9876543") {
		t.Errorf("SealPINResponse(long PIN) = %v, want an error without the PIN", err)
	}
	if _, err := SealPINResponse(PublicJWK{}, k.yubicoSign, samplePINResponse()); err == nil || strings.Contains(err.Error(), testPIN) {
		t.Errorf("SealPINResponse(bad key) = %v, want an error without the PIN", err)
	}
	// Plaintexts that carry the PIN but fail strict decoding.
	plaintexts := []string{
		`{"version":1,"userId":"u","pin":` + testPIN + `}`,                      // number, not base64
		`{"version":1,"userId":"u","pin":"` + testPIN + `!"}`,                   // bad base64
		`{"version":1,"userId":"u","pin":"NzM5MjA0MTg=","x":"` + testPIN + `"}`, // unknown member
		`{"version":2,"userId":"u","pin":"NzM5MjA0MTg="}`,                       // version
		`{"version":1,"userId":"","pin":"NzM5MjA0MTg="}`,                        // missing user
		`{"version":1,"userId":"u","pin":"NzM5"}`,                               // short PIN "739"
		`{"version":1,"userId":"u","pin":"NzM5MjA0MTg="}` + testPIN,             // trailing
	}
	for _, pt := range plaintexts {
		jws := signJWS(t, "ES384", k.yubicoSign.key, k.yubicoSign.KeyID(), ctyPINResponse, []byte(pt))
		jwe, err := sealJWE("test", k.oktaResponse.Public(), ctyNested, []byte(jws))
		if err != nil {
			t.Fatal(err)
		}
		got, err := OpenPINResponse(Keyring{k.oktaResponse}, JWKS{Keys: []PublicJWK{k.yubicoSign.Public()}}, jwe)
		if err == nil {
			t.Errorf("OpenPINResponse(%s) = %v, nil; want error", pt, got)
			continue
		}
		if strings.Contains(err.Error(), testPIN) || strings.Contains(err.Error(), "NzM5") || strings.Contains(err.Error(), "739") {
			t.Errorf("OpenPINResponse error %q contains the PIN", err)
		}
		if len(got.PIN) != 0 {
			t.Errorf("OpenPINResponse returned a PIN with its error")
		}
	}
}

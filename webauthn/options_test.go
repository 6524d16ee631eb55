package webauthn

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCreationOptionsJSON(t *testing.T) {
	t.Parallel()
	req := sampleCredentialRequest(t)
	b, err := json.Marshal(req.CreationOptions())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"rp":        map[string]any{"id": "example.okta.com", "name": "Example Org"},
		"user":      map[string]any{"id": "dXNlci1oYW5kbGUtMDAwMQ", "name": "ada@example.com", "displayName": "Ada Lovelace"},
		"challenge": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY",
		"pubKeyCredParams": []any{
			map[string]any{"type": "public-key", "alg": float64(-7)},
			map[string]any{"type": "public-key", "alg": float64(-257)},
		},
		"authenticatorSelection": map[string]any{
			"authenticatorAttachment": "cross-platform",
			"requireResidentKey":      true,
			"residentKey":             "required",
			"userVerification":        "required",
		},
		"attestation": "direct",
		"extensions": map[string]any{
			"credentialProtectionPolicy":        "userVerificationOptionalWithCredentialIDList",
			"enforceCredentialProtectionPolicy": true,
			"hmacCreateSecret":                  true,
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CreationOptions JSON (-want +got):\n%s", diff)
	}

	req.ResidentKey, req.CredProtect, req.HMACSecret = false, 0, false
	opts := req.CreationOptions()
	if opts.AuthenticatorSelection.ResidentKey != "discouraged" || *opts.AuthenticatorSelection.RequireResidentKey {
		t.Errorf("CreationOptions(ResidentKey false).AuthenticatorSelection = %+v, want discouraged", opts.AuthenticatorSelection)
	}
	if !opts.Extensions.IsZero() && len(opts.Extensions.Requested()) != 0 {
		t.Errorf("CreationOptions(no extensions).Extensions requested %v, want none", opts.Extensions.Requested())
	}
}

package oktatest

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/webauthn"
)

// An enroll the fake cannot complete (its key generation or sealing failed:
// not reachable from the wire) carries Okta's generic cause and the fake's
// explanation, as a refused activate does.
func TestEnrollFailureExplainsItself(t *testing.T) {
	t.Parallel()
	s := NewServer(t)
	x := &exchange{w: httptest.NewRecorder(), r: httptest.NewRequest(http.MethodPost, "/webauthn-registration/api/v1/enroll", nil)}
	s.preregFailed(x, enrollFailedSummary, "generate requests: %v", errors.New("boom"))
	var got struct {
		ErrorCode    string
		ErrorSummary string
		ErrorCauses  []cause
	}
	if err := json.Unmarshal(x.out, &got); err != nil {
		t.Fatalf("response %s: %v", x.out, err)
	}
	want := []cause{{"There was an unexpected internal error. Please try again."}, {"oktatest: generate requests: boom"}}
	if x.status != http.StatusBadRequest || got.ErrorCode != "E0000001" || got.ErrorSummary != enrollFailedSummary {
		t.Errorf("status %d, body %s", x.status, x.out)
	}
	if diff := cmp.Diff(want, got.ErrorCauses); diff != "" {
		t.Errorf("errorCauses (-want +got):\n%s", diff)
	}
	if x.entry.Detail != "generate requests: boom" {
		t.Errorf("log detail = %q", x.entry.Detail)
	}
}

// A response key kept in compact form rebuilds to the key it was made
// from: same public half, and it opens what was sealed to that half.
func TestResponseKeyRebuilds(t *testing.T) {
	t.Parallel()
	s := NewServer(t)
	rk, key, err := s.newResponseKey()
	if err != nil {
		t.Fatal(err)
	}
	got, err := rk.private()
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(key.Public(), got.Public()); d != "" || got.KeyID() != key.KeyID() {
		t.Errorf("rebuilt key %v differs from %v (-want +got):\n%s", got, key, d)
	}
	signer, err := webauthn.GenerateKey(nil, "sig-1", webauthn.UseSigning)
	if err != nil {
		t.Fatal(err)
	}
	jwe, err := webauthn.SealPINResponse(key.Public(), signer, webauthn.PINResponse{Version: 1, UserID: "u1", PIN: webauthn.Secret("123456")})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := webauthn.OpenPINResponse(webauthn.Keyring{got}, webauthn.JWKS{Keys: []webauthn.PublicJWK{signer.Public()}}, jwe)
	if err != nil || resp.UserID != "u1" || string(resp.PIN) != "123456" {
		t.Errorf("OpenPINResponse with the rebuilt key = %q, %v", resp.UserID, err)
	}
}

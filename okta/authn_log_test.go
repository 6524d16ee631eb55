package okta_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/internal/testhttp"
	"github.com/preenroll/preenroll/okta"
)

func TestSecretsDoNotLog(t *testing.T) {
	t.Parallel()
	const tok = "00stateTokenXyZ0123456789"
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		slog.New(h).Info("authn", "tx", okta.AuthnTransaction{Status: okta.AuthnMFARequired, StateToken: tok, SessionToken: tok},
			"req", okta.AuthnRequest{Username: "u@example.com", Password: tok}, "token", okta.Secret(tok))
	}
	out := buf.String()
	if strings.Contains(out, tok) {
		t.Errorf("a token was logged: %s", out)
	}
	if !strings.Contains(out, "MFA_REQUIRED") || !strings.Contains(out, "u@example.com") || !strings.Contains(out, "[REDACTED]") {
		t.Errorf("the log lost the non-secret fields: %s", out)
	}
}

// TestSecretEncodings: a Secret, and an AuthnRequest holding one, encode
// to JSON and text redacted (an empty one as empty); Authenticate still
// sends the password to Okta.
func TestSecretEncodings(t *testing.T) {
	t.Parallel()
	const pw = "correct-horse-battery-staple"
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"secret", okta.Secret(pw), `"[REDACTED]"`},
		{"empty secret", okta.Secret(""), `""`},
		{"request", okta.AuthnRequest{Username: "u@example.com", Password: pw}, `{"username":"u@example.com","password":"[REDACTED]"}`},
		{"request without password", okta.AuthnRequest{Username: "u@example.com"}, `{"username":"u@example.com"}`},
		{"map", map[string]okta.Secret{"token": pw}, `{"token":"[REDACTED]"}`},
	} {
		got, err := json.Marshal(tc.v)
		if err != nil {
			t.Fatalf("%s: json.Marshal: %v", tc.name, err)
		}
		if diff := cmp.Diff(tc.want, string(got)); diff != "" {
			t.Errorf("%s: JSON (-want +got):\n%s", tc.name, diff)
		}
	}
	if text, err := okta.Secret(pw).MarshalText(); err != nil || string(text) != "[REDACTED]" {
		t.Errorf("MarshalText = %q, %v; want [REDACTED]", text, err)
	}

	c, mt, _ := newTestClient(t)
	var sent map[string]string
	mt.RegisterResponder("POST", org+"/api/v1/authn", func(r *http.Request) (*http.Response, error) {
		if err := json.NewDecoder(r.Body).Decode(&sent); err != nil {
			return nil, err
		}
		return testhttp.JSONResponse(401, `{"errorCode":"E0000004","errorSummary":"Authentication failed"}`), nil
	})
	if _, err := c.Authenticate(t.Context(), okta.AuthnRequest{Username: "u@example.com", Password: pw}); !errors.Is(err, okta.ErrUnauthorized) {
		t.Fatalf("Authenticate = %v, want ErrUnauthorized", err)
	}
	if diff := cmp.Diff(map[string]string{"username": "u@example.com", "password": pw}, sent); diff != "" {
		t.Errorf("Authenticate's body (-want +got):\n%s", diff)
	}
}

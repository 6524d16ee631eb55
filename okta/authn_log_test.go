package okta_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

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

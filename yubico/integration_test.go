//go:build integration

package yubico_test

import (
	"os"
	"testing"

	"github.com/preenroll/preenroll/yubico"
)

// TestContractAgainstYubico runs the read-only contract against the real
// YubiEnterprise API: go test -tags integration ./yubico with
// YUBICO_API_TOKEN set (and optionally YUBICO_API_URL, YUBICO_JWKS_URL). It
// never creates a shipment: Yubico has no sandbox.
func TestContractAgainstYubico(t *testing.T) {
	token := os.Getenv("YUBICO_API_TOKEN")
	if token == "" {
		t.Skip("YUBICO_API_TOKEN is not set")
	}
	base := os.Getenv("YUBICO_API_URL")
	if base == "" {
		base = yubico.DefaultBaseURL
	}
	jwks := os.Getenv("YUBICO_JWKS_URL")
	if jwks == "" {
		jwks = "https://console.yubico.com"
	}
	c, err := yubico.NewClient(base, token, yubico.WithJWKSBaseURL(jwks))
	if err != nil {
		t.Fatal(err)
	}
	runReadOnlyContract(t, c)
}

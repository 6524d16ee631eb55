package yubico_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/preenroll/preenroll/webauthn"
	"github.com/preenroll/preenroll/yubico"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// runReadOnlyContract checks the behaviour the client relies on with calls
// that change nothing (no shipment is ever created: there is no sandbox).
// It runs against the fake always, and against the real service with the
// integration build tag.
func runReadOnlyContract(t *testing.T, c *yubico.Client) {
	t.Helper()
	ctx := t.Context()
	products, err := c.Products(ctx)
	if err != nil {
		t.Fatalf("Products: %v", err)
	}
	if !slices.ContainsFunc(products, func(p yubico.Product) bool { return p.ID == 1 }) {
		t.Errorf("Products() has no product 1 (YubiKey 5 NFC)")
	}
	if _, err := c.Inventory(ctx); err != nil {
		t.Errorf("Inventory: %v", err)
	}
	countries, err := c.Countries(ctx)
	if err != nil || len(countries) == 0 {
		t.Errorf("Countries() = %d countries, %v", len(countries), err)
	}
	for _, fetch := range []func() ([]webauthn.PublicJWK, error){
		func() ([]webauthn.PublicJWK, error) { return c.TransportKeys(ctx) },
		func() ([]webauthn.PublicJWK, error) { return c.SigningKeys(ctx) },
	} {
		if keys, err := fetch(); err != nil || len(keys) == 0 {
			t.Errorf("JWKS = %d keys, %v", len(keys), err)
		}
	}
	if _, err := c.Shipment(ctx, "NoSuchShipmentXXXXXXXX"); !errors.Is(err, yubico.ErrNotFound) {
		t.Errorf("Shipment(unknown) error = %v, want ErrNotFound", err)
	}
	page, err := c.ListShipments(ctx, yubico.ListOptions{Limit: 1})
	if err != nil || page.Count > 1 {
		t.Errorf("ListShipments(limit 1) = %d records, %v", page.Count, err)
	}
}

func TestContractAgainstFake(t *testing.T) {
	t.Parallel()
	srv := yubicotest.NewServer(t)
	runReadOnlyContract(t, srv.Client())
}

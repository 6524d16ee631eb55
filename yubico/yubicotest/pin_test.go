package yubicotest_test

import (
	"testing"
	"time"

	"github.com/preenroll/preenroll/webauthn"
	"github.com/preenroll/preenroll/yubico"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

func TestTrivialPIN(t *testing.T) {
	t.Parallel()
	for pin, want := range map[string]bool{
		"11111111": true, "12345678": true, "87654321": true, "90123456": true, "123456": true,
		"159753": true, "520520": true, "58203741": false, "11111112": false, "13579246": false,
	} {
		if got := yubicotest.TrivialPIN(pin); got != want {
			t.Errorf("trivialPIN(%q) = %v, want %v", pin, got, want)
		}
	}
}

// shipOneKey orders one FIDO Pre-reg key for o, runs the clock past the
// batch and shipping, and returns the shipment ID, its product data and the
// opened PIN response.
func shipOneKey(t *testing.T, srv *yubicotest.Server, o *okta) (string, yubico.ProductData, webauthn.PINResponse) {
	t.Helper()
	c := srv.Client()
	s, err := c.CreateFPRShipment(t.Context(), fprRequest(o))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.SetNow(srv.NextBatch().Add(24 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := c.FPRShipment(t.Context(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	pd, ok := got.ProductData()
	if !ok {
		t.Fatalf("shipment %s in state %d has no product data", s.ID, got.State.ID)
	}
	pin, err := webauthn.OpenPINResponse(webauthn.Keyring{o.key}, srv.SigningJWKS(), pd.PINResponse)
	if err != nil {
		t.Fatal(err)
	}
	return s.ID, pd, pin
}

// Two fakes with the same seed program the same serials and PINs: runs are
// repeatable.
func TestDeterministicWithSeed(t *testing.T) {
	t.Parallel()
	run := func() (string, string, string) {
		srv := newServer(t)
		id, pd, pin := shipOneKey(t, srv, newOkta(t, srv.Client(), srv.Now(), "example.okta.com"))
		return id, pd.SerialNumber, string(pin.PIN)
	}
	id1, serial1, pin1 := run()
	id2, serial2, pin2 := run()
	if id1 != id2 || serial1 != serial2 || pin1 != pin2 {
		t.Errorf("two seeded runs differ: IDs %q/%q serials %q/%q, PINs equal: %v", id1, id2, serial1, serial2, pin1 == pin2)
	}
}

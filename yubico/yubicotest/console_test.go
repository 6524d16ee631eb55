package yubicotest_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/internal/testhttp"
	"github.com/preenroll/preenroll/webauthn"
	"github.com/preenroll/preenroll/yubico"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// TestJWKSOnTheConsoleHost: the public JWKS are served where Yubico
// publishes them, on the console host, and not on the API host.
func TestJWKSOnTheConsoleHost(t *testing.T) {
	t.Parallel()
	// Start, not NewServer: the request to the API host is meant to miss.
	srv, err := yubicotest.Start(yubicotest.WithRand(seeded(5)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	apiRoot := strings.TrimSuffix(srv.URL(), "/v1")
	if srv.ConsoleURL() == apiRoot {
		t.Fatalf("ConsoleURL %s is the API host", srv.ConsoleURL())
	}
	get := func(url string) (int, []byte) {
		t.Helper()
		resp, b := testhttp.Get(t, url)
		return resp.StatusCode, b
	}
	for path, want := range map[string]webauthn.JWKS{
		yubico.TransportKeysPath: srv.TransportJWKS(),
		yubico.SigningKeysPath:   srv.SigningJWKS(),
	} {
		status, body := get(srv.ConsoleURL() + path)
		if status != http.StatusOK {
			t.Fatalf("GET console %s: status %d: %s", path, status, body)
		}
		var got webauthn.JWKS
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("console %s (-want +got):\n%s", path, diff)
		}
		if status, _ := get(apiRoot + path); status != http.StatusNotFound {
			t.Errorf("GET API host %s: status %d, want 404", path, status)
		}
	}
	if status, _ := get(srv.ConsoleURL() + "/v1/inventory"); status != http.StatusNotFound {
		t.Errorf("GET console /v1/inventory: status %d, want 404 (the API is on the API host)", status)
	}
	// The server's client fetches them from the console host.
	keys, err := srv.Client().TransportKeys(t.Context())
	if err != nil || len(keys) != len(srv.TransportJWKS().Keys) {
		t.Errorf("Client().TransportKeys = %d keys, %v", len(keys), err)
	}
}

// TestRealTimeMode: with WithRealTime the fake's clock is the wall clock's,
// and Advance still moves it forward on top, running the transitions due.
func TestRealTimeMode(t *testing.T) {
	t.Parallel()
	before := time.Now()
	srv := newServer(t, yubicotest.WithRealTime())
	now := srv.Now()
	if now.Before(before) || now.After(time.Now()) {
		t.Errorf("Now = %v, want the wall clock's time (after %v)", now, before)
	}
	c := srv.Client()
	s, err := c.CreateShipment(t.Context(), exactRequest())
	if err != nil {
		t.Fatal(err)
	}
	advance(t, srv, time.Hour) // address validation runs on the way
	if err := srv.SetNow(before); !errors.Is(err, yubicotest.ErrClockBackwards) {
		t.Errorf("SetNow(the past) = %v, want ErrClockBackwards", err)
	}
	if err := srv.SetNow(srv.NextBatch().Add(72 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := mustShipment(t, c, s.ID); got.State != yubico.StateDelivered {
		t.Errorf("shipment after batch + 72 h in real-time mode: state %d, want 104", got.State)
	}
	if now := srv.Now(); now.Before(before.Add(72 * time.Hour)) {
		t.Errorf("Now = %v, want at least 72 h after %v", now, before)
	}
}

// TestControlMethodsRefuseBadInput: the controls refuse what they cannot
// honour instead of ignoring it.
func TestControlMethodsRefuseBadInput(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	for name, err := range map[string]error{
		"FailNext(0, 500)":           srv.FailNext(0, 500),
		"FailNext(1, 302)":           srv.FailNext(1, 302),
		"DropNext(-1)":               srv.DropNext(-1),
		"SetLatency(-1s)":            srv.SetLatency(-time.Second),
		"InjectHTTPFault(empty)":     srv.InjectHTTPFault(yubicotest.HTTPFaultRule{Method: "GET"}),
		"InjectShipmentFaultNext(0)": srv.InjectShipmentFaultNext(0),
		"InjectShipmentFault(99)":    srv.InjectShipmentFault("x", 99),
	} {
		if err == nil {
			t.Errorf("%s = nil, want an error", name)
		}
	}
}

package simulator

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCTAPErrorText: a code with a sentinel says what it means (what to
// do next, for the PIN blocks), and still matches its sentinel.
func TestCTAPErrorText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code     byte
		want     string
		sentinel error // nil: none
	}{
		{ctapPINInvalid, "authenticator returned CTAP2_ERR_PIN_INVALID (0x31): wrong PIN", ErrPINInvalid},
		{ctapPINAuthBlocked, "authenticator returned CTAP2_ERR_PIN_AUTH_BLOCKED (0x34): PIN blocked until the key is power cycled", ErrPINAuthBlocked},
		{ctapPINBlocked, "authenticator returned CTAP2_ERR_PIN_BLOCKED (0x32): PIN blocked, only a reset helps", ErrPINBlocked},
		{ctapOperationDenied, "authenticator returned CTAP2_ERR_OPERATION_DENIED (0x27): operation denied by the user", ErrOperationDenied},
		{ctapInvalidCBOR, "authenticator returned CTAP2_ERR_INVALID_CBOR (0x12)", nil},
		{0xF3, "authenticator returned CTAP error (0xF3)", nil},
	}
	for _, tt := range tests {
		err := &CTAPError{Code: tt.code}
		if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
			t.Errorf("code %#02x: Error() (-want +got):\n%s", tt.code, diff)
		}
		if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
			t.Errorf("code %#02x: errors.Is(%v) = false", tt.code, tt.sentinel)
		}
	}
}

// TestCheckOrigin: the origins and RP IDs a browser accepts, and a
// refusal that says what would be accepted.
func TestCheckOrigin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		origin, rpID       string
		wantOrigin, wantID string
		wantErr            string // "" for none; every error wraps ErrSecurity
	}{
		{origin: "https://example.com", rpID: "example.com", wantOrigin: "https://example.com", wantID: "example.com"},
		{origin: "https://Login.Example.com:8443", rpID: "example.com", wantOrigin: "https://login.example.com:8443", wantID: "example.com"},
		{origin: "http://localhost:8080", rpID: "", wantOrigin: "http://localhost:8080", wantID: "localhost"},
		{origin: "http://app.localhost", rpID: "localhost", wantOrigin: "http://app.localhost", wantID: "localhost"},
		{origin: "http://127.0.0.1:8080", rpID: "127.0.0.1",
			wantErr: `origin "http://127.0.0.1:8080" is not secure (WebAuthn needs https, or http on localhost): simulator: security error`},
		{origin: "http://example.com", rpID: "example.com",
			wantErr: `origin "http://example.com" is not secure (WebAuthn needs https, or http on localhost): simulator: security error`},
		{origin: "https://example.com", rpID: "other.com",
			wantErr: `RP ID "other.com" is not a registrable suffix of origin "https://example.com": simulator: security error`},
		{origin: "https://notexample.com", rpID: "example.com",
			wantErr: `RP ID "example.com" is not a registrable suffix of origin "https://notexample.com": simulator: security error`},
		{origin: "https://127.0.0.1:8443", rpID: "127.0.0.1",
			wantErr: `origin "https://127.0.0.1:8443" is an IP address, not a domain name (WebAuthn needs one: a name in /etc/hosts, or localhost): simulator: security error`},
		{origin: "https://[::1]", rpID: "",
			wantErr: `origin "https://[::1]" is an IP address, not a domain name (WebAuthn needs one: a name in /etc/hosts, or localhost): simulator: security error`},
		{origin: "https://example.com", rpID: "com",
			wantErr: `RP ID "com" is a public suffix, which no origin may claim (origin "https://example.com"): simulator: security error`},
		{origin: "https://shop.example.co.uk", rpID: "co.uk",
			wantErr: `RP ID "co.uk" is a public suffix, which no origin may claim (origin "https://shop.example.co.uk"): simulator: security error`},
		{origin: "https://me.github.io", rpID: "github.io", // a private registry of the list, as Chromium counts it
			wantErr: `RP ID "github.io" is a public suffix, which no origin may claim (origin "https://me.github.io"): simulator: security error`},
		{origin: "https://login.awesomecompany", rpID: "awesomecompany", // a TLD the list does not know
			wantErr: `RP ID "awesomecompany" is a public suffix, which no origin may claim (origin "https://login.awesomecompany"): simulator: security error`},
		{origin: "https://shop.example.co.uk", rpID: "example.co.uk", wantOrigin: "https://shop.example.co.uk", wantID: "example.co.uk"},
		{origin: "https://com", rpID: "", wantOrigin: "https://com", wantID: "com"}, // equal to the host: the spec allows it
		{origin: "https://example.com/path", rpID: "example.com",
			wantErr: `origin "https://example.com/path" is not a web origin: simulator: security error`},
	}
	for _, tt := range tests {
		gotOrigin, gotID, err := checkOrigin(tt.origin, tt.rpID)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr || !errors.Is(err, ErrSecurity) {
				t.Errorf("checkOrigin(%q, %q) = %v, want %s (wrapping ErrSecurity)", tt.origin, tt.rpID, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("checkOrigin(%q, %q): %v", tt.origin, tt.rpID, err)
			continue
		}
		if diff := cmp.Diff([2]string{tt.wantOrigin, tt.wantID}, [2]string{gotOrigin, gotID}); diff != "" {
			t.Errorf("checkOrigin(%q, %q) (-want +got):\n%s", tt.origin, tt.rpID, diff)
		}
	}
}

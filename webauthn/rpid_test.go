package webauthn

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/google/go-cmp/cmp"
)

func TestRPIDProblem(t *testing.T) {
	t.Parallel()
	const (
		bare   = "must be a bare host name (no scheme, port or path)"
		ip     = "an IP address, not a domain name (WebAuthn refuses IP addresses as RP IDs)"
		label  = "not a valid host name (labels of 1 to 63 letters, digits and '-', not first or last)"
		number = "its last label is a number: not a domain name"
		single = "a single label: WebAuthn needs a domain name (example.okta.com), or localhost"
	)
	tests := []struct{ id, want string }{
		{"example.okta.com", ""},
		{"login.example.com", ""},
		{"localhost", ""},
		{"xn--bcher-kva.example", ""},
		{"a-b.c0.example", ""},
		{strings.Repeat("a", 63) + ".example", ""},
		{"", "empty"},
		{strings.Repeat("a.", 127), "longer than 253 bytes"},
		{"127.0.0.1", ip},
		{"10.0.0.1", ip},
		{"::1", ip},
		{"[::1]", ip},
		{"2001:db8::1", ip},
		{"https://example.okta.com", bare},
		{"example.okta.com:443", bare},
		{"example.okta.com/x", bare},
		{"bad host", bare},
		{"user@example.com", bare},
		{"Example.okta.com", "must be lower case"},
		{"example..com", label},
		{".example.com", label},
		{"example.com.", label},
		{"-a.example", label},
		{"a-.example", label},
		{"a_b.example", label},
		{"é.example", label},
		{strings.Repeat("a", 64) + ".example", label},
		{"example.123", number},
		{"1.2.3", number},
		{"example.0x1f", number},
		{"example.0b1", number},
		{"example.0o7", number},
		{"example.1e3", ""},
		{"example.0xg", ""},
		{"intranet", single},
	}
	for _, tt := range tests {
		got := RPIDProblem(tt.id)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("RPIDProblem(%q) (-want +got):\n%s", tt.id, diff)
		}
		// The rule admits nothing go-webauthn refuses.
		if got == "" {
			if err := protocol.ValidateRPID(tt.id); err != nil {
				t.Errorf("RPIDProblem(%q) = \"\", but go-webauthn refuses it: %v", tt.id, err)
			}
		}
	}
}

// TestNewRefusesIPRPID: New applies RPIDProblem, naming the field and the
// problem.
func TestNewRefusesIPRPID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"127.0.0.1", "Example.okta.com", "intranet"} {
		_, err := New(Config{RPIDs: []string{"example.okta.com", id}})
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "RPIDs[1]") || !strings.Contains(err.Error(), RPIDProblem(id)) {
			t.Errorf("New(RPIDs %q) = %v, want ErrConfig naming RPIDs[1] and %q", id, err, RPIDProblem(id))
		}
	}
}

// FuzzRPIDProblem: the rule admits nothing go-webauthn refuses, and its
// own checks tell every refusal (the fallback to go-webauthn's words is
// never reached).
func FuzzRPIDProblem(f *testing.F) {
	for _, s := range []string{"example.okta.com", "localhost", "example.0x1f", "example.0b1", "a_b.example", "127.0.0.1", "[::1]", "a.b:1", "Example.com", "x.1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		p := RPIDProblem(id)
		if p == "" {
			if err := protocol.ValidateRPID(id); err != nil {
				t.Fatalf("RPIDProblem(%q) = \"\", but go-webauthn refuses it: %v", id, err)
			}
		}
		if strings.HasPrefix(p, "not a valid RP ID: ") {
			t.Fatalf("RPIDProblem(%q) = %q: go-webauthn refused what the rule's own checks let through", id, p)
		}
	})
}

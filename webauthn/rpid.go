package webauthn

import (
	"net"
	"strconv"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
)

// RPIDProblem returns what makes id no valid relying-party ID, or "" when
// it is one: a lower-case domain name of labels of ASCII letters, digits
// and '-' (not first or last), 1 to 63 bytes each, 253 bytes in all, of
// two labels at least (or "localhost"), whose last label is not a number.
// An IP address is refused, as WebAuthn (and so Okta, at activation)
// refuses it. [New] applies this rule to Config.RPIDs, and package
// fulfillment to the RP IDs it enrolls keys for, so that no key is ordered
// for an RP ID its credentials could never be used with. The problem is a
// phrase to follow the field's name ("RPIDs[0] \"x\": <problem>").
func RPIDProblem(id string) string {
	switch {
	case id == "":
		return "empty"
	case len(id) > maxRPIDLen:
		return "longer than 253 bytes"
	case net.ParseIP(strings.Trim(id, "[]")) != nil:
		return "an IP address, not a domain name (WebAuthn refuses IP addresses as RP IDs)"
	case strings.Contains(id, "://") || strings.ContainsAny(id, "/:?#@[]% "):
		return "must be a bare host name (no scheme, port or path)"
	case strings.ToLower(id) != id:
		return "must be lower case"
	}
	labels := strings.Split(id, ".")
	for _, label := range labels {
		if !ldhLabel(label) {
			return "not a valid host name (labels of 1 to 63 letters, digits and '-', not first or last)"
		}
	}
	switch {
	case numericLabel(labels[len(labels)-1]):
		return "its last label is a number: not a domain name"
	case len(labels) == 1 && id != "localhost":
		return "a single label: WebAuthn needs a domain name (example.okta.com), or localhost"
	}
	if err := protocol.ValidateRPID(id); err != nil {
		// Not reached by the rules above; kept so that the rule never
		// admits what go-webauthn, which checks the ceremonies, refuses.
		return "not a valid RP ID: " + err.Error()
	}
	return ""
}

// numericLabel reports whether a last label makes a host name no domain
// name, as go-webauthn's ValidateRPID tells it: decimal digits, or a
// number Go reads with a base prefix (0x1f, 0b1, 0o7).
func numericLabel(s string) bool {
	if strings.Trim(s, "0123456789") == "" {
		return true
	}
	_, err := strconv.ParseUint(s, 0, 64)
	return err == nil
}

// ldhLabel reports whether s is a DNS label: 1 to 63 ASCII letters,
// digits and '-', neither first nor last.
func ldhLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

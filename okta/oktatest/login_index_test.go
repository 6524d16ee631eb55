package oktatest

import (
	"strings"
	"testing"

	"github.com/preenroll/preenroll/okta"
)

// loginKey must agree with strings.EqualFold, which the login lookup used
// before the index.
func TestLoginKeyMatchesEqualFold(t *testing.T) {
	t.Parallel()
	logins := []string{
		"alice@example.com", "Alice@Example.COM", "ALICE@EXAMPLE.COM", "alice@example.co",
		"kelvin@example.com", "\u212Aelvin@example.com", "Kelvin@example.com", // U+212A KELVIN SIGN folds to k
		"stra\u00DFe@example.com", "strasse@example.com", "STRA\u1E9Ee@example.com", // ß, ẞ; not ss
		"\u03A3igma@example.com", "\u03C3igma@example.com", "\u03C2igma@example.com", // Σ σ ς
		"", "@",
	}
	for _, a := range logins {
		for _, b := range logins {
			if got, want := loginKey(a) == loginKey(b), strings.EqualFold(a, b); got != want {
				t.Errorf("loginKey(%q) == loginKey(%q) is %v, strings.EqualFold says %v", a, b, got, want)
			}
		}
	}
}

func TestLoginIndexIsCaseInsensitive(t *testing.T) {
	t.Parallel()
	s := NewServer(t)
	u, err := s.AddUser(validProfileForIndex("ada@example.com"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddUser(validProfileForIndex("ADA@example.com"), ""); err == nil {
		t.Error("AddUser accepted a login differing only in case")
	}
	s.mu.Lock()
	got := s.userByLoginLocked("Ada@Example.com")
	s.mu.Unlock()
	if got == nil || got.id != u.ID {
		t.Fatalf("userByLoginLocked = %v, want user %s", got, u.ID)
	}
}

func validProfileForIndex(login string) okta.Profile {
	return okta.Profile{Login: login, Email: login, FirstName: "Ada", LastName: "Lovelace"}
}

package yubicotest_test

import (
	"testing"

	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// TestNilAddressRule: a nil rule is refused by WithAddressRules, naming
// it, and ignored by AddAddressRule; it used to be kept and panic at the
// first address it was asked about, in a handler or in Advance.
func TestNilAddressRule(t *testing.T) {
	t.Parallel()
	_, err := yubicotest.Start(yubicotest.WithAddressRules(yubicotest.NowhereRule, nil))
	if err == nil || err.Error() != "yubicotest: WithAddressRules: rule 1 is nil" {
		t.Errorf("Start(WithAddressRules(rule, nil)) = %v, want the nil rule named", err)
	}
	s, err := yubicotest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.AddAddressRule(nil)
	check, err := s.Client().ValidateAddress(t.Context(), nowhere)
	if err != nil || check.Deliverable {
		t.Errorf("ValidateAddress(nowhere) after AddAddressRule(nil) = %+v, %v; want the default rule's refusal", check, err)
	}
}

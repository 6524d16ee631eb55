package simulator

import (
	"errors"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
)

// TestUVPlanConstraint: what the ceremony cannot meet is ErrConstraint
// (the browser's NotAllowedError), wrapping the status the key would
// answer.
func TestUVPlanConstraint(t *testing.T) {
	t.Parallel()
	noPIN := &getInfoResponse{Options: map[string]bool{"clientPin": false}}
	withPIN := &getInfoResponse{Options: map[string]bool{"clientPin": true}}
	for _, tc := range []struct {
		name      string
		info      *getInfoResponse
		uv        protocol.UserVerificationRequirement
		pin       string
		rk        bool
		wantToken bool
		wantCode  byte // 0: no error
	}{
		{"required, no PIN set", noPIN, protocol.VerificationRequired, "", false, false, ctapPINNotSet},
		{"required, no PIN given", withPIN, protocol.VerificationRequired, "", false, false, ctapPUATRequired},
		{"required, PIN given", withPIN, protocol.VerificationRequired, "1234", false, true, 0},
		{"discoverable, no PIN given", withPIN, protocol.VerificationDiscouraged, "", true, false, ctapPUATRequired},
		{"preferred, no PIN set", noPIN, protocol.VerificationPreferred, "", false, false, 0},
	} {
		token, err := uvPlan(tc.info, tc.uv, tc.pin, tc.rk)
		if token != tc.wantToken {
			t.Errorf("%s: token %v, want %v", tc.name, token, tc.wantToken)
		}
		if tc.wantCode == 0 {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		var ce *CTAPError
		if !errors.Is(err, ErrConstraint) || !errors.As(err, &ce) || ce.Code != tc.wantCode {
			t.Errorf("%s: %v, want ErrConstraint wrapping CTAP status 0x%02X", tc.name, err, tc.wantCode)
		}
	}
	if _, err := uvPlan(noPIN, protocol.VerificationRequired, "", false); !errors.Is(err, ErrPINNotSet) {
		t.Errorf("no PIN set: %v, want errors.Is ErrPINNotSet too", err)
	}
}

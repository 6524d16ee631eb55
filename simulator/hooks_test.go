package simulator

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/internal/simtest"
)

func TestTranscript(t *testing.T) {
	t.Parallel()
	k := newTestKey(t, WithTranscript())
	transmitHex(t, k, "00A4040005A000000308")
	transmitHex(t, k, "0020008008313233343536FFFF")
	// Printed information (PIN-protected) written, then read back after
	// VERIFY: both the command and the response carry its content.
	printed := "5C035FC109" + "5308" + "88068904" + "44444444"
	pivAuthDefault(t, k.piv) // directly on the applet: not in the transcript
	transmitHex(t, k, "00DB3FFF"+fmt.Sprintf("%02X", len(printed)/2)+printed)
	transmitHex(t, k, "0020008008313233343536FFFF")
	transmitHex(t, k, "00CB3FFF055C035FC10900")
	// SET MANAGEMENT KEY (AES-192, the new key in clear) and a chained
	// IMPORT KEY block (private key material).
	transmitHex(t, k, "00FFFFFF1B0A9B18"+strings.Repeat("42", 24))
	transmitHex(t, k, "10FE119A0606"+strings.Repeat("43", 6))
	got := k.Transcript()
	if len(got) != 7 {
		t.Fatalf("%d exchanges, want 7", len(got))
	}
	for i, secret := range map[int]string{1: "313233343536", 2: "44444444", 3: "313233343536", 4: "44444444", 5: "424242424242", 6: "434343434343"} {
		if s := got[i].String(); strings.Contains(s, secret) || !strings.Contains(s, "[REDACTED]") {
			t.Errorf("exchange %d not redacted: %s", i, s)
		}
	}
	if s := got[4].String(); !strings.HasSuffix(s, "[REDACTED] 9000") {
		t.Errorf("GET DATA of printed information = %s, want a redacted response ending in 9000", s)
	}
	if s := got[0].String(); !strings.HasPrefix(s, "C: 00a4040005a000000308 R: ") {
		t.Errorf("SELECT exchange = %s", s)
	}
	k.ClearTranscript()
	if n := len(k.Transcript()); n != 0 {
		t.Errorf("%d exchanges after clear", n)
	}
	if n := len(newTestKey(t).Transcript()); n != 0 {
		t.Errorf("recorded %d exchanges without WithTranscript", n)
	}
}

func TestTouchFunc(t *testing.T) {
	t.Parallel()
	k, p := newPINKey(t)
	answers := []TouchPolicy{TouchApprove, TouchDeny}
	k.SetTouchFunc(func() TouchPolicy {
		a := answers[0]
		answers = answers[1:]
		return a
	})
	makeRK(t, p, "a.example", 1)
	proto, tok := token(t, p, permMakeCredential, "")
	rp := "a.example"
	cdh := make([]byte, 32)
	req := makeCredentialRequest{ClientDataHash: cdh, RP: &rpEntity{ID: &rp}, User: &userEntity{ID: []byte{2}}, Params: []credParam{{coseES256, "public-key"}}, Protocol: &proto, PinUvAuth: pinAuthenticate(proto, tok, cdh)}
	if err := p.ctap(t.Context(), cmdMakeCredential, req, nil); !isCTAP(err, ctapOperationDenied) {
		t.Errorf("second touch: err = %v, want OPERATION_DENIED", err)
	}
	if n := k.Touches(); n != 2 {
		t.Errorf("Touches() = %d, want 2", n)
	}
}

// TestDeterministic checks that the same seed gives the same serial,
// credential ID and public key.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	run := func() []any {
		k, err := New(WithRand(simtest.Rand(42)))
		if err != nil {
			t.Fatal(err)
		}
		p := NewPlatform(k)
		if err := p.SetPIN(t.Context(), "1234"); err != nil {
			t.Fatal(err)
		}
		id := makeRK(t, p, "a.example", 1)
		return []any{k.Serial(), id}
	}
	if diff := cmp.Diff(run(), run()); diff != "" {
		t.Errorf("two runs differ (-first +second):\n%s", diff)
	}
}

// TestConcurrentUse runs platforms on one key from several goroutines
// (meaningful under -race).
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	k, _ := newPINKey(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			p := NewPlatform(k)
			if _, _, err := p.PINRetries(t.Context()); err != nil {
				t.Error(err)
			}
			if st := k.Snapshot(); !st.FIDO.PINSet {
				t.Error("PIN not set")
			}
		})
	}
	wg.Wait()
}

func TestKeyString(t *testing.T) {
	t.Parallel()
	k := newTestKey(t, WithModel(YubiKey5CNFC))
	for _, got := range []string{k.String(), fmt.Sprintf("%v", k)} {
		if got != "YubiKey 5C NFC (serial 12345678, firmware 5.7.1)" {
			t.Errorf("String = %q", got)
		}
	}
}

func TestSnapshotPIV(t *testing.T) {
	t.Parallel()
	st := newTestKey(t).Snapshot()
	if st.PIV == nil || st.PIV.PINRetries != 3 || !st.PIV.DefaultPIN || !st.Present || st.Serial != 12345678 {
		t.Errorf("snapshot = %+v, PIV %+v", st, st.PIV)
	}
	if st := newTestKey(t, WithModel(SecurityKeyNFC)).Snapshot(); st.PIV != nil {
		t.Errorf("Security Key snapshot has PIV state %+v", st.PIV)
	}
}

// TestPlatformWithoutKey: a platform made without a key refuses every
// operation with one error naming the operation, not a panic.
func TestPlatformWithoutKey(t *testing.T) {
	t.Parallel()
	p := NewPlatform(nil)
	ctx := t.Context()
	_, _, retriesErr := p.PINRetries(ctx)
	_, getErr := p.GetAssertionJSON(ctx, "https://example.com", []byte(`{"challenge":"AAAAAAAAAAAAAAAAAAAAAA","rpId":"example.com"}`), "")
	for _, tc := range []struct {
		err  error
		want string
	}{
		{p.SetPIN(ctx, "123456"), "simulator: set PIN: platform has no key"},
		{p.Reset(ctx), "simulator: reset: platform has no key"},
		{retriesErr, "simulator: PIN retries: platform has no key"},
		{getErr, "simulator: get assertion: platform has no key"},
	} {
		if tc.err == nil || tc.err.Error() != tc.want {
			t.Errorf("err = %v, want %q", tc.err, tc.want)
		}
	}
}

package simulator

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestEncodedInfoMatchesFreshEncoding checks that the memoized getInfo
// answer is, after every change of the state it depends on, byte for byte
// what encoding info() afresh gives, and that Key.CTAP hands out a copy.
func TestEncodedInfoMatchesFreshEncoding(t *testing.T) {
	steps := []struct {
		name   string
		change func(a *fidoApplet)
	}{
		{"initial", func(*fidoApplet) {}},
		{"again", func(*fidoApplet) {}},
		{"PIN set", func(a *fidoApplet) { a.pinHash = make([]byte, 16) }},
		{"force change", func(a *fidoApplet) { a.forceChange = true }},
		{"min PIN length", func(a *fidoApplet) { a.minPINLen = 9 }},
		{"alwaysUv", func(a *fidoApplet) { a.alwaysUV = !a.alwaysUV }},
		{"resident", func(a *fidoApplet) { a.resident = append(a.resident, &residentCred{}) }},
		{"firmware", func(a *fidoApplet) { a.env.firmware.Patch++ }},
		{"AAGUID", func(a *fidoApplet) { a.env.aaguid[0] ^= 0xFF }},
		{"wiped", func(a *fidoApplet) {
			if err := a.wipe(); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, m := range []Model{YubiKey5NFC, YubiKey5C, YubiKey5NFCFIPS} {
		t.Run(m.String(), func(t *testing.T) {
			k := newTestKey(t, WithModel(m))
			a := k.fido
			var prev []byte
			for _, s := range steps {
				s.change(a)
				want := encodeCTAP(a.info())
				got := a.encodedInfo()
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("%s: encodedInfo differs from a fresh encoding (-want +got):\n%s", s.name, diff)
				}
				if s.name != "again" && s.name != "initial" && bytes.Equal(got, prev) {
					t.Errorf("%s: getInfo unchanged after a change of its state", s.name)
				}
				prev = bytes.Clone(got)
				resp, err := k.CTAP([]byte{cmdGetInfo})
				if err != nil {
					t.Fatal(err)
				}
				clear(resp) // must not reach the applet's memo
				if diff := cmp.Diff(want, a.encodedInfo()); diff != "" {
					t.Fatalf("%s: Key.CTAP's caller changed the memo (-want +got):\n%s", s.name, diff)
				}
			}
		})
	}
}

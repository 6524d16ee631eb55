package simulator

import (
	"bytes"
	"encoding/json"
	"testing"
	"unsafe"

	"github.com/go-webauthn/webauthn/protocol"
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
				// The memo is what is answered while the state stays: the
				// same array, not an encoding made again.
				if again := a.encodedInfo(); unsafe.SliceData(again) != unsafe.SliceData(got) {
					t.Errorf("%s: getInfo encoded again with its state unchanged", s.name)
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

// The structs the platform's PublicKeyCredential JSON was encoded from
// with encoding/json before it was appended by hand: the reference the
// hand-built bytes must equal.
type refCredentialJSON struct {
	ID                      string                                         `json:"id"`
	RawID                   string                                         `json:"rawId"`
	Type                    string                                         `json:"type"`
	AuthenticatorAttachment string                                         `json:"authenticatorAttachment"`
	ClientExtensionResults  protocol.AuthenticationExtensionsClientOutputs `json:"clientExtensionResults"`
	Response                any                                            `json:"response"`
}

type refAttestationResponseJSON struct {
	ClientDataJSON     string   `json:"clientDataJSON"`
	AttestationObject  string   `json:"attestationObject"`
	AuthenticatorData  string   `json:"authenticatorData"`
	Transports         []string `json:"transports"`
	PublicKey          string   `json:"publicKey,omitempty"`
	PublicKeyAlgorithm int      `json:"publicKeyAlgorithm"`
}

type refAssertionResponseJSON struct {
	ClientDataJSON    string `json:"clientDataJSON"`
	AuthenticatorData string `json:"authenticatorData"`
	Signature         string `json:"signature"`
	UserHandle        string `json:"userHandle,omitempty"`
}

func refCredential(t *testing.T, credID []byte, outputs protocol.AuthenticationExtensionsClientOutputs, resp any) string {
	t.Helper()
	b, err := json.Marshal(refCredentialJSON{
		ID: b64(credID), RawID: b64(credID), Type: "public-key", AuthenticatorAttachment: "cross-platform",
		ClientExtensionResults: outputs, Response: resp,
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wireOutputs are client extension outputs the platform produces.
func wireOutputs() map[string]protocol.AuthenticationExtensionsClientOutputs {
	t, f := true, false
	return map[string]protocol.AuthenticationExtensionsClientOutputs{
		"none":       {},
		"credProps":  {CredProps: &protocol.CredentialPropertiesOutput{RK: &t}},
		"hmac":       {HMACCreateSecret: &f},
		"prf":        {PRF: &protocol.PRFOutputs{Enabled: &t}},
		"appid":      {AppID: &f},
		"prfResults": {PRF: &protocol.PRFOutputs{Results: &protocol.PRFValues{First: bytes.Repeat([]byte{1}, 32), Second: bytes.Repeat([]byte{2}, 32)}}},
		"hmacGet":    {HMACGetSecret: &protocol.HMACGetSecretOutputs{Output1: bytes.Repeat([]byte{3}, 32)}},
	}
}

// TestCredentialJSONMatchesEncodingJSON checks that the hand-built
// PublicKeyCredential JSON of both ceremonies is byte for byte what
// encoding/json gives for the structs it replaced.
func TestCredentialJSONMatchesEncodingJSON(t *testing.T) {
	cdj := []byte(`{"type":"webauthn.create","challenge":"AAEC","origin":"https://example.com","crossOrigin":false}`)
	credID := bytes.Repeat([]byte{0xFB}, 65) // base64url needs - and _
	authData := bytes.Repeat([]byte{0xFF, 0x3E}, 80)
	attObj := []byte{0xA3, 0x63, 0x66, 0x6D, 0x74, 0x64, 0x6E, 0x6F, 0x6E, 0x65}
	spki := append(bytes.Clone(spkiP256Prefix), bytes.Repeat([]byte{4}, 65)...)
	for name, outputs := range wireOutputs() {
		for _, c := range []struct {
			name   string
			parsed attestedData
			nfc    bool
		}{
			{"ES256 usb", attestedData{credID: credID, alg: coseES256, spki: spki}, false},
			{"EdDSA nfc", attestedData{credID: credID[:1], alg: coseEdDSA, spki: spki[:44]}, true},
			{"no public key", attestedData{credID: credID, alg: -257}, true},
		} {
			t.Run("create/"+name+"/"+c.name, func(t *testing.T) {
				transports := []string{"usb"}
				if c.nfc {
					transports = []string{"nfc", "usb"}
				}
				want := refCredential(t, c.parsed.credID, outputs, refAttestationResponseJSON{
					ClientDataJSON: b64(cdj), AttestationObject: b64(attObj), AuthenticatorData: b64(authData),
					Transports: transports, PublicKey: b64(c.parsed.spki), PublicKeyAlgorithm: c.parsed.alg,
				})
				got, err := attestationCredentialJSON(c.parsed, outputs, cdj, attObj, authData, c.nfc)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, string(got)); diff != "" {
					t.Errorf("(-encoding/json +hand-built):\n%s", diff)
				}
			})
		}
		for _, uh := range []struct {
			name string
			id   []byte
		}{{"no user", nil}, {"empty user", []byte{}}, {"user", []byte("user-7\xfe\xff")}} {
			t.Run("get/"+name+"/"+uh.name, func(t *testing.T) {
				sig := bytes.Repeat([]byte{0x30, 0xFC}, 36)
				want := refCredential(t, credID, outputs, refAssertionResponseJSON{
					ClientDataJSON: b64(cdj), AuthenticatorData: b64(authData[:37]), Signature: b64(sig), UserHandle: b64(uh.id),
				})
				got, err := assertionCredentialJSON(credID, outputs, cdj, authData[:37], sig, uh.id)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, string(got)); diff != "" {
					t.Errorf("(-encoding/json +hand-built):\n%s", diff)
				}
			})
		}
	}
}

// TestKeyAgreementAnswerMatchesFreshEncoding checks that the kept
// getKeyAgreement answer is what encoding the applet's current key afresh
// gives, across the key changing at power-up, and that Key.CTAP hands out
// a copy.
func TestKeyAgreementAnswerMatchesFreshEncoding(t *testing.T) {
	k := newTestKey(t)
	for _, proto := range []int{1, 2} {
		params, err := ctapEnc.Marshal(clientPINRequest{Protocol: &proto, SubCommand: intp(pinGetKeyAgreement)})
		if err != nil {
			t.Fatal(err)
		}
		req := append([]byte{cmdClientPIN}, params...)
		var prev, prevKept []byte
		for i := range 3 {
			for range 2 { // the second answer comes from what the applet kept
				got, err := k.CTAP(req)
				if err != nil {
					t.Fatal(err)
				}
				ck := coseFromECDH(k.fido.ka.PublicKey())
				want := encodeCTAP(clientPINResponse{KeyAgreement: &ck})
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("protocol %d, power-up %d: getKeyAgreement differs from a fresh encoding (-want +got):\n%s", proto, i, diff)
				}
				if i > 0 && bytes.Equal(got, prev) {
					t.Fatalf("protocol %d, power-up %d: the same key after a power cycle", proto, i)
				}
				clear(got) // must not reach the applet's copy
				if kept := k.fido.kaResp.resp; len(kept) == 0 || (prevKept != nil && unsafe.SliceData(kept) != unsafe.SliceData(prevKept)) {
					t.Fatalf("protocol %d, power-up %d: getKeyAgreement encoded again for the same key", proto, i)
				}
				prevKept = k.fido.kaResp.resp
			}
			prevKept = nil
			prev = bytes.Clone(k.fido.kaResp.resp)
			k.PowerCycle()
		}
		// authenticatorReset makes a new key agreement key too.
		before, err := k.CTAP(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := k.CTAP([]byte{cmdReset}); err != nil || !bytes.Equal(resp, []byte{0}) {
			t.Fatalf("reset = %x, %v", resp, err)
		}
		after, err := k.CTAP(req)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(before, after) {
			t.Errorf("protocol %d: the same key agreement key after authenticatorReset", proto)
		}
	}
}

// TestRequestBufferCleared: after a command the platform's request buffer
// holds nothing of the request (PIN/UV auth parameters, encrypted PIN
// hashes), in the whole of its array: the room encodeCTAPMessage makes
// keeps the encoder and the short APDU's Le from moving the request to
// another array.
func TestRequestBufferCleared(t *testing.T) {
	k := newTestKey(t)
	p := NewPlatform(k)
	if err := p.SetPIN(t.Context(), "123456"); err != nil {
		t.Fatal(err)
	}
	all := p.reqBuf.Bytes()
	if cap(all) < ctapHeader+1+fidoMaxMsgSize+1 {
		t.Fatalf("request buffer's capacity %d, want room for the largest message", cap(all))
	}
	if i := bytes.IndexFunc(all[:cap(all)], func(r rune) bool { return r != 0 }); i >= 0 {
		t.Errorf("request buffer not cleared after setPIN: byte %d of %d is set", i, cap(all))
	}
}

// TestCTAPMessageAPDUs checks that the platform's one-buffer encoding of a
// CTAP message gives the bytes of encoding the parameters and then
// building the message and its APDU: the short APDU for messages up to a
// block, the message itself for longer ones (chained by encodeAPDU).
func TestCTAPMessageAPDUs(t *testing.T) {
	two := 2
	rpID := "example.com"
	var buf bytes.Buffer // one buffer for all, as in a Platform
	for _, c := range []struct {
		name string
		cmd  byte
		req  any
		size int // the message's length, when the case is about it
	}{
		{"getInfo", cmdGetInfo, nil, 1},
		{"getKeyAgreement", cmdClientPIN, clientPINRequest{Protocol: &two, SubCommand: intp(pinGetKeyAgreement)}, 0},
		{"getToken", cmdClientPIN, clientPINRequest{Protocol: &two, SubCommand: intp(pinGetTokenWithPerms), PinHashEnc: make([]byte, 32), Permissions: intp(1), RPID: &rpID}, 0},
		{"250 bytes", cmdGetAssertion, getAssertionRequest{RPID: &rpID, ClientDataHash: make([]byte, 232)}, 250},
		{"251 bytes", cmdGetAssertion, getAssertionRequest{RPID: &rpID, ClientDataHash: make([]byte, 233)}, 251},
		{"chained", cmdGetAssertion, getAssertionRequest{RPID: &rpID, ClientDataHash: make([]byte, 580)}, 0},
		{"over 512", cmdGetAssertion, getAssertionRequest{RPID: &rpID, ClientDataHash: make([]byte, 2000)}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			buf.WriteString("left from the last request") // must not reach the next
			msg := []byte{c.cmd}
			if c.req != nil {
				params, err := ctapEnc.Marshal(c.req)
				if err != nil {
					t.Fatal(err)
				}
				msg = append(msg, params...)
			}
			if c.size != 0 && len(msg) != c.size {
				t.Fatalf("message of %d bytes, want %d", len(msg), c.size)
			}
			b, err := encodeCTAPMessage(&buf, c.cmd, c.req)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(msg, b[ctapHeader:]); diff != "" {
				t.Fatalf("message (-two steps +one buffer):\n%s", diff)
			}
			if len(msg) > ctapBlock {
				return // chained from the message by encodeAPDU
			}
			want := encodeAPDU(0x80, insNFCCTAPMsg, 0x80, 0x00, msg, 256)
			if diff := cmp.Diff(want, shortCTAPAPDU(b)); diff != "" {
				t.Errorf("APDU (-encodeAPDU +in place):\n%s", diff)
			}
		})
	}
}

package simulator

import (
	"testing"
	"time"
)

func FuzzParseAPDU(f *testing.F) {
	for _, s := range []string{
		"00A4040008A000000527471117", "001D000000", "00CB3FFF0000055C035FFF00", "00F70080000000",
		"80108000010400", "00200080", "1001000002AABB", "00020258000000", "00C0000000", "FF", "",
	} {
		f.Add(mustHex(f, s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		cmd, sw := parseAPDU(raw)
		if sw != 0 {
			return
		}
		if len(cmd.data) > len(raw) || cmd.ne < 0 || cmd.ne > 65536 {
			t.Fatalf("parseAPDU(%x) = %+v", raw, cmd)
		}
		// A parsed APDU re-encodes to one that parses the same.
		again, sw := parseAPDU(encodeAPDU(cmd.cla, cmd.ins, cmd.p1, cmd.p2, cmd.data, cmd.ne))
		if sw != 0 || again.ins != cmd.ins || string(again.data) != string(cmd.data) || again.ne != cmd.ne {
			t.Fatalf("re-encoding %x changed it: %+v vs %+v", raw, again, cmd)
		}
	})
}

// FuzzTransmit feeds a sequence of APDUs (each prefixed by a one-byte
// length) to a key: every response has a status word, and the key still
// answers a clean SELECT and getInfo afterwards.
func FuzzTransmit(f *testing.F) {
	f.Add(mustHex(f, "0D00A4040008A000000527471117"+"05001D000000"+"0D00A4040008A0000006472F0001"+"0780108000010400"))
	f.Add(mustHex(f, "07900100000201AA"+"0500C0000000"+"0C00A4040007A0000003080000"))
	f.Add(mustHex(f, "0D00A4040008A0000006472F0001"+"0500030000"))
	f.Fuzz(func(t *testing.T, script []byte) {
		k := newTestKey(t)
		for len(script) > 0 {
			n := int(script[0])
			script = script[1:]
			if n > len(script) {
				n = len(script)
			}
			resp, err := k.Transmit(script[:n])
			script = script[n:]
			if err != nil || len(resp) < 2 {
				t.Fatalf("Transmit: %x, %v", resp, err)
			}
		}
		k.PowerCycle()
		transmitHex(t, k, "00A4040008A0000006472F0001")
		resp, _ := k.Transmit(mustHex(t, "80108000000001040000"))
		if data, sw, _ := splitSW(resp); sw != swOK || data[0] != ctapOK {
			t.Fatalf("getInfo after fuzzing: %x", resp)
		}
	})
}

// fuzzKey returns a key with PIN "1234" and one discoverable credential,
// past its reset window, and the credential's ID.
func fuzzKey(t *testing.T) (*Key, *Platform, []byte) {
	t.Helper()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	k := newTestKey(t, WithClock(func() time.Time { return now }))
	p := NewPlatform(k)
	if err := p.SetPIN(t.Context(), "1234"); err != nil {
		t.Fatal(err)
	}
	id := makeRK(t, p, "example.com", 1)
	now = start.Add(time.Minute)
	return k, p, id
}

// checkIntact verifies that one command cannot have corrupted the key: the
// PIN and credential are still there, at most one PIN retry was used, and
// the PIN still yields a working assertion.
func checkIntact(t *testing.T, k *Key, p *Platform, id []byte) {
	t.Helper()
	st := k.Snapshot()
	if !st.FIDO.PINSet || st.FIDO.PINRetries < fidoPINRetries-1 || len(st.FIDO.Credentials) != 1 || st.FIDO.ForcePINChange {
		t.Fatalf("state after one command: %+v", st.FIDO)
	}
	k.PowerCycle()
	rpID := "example.com"
	proto, tok := token(t, p, permGetAssertion, rpID)
	cdh := make([]byte, 32)
	req := getAssertionRequest{RPID: &rpID, ClientDataHash: cdh, AllowList: []credDescriptor{{Type: "public-key", ID: id}}, Protocol: &proto, PinUvAuth: pinAuthenticate(proto, tok, cdh)}
	if err := p.ctap(t.Context(), cmdGetAssertion, req, nil); err != nil {
		t.Fatalf("assertion after one command: %v", err)
	}
}

func ctapSeeds(f *testing.F) {
	cdh := make([]byte, 32)
	rp := "example.com"
	kx := coseKey{Kty: 2, Alg: -25, Crv: 1, X: make([]byte, 32), Y: make([]byte, 32)}
	for _, v := range []struct {
		cmd byte
		req any
	}{
		{cmdGetInfo, nil},
		{cmdMakeCredential, makeCredentialRequest{ClientDataHash: cdh, RP: &rpEntity{ID: &rp}, User: &userEntity{ID: []byte{1}}, Params: []credParam{{-7, "public-key"}}, Options: map[string]bool{"rk": true}}},
		{cmdGetAssertion, getAssertionRequest{RPID: &rp, ClientDataHash: cdh}},
		{cmdClientPIN, clientPINRequest{Protocol: intp(2), SubCommand: intp(pinGetRetries)}},
		{cmdClientPIN, clientPINRequest{Protocol: intp(2), SubCommand: intp(pinChangePIN), KeyAgreement: &kx, PinUvAuth: cdh, NewPinEnc: make([]byte, 80), PinHashEnc: cdh}},
		{cmdClientPIN, clientPINRequest{Protocol: intp(1), SubCommand: intp(pinGetTokenWithPerms), KeyAgreement: &kx, PinHashEnc: cdh[:16], Permissions: intp(1)}},
		{cmdReset, nil},
		{cmdCredentialManagement, cmRequest{SubCommand: intp(cmDeleteCredential), Protocol: intp(2), PinUvAuth: cdh}},
		{cmdConfig, configRequest{SubCommand: intp(cfgSetMinPINLength), Params: []byte{0xA1, 0x03, 0xF5}}},
	} {
		b := []byte{v.cmd}
		if v.req != nil {
			enc, _ := ctapEnc.Marshal(v.req)
			b = append(b, enc...)
		}
		f.Add(b)
	}
}

// FuzzCTAP runs one arbitrary CTAP2 command (the CBOR decoder and every
// command handler) against a key with a PIN and a credential.
func FuzzCTAP(f *testing.F) {
	ctapSeeds(f)
	f.Fuzz(func(t *testing.T, req []byte) {
		k, p, id := fuzzKey(t)
		resp, err := k.CTAP(req)
		if err != nil || len(resp) == 0 {
			t.Fatalf("CTAP: %x, %v", resp, err)
		}
		checkIntact(t, k, p, id)
	})
}

// FuzzClientPIN runs arbitrary clientPIN parameters.
func FuzzClientPIN(f *testing.F) {
	f.Add(mustHex(f, "a201010201"))
	f.Add(mustHex(f, "a201020202"))
	f.Add(mustCBOR(f, clientPINRequest{Protocol: intp(2), SubCommand: intp(pinGetPINToken), KeyAgreement: &coseKey{Kty: 2, Alg: -25, Crv: 1, X: make([]byte, 32), Y: make([]byte, 32)}, PinHashEnc: make([]byte, 32)}))
	f.Fuzz(func(t *testing.T, params []byte) {
		k, p, id := fuzzKey(t)
		resp, err := k.CTAP(append([]byte{cmdClientPIN}, params...))
		if err != nil || len(resp) == 0 {
			t.Fatalf("CTAP: %x, %v", resp, err)
		}
		checkIntact(t, k, p, id)
	})
}

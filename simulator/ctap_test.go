package simulator

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/google/go-cmp/cmp"
)

func mustCBOR(t testing.TB, v any) []byte {
	t.Helper()
	return mustDo(t, ctapEnc.Marshal, v)
}

// ctapStatus runs a raw CTAP command and returns its status byte.
func ctapStatus(t testing.TB, k *Key, req []byte) byte {
	t.Helper()
	resp, err := k.CTAP(req)
	if err != nil {
		t.Fatalf("CTAP: %v", err)
	}
	return resp[0]
}

func TestCTAPMalformed(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	cdh := make([]byte, 32)
	rp := "example.com"
	tests := []struct {
		name string
		req  []byte
		want byte
	}{
		{"empty", nil, ctapInvalidLength},
		{"unknown command", []byte{0x55}, ctapInvalidCommand},
		{"getInfo with parameters", []byte{cmdGetInfo, 0xA0}, ctapInvalidLength},
		{"truncated CBOR", []byte{cmdMakeCredential, 0xA1, 0x01}, ctapInvalidCBOR},
		{"trailing bytes", append([]byte{cmdClientPIN}, append(mustCBOR(t, map[int]int{2: 1}), 0)...), ctapInvalidCBOR},
		{"not a map", append([]byte{cmdMakeCredential}, mustCBOR(t, []int{1})...), ctapCBORUnexpectedType},
		{"duplicate key", []byte{cmdClientPIN, 0xA2, 0x02, 0x01, 0x02, 0x01}, ctapInvalidCBOR},
		{"indefinite length", []byte{cmdClientPIN, 0xBF, 0x02, 0x01, 0xFF}, ctapInvalidCBOR},
		{"wrong type", append([]byte{cmdMakeCredential}, mustCBOR(t, map[int]any{1: "not bytes"})...), ctapCBORUnexpectedType},
		{"makeCredential missing", append([]byte{cmdMakeCredential}, mustCBOR(t, map[int]any{1: cdh})...), ctapMissingParameter},
		{"makeCredential bad hash", append([]byte{cmdMakeCredential}, mustCBOR(t, makeCredentialRequest{
			ClientDataHash: cdh[:5], RP: &rpEntity{ID: &rp}, User: &userEntity{ID: []byte{1}}, Params: []credParam{{-7, "public-key"}},
		})...), ctapInvalidParameter},
		{"unsupported algorithm", append([]byte{cmdMakeCredential}, mustCBOR(t, makeCredentialRequest{
			ClientDataHash: cdh, RP: &rpEntity{ID: &rp}, User: &userEntity{ID: []byte{1}}, Params: []credParam{{-257, "public-key"}},
		})...), ctapUnsupportedAlgorithm},
		{"up false", append([]byte{cmdMakeCredential}, mustCBOR(t, makeCredentialRequest{
			ClientDataHash: cdh, RP: &rpEntity{ID: &rp}, User: &userEntity{ID: []byte{1}}, Params: []credParam{{-7, "public-key"}}, Options: map[string]bool{"up": false},
		})...), ctapInvalidOption},
		{"getAssertion missing", append([]byte{cmdGetAssertion}, mustCBOR(t, map[int]any{1: rp})...), ctapMissingParameter},
		{"getAssertion no credentials", append([]byte{cmdGetAssertion}, mustCBOR(t, getAssertionRequest{RPID: &rp, ClientDataHash: cdh})...), ctapNoCredentials},
		{"allowList too long", append([]byte{cmdGetAssertion}, mustCBOR(t, getAssertionRequest{RPID: &rp, ClientDataHash: cdh, AllowList: make([]credDescriptor, 9)})...), ctapLimitExceeded},
		{"getNextAssertion alone", []byte{cmdGetNextAssertion}, ctapNotAllowed},
		{"clientPIN no subcommand", append([]byte{cmdClientPIN}, mustCBOR(t, map[int]int{1: 2})...), ctapMissingParameter},
		{"clientPIN bad protocol", append([]byte{cmdClientPIN}, mustCBOR(t, map[int]int{1: 3, 2: 2})...), ctapInvalidParameter},
		{"clientPIN bad subcommand", append([]byte{cmdClientPIN}, mustCBOR(t, map[int]int{1: 2, 2: 0x42})...), ctapInvalidSubcommand},
		{"getPinToken without PIN", append([]byte{cmdClientPIN}, mustCBOR(t, map[int]any{1: 2, 2: 5, 3: coseKey{Kty: 2, Alg: -25, Crv: 1, X: cdh, Y: cdh}, 6: make([]byte, 32)})...), ctapPINNotSet},
		{"too large", make([]byte, fidoMaxMsgSize+1), ctapRequestTooLarge},
		{"credMgmt without token", append([]byte{cmdCredentialManagement}, mustCBOR(t, map[int]int{1: 1})...), ctapPUATRequired},
		{"credMgmt bad protocol", append([]byte{cmdCredentialManagement}, mustCBOR(t, map[int]any{1: 1, 3: 3, 4: cdh})...), ctapInvalidParameter},
		{"credMgmt without a token issued", append([]byte{cmdCredentialManagement}, mustCBOR(t, map[int]any{1: 1, 3: 2, 4: cdh})...), ctapPINAuthInvalid},
		{"config unsupported", append([]byte{cmdConfig}, mustCBOR(t, map[int]int{1: 1})...), ctapInvalidSubcommand},
	}
	for _, tt := range tests {
		if got := ctapStatus(t, k, tt.req); got != tt.want {
			t.Errorf("%s: status 0x%02X, want 0x%02X", tt.name, got, tt.want)
		}
	}
}

func TestGetInfoOverAPDU(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	// The python-fido2 probe from the reference trace: SELECT, then
	// NFCCTAP_MSG getInfo with short Le.
	transmitHex(t, k, "00A4040008A0000006472F0001")
	resp, err := k.Transmit(mustHex(t, "80108000010400"))
	if err != nil {
		t.Fatal(err)
	}
	data, sw, _ := splitSW(resp)
	if sw&0xFF00 != swMoreDataBase || len(data) != 256 {
		t.Fatalf("first chunk: %d bytes, sw %04X; want 256 bytes and 61xx", len(data), sw)
	}
	more, _ := k.Transmit([]byte{0, insGetResponse, 0, 0, byte(sw)})
	rest, sw, _ := splitSW(more)
	data = append(data, rest...)
	if sw != swOK || data[0] != ctapOK {
		t.Fatalf("sw %04X status %02X", sw, data[0])
	}
	var info getInfoResponse
	if err := cbor.Unmarshal(data[1:], &info); err != nil {
		t.Fatal(err)
	}
	aaguid := k.AAGUID()
	if diff := cmp.Diff([]string{"U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE", "FIDO_2_1"}, info.Versions); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
	if string(info.AAGUID) != string(aaguid[:]) || info.FirmwareVersion != 0x050701 || info.MinPINLength != 4 || info.Options["clientPin"] {
		t.Errorf("info = %+v", info)
	}
	// The response is canonical: re-encoding gives the same bytes.
	if re := mustCBOR(t, info); string(re) != string(data[1:]) {
		t.Error("getInfo is not in CTAP2 canonical form")
	}
	// getRetries with PIN protocol 1, from the trace.
	if got := transmitHex(t, k, "801080000606A20101020100"); got != "00a2030804f4"+"9000" {
		t.Errorf("getRetries = %s", got)
	}
}

// newPINKey returns a key with PIN "1234" and a platform on it.
func newPINKey(t *testing.T, opts ...Option) (*Key, *Platform) {
	t.Helper()
	k := newTestKey(t, opts...)
	p := NewPlatform(k)
	if err := p.SetPIN(t.Context(), "1234"); err != nil {
		t.Fatalf("SetPIN: %v", err)
	}
	return k, p
}

// token gets a PIN token through the platform's internals.
func token(t *testing.T, p *Platform, perms byte, rpID string) (int, []byte) {
	t.Helper()
	info, err := p.session(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	proto, tok, err := p.pinToken(t.Context(), info, "1234", perms, rpID)
	if err != nil {
		t.Fatalf("pinToken: %v", err)
	}
	return proto, tok
}

// makeRK creates a discoverable credential for rpID and user id.
func makeRK(t *testing.T, p *Platform, rpID string, user byte) []byte {
	t.Helper()
	proto, tok := token(t, p, permMakeCredential, rpID)
	cdh := sha256.Sum256([]byte{user})
	req := makeCredentialRequest{
		ClientDataHash: cdh[:], RP: &rpEntity{ID: &rpID, Name: "RP " + rpID},
		User:   &userEntity{ID: []byte{user}, Name: "u", DisplayName: "U"},
		Params: []credParam{{coseES256, "public-key"}}, Options: map[string]bool{"rk": true},
		Protocol: &proto, PinUvAuth: pinAuthenticate(proto, tok, cdh[:]),
	}
	var resp makeCredentialResponse
	if err := p.ctap(t.Context(), cmdMakeCredential, req, &resp); err != nil {
		t.Fatalf("makeCredential: %v", err)
	}
	ad, err := parseAttestedAuthData(resp.AuthData)
	if err != nil {
		t.Fatal(err)
	}
	return ad.credID
}

func TestPINToken(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	k, p := newPINKey(t)
	if err := p.SetPIN(ctx, "5678"); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("second SetPIN: err = %v, want ErrNotAllowed", err)
	}
	// Permissions the key does not have are refused.
	info, _ := p.session(ctx)
	if _, _, err := p.pinToken(ctx, info, "1234", permBioEnroll, ""); !isCTAP(err, ctapUnauthorizedPermission) {
		t.Errorf("bio enroll permission: err = %v", err)
	}
	// A token bound to one RP does not work for another.
	proto, tok := token(t, p, permMakeCredential, "a.example")
	cdh := make([]byte, 32)
	other := "b.example"
	req := makeCredentialRequest{
		ClientDataHash: cdh, RP: &rpEntity{ID: &other}, User: &userEntity{ID: []byte{1}},
		Params: []credParam{{coseES256, "public-key"}}, Protocol: &proto, PinUvAuth: pinAuthenticate(proto, tok, cdh),
	}
	if err := p.ctap(ctx, cmdMakeCredential, req, nil); !errors.Is(err, ErrPINAuthInvalid) {
		t.Errorf("token for another RP: err = %v, want ErrPINAuthInvalid", err)
	}
	// A getAssertion-only token cannot make credentials.
	proto, tok = token(t, p, permGetAssertion, "")
	req.PinUvAuth = pinAuthenticate(proto, tok, cdh)
	if err := p.ctap(ctx, cmdMakeCredential, req, nil); !errors.Is(err, ErrPINAuthInvalid) {
		t.Errorf("token without mc permission: err = %v, want ErrPINAuthInvalid", err)
	}
	// Power off forgets the token.
	proto, tok = token(t, p, permMakeCredential, "")
	k.PowerCycle()
	if _, err := p.session(ctx); err != nil {
		t.Fatal(err)
	}
	req.PinUvAuth = pinAuthenticate(proto, tok, cdh)
	if err := p.ctap(ctx, cmdMakeCredential, req, nil); !errors.Is(err, ErrPINAuthInvalid) {
		t.Errorf("token after power cycle: err = %v, want ErrPINAuthInvalid", err)
	}
}

func isCTAP(err error, code byte) bool {
	var ce *CTAPError
	return errors.As(err, &ce) && ce.Code == code
}

func TestCredentialManagement(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	k, p := newPINKey(t)
	id1 := makeRK(t, p, "a.example", 1)
	id2 := makeRK(t, p, "a.example", 2)
	id3 := makeRK(t, p, "b.example", 1)
	// Re-registering the same user replaces the credential.
	id3b := makeRK(t, p, "b.example", 1)

	cm := func(sub int, params any, resp any) error {
		t.Helper()
		var raw []byte
		if params != nil {
			raw = mustCBOR(t, params)
		}
		proto, tok := token(t, p, permCredMgmt, "")
		req := cmRequest{SubCommand: &sub, Params: raw, Protocol: &proto, PinUvAuth: pinAuthenticate(proto, tok, append([]byte{byte(sub)}, raw...))}
		return p.ctap(ctx, cmdCredentialManagement, req, resp)
	}
	var meta cmResponse
	if err := cm(cmGetCredsMetadata, nil, &meta); err != nil {
		t.Fatal(err)
	}
	if *meta.ExistingCount != 3 || *meta.RemainingCount != fidoMaxResident-3 {
		t.Errorf("metadata = %d, %d", *meta.ExistingCount, *meta.RemainingCount)
	}
	var rp cmResponse
	if err := cm(cmEnumerateRPsBegin, nil, &rp); err != nil {
		t.Fatal(err)
	}
	var rp2 cmResponse
	if err := p.ctap(ctx, cmdCredentialManagement, cmRequest{SubCommand: intp(cmEnumerateRPsNext)}, &rp2); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a.example", "b.example", "RP a.example"}, []string{rp.RP.ID, rp2.RP.ID, rp.RP.Name}); diff != "" || *rp.TotalRPs != 2 {
		t.Errorf("RPs (-want +got):\n%s", diff)
	}
	hashA := sha256.Sum256([]byte("a.example"))
	var c1, c2 cmResponse
	if err := cm(cmEnumerateCredsBegin, cmParams{RPIDHash: hashA[:]}, &c1); err != nil {
		t.Fatal(err)
	}
	if err := p.ctap(ctx, cmdCredentialManagement, cmRequest{SubCommand: intp(cmEnumerateCredsNext)}, &c2); err != nil {
		t.Fatal(err)
	}
	if string(c1.CredentialID.ID) != string(id1) || string(c2.CredentialID.ID) != string(id2) || *c1.TotalCreds != 2 {
		t.Errorf("enumerated credentials do not match")
	}
	if err := cm(cmUpdateUserInfo, cmParams{CredentialID: &credDescriptor{Type: "public-key", ID: id2}, User: &userEntity{ID: []byte{2}, Name: "renamed"}}, nil); err != nil {
		t.Fatalf("updateUserInformation: %v", err)
	}
	if err := cm(cmDeleteCredential, cmParams{CredentialID: &credDescriptor{Type: "public-key", ID: id1}}, nil); err != nil {
		t.Fatalf("deleteCredential: %v", err)
	}
	if err := cm(cmDeleteCredential, cmParams{CredentialID: &credDescriptor{Type: "public-key", ID: id3}}, nil); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("delete replaced credential: err = %v, want ErrNoCredentials", err)
	}
	st := k.Snapshot()
	var got []string
	for _, c := range st.FIDO.Credentials {
		got = append(got, c.RPID+"/"+c.UserName)
	}
	if diff := cmp.Diff([]string{"a.example/renamed", "b.example/u"}, got); diff != "" {
		t.Errorf("stored credentials (-want +got):\n%s", diff)
	}
	if string(st.FIDO.Credentials[1].ID) != string(id3b) {
		t.Error("replacement credential not stored")
	}
	// The deleted credential no longer signs, even by ID.
	rpID := "a.example"
	cdh := make([]byte, 32)
	ga := getAssertionRequest{RPID: &rpID, ClientDataHash: cdh, AllowList: []credDescriptor{{Type: "public-key", ID: id1}}}
	if err := p.ctap(ctx, cmdGetAssertion, ga, nil); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("assert with deleted credential: err = %v, want ErrNoCredentials", err)
	}
}

func TestGetNextAssertion(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	_, p := newPINKey(t)
	makeRK(t, p, "a.example", 1)
	makeRK(t, p, "a.example", 2)
	makeRK(t, p, "a.example", 3)
	rpID := "a.example"
	cdh := make([]byte, 32)
	proto, tok := token(t, p, permGetAssertion, rpID)
	req := getAssertionRequest{RPID: &rpID, ClientDataHash: cdh, Protocol: &proto, PinUvAuth: pinAuthenticate(proto, tok, cdh)}
	var first getAssertionResponse
	if err := p.ctap(ctx, cmdGetAssertion, req, &first); err != nil {
		t.Fatal(err)
	}
	users := []byte{first.User.ID[0]}
	var counters []uint32
	counters = append(counters, binary.BigEndian.Uint32(first.AuthData[33:37]))
	for range 2 {
		var next getAssertionResponse
		if err := p.ctap(ctx, cmdGetNextAssertion, nil, &next); err != nil {
			t.Fatal(err)
		}
		users = append(users, next.User.ID[0])
		counters = append(counters, binary.BigEndian.Uint32(next.AuthData[33:37]))
		if next.NumCreds != 0 {
			t.Error("numberOfCredentials in getNextAssertion")
		}
	}
	if first.NumCreds != 3 || first.User.Name != "u" {
		t.Errorf("first response: numberOfCredentials %d, user %+v", first.NumCreds, first.User)
	}
	if diff := cmp.Diff([]byte{3, 2, 1}, users); diff != "" {
		t.Errorf("users, newest first (-want +got):\n%s", diff)
	}
	if counters[0] >= counters[1] || counters[1] >= counters[2] {
		t.Errorf("counters not increasing: %v", counters)
	}
	if err := p.ctap(ctx, cmdGetNextAssertion, nil, nil); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("exhausted getNextAssertion: err = %v", err)
	}
}

func TestResetWindow(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k, p := newPINKey(t, WithClock(func() time.Time { return now }))
	now = now.Add(6 * time.Second)
	if err := p.Reset(t.Context()); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("reset 6 s after power-up: err = %v, want ErrNotAllowed", err)
	}
	k.PowerCycle()
	k.SetTouch(TouchTimeout)
	if err := p.Reset(t.Context()); !errors.Is(err, ErrUserActionTimeout) {
		t.Fatalf("reset without touch: err = %v, want ErrUserActionTimeout", err)
	}
	k.SetTouch(TouchApprove)
	if err := p.Reset(t.Context()); err != nil {
		t.Fatalf("reset: %v", err)
	}
	if k.Snapshot().FIDO.PINSet {
		t.Error("PIN survived reset")
	}
}

func TestMinPINLength(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	k, p := newPINKey(t)
	if err := p.SetMinPINLength(ctx, "1234", 6); err != nil {
		t.Fatalf("SetMinPINLength(6): %v", err)
	}
	if st := k.Snapshot().FIDO; !st.ForcePINChange || st.MinPINLength != 6 {
		t.Errorf("after raising the minimum: %+v", st)
	}
	if err := p.ChangePIN(ctx, "1234", "12345"); !errors.Is(err, ErrPINPolicyViolation) {
		t.Errorf("ChangePIN to 5 digits: err = %v, want ErrPINPolicyViolation", err)
	}
	if err := p.ChangePIN(ctx, "1234", "123456"); err != nil {
		t.Fatalf("ChangePIN: %v", err)
	}
	if err := p.SetMinPINLength(ctx, "123456", 4); !errors.Is(err, ErrPINPolicyViolation) {
		t.Errorf("lowering the minimum: err = %v, want ErrPINPolicyViolation", err)
	}
	if k.Snapshot().FIDO.ForcePINChange {
		t.Error("force PIN change still set after ChangePIN")
	}
}

func TestU2F(t *testing.T) {
	t.Parallel()
	k := newTestKey(t)
	transmitHex(t, k, "00A4040008A0000006472F0001")
	if got := transmitHex(t, k, "0003000000"); got != "5532465f56329000" {
		t.Errorf("VERSION = %s", got)
	}
	challenge := sha256.Sum256([]byte("challenge"))
	app := sha256.Sum256([]byte("https://example.com"))
	resp, err := k.Transmit(encodeAPDU(0, insU2FRegister, 0x03, 0, append(challenge[:], app[:]...), 65536))
	if err != nil {
		t.Fatal(err)
	}
	data, sw, _ := splitSW(resp)
	if sw != swOK || data[0] != 0x05 {
		t.Fatalf("register: sw %04X", sw)
	}
	pub := data[1:66]
	kh := data[67 : 67+int(data[66])]
	rest := data[67+len(kh):]
	cert, err := x509.ParseCertificate(rest[:len(rest)-len(mustTrailingSig(t, rest))])
	if err != nil {
		t.Fatalf("attestation certificate: %v", err)
	}
	sig := mustTrailingSig(t, rest)
	signed := append(append(append(append([]byte{0}, app[:]...), challenge[:]...), kh...), pub...)
	if err := cert.CheckSignature(x509.ECDSAWithSHA256, signed, sig); err != nil {
		t.Errorf("registration signature: %v", err)
	}
	// Authenticate, check the signature with the registered key.
	auth := append(append(append(challenge[:], app[:]...), byte(len(kh))), kh...)
	resp, _ = k.Transmit(encodeAPDU(0, insU2FAuthenticate, u2fEnforceUP, 0, auth, 256))
	data, sw, _ = splitSW(resp)
	if sw != swOK || data[0] != flagUP {
		t.Fatalf("authenticate: sw %04X", sw)
	}
	pk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pub)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(append(append(app[:], data[:5]...), challenge[:]...))
	if !ecdsa.VerifyASN1(pk, h[:], data[5:]) {
		t.Error("authentication signature does not verify")
	}
	// Check-only answers 6985 for a known handle, 6A80 for a foreign one.
	if resp, _ := k.Transmit(encodeAPDU(0, insU2FAuthenticate, u2fCheckOnly, 0, auth, 256)); string(resp) != "\x69\x85" {
		t.Errorf("check-only = %x", resp)
	}
	other := sha256.Sum256([]byte("https://other.example"))
	bad := append(append(append(challenge[:], other[:]...), byte(len(kh))), kh...)
	if resp, _ := k.Transmit(encodeAPDU(0, insU2FAuthenticate, u2fEnforceUP, 0, bad, 256)); string(resp) != "\x6a\x80" {
		t.Errorf("foreign app = %x", resp)
	}
	// The U2F key handle also works through CTAP2 (rpId = the AppID).
	appID := "https://example.com"
	ga := getAssertionRequest{RPID: &appID, ClientDataHash: challenge[:], AllowList: []credDescriptor{{Type: "public-key", ID: kh}}}
	if got := ctapStatus(t, k, append([]byte{cmdGetAssertion}, mustCBOR(t, ga)...)); got != ctapOK {
		t.Errorf("CTAP2 assertion with a U2F key handle: status 0x%02X", got)
	}
	k.SetTouch(TouchDeny)
	if resp, _ := k.Transmit(encodeAPDU(0, insU2FAuthenticate, u2fEnforceUP, 0, auth, 256)); string(resp) != "\x69\x85" {
		t.Errorf("no touch = %x", resp)
	}
}

// mustTrailingSig returns the DER ECDSA signature at the end of b.
func mustTrailingSig(t *testing.T, b []byte) []byte {
	t.Helper()
	// The certificate is a DER SEQUENCE with a two-byte length.
	if len(b) < 4 || b[0] != 0x30 || b[1] != 0x82 {
		t.Fatalf("no certificate at %x", b[:4])
	}
	n := 4 + int(binary.BigEndian.Uint16(b[2:4]))
	return b[n:]
}

func TestAlwaysUV(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rp := "a.example"
	cdh := make([]byte, 32)
	mc := func(k *Key) byte {
		req := makeCredentialRequest{ClientDataHash: cdh, RP: &rpEntity{ID: &rp}, User: &userEntity{ID: []byte{1}}, Params: []credParam{{coseES256, "public-key"}}}
		return ctapStatus(t, k, append([]byte{cmdMakeCredential}, mustCBOR(t, req)...))
	}
	u2fRegister := func(k *Key) string {
		transmitHex(t, k, "00A4040008A0000006472F0001")
		resp, _ := k.Transmit(encodeAPDU(0, insU2FRegister, 0, 0, make([]byte, 64), 65536))
		_, sw, _ := splitSW(resp)
		return fmt.Sprintf("%04X", sw)
	}

	// A YubiKey 5 NFC toggles it with the PIN.
	k, p := newPINKey(t)
	if got := mc(k); got != ctapOK {
		t.Fatalf("makeCredential without UV before toggling: 0x%02X", got)
	}
	if err := p.ToggleAlwaysUV(ctx, "1234"); err != nil {
		t.Fatalf("ToggleAlwaysUV: %v", err)
	}
	info, _ := p.session(ctx)
	if !info.Options["alwaysUv"] || info.Options["makeCredUvNotRqd"] {
		t.Errorf("options after toggle: %v", info.Options)
	}
	if got := mc(k); got != ctapPUATRequired {
		t.Errorf("makeCredential without UV: 0x%02X, want PUAT_REQUIRED", got)
	}
	if got := u2fRegister(k); got != "6985" {
		t.Errorf("U2F register with alwaysUv: %s", got)
	}
	if err := p.ToggleAlwaysUV(ctx, "1234"); err != nil {
		t.Fatalf("ToggleAlwaysUV back: %v", err)
	}
	if got := mc(k); got != ctapOK {
		t.Errorf("makeCredential after toggling back: 0x%02X", got)
	}

	// A FIPS 140-3 key has it permanently, and wants 8-character PINs.
	fips := newTestKey(t, WithModel(YubiKey5CNFCFIPS))
	fp := NewPlatform(fips)
	if fips.Firmware() != (Version{5, 7, 4}) {
		t.Errorf("FIPS firmware %v", fips.Firmware())
	}
	if got := mc(fips); got != ctapPINNotSet {
		t.Errorf("FIPS makeCredential without a PIN: 0x%02X, want PIN_NOT_SET", got)
	}
	if err := fp.SetPIN(ctx, "1234567"); !errors.Is(err, ErrPINPolicyViolation) {
		t.Errorf("FIPS 7-digit PIN: err = %v, want ErrPINPolicyViolation", err)
	}
	if err := fp.SetPIN(ctx, "12345678"); err != nil {
		t.Fatalf("FIPS SetPIN: %v", err)
	}
	if err := fp.ToggleAlwaysUV(ctx, "12345678"); !errors.Is(err, ErrOperationDenied) {
		t.Errorf("FIPS toggle: err = %v, want ErrOperationDenied", err)
	}
	opts := protocol.PublicKeyCredentialCreationOptions{
		RelyingParty: protocol.RelyingPartyEntity{ID: rp}, User: protocol.UserEntity{ID: []byte{1}}, Challenge: cdh,
		AuthenticatorSelection: protocol.AuthenticatorSelection{UserVerification: protocol.VerificationDiscouraged},
	}
	if _, err := fp.CreateCredential(ctx, "https://a.example", opts, ""); !errors.Is(err, ErrPINRequired) {
		t.Errorf("FIPS CreateCredential without PIN: err = %v, want ErrPINRequired", err)
	}
	if _, err := fp.CreateCredential(ctx, "https://a.example", opts, "12345678"); err != nil {
		t.Errorf("FIPS CreateCredential with PIN: %v", err)
	}
}

// TestTokenSpentByCeremony checks CTAP 2.1's
// clearPinUvAuthTokenPermissionsExceptLbw: a token authorizes one
// ceremony with user presence; silent (up=false) probes do not spend it.
func TestTokenSpentByCeremony(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	_, p := newPINKey(t)
	rpID := "example.com"
	id := makeRK(t, p, rpID, 1)
	proto, tok := token(t, p, permGetAssertion, rpID)
	cdh := make([]byte, 32)
	assert := func(up bool) error {
		req := getAssertionRequest{
			RPID: &rpID, ClientDataHash: cdh, AllowList: []credDescriptor{{Type: "public-key", ID: id}},
			Options: map[string]bool{"up": up}, Protocol: &proto, PinUvAuth: pinAuthenticate(proto, tok, cdh),
		}
		return p.ctap(ctx, cmdGetAssertion, req, nil)
	}
	if err := assert(false); err != nil {
		t.Fatalf("silent probe: %v", err)
	}
	if err := assert(true); err != nil {
		t.Fatalf("assertion after a probe: %v", err)
	}
	if err := assert(true); !errors.Is(err, ErrPINAuthInvalid) {
		t.Errorf("second assertion with the same token = %v, want ErrPINAuthInvalid", err)
	}

	// A token is bound to the PIN/UV auth protocol it was issued under.
	proto, tok = token(t, p, permGetAssertion, rpID)
	proto = 3 - proto // 2 ↔ 1
	if err := assert(false); !errors.Is(err, ErrPINAuthInvalid) {
		t.Errorf("token used with the other PIN protocol = %v, want ErrPINAuthInvalid", err)
	}

	proto, tok = token(t, p, permMakeCredential|permGetAssertion, rpID)
	req := makeCredentialRequest{
		ClientDataHash: cdh, RP: &rpEntity{ID: &rpID}, User: &userEntity{ID: []byte{2}},
		Params: []credParam{{coseES256, "public-key"}}, Protocol: &proto, PinUvAuth: pinAuthenticate(proto, tok, cdh),
	}
	if err := p.ctap(ctx, cmdMakeCredential, req, nil); err != nil {
		t.Fatalf("makeCredential: %v", err)
	}
	if err := assert(true); !errors.Is(err, ErrPINAuthInvalid) {
		t.Errorf("assertion with a token spent by makeCredential = %v, want ErrPINAuthInvalid", err)
	}
}

// TestU2FRefusesCredProtectRequired checks that U2F, which has no user
// verification, cannot use a credential whose credProtect requires it.
func TestU2FRefusesCredProtectRequired(t *testing.T) {
	t.Parallel()
	for _, level := range []int{2, 3} {
		k := newTestKey(t)
		rpID := "example.com"
		cdh := sha256.Sum256([]byte("client data"))
		mc := makeCredentialRequest{
			ClientDataHash: cdh[:], RP: &rpEntity{ID: &rpID}, User: &userEntity{ID: []byte{1}},
			Params:     []credParam{{coseES256, "public-key"}},
			Extensions: map[string]cbor.RawMessage{"credProtect": mustCBOR(t, level)},
		}
		resp, err := k.CTAP(append([]byte{cmdMakeCredential}, mustCBOR(t, mc)...))
		if err != nil || resp[0] != ctapOK {
			t.Fatalf("makeCredential(credProtect %d): %x, %v", level, resp, err)
		}
		var out makeCredentialResponse
		if err := cbor.Unmarshal(resp[1:], &out); err != nil {
			t.Fatal(err)
		}
		ad, err := parseAttestedAuthData(out.AuthData)
		if err != nil {
			t.Fatal(err)
		}
		transmitHex(t, k, "00A4040008A0000006472F0001")
		app := sha256.Sum256([]byte(rpID))
		auth := append(append(append(cdh[:], app[:]...), byte(len(ad.credID))), ad.credID...)
		resp, err = k.Transmit(encodeAPDU(0, insU2FAuthenticate, u2fEnforceUP, 0, auth, 256))
		if err != nil {
			t.Fatal(err)
		}
		_, sw, _ := splitSW(resp)
		want := swOK
		if level == 3 {
			want = swIncorrectData
		}
		if sw != want {
			t.Errorf("U2F authenticate with a credProtect %d credential: SW %04X, want %04X", level, sw, want)
		}
	}
}

// TestCredKeyCOSE checks the fixed-layout ES256 COSE_Key encoding against
// the CBOR library's CTAP2 canonical encoding of the same key, and the
// EdDSA one against its coseKey.
func TestCredKeyCOSE(t *testing.T) {
	for i := range 20 {
		seed := make([]byte, 32)
		seed[0], seed[31] = byte(i+1), byte(i*7)
		for _, alg := range []int{coseES256, coseEdDSA} {
			k, err := newCredKey(alg, seed)
			if err != nil {
				t.Fatal(err)
			}
			got, err := k.cose()
			if err != nil {
				t.Fatal(err)
			}
			var want coseKey
			if alg == coseES256 {
				pub, err := k.ec.PublicKey.Bytes()
				if err != nil {
					t.Fatal(err)
				}
				want = coseKey{Kty: 2, Alg: coseES256, Crv: 1, X: pub[1:33], Y: pub[33:]}
			} else {
				want = coseKey{Kty: 1, Alg: coseEdDSA, Crv: 6, X: k.ed.Public().(ed25519.PublicKey)}
			}
			wantB, err := ctapEnc.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, wantB) {
				t.Errorf("alg %d seed %d: cose() = %x, want %x", alg, i, got, wantB)
			}
		}
	}
}

// TestSharedSecretProtocol2 checks protocol 2's shared secret against
// CTAP 2.1 §6.5.7 written out with crypto/hkdf: HKDF-SHA-256 with 32 zero
// bytes of salt, the HMAC key then the AES key; protocol 1's is SHA-256.
func TestSharedSecretProtocol2(t *testing.T) {
	z := sha256.Sum256([]byte("ECDH x coordinate"))
	salt := make([]byte, 32)
	hk, err := hkdf.Key(sha256.New, z[:], salt, "CTAP2 HMAC key", 32)
	if err != nil {
		t.Fatal(err)
	}
	ak, err := hkdf.Key(sha256.New, z[:], salt, "CTAP2 AES key", 32)
	if err != nil {
		t.Fatal(err)
	}
	got, err := sharedSecret(2, z[:])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(append(hk, ak...), got); diff != "" {
		t.Errorf("protocol 2 (-want +got):\n%s", diff)
	}
	h := sha256.Sum256(z[:])
	got1, err := sharedSecret(1, z[:])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(h[:], got1); diff != "" {
		t.Errorf("protocol 1 (-want +got):\n%s", diff)
	}
}

// TestAttestedSPKI checks the SubjectPublicKeyInfo the platform reports
// (response.publicKey) against x509.MarshalPKIXPublicKey.
func TestAttestedSPKI(t *testing.T) {
	seed := sha256.Sum256([]byte("credential"))
	for _, alg := range []int{coseES256, coseEdDSA} {
		k, err := newCredKey(alg, seed[:])
		if err != nil {
			t.Fatal(err)
		}
		cose, err := k.cose()
		if err != nil {
			t.Fatal(err)
		}
		ad := make([]byte, 37+16)
		ad[32] = flagAT
		ad = append(ad, 0, 1, 0xAA)
		ad = append(ad, cose...)
		parsed, err := parseAttestedAuthData(ad)
		if err != nil {
			t.Fatal(err)
		}
		var pub any
		if alg == coseES256 {
			pub = &k.ec.PublicKey
		} else {
			pub = k.ed.Public()
		}
		want, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, parsed.spki); diff != "" {
			t.Errorf("alg %d (-x509 +platform):\n%s", alg, diff)
		}
	}
}

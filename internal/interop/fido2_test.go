//go:build pcsc

package interop

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/preenroll/preenroll/internal/pcsctest"
	"github.com/preenroll/preenroll/internal/simtest"
	"github.com/preenroll/preenroll/internal/testproc"
	"github.com/preenroll/preenroll/simulator"
)

// systemPython is Debian's interpreter, which sees the python3-fido2
// package (a python3 earlier in PATH may not).
const systemPython = "/usr/bin/python3"

const (
	rpID     = "example.com"
	rpOrigin = "https://example.com"
)

// pythonFIDO2 runs a WebAuthn ceremony with testdata/fido2_client.py and
// returns its JSON output.
func pythonFIDO2(t *testing.T, st *pcsctest.Stack, mode string, publicKey any, pin string) []byte {
	t.Helper()
	return runFIDO2Script(t, st, mode, map[string]any{"origin": rpOrigin, "pin": pin, "reader": st.ReaderName(0), "publicKey": publicKey})
}

// runFIDO2Script runs testdata/fido2_client.py in mode with req on stdin.
func runFIDO2Script(t *testing.T, st *pcsctest.Stack, mode string, req map[string]any) []byte {
	t.Helper()
	if _, err := exec.LookPath(systemPython); err != nil {
		requireOrSkip(t, systemPython+" missing")
	}
	if err := testproc.Run(t, exec.Command(systemPython, "-c", "import fido2.pcsc")); err != nil {
		requireOrSkip(t, "python3-fido2 missing (apt-get install python3-fido2)")
	}
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, systemPython, filepath.Join("testdata", "fido2_client.py"), mode)
	cmd.Env = st.Env()
	cmd.Stdin = bytes.NewReader(body)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := testproc.Output(t, cmd)
	if err != nil {
		t.Fatalf("fido2_client.py %s: %v\n%s", mode, err, stderr.String())
	}
	return out
}

// TestPythonFIDO2 registers and signs in with python-fido2's Fido2Client, an
// unmodified CTAP2 client, talking to the simulated key over PC/SC with a
// PIN; go-webauthn verifies both results, including the attestation chain
// to the simulator's FIDO root.
func TestPythonFIDO2(t *testing.T) {
	for _, m := range []simulator.Model{simulator.YubiKey5NFC, simulator.YubiKey5NFCFIPS} {
		t.Run(m.String(), func(t *testing.T) { testPythonFIDO2(t, m) })
	}
}

// testPythonFIDO2 is TestPythonFIDO2 for one model. The FIPS series has
// alwaysUv on and needs PINs of at least 8 characters.
func testPythonFIDO2(t *testing.T, model simulator.Model) {
	st := pcsctest.Start(t, pcsctest.Options{ReaderName: pcsctest.NFCReader})
	k := newKey(t, simulator.WithModel(model))
	const pin = "4831-pin"
	if err := simulator.NewPlatform(k).SetPIN(t.Context(), pin); err != nil {
		t.Fatalf("SetPIN: %v", err)
	}
	st.Insert(t, 0, k)

	rp := simtest.NewRP(t, rpID, rpOrigin, simulator.DefaultFIDOCA().Root(), k.AAGUID())
	user := &simtest.User{ID: []byte("user-handle-0001")}

	creation, session, err := rp.BeginRegistration(user,
		webauthn.WithConveyancePreference(protocol.PreferDirectAttestation),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{UserVerification: protocol.VerificationRequired}),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired))
	if err != nil {
		t.Fatalf("BeginRegistration: %v", err)
	}
	out := pythonFIDO2(t, st, "make-credential", creation.Response, pin)
	cred, err := simtest.FinishRegistration(rp, user, session, out)
	if err != nil {
		t.Fatalf("python-fido2's attestation %s: %v", out, err)
	}
	if cred.AttestationFormat != "packed" || cred.AttestationType != "basic_full" {
		t.Errorf("attestation %s/%s, want packed/basic_full", cred.AttestationFormat, cred.AttestationType)
	}
	if got, err := uuid.FromBytes(cred.Authenticator.AAGUID); err != nil || got != k.AAGUID() {
		t.Errorf("AAGUID %v, want the key's %v", got, k.AAGUID())
	}
	if !cred.Flags.UserPresent || !cred.Flags.UserVerified {
		t.Errorf("registration flags %+v, want UP and UV (PIN)", cred.Flags)
	}
	user.Creds = append(user.Creds, *cred)

	// The discoverable credential python-fido2 made is what ykman lists
	// through credentialManagement.
	out = []byte(ykman(t, st, "", "--reader", st.ReaderName(0), "fido", "credentials", "list", "--pin", pin))
	if !bytes.Contains(out, []byte(rpID)) || !bytes.Contains(out, []byte("alice@example.com")) {
		t.Errorf("ykman fido credentials list = %q, want the %s credential of alice@example.com", out, rpID)
	}

	assertion, lsession, err := rp.BeginLogin(user, webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		t.Fatalf("BeginLogin: %v", err)
	}
	out = pythonFIDO2(t, st, "get-assertion", assertion.Response, pin)
	got, err := simtest.FinishLogin(rp, user, lsession, out)
	if err != nil {
		t.Fatalf("python-fido2's assertion %s: %v", out, err)
	}
	if !got.Flags.UserVerified || got.Authenticator.CloneWarning || got.Authenticator.SignCount <= cred.Authenticator.SignCount {
		t.Errorf("login: UV %v, clone warning %v, sign count %d after %d; want UV, no warning, a higher count",
			got.Flags.UserVerified, got.Authenticator.CloneWarning, got.Authenticator.SignCount, cred.Authenticator.SignCount)
	}
}

// TestFIDOPINAuthBlocked checks CTAP2's PIN lockout through python-fido2 on
// one PC/SC connection: the third wrong PIN in a row blocks PIN use until a
// power cycle (CTAP 2.1 §6.5.5.7), which pulling the key out of the reader
// and putting it back provides.
func TestFIDOPINAuthBlocked(t *testing.T) {
	st := pcsctest.Start(t, pcsctest.Options{ReaderName: pcsctest.NFCReader})
	k := newKey(t)
	const pin = "4831-pin"
	if err := simulator.NewPlatform(k).SetPIN(t.Context(), pin); err != nil {
		t.Fatalf("SetPIN: %v", err)
	}
	v := st.Insert(t, 0, k)

	type attempts struct {
		Results            []int
		Retries            int
		PowerCycleRequired bool
	}
	try := func(pins ...string) attempts {
		t.Helper()
		out := runFIDO2Script(t, st, "pin-attempts", map[string]any{"reader": st.ReaderName(0), "rpId": rpID, "pins": pins})
		var a attempts
		if err := json.Unmarshal(out, &a); err != nil {
			t.Fatalf("pin-attempts output %q: %v", out, err)
		}
		return a
	}
	const (
		pinInvalid     = 0x31 // CTAP2_ERR_PIN_INVALID
		pinAuthBlocked = 0x34 // CTAP2_ERR_PIN_AUTH_BLOCKED
	)
	got := try("0000-bad", "0000-bad", "0000-bad", pin)
	want := attempts{Results: []int{pinInvalid, pinInvalid, pinAuthBlocked, pinAuthBlocked}, Retries: 5, PowerCycleRequired: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("three wrong PINs, then the right one (-want +got):\n%s", diff)
	}

	setPresent(t, st, 0, v, false)
	setPresent(t, st, 0, v, true)
	got = try(pin)
	want = attempts{Results: []int{0}, Retries: 8}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after remove and re-insert (-want +got):\n%s", diff)
	}
}

// TestHMACSecretCrossClient evaluates the hmac-secret extension of one
// credential with two independent CTAP2 clients: python-fido2 over PC/SC and
// the simulator's own Platform in-process. Both must get the same secrets:
// the key's output depends only on the credential, the salt and UV, not on
// the client's PIN/UV protocol session.
func TestHMACSecretCrossClient(t *testing.T) {
	st := pcsctest.Start(t, pcsctest.Options{ReaderName: pcsctest.NFCReader})
	k := newKey(t)
	const pin = "4831-pin"
	plat := simulator.NewPlatform(k)
	if err := plat.SetPIN(t.Context(), pin); err != nil {
		t.Fatalf("SetPIN: %v", err)
	}
	st.Insert(t, 0, k)

	salt1, salt2 := bytes.Repeat([]byte{0x11}, 32), bytes.Repeat([]byte{0x22}, 32)
	b64 := base64.RawURLEncoding.EncodeToString
	out := runFIDO2Script(t, st, "hmac-secret", map[string]any{
		"origin": rpOrigin, "reader": st.ReaderName(0), "pin": pin, "rpId": rpID,
		"salt1": b64(salt1), "salt2": b64(salt2),
	})
	type outputs struct {
		Output1 protocol.URLEncodedBase64 `json:"output1"`
		Output2 protocol.URLEncodedBase64 `json:"output2"`
	}
	var py struct {
		CredentialID     protocol.URLEncodedBase64 `json:"credentialId"`
		HMACCreateSecret bool                      `json:"hmacCreateSecret"`
		First, Second    outputs
	}
	if err := json.Unmarshal(out, &py); err != nil {
		t.Fatalf("hmac-secret output %q: %v", out, err)
	}
	if !py.HMACCreateSecret {
		t.Error("python-fido2: hmacCreateSecret not confirmed by the key")
	}
	if len(py.First.Output1) != 32 || !bytes.Equal(py.First.Output1, py.Second.Output1) ||
		len(py.Second.Output2) != 32 || bytes.Equal(py.Second.Output1, py.Second.Output2) {
		t.Fatalf("python-fido2 outputs: first %X, second %X / %X; want 32-byte output1 equal across calls, output2 different",
			py.First.Output1, py.Second.Output1, py.Second.Output2)
	}

	opts := protocol.PublicKeyCredentialRequestOptions{
		Challenge:          bytes.Repeat([]byte{0x33}, 32),
		RelyingPartyID:     rpID,
		AllowedCredentials: []protocol.CredentialDescriptor{{Type: protocol.PublicKeyCredentialType, CredentialID: py.CredentialID}},
		UserVerification:   protocol.VerificationRequired,
		Extensions:         protocol.AuthenticationExtensions{HMACGetSecret: protocol.HMACGetSecretInputs{Salt1: salt1, Salt2: salt2}},
	}
	resp, err := plat.GetAssertion(t.Context(), rpOrigin, opts, pin)
	if err != nil {
		t.Fatalf("Platform.GetAssertion: %v", err)
	}
	var goSide struct {
		ClientExtensionResults struct {
			HMACGetSecret outputs `json:"hmacGetSecret"`
		} `json:"clientExtensionResults"`
	}
	if err := json.Unmarshal(resp, &goSide); err != nil {
		t.Fatalf("Platform response %s: %v", resp, err)
	}
	if diff := cmp.Diff(py.Second, goSide.ClientExtensionResults.HMACGetSecret); diff != "" {
		t.Errorf("hmac-secret outputs, python-fido2 vs Platform (-python +platform):\n%s", diff)
	}
}

// TestPythonU2F runs FIDO U2F (CTAP1) through python-fido2's Ctap1 over
// PC/SC; python-fido2 checks the registration and authentication signatures.
func TestPythonU2F(t *testing.T) {
	st := pcsctest.Start(t, pcsctest.Options{ReaderName: pcsctest.NFCReader})
	st.Insert(t, 0, newKey(t))
	out := runFIDO2Script(t, st, "u2f", map[string]any{"reader": st.ReaderName(0)})
	type result struct {
		Version         string
		KeyHandleLength int
		Counters        []int
		UserPresence    []int
		CheckOnlySW     int
		WrongAppSW      int
	}
	var got result
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("u2f output %q: %v", out, err)
	}
	if got.KeyHandleLength == 0 || got.KeyHandleLength > 255 {
		t.Errorf("key handle of %d bytes, want 1..255", got.KeyHandleLength)
	}
	if len(got.Counters) != 2 || got.Counters[1] <= got.Counters[0] {
		t.Errorf("counters %v, want two increasing values", got.Counters)
	}
	got.KeyHandleLength, got.Counters = 0, nil
	want := result{
		Version:      "U2F_V2",
		UserPresence: []int{1, 1},
		CheckOnlySW:  0x6985, // valid key handle: "test of user presence required"
		WrongAppSW:   0x6A80, // key handle not for this application
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("U2F (-want +got):\n%s", diff)
	}
}

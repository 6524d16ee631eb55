//go:build pcsc

package interop

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/preenroll/preenroll/internal/pcsctest"
	"github.com/preenroll/preenroll/internal/testproc"
	"github.com/preenroll/preenroll/simulator"
)

// ykman runs yubikey-manager with the harness's pcscd and returns stdout. It
// fails the test on a non-zero exit unless wantErr.
func ykman(t *testing.T, st *pcsctest.Stack, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := runYkman(t, st, stdin, args...)
	if err != nil {
		t.Fatalf("ykman %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

func runYkman(t *testing.T, st *pcsctest.Stack, stdin string, args ...string) (string, string, error) {
	t.Helper()
	return runProgram(t, st, stdin, "yubikey-manager", "ykman", args...)
}

// runProgram runs a PC/SC client (from Debian package pkg) with the
// harness's pcscd and returns its stdout and stderr. It skips t, or fails
// it under PREENROLL_REQUIRE_PCSC=1, when the program is missing.
func runProgram(t *testing.T, st *pcsctest.Stack, stdin, pkg, name string, args ...string) (string, string, error) {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		requireOrSkip(t, name+" missing (apt-get install "+pkg+")")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = st.Env()
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = testproc.Run(t, cmd)
	return stdout.String(), stderr.String(), err
}

// wantLines checks that out contains each line (after trimming spaces).
func wantLines(t *testing.T, what, out string, lines ...string) {
	t.Helper()
	have := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		have[strings.Join(strings.Fields(l), " ")] = true
	}
	for _, l := range lines {
		if !have[l] {
			t.Errorf("%s: missing line %q in:\n%s", what, l, out)
		}
	}
}

// TestYkmanCCID runs ykman's smart-card commands against a key in a reader
// named like a YubiKey, as a USB-attached key appears.
func TestYkmanCCID(t *testing.T) {
	st := pcsctest.Start(t, pcsctest.Options{})
	k := newKey(t)
	st.Insert(t, 0, k)
	reader := []string{"--reader", st.ReaderName(0)}

	t.Run("list", func(t *testing.T) {
		out := ykman(t, st, "", "list")
		wantLines(t, "ykman list", out, "YubiKey 5 NFC (5.7.1) [OTP+FIDO+CCID] Serial: 12345678")
	})
	t.Run("two keys", func(t *testing.T) {
		second, err := simulator.New(simulator.WithSerial(87654321), simulator.WithModel(simulator.YubiKey5CNFC))
		if err != nil {
			t.Fatalf("simulator.New: %v", err)
		}
		v := st.Insert(t, 1, second)
		out := ykman(t, st, "", "list", "--serials")
		wantLines(t, "ykman list --serials", out, "12345678", "87654321")
		out = ykman(t, st, "", "--device", "87654321", "info")
		wantLines(t, "ykman --device 87654321 info", out, "Device type: YubiKey 5C NFC", "Serial number: 87654321")
		setPresent(t, st, 1, v, false) // the other subtests expect one key
	})
	t.Run("info", func(t *testing.T) {
		out := ykman(t, st, "", append(reader, "info")...)
		wantLines(t, "ykman info", out,
			"Device type: YubiKey 5 NFC",
			"Serial number: 12345678",
			"Firmware version: 5.7.1",
			"Form factor: Keychain (USB-A)",
		)
		// The same through discovery by serial.
		out = ykman(t, st, "", "--device", "12345678", "info")
		wantLines(t, "ykman --device info", out, "Serial number: 12345678")
	})
	t.Run("piv info", func(t *testing.T) {
		out := ykman(t, st, "", append(reader, "piv", "info")...)
		wantLines(t, "ykman piv info", out,
			"PIV version: 5.7.1",
			"WARNING: Using default PIN!",
			"PIN tries remaining: 3/3",
			"WARNING: Using default Management key!",
		)
	})

	var generated *ecdsa.PublicKey
	t.Run("piv keys generate", func(t *testing.T) {
		out := ykman(t, st, "", append(reader, "piv", "keys", "generate",
			"--algorithm", "ECCP256", "--pin-policy", "ONCE", "--touch-policy", "NEVER",
			"--management-key", "010203040506070801020304050607080102030405060708", "9a", "-")...)
		pub, err := x509.ParsePKIXPublicKey(pemDER(t, "ykman piv keys generate", out))
		generated = p256Key(t, "ykman piv keys generate", pub, err)
	})
	t.Run("piv keys attest", func(t *testing.T) {
		if generated == nil {
			t.Skip("no key generated")
		}
		out := ykman(t, st, "", append(reader, "piv", "keys", "attest", "9a", "-")...)
		slotCert, err := x509.ParseCertificate(pemDER(t, "ykman piv keys attest", out))
		if err != nil {
			t.Fatalf("attestation: %v", err)
		}
		if !generated.Equal(slotCert.PublicKey) {
			t.Error("ykman attested a different key than it generated")
		}
		// Check the chain and Yubico's extensions with piv-go's verifier,
		// the F9 certificate read from the same key.
		out = ykman(t, st, "", append(reader, "piv", "certificates", "export", "f9", "-")...)
		attCert, err := x509.ParseCertificate(pemDER(t, "ykman piv certificates export f9", out))
		if err != nil {
			t.Fatalf("F9 certificate: %v", err)
		}
		att := verifyAttestation(t, attCert, slotCert)
		if att.Serial != testSerial || att.Slot != piv.SlotAuthentication || att.PINPolicy != piv.PINPolicyOnce {
			t.Errorf("attestation = %+v, want serial %d, slot 9a, PIN policy once", att, testSerial)
		}
	})
	t.Run("piv access change-pin and reset", func(t *testing.T) {
		ykman(t, st, "", append(reader, "piv", "access", "change-pin", "--pin", "123456", "--new-pin", "654321")...)
		out := ykman(t, st, "", append(reader, "piv", "info")...)
		if strings.Contains(out, "Using default PIN") {
			t.Errorf("ykman piv info after change-pin still warns about the default PIN:\n%s", out)
		}
		ykman(t, st, "", append(reader, "piv", "reset", "-f")...)
		out = ykman(t, st, "", append(reader, "piv", "info")...)
		// Firmware 5.7 resets the management key to AES-192.
		wantLines(t, "ykman piv info after reset", out,
			"WARNING: Using default PIN!",
			"PIN tries remaining: 3/3",
			"WARNING: Using default Management key!",
			"Management key algorithm: AES192",
		)
	})
}

// TestYkmanFIDO runs ykman's FIDO commands. ykman reaches FIDO over PC/SC
// only for keys it believes are on an NFC reader (a reader whose name lacks
// "Yubico YubiKey"), so this stack uses a neutral reader name.
func TestYkmanFIDO(t *testing.T) {
	st := pcsctest.Start(t, pcsctest.Options{ReaderName: pcsctest.NFCReader})
	k := newKey(t)
	st.Insert(t, 0, k)
	reader := []string{"--reader", st.ReaderName(0)}

	out := ykman(t, st, "", append(reader, "fido", "info")...)
	wantLines(t, "ykman fido info (no PIN)", out, "PIN is not set.")

	ctx := t.Context()
	if err := simulator.NewPlatform(k).SetPIN(ctx, "1234"); err != nil {
		t.Fatalf("SetPIN: %v", err)
	}
	out = ykman(t, st, "", append(reader, "fido", "info")...)
	wantLines(t, "ykman fido info", out, "PIN is set, with 8 attempt(s) remaining.")

	ykman(t, st, "", append(reader, "fido", "access", "change-pin", "--pin", "1234", "--new-pin", "5678")...)
	p := simulator.NewPlatform(k)
	if err := p.ChangePIN(ctx, "5678", "1234"); err != nil {
		t.Errorf("the PIN ykman set does not work: ChangePIN(new, old) = %v", err)
	}

	// A wrong old PIN is refused and counted.
	if _, errOut, err := runYkman(t, st, "", append(reader, "fido", "access", "change-pin", "--pin", "0000", "--new-pin", "5678")...); err == nil {
		t.Error("change-pin with a wrong PIN succeeded")
	} else if !strings.Contains(strings.ToLower(errOut), "pin") {
		t.Errorf("change-pin with a wrong PIN: stderr %q does not mention the PIN", errOut)
	}
	out = ykman(t, st, "", append(reader, "fido", "info")...)
	wantLines(t, "ykman fido info after a wrong PIN", out, "PIN is set, with 7 attempt(s) remaining.")
}

// TestYkmanFIPS checks what ykman shows for a FIPS-series key: model name,
// firmware 5.7.4, alwaysUv on, and the 8-character minimum FIDO PIN.
func TestYkmanFIPS(t *testing.T) {
	st := pcsctest.Start(t, pcsctest.Options{ReaderName: pcsctest.NFCReader})
	st.Insert(t, 0, newKey(t, simulator.WithModel(simulator.YubiKey5NFCFIPS)))
	reader := []string{"--reader", st.ReaderName(0)}

	out := ykman(t, st, "", append(reader, "info")...)
	wantLines(t, "ykman info", out, "Device type: YubiKey 5 NFC FIPS", "Firmware version: 5.7.4")
	out = ykman(t, st, "", append(reader, "fido", "info")...)
	wantLines(t, "ykman fido info", out, "PIN is not set.", "Always Require User Verification is turned on.")

	// ykman refuses it itself, from getInfo's minPINLength (8).
	if _, errOut, err := runYkman(t, st, "", append(reader, "fido", "access", "change-pin", "--new-pin", "1234")...); err == nil {
		t.Error("a 4-character FIDO PIN was accepted by a FIPS key (minimum 8)")
	} else if !strings.Contains(errOut, "too short") {
		t.Errorf("change-pin with a short PIN: stderr %q, want ykman's \"too short\"", errOut)
	}
	ykman(t, st, "", append(reader, "fido", "access", "change-pin", "--new-pin", "12345678")...)
	out = ykman(t, st, "", append(reader, "fido", "info")...)
	wantLines(t, "ykman fido info after setting the PIN", out, "PIN is set, with 8 attempt(s) remaining.")
}

//go:build pcsc

package interop

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/preenroll/preenroll/internal/pcsctest"
	"github.com/preenroll/preenroll/simulator"
)

const defaultMgmtKey = "010203040506070801020304050607080102030405060708"

// ykmanKey starts a stack with a fresh key in slot 0 and returns a
// function that prefixes ykman arguments with that slot's --reader.
func ykmanKey(t *testing.T) (*pcsctest.Stack, *simulator.Key, func(args ...string) []string) {
	t.Helper()
	st := pcsctest.Start(t, pcsctest.Options{})
	k := newKey(t)
	st.Insert(t, 0, k)
	reader := st.ReaderName(0)
	return st, k, func(args ...string) []string { return append([]string{"--reader", reader}, args...) }
}

// ykmanFails runs ykman expecting a non-zero exit whose output contains
// want.
func ykmanFails(t *testing.T, st *pcsctest.Stack, want string, args ...string) {
	t.Helper()
	out, errOut, err := runYkman(t, st, "", args...)
	if err == nil {
		t.Errorf("ykman %s succeeded, want it to fail with %q:\n%s", strings.Join(args, " "), want, out)
		return
	}
	if !strings.Contains(out+errOut, want) {
		t.Errorf("ykman %s: output does not contain %q:\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), want, out, errOut)
	}
}

// TestYkmanConfig switches applications on and off over USB with
// "ykman config usb" (WRITE CONFIG), with and without a lock code.
func TestYkmanConfig(t *testing.T) {
	st, k, cmd := ykmanKey(t)

	// The key advertises only what it hosts, so ykman itself refuses
	// applications the simulator does not implement.
	ykmanFails(t, st, "OATH not supported over USB on this YubiKey", cmd("config", "usb", "--disable", "OATH", "-f")...)

	ykman(t, st, "", cmd("config", "usb", "--disable", "PIV", "-f")...)
	if got := k.Snapshot().USBEnabled; got != simulator.CapU2F|simulator.CapFIDO2 {
		t.Errorf("USB enabled after --disable PIV = %s, want U2F|FIDO2", got)
	}
	out := ykman(t, st, "", cmd("config", "usb", "--list")...)
	if strings.Contains(out, "PIV") || !strings.Contains(out, "FIDO2") {
		t.Errorf("ykman config usb --list after --disable PIV:\n%s", out)
	}
	if _, _, err := runYkman(t, st, "", cmd("piv", "info")...); err == nil {
		t.Error("ykman piv info succeeded with PIV disabled over USB")
	}
	ykman(t, st, "", cmd("config", "usb", "--enable", "PIV", "-f")...)
	out = ykman(t, st, "", cmd("piv", "info")...)
	wantLines(t, "ykman piv info after --enable PIV", out, "PIV version: 5.7.1")

	// A lock code guards the configuration.
	const lockCode = "00112233445566778899aabbccddeeff"
	ykman(t, st, "", cmd("config", "set-lock-code", "--new-lock-code", lockCode, "-f")...)
	if !k.Snapshot().ConfigLocked {
		t.Fatal("set-lock-code left the configuration unlocked")
	}
	ykmanFails(t, st, "Configuration is locked", cmd("config", "usb", "--disable", "PIV", "-f")...)
	ykmanFails(t, st, "Failed to configure USB applications", cmd("config", "usb", "--disable", "PIV", "-f", "--lock-code", strings.Repeat("0", 32))...)
	ykman(t, st, "", cmd("config", "usb", "--disable", "PIV", "-f", "--lock-code", lockCode)...)
	if got := k.Snapshot().USBEnabled; got&simulator.CapPIV != 0 {
		t.Errorf("USB enabled = %s, want PIV disabled with the right lock code", got)
	}
	ykman(t, st, "", cmd("config", "set-lock-code", "--lock-code", lockCode, "--clear", "-f")...)
	ykman(t, st, "", cmd("config", "usb", "--enable-all", "-f")...)
	if st := k.Snapshot(); st.ConfigLocked || st.USBEnabled != simulator.CapU2F|simulator.CapPIV|simulator.CapFIDO2 {
		t.Errorf("after clearing the lock code and --enable-all: locked %v, USB enabled %s", st.ConfigLocked, st.USBEnabled)
	}
}

// TestYkmanPIVObjectsAndManagementKey stores an object outside the PIV
// range with "ykman piv objects import", and changes the management key's
// algorithm while keeping the default bytes, which "ykman piv info" must
// then no longer call default.
func TestYkmanPIVObjectsAndManagementKey(t *testing.T) {
	st, k, cmd := ykmanKey(t)

	const blob = "arbitrary object 5f0001"
	ykman(t, st, blob, cmd("piv", "objects", "import", "--management-key", defaultMgmtKey, "5f0001", "-")...)
	if got := ykman(t, st, "", cmd("piv", "objects", "export", "5f0001", "-")...); got != blob {
		t.Errorf("ykman piv objects export 5f0001 = %q, want %q", got, blob)
	}

	ykman(t, st, "", cmd("piv", "access", "change-management-key", "--management-key", defaultMgmtKey,
		"--algorithm", "TDES", "--new-management-key", defaultMgmtKey, "-f")...)
	out := ykman(t, st, "", cmd("piv", "info")...)
	wantLines(t, "ykman piv info after changing the algorithm", out, "Management key algorithm: TDES")
	if strings.Contains(out, "Using default Management key") {
		t.Errorf("ykman piv info calls a TDES key default on a 5.7 key (factory AES-192):\n%s", out)
	}
	if st := k.Snapshot().PIV; st.DefaultManagementKey || st.ManagementKeyAlgorithm != 0x03 {
		t.Errorf("PIV state: default %v, algorithm %#x; want not default, 3DES", st.DefaultManagementKey, st.ManagementKeyAlgorithm)
	}
}

// TestYubicoPIVToolOldFirmware runs Debian's yubico-piv-tool 2.2.0, which
// authenticates with a 3DES management key, against a key with firmware
// 5.4.3 (3DES default), and against 5.7.1 (AES-192 default), where the
// 3DES authentication fails as it does on a real 5.7 key.
func TestYubicoPIVToolOldFirmware(t *testing.T) {
	st := pcsctest.Start(t, pcsctest.Options{})
	k := newKey(t, simulator.WithFirmware(simulator.Version{Major: 5, Minor: 4, Patch: 3}))
	st.Insert(t, 0, k)
	st.Insert(t, 1, newKey(t, simulator.WithSerial(testSerial+1)))
	toolOn := func(slot int, stdin string, args ...string) (string, string, error) {
		return runProgram(t, st, stdin, "yubico-piv-tool", "yubico-piv-tool", append([]string{"--reader", st.ReaderName(slot)}, args...)...)
	}
	tool := func(stdin string, args ...string) (string, string, error) { return toolOn(0, stdin, args...) }

	out, errOut, err := tool("", "-a", "version")
	if err != nil || !strings.Contains(out, "5.4.3") {
		t.Fatalf("yubico-piv-tool -a version: %v\n%s%s", err, out, errOut)
	}
	out, errOut, err = tool("", "-a", "generate", "-s", "9c", "-A", "ECCP256")
	if err != nil {
		t.Fatalf("yubico-piv-tool -a generate: %v\n%s%s", err, out, errOut)
	}
	parsed, err := x509.ParsePKIXPublicKey(pemDER(t, "yubico-piv-tool -a generate", out))
	pub := p256Key(t, "yubico-piv-tool -a generate", parsed, err)
	var in9C *simulator.PIVKeyState
	for _, ks := range k.Snapshot().PIV.Keys {
		if ks.Slot == 0x9C {
			in9C = &ks
		}
	}
	if in9C == nil || !pub.Equal(in9C.PublicKey) {
		t.Errorf("slot 9C holds %+v, not the key yubico-piv-tool printed", in9C)
	}
	if _, errOut, err := tool("object data", "-a", "write-object", "--id", "0x5f0001", "-i", "-", "-f", "binary"); err != nil {
		t.Errorf("yubico-piv-tool -a write-object 0x5f0001: %v\n%s", err, errOut)
	} else if objs := k.Snapshot().PIV.Objects; !slices.Contains(objs, 0x5F0001) {
		t.Errorf("objects after write-object = %X, want 5F0001 among them", objs)
	}

	// The same tool against a 5.7.1 key (AES-192 default) fails to
	// authenticate with 3DES, as against a real 5.7 key.
	if _, _, err := toolOn(1, "", "-a", "generate", "-s", "9c", "-A", "ECCP256"); err == nil {
		t.Error("yubico-piv-tool authenticated with 3DES against a 5.7.1 key (AES-192 default)")
	}
}

// debianMultiarch is Debian's multiarch triplet (the directory under
// /usr/lib of a package's libraries) of each GOARCH Debian ships; the
// module the test loads must be the machine's own, which the test binary
// is built for. https://wiki.debian.org/Multiarch/Tuples
var debianMultiarch = map[string]string{
	"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu", "386": "i386-linux-gnu",
	"arm": "arm-linux-gnueabihf", "ppc64le": "powerpc64le-linux-gnu", "s390x": "s390x-linux-gnu",
	"riscv64": "riscv64-linux-gnu", "mips64le": "mips64el-linux-gnuabi64", "loong64": "loongarch64-linux-gnu",
}

// openscModule returns the path of OpenSC's PKCS#11 module (Debian package
// opensc-pkcs11): /usr/lib/<this machine's multiarch triplet>/opensc-pkcs11.so,
// else the only /usr/lib/*/opensc-pkcs11.so or /usr/lib/opensc-pkcs11.so.
// It skips t when there is none (or several, none of them this machine's),
// or fails it under PREENROLL_REQUIRE_PCSC=1, naming the paths it looked at.
func openscModule(t *testing.T) string {
	t.Helper()
	var looked []string
	if triplet, ok := debianMultiarch[runtime.GOARCH]; ok {
		p := filepath.Join("/usr/lib", triplet, "opensc-pkcs11.so")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		looked = append(looked, p)
	}
	var found []string
	for _, pattern := range []string{"/usr/lib/*/opensc-pkcs11.so", "/usr/lib/opensc-pkcs11.so"} {
		m, _ := filepath.Glob(pattern)
		found = append(found, m...)
		looked = append(looked, pattern)
	}
	if len(found) == 1 {
		return found[0]
	}
	why := "none there"
	if len(found) > 1 {
		why = fmt.Sprintf("several and none for %s: %s", runtime.GOARCH, strings.Join(found, ", "))
	}
	requireOrSkip(t, fmt.Sprintf("OpenSC's PKCS#11 module not found at %s (%s; apt-get install opensc-pkcs11)", strings.Join(looked, " or "), why))
	return ""
}

// TestPKCS11Tool signs through OpenSC's PKCS#11 module (its PIV driver)
// with a key and certificate ykman put on the key.
func TestPKCS11Tool(t *testing.T) {
	module := openscModule(t)
	st := pcsctest.Start(t, pcsctest.Options{})
	k := newKey(t)
	st.Insert(t, 0, k)
	dir := t.TempDir()
	pubPath := filepath.Join(dir, "pub.pem")
	reader := []string{"--reader", st.ReaderName(0)}
	ykman(t, st, "", append(reader, "piv", "keys", "generate", "--algorithm", "ECCP256",
		"--management-key", defaultMgmtKey, "9c", pubPath)...)
	ykman(t, st, "", append(reader, "piv", "certificates", "generate", "--management-key", defaultMgmtKey,
		"--pin", "123456", "--subject", "CN=pkcs11 test", "9c", pubPath)...)

	p11 := func(args ...string) string {
		t.Helper()
		out, errOut, err := runProgram(t, st, "", "opensc", "pkcs11-tool", append([]string{"--module", module}, args...)...)
		if err != nil {
			t.Fatalf("pkcs11-tool %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
		}
		return out
	}
	out := p11("--list-objects")
	if !strings.Contains(out, "Certificate for Digital Signature") || !strings.Contains(out, "CN=pkcs11 test") {
		t.Fatalf("pkcs11-tool --list-objects does not show the 9C certificate:\n%s", out)
	}

	data := []byte("signed through OpenSC")
	digest := sha256.Sum256(data)
	inPath, sigPath := filepath.Join(dir, "digest"), filepath.Join(dir, "sig")
	if err := os.WriteFile(inPath, digest[:], 0o600); err != nil {
		t.Fatal(err)
	}
	p11("--login", "--pin", "123456", "--sign", "--id", "02", "--mechanism", "ECDSA",
		"--signature-format", "sequence", "--input-file", inPath, "--output-file", sigPath)
	sig, sigErr := os.ReadFile(sigPath)
	pemBytes, pemErr := os.ReadFile(pubPath)
	if err := errors.Join(sigErr, pemErr); err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(pemDER(t, "ykman (public key file)", string(pemBytes)))
	if !ecdsa.VerifyASN1(p256Key(t, "ykman (public key file)", pub, err), digest[:], sig) {
		t.Error("the signature pkcs11-tool made does not verify with the key ykman generated")
	}
}

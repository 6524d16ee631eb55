//go:build pcsc

package main

import (
	"bytes"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/preenroll/preenroll/internal/pcsctest"
	"github.com/preenroll/preenroll/simulator"
)

// TestPivcheck runs the admin check on a simulated key in a private pcscd,
// once trusting the simulator's PIV root and once Yubico's real roots
// (which must refuse the simulated key).
func TestPivcheck(t *testing.T) {
	st := pcsctest.Start(t, pcsctest.Options{})
	k, err := simulator.New(simulator.WithSerial(7654321), simulator.WithModel(simulator.YubiKey5CNFC))
	if err != nil {
		t.Fatalf("simulator.New: %v", err)
	}
	// As the pre-registration factory leaves it: PIN set, change forced.
	p := simulator.NewPlatform(k)
	if err := p.SetPIN(t.Context(), "factory-pin"); err != nil {
		t.Fatalf("SetPIN: %v", err)
	}
	if err := p.ForcePINChange(t.Context(), "factory-pin"); err != nil {
		t.Fatalf("ForcePINChange: %v", err)
	}
	st.Insert(t, 0, k)

	roots := filepath.Join(t.TempDir(), "roots.pem")
	pemRoot := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: simulator.DefaultPIVCA().Root().Raw})
	if err := os.WriteFile(roots, pemRoot, 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
	}{
		{
			name:     "empty slot without -generate",
			args:     []string{"-roots", roots},
			wantCode: 1,
			want:     []string{"attestation: NOT verified: slot 9a holds no key (run with -generate to create one)", "result:      FAILED"},
		},
		{
			name:     "simulator root",
			args:     []string{"-roots", roots, "-generate"},
			wantCode: 0,
			want: []string{
				"reader:      " + st.ReaderName(0),
				"model:       YubiKey 5C NFC",
				"serial:      7654321",
				"firmware:    5.7.1",
				"slot 9a:     generated a P-256 key",
				"attestation: verified against 1 given root(s): serial 7654321, firmware 5.7.1, USB-C keychain, PIN policy once, touch policy never",
				"fido2 PIN:   set, 8 retries left, change required: yes",
				"result:      OK",
			},
		},
		{
			name:     "Yubico roots refuse a simulated key",
			args:     []string{"-reader", "YubiKey"},
			wantCode: 1,
			want:     []string{"result:      FAILED"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), tc.args, &stdout, &stderr)
			if code != tc.wantCode {
				t.Errorf("run(%q) = %d, want %d\nstdout:\n%s\nstderr:\n%s", tc.args, code, tc.wantCode, stdout.String(), stderr.String())
			}
			lines := strings.Split(stdout.String(), "\n")
			for _, w := range tc.want {
				found := false
				for _, l := range lines {
					found = found || l == w
				}
				if !found {
					t.Errorf("run(%q): no line %q in:\n%s", tc.args, w, stdout.String())
				}
			}
			if strings.Contains(stdout.String()+stderr.String(), "factory-pin") {
				t.Error("the PIN appears in the output")
			}
		})
	}
}

func TestPivcheckBadFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "x.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing roots file", []string{"-roots", filepath.Join(dir, "none.pem")}, "-roots"},
		{"roots not PEM", []string{"-roots", notPEM}, "no PEM certificates"},
		{"bad management key", []string{"-management-key", "0102"}, "-management-key"},
		{"stray argument", []string{"x"}, "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			if code := run(t.Context(), tc.args, &stdout, &stderr); code != 2 {
				t.Errorf("run(%q) = %d, want 2", tc.args, code)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("run(%q) stderr = %q, want %q", tc.args, stderr.String(), tc.want)
			}
		})
	}
}

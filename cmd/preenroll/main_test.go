package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/preenroll/preenroll/internal/testproc"
)

// TestBinary builds the program and runs it as an administrator would:
// the exit codes and streams of a good and a bad command, and help.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "preenroll")
	testproc.Build(t, "github.com/preenroll/preenroll/cmd/preenroll", bin)
	for _, tc := range []struct {
		args     []string
		env      []string
		code     int
		stdout   string
		stderr   string
		noStdout bool
	}{
		{args: []string{"order"}, code: 0, stdout: "ordered a YubiKey for demo.user@example.com"},
		{args: []string{"order", "-profile", "../../internal/cli/testdata/bad-profile.json"}, code: 1,
			stderr: "preenroll order: the user's Okta profile cannot be shipped to (6 problems):"},
		{args: []string{"batch"}, env: []string{"PREENROLL_CONCURRENCY=0"}, code: 2, noStdout: true,
			stderr: "preenroll batch: 2 problems with the settings:\n  PREENROLL_CONCURRENCY \"0\": want 1 to 64\n  -csv FILE is required"},
		{args: []string{"help", "sync"}, code: 0, stdout: "-yubico-token-file  (PREENROLL_YUBICO_TOKEN_FILE"},
		{args: []string{"version"}, code: 0, stdout: "preenroll "},
		{args: []string{"version"}, env: []string{"PREENROLL_SYNC_INTERVL=5m"}, code: 0, stdout: "preenroll ",
			stderr: "preenroll: warning: PREENROLL_SYNC_INTERVL is not a setting and is ignored; did you mean PREENROLL_SYNC_INTERVAL?\n"},
		{args: []string{"bogus"}, code: 2, noStdout: true, stderr: `preenroll: unknown command "bogus"`},
	} {
		cmd := exec.Command(bin, tc.args...)
		cmd.Env = append(os.Environ(), tc.env...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := testproc.Run(t, cmd)
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code || !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderr) ||
			(tc.noStdout && stdout.Len() > 0) {
			t.Errorf("preenroll %q: exit %d, stdout:\n%s\nstderr:\n%s", tc.args, code, stdout.String(), stderr.String())
		}
	}
}

package cli

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeployEnvFile: deploy/preenroll.env, the systemd unit's settings, is
// a configuration serve accepts as it stands once its files exist (every
// *_FILE setting pointed at a file of the right kind), and every variable
// it names, commented out or not, is a setting (no EnvWarnings).
func TestDeployEnvFile(t *testing.T) {
	t.Parallel()
	f, err := os.Open("../../deploy/preenroll.env")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string]string{ // what each secret's file holds
		"PREENROLL_OKTA_PRIVATE_KEY_FILE":      newServiceKey(t, false).file,
		"PREENROLL_OKTA_TOKEN_FILE":            writeFile(t, "okta.token", "00token"),
		"PREENROLL_YUBICO_TOKEN_FILE":          writeFile(t, "yubico.token", "yubico-token"),
		"PREENROLL_HOOK_SECRET_FILE":           writeFile(t, "hook.secret", "hook-secret-0123456789"),
		"PREENROLL_CONSOLE_CLIENT_SECRET_FILE": writeFile(t, "console.secret", "console-client-secret"),
		"PREENROLL_CONSOLE_SESSION_KEY_FILE":   writeFile(t, "console.key", strings.Repeat("k", 48)),
	}
	env := map[string]string{}
	var named []string // every variable, the commented-out ones too
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		commented := strings.HasPrefix(line, "# PREENROLL_")
		line = strings.TrimPrefix(line, "# ")
		name, value, ok := strings.Cut(line, "=")
		if !ok || !strings.HasPrefix(name, "PREENROLL_") {
			continue
		}
		named = append(named, line)
		if commented {
			continue
		}
		if strings.HasSuffix(name, "_FILE") {
			file, known := files[name]
			if !known {
				t.Fatalf("%s: the test has no file for it", name)
			}
			value = file
		}
		if name == "PREENROLL_STORE" && strings.HasPrefix(value, "/") {
			value = filepath.Join(t.TempDir(), filepath.Base(value)) // the StateDirectory systemd makes
		}
		env[name] = value
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(env) < 10 {
		t.Fatalf("only %d settings read from deploy/preenroll.env: the test no longer reads it", len(env))
	}
	if w := EnvWarnings(named); len(w) > 0 {
		t.Errorf("deploy/preenroll.env names variables that are no settings: %q", w)
	}
	if _, problems := resolveServe(t, env); len(problems) > 0 {
		t.Errorf("serve refuses deploy/preenroll.env: %q", problems)
	}
}

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestConfigPrecedence: a flag overrides its environment variable, which
// overrides the config file's key, which overrides the default.
func TestConfigPrecedence(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "preenroll.json", `{"product": 29, "inventory": "107", "customization": "FILE01", "rp-id": ["a.example.com", "b.example.com"], "verbose": false}`)
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"defaults", nil, nil, "product 1, inventory 106, customization DEMO01; relying party example.okta.com"},
		{"file", map[string]string{"PREENROLL_CONFIG": file}, nil,
			"product 29, inventory 107, customization FILE01; relying party a.example.com, b.example.com"},
		{"env over file", map[string]string{"PREENROLL_CONFIG": file, "PREENROLL_PRODUCT": "54", "PREENROLL_RP_ID": "c.example.com"}, nil,
			"product 54, inventory 107, customization FILE01; relying party c.example.com"},
		{"flag over env", map[string]string{"PREENROLL_CONFIG": file, "PREENROLL_PRODUCT": "54"}, []string{"-product", "55", "-customization", "FLAG01"},
			"product 55, inventory 107, customization FLAG01; relying party a.example.com, b.example.com"},
		{"-config over PREENROLL_CONFIG", map[string]string{"PREENROLL_CONFIG": "/nonexistent.json"}, []string{"-config", file},
			"product 29, inventory 107, customization FILE01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := invocation{env: tc.env}.run(t, append([]string{"order"}, tc.args...)...)
			if r.code != ExitOK || !strings.Contains(r.stdout, "item: "+tc.want) {
				t.Errorf("exit %d, want item %q; stdout:\n%s\nstderr:\n%s", r.code, tc.want, r.stdout, r.stderr)
			}
		})
	}
}

// TestConfigProblemsAtOnce: every bad setting, from every source, is
// reported in one run, naming where it came from.
func TestConfigProblemsAtOnce(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "preenroll.json", `{"okta-timeout": "forever", "user": "jan", "okta-token": "00abc", "concurrency": {"x": 1}}`)
	r := invocation{env: map[string]string{"PREENROLL_CONFIG": file, "PREENROLL_STORE": "mysql://db/keys"}}.run(t,
		"batch", "-okta-org", "ftp://example.okta.com", "-product", "0")
	want := []string{
		"preenroll batch: 8 problems with the settings:",
		file + `: "user" is given on the command line only (-user)`,
		file + `: unknown key "okta-token"`,
		`-okta-org "ftp://example.okta.com": not an absolute https URL`,
		file + `: "okta-timeout" "forever": want a duration from 1ms to 10m, like 30s`,
		`PREENROLL_STORE "mysql://db/keys": store "mysql:" is not supported: want a SQLite file path, sqlite:PATH or a postgres:// URL`,
		file + `: "concurrency": want a string, number, boolean or list of strings`,
		`-product "0": must be a positive decimal integer without sign or leading zeros`,
		"-csv FILE is required",
		"(preenroll help batch lists the settings)",
	}
	got := lines(r.stderr)
	for i := range got {
		got[i] = strings.TrimPrefix(got[i], "  ")
	}
	if r.code != ExitUsage {
		t.Errorf("exit %d, want 2", r.code)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
	if strings.Contains(r.stderr, "00abc") {
		t.Error("a value of the config file that looks like a secret was printed")
	}
}

// TestConfigProblemsHidePasswords: a bad setting whose value is a URL with
// a password in it is reported with the password masked, and URL settings
// refuse credentials in the URL.
func TestConfigProblemsHidePasswords(t *testing.T) {
	t.Parallel()
	r := invocation{env: map[string]string{"PREENROLL_STORE": "postgress://app:hunter22@db/keys"}}.run(t,
		"sync", "-okta-org", "https://admin:hunter23@example.okta.com", "-yubico-api", "https://key:hunter24@api.console.yubico.com/v1")
	want := []string{
		`-okta-org "https://admin:xxxxx@example.okta.com": has a user name or password in it: credentials go in their own settings, never in a URL`,
		`-yubico-api "https://key:xxxxx@api.console.yubico.com/v1": has a user name or password in it: credentials go in their own settings, never in a URL`,
		`PREENROLL_STORE "postgress://app:xxxxx@db/keys": store "postgress:" is not supported: want a SQLite file path, sqlite:PATH or a postgres:// URL`,
	}
	if r.code != ExitUsage {
		t.Errorf("exit %d, want 2", r.code)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "hunter2") {
		t.Errorf("a password was printed:\n%s", r.stderr)
	}
}

// TestSecretsOnlyFromFiles: tokens are read from the files named, never
// printed (not in help, errors or verbose logs), and cannot be given
// directly.
func TestSecretsOnlyFromFiles(t *testing.T) {
	t.Parallel()
	o := newOrg(t)
	o.addUser(t, "jan@example.com")
	r := invocation{env: map[string]string{"PREENROLL_OKTA_ORG": o.srv.URL(), "PREENROLL_OKTA_TOKEN_FILE": o.tokenFile, "PREENROLL_RP_ID": testRPID}}.run(t,
		"order", "-user", "jan@example.com", "-customization", "C1", "-v")
	if r.code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, o.srv.Token()) {
		t.Error("the token was printed")
	}
	for _, args := range [][]string{{"order", "-okta-token", o.srv.Token()}, {"order", "-token", o.srv.Token()}} {
		r := runCLI(t, args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, "flag provided but not defined") || strings.Contains(r.stdout, o.srv.Token()) {
			t.Errorf("%q: exit %d, stderr %q", args[1], r.code, r.stderr)
		}
	}
	empty := writeFile(t, "empty", "\n")
	r = runCLI(t, "status", "jan@example.com", "-okta-org", o.srv.URL(), "-okta-token-file", empty)
	if r.code != ExitUsage || !strings.Contains(r.stderr, "-okta-token-file: "+empty+": first line is empty") {
		t.Errorf("empty token file: exit %d, stderr %q", r.code, r.stderr)
	}
	// The token itself where its file's path goes: not printed. A
	// missing file with a path's shape is named.
	token := "00Ab_cDeFgHiJkLmNoPqRsTuVwXyZ0123456789-x"
	for _, tc := range []struct {
		setting, value string
		want           string
	}{
		{"-okta-token-file", token, "-okta-token-file: no such file, and the value given (41 characters, not shown) looks like the secret itself"},
		{"-yubico-token-file", token, "-yubico-token-file: no such file, and the value given (41 characters, not shown) looks like the secret itself"},
		{"-okta-token-file", "okta-token-file-missing.txt", "okta-token-file-missing.txt: no such file or directory"},
	} {
		r := runCLI(t, "sync", "-okta-org", o.srv.URL(), "-okta-token-file", o.tokenFile, "-yubico-token-file", o.tokenFile, tc.setting, tc.value)
		if r.code != ExitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s %s: exit %d, stderr %q, want %q", tc.setting, tc.value, r.code, r.stderr, tc.want)
		}
		if tc.value == token && strings.Contains(r.stdout+r.stderr, token) {
			t.Errorf("%s: the token was printed: %q", tc.setting, r.stderr)
		}
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	r := runCLI(t, "help", "order")
	for _, want := range []string{
		"usage: preenroll order [settings]",
		"-okta-token-file  (PREENROLL_OKTA_TOKEN_FILE, file key \"okta-token-file\")",
		"-okta-private-key-file  (PREENROLL_OKTA_PRIVATE_KEY_FILE, file key \"okta-private-key-file\")",
		"-okta-scopes  (PREENROLL_OKTA_SCOPES, file key \"okta-scopes\", default okta.users.manage,okta.users.read,okta.groups.read)",
		"-okta-dpop  (PREENROLL_OKTA_DPOP, file key \"okta-dpop\", default true)",
		"-product  (PREENROLL_PRODUCT, file key \"product\", default 1)",
		"-config  (PREENROLL_CONFIG)",
		"-user\n      the Okta user",
	} {
		if r.code != ExitOK || !strings.Contains(r.stdout, want) {
			t.Errorf("help order: exit %d, lacks %q:\n%s", r.code, want, r.stdout)
		}
	}
	for _, tc := range []struct {
		args []string
		code int
		out  string
		err  string
	}{
		{nil, ExitUsage, "", "usage: preenroll COMMAND"},
		{[]string{"help"}, ExitOK, "  resend-pin", ""},
		{[]string{"help", "nope"}, ExitUsage, "", `preenroll help: unknown command "nope"`},
		{[]string{"nope"}, ExitUsage, "", `preenroll: unknown command "nope"`},
		{[]string{"version"}, ExitOK, "preenroll ", ""},
		{[]string{"order", "-h"}, ExitOK, "", "usage: preenroll order"},
		{[]string{"help", "version"}, ExitOK, "usage: preenroll version", ""},
		{[]string{"help", "help"}, ExitOK, "usage: preenroll help [COMMAND]", ""},
		{[]string{"retry"}, ExitUsage, "", "missing argument: USER..."},
		{[]string{"sync", "extra"}, ExitUsage, "", `unexpected argument "extra"`},
	} {
		r := runCLI(t, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stdout, tc.out) || !strings.Contains(r.stderr, tc.err) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", tc.args, r.code, r.stdout, r.stderr)
		}
	}
}

// TestBadFlag: an unknown or malformed flag is reported in the commands'
// form, naming the command and where the settings are listed, without the
// whole help.
func TestBadFlag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "-bogus"}, "preenroll status: flag provided but not defined: -bogus\n(preenroll help status lists the settings)\n"},
		{[]string{"order", "-user"}, "preenroll order: flag needs an argument: -user\n(preenroll help order lists the settings)\n"},
		{[]string{"batch", "-skip-invalid=maybe", "-csv", "u.csv"},
			`preenroll batch: -skip-invalid "maybe": want true or false` + "\n(preenroll help batch lists the settings)\n"},
	} {
		r := runCLI(t, tc.args...)
		if r.code != ExitUsage || r.stdout != "" {
			t.Errorf("%q: exit %d, stdout %q; want %d and nothing", tc.args, r.code, r.stdout, ExitUsage)
		}
		if diff := cmp.Diff(tc.want, r.stderr); diff != "" {
			t.Errorf("%q: stderr (-want +got):\n%s", tc.args, diff)
		}
	}
}

// TestStoreDirectoryMissing: a SQLite -store in a directory that does not
// exist is bad usage naming the setting, before anything runs.
func TestStoreDirectoryMissing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := writeFile(t, "file", "x")
	for _, tc := range []struct {
		store, want string
	}{
		{filepath.Join(dir, "missing", "keys.db"), "preenroll order: -store (PREENROLL_STORE) " + filepath.Join(dir, "missing", "keys.db") +
			": the directory " + filepath.Join(dir, "missing") + " does not exist (the SQLite file is created, its directory is not)\n"},
		{"sqlite:" + filepath.Join(file, "keys.db"), "preenroll order: -store (PREENROLL_STORE) " + filepath.Join(file, "keys.db") +
			": " + file + " is not a directory\n"},
	} {
		r := runCLI(t, "order", "-store", tc.store)
		if r.code != ExitUsage || r.stdout != "" {
			t.Errorf("-store %s: exit %d, stdout %q; want %d and nothing", tc.store, r.code, r.stdout, ExitUsage)
		}
		if diff := cmp.Diff(tc.want+"(preenroll help order lists the settings)\n", r.stderr); diff != "" {
			t.Errorf("-store %s: stderr (-want +got):\n%s", tc.store, diff)
		}
	}
	// A file in an existing directory is created.
	store := filepath.Join(dir, "keys.db")
	if r := runCLI(t, "order", "-store", store); r.code != ExitOK {
		t.Errorf("-store %s: exit %d, stderr %q", store, r.code, r.stderr)
	}
}

// TestREADMEListsEverySetting: the README's configuration table names
// every shared setting with its environment variable, and every command.
func TestREADMEListsEverySetting(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	for _, s := range append([]*Setting{configSetting}, settings...) {
		if s.FlagOnly {
			if !strings.Contains(readme, "`-"+s.Name+"`") {
				t.Errorf("README does not mention -%s", s.Name)
			}
			continue
		}
		if !strings.Contains(readme, "| `-"+s.Name) || !strings.Contains(readme, "`"+s.Env()+"`") {
			t.Errorf("README's configuration table lacks -%s / %s", s.Name, s.Env())
		}
	}
	for _, n := range names() {
		if !strings.Contains(readme, "| `"+n) {
			t.Errorf("README's command table lacks %s", n)
		}
	}
}

// TestParseStore: -store names a SQLite file or a PostgreSQL URL; any
// other scheme is refused.
func TestParseStore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    storeSpec
		wantErr string
	}{
		{in: "", want: storeSpec{}},
		{in: "keys.db", want: storeSpec{sqlite: "keys.db"}},
		{in: "/var/lib/preenroll/keys.db", want: storeSpec{sqlite: "/var/lib/preenroll/keys.db"}},
		{in: `C:\keys.db`, want: storeSpec{sqlite: `C:\keys.db`}},
		{in: "sqlite:keys.db", want: storeSpec{sqlite: "keys.db"}},
		{in: "sqlite:///tmp/keys.db", want: storeSpec{sqlite: "/tmp/keys.db"}},
		{in: "postgres://pre@db.internal:5432/preenroll?sslmode=verify-full", want: storeSpec{postgres: "postgres://pre@db.internal:5432/preenroll?sslmode=verify-full"}},
		{in: "postgresql://db/preenroll", want: storeSpec{postgres: "postgresql://db/preenroll"}},
		{in: "postgres:db", wantErr: "postgres: want a URL postgres://[user@]host[:port]/database[?...]"},
		{in: "sqlite:", wantErr: "sqlite: the file path is empty"},
		{in: "mysql://db", wantErr: `store "mysql:" is not supported`},
		// libpq's keyword form: refused, not taken for a file's name.
		{in: "host=db dbname=keys password=hunter2", wantErr: "keyword form (host=... dbname=...) is not supported"},
		{in: "dbname=keys host=/var/run/postgresql", wantErr: "keyword form"},
		{in: "host=db password=hunter2:x", wantErr: "keyword form"},
		{in: "/var/lib/preenroll/host=a", want: storeSpec{sqlite: "/var/lib/preenroll/host=a"}},
	} {
		got, err := parseStore(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseStore(%q) = %v, want error %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseStore(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(storeSpec{})); diff != "" {
			t.Errorf("parseStore(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

// TestStorePasswordNotPrinted: a -store that is refused, or that would be
// a file's name, never prints a password in it: a URL with a '#' in its
// password, a PostgreSQL connection string in keyword form (doctor printed
// it as the SQLite file it took it for; serve created that file).
func TestStorePasswordNotPrinted(t *testing.T) {
	t.Parallel()
	for _, store := range []string{
		"postgres:/app:hunter2-secret@db/keys",
		"mysql://app:hunter2#secret@db/keys",
		"host=db dbname=keys password=hunter2-secret",
		"host=db password=hunter2-secret:x dbname=keys",
		"host=/var/run/postgresql password=hunter2-secret",
	} {
		for _, cmd := range []string{"order", "doctor"} {
			r := runCLI(t, cmd, "-store", store)
			if r.code != ExitUsage || !strings.Contains(r.stderr, "-store") || strings.Contains(r.stdout+r.stderr, "hunter2") {
				t.Errorf("%s -store %s: exit %d, stdout %q, stderr %q; want %d, -store named, no password", cmd, store, r.code, r.stdout, r.stderr, ExitUsage)
			}
		}
	}
}

// TestStoreUnreachablePostgres: a PostgreSQL store that cannot be reached
// fails the command with the host named and the password never printed.
func TestStoreUnreachablePostgres(t *testing.T) {
	t.Parallel()
	r := runCLI(t, "batch", "-csv", writeFile(t, "u.csv", "login\njan@example.com\n"), "-customization", "RXJN83",
		"-store", "postgres://pre:hunter2-secret@127.0.0.1:1/preenroll?connect_timeout=2")
	if r.code != ExitFailed || !strings.Contains(r.stderr, "-store: pgstore:") || strings.Contains(r.stdout+r.stderr, "hunter2-secret") {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestEnvWarnings: a PREENROLL_ variable meant for a setting but naming
// none is warned about by name (a secret in a variable, a misspelt name);
// the value never appears, and the variables of the project's own tests
// and scripts are left alone.
func TestEnvWarnings(t *testing.T) {
	got := EnvWarnings([]string{
		"HOME=/root",
		"PREENROLL_STORE=keys.db",
		"PREENROLL_CONFIG=/etc/preenroll.json",
		"PREENROLL_SYNC_INTERVL=5m",
		"PREENROLL_OKTA_TOKEN=00secret-token-value",
		"PREENROLL_OKTA_TOKEN_FILE=/etc/okta.token",
		"PREENROLL_OKTA_URL=https://example.okta.com",
		"NOT_PREENROLL_STORE=x",
		// The project's own test and script variables.
		"PREENROLL_POSTGRES_URL=postgres://x", "PREENROLL_PG_DIR=/tmp/x", "PREENROLL_PG_PID=1",
		"PREENROLL_CHROMIUM=/usr/bin/chromium", "PREENROLL_SCREENSHOTS=/tmp/s", "PREENROLL_REQUIRE_PCSC=1",
		"PREENROLL_MEMORY_100K=1", "PREENROLL_MEMORY_ENROLLED_100K=1", "PREENROLL_MEMORY_HEAPPROFILE=h",
		"PREENROLL_MEMORY_LIMIT_MIB=0", "PREENROLL_MEMORY_N=10", "PREENROLL_SYNCSCALE_N=2000",
		"PREENROLL_SYNCSCALE_STORE=sqlite",
	})
	want := []string{
		"preenroll: warning: PREENROLL_OKTA_TOKEN is ignored: secrets are read from files only (put the file's path in PREENROLL_OKTA_TOKEN_FILE)",
		"preenroll: warning: PREENROLL_OKTA_URL is not a setting and is ignored; did you mean PREENROLL_OKTA_ORG?",
		"preenroll: warning: PREENROLL_SYNC_INTERVL is not a setting and is ignored; did you mean PREENROLL_SYNC_INTERVAL?",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("EnvWarnings (-want +got):\n%s", diff)
	}
	for _, w := range got {
		if strings.Contains(w, "secret-token-value") {
			t.Errorf("a warning shows a value: %s", w)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "ab", 2}, {"same", "same", 0},
		{"INTERVL", "INTERVAL", 1}, {"URL", "ORG", 2}, {"kitten", "sitting", 3},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestLooksLikeSecret: a missing secret file's "path" is hidden when it
// is shaped like a token (long, mixed case and digits, no dot, separator
// or space); a file name of words, or with an extension, is shown, as the
// operator needs it to see which file is missing.
func TestLooksLikeSecret(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"00Ab_cDeFgHiJkLmNoPqRsTuVwXyZ0123456789-x", true},
		{"00aB3cD4eF5gH6iJ7kL8", true},
		{"okta-token-production", false},
		{"preenroll_okta_api_token", false},
		{"OktaTokenForProduction", false},
		{"okta token 2024 Production", false},
		{"okta-token-2024.txt", false},
		{"secrets/OktaToken2024Production", false},
		{"00aB3cD4eF5gH6iJ7kL", false},
	} {
		if got := looksLikeSecret(tc.in); got != tc.want {
			t.Errorf("looksLikeSecret(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

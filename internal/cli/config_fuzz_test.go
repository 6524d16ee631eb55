package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzSecret is the content of every secret file the fuzzed settings
// name: no problem may quote it.
const fuzzSecret = "fuzz-secret-0123456789abcdef"

// FuzzConfig resolves and checks the settings of a command from an
// arbitrary JSON config file (-config), PREENROLL_* environment variables
// (one NAME=value a line) and flags (one a line). No input panics; every
// problem names its setting (the flag, the variable, the file's key or
// -config) or says what is missing; no problem quotes a secret file's
// content or a URL's password.
func FuzzConfig(f *testing.F) {
	seeds := []struct {
		cmd            uint8
		file, env, arg string
	}{
		{0, `{"product": 29, "inventory": "107", "customization": "FILE01", "rp-id": ["a.example.com", "b.example.com"], "verbose": false}`, "", ""},
		{1, `{"okta-timeout": "forever", "user": "jan", "okta-token": "00abc", "concurrency": {"x": 1}}`, "PREENROLL_STORE=mysql://db/keys", "-okta-org\nftp://example.okta.com\n-product\n0"},
		{2, `{"okta-org": "https://example.okta.com", "okta-token-file": "t", "listen": ":8080", "public-url": "https://keys.example.com"}`, "PREENROLL_STORE=postgres://app:hunter2secret@db:notaport/keys", ""},
		{3, `{"store": "postgres://app:hunter2secret@db/keys?sslmode=disable%zz"}`, "", "-okta-org\nhttps://u:hunter2secret@example.okta.com"},
		{4, `{"okta-org": "https://example.okta.com", "okta-client-id": "0oa1", "okta-private-key-file": "k", "yubico-token-file": "y"}`, "PREENROLL_OKTA_TOKEN=00secret", "-customization\nABC123"},
		{5, `{"store": "postgres://app:pa ss@db/keys"}`, "PREENROLL_CONCURRENCY=9999\nPREENROLL_OKTA_TIMEOUT=-1s", "-v"},
		{6, `[1,2]`, "", ""},
		{0, `{"a":1}{"b":2}`, "PREENROLL_CONFIG=/nonexistent", ""},
		{3, `{"yubico-api": "https://u:hunter2secret@api.example.com:notaport/"}`, "PREENROLL_OKTA_ORG=https://u:hunter2secret%zz@example.okta.com", ""},
		{1, "", "PREENROLL_STORE=postgres:/app:hunter2secret@db/keys", ""},
		{7, `{"console-client-id":"x","console-redirect-url":"http://u:hunter2secret@evil.example/auth/callback"}`, "", ""},
	}
	for _, s := range seeds {
		f.Add(s.cmd, []byte(s.file), s.env, s.arg)
	}
	commands := []string{"order", "batch", "serve", "sync", "status", "retry", "demo", "doctor"}
	f.Fuzz(func(t *testing.T, cmd uint8, file []byte, env, arg string) {
		dir := t.TempDir()
		conf := filepath.Join(dir, "preenroll.json")
		secret := filepath.Join(dir, "secret")
		for name, data := range map[string][]byte{conf: file, secret: []byte(fuzzSecret + "\n")} {
			if err := os.WriteFile(name, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		vars := map[string]string{"PREENROLL_CONFIG": conf}
		for l := range strings.SplitSeq(env, "\n") {
			if k, v, ok := strings.Cut(l, "="); ok && strings.HasPrefix(k, "PREENROLL_") && k != "PREENROLL_CONFIG" {
				vars[k] = v
			}
		}
		var args []string
		if arg != "" {
			args = strings.Split(arg, "\n")
		}
		name := commands[int(cmd)%len(commands)]
		l := newLoader(name, io.Discard)
		if l.fs.Parse(args) != nil {
			return // prepare reports the flag's own error
		}
		cfg, problems := l.resolve(func(k string) string { return vars[k] })
		// Every file a setting names is one whose content is secret.
		for _, p := range []*string{&cfg.OktaTokenFile, &cfg.OktaPrivateKeyFile, &cfg.YubicoTokenFile,
			&cfg.Serve.HookSecretFile, &cfg.Serve.ConsoleClientSecretFile, &cfg.Serve.ConsoleSessionKeyFile,
			&cfg.Serve.TLSCertFile, &cfg.Serve.TLSKeyFile, &cfg.ProfileFile, &cfg.CSVFile} {
			if *p != "" {
				*p = secret
			}
		}
		problems = append(problems, cfg.check(name)...)
		t.Logf("%s: %q", name, problems)
		values := []string{string(file), env, arg}
		for _, p := range problems {
			if p == "" {
				t.Fatal("an empty problem")
			}
			if strings.Contains(p, fuzzSecret) {
				t.Fatalf("problem %q quotes a secret file", p)
			}
			for _, v := range values {
				// A printed password is printed as it was given, between
				// its colon and its '@' (the same characters elsewhere in
				// the problem are no leak: the fuzzer copies bytes from one
				// input into another, e.g. ":secret@" in the file and
				// "secret@" as -okta-org).
				if pw := urlPassword(v); len(pw) >= 6 && strings.Contains(p, ":"+pw+"@") {
					t.Fatalf("problem %q quotes the password %q of a URL", p, pw)
				}
			}
			if !namesSetting(p, conf) {
				t.Fatalf("problem %q names no setting", p)
			}
		}
	})
}

// urlPassword finds the first "user:password@" in s, as a person reading
// it would (after a scheme's colon and slashes, a quote, a comma, an equals
// sign or a line break), and returns the password ("" if none).
func urlPassword(s string) string {
	for i := strings.Index(s, "@"); i >= 0; i = strings.Index(s, "@") {
		seg := s[:i]
		if j := strings.LastIndexAny(seg, "/\"\n,= "); j >= 0 {
			seg = seg[j+1:]
		}
		if _, pw, ok := strings.Cut(seg, ":"); ok && strings.Contains(s[:i], ":") {
			return pw
		}
		s = s[i+1:]
	}
	return ""
}

// namesSetting reports whether a problem names where it comes from: a
// flag, an environment variable, the config file or its key, or -config.
func namesSetting(p, conf string) bool {
	return strings.HasPrefix(p, "-") || strings.HasPrefix(p, "PREENROLL_") || strings.HasPrefix(p, conf) ||
		strings.Contains(p, " -") || strings.Contains(p, "PREENROLL_")
}

// TestRedactURL: a value shaped like a URL with a password is printed with
// the password masked, whether it parses as a URL or not (FuzzConfig found
// that one with a bad escape or port was printed whole; a '#' or '?' in the
// password was printed whole too), and so is every password= parameter.
func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://u:hunter2@example.okta.com", "https://u:xxxxx@example.okta.com"},
		{"https://u:hunter2%zz@example.okta.com", "https://u:xxxxx@example.okta.com"},
		{"https://u:hunter2@api.example.com:notaport/", "https://u:xxxxx@api.example.com:notaport/"},
		{"postgres:/app:hunter2@db/keys", "postgres:/app:xxxxx@db/keys"},
		{"postgres:app:hunter2@db", "postgres:xxxxx@db"},               // a person reads "app:hunter2" as the password
		{"alice:hunter2@db.example.com", "alice:xxxxx@db.example.com"}, // no scheme
		{":000000@0", ":xxxxx@0"}, // found by FuzzConfig
		{"https://u:pa/ss@host:x", "https://u:xxxxx@host:x"},
		{"https://u@example.okta.com", "https://u@example.okta.com"},
		{"https://example.okta.com/a:b@c", "https://example.okta.com/a:xxxxx@c"}, // read as a password: masked
		{"ftp://example.okta.com", "ftp://example.okta.com"},
		{"/var/lib/preenroll/keys.db", "/var/lib/preenroll/keys.db"},
		{"forever", "forever"},
		{"https://h/?q=a:b@c", "https://h/?q=a:xxxxx@c"},
		{"https://h?q=a:b@c", "https://h?q=a:xxxxx@c"},
		{"0#:000000@", "0#:xxxxx@"}, // found by FuzzConfig: the password a person reads in a fragment
		{"a:b@c:d@e", "a:xxxxx@c:xxxxx@e"},
		{"x,u:pw@h", "x,u:xxxxx@h"},
		// A '#' or '?' in the password: no URL, and the password is
		// neither the fragment's nor the query's.
		{"https://u:hunter#2@example.okta.com", "https://u:xxxxx@example.okta.com"},
		{"https://u:hunter?2@example.okta.com/x?y=1", "https://u:xxxxx@example.okta.com/x?y=1"},
		{"postgres://app:hun#ter2@db/keys", "postgres://app:xxxxx@db/keys"},
		// A password parameter: a URL's query, a PostgreSQL connection
		// string in keyword form (quoted too).
		{"postgres://app@db/keys?password=hunter2&sslmode=require", "postgres://app@db/keys?password=xxxxx&sslmode=require"},
		{"postgres://app:pw@db/keys?Password=hunter2", "postgres://app:xxxxx@db/keys?Password=xxxxx"},
		{"host=db password=hunter2 dbname=keys", "host=db password=xxxxx dbname=keys"},
		{"host=db:5432 password = 'hun ter\\'2' dbname=keys", "host=db:5432 password = xxxxx dbname=keys"},
	}
	for _, tt := range tests {
		if got := redactURL(tt.in); got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestProblemsMaskPasswords: a value quoted in a problem other than
// through redactURL (a SQLite path, one RP ID of a list, the org in the
// -rp-id hint) has what a person reads as a password masked too (FuzzConfig
// found the path "0/:000000@" printed whole).
func TestProblemsMaskPasswords(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		vars map[string]string
	}{
		{"order", map[string]string{"PREENROLL_STORE": "missing/:hunter2secret@/keys.db"}},
		{"order", map[string]string{"PREENROLL_RP_ID": "a.example.com,u:hunter2secret@b"}},
		{"order", map[string]string{"PREENROLL_OKTA_ORG": "https://127.0.0.1/#u:hunter2secret@", "PREENROLL_OKTA_TOKEN_FILE": "/nonexistent"}},
	} {
		l := newLoader(tc.cmd, io.Discard)
		cfg, problems := l.resolve(func(k string) string { return tc.vars[k] })
		problems = append(problems, cfg.check(tc.cmd)...)
		if len(problems) == 0 {
			t.Errorf("%v: no problem", tc.vars)
		}
		for _, p := range problems {
			if strings.Contains(p, "hunter2secret") {
				t.Errorf("%v: problem %q quotes the password", tc.vars, p)
			}
		}
	}
}

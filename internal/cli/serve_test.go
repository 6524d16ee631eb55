package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/console"
	"github.com/preenroll/preenroll/fulfillment"
)

// resolveServe resolves and checks serve's settings as a run does, without
// running it.
func resolveServe(t *testing.T, env map[string]string, args ...string) (*Config, []string) {
	t.Helper()
	l := newLoader("serve", io.Discard)
	if err := l.fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	cfg, problems := l.resolve(func(k string) string { return env[k] })
	return cfg, append(problems, cfg.check("serve")...)
}

// TestServeConsoleSettingsPrecedence: the console's settings come from
// flags over PREENROLL_* over the config file, and its secrets from files.
func TestServeConsoleSettingsPrecedence(t *testing.T) {
	t.Parallel()
	token := writeFile(t, "okta.token", "00token")
	hook := writeFile(t, "hook.secret", "hook-secret-0123456789")
	secret := writeFile(t, "console.secret", "console-client-secret")
	key := writeFile(t, "session.key", strings.Repeat("k", 48))
	file := writeFile(t, "preenroll.json", `{"console-client-id": "0oaFILE", "console-admin-group": "file-admins",
		"console-read-only-group": "file-readers", "console-client-secret-file": "`+secret+`", "console": true}`)
	base := map[string]string{"PREENROLL_OKTA_ORG": "https://example.okta.com", "PREENROLL_OKTA_TOKEN_FILE": token,
		"PREENROLL_HOOK_SECRET_FILE": hook, "PREENROLL_STORE": "keys.db", "PREENROLL_CONFIG": file}
	env := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	type got struct {
		ClientID, Admin, ReadOnly, Redirect string
		Secret, Key                         string
		On                                  bool
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want got
	}{
		{"file", env(nil), nil, got{"0oaFILE", "file-admins", "file-readers", "", "console-client-secret", "", true}},
		{"env over file", env(map[string]string{"PREENROLL_CONSOLE_CLIENT_ID": "0oaENV", "PREENROLL_CONSOLE_ADMIN_GROUP": "env-admins",
			"PREENROLL_CONSOLE_SESSION_KEY_FILE": key}), nil,
			got{"0oaENV", "env-admins", "file-readers", "", "console-client-secret", strings.Repeat("k", 48), true}},
		{"flag over env", env(map[string]string{"PREENROLL_CONSOLE_CLIENT_ID": "0oaENV"}),
			[]string{"-console-client-id", "0oaFLAG", "-console-redirect-url", "https://keys.example.com/auth/callback", "-console=false"},
			got{"0oaFLAG", "file-admins", "file-readers", "https://keys.example.com/auth/callback", "", "", false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, problems := resolveServe(t, tc.env, tc.args...)
			if len(problems) > 0 {
				t.Fatalf("problems: %q", problems)
			}
			s := cfg.Serve
			g := got{s.ConsoleClientID, s.ConsoleAdminGroup, s.ConsoleReadOnlyGroup, s.ConsoleRedirectURL,
				string(s.consoleSecret), string(s.consoleSession), s.Console == nil || *s.Console}
			if diff := cmp.Diff(tc.want, g); diff != "" {
				t.Errorf("console settings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestServeConsoleSettingsProblems: every problem of the console's
// settings is reported at once with the others; secrets never appear.
func TestServeConsoleSettingsProblems(t *testing.T) {
	t.Parallel()
	token := writeFile(t, "okta.token", "00token")
	hook := writeFile(t, "hook.secret", "hook-secret-0123456789")
	short := writeFile(t, "session.key", "too-short-session-key")
	org := []string{"-okta-org", "https://example.okta.com", "-okta-token-file", token, "-hook-secret-file", hook, "-store", "keys.db"}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"client ID without the rest", append(org, "-console-client-id", "0oa1", "-listen", ":8080", "-console-session-key-file", short), []string{
			"-console-admin-group (PREENROLL_CONSOLE_ADMIN_GROUP) is required with -console-client-id",
			"-console-client-secret-file (PREENROLL_CONSOLE_CLIENT_SECRET_FILE) is required with -console-client-id",
			"-console-redirect-url or a https -public-url is needed: the console's redirect must be https unless serve listens on loopback (-listen :8080)",
			"-console-session-key-file: the key is shorter than 32 characters",
		}},
		{"bad values", append(org, "-console-client-id", "0oa 1", "-console-redirect-url", "http://keys.example.com/callback", "-console-client-secret-file", "/nonexistent",
			"-console-admin-group", "a", "-public-url", "http://keys.example.com"), []string{
			`-console-client-id "0oa 1": a client ID has no spaces, control or non-ASCII characters`,
			`-console-redirect-url "http://keys.example.com/callback": "http://keys.example.com/callback": its path must be "/auth/callback"`,
			"-console-client-secret-file: open /nonexistent: no such file or directory",
		}},
		{"redirect URL with a password", append(org, "-console-client-id", "0oa1", "-console-client-secret-file", hook, "-console-admin-group", "a",
			"-console-redirect-url", "https://app:hunter2#x@keys.example.com/callback"), []string{
			`-console-redirect-url "https://app:xxxxx@keys.example.com/callback": (not shown: it has an @, maybe a password): want an absolute URL`,
		}},
		{"http public URL", append(org, "-console-client-id", "0oa1", "-console-client-secret-file", hook, "-console-admin-group", "a", "-public-url", "http://keys.example.com"), []string{
			`-public-url as the console's redirect: "http://keys.example.com/auth/callback": must be https (http only on a loopback address) (or set -console-redirect-url)`,
		}},
		{"-console without an app", append(org, "-console", "-console-admin-group", "a"), []string{
			"-console needs -console-client-id (PREENROLL_CONSOLE_CLIENT_ID): the console's Okta OIDC web app",
			"-console-admin-group needs -console-client-id (PREENROLL_CONSOLE_CLIENT_ID)",
		}},
		{"demo", []string{"-console-client-id", "0oa1", "-console-admin-group", "a"}, []string{
			"-console-client-id needs -okta-org (the demo registers the console's own OIDC app at the fake org)",
			"-console-admin-group needs -okta-org (the demo registers the console's own OIDC app at the fake org)",
		}},
		{"no app: console off, no problem", org, nil},
		{"loopback listen: redirect derived", append(org, "-console-client-id", "0oa1", "-console-client-secret-file", hook, "-console-admin-group", "a", "-listen", "127.0.0.1:8080"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, problems := resolveServe(t, nil, tc.args...)
			if diff := cmp.Diff(tc.want, problems); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if strings.Contains(strings.Join(problems, "\n"), "hook-secret-0123456789") {
				t.Error("a secret was printed")
			}
		})
	}
	// Through the command: reported with the other settings, exit 2.
	r := runCLI(t, append([]string{"serve"}, append(org, "-console-client-id", "0oa1", "-hook-queue", "0")...)...)
	if r.code != ExitUsage || !strings.Contains(r.stderr, "-hook-queue \"0\"") || !strings.Contains(r.stderr, "-console-admin-group (PREENROLL_CONSOLE_ADMIN_GROUP) is required") {
		t.Errorf("serve with bad settings: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// TestServeDurationSettings: serve's durations (the idempotency window
// among them) come from flags over PREENROLL_* over the config file, are
// checked against their bounds, and reach serve.Config as resolved.
func TestServeDurationSettings(t *testing.T) {
	t.Parallel()
	token := writeFile(t, "okta.token", "00token")
	hook := writeFile(t, "hook.secret", "hook-secret-0123456789")
	file := writeFile(t, "preenroll.json", `{"idempotency-window": "36h", "lease": "90s"}`)
	org := []string{"-okta-org", "https://example.okta.com", "-okta-token-file", token, "-hook-secret-file", hook, "-store", "keys.db"}
	type got struct {
		IdempotentShipments                    bool
		IdempotencyWindow, Lease, SyncInterval time.Duration
	}
	for _, tc := range []struct {
		name     string
		env      map[string]string
		args     []string
		want     got
		problems []string
	}{
		{name: "defaults", args: org, want: got{IdempotencyWindow: fulfillment.DefaultIdempotencyWindow}},
		{name: "flags", args: append(slices.Clone(org), "-idempotent-shipments", "-idempotency-window", "2h", "-lease", "45s", "-sync-interval", "10m"),
			want: got{true, 2 * time.Hour, 45 * time.Second, 10 * time.Minute}},
		{name: "config file", env: map[string]string{"PREENROLL_CONFIG": file}, args: org,
			want: got{IdempotencyWindow: 36 * time.Hour, Lease: 90 * time.Second}},
		{name: "env over config file", env: map[string]string{"PREENROLL_CONFIG": file, "PREENROLL_IDEMPOTENCY_WINDOW": "90m"}, args: org,
			want: got{IdempotencyWindow: 90 * time.Minute, Lease: 90 * time.Second}},
		{name: "flag over env", env: map[string]string{"PREENROLL_IDEMPOTENCY_WINDOW": "90m"}, args: append(slices.Clone(org), "-idempotency-window", "48h"),
			want: got{IdempotencyWindow: 48 * time.Hour}},
		{name: "window too short", args: append(slices.Clone(org), "-idempotency-window", "30s"),
			problems: []string{`-idempotency-window "30s": want a duration from 1m to 720h`}},
		{name: "window too long", args: append(slices.Clone(org), "-idempotency-window", "721h"),
			problems: []string{`-idempotency-window "721h": want a duration from 1m to 720h`}},
		{name: "window not a duration", env: map[string]string{"PREENROLL_IDEMPOTENCY_WINDOW": "a day"}, args: org,
			problems: []string{`PREENROLL_IDEMPOTENCY_WINDOW "a day": want a duration from 1m to 720h`}},
		{name: "lease too short for the Okta timeout", args: append(slices.Clone(org), "-lease", "1s"),
			problems: []string{"-lease 1s is too short for -okta-timeout 30s: a step's calls end three quarters of the way through the lease (750ms); set -lease above 40s"}},
		{name: "lease just too short", args: append(slices.Clone(org), "-lease", "40s"),
			problems: []string{"-lease 40s is too short for -okta-timeout 30s: a step's calls end three quarters of the way through the lease (30s); set -lease above 40s"}},
		{name: "lease just long enough", args: append(slices.Clone(org), "-lease", "41s"), want: got{IdempotencyWindow: fulfillment.DefaultIdempotencyWindow, Lease: 41 * time.Second}},
		{name: "default lease too short for a long Okta timeout", env: map[string]string{"PREENROLL_OKTA_TIMEOUT": "2m"}, args: org,
			problems: []string{"-lease (default) 2m is too short for -okta-timeout 2m: a step's calls end three quarters of the way through the lease (1m30s); set -lease above 2m40s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, problems := resolveServe(t, tc.env, tc.args...)
			if diff := cmp.Diff(tc.problems, problems); diff != "" {
				t.Fatalf("problems (-want +got):\n%s", diff)
			}
			if len(problems) > 0 {
				return
			}
			sc := serveConfig(cfg, &Invocation{Stderr: io.Discard, Stdout: io.Discard})
			g := got{sc.IdempotentShipments, sc.IdempotencyWindow, sc.Lease, sc.SyncInterval}
			if diff := cmp.Diff(tc.want, g); diff != "" {
				t.Errorf("serve.Config (-want +got):\n%s", diff)
			}
		})
	}
}

// TestServeConsoleAuditRetention: -console-audit-retention
// (PREENROLL_CONSOLE_AUDIT_RETENTION) reaches serve.Config as resolved,
// 0s as kept for ever (negative: serve's zero is its default), and is
// refused below a day, above a century, negative or not a duration.
func TestServeConsoleAuditRetention(t *testing.T) {
	t.Parallel()
	const bounds = "want 0s (for ever) or a duration from 24h to 876000h"
	for _, tc := range []struct {
		name     string
		env      map[string]string
		args     []string
		want     time.Duration
		problems []string
	}{
		{name: "default", want: console.DefaultAuditRetention},
		{name: "flag", args: []string{"-console-audit-retention", "8760h"}, want: 8760 * time.Hour},
		{name: "env", env: map[string]string{"PREENROLL_CONSOLE_AUDIT_RETENTION": "720h"}, want: 720 * time.Hour},
		{name: "a day", args: []string{"-console-audit-retention", "24h"}, want: 24 * time.Hour},
		{name: "for ever", args: []string{"-console-audit-retention", "0s"}, want: -1},
		{name: "an hour", args: []string{"-console-audit-retention", "1h"}, problems: []string{`-console-audit-retention "1h": ` + bounds}},
		{name: "negative", args: []string{"-console-audit-retention", "-24h"}, problems: []string{`-console-audit-retention "-24h": ` + bounds}},
		{name: "over a century", args: []string{"-console-audit-retention", "876001h"}, problems: []string{`-console-audit-retention "876001h": ` + bounds}},
		{name: "not a duration", env: map[string]string{"PREENROLL_CONSOLE_AUDIT_RETENTION": "a year"}, problems: []string{`PREENROLL_CONSOLE_AUDIT_RETENTION "a year": ` + bounds}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, problems := resolveServe(t, tc.env, tc.args...)
			if diff := cmp.Diff(tc.problems, problems); diff != "" {
				t.Fatalf("problems (-want +got):\n%s", diff)
			}
			if len(problems) > 0 {
				return
			}
			sc := serveConfig(cfg, &Invocation{Stderr: io.Discard, Stdout: io.Discard})
			if sc.Console.AuditRetention != tc.want {
				t.Errorf("serve.Config's Console.AuditRetention = %v, want %v", sc.Console.AuditRetention, tc.want)
			}
		})
	}
}

// TestShortDuration: serve's defaults and limits print as the README writes
// them (5m, 24h), not as time.Duration does (5m0s, 24h0m0s).
func TestShortDuration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{250 * time.Millisecond, "250ms"},
		{25 * time.Second, "25s"},
		{90 * time.Second, "1m30s"},
		{5 * time.Minute, "5m"},
		{time.Hour, "1h"},
		{24 * time.Hour, "24h"},
		{150 * time.Minute, "2h30m"},
		{time.Hour + time.Second, "1h0m1s"},
	} {
		if got := shortDuration(tc.d); got != tc.want {
			t.Errorf("shortDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	r := runCLI(t, "help", "serve")
	for _, want := range []string{`file key "ready-window", default 5m)`, `file key "idempotency-window", default 24h)`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("help serve lacks %q", want)
		}
	}
	_, problems := resolveServe(t, nil, "-lease", "5ms")
	if want := `-lease "5ms": want a duration from 1s to 1h`; !slices.Contains(problems, want) {
		t.Errorf("problems %q lack %q", problems, want)
	}
}

// TestServeVerbose: serve logs at info, and -v (PREENROLL_VERBOSE) adds
// the debug records (every HTTP request, not only the hook's).
func TestServeVerbose(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		env       map[string]string
		args      []string
		wantDebug bool
	}{
		{"default", nil, nil, false},
		{"-v", nil, []string{"-v"}, true},
		{"-verbose=false", map[string]string{"PREENROLL_VERBOSE": "true"}, []string{"-verbose=false"}, false},
		{"PREENROLL_VERBOSE", map[string]string{"PREENROLL_VERBOSE": "true"}, nil, true},
	} {
		cfg, problems := resolveServe(t, tc.env, tc.args...)
		if len(problems) > 0 {
			t.Fatalf("%s: %q", tc.name, problems)
		}
		sc := serveConfig(cfg, &Invocation{Stderr: io.Discard, Stdout: io.Discard})
		if got := sc.Logger.Enabled(t.Context(), slog.LevelDebug); got != tc.wantDebug {
			t.Errorf("%s: debug logged = %v, want %v", tc.name, got, tc.wantDebug)
		}
		if !sc.Logger.Enabled(t.Context(), slog.LevelInfo) {
			t.Errorf("%s: info not logged", tc.name)
		}
	}
}

// tlsPair writes a self-signed P-256 certificate for localhost and its
// key to files and returns their paths and the key's PEM.
func tlsPair(t *testing.T, cn string) (certFile, keyFile, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	k, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k}))
	return writeFile(t, cn+".crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))), writeFile(t, cn+".key", keyPEM), keyPEM
}

// TestServeTLSSettings: -tls-cert-file and -tls-key-file come from flags
// over PREENROLL_* over the config file, are given together and must load
// as a pair (a usage problem naming the file, never the key's content,
// exit 2), in the demo too; with them the console's default redirect is
// https on loopback, and off loopback still needs a URL naming the host.
func TestServeTLSSettings(t *testing.T) {
	t.Parallel()
	cert, key, keyPEM := tlsPair(t, "serve")
	otherCert, otherKey, otherPEM := tlsPair(t, "other")
	token := writeFile(t, "okta.token", "00token")
	hook := writeFile(t, "hook.secret", "hook-secret-0123456789")
	file := writeFile(t, "preenroll.json", `{"tls-cert-file": "`+otherCert+`", "tls-key-file": "`+otherKey+`"}`)
	org := []string{"-okta-org", "https://example.okta.com", "-okta-token-file", token, "-hook-secret-file", hook, "-store", "keys.db"}
	consoleApp := []string{"-console-client-id", "0oa1", "-console-client-secret-file", hook, "-console-admin-group", "a"}
	type got struct{ Cert, Key string }
	for _, tc := range []struct {
		name     string
		env      map[string]string
		args     []string
		want     got
		problems []string
	}{
		{name: "neither: plain HTTP", args: org},
		{name: "flags", args: append(slices.Clone(org), "-tls-cert-file", cert, "-tls-key-file", key), want: got{cert, key}},
		{name: "env", env: map[string]string{"PREENROLL_TLS_CERT_FILE": cert, "PREENROLL_TLS_KEY_FILE": key}, args: org, want: got{cert, key}},
		{name: "config file", env: map[string]string{"PREENROLL_CONFIG": file}, args: org, want: got{otherCert, otherKey}},
		{name: "flags over env over config file", env: map[string]string{"PREENROLL_CONFIG": file, "PREENROLL_TLS_KEY_FILE": key},
			args: append(slices.Clone(org), "-tls-cert-file", cert), want: got{cert, key}},
		{name: "demo", args: []string{"-tls-cert-file", cert, "-tls-key-file", key}, want: got{cert, key}},
		{name: "certificate only", args: append(slices.Clone(org), "-tls-cert-file", cert),
			problems: []string{"-tls-cert-file (PREENROLL_TLS_CERT_FILE) needs -tls-key-file (PREENROLL_TLS_KEY_FILE): set both for https, or neither"}},
		{name: "key only", env: map[string]string{"PREENROLL_TLS_KEY_FILE": key}, args: org,
			problems: []string{"-tls-key-file (PREENROLL_TLS_KEY_FILE) needs -tls-cert-file (PREENROLL_TLS_CERT_FILE): set both for https, or neither"}},
		{name: "key only, in the demo", args: []string{"-tls-key-file", key},
			problems: []string{"-tls-key-file (PREENROLL_TLS_KEY_FILE) needs -tls-cert-file (PREENROLL_TLS_CERT_FILE): set both for https, or neither"}},
		{name: "unreadable certificate", args: append(slices.Clone(org), "-tls-cert-file", "/nonexistent/tls.crt", "-tls-key-file", key),
			problems: []string{"-tls-cert-file: /nonexistent/tls.crt: no such file or directory"}},
		{name: "unreadable key", args: append(slices.Clone(org), "-tls-cert-file", cert, "-tls-key-file", "/nonexistent/tls.key"),
			problems: []string{"-tls-key-file: /nonexistent/tls.key: no such file or directory"}},
		{name: "a key for a certificate", args: append(slices.Clone(org), "-tls-cert-file", key, "-tls-key-file", key),
			problems: []string{"-tls-cert-file: " + key + ": no PEM CERTIFICATE block"}},
		{name: "mismatched pair", args: append(slices.Clone(org), "-tls-cert-file", cert, "-tls-key-file", otherKey),
			problems: []string{"-tls-key-file: " + otherKey + ": tls: private key does not match public key (the certificate's: " + cert + ")"}},
		{name: "console on loopback: https redirect derived",
			args: slices.Concat(org, consoleApp, []string{"-listen", "127.0.0.1:8443", "-tls-cert-file", cert, "-tls-key-file", key}), want: got{cert, key}},
		{name: "console off loopback: a URL naming the host is needed",
			args:     slices.Concat(org, consoleApp, []string{"-listen", ":8443", "-tls-cert-file", cert, "-tls-key-file", key}),
			problems: []string{"-console-redirect-url or -public-url is needed: off loopback, the console's redirect must name the host browsers reach serve at, which -listen :8443 does not"}},
		{name: "console off loopback with -public-url",
			args: slices.Concat(org, consoleApp, []string{"-listen", ":8443", "-tls-cert-file", cert, "-tls-key-file", key, "-public-url", "https://keys.example.com:8443"}),
			want: got{cert, key}},
		{name: "http -public-url", args: append(slices.Clone(org), "-tls-cert-file", cert, "-tls-key-file", key, "-public-url", "http://keys.example.com:8443"),
			problems: []string{`-public-url (PREENROLL_PUBLIC_URL) "http://keys.example.com:8443" is http, while -tls-cert-file (PREENROLL_TLS_CERT_FILE) makes serve answer https: give the https URL clients reach serve at`}},
		{name: "http -public-url on loopback, from the environment", env: map[string]string{"PREENROLL_PUBLIC_URL": "HTTP://127.0.0.1:8443"},
			args:     append(slices.Clone(org), "-listen", "127.0.0.1:8443", "-tls-cert-file", cert, "-tls-key-file", key),
			problems: []string{`-public-url (PREENROLL_PUBLIC_URL) "HTTP://127.0.0.1:8443" is http, while -tls-cert-file (PREENROLL_TLS_CERT_FILE) makes serve answer https: give the https URL clients reach serve at`}},
		{name: "http -public-url without TLS: a proxy's", args: append(slices.Clone(org), "-public-url", "http://keys.example.com")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, problems := resolveServe(t, tc.env, tc.args...)
			if diff := cmp.Diff(tc.problems, problems); diff != "" {
				t.Fatalf("problems (-want +got):\n%s", diff)
			}
			if all := strings.Join(problems, "\n"); strings.Contains(all, keyPEM) || strings.Contains(all, otherPEM) {
				t.Error("a private key was printed")
			}
			if len(problems) > 0 {
				return
			}
			sc := serveConfig(cfg, &Invocation{Stderr: io.Discard, Stdout: io.Discard})
			if diff := cmp.Diff(tc.want, got{sc.TLSCertFile, sc.TLSKeyFile}); diff != "" {
				t.Errorf("serve.Config (-want +got):\n%s", diff)
			}
		})
	}
	// Through the command: reported with the other settings, exit 2.
	r := runCLI(t, append([]string{"serve"}, append(slices.Clone(org), "-tls-cert-file", cert, "-tls-key-file", otherKey, "-hook-queue", "0")...)...)
	if r.code != ExitUsage || !strings.Contains(r.stderr, "-hook-queue \"0\"") || !strings.Contains(r.stderr, "-tls-key-file: "+otherKey+": tls: private key does not match public key") {
		t.Errorf("serve with a mismatched pair: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr+r.stdout, otherPEM) || strings.Contains(r.stderr+r.stdout, "PRIVATE KEY") {
		t.Error("a private key was printed")
	}
	r = runCLI(t, append([]string{"serve"}, append(slices.Clone(org), "-tls-cert-file", cert, "-tls-key-file", key, "-public-url", "http://keys.example.com")...)...)
	if r.code != ExitUsage || !strings.Contains(r.stderr, `-public-url (PREENROLL_PUBLIC_URL) "http://keys.example.com" is http, while -tls-cert-file`) {
		t.Errorf("serve with TLS and an http -public-url: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

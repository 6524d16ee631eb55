package cli

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/preenroll/preenroll/internal/testclock"
)

// resolveFor resolves and checks cmd's settings as prepare does.
func resolveFor(t *testing.T, cmd string, env map[string]string, args ...string) (*Config, []string) {
	t.Helper()
	l := newLoader(cmd, io.Discard)
	if err := l.fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	cfg, problems := l.resolve(func(k string) string { return env[k] })
	return cfg, append(problems, cfg.check(cmd)...)
}

// TestRPIDSettings: -rp-id is checked when the settings are, by the rule
// the Service and WebAuthn apply (an IP address is none), naming where the
// value came from; without it, the default, the org's host, is checked
// too, and an org at an IP address (a local fake) is told to set -rp-id,
// for every command that takes it, before anything is ordered.
func TestRPIDSettings(t *testing.T) {
	t.Parallel()
	token := writeFile(t, "okta.token", "00token")
	const fakeOrg = "http://127.0.0.1:8443"
	ipDefault := func(org, host string) string {
		return "-okta-org " + org + ": its host " + host + " is no valid relying-party ID, the default of -rp-id: an IP address (a local fake org?), " +
			"and WebAuthn refuses IP addresses as RP IDs; set -rp-id (PREENROLL_RP_ID) to the org's domain name (example.okta.com)"
	}
	for _, tc := range []struct {
		name      string
		cmd       string
		org       string // -okta-org; "" for the fakes
		env       map[string]string
		args      []string
		wantRPIDs []string
		problems  []string
	}{
		{name: "the org's host", cmd: "order", org: "https://example.okta.com"},
		{name: "the org's host in upper case", cmd: "status", org: "https://Example.okta.com"},
		{name: "an org at an IP address", cmd: "order", org: fakeOrg, problems: []string{ipDefault(fakeOrg, "127.0.0.1")}},
		{name: "an org at an IPv6 address, status", cmd: "status", org: "http://[::1]:8443", problems: []string{ipDefault("http://[::1]:8443", "::1")}},
		{name: "an org at an IP address, sync", cmd: "sync", org: fakeOrg, args: []string{"-yubico-token-file", token},
			problems: []string{ipDefault(fakeOrg, "127.0.0.1")}},
		{name: "an org at an IP address, with -rp-id", cmd: "order", org: fakeOrg, args: []string{"-rp-id", "example.okta.com"},
			wantRPIDs: []string{"example.okta.com"}},
		{name: "an IP address from the environment", cmd: "order", org: "https://example.okta.com", env: map[string]string{"PREENROLL_RP_ID": "127.0.0.1"},
			problems: []string{`PREENROLL_RP_ID "127.0.0.1": an IP address, not a domain name (WebAuthn refuses IP addresses as RP IDs)`}},
		{name: "a bad host from the environment", cmd: "order", org: "https://example.okta.com", env: map[string]string{"PREENROLL_RP_ID": "bad host"},
			problems: []string{`PREENROLL_RP_ID "bad host": must be a bare host name (no scheme, port or path)`}},
		{name: "a bad host for an org at an IP address: -rp-id's problem alone", cmd: "serve", org: fakeOrg, env: map[string]string{"PREENROLL_RP_ID": "bad host"},
			args:     []string{"-hook-secret-file", writeFile(t, "hook.secret", "hook-secret-0123456789"), "-store", "keys.db"},
			problems: []string{`PREENROLL_RP_ID "bad host": must be a bare host name (no scheme, port or path)`}},
		{name: "an empty -rp-id: the default", cmd: "order", org: fakeOrg, args: []string{"-rp-id", " , "}, problems: []string{ipDefault(fakeOrg, "127.0.0.1")}},
		{name: "a list", cmd: "order", org: "https://example.okta.com", args: []string{"-rp-id", " example.okta.com, login.example.com ,"},
			wantRPIDs: []string{"example.okta.com", "login.example.com"}},
		{name: "a list with problems", cmd: "order", org: "https://example.okta.com", args: []string{"-rp-id", "example.okta.com,10.0.0.1,Login.example.com,example.okta.com"},
			problems: []string{`-rp-id "example.okta.com,10.0.0.1,Login.example.com,example.okta.com": "10.0.0.1": an IP address, not a domain name (WebAuthn refuses IP addresses as RP IDs); ` +
				`"Login.example.com": must be lower case; "example.okta.com": listed twice`}},
		{name: "the fakes", cmd: "order"},
		{name: "the fakes with an IP address", cmd: "order", args: []string{"-rp-id", "127.0.0.1"},
			problems: []string{`-rp-id "127.0.0.1": an IP address, not a domain name (WebAuthn refuses IP addresses as RP IDs)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var args []string
			if tc.org != "" {
				args = []string{"-okta-org", tc.org, "-okta-token-file", token}
			}
			if tc.cmd == "order" {
				args = append(args, "-customization", "RXJN83", "-user", "jan@example.com")
			}
			args = append(args, tc.args...)
			cfg, problems := resolveFor(t, tc.cmd, tc.env, args...)
			if diff := cmp.Diff(tc.problems, problems); diff != "" {
				t.Fatalf("problems (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantRPIDs, cfg.RPIDs); tc.problems == nil && diff != "" {
				t.Errorf("RPIDs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRPIDAtStartup: against an org at an IP address (the fake, as an
// operator's local one) without -rp-id, serve, doctor and order stop at
// start-up as bad usage (exit 2), saying to set -rp-id, and nothing is
// ordered: before, each took the org's host, 127.0.0.1, and Yubico
// shipped keys Okta refused at activation. A bad -rp-id is reported by
// doctor as by serve, naming the setting, not the Service's RPIDs[0].
func TestRPIDAtStartup(t *testing.T) {
	t.Parallel()
	d := newDoctorDeployment(t, doctorOptions{})
	delete(d.env, "PREENROLL_RP_ID")
	want := "its host 127.0.0.1 is no valid relying-party ID, the default of -rp-id: an IP address (a local fake org?), and WebAuthn refuses IP addresses as RP IDs; set -rp-id (PREENROLL_RP_ID)"
	for _, args := range [][]string{{"serve"}, {"doctor"}, {"order", "-user", "jan@example.com", "-customization", "RXJN83"}} {
		r := invocation{env: d.env}.run(t, args...)
		if r.code != ExitUsage || r.stdout != "" || !strings.Contains(r.stderr, "preenroll "+args[0]+": -okta-org "+d.org.URL()+": "+want) {
			t.Errorf("%s: exit %d, want %d and %q; stdout:\n%s\nstderr:\n%s", args[0], r.code, ExitUsage, want, r.stdout, r.stderr)
		}
	}
	if evs := d.org.Events(); len(evs) != 0 {
		t.Errorf("Okta emitted %d events, want none (nothing ordered)", len(evs))
	}

	for _, tc := range []struct{ rpID, want string }{
		{"bad host", `PREENROLL_RP_ID "bad host": must be a bare host name (no scheme, port or path)`},
		{"10.0.0.1", `PREENROLL_RP_ID "10.0.0.1": an IP address, not a domain name (WebAuthn refuses IP addresses as RP IDs)`},
	} {
		d.env["PREENROLL_RP_ID"] = tc.rpID
		serveRun := invocation{env: d.env}.run(t, "serve")
		doctorRun := invocation{env: d.env}.run(t, "doctor")
		if doctorRun.code != ExitUsage || doctorRun.stdout != "" || !strings.Contains(doctorRun.stderr, tc.want) || strings.Contains(doctorRun.stderr, "RPIDs[") {
			t.Errorf("doctor with PREENROLL_RP_ID %q: exit %d, want %d and %q; stdout:\n%s\nstderr:\n%s", tc.rpID, doctorRun.code, ExitUsage, tc.want, doctorRun.stdout, doctorRun.stderr)
		}
		want := strings.NewReplacer("preenroll serve", "preenroll doctor", "help serve", "help doctor").Replace(serveRun.stderr)
		if diff := cmp.Diff(want, doctorRun.stderr); serveRun.code != ExitUsage || diff != "" {
			t.Errorf("serve with PREENROLL_RP_ID %q: exit %d; doctor's report against serve's (-serve +doctor):\n%s", tc.rpID, serveRun.code, diff)
		}
	}
}

// TestDoctorRunsServeCheck: doctor applies serve's own start-up check
// (serve.Config.Check, fulfillment's settings among them), not only the
// command line's: settings the command line lets through but serve's
// start refuses are bad settings for doctor, as serve reports them.
func TestDoctorRunsServeCheck(t *testing.T) {
	t.Parallel()
	d := newDoctorDeployment(t, doctorOptions{})
	// A setting only the Service checks: a Concurrency it refuses, set
	// past the command line's own bound check, as a future setting
	// might be.
	cfg, problems := resolveFor(t, "serve", d.env)
	if len(problems) != 0 {
		t.Fatal(problems)
	}
	cfg.Concurrency = -1
	cmd, _ := lookup("doctor")
	var stdout, stderr strings.Builder
	code := runDoctor(t.Context(), &Invocation{Config: cfg, Stdout: &stdout, Stderr: &stderr, Logger: slog.New(slog.DiscardHandler), cmd: cmd,
		deps: &deps{getenv: func(k string) string { return d.env[k] }, clock: testclock.New(testStart), slowAfter: time.Hour}})
	if code != ExitUsage || stdout.String() != "" || !strings.Contains(stderr.String(), "serve: invalid configuration: fulfillment: invalid config: Concurrency -1") {
		t.Errorf("doctor: exit %d, want %d and serve's refusal; stdout:\n%s\nstderr:\n%s", code, ExitUsage, stdout.String(), stderr.String())
	}
}

// TestPostgresTodo: a password PostgreSQL refused (SQLSTATE 28P01) is
// answered with where the password comes from; other failures with what
// to check in -store.
func TestPostgresTodo(t *testing.T) {
	t.Parallel()
	refused := fmt.Errorf("pgstore: connect: %w", &pgconn.PgError{Severity: "FATAL", Code: "28P01", Message: `password authentication failed for user "preenroll"`})
	got := postgresTodo(refused)
	for _, want := range []string{"PGPASSWORD", "PGPASSFILE", "/etc/preenroll/pgpass", "~/.pgpass", "-store (PREENROLL_STORE)", "run doctor as serve's user"} {
		if !strings.Contains(got, want) {
			t.Errorf("postgresTodo(28P01) lacks %q: %s", want, got)
		}
	}
	other := fmt.Errorf("pgstore: connect: %w", &pgconn.PgError{Severity: "FATAL", Code: "3D000", Message: `database "x" does not exist`})
	if got, want := postgresTodo(other), "check -store (PREENROLL_STORE): the host, port, database and role, and that the database accepts connections from here"; got != want {
		t.Errorf("postgresTodo(3D000) = %q, want %q", got, want)
	}
}

// TestHookSecretTooShort: a short hook secret is refused with how to make
// one, as docs/deploy.md makes it.
func TestHookSecretTooShort(t *testing.T) {
	t.Parallel()
	token := writeFile(t, "okta.token", "00token")
	_, problems := resolveServe(t, nil, "-okta-org", "https://example.okta.com", "-okta-token-file", token, "-store", "keys.db",
		"-hook-secret-file", writeFile(t, "hook.secret", "short\n"))
	want := []string{"-hook-secret-file: the secret is shorter than 16 characters (make one with openssl rand -base64 48)"}
	if diff := cmp.Diff(want, problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// doctorDeployment is a deployment of serve against fakes over loopback:
// an org (API token or service app), Yubico, a SQLite store, a public URL
// and the console with its two groups.
type doctorDeployment struct {
	org     *oktatest.Server
	yubico  *yubicotest.Server
	env     map[string]string
	key     serviceKey
	secrets []string // what must never be printed
}

// doctorOptions shape a deployment.
type doctorOptions struct {
	// granted, if not nil, makes the org's credentials a service app
	// granted these scopes (its SSWS token revoked).
	granted []string
	// groups are the groups the org has (default: the console's two).
	groups []string
}

func newDoctorDeployment(t *testing.T, o doctorOptions) doctorDeployment {
	t.Helper()
	org := oktatest.NewServer(t, oktatest.WithNow(testStart))
	y := yubicotest.NewServer(t)
	groups := o.groups
	if groups == nil {
		groups = []string{"Preenroll Admins", "Preenroll Viewers"}
	}
	for _, g := range groups {
		org.AddGroup(g)
	}
	if _, err := org.AddUser(shippable("jan@example.com"), okta.UserActive); err != nil {
		t.Fatal(err)
	}
	// The store exists (an instance ran): doctor opens it.
	store := filepath.Join(t.TempDir(), "keys.db")
	db, err := fulfillment.OpenSQLite(t.Context(), store)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	d := doctorDeployment{org: org, yubico: y, env: map[string]string{
		"PREENROLL_OKTA_ORG":                   org.URL(),
		"PREENROLL_STORE":                      store,
		"PREENROLL_YUBICO_API":                 y.URL(),
		"PREENROLL_YUBICO_JWKS":                y.ConsoleURL(),
		"PREENROLL_PUBLIC_URL":                 "https://preenroll.example.com",
		"PREENROLL_HOOK_SECRET_FILE":           writeFile(t, "hook.secret", "hook-secret-0123456789abcdef\n"),
		"PREENROLL_YUBICO_TOKEN_FILE":          writeFile(t, "yubico.token", y.Token()+"\n"),
		"PREENROLL_CONSOLE_CLIENT_ID":          "0oaConsole",
		"PREENROLL_CONSOLE_CLIENT_SECRET_FILE": writeFile(t, "console.secret", "console-secret-0123456789\n"),
		"PREENROLL_CONSOLE_ADMIN_GROUP":        "Preenroll Admins",
		"PREENROLL_CONSOLE_READ_ONLY_GROUP":    "Preenroll Viewers",
	}}
	d.secrets = []string{org.Token(), y.Token(), "hook-secret-0123456789abcdef", "console-secret-0123456789"}
	if o.granted != nil {
		d.key = newServiceKey(t, false)
		if err := org.AddServiceApp(oktatest.ServiceApp{ClientID: "0oaDoctor", Keys: []jose.JSONWebKey{d.key.public}, Scopes: o.granted}); err != nil {
			t.Fatal(err)
		}
		org.RevokeToken(org.Token())
		d.env["PREENROLL_OKTA_CLIENT_ID"] = "0oaDoctor"
		d.env["PREENROLL_OKTA_PRIVATE_KEY_FILE"] = d.key.file
		d.env["PREENROLL_OKTA_DPOP"] = "false"
	} else {
		d.env["PREENROLL_OKTA_TOKEN_FILE"] = writeFile(t, "okta.token", org.Token()+"\n")
	}
	return d
}

// doctorLine is a printed check line: its outcome and name, and the rest.
type doctorLine struct{ outcome, name, detail string }

// parseDoctor splits doctor's output into its check lines and its last
// line (the count).
func parseDoctor(t *testing.T, out string) ([]doctorLine, string) {
	t.Helper()
	ls := lines(out)
	if len(ls) == 0 {
		t.Fatal("doctor printed nothing")
	}
	var got []doctorLine
	for _, l := range ls[:len(ls)-1] {
		outcome, rest, ok := strings.Cut(l, "  ")
		name, detail, ok2 := strings.Cut(strings.TrimLeft(rest, " "), ": ")
		if !ok || !ok2 {
			t.Fatalf("line %q is not OUTCOME  NAME: DETAIL", l)
		}
		got = append(got, doctorLine{strings.TrimSpace(outcome), name, detail})
	}
	return got, ls[len(ls)-1]
}

// serveScopes are the scopes serve's service app needs granted with a
// public URL and the catch-up on.
var serveScopes = append(oauthScopes("serve"), okta.ScopeLogsRead)

// TestDoctor runs doctor on deployments with one thing wrong each: every
// check prints its line (the others pass), the failing one says why and
// what to do, and the exit code says whether any failed.
func TestDoctor(t *testing.T) {
	t.Parallel()
	apiToken := []string{"ok settings", "ok store", "ok okta org", "ok okta credentials", "ok okta event hooks", "ok okta system log",
		"ok yubico api", "ok yubico jwks", "ok console oidc", "ok console admin group", "ok console read-only group"}
	serviceApp := []string{"ok settings", "ok store", "ok okta org", "ok okta credentials",
		"ok okta scope okta.users.manage", "ok okta scope okta.users.read", "ok okta scope okta.groups.read",
		"ok okta scope okta.eventHooks.manage", "ok okta scope okta.logs.read",
		"ok yubico api", "ok yubico jwks", "ok console oidc", "ok console admin group", "ok console read-only group"}
	// with replaces the outcome of the lines named.
	with := func(base []string, outcomes ...string) []string {
		out := slices.Clone(base)
		for _, o := range outcomes {
			_, name, _ := strings.Cut(o, " ")
			for i, l := range out {
				if _, n, _ := strings.Cut(l, " "); n == name {
					out[i] = o
				}
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		opts doctorOptions
		// change alters the deployment (nil: as made).
		change   func(t *testing.T, d *doctorDeployment)
		wantCode int
		want     []string            // "outcome name" of each line
		wantIn   map[string][]string // name: substrings of its detail
		after    func(t *testing.T, d doctorDeployment)
	}{
		{name: "API token: all ok", wantCode: ExitOK, want: apiToken,
			wantIn: map[string][]string{
				"store":               {"SQLite ", "schema version "},
				"okta credentials":    {"the API token of -okta-token-file", "read 1 user"},
				"okta event hooks":    {`serve's not yet registered`},
				"console admin group": {`"Preenroll Admins" exists (00g`},
			}},
		{name: "service app: all ok", opts: doctorOptions{granted: serveScopes}, wantCode: ExitOK, want: serviceApp,
			wantIn: map[string][]string{
				"okta credentials":          {"service app 0oaDoctor with -okta-scopes okta.users.manage okta.users.read okta.groups.read okta.eventHooks.manage accepted"},
				"okta scope okta.logs.read": {"token issued; read the System Log"},
			}},
		{name: "service app without okta.logs.read", opts: doctorOptions{granted: oauthScopes("serve")}, wantCode: ExitFailed,
			want: with(serviceApp, "FAIL okta scope okta.logs.read"),
			wantIn: map[string][]string{"okta scope okta.logs.read": {
				"Okta refused the service app a token for okta.logs.read: HTTP 400 invalid_scope",
				"grant okta.logs.read to the service app in Okta", "or turn the catch-up off with -catch-up-interval 0s"}}},
		{name: "service app without okta.eventHooks.manage", opts: doctorOptions{granted: []string{okta.ScopeUsersManage, okta.ScopeUsersRead, okta.ScopeGroupsRead, okta.ScopeLogsRead}},
			wantCode: ExitFailed, want: with(serviceApp, "FAIL okta credentials", "FAIL okta scope okta.eventHooks.manage"),
			wantIn: map[string][]string{
				"okta credentials":                  {"for -okta-scopes together", "the scope lines below name the grants missing"},
				"okta scope okta.eventHooks.manage": {"token for okta.eventHooks.manage: HTTP 400 invalid_scope", "grant okta.eventHooks.manage"},
			}},
		{name: "-okta-scopes without okta.eventHooks.manage", opts: doctorOptions{granted: serveScopes},
			change: func(t *testing.T, d *doctorDeployment) {
				d.env["PREENROLL_OKTA_SCOPES"] = "okta.users.manage,okta.users.read"
			},
			wantCode: ExitFailed, want: []string{"ok settings", "ok store", "ok okta org", "ok okta credentials",
				"ok okta scope okta.users.manage", "ok okta scope okta.users.read", "ok okta scope okta.logs.read", "FAIL okta scope okta.eventHooks.manage",
				"ok yubico api", "ok yubico jwks", "ok console oidc", "ok console admin group", "ok console read-only group"},
			wantIn: map[string][]string{"okta scope okta.eventHooks.manage": {"not in -okta-scopes: serve registers its event hook at -public-url with it"}}},
		{name: "bad Okta token", wantCode: ExitFailed,
			change: func(t *testing.T, d *doctorDeployment) {
				d.env["PREENROLL_OKTA_TOKEN_FILE"] = writeFile(t, "okta.token", "00wrong-okta-token-value\n")
				d.secrets = append(d.secrets, "00wrong-okta-token-value")
			},
			want:   with(apiToken, "FAIL okta credentials", "skip okta event hooks", "skip okta system log", "skip console admin group", "skip console read-only group"),
			wantIn: map[string][]string{"okta credentials": {"Okta refused the API token of -okta-token-file (", "okta.token): ", "HTTP 401", "put a valid token in the file"}}},
		{name: "service app with a key Okta does not have", opts: doctorOptions{granted: serveScopes}, wantCode: ExitFailed,
			change: func(t *testing.T, d *doctorDeployment) {
				wrong := newServiceKey(t, false)
				d.env["PREENROLL_OKTA_PRIVATE_KEY_FILE"] = wrong.file
				d.secrets = append(d.secrets, wrong.secrets...)
			},
			want: with(serviceApp, "FAIL okta credentials", "skip okta scope okta.users.manage", "skip okta scope okta.users.read", "skip okta scope okta.groups.read",
				"skip okta scope okta.eventHooks.manage", "skip okta scope okta.logs.read", "skip console admin group", "skip console read-only group"),
			wantIn: map[string][]string{"okta credentials": {"HTTP 401 invalid_client", "check -okta-client-id"}}},
		{name: "bad Yubico token", wantCode: ExitFailed,
			change: func(t *testing.T, d *doctorDeployment) {
				d.env["PREENROLL_YUBICO_TOKEN_FILE"] = writeFile(t, "yubico.token", "wrong-yubico-token-value\n")
				d.secrets = append(d.secrets, "wrong-yubico-token-value")
			},
			want:   with(apiToken, "FAIL yubico api"),
			wantIn: map[string][]string{"yubico api": {"Yubico refused the token of -yubico-token-file (", "HTTP 401", "put a valid API token in the file"}}},
		{name: "store is a directory", wantCode: ExitFailed,
			change: func(t *testing.T, d *doctorDeployment) { d.env["PREENROLL_STORE"] = t.TempDir() },
			want:   with(apiToken, "FAIL store"),
			wantIn: map[string][]string{"store": {"is a directory", "set -store (PREENROLL_STORE) to a file in it"}}},
		{name: "PostgreSQL unreachable", wantCode: ExitFailed,
			change: func(t *testing.T, d *doctorDeployment) {
				d.env["PREENROLL_STORE"] = "postgres://preenroll:pg-password-42@" + strings.TrimPrefix(unreachableURL(t), "http://") + "/preenroll?sslmode=disable"
				d.secrets = append(d.secrets, "pg-password-42")
			},
			want:   with(apiToken, "FAIL store"),
			wantIn: map[string][]string{"store": {"pgstore: ", "check -store (PREENROLL_STORE): the host, port, database and role"}}},
		{name: "console groups missing", opts: doctorOptions{groups: []string{"preenroll viewers"}}, wantCode: ExitFailed,
			want: with(apiToken, "FAIL console admin group", "FAIL console read-only group"),
			wantIn: map[string][]string{
				"console admin group":     {`Okta has no group named "Preenroll Admins"`, "create it in Okta, or fix -console-admin-group"},
				"console read-only group": {`Okta has "preenroll viewers", not "Preenroll Viewers"`, "set -console-read-only-group to the group's name as Okta spells it"},
			}},
		{name: "Okta org unreachable", wantCode: ExitFailed,
			change: func(t *testing.T, d *doctorDeployment) { d.env["PREENROLL_OKTA_ORG"] = unreachableURL(t) },
			// The console's discovery document is the org's: not asked
			// for again once the org did not answer.
			want: with(apiToken, "FAIL okta org", "skip okta credentials", "skip okta event hooks", "skip okta system log",
				"skip console oidc", "skip console admin group", "skip console read-only group"),
			wantIn: map[string][]string{
				"okta org":     {"Okta unreachable: ", "connection refused", "check -okta-org, and that this host reaches it"},
				"console oidc": {"the org did not answer"},
			}},
		{name: "no public URL, catch-up off, order-only, no console", wantCode: ExitOK,
			change: func(t *testing.T, d *doctorDeployment) {
				for _, k := range []string{"PREENROLL_PUBLIC_URL", "PREENROLL_YUBICO_TOKEN_FILE", "PREENROLL_CONSOLE_CLIENT_ID", "PREENROLL_CONSOLE_CLIENT_SECRET_FILE",
					"PREENROLL_CONSOLE_ADMIN_GROUP", "PREENROLL_CONSOLE_READ_ONLY_GROUP"} {
					delete(d.env, k)
				}
				d.env["PREENROLL_CATCH_UP_INTERVAL"] = "0s"
				d.env["PREENROLL_STORE"] = filepath.Join(t.TempDir(), "new.db")
			},
			want: []string{"ok settings", "ok store", "ok okta org", "ok okta credentials", "off yubico", "off console"},
			wantIn: map[string][]string{
				"settings": {"API token, store SQLite ", "new.db, order-only"},
				"store":    {"new.db does not exist yet: serve creates it at start (not created here"},
			},
			after: func(t *testing.T, d doctorDeployment) {
				if _, err := os.Stat(d.env["PREENROLL_STORE"]); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("doctor made the store: stat: %v", err)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newDoctorDeployment(t, tc.opts)
			if tc.change != nil {
				tc.change(t, &d)
			}
			r := invocation{env: d.env}.run(t, "doctor")
			t.Logf("stdout:\n%s", r.stdout)
			if tc.after != nil {
				tc.after(t, d)
			}
			got, last := parseDoctor(t, r.stdout)
			var outcomes []string
			for _, l := range got {
				outcomes = append(outcomes, l.outcome+" "+l.name)
			}
			if diff := cmp.Diff(tc.want, outcomes); diff != "" {
				t.Errorf("checks (-want +got):\n%s\nstdout:\n%s\nstderr:\n%s", diff, r.stdout, r.stderr)
			}
			if r.code != tc.wantCode {
				t.Errorf("exit %d, want %d; stdout:\n%s", r.code, tc.wantCode, r.stdout)
			}
			failed, ran := 0, 0
			for _, l := range got {
				switch l.outcome {
				case checkFail:
					failed++
					ran++
				case checkOK:
					ran++
				}
			}
			wantLast := fmt.Sprintf("all %d checks passed", ran)
			if failed > 0 {
				wantLast = fmt.Sprintf("%d of %d checks failed", failed, ran)
			}
			if last != wantLast {
				t.Errorf("last line %q, want %q", last, wantLast)
			}
			for name, subs := range tc.wantIn {
				i := slices.IndexFunc(got, func(l doctorLine) bool { return l.name == name })
				if i < 0 {
					t.Errorf("no line %q", name)
					continue
				}
				for _, s := range subs {
					if !strings.Contains(got[i].detail, s) {
						t.Errorf("line %q lacks %q:\n%s", name, s, got[i].detail)
					}
				}
			}
			for _, s := range d.secrets {
				if strings.Contains(r.stdout+r.stderr, s) {
					t.Errorf("doctor printed the secret %q", s)
				}
			}
			if s := d.key.printedIn(r.stdout + r.stderr); d.key.file != "" && s != "" {
				t.Errorf("doctor printed %q of the service app's key", s)
			}
		})
	}
}

// TestDoctorSettings: doctor takes serve's settings, checks them as serve
// does and reports bad ones the same way (exit 2, nothing checked); its
// help lists serve's settings with serve's defaults.
func TestDoctorSettings(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"PREENROLL_OKTA_ORG": "https://example.okta.com", "PREENROLL_OKTA_TOKEN_FILE": writeFile(t, "okta.token", "00okta-token-secret\n"),
		"PREENROLL_CONSOLE_CLIENT_ID": "0oaConsole",
	}
	serveRun := invocation{env: env}.run(t, "serve")
	doctorRun := invocation{env: env}.run(t, "doctor")
	if doctorRun.code != ExitUsage || doctorRun.stdout != "" {
		t.Errorf("doctor with bad settings: exit %d, stdout %q; want %d and nothing checked", doctorRun.code, doctorRun.stdout, ExitUsage)
	}
	want := strings.NewReplacer("preenroll serve", "preenroll doctor", "help serve", "help doctor").Replace(serveRun.stderr)
	if diff := cmp.Diff(want, doctorRun.stderr); diff != "" {
		t.Errorf("doctor's report of bad settings, against serve's (-serve +doctor):\n%s", diff)
	}
	for _, p := range []string{"-hook-secret-file (PREENROLL_HOOK_SECRET_FILE) is required", "-console-admin-group (PREENROLL_CONSOLE_ADMIN_GROUP) is required", "-store (PREENROLL_STORE) is required"} {
		if !strings.Contains(doctorRun.stderr, p) {
			t.Errorf("doctor's stderr lacks %q:\n%s", p, doctorRun.stderr)
		}
	}
	if strings.Contains(doctorRun.stdout+doctorRun.stderr, "00okta-token-secret") {
		t.Error("doctor printed the Okta token")
	}

	help := runCLI(t, "help", "doctor")
	for _, s := range []string{"usage: preenroll doctor [settings]", "  -public-url  (PREENROLL_PUBLIC_URL", "  -console-admin-group  (PREENROLL_CONSOLE_ADMIN_GROUP",
		`-okta-scopes  (PREENROLL_OKTA_SCOPES, file key "okta-scopes", default okta.users.manage,okta.users.read,okta.groups.read,okta.eventHooks.manage)`,
		"Not checked: whether Okta can reach -public-url"} {
		if help.code != ExitOK || !strings.Contains(help.stdout, s) {
			t.Errorf("help doctor: exit %d, lacks %q:\n%s", help.code, s, help.stdout)
		}
	}
	// The demo: nothing to reach.
	r := runCLI(t, "doctor")
	if got, _ := parseDoctor(t, r.stdout); r.code != ExitOK || len(got) != 2 || got[1].outcome != checkOff {
		t.Errorf("doctor without -okta-org: exit %d, stdout:\n%s", r.code, r.stdout)
	}
}

// TestDoctorHookPath: a -hook-path serve.Run would refuse at start is a
// bad setting for doctor too (exit 2, naming the setting), not "ok
// settings".
func TestDoctorHookPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ path, want string }{
		{"hooks/okta", `PREENROLL_HOOK_PATH "hooks/okta": want an absolute path like /hooks/okta`},
		{"/hooks/okta?x=1", `"/hooks/okta?x=1": want an absolute path like /hooks/okta`},
		{"/healthz", `PREENROLL_HOOK_PATH "/healthz": taken by serve's own endpoint`},
		{"/", `"/": taken by serve's own endpoint`},
	} {
		d := newDoctorDeployment(t, doctorOptions{})
		d.env["PREENROLL_HOOK_PATH"] = tc.path
		r := invocation{env: d.env}.run(t, "doctor")
		if r.code != ExitUsage || r.stdout != "" || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("doctor -hook-path %q: exit %d, want %d and %q; stdout:\n%s\nstderr:\n%s", tc.path, r.code, ExitUsage, tc.want, r.stdout, r.stderr)
		}
	}
}

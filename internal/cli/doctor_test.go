package cli

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/pgstore"
	"github.com/preenroll/preenroll/internal/pgtest"
	"github.com/preenroll/preenroll/internal/testdir"
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
		"PREENROLL_RP_ID":                      testRPID,      // the org's host, 127.0.0.1, is none
		"PREENROLL_LISTEN":                     "127.0.0.1:0", // bound by doctor: a port of its own
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
	latest := sqliteLatest(t)
	apiToken := []string{"ok settings", "ok public url", "ok listen", "ok store", "ok okta org", "ok okta credentials", "ok okta event hooks", "ok okta system log",
		"ok yubico api", "ok yubico jwks", "ok console oidc", "ok console admin group", "ok console read-only group"}
	serviceApp := []string{"ok settings", "ok public url", "ok listen", "ok store", "ok okta org", "ok okta credentials",
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
				"store":               {"SQLite ", fmt.Sprintf("keys.db: schema %d, up to date", latest)},
				"public url":          {"serve registers its event hook at https://preenroll.example.com/hooks/okta"},
				"listen":              {"127.0.0.1:0 bound (127.0.0.1:", ") and released: serve can listen on it"},
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
				"grant okta.logs.read to the service app in Okta", "or turn the catch-up off: set -catch-up-interval (PREENROLL_CATCH_UP_INTERVAL) to 0s"}}},
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
			wantCode: ExitFailed, want: []string{"ok settings", "ok public url", "ok listen", "ok store", "ok okta org", "ok okta credentials",
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
			wantIn: map[string][]string{"yubico api": {"Yubico refused the token of -yubico-token-file (PREENROLL_YUBICO_TOKEN_FILE), read from ", "yubico.token: ", "HTTP 401", "put a valid API token in the file"}}},
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
				"console admin group":     {`Okta has no group named "Preenroll Admins"`, "create it in Okta, or fix -console-admin-group (PREENROLL_CONSOLE_ADMIN_GROUP)"},
				"console read-only group": {`Okta has "preenroll viewers", not "Preenroll Viewers"`, "set -console-read-only-group (PREENROLL_CONSOLE_READ_ONLY_GROUP) to the group's name as Okta spells it"},
			}},
		{name: "Okta org unreachable", wantCode: ExitFailed,
			change: func(t *testing.T, d *doctorDeployment) { d.env["PREENROLL_OKTA_ORG"] = unreachableURL(t) },
			// The console's discovery document is the org's: not asked
			// for again once the org did not answer.
			want: with(apiToken, "FAIL okta org", "skip okta credentials", "skip okta event hooks", "skip okta system log",
				"skip console oidc", "skip console admin group", "skip console read-only group"),
			wantIn: map[string][]string{
				"okta org":     {"Okta unreachable: ", "connection refused", "check -okta-org (PREENROLL_OKTA_ORG), and that this host reaches it"},
				"console oidc": {"the org did not answer"},
			}},
		{name: "Yubico unreachable", wantCode: ExitFailed,
			change: func(t *testing.T, d *doctorDeployment) { d.env["PREENROLL_YUBICO_API"] = unreachableURL(t) },
			want:   with(apiToken, "FAIL yubico api"),
			wantIn: map[string][]string{"yubico api": {"connection refused", "check -yubico-api (PREENROLL_YUBICO_API), and that this host reaches it"}}},
		{name: "http public URL off loopback: a warning", wantCode: ExitOK,
			change: func(t *testing.T, d *doctorDeployment) {
				d.env["PREENROLL_PUBLIC_URL"] = "http://preenroll.example.com"
				d.env["PREENROLL_CONSOLE_REDIRECT_URL"] = "https://preenroll.example.com/auth/callback"
			},
			want: with(apiToken, "WARN public url"),
			wantIn: map[string][]string{"public url": {"http://preenroll.example.com is http: Okta delivers event hooks over https only",
				"set -public-url (PREENROLL_PUBLIC_URL) to the https URL Okta reaches serve at"}}},
		{name: "http public URL on loopback", wantCode: ExitOK,
			change: func(t *testing.T, d *doctorDeployment) {
				d.env["PREENROLL_PUBLIC_URL"] = "http://127.0.0.1:8080"
			},
			want:   apiToken,
			wantIn: map[string][]string{"public url": {"serve registers its event hook at http://127.0.0.1:8080/hooks/okta"}}},
		{name: "no public URL, catch-up off, order-only, no console", wantCode: ExitOK,
			change: func(t *testing.T, d *doctorDeployment) {
				for _, k := range []string{"PREENROLL_PUBLIC_URL", "PREENROLL_YUBICO_TOKEN_FILE", "PREENROLL_CONSOLE_CLIENT_ID", "PREENROLL_CONSOLE_CLIENT_SECRET_FILE",
					"PREENROLL_CONSOLE_ADMIN_GROUP", "PREENROLL_CONSOLE_READ_ONLY_GROUP"} {
					delete(d.env, k)
				}
				d.env["PREENROLL_CATCH_UP_INTERVAL"] = "0s"
				d.env["PREENROLL_STORE"] = filepath.Join(t.TempDir(), "new.db")
			},
			want: []string{"ok settings", "ok listen", "ok store", "ok okta org", "ok okta credentials", "off yubico", "off console"},
			wantIn: map[string][]string{
				"settings": {"API token, store SQLite ", "new.db, order-only"},
				"store":    {"new.db does not exist yet: serve creates it at start (not created here"},
			},
			after: func(t *testing.T, d doctorDeployment) {
				if _, err := os.Stat(d.env["PREENROLL_STORE"]); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("doctor made the store: stat: %v", err)
				}
				if es, err := os.ReadDir(filepath.Dir(d.env["PREENROLL_STORE"])); err != nil || len(es) > 0 {
					t.Errorf("doctor left files beside the store it did not make: %v, %v", es, err)
				}
			}},
		{name: "SQLite schema newer than this binary", wantCode: ExitFailed,
			change: func(t *testing.T, d *doctorDeployment) {
				addMigration(t, d.env["PREENROLL_STORE"], latest+1)
			},
			want: with(apiToken, "FAIL store"),
			wantIn: map[string][]string{"store": {fmt.Sprintf("schema %d, newer than this binary's %d: serve refuses to start on it", latest+1, latest),
				"run the version that migrated it, or a later one"}}},
		{name: "-listen in use", wantCode: ExitFailed,
			change: func(t *testing.T, d *doctorDeployment) {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { l.Close() }) // held while doctor runs
				d.env["PREENROLL_LISTEN"] = l.Addr().String()
			},
			want:   with(apiToken, "FAIL listen"),
			wantIn: map[string][]string{"listen": {" is in use: another program listens on it", "stop it, or set -listen (PREENROLL_LISTEN) to a free port"}}},
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
			failed, warned, ran := 0, 0, 0
			for _, l := range got {
				switch l.outcome {
				case checkFail:
					failed++
					ran++
				case checkWarn:
					warned++
					ran++
				case checkOK:
					ran++
				}
			}
			wantLast := fmt.Sprintf("all %d checks passed", ran)
			if warned > 0 {
				wantLast += fmt.Sprintf(" (%d warning)", warned)
			}
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

// sqliteLatest returns the SQLite schema version of this binary: a new
// store's.
func sqliteLatest(t *testing.T) int {
	t.Helper()
	db, err := fulfillment.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "latest.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, err := db.SchemaVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sqliteExec runs q on the SQLite file at path with a handle of the
// test's own.
func sqliteExec(t *testing.T, path, q string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// addMigration records migration v in the SQLite file at path, as a newer
// binary would.
func addMigration(t *testing.T, path string, v int) {
	t.Helper()
	sqliteExec(t, path, `INSERT INTO migrations(version, applied_at) VALUES (?, 'now')`, v)
}

// storeVersion reads the schema version of -store by the store's own
// SchemaVersion, on a handle that does not migrate (a plain SQLite handle,
// a PostgreSQL connection).
func storeVersion(t *testing.T, store string) int {
	t.Helper()
	var v int
	if strings.HasPrefix(store, "postgres") {
		conn, err := pgx.Connect(t.Context(), store)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(t.Context())
		if err := conn.QueryRow(t.Context(), `SELECT COALESCE(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	db, err := sql.Open("sqlite", store)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRowContext(t.Context(), `SELECT COALESCE(MAX(version), 0) FROM migrations`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestDoctorStoreReadOnly: doctor reads an old store's schema version and
// says serve will migrate it, leaving it as it was: the version is the
// same after (and the SQLite file's directory holds the same files);
// a PostgreSQL schema without tables gets none.
func TestDoctorStoreReadOnly(t *testing.T) {
	t.Parallel()
	latest := sqliteLatest(t)
	for _, tc := range []struct {
		name string
		// store makes the store and returns -store and the version it is at.
		store func(t *testing.T) (string, int)
		want  string
	}{
		{"SQLite at schema 1", func(t *testing.T) (string, int) {
			path := filepath.Join(t.TempDir(), "keys.db")
			db, err := fulfillment.OpenSQLite(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			sqliteExec(t, path, `DELETE FROM migrations WHERE version > 1`) // as an older binary left it
			return path, 1
		}, fmt.Sprintf("keys.db: schema 1; serve will migrate it to %d at start (doctor migrated nothing", latest)},
		{"PostgreSQL at schema 2", func(t *testing.T) (string, int) {
			_, url := pgtest.Schema(t, "cli_doctor")
			db, err := pgstore.Open(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.SchemaVersion(t.Context()); err != nil {
				t.Fatal(err)
			}
			conn, err := pgx.Connect(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(t.Context())
			if _, err := conn.Exec(t.Context(), `DELETE FROM schema_migrations WHERE version > 2`); err != nil {
				t.Fatal(err)
			}
			return url, 2
		}, "schema 2; serve will migrate it to "},
		{"PostgreSQL schema without tables", func(t *testing.T) (string, int) {
			_, url := pgtest.Schema(t, "cli_doctor")
			return url, -1
		}, "no schema yet; serve will create it (schema "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store, version := tc.store(t)
			var before map[string]int64
			if !strings.HasPrefix(store, "postgres") {
				before = testdir.Sizes(t, filepath.Dir(store))
			}
			d := newDoctorDeployment(t, doctorOptions{})
			d.env["PREENROLL_STORE"] = store
			r := invocation{env: d.env}.run(t, "doctor")
			got, _ := parseDoctor(t, r.stdout)
			i := slices.IndexFunc(got, func(l doctorLine) bool { return l.name == "store" })
			if r.code != ExitOK || i < 0 || got[i].outcome != checkOK || !strings.Contains(got[i].detail, tc.want) {
				t.Errorf("doctor: exit %d, want %d and an ok store line with %q; stdout:\n%s\nstderr:\n%s", r.code, ExitOK, tc.want, r.stdout, r.stderr)
			}
			if version < 0 {
				conn, err := pgx.Connect(t.Context(), store)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close(t.Context())
				var tables int
				if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()`).Scan(&tables); err != nil || tables != 0 {
					t.Errorf("tables in the schema after doctor: %d, %v; want none", tables, err)
				}
				return
			}
			if v := storeVersion(t, store); v != version {
				t.Errorf("schema version after doctor = %d, want %d (unchanged)", v, version)
			}
			if before != nil {
				if diff := cmp.Diff(before, testdir.Sizes(t, filepath.Dir(store))); diff != "" {
					t.Errorf("files beside the store after doctor (-before +after):\n%s", diff)
				}
			}
		})
	}
}

// TestDoctorStoreDirectoryNotWritable: a SQLite file in a directory
// serve's user may not create files in fails doctor's store line, whether
// the file exists (writable, but SQLite makes its -wal and -shm beside
// it, and serve's open is refused) or not (serve creates it there).
// Skipped where the directory is writable all the same (root).
func TestDoctorStoreDirectoryNotWritable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// store returns -store, given the deployment's existing one.
		store func(t *testing.T, existing string) string
		want  string
	}{
		{"existing file", func(t *testing.T, existing string) string { return existing },
			"up to date, but this user may not create files in its directory "},
		{"missing file", func(t *testing.T, _ string) string { return filepath.Join(t.TempDir(), "new.db") },
			"does not exist yet, and serve could not create it: this user may not create files in its directory "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newDoctorDeployment(t, doctorOptions{})
			store := tc.store(t, d.env["PREENROLL_STORE"])
			dir := filepath.Dir(store)
			if err := os.Chmod(dir, 0o555); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(dir, 0o755) }) // before TempDir's removal
			if dirWritable(dir) == nil {
				t.Skip("this user may create files in a directory of mode 0555 (root), or the system cannot tell")
			}
			before := testdir.Sizes(t, dir)
			d.env["PREENROLL_STORE"] = store
			r := invocation{env: d.env}.run(t, "doctor")
			got, _ := parseDoctor(t, r.stdout)
			i := slices.IndexFunc(got, func(l doctorLine) bool { return l.name == "store" })
			if r.code != ExitFailed || i < 0 || got[i].outcome != checkFail || !strings.Contains(got[i].detail, tc.want) ||
				!strings.Contains(got[i].detail, "permission denied") {
				t.Errorf("doctor: exit %d, want %d and a FAIL store line with %q and the system's reason; stdout:\n%s", r.code, ExitFailed, tc.want, r.stdout)
			}
			if diff := cmp.Diff(before, testdir.Sizes(t, dir)); diff != "" {
				t.Errorf("files beside the store after doctor (-before +after):\n%s", diff)
			}
			// What doctor predicts, serve's open does.
			if s, err := fulfillment.OpenSQLite(t.Context(), store); err == nil {
				s.Close()
				t.Error("OpenSQLite succeeded where doctor predicted it fails")
			}
		})
	}
}

// TestListenProblem: a -listen doctor cannot bind is explained: in use,
// a privileged port, an address this host does not have, anything else as
// the system says it.
func TestListenProblem(t *testing.T) {
	t.Parallel()
	opErr := func(errno syscall.Errno) error {
		return &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", errno)}
	}
	for _, tc := range []struct {
		addr         string
		err          error
		reason, todo string
	}{
		{":8080", opErr(syscall.EADDRINUSE), ":8080 is in use: another program listens on it (a serve already running?)",
			"stop it, or set -listen (PREENROLL_LISTEN) to a free port"},
		{":443", opErr(syscall.EACCES), ":443: permission denied (privileged port: needs CAP_NET_BIND_SERVICE)",
			"grant serve's unit AmbientCapabilities=CAP_NET_BIND_SERVICE (see deploy/preenroll.service; doctor run outside the unit does not have it), or set -listen (PREENROLL_LISTEN) to a port from 1024 up"},
		{"192.0.2.1:8080", opErr(syscall.EADDRNOTAVAIL), "192.0.2.1:8080: no interface of this host has that address",
			"set -listen (PREENROLL_LISTEN) to an address of this host, or :PORT for all"},
		{"nohost.invalid:8080", errors.New("listen tcp: lookup nohost.invalid: no such host"), "listen tcp: lookup nohost.invalid: no such host",
			"check -listen (PREENROLL_LISTEN): host:port"},
	} {
		reason, todo := listenProblem(tc.addr, tc.err)
		if diff := cmp.Diff([2]string{tc.reason, tc.todo}, [2]string{reason, todo}); diff != "" {
			t.Errorf("listenProblem(%q, %v) (-want +got):\n%s", tc.addr, tc.err, diff)
		}
	}
}

// TestDoctorListenRefused: a -listen serve could not bind fails doctor's
// listen line with why: a port this user may not bind (when it runs
// without CAP_NET_BIND_SERVICE; skipped otherwise).
func TestDoctorListenRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:1")
	if err == nil {
		l.Close()
		t.Skip("this user may bind a privileged port (root, or CAP_NET_BIND_SERVICE): nothing to refuse")
	}
	if !errors.Is(err, syscall.EACCES) {
		t.Skipf("127.0.0.1:1 not refused for its privilege: %v", err)
	}
	d := newDoctorDeployment(t, doctorOptions{})
	d.env["PREENROLL_LISTEN"] = "127.0.0.1:1"
	r := invocation{env: d.env}.run(t, "doctor")
	got, _ := parseDoctor(t, r.stdout)
	i := slices.IndexFunc(got, func(l doctorLine) bool { return l.name == "listen" })
	if r.code != ExitFailed || i < 0 || got[i].outcome != checkFail || !strings.Contains(got[i].detail, "permission denied (privileged port: needs CAP_NET_BIND_SERVICE)") {
		t.Errorf("doctor -listen 127.0.0.1:1: exit %d, stdout:\n%s", r.code, r.stdout)
	}
}

// TestDoctorYubicoBound: doctor's Yubico client times a request out as
// serve's does (after -okta-timeout: serve.Config.HTTPTimeout, for Okta
// and Yubico alike), and the check lets it make its three attempts, so
// that a Yubico that never answers fails the line as the client gives up,
// not as doctor's own bound cuts the first attempt.
func TestDoctorYubicoBound(t *testing.T) {
	t.Parallel()
	var attempts atomic.Int32
	stalled := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		<-r.Context().Done() // answers nothing: the client's timeout ends the request
	}))
	t.Cleanup(stalled.Close)
	d := newDoctorDeployment(t, doctorOptions{})
	d.env["PREENROLL_YUBICO_API"] = stalled.URL
	d.env["PREENROLL_OKTA_TIMEOUT"] = "200ms"
	r := invocation{env: d.env}.run(t, "doctor")
	got, _ := parseDoctor(t, r.stdout)
	i := slices.IndexFunc(got, func(l doctorLine) bool { return l.name == "yubico api" })
	// "giving up after 3 attempts" is the client's own end: had doctor's
	// bound cut an attempt, the client would have stopped at its context's
	// error. How net/http words the last attempt's timeout varies: the
	// CLI's client has a Transport of its own (waitReporter), so
	// http.Client enforces its Timeout both by the request's context
	// deadline and by a timer goroutine, and says "request canceled
	// (Client.Timeout exceeded …)" when the goroutine cancels first but a
	// bare "context deadline exceeded" when the deadline beats it
	// (golang/go#51385; under load about one timeout in six).
	timedOut := func(detail string) bool {
		return strings.Contains(detail, "Client.Timeout exceeded") || strings.Contains(detail, "context deadline exceeded")
	}
	if i < 0 || got[i].outcome != checkFail || !strings.Contains(got[i].detail, "giving up after 3 attempts") || !timedOut(got[i].detail) {
		t.Errorf("doctor with a Yubico that never answers: want a failed yubico api line saying the client gave up after 3 attempts, each timed out; stdout:\n%s", r.stdout)
	}
	// The client's "giving up after 3 attempts" above is the check of the
	// number of attempts. The stalled server sees at most those three, but
	// may see fewer: on a loaded machine an attempt's 200 ms can run out
	// before the server's handler runs (it failed so once, at a load
	// average of 10 on two cores: "asked 2 times" with the client's three).
	if n := attempts.Load(); n < 1 || n > 3 {
		t.Errorf("Yubico was asked %d times, want 1 to 3 (serve's client's attempts, each cut at 200 ms)", n)
	}
}

// TestDoctorServeRules: whether the console and the catch-up are on is
// decided for doctor by serve's own rules (serve.Config.ConsoleEnabled,
// CatchUpEnabled) on the serve.Config runServe starts with, from the
// same settings.
func TestDoctorServeRules(t *testing.T) {
	t.Parallel()
	org := []string{"-okta-org", "https://example.okta.com", "-okta-token-file", writeFile(t, "okta.token", "00token"),
		"-hook-secret-file", writeFile(t, "hook.secret", "hook-secret-0123456789"), "-store", "keys.db"}
	console := []string{"-console-client-id", "0oaConsole", "-console-client-secret-file", writeFile(t, "console.secret", "console-secret"),
		"-console-admin-group", "Admins"}
	type on struct{ Console, CatchUp bool }
	for _, tc := range []struct {
		name string
		args []string
		want on
	}{
		{"the demo", nil, on{true, true}},
		{"the demo, console off", []string{"-console=false"}, on{false, true}},
		{"the demo, catch-up off", []string{"-catch-up-interval", "0s"}, on{true, false}},
		{"an org", org, on{false, true}},
		{"an org with the console's app", slices.Concat(org, console), on{true, true}},
		{"an org with the console's app, -console=false", slices.Concat(org, console, []string{"-console=false"}), on{false, true}},
		{"an org, -console=true", slices.Concat(org, console, []string{"-console=true"}), on{true, true}},
		{"an org, catch-up every minute", slices.Concat(org, []string{"-catch-up-interval", "1m"}), on{false, true}},
		{"an org, catch-up off", slices.Concat(org, []string{"-catch-up-interval", "0s"}), on{false, false}},
	} {
		cfg, problems := resolveServe(t, nil, tc.args...)
		if len(problems) > 0 {
			t.Fatalf("%s: problems: %q", tc.name, problems)
		}
		d := &doctor{cfg: cfg, serve: serveSettings(cfg)}
		sc := serveConfig(cfg, &Invocation{Stderr: io.Discard, Stdout: io.Discard}) // what runServe starts
		for who, got := range map[string]on{"doctor": {d.serve.ConsoleEnabled(), d.serve.CatchUpEnabled()}, "serve": {sc.ConsoleEnabled(), sc.CatchUpEnabled()}} {
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s: %s (-want +got):\n%s", tc.name, who, diff)
			}
		}
	}
}

// TestSchemaPlan: what the store line says serve will do with the schema;
// a schema whose version could not be read (a PostgreSQL role without
// USAGE on it) exists, and is not called missing.
func TestSchemaPlan(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		st   fulfillment.SchemaStatus
		want string
	}{
		{fulfillment.SchemaStatus{Latest: 4}, "no schema yet; serve will create it (schema 4) at start"},
		{fulfillment.SchemaStatus{Latest: 4, VersionUnknown: true, Problems: []string{`role "r" lacks USAGE and CREATE on schema "s"`}},
			"schema exists; its version cannot be read"},
		{fulfillment.SchemaStatus{Version: 2, Latest: 4}, "schema 2; serve will migrate it to 4 at start (doctor migrated nothing: start every instance on the store with this version)"},
		{fulfillment.SchemaStatus{Version: 4, Latest: 4}, "schema 4, up to date"},
	} {
		if diff := cmp.Diff(tc.want, schemaPlan(tc.st)); diff != "" {
			t.Errorf("schemaPlan(%+v) (-want +got):\n%s", tc.st, diff)
		}
	}
}

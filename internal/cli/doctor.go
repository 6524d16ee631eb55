package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/pgstore"
	"github.com/preenroll/preenroll/internal/httpclient"
	"github.com/preenroll/preenroll/internal/serve"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/yubico"
)

func init() {
	Register(&Command{
		Name: "doctor", MaxArgs: 0, SettingsOf: "serve",
		Summary: "check serve's settings and connections before starting it: one line per check",
		Doc: `Checks a deployment of serve before it starts: it takes exactly serve's
settings (the same flags, PREENROLL_* variables and config file), runs every
check below that applies, and prints one line per check: ok, WARN (it passes,
but a real Okta would likely refuse it), or FAIL with the reason and what to
do. It goes on after a failure, so every problem shows at once. It changes
nothing: every call it makes at Okta and Yubico is a read, and it reads the
store without migrating or writing it, so that it may run beside serve
instances of another version on a shared store. Run it as the user serve runs
as, so that it reads the files serve will.

The checks, in order:
  settings    serve's own validation, the Service's settings (-rp-id, or
              the org's host as its default) among them (bad settings:
              reported as serve reports them, exit 2, nothing else
              checked).
  public url  with -public-url (serve registers its event hook there): a
              warning when it is http and not on loopback, as Okta
              delivers event hooks over https only.
  listen      -listen can be bound (and is released at once): not in use,
              and not a port below 1024 without CAP_NET_BIND_SERVICE.
  store       -store's schema version against this binary's, read without
              migrating: up to date, or "serve will migrate it to M" at
              start, or newer than this binary (serve refuses to start on
              it: run the version that migrated it, or a later one).
              PostgreSQL: the database connects, and the role has what
              serve needs (CREATE on the schema, which serve's start uses
              even with nothing to migrate; its statements' privileges on
              the tables; ownership of the tables when serve will migrate
              them). SQLite: the file opens for writing as this user, who
              may create files in its directory (SQLite's -wal and -shm
              beside it). A SQLite file that does not exist yet is not
              created (serve creates it, as its user).
  okta org    -okta-org answers: its OpenID configuration (no credentials).
  okta credentials
              the API token, or the service app's token for -okta-scopes
              (asked for together, as serve does), is accepted and reads
              one user (an admin role that may read users).
  okta scope S (service app only)
              a token for each scope serve asks for, one scope at a time so
              that the line names a missing grant: -okta-scopes, and
              okta.logs.read when the catch-up is on (-catch-up-interval,
              whose token asks for it alone); each token reads with its
              scope (one user, the Everyone group, the event hooks list, one
              System Log event), so that the app's missing admin role shows
              too. okta.users.manage, and okta.eventHooks.manage with
              -public-url, fail when -okta-scopes lacks them.
  okta event hooks, okta system log (API token only)
              the event hooks list with -public-url (serve registers its
              hook), one System Log event when the catch-up is on.
  yubico api  the token of -yubico-token-file is accepted (the countries
              list); without the token serve is order-only and this is off.
  yubico jwks Yubico's transport and signing keys load from -yubico-jwks.
  console oidc, console admin group, console read-only group
              with the console on: the org's OpenID discovery document
              loads as the console's sign-in reads it, and the groups named
              by -console-admin-group and -console-read-only-group exist in
              Okta under exactly that name (the console compares the ID
              token's groups claim exactly).

Each check of a remote is bounded by three of serve's request timeouts
(-okta-timeout, which serve's Okta and Yubico clients both use, as doctor's
do: a request is tried up to three times) and the waits between them; the
store's by 30 seconds.

Not checked: whether Okta can reach -public-url (only Okta's side can tell:
serve verifies its hook at start and /readyz fails until Okta delivers), the
hook secret and the console's client secret beyond their files (only Okta
uses them), and whether the console's app puts a groups claim in its ID
tokens. Secrets are never printed: errors name their files.

Exit codes: 0 every check passed (warnings too), 1 a check failed, 2 bad
settings.`,
		Run: runDoctor,
	})
}

// Outcomes of a doctor check, as printed.
const (
	checkOK   = "ok"
	checkWarn = "WARN" // passed, but likely to fail at a real Okta
	checkFail = "FAIL"
	checkSkip = "skip" // not run: a check it depends on failed
	checkOff  = "off"  // the feature is not configured
)

// doctor runs the checks and prints their lines.
type doctor struct {
	inv *Invocation
	cfg *Config
	// serve is what serve would run with (serveSettings), for its rules.
	serve  serve.Config
	failed int
	warned int
	ran    int
	// oktaRefused is set when Okta refused the credentials: the checks
	// that need them are skipped.
	oktaRefused bool
	// orgDown is set when the org did not answer: the checks of its
	// documents are skipped too.
	orgDown bool
}

// line prints one check's outcome. detail is printed terminal-safe.
func (d *doctor) line(outcome, name, detail string) {
	if outcome == checkOK || outcome == checkWarn || outcome == checkFail {
		d.ran++
	}
	if outcome == checkWarn {
		d.warned++
	}
	if outcome == checkFail {
		d.failed++
	}
	fmt.Fprintf(d.inv.Stdout, "%-4s  %s: %s\n", outcome, name, safe(detail))
}

// fail prints a failed check: the reason, then what to do.
func (d *doctor) fail(name, reason, todo string) {
	if todo != "" {
		reason += " — " + todo
	}
	d.line(checkFail, name, reason)
}

// checkAttempts is how many of serve's request timeouts a check of Okta or
// Yubico may take: the clients try a request up to three times, waiting
// up to retryWaits in all between the attempts (their backoffs: 0.5 s,
// then 1 s at most).
const (
	checkAttempts = 3
	retryWaits    = 2 * time.Second
)

// storeCheckTimeout bounds the store's check. serve waits on the store at
// start without a bound of its own (a PostgreSQL URL's connect_timeout
// applies, to doctor too); reading a schema version takes no lock a
// running serve holds, and SQLite's busy timeout (10 s) is shorter.
const storeCheckTimeout = 30 * time.Second

// checkContext bounds one check of Okta or Yubico: a few of the request
// timeout serve's clients use (serve.Config.HTTPTimeout, -okta-timeout, for
// both), so that a check is cut where serve's call would be, not sooner.
func (d *doctor) checkContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, checkAttempts*d.serve.HTTPTimeout+retryWaits)
}

// runDoctor runs the checks (the settings were checked by prepare, as
// serve's).
func runDoctor(ctx context.Context, inv *Invocation) int {
	d := &doctor{inv: inv, cfg: inv.Config, serve: serveSettings(inv.Config)}
	// serve's start validates its configuration, the Service's settings
	// among them, before it opens the store serve passes (runServe): an
	// unopened stand-in takes the store's place.
	sc := d.serve
	if d.cfg.Store != "" {
		sc.StoreBackend = fulfillment.NewMemoryStore()
	}
	if err := sc.Check(); err != nil {
		inv.errorf("%v", err) // as serve reports it
		return ExitUsage
	}
	d.line(checkOK, "settings", "serve's checks passed ("+d.settingsSummary()+")")
	if d.cfg.Fake() {
		d.line(checkOff, "okta", "no -okta-org: serve runs the demo on in-process fakes, with nothing to reach")
	} else {
		d.checkPublicURL()
		d.checkListen()
		d.checkStore(ctx)
		oc := d.checkOkta(ctx)
		d.checkYubico(ctx)
		d.checkConsole(ctx, oc)
	}
	if d.failed > 0 {
		fmt.Fprintf(inv.Stdout, "%d of %d checks failed\n", d.failed, d.ran)
		return ExitFailed
	}
	warnings := ""
	switch d.warned {
	case 0:
	case 1:
		warnings = " (1 warning)"
	default:
		warnings = fmt.Sprintf(" (%d warnings)", d.warned)
	}
	fmt.Fprintf(inv.Stdout, "all %d checks passed%s\n", d.ran, warnings)
	return ExitOK
}

// settingsSummary says what serve would run with, without secrets.
func (d *doctor) settingsSummary() string {
	cfg := d.cfg
	if cfg.Fake() {
		return "the demo: no -okta-org"
	}
	parts := []string{"-okta-org " + cfg.OktaOrg}
	if cfg.oktaKey != nil {
		dpop := ""
		if cfg.OktaDPoP {
			dpop = ", DPoP"
		}
		parts = append(parts, "service app "+cfg.OktaClientID+dpop)
	} else {
		parts = append(parts, "API token")
	}
	parts = append(parts, "store "+storeName(cfg.Store))
	if cfg.yubicoToken == nil {
		parts = append(parts, "order-only")
	}
	if d.serve.ConsoleEnabled() {
		parts = append(parts, "console")
	}
	if cfg.Serve.PublicURL != "" {
		parts = append(parts, "hook registered at -public-url")
	}
	if d.serve.CatchUpEnabled() {
		parts = append(parts, "catch-up")
	}
	return strings.Join(parts, ", ")
}

// storeName names a -store value without a password: the SQLite file, or
// PostgreSQL's host and database.
func storeName(v string) string {
	spec, err := parseStore(v)
	switch {
	case err != nil || v == "":
		return "in memory"
	case spec.sqlite != "":
		return "SQLite " + spec.sqlite
	}
	u, err := url.Parse(spec.postgres)
	if err != nil {
		return "PostgreSQL"
	}
	return "PostgreSQL " + u.Host + u.Path
}

// checkPublicURL looks at -public-url, where serve registers its event
// hook: Okta delivers event hooks over https only, so an http URL off
// loopback (which serve takes: a proxy's, say) is a warning.
func (d *doctor) checkPublicURL() {
	const name = "public url"
	pub := d.cfg.Serve.PublicURL
	if pub == "" {
		return // serve registers no hook
	}
	u, err := url.Parse(pub)
	if err != nil {
		return // checked with the settings
	}
	if strings.EqualFold(u.Scheme, "http") && !httpclient.IsLoopback(u.Hostname()) {
		d.line(checkWarn, name, fmt.Sprintf("%s is http: Okta delivers event hooks over https only, so a real org refuses the hook serve registers at it — set %s to the https URL Okta reaches serve at (a TLS-terminating proxy's, or serve's own with %s)",
			pub, flagEnv("public-url"), flagEnv("tls-cert-file")))
		return
	}
	d.line(checkOK, name, fmt.Sprintf("serve registers its event hook at %s%s", strings.TrimSuffix(pub, "/"), d.serve.HookPath))
}

// checkListen binds -listen as serve will at start, and releases it at
// once.
func (d *doctor) checkListen() {
	const name = "listen"
	addr := cmp.Or(d.serve.Listen, serve.DefaultListen)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		reason, todo := listenProblem(addr, err)
		d.fail(name, reason, todo)
		return
	}
	bound := ln.Addr().String()
	if err := ln.Close(); err != nil {
		d.fail(name, fmt.Sprintf("%s bound, but not released: %s", addr, oneLine(err)), "")
		return
	}
	d.line(checkOK, name, fmt.Sprintf("%s bound (%s) and released: serve can listen on it", addr, bound))
}

// listenProblem says why -listen could not be bound, and what to do.
func listenProblem(addr string, err error) (reason, todo string) {
	flag := flagEnv("listen")
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return addr + " is in use: another program listens on it (a serve already running?)",
			"stop it, or set " + flag + " to a free port"
	case errors.Is(err, syscall.EACCES):
		return addr + ": permission denied (privileged port: needs CAP_NET_BIND_SERVICE)",
			"grant serve's unit AmbientCapabilities=CAP_NET_BIND_SERVICE (see deploy/preenroll.service; doctor run outside the unit does not have it), or set " + flag + " to a port from 1024 up"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return addr + ": no interface of this host has that address", "set " + flag + " to an address of this host, or :PORT for all"
	}
	return oneLine(err), "check " + flag + ": host:port"
}

// checkStore reads the store's schema as serve will find it at start,
// without opening the store for use: nothing is created, migrated or
// written (an older serve may still run on a shared store).
func (d *doctor) checkStore(ctx context.Context) {
	const name = "store"
	spec, _ := parseStore(d.cfg.Store) // checked with the settings
	what := storeName(d.cfg.Store)
	cctx, cancel := context.WithTimeout(ctx, storeCheckTimeout)
	defer cancel()
	var st fulfillment.SchemaStatus
	var err error
	todo := "grant the role what it lacks, or run serve as a role that has it"
	switch {
	case spec.postgres != "":
		if st, err = pgstore.Inspect(cctx, spec.postgres); err != nil {
			d.fail(name, oneLine(err), postgresTodo(err))
			return
		}
	case spec.sqlite != "":
		todo = "run doctor as serve's user: serve's user must read and write the file and its directory"
		dirProblem := sqliteDirProblem(spec.sqlite)
		if st, err = fulfillment.InspectSQLite(cctx, spec.sqlite); errors.Is(err, fs.ErrNotExist) {
			// Its directory exists: checked with the settings.
			if dirProblem != "" {
				d.fail(name, fmt.Sprintf("SQLite %s does not exist yet, and serve could not create it: %s", spec.sqlite, dirProblem), todo)
				return
			}
			d.line(checkOK, name, fmt.Sprintf("SQLite %s does not exist yet: serve creates it at start (not created here, so that it belongs to serve's user)", spec.sqlite))
			return
		} else if err != nil {
			fix := "check " + flagEnv("store") + ": a SQLite file serve's user may read and write"
			if fi, serr := os.Stat(spec.sqlite); serr == nil && fi.IsDir() {
				fix = "set " + flagEnv("store") + " to a file in it, e.g. " + strings.TrimSuffix(spec.sqlite, "/") + "/keys.db"
			}
			d.fail(name, oneLine(err), fix)
			return
		}
		// serve opens the file read-write: opening it so writes nothing.
		if f, err := os.OpenFile(spec.sqlite, os.O_RDWR, 0); err != nil {
			st.Problems = append(st.Problems, "this user may not open it for writing: "+oneLine(err))
		} else {
			f.Close()
		}
		if dirProblem != "" {
			st.Problems = append(st.Problems, dirProblem)
		}
	default:
		d.line(checkOK, name, what+": nothing to check")
		return
	}
	switch {
	case st.Newer():
		d.fail(name, fmt.Sprintf("%s: schema %d, newer than this binary's %d: serve refuses to start on it", what, st.Version, st.Latest),
			"run the version that migrated it, or a later one (every instance on a store runs one version)")
	case len(st.Problems) > 0:
		d.fail(name, fmt.Sprintf("%s: %s, but %s", what, schemaPlan(st), strings.Join(st.Problems, "; ")), todo)
	default:
		d.line(checkOK, name, what+": "+schemaPlan(st))
	}
}

// sqlstateInvalidPassword is PostgreSQL's invalid_password: "password
// authentication failed for user".
const sqlstateInvalidPassword = "28P01"

// postgresTodo says what to do when the PostgreSQL store did not answer
// doctor: about the password when the server refused it (SQLSTATE 28P01),
// which is not in -store (docs/deploy.md) but where libpq looks.
func postgresTodo(err error) string {
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok && pe.Code == sqlstateInvalidPassword {
		return "check the role's password where serve's user reads it: PGPASSWORD, or the pgpass file (PGPASSFILE, with the unit /etc/preenroll/pgpass set in preenroll.env; else ~/.pgpass), a line host:port:database:user:password matching " +
			flagEnv("store") + " (or in its URL, which docs/deploy.md advises against); run doctor as serve's user, with its environment"
	}
	return "check " + flagEnv("store") + ": the host, port, database and role, and that the database accepts connections from here"
}

// sqliteDirProblem says why this user may not create files in the
// directory of the SQLite file at path, as serve must: the file when it is
// missing, and SQLite the write-ahead log and its index beside it (a file
// this user may write, in a directory it may not, is refused by serve's
// open all the same); "" when it may, or when the system cannot tell
// without writing.
func sqliteDirProblem(path string) string {
	dir := filepath.Dir(path)
	if err := dirWritable(dir); err != nil {
		return fmt.Sprintf("this user may not create files in its directory %s (SQLite makes its write-ahead log, -wal, and index, -shm, there): %s", dir, oneLine(err))
	}
	return ""
}

// schemaPlan says what serve will do with a store's schema at start.
func schemaPlan(st fulfillment.SchemaStatus) string {
	switch {
	case st.VersionUnknown:
		return "schema exists; its version cannot be read" // Problems say why
	case st.Version == 0:
		return fmt.Sprintf("no schema yet; serve will create it (schema %d) at start", st.Latest)
	case st.Migrates():
		return fmt.Sprintf("schema %d; serve will migrate it to %d at start (doctor migrated nothing: start every instance on the store with this version)", st.Version, st.Latest)
	}
	return fmt.Sprintf("schema %d, up to date", st.Version)
}

// checkOkta checks the org, the credentials and, for a service app, each
// scope serve asks for. It returns serve's client (nil if none could be
// made).
func (d *doctor) checkOkta(ctx context.Context) *okta.Client {
	cfg := d.cfg
	oc, err := newOktaClient(d.inv)
	if err != nil {
		d.fail("okta org", oneLine(err), "check "+flagEnv("okta-org"))
		return nil
	}
	cctx, cancel := d.checkContext(ctx)
	iss, err := oc.Issuer(cctx)
	cancel()
	if err != nil {
		d.fail("okta org", describe(ctx, err), "check "+flagEnv("okta-org")+", and that this host reaches it (DNS, proxy, firewall)")
		d.oktaRefused = true // nothing at the org can be checked
		d.orgDown = true
		d.line(checkSkip, "okta credentials", "the org did not answer")
		d.skipOkta("the org did not answer")
		return oc
	}
	d.line(checkOK, "okta org", fmt.Sprintf("%s answers (issuer %s)", oc.OrgURL(), iss))

	// The credentials, as serve's client has them.
	cctx, cancel = d.checkContext(ctx)
	users, err := oc.ListUsers(cctx, 1)
	cancel()
	oauth := cfg.oktaKey != nil
	credentials := "the API token of -okta-token-file (" + cfg.OktaTokenFile + ")"
	if oauth {
		credentials = "service app " + cfg.OktaClientID + " with -okta-scopes " + strings.Join(cfg.OktaScopes, " ")
	}
	refused := false
	switch te, isToken := errors.AsType[*okta.TokenError](err); {
	case err == nil:
		d.line(checkOK, "okta credentials", fmt.Sprintf("%s accepted; read %d user", credentials, len(users)))
	case isToken && te.ErrorCode == "invalid_scope":
		d.fail("okta credentials", describeToken(te, "for -okta-scopes together (serve asks for them in one token)", ""),
			"the scope lines below name the grants missing")
	case isToken:
		refused = true
		d.fail("okta credentials", describe(ctx, err), "")
	case errors.Is(err, okta.ErrUnauthorized):
		refused = true
		d.fail("okta credentials", "Okta refused "+credentials+": "+describe(ctx, err),
			"put a valid token in the file (Security > API > Tokens; a token of a deactivated admin is refused)")
	case errors.Is(err, okta.ErrForbidden):
		d.fail("okta credentials", credentials+" may not list users: "+describe(ctx, err), adminRoleTodo(oauth, "reads users"))
	default:
		d.fail("okta credentials", describe(ctx, err), "")
	}
	if refused {
		d.oktaRefused = true
		d.skipOkta("Okta refused the credentials")
		return oc
	}
	if oauth {
		d.checkScopes(ctx)
		return oc
	}
	for _, c := range d.tokenReads() {
		d.read(ctx, c.name, oc, c.reader, false, "")
	}
	return oc
}

// namedRead is a check that makes a read: its line's name, and the read.
type namedRead struct {
	name string
	reader
}

// tokenReads are the checks an API token reads with beyond its
// credentials line: the event hooks with -public-url, the System Log with
// the catch-up.
func (d *doctor) tokenReads() []namedRead {
	var reads []namedRead
	if d.cfg.Serve.PublicURL != "" {
		reads = append(reads, namedRead{"okta event hooks", readHooks})
	}
	if d.serve.CatchUpEnabled() {
		reads = append(reads, namedRead{"okta system log", readLog})
	}
	return reads
}

// skipOkta prints the Okta checks that depend on the org and credentials
// as skipped.
func (d *doctor) skipOkta(why string) {
	cfg := d.cfg
	var names []string
	if cfg.oktaKey != nil {
		for _, s := range d.scopes() {
			names = append(names, "okta scope "+s)
		}
	} else {
		for _, c := range d.tokenReads() {
			names = append(names, c.name)
		}
	}
	for _, n := range names {
		d.line(checkSkip, n, why)
	}
}

// scopes are the scopes a service app's tokens ask for: -okta-scopes,
// then okta.logs.read for the catch-up (its own token), then those serve
// needs that -okta-scopes lacks.
func (d *doctor) scopes() []string {
	cfg := d.cfg
	out := slices.Clone(cfg.OktaScopes)
	if d.serve.CatchUpEnabled() && !slices.Contains(out, okta.ScopeLogsRead) {
		out = append(out, okta.ScopeLogsRead)
	}
	for _, s := range d.neededScopes() {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// neededScopes are the scopes serve's own client cannot do without, and
// why.
func (d *doctor) neededScopes() []string {
	need := []string{okta.ScopeUsersManage}
	if d.cfg.Serve.PublicURL != "" {
		need = append(need, okta.ScopeEventHooksManage)
	}
	return need
}

// checkScopes asks for a token of each scope alone and reads with it.
func (d *doctor) checkScopes(ctx context.Context) {
	cfg := d.cfg
	for _, s := range d.scopes() {
		name := "okta scope " + s
		if !slices.Contains(cfg.OktaScopes, s) && s != okta.ScopeLogsRead {
			why := "serve orders, enrolls and activates keys with it"
			if s == okta.ScopeEventHooksManage {
				why = "serve registers its event hook at -public-url with it"
			}
			d.fail(name, "not in -okta-scopes: "+why, "add it to "+flagEnv("okta-scopes")+" and grant it to the service app in Okta")
			continue
		}
		c, err := newOktaClientScoped(d.inv, []string{s})
		if err != nil {
			d.fail(name, oneLine(err), "")
			continue
		}
		todo := ""
		switch {
		case s == okta.ScopeLogsRead:
			todo = ", or turn the catch-up off: set " + flagEnv("catch-up-interval") + " to 0s (its token asks for okta.logs.read alone)"
		case s == okta.ScopeEventHooksManage && cfg.Serve.PublicURL == "":
			todo = ", or drop it from " + flagEnv("okta-scopes") + " (without " + flagEnv("public-url") + " serve registers no hook)"
		}
		d.read(ctx, name, c, readerFor(s), true, todo)
	}
}

// reader is a read made with a client: it returns what it read, for the
// line.
type reader struct {
	// what the read needs, for an admin role's refusal ("reads users").
	needs string
	read  func(ctx context.Context, c *okta.Client) (string, error)
	// other marks a read of another scope than the token's: a refusal of
	// the call says nothing about the token (only a refused token does).
	other bool
}

var (
	readUsers = reader{needs: "reads users", read: func(ctx context.Context, c *okta.Client) (string, error) {
		us, err := c.ListUsers(ctx, 1)
		return fmt.Sprintf("read %d user", len(us)), err
	}}
	readGroups = reader{needs: "reads groups", read: func(ctx context.Context, c *okta.Client) (string, error) {
		gs, err := c.GroupsNamed(ctx, "Everyone")
		return fmt.Sprintf("looked up the Everyone group (%d found)", len(gs)), err
	}}
	readHooks = reader{needs: "manages event hooks (Super Administrator)", read: func(ctx context.Context, c *okta.Client) (string, error) {
		hs, err := c.ListEventHooks(ctx)
		registered := "not yet registered"
		for _, h := range hs {
			if h.Name == serve.HookName {
				registered = "registered, " + string(h.Status)
			}
		}
		return fmt.Sprintf("read the event hooks (%d; serve's %s)", len(hs), registered), err
	}}
	readLog = reader{needs: "reads the System Log", read: func(ctx context.Context, c *okta.Client) (string, error) {
		n := 0
		for _, err := range c.ListLogEvents(ctx, okta.LogQuery{Since: c.Now().Add(-time.Hour), Limit: 1}) {
			if err != nil {
				return "", err
			}
			n++
			break
		}
		return fmt.Sprintf("read the System Log (events of the last hour: %d)", n), nil
	}}
)

// readerFor is the read a token of scope s can make.
func readerFor(s string) reader {
	switch s {
	case okta.ScopeUsersRead, okta.ScopeUsersManage:
		return readUsers
	case okta.ScopeGroupsRead, okta.ScopeGroupsManage:
		return readGroups
	case okta.ScopeEventHooksRead, okta.ScopeEventHooksManage:
		return readHooks
	case okta.ScopeLogsRead:
		return readLog
	}
	r := readUsers
	r.other = true
	return r
}

// read runs r with c and prints the line: scoped says c's token asks for
// the line's scope alone, todo what else may be done about a refused
// grant.
func (d *doctor) read(ctx context.Context, name string, c *okta.Client, r reader, scoped bool, todo string) {
	cctx, cancel := d.checkContext(ctx)
	defer cancel()
	got, err := r.read(cctx, c)
	te, isToken := errors.AsType[*okta.TokenError](err)
	switch {
	case err == nil && scoped:
		d.line(checkOK, name, "token issued; "+got)
	case err == nil:
		d.line(checkOK, name, got)
	case isToken && te.ErrorCode == "invalid_scope" && scoped:
		scope := strings.TrimPrefix(name, "okta scope ")
		d.fail(name, describeToken(te, "for "+scope, ""),
			"grant "+scope+" to the service app in Okta (the app's Okta API Scopes tab)"+todo)
	case isToken:
		d.fail(name, describe(ctx, err), "")
	case r.other && errors.Is(err, okta.ErrForbidden):
		d.line(checkOK, name, "token issued (doctor has no read of its own for this scope)")
	case errors.Is(err, okta.ErrForbidden):
		d.fail(name, "Okta refused the read: "+describe(ctx, err), adminRoleTodo(d.cfg.oktaKey != nil, r.needs)+todo)
	default:
		d.fail(name, describe(ctx, err), "")
	}
}

// adminRoleTodo says what to do about a 403: the API token's admin, or
// the service app, needs an admin role that does what.
func adminRoleTodo(oauth bool, what string) string {
	if oauth {
		return "assign the service app an admin role that " + what + " (Admin roles tab of the app)"
	}
	return "give the token's admin a role that " + what + ", or make the token as such an admin"
}

// checkYubico checks Yubico's token with a read and loads its keys.
func (d *doctor) checkYubico(ctx context.Context) {
	cfg := d.cfg
	if cfg.yubicoToken == nil {
		d.line(checkOff, "yubico", "no -yubico-token-file: serve is order-only (another program on the store runs Sync)")
		return
	}
	yc, err := newYubicoClientTimeout(d.inv, d.serve.HTTPTimeout) // serve's
	if err != nil {
		d.fail("yubico api", oneLine(err), "check "+flagEnv("yubico-api")+" and "+flagEnv("yubico-jwks"))
		return
	}
	cctx, cancel := d.checkContext(ctx)
	cs, err := yc.Countries(cctx)
	cancel()
	switch {
	case err == nil:
		d.line(checkOK, "yubico api", fmt.Sprintf("the token of -yubico-token-file accepted by %s (%d countries to ship to)", yc.BaseURL(), len(cs)))
	case errors.Is(err, yubico.ErrUnauthorized):
		d.fail("yubico api", "Yubico refused the token of "+flagEnv("yubico-token-file")+", read from "+cfg.YubicoTokenFile+": "+describe(ctx, err),
			"put a valid API token in the file (YubiEnterprise Console: API tokens), for the organization that holds the inventory")
	default:
		d.fail("yubico api", describe(ctx, err), "check "+flagEnv("yubico-api")+", and that this host reaches it")
	}
	cctx, cancel = d.checkContext(ctx)
	defer cancel()
	transport, err := yc.TransportKeys(cctx)
	signing := 0
	if err == nil {
		keys, serr := yc.SigningKeys(cctx)
		signing, err = len(keys), serr
	}
	if err != nil {
		d.fail("yubico jwks", describe(ctx, err), "check "+flagEnv("yubico-jwks")+", and that this host reaches it")
		return
	}
	d.line(checkOK, "yubico jwks", fmt.Sprintf("Yubico's keys loaded (transport: %d, signing: %d)", len(transport), signing))
}

// checkConsole checks the console's sign-in: the OIDC discovery document,
// and that its groups exist.
func (d *doctor) checkConsole(ctx context.Context, oc *okta.Client) {
	cfg := d.cfg
	if !d.serve.ConsoleEnabled() {
		d.line(checkOff, "console", "no -console-client-id (or -console=false): serve mounts no console")
		return
	}
	if oc == nil {
		return
	}
	if d.orgDown {
		// The console reads the org's own discovery document: asking
		// again would wait out the timeouts a second time.
		d.line(checkSkip, "console oidc", "the org did not answer")
	} else {
		hc := &http.Client{Timeout: d.serve.HTTPTimeout, Transport: httpclient.DefaultTransport()}
		cctx, cancel := d.checkContext(ctx)
		p, err := oidc.NewProvider(oidc.ClientContext(cctx, hc), oc.OrgURL())
		cancel()
		if err != nil {
			d.fail("console oidc", oneLine(err), "check "+flagEnv("okta-org")+": the console signs in at the org authorization server")
		} else {
			d.line(checkOK, "console oidc", "discovery document of "+oc.OrgURL()+" loaded (sign-in at "+p.Endpoint().AuthURL+")")
		}
	}
	groups := []struct{ name, flag, group string }{{"console admin group", flagEnv("console-admin-group"), cfg.Serve.ConsoleAdminGroup}}
	if cfg.Serve.ConsoleReadOnlyGroup != "" {
		groups = append(groups, struct{ name, flag, group string }{"console read-only group", flagEnv("console-read-only-group"), cfg.Serve.ConsoleReadOnlyGroup})
	}
	if d.oktaRefused {
		why := "Okta's credentials are needed to look the group up"
		if d.orgDown {
			why = "the org did not answer"
		}
		for _, g := range groups {
			d.line(checkSkip, g.name, why)
		}
		return
	}
	gc := oc
	if cfg.oktaKey != nil {
		var err error
		if gc, err = newOktaClientScoped(d.inv, []string{okta.ScopeGroupsRead}); err != nil {
			d.fail("console admin group", oneLine(err), "")
			return
		}
	}
	for _, g := range groups {
		d.checkGroup(ctx, gc, g.name, g.flag, g.group)
	}
}

// checkGroup looks group up by its exact name.
func (d *doctor) checkGroup(ctx context.Context, c *okta.Client, name, flag, group string) {
	cctx, cancel := d.checkContext(ctx)
	gs, err := c.GroupsNamed(cctx, group)
	cancel()
	if err != nil {
		todo := ""
		if te, ok := errors.AsType[*okta.TokenError](err); ok && te.ErrorCode == "invalid_scope" {
			todo = "grant okta.groups.read to the service app to let doctor look the group up"
		} else if errors.Is(err, okta.ErrForbidden) {
			todo = adminRoleTodo(d.cfg.oktaKey != nil, "reads groups")
		}
		d.fail(name, fmt.Sprintf("looking up %q: %s", group, describe(ctx, err)), todo)
		return
	}
	var other []string
	for _, g := range gs {
		if g.Profile.Name == group {
			d.line(checkOK, name, fmt.Sprintf("%q exists (%s)", group, g.ID))
			return
		}
		other = append(other, fmt.Sprintf("%q", g.Profile.Name))
	}
	if len(other) > 0 {
		d.fail(name, fmt.Sprintf("Okta has %s, not %q: the console compares the groups claim exactly", strings.Join(other, ", "), group),
			"set "+flag+" to the group's name as Okta spells it")
		return
	}
	d.fail(name, fmt.Sprintf("Okta has no group named %q", group), "create it in Okta, or fix "+flag)
}

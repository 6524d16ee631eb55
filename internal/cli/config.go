package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/internal/serve"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/webauthn"
	"github.com/preenroll/preenroll/yubico"
)

// Config is the configuration every subcommand shares. It is filled from
// the [Setting] table: flags, PREENROLL_* environment variables and an
// optional JSON config file, in that order of precedence, over the
// defaults. A subcommand that needs more (serve) adds its fields here and
// its rows to [settings].
type Config struct {
	// ConfigFile is the JSON file the settings were read from ("" if none).
	ConfigFile string

	// OktaOrg is the Okta org URL; empty runs the commands on in-process
	// fakes of Okta and Yubico.
	OktaOrg string
	// OktaTokenFile holds the Okta API (SSWS) token on its first line.
	OktaTokenFile string
	// OktaClientID and OktaPrivateKeyFile authenticate as an OAuth 2.0 API
	// service app instead of with an API token: the client ID and the file
	// holding the app's private key (PEM or JWK). OktaScopes are asked for
	// (nil: what the command needs, see oauthScopes); OktaDPoP binds the
	// tokens to a DPoP proof key.
	OktaClientID, OktaPrivateKeyFile string
	OktaScopes                       []string
	OktaDPoP                         bool
	// OktaTimeout bounds one HTTP request to Okta.
	OktaTimeout time.Duration
	// YubicoAPI is the YubiEnterprise API base URL, YubicoJWKS where
	// Yubico's public keys are published, YubicoTokenFile the file holding
	// the API token (empty: order-only mode, no Yubico calls).
	YubicoAPI, YubicoJWKS, YubicoTokenFile string
	// Store is where the Service's records are kept: a SQLite file path
	// (or sqlite:PATH), or a postgres:// (postgresql://) URL of a database
	// several instances share; empty keeps them in memory for this run
	// only.
	Store string
	// RPIDs are the WebAuthn relying-party IDs (default: the org's host).
	RPIDs []string
	// rpIDGiven is set when -rp-id named any, valid or not: its problems
	// are then -rp-id's, not the default's.
	rpIDGiven bool
	// CatchUp makes sync first record the orders in Okta's System Log
	// that no event hook delivered (fulfillment.Service.CatchUpFromCheckpoint).
	CatchUp bool
	// Item is what is ordered.
	Item fulfillment.Item
	// Concurrency is how many users are worked on at once.
	Concurrency int
	// Verbose logs the Service's steps to stderr.
	Verbose bool

	// Command-line inputs of single commands (flags only).
	User        string // order: the Okta user (ID or login)
	ProfileFile string // order, fake mode: the profile to seed
	SeedStatus  string // order, fake mode: STAGED or ACTIVE
	CSVFile     string // batch: the input
	Mapping     *fulfillment.Mapping
	SkipInvalid bool   // batch
	ReportFile  string // batch
	DemoUsers   int    // demo
	JSON        bool   // demo, status: JSON lines instead of text

	// Serve holds the settings only serve takes.
	Serve ServeConfig

	// The secrets, read from their files; never printed.
	oktaToken, yubicoToken webauthn.Secret
	oktaKey                *okta.PrivateKey // prints only its algorithm and key ID
}

// Fake reports whether the commands run on in-process fakes (no Okta org
// configured).
func (c *Config) Fake() bool { return c.OktaOrg == "" }

// Setting is one configuration setting: its flag (-Name), environment
// variable (PREENROLL_NAME, dashes as underscores) and config-file key
// (Name), unless FlagOnly.
type Setting struct {
	Name    string
	Default string
	// Usage is the one-line description in help.
	Usage string
	// Commands lists the commands that take the setting; nil means every
	// command that talks to Okta (see connected).
	Commands []string
	// AlsoFor lists commands that take the setting besides those of
	// Commands (or of connected, when Commands is nil): backup takes
	// -store alone of the shared settings.
	AlsoFor []string
	// FlagOnly settings are per-invocation inputs (a user, a file to
	// read): a flag only, no environment variable or file key.
	FlagOnly bool
	// Bool settings are flags without a value (-v).
	Bool bool
	// Alias is another flag name for the setting ("v" for verbose).
	Alias string
	set   func(c *Config, v string) error
	// defaultFor, if not nil, is the default for a command, in place of
	// Default.
	defaultFor func(cmd string) string
}

// defaultOf returns the setting's default for command cmd.
func (s *Setting) defaultOf(cmd string) string {
	if s.defaultFor != nil {
		return s.defaultFor(cmd)
	}
	return s.Default
}

// Env returns the setting's environment variable, or "" for a flag-only
// setting.
func (s *Setting) Env() string {
	if s.FlagOnly {
		return ""
	}
	return "PREENROLL_" + strings.ToUpper(strings.ReplaceAll(s.Name, "-", "_"))
}

// appliesTo reports whether command cmd takes the setting.
func (s *Setting) appliesTo(cmd string) bool {
	if slices.Contains(s.AlsoFor, cmd) {
		return true
	}
	if s.Commands == nil {
		return slices.Contains(connected, cmd)
	}
	return slices.Contains(s.Commands, cmd)
}

// connected are the commands that talk to Okta (and maybe Yubico) and take
// the shared connection settings.
var connected = []string{"order", "batch", "status", "retry", "delete", "resend-pin", "check", "sync"}

// oauthScopes are the OAuth scopes command cmd needs: users (look-ups,
// orders and the preregistration endpoints need okta.users.manage, the
// enrollment list okta.users.read), groups, and the event hooks serve
// registers.
func oauthScopes(cmd string) []string {
	scopes := []string{okta.ScopeUsersManage, okta.ScopeUsersRead, okta.ScopeGroupsRead}
	if cmd == "serve" {
		scopes = append(scopes, okta.ScopeEventHooksManage)
	}
	return scopes
}

// Limits of the settings.
const (
	maxConcurrency = 64
	maxDemoUsers   = 2000
	maxSecretFile  = 4096
	maxKeyFile     = 64 << 10 // an RSA key of 8192 bits as a JWK is about 6 KiB
	maxConfigFile  = 1 << 20
)

// settings is the table of every setting. Rows are checked, resolved and
// documented from here only.
var settings = []*Setting{
	{Name: "okta-org", Usage: "Okta org URL, e.g. https://example.okta.com (empty: in-process fakes of Okta and Yubico)",
		set: func(c *Config, v string) error {
			if v == "" {
				return nil
			}
			if err := checkURL(v); err != nil {
				return err
			}
			c.OktaOrg = v
			return nil
		}},
	{Name: "okta-token-file", Usage: "file whose first line is the Okta API token (never given directly)",
		set: func(c *Config, v string) error { c.OktaTokenFile = v; return nil }},
	// OAuth 2.0 as an API service app, as Okta recommends for services.
	{Name: "okta-client-id", Usage: "client ID of the Okta API service app, with -okta-private-key-file (OAuth 2.0 instead of -okta-token-file)",
		set: func(c *Config, v string) error {
			c.OktaClientID = v // even if bad: it was given (the key needs no second complaint)
			if strings.IndexFunc(v, func(r rune) bool { return r <= ' ' || r >= 0x7f }) >= 0 {
				return errors.New("a client ID has no spaces, control or non-ASCII characters")
			}
			return nil
		}},
	{Name: "okta-private-key-file", Usage: "file holding the service app's private key, PEM or JWK (never given directly)",
		set: func(c *Config, v string) error { c.OktaPrivateKeyFile = v; return nil }},
	{Name: "okta-scopes", Usage: "OAuth scopes the service app asks for, comma-separated; each must be granted to the app in Okta",
		defaultFor: func(cmd string) string { return strings.Join(oauthScopes(cmd), ",") },
		set: func(c *Config, v string) error {
			c.OktaScopes = nil
			for p := range strings.SplitSeq(v, ",") {
				p = strings.TrimSpace(p)
				if p == "" {
					continue
				}
				if strings.IndexFunc(p, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == '"' || r == '\\' }) >= 0 {
					return fmt.Errorf("%q is not a scope", p)
				}
				c.OktaScopes = append(c.OktaScopes, p)
			}
			if len(c.OktaScopes) == 0 {
				return errors.New("want at least one scope, like " + okta.ScopeUsersManage)
			}
			return nil
		}},
	{Name: "okta-dpop", Bool: true, Default: "true", Usage: "bind the service app's tokens to a DPoP proof key (RFC 9449), as Okta requires by default; -okta-dpop=false if the app does not",
		set: func(c *Config, v string) error {
			b, err := parseBool(v)
			c.OktaDPoP = b
			return err
		}},
	{Name: "okta-timeout", Default: "30s", Usage: "how long one request to Okta may take before it is retried",
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 || d > 10*time.Minute {
				return errors.New("want a duration from 1ms to 10m, like 30s")
			}
			c.OktaTimeout = d
			return nil
		}},
	{Name: "yubico-api", Default: yubico.DefaultBaseURL, Usage: "YubiEnterprise API base URL",
		Commands: []string{"retry", "delete", "check", "sync"},
		set:      func(c *Config, v string) error { c.YubicoAPI = v; return checkURL(v) }},
	{Name: "yubico-jwks", Default: yubico.DefaultJWKSBaseURL, Usage: "where Yubico publishes its FIDO Pre-reg JWKS",
		Commands: []string{"retry", "delete", "check", "sync"},
		set: func(c *Config, v string) error {
			c.YubicoJWKS = v
			if v == "" {
				return nil
			}
			return checkURL(v)
		}},
	{Name: "yubico-token-file", Usage: "file whose first line is the YubiEnterprise API token (empty: order-only mode)",
		Commands: []string{"retry", "delete", "check", "sync"},
		set:      func(c *Config, v string) error { c.YubicoTokenFile = v; return nil }},
	{Name: "store", Usage: "the Service's records: a SQLite file (PATH or sqlite:PATH) or a PostgreSQL database shared by several instances (postgres://user@host/db); empty: in memory, forgotten at exit",
		set: func(c *Config, v string) error {
			if _, err := parseStore(v); err != nil {
				return err
			}
			c.Store = v
			return nil
		}},
	{Name: "rp-id", Usage: "WebAuthn relying-party IDs, comma-separated: domain names, not IP addresses (default: the org's host name)",
		set: func(c *Config, v string) error {
			c.RPIDs = nil
			var ids, problems []string
			for p := range strings.SplitSeq(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					ids = append(ids, p)
				}
			}
			c.rpIDGiven = len(ids) > 0
			for _, id := range ids {
				problem := webauthn.RPIDProblem(id)
				if problem == "" && slices.Contains(c.RPIDs, id) {
					problem = "listed twice"
				}
				switch {
				case problem == "":
					c.RPIDs = append(c.RPIDs, id)
				case len(ids) == 1:
					problems = append(problems, problem) // the value is quoted before
				default:
					problems = append(problems, fmt.Sprintf("%q: %s", id, problem))
				}
			}
			if len(problems) > 0 {
				return errors.New(strings.Join(problems, "; "))
			}
			return nil
		}},
	{Name: "catch-up", Bool: true, Default: "false", Commands: []string{"sync"},
		Usage: "first record the orders placed in Okta since the last catch-up on -store that no event hook delivered, from Okta's System Log (the first run on a store reads nothing and starts there; with -okta-org it needs -store); an OAuth service app needs okta.logs.read",
		set: func(c *Config, v string) error {
			b, err := parseBool(v)
			c.CatchUp = b
			return err
		}},
	{Name: "product", Default: "1", Usage: "Yubico product ID (1 YubiKey 5 NFC, 29 5C NFC, 54/55 FIPS)", Commands: []string{"order", "batch"},
		set: func(c *Config, v string) error { c.Item.ProductID = v; return nil }},
	{Name: "inventory", Default: "106", Usage: "Yubico inventory product ID to draw keys from", Commands: []string{"order", "batch"},
		set: func(c *Config, v string) error { c.Item.InventoryProductID = v; return nil }},
	{Name: "customization", Usage: "Yubico customization ID (CID); required with an Okta org (fakes: DEMO01)", Commands: []string{"order", "batch"},
		set: func(c *Config, v string) error { c.Item.CustomizationID = v; return nil }},
	{Name: "concurrency", Default: strconv.Itoa(fulfillment.DefaultConcurrency), Usage: "users worked on at once",
		Commands: []string{"batch", "sync", "demo"},
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxConcurrency {
				return fmt.Errorf("want 1 to %d", maxConcurrency)
			}
			c.Concurrency = n
			return nil
		}},
	{Name: "verbose", Alias: "v", Bool: true, Default: "false", Usage: "log the Service's steps to stderr (secrets are never logged)",
		Commands: append(slices.Clone(connected), "demo"),
		set: func(c *Config, v string) error {
			b, err := parseBool(v)
			c.Verbose = b
			return err
		}},

	// Flag-only inputs of single commands.
	{Name: "user", FlagOnly: true, Commands: []string{"order"}, Usage: "the Okta user: ID (00u…) or login (fakes: demo.user@example.com)",
		set: func(c *Config, v string) error { c.User = v; return nil }},
	{Name: "profile", FlagOnly: true, Commands: []string{"order"}, Usage: "fakes only: JSON Okta profile to seed the user with",
		set: func(c *Config, v string) error { c.ProfileFile = v; return nil }},
	{Name: "seed-status", FlagOnly: true, Default: "STAGED", Commands: []string{"order"}, Usage: "fakes only: status of the seeded user, STAGED or ACTIVE",
		set: func(c *Config, v string) error {
			c.SeedStatus = strings.ToUpper(v)
			if c.SeedStatus != "STAGED" && c.SeedStatus != "ACTIVE" {
				return errors.New("want STAGED or ACTIVE")
			}
			return nil
		}},
	{Name: "csv", FlagOnly: true, Commands: []string{"batch"}, Usage: "the CSV file: a column \"login\", Okta profile attributes, or an HRIS export with -mapping (required)",
		set: func(c *Config, v string) error { c.CSVFile = v; return nil }},
	{Name: "mapping", FlagOnly: true, Commands: []string{"batch"}, Usage: "the CSV is an HRIS export: workday or servicenow (okta: Okta attribute names, found by the header anyway)",
		set: func(c *Config, v string) error {
			switch strings.ToLower(v) {
			case "":
				c.Mapping = nil
			case "workday":
				m := fulfillment.WorkdayMapping()
				c.Mapping = &m
			case "servicenow":
				m := fulfillment.ServiceNowMapping()
				c.Mapping = &m
			case "okta":
				m := fulfillment.OktaMapping()
				c.Mapping = &m
			default:
				return errors.New("want workday, servicenow or okta")
			}
			return nil
		}},
	{Name: "skip-invalid", FlagOnly: true, Bool: true, Default: "false", Commands: []string{"batch"},
		Usage: "order the valid rows even if some rows are bad (default: order nobody)",
		set: func(c *Config, v string) error {
			b, err := parseBool(v)
			c.SkipInvalid = b
			return err
		}},
	{Name: "report", FlagOnly: true, Commands: []string{"batch"}, Usage: "write a CSV of per-row results to this file",
		set: func(c *Config, v string) error { c.ReportFile = v; return nil }},
	{Name: "users", FlagOnly: true, Default: "2", Commands: []string{"demo"}, Usage: "number of users: new hires and existing employees, alternating",
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxDemoUsers {
				return fmt.Errorf("want 1 to %d", maxDemoUsers)
			}
			c.DemoUsers = n
			return nil
		}},
	{Name: "json", FlagOnly: true, Bool: true, Default: "false", Commands: []string{"demo", "status"},
		Usage: "print JSON lines instead of text (demo: one per event; status: one per user or record, see above)",
		set: func(c *Config, v string) error {
			b, err := parseBool(v)
			c.JSON = b
			return err
		}},
}

// configSetting is the setting that names the config file. It is resolved
// first (flag, then environment) and has no file key.
var configSetting = &Setting{Name: "config", FlagOnly: false, Usage: "JSON file of settings, keyed by setting name (flags and PREENROLL_* variables override it)"}

// checkURL accepts an absolute http(s) URL (what each URL may be beyond
// that — https only, or http on loopback — the setting's user checks with
// its own words).
func checkURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return errors.New("not an absolute https URL")
	}
	if u.User != nil {
		// It would be printed wherever the URL is (errors, logs, doctor).
		return errors.New("has a user name or password in it: credentials go in their own settings, never in a URL")
	}
	return nil
}

// redactURL returns v for an error message: a URL's password replaced by
// "xxxxx" (a -store URL of the wrong scheme, a URL setting with
// credentials in it), anything else as it is. A value that has the shape
// scheme:[//]user:password@host but does not parse as a URL with a
// password (a bad port or escape, one slash, none, a '?', '#' or '/' in
// the password) is masked the same way: it is refused for being no URL,
// and its password must not be printed with the refusal. So is the value
// of every "password=" (a URL's query, a PostgreSQL connection string in
// keyword form). First, whatever a person would read as user:password@
// anywhere in v (after a slash, quote, comma, equals sign, space or line
// break: "0#:secret@", "?q=a:secret@c") is masked too: an error message
// loses nothing it needs by that, and a password it printed could not be
// taken back.
func redactURL(v string) string {
	return redactURLShape(maskUserinfo(v))
}

// redactURLShape masks the passwords redactURL finds by a URL's shape.
func redactURLShape(v string) string {
	v = passwordParam.ReplaceAllString(v, "${1}xxxxx")
	if u, err := url.Parse(v); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
		return v
	}
	scheme, rest, ok := strings.Cut(v, ":")
	if !ok {
		return v
	}
	auth := strings.TrimLeft(rest, "/")
	prefix := scheme + ":" + rest[:len(rest)-len(auth)]
	// The user information ends at the last '@' before the query (a
	// query may hold an @ of its own); failing that, at the last '@'
	// after a user name with no '/', '?' or '#' (the password has one).
	for _, cut := range []bool{true, false} {
		a := auth
		if end := strings.IndexAny(a, "?#"); cut && end >= 0 {
			a = a[:end]
		}
		at := strings.LastIndex(a, "@")
		if at < 0 {
			continue
		}
		user, _, hasPassword := strings.Cut(a[:at], ":")
		if !hasPassword || strings.ContainsAny(user, "/?#") {
			continue // no password, or the colon is a path's or a query's
		}
		return prefix + user + ":xxxxx" + auth[at:]
	}
	// No scheme at all ("alice:secret@db", ":secret@db"): what comes
	// before the first '/', '?' or '#' may be user:password@host.
	a := v
	if end := strings.IndexAny(a, "/?#"); end >= 0 {
		a = a[:end]
	}
	if at := strings.LastIndex(a, "@"); at >= 0 {
		if user, _, hasPassword := strings.Cut(a[:at], ":"); hasPassword {
			return user + ":xxxxx" + v[at:]
		}
	}
	return v
}

// maskUserinfo replaces the password of every "user:password@" in v as a
// person reads one: the text before each '@' back to the last '/', '"',
// ',', '=', space or line break, if it has a colon, is a user name and a
// password.
func maskUserinfo(v string) string {
	var b strings.Builder
	for {
		at := strings.IndexByte(v, '@')
		if at < 0 {
			b.WriteString(v)
			return b.String()
		}
		start := strings.LastIndexAny(v[:at], "/\"\n,= ") + 1
		if colon := strings.IndexByte(v[start:at], ':'); colon >= 0 {
			b.WriteString(v[:start+colon+1])
			b.WriteString("xxxxx")
		} else {
			b.WriteString(v[:at])
		}
		b.WriteByte('@')
		v = v[at+1:]
	}
}

// passwordParam matches a "password=" parameter and its value: in a
// URL's query (up to the next '&' or '#') or in a PostgreSQL keyword/value
// connection string (up to white space, or quoted).
var passwordParam = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&#]*)`)

// parseBool reads a boolean setting as strconv.ParseBool does, with an
// error that says what is wanted rather than how parsing failed.
func parseBool(v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errors.New("want true or false")
	}
	return b, nil
}

// rawValue is a flag that records whether it was set, and its text.
type rawValue struct {
	set    bool
	v      string
	isBool bool
}

func (r *rawValue) String() string     { return r.v }
func (r *rawValue) Set(v string) error { r.set, r.v = true, v; return nil }
func (r *rawValue) IsBoolFlag() bool   { return r.isBool }

// source is where a setting's value came from, for error messages.
type source struct {
	what string // `-okta-org`, `PREENROLL_OKTA_ORG`, `config.json: "okta-org"`, or `default`
}

// loader resolves the settings of one command.
type loader struct {
	cmd    string
	fs     *flag.FlagSet
	flags  map[string]*rawValue
	config *rawValue
}

// newLoader makes the flag set of cmd with a flag for each setting it
// takes.
func newLoader(cmd string, stderr io.Writer) *loader {
	l := &loader{cmd: cmd, fs: flag.NewFlagSet(cmd, flag.ContinueOnError), flags: map[string]*rawValue{}}
	l.fs.SetOutput(stderr)
	for _, s := range settings {
		if !s.appliesTo(cmd) {
			continue
		}
		r := &rawValue{isBool: s.Bool}
		l.flags[s.Name] = r
		l.fs.Var(r, s.Name, s.Usage)
		if s.Alias != "" {
			l.fs.Var(r, s.Alias, "short for -"+s.Name)
		}
	}
	if cmdTakesConfig(cmd) {
		l.config = &rawValue{}
		l.fs.Var(l.config, configSetting.Name, configSetting.Usage)
	}
	return l
}

// cmdTakesConfig reports whether cmd takes any setting that can come from
// the environment or a file.
func cmdTakesConfig(cmd string) bool {
	for _, s := range settings {
		if s.appliesTo(cmd) && !s.FlagOnly {
			return true
		}
	}
	return false
}

// resolve fills cfg from the parsed flags, the environment (getenv) and the
// config file, over the defaults. It returns every problem found, each
// naming its source.
func (l *loader) resolve(getenv func(string) string) (*Config, []string) {
	cfg := &Config{Concurrency: fulfillment.DefaultConcurrency}
	var problems []string
	file := map[string]json.RawMessage{}
	if l.config != nil {
		path := l.config.v
		if !l.config.set {
			path = getenv("PREENROLL_CONFIG")
		}
		if path != "" {
			cfg.ConfigFile = path
			var err error
			if file, err = readConfigFile(path); err != nil {
				problems = append(problems, err.Error())
				file = map[string]json.RawMessage{}
			}
		}
	}
	// Keys of the file no setting of this command takes.
	var unknown []string
	for k := range file {
		s := lookupSetting(k)
		switch {
		case s == nil:
			unknown = append(unknown, fmt.Sprintf("%s: unknown key %q", cfg.ConfigFile, k))
		case s.FlagOnly:
			unknown = append(unknown, fmt.Sprintf("%s: %q is given on the command line only (-%s)", cfg.ConfigFile, k, k))
		}
	}
	slices.Sort(unknown)
	problems = append(problems, unknown...)

	for _, s := range settings {
		if !s.appliesTo(l.cmd) {
			continue
		}
		v, src, problem := l.value(s, getenv, file, cfg.ConfigFile)
		if problem != "" {
			problems = append(problems, problem)
			continue
		}
		if err := s.set(cfg, v); err != nil {
			problems = append(problems, fmt.Sprintf("%s %q: %v", src.what, redactURL(v), err))
		}
	}
	return cfg, maskProblems(problems)
}

// value picks a setting's value: flag, environment, file, default.
func (l *loader) value(s *Setting, getenv func(string) string, file map[string]json.RawMessage, fileName string) (string, source, string) {
	if r := l.flags[s.Name]; r != nil && r.set {
		if s.Bool && r.v == "" {
			return "true", source{"-" + s.Name}, ""
		}
		return r.v, source{"-" + s.Name}, ""
	}
	if env := s.Env(); env != "" {
		if v := getenv(env); v != "" {
			return v, source{env}, ""
		}
	}
	if raw, ok := file[s.Name]; ok && !s.FlagOnly {
		src := source{fmt.Sprintf("%s: %q", fileName, s.Name)}
		v, err := scalar(raw)
		if err != nil {
			return "", src, fmt.Sprintf("%s: %v", src.what, err)
		}
		return v, src, ""
	}
	return s.defaultOf(l.cmd), source{"default of -" + s.Name}, ""
}

// lookupSetting returns the setting named name, or nil.
func lookupSetting(name string) *Setting {
	for _, s := range settings {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// readConfigFile reads a JSON object of settings. Errors name the file but
// never quote its content (it may sit next to secrets).
func readConfigFile(path string) (map[string]json.RawMessage, error) {
	data, err := readBounded(path, maxConfigFile)
	if err != nil {
		return nil, fmt.Errorf("-config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]json.RawMessage
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, fmt.Errorf("-config %s: not a JSON object of settings", path)
	}
	if dec.More() {
		return nil, fmt.Errorf("-config %s: more than one JSON value", path)
	}
	return m, nil
}

// scalar turns a JSON string, number or boolean into the setting's text; a
// list of strings (rp-id) is joined with commas.
func scalar(raw json.RawMessage) (string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), nil
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return strconv.FormatBool(b), nil
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return strings.Join(list, ","), nil
	}
	return "", errors.New("want a string, number, boolean or list of strings")
}

// readBounded reads at most limit bytes of a file.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return data, nil
}

// readSecret returns the first line of a secret file, trimmed. Errors name
// the file and never contain its content.
func readSecret(path string) (webauthn.Secret, error) {
	data, err := readBounded(path, maxSecretFile)
	if errors.Is(err, fs.ErrNotExist) && looksLikeSecret(path) {
		// The secret itself given where its file's path goes: an
		// error that names the "file" would print it.
		return nil, fmt.Errorf("no such file, and the value given (%d characters, not shown) looks like the secret itself, not a path: put the secret in a file readable only by this user and give the file's path", len(path))
	}
	if err != nil {
		return nil, err
	}
	defer clear(data)
	line, _, _ := bytes.Cut(data, []byte("\n"))
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return nil, fmt.Errorf("%s: first line is empty", path)
	}
	return webauthn.Secret(bytes.Clone(line)), nil
}

// looksLikeSecret reports whether the path of a secret file that does not
// exist is more likely the secret itself: 20 or more characters with no
// path separator, dot or white space, and upper-case letters, lower-case
// letters and digits all in it (Okta's API tokens are 42 characters of
// letters, digits and '_' or '-', starting "00"). A file name that long
// usually has an extension, or is words (okta-token-production): shown.
func looksLikeSecret(path string) bool {
	if len(path) < 20 || strings.ContainsAny(path, "./"+string(filepath.Separator)) || strings.ContainsFunc(path, unicode.IsSpace) {
		return false
	}
	return strings.ContainsFunc(path, unicode.IsUpper) && strings.ContainsFunc(path, unicode.IsLower) && strings.ContainsFunc(path, unicode.IsDigit)
}

// check validates the settings together and reads the secret files. It
// returns every problem.
func (c *Config) check(cmd string) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	takes := func(name string) bool { return lookupSetting(name).appliesTo(cmd) }
	if takes("okta-org") {
		if c.Fake() {
			for _, f := range []struct{ name, v string }{
				{"-okta-token-file", c.OktaTokenFile}, {"-okta-client-id", c.OktaClientID}, {"-okta-private-key-file", c.OktaPrivateKeyFile},
			} {
				if f.v != "" {
					bad("%s needs -okta-org (without one, the commands run on in-process fakes)", f.name)
				}
			}
			if c.YubicoTokenFile != "" {
				bad("-yubico-token-file needs -okta-org (without one, the commands run on in-process fakes)")
			}
			if c.Store != "" && cmd != "order" && cmd != "batch" {
				// The fakes start empty on every run: a store's records
				// would name users they do not have.
				bad("-store needs -okta-org: the in-process fakes start empty on every run")
			}
		} else {
			problems = append(problems, c.checkOktaAuth()...)
			if takes("customization") && c.Item.CustomizationID == "" {
				bad("-customization (PREENROLL_CUSTOMIZATION) is required with -okta-org")
			}
			if cmd == "order" && c.User == "" {
				bad("-user is required with -okta-org")
			}
			if takes("catch-up") && c.CatchUp && c.Store == "" {
				// In memory, every run's catch-up would be the first on
				// its store, which records nothing.
				bad("-catch-up needs -store (PREENROLL_STORE) with -okta-org: the catch-up's checkpoint is kept in the store, and without one every run would be the first, which records nothing")
			}
			if c.ProfileFile != "" {
				bad("-profile seeds the in-process fake org; it cannot be used with -okta-org")
			}
		}
	}
	if takes("rp-id") && !c.Fake() && !c.rpIDGiven {
		if p := defaultRPIDProblem(c.OktaOrg); p != "" {
			bad("%s", p)
		}
	}
	if !c.Fake() && slices.Contains(needsYubico, cmd) && c.YubicoTokenFile == "" {
		bad("-yubico-token-file (PREENROLL_YUBICO_TOKEN_FILE) is required for %s with -okta-org", cmd)
	}
	if c.YubicoTokenFile != "" && !c.Fake() {
		if t, err := readSecret(c.YubicoTokenFile); err != nil {
			bad("-yubico-token-file: %v", err)
		} else {
			c.yubicoToken = t
		}
	}
	if takes("customization") {
		if c.Fake() && c.Item.CustomizationID == "" {
			c.Item.CustomizationID = "DEMO01"
		}
		item := c.Item
		if item.CustomizationID == "" {
			item.CustomizationID = "C" // reported as missing above; check the rest
		}
		problems = append(problems, itemProblems(item)...)
	}
	if takes("store") {
		if p := storeDirProblem(c.Store); p != "" {
			bad("%s", p)
		}
	}
	if cmd == "serve" {
		problems = append(problems, c.checkServe()...)
	}
	if cmd == "backup" {
		problems = append(problems, c.checkBackup()...)
	}
	if cmd == "batch" && c.CSVFile == "" {
		bad("-csv FILE is required")
	}
	return maskProblems(problems)
}

// maskProblems masks, in every problem, what a person would read as a
// password (maskUserinfo): the last guard for a value quoted whole or in
// part (a path, an RP ID in a list, the org named in a hint) that no
// redactURL masked.
func maskProblems(problems []string) []string {
	for i, p := range problems {
		problems[i] = maskUserinfo(p)
	}
	return problems
}

// defaultRPIDProblem says why the default relying-party ID, the host of
// -okta-org, is none, naming -rp-id; "" when it is one. An org at an IP
// address (a local fake) is the case: WebAuthn refuses an IP address as
// RP ID, and Okta the keys Yubico programmed for it, at activation.
func defaultRPIDProblem(org string) string {
	host := serve.DefaultRPID(org)
	p := webauthn.RPIDProblem(host)
	if p == "" {
		return ""
	}
	if net.ParseIP(host) != nil {
		p = "an IP address (a local fake org?), and WebAuthn refuses IP addresses as RP IDs"
	}
	return fmt.Sprintf("-okta-org %s: its host %s is no valid relying-party ID, the default of -rp-id: %s; set %s to the org's domain name (example.okta.com)",
		org, host, p, flagEnv("rp-id"))
}

// flagEnv names a setting as the problems and hints do: "-name (ENV)", or
// "-name" for a flag-only one.
func flagEnv(name string) string {
	s := lookupSetting(name)
	if s == nil || s.Env() == "" {
		return "-" + name
	}
	return "-" + name + " (" + s.Env() + ")"
}

// storeDirProblem reports a SQLite -store whose directory does not exist
// (SQLite creates the file, not its directory), so that the command stops
// as bad usage naming the setting instead of failing to open the database.
func storeDirProblem(v string) string {
	spec, err := parseStore(v)
	if err != nil || spec.sqlite == "" {
		return "" // reported by the setting, or not a file
	}
	dir := filepath.Dir(spec.sqlite)
	switch fi, err := os.Stat(dir); {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("-store (PREENROLL_STORE) %s: the directory %s does not exist (the SQLite file is created, its directory is not)", spec.sqlite, dir)
	case err == nil && !fi.IsDir():
		return fmt.Sprintf("-store (PREENROLL_STORE) %s: %s is not a directory", spec.sqlite, dir)
	}
	return "" // other errors (permissions) are the store's to report when it opens
}

// checkOktaAuth checks how the commands authenticate to the org, exactly
// one way: an API token (-okta-token-file) or an OAuth 2.0 service app
// (-okta-client-id with -okta-private-key-file), and reads the secret.
func (c *Config) checkOktaAuth() []string {
	const (
		tokenFlag  = "-okta-token-file (PREENROLL_OKTA_TOKEN_FILE)"
		clientFlag = "-okta-client-id (PREENROLL_OKTA_CLIENT_ID)"
		keyFlag    = "-okta-private-key-file (PREENROLL_OKTA_PRIVATE_KEY_FILE)"
	)
	token, oauth := c.OktaTokenFile != "", c.OktaClientID != "" || c.OktaPrivateKeyFile != ""
	switch {
	case token && oauth:
		return []string{"-okta-token-file and -okta-client-id/-okta-private-key-file are both set: authenticate with an API token or as an OAuth service app, not both"}
	case !token && !oauth:
		return []string{fmt.Sprintf("%s, or %s with %s for an OAuth service app, is required with -okta-org", tokenFlag, clientFlag, keyFlag)}
	case token:
		t, err := readSecret(c.OktaTokenFile)
		if err != nil {
			return []string{fmt.Sprintf("-okta-token-file: %v", err)}
		}
		c.oktaToken = t
		return nil
	case c.OktaClientID == "":
		return []string{fmt.Sprintf("%s needs %s: the service app's client ID", keyFlag, clientFlag)}
	case c.OktaPrivateKeyFile == "":
		return []string{fmt.Sprintf("%s needs %s: the service app's private key", clientFlag, keyFlag)}
	}
	k, err := readPrivateKey(c.OktaPrivateKeyFile)
	if err != nil {
		return []string{fmt.Sprintf("-okta-private-key-file: %v", err)}
	}
	c.oktaKey = k
	return nil
}

// readPrivateKey reads a service app's private key, PEM or JWK. Errors name
// the file and never contain its content.
func readPrivateKey(path string) (*okta.PrivateKey, error) {
	data, err := readBounded(path, maxKeyFile)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	k, err := okta.ParsePrivateKey(data)
	if err != nil {
		// ParsePrivateKey's errors never hold key material. Its
		// *ArgumentError says what is wrong with the key.
		msg := err.Error()
		if ae, ok := errors.AsType[*okta.ArgumentError](err); ok {
			msg = ae.Reason()
		}
		return nil, fmt.Errorf("%s: not a usable private key: %s", path, msg)
	}
	return k, nil
}

// itemFlags names the flag behind each field of an order item.
var itemFlags = map[string]string{"productId": "-product", "inventoryProductId": "-inventory", "customizationId": "-customization"}

// itemProblems validates the item as Okta would, one problem per field,
// named by flag.
func itemProblems(item fulfillment.Item) []string {
	err := item.Validate()
	var ve *fulfillment.ValidationError
	if !errors.As(err, &ve) {
		if err != nil {
			return []string{err.Error()}
		}
		return nil
	}
	var out []string
	for _, f := range ve.Fields {
		if name, ok := itemFlags[f.Field]; ok {
			f.Field = name
		}
		out = append(out, f.Error())
	}
	return out
}

// EnvWarnings returns a warning for each PREENROLL_ variable of environ
// (KEY=VALUE entries, as os.Environ gives them) that looks meant for a
// setting but is none, which would otherwise leave a default in force
// unnoticed: a secret put in a variable whose _FILE form is the setting
// (PREENROLL_OKTA_TOKEN: secrets are read from files only), or a name
// within two letters of a setting's (PREENROLL_SYNC_INTERVL). Other
// PREENROLL_ names are left alone: the project's tests and scripts have
// variables of their own under the prefix. A warning names the variable,
// never its value.
func EnvWarnings(environ []string) []string {
	var known []string
	isKnown := map[string]bool{}
	for _, s := range append([]*Setting{configSetting}, settings...) {
		if env := s.Env(); env != "" && !isKnown[env] {
			known = append(known, env)
			isKnown[env] = true
		}
	}
	var warnings []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "PREENROLL_") || isKnown[name] {
			continue
		}
		if isKnown[name+"_FILE"] {
			warnings = append(warnings, fmt.Sprintf("preenroll: warning: %s is ignored: secrets are read from files only (put the file's path in %s_FILE)", name, name))
			continue
		}
		best, bestDist := "", 3
		for _, k := range known {
			if d := editDistance(name, k); d < bestDist {
				best, bestDist = k, d
			}
		}
		if best != "" {
			warnings = append(warnings, fmt.Sprintf("preenroll: warning: %s is not a setting and is ignored; did you mean %s?", name, best))
		}
	}
	slices.Sort(warnings)
	return warnings
}

// editDistance is the Levenshtein distance between a and b, in bytes
// (setting names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/preenroll/preenroll/console"
	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/internal/httpclient"
	"github.com/preenroll/preenroll/internal/serve"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/webauthn"
)

// ServeConfig holds the settings only serve takes.
type ServeConfig struct {
	Listen, PublicURL, HookPath, HookSecretFile string
	// TLSCertFile and TLSKeyFile, both set, make serve answer https.
	TLSCertFile, TLSKeyFile             string
	HookQueue                           int
	SyncInterval, SyncJitter            time.Duration
	CatchUpInterval                     time.Duration
	ShutdownTimeout, Lease, ReadyWindow time.Duration
	IdempotentShipments                 bool
	IdempotencyWindow                   time.Duration
	DemoUsers                           int
	DemoDay                             time.Duration

	// The console's sign-in: an Okta OIDC web app.
	ConsoleClientID, ConsoleClientSecretFile, ConsoleRedirectURL   string
	ConsoleAdminGroup, ConsoleReadOnlyGroup, ConsoleSessionKeyFile string
	// Console turns the console on or off; nil: on when an OIDC app is
	// configured (always in the demo).
	Console *bool
	// ConsoleAuditRetention is how long the console's audit trail is kept
	// in the store; negative: for ever (serve's zero is its default).
	ConsoleAuditRetention time.Duration

	hookSecret                    webauthn.Secret
	consoleSecret, consoleSession webauthn.Secret
}

func init() {
	Register(&Command{
		Name: "serve", MaxArgs: 0,
		Summary: "run the service: Okta's event hook, Sync on a schedule, health and metrics",
		Doc: `Runs the long-running service an IT team deploys. It serves Okta's event hook
at -hook-path (registering it in the org when -public-url says where Okta
reaches it), records an order for each system.mfa.preregister.initiate event
once Okta confirms the user (an event for a user the org does not have is
rejected and logged), runs Sync every -sync-interval (plus up to -sync-jitter)
and at once after an order, and serves /healthz, /readyz and Prometheus
/metrics. Every -catch-up-interval it also records the orders in Okta's
System Log whose event hook delivery never arrived (from a checkpoint in
-store; the first start on a store reads nothing before it). With
-console-client-id (an Okta OIDC web app) it mounts the web console at /,
signed in with Okta; members of -console-admin-group may act.
It speaks plain HTTP on -listen for a TLS-terminating proxy in front; with
-tls-cert-file and -tls-key-file it answers https itself, reloading the pair
when a renewal rewrites the files.
JSON logs go to stderr: the Service's steps and the event hook's requests,
and with -v every other HTTP request too. SIGTERM or SIGINT stops it gracefully within
-shutdown-timeout; a second serve on the same -store is safe.

Without -okta-org it runs a demo on in-process fakes of Okta and Yubico with
simulated keys, seeded users and a fast clock (-demo-day of wall time per fake
day), and prints the URLs to open: the status page, and the console with the
fake org's administrator to sign in as.

Exit codes: 0 stopped by a signal, 1 failed, 2 bad usage.`,
		Run: runServe,
	})
	// serve takes the shared connection settings, Yubico's and -verbose.
	connected = append(connected, "serve")
	for _, name := range []string{"yubico-api", "yubico-jwks", "yubico-token-file", "concurrency", "verbose"} {
		s := lookupSetting(name)
		s.Commands = append(slices.Clone(s.Commands), "serve")
	}
	only := []string{"serve"}
	duration := func(field func(*Config) *time.Duration, lo, hi time.Duration) func(*Config, string) error {
		return func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < lo || d > hi {
				return fmt.Errorf("want a duration from %s to %s", shortDuration(lo), shortDuration(hi))
			}
			*field(c) = d
			return nil
		}
	}
	settings = append(settings,
		&Setting{Name: "listen", Default: serve.DefaultListen, Commands: only, Usage: "address the service listens on (host:port)",
			set: func(c *Config, v string) error { c.Serve.Listen = v; return nil }},
		&Setting{Name: "tls-cert-file", Commands: only, Usage: "PEM certificate chain (the server's certificate first): with -tls-key-file, serve answers https on -listen itself, reloading the pair when a renewal rewrites the files",
			set: func(c *Config, v string) error { c.Serve.TLSCertFile = v; return nil }},
		&Setting{Name: "tls-key-file", Commands: only, Usage: "file holding the private key of -tls-cert-file, PEM (never given directly)",
			set: func(c *Config, v string) error { c.Serve.TLSKeyFile = v; return nil }},
		&Setting{Name: "public-url", Commands: only, Usage: "the service's base URL as Okta reaches it (https); set, serve registers its event hook in the org",
			set: func(c *Config, v string) error {
				c.Serve.PublicURL = v
				if v == "" {
					return nil
				}
				return checkURL(v)
			}},
		&Setting{Name: "hook-path", Default: serve.DefaultHookPath, Commands: only, Usage: "path of the Okta event hook",
			set: func(c *Config, v string) error {
				c.Serve.HookPath = v
				if v == "" {
					return nil // serve's default
				}
				return serve.CheckHookPath(v) // as serve.Run would at start
			}},
		&Setting{Name: "hook-secret-file", Commands: only, Usage: "file whose first line is the event hook's Authorization value (required with -okta-org; never given directly)",
			set: func(c *Config, v string) error { c.Serve.HookSecretFile = v; return nil }},
		&Setting{Name: "hook-queue", Default: strconv.Itoa(serve.DefaultHookQueue), Commands: only, Usage: "events accepted and not yet recorded, at most (a delivery beyond is answered 503)",
			set: func(c *Config, v string) error {
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 || n > 1_000_000 {
					return errors.New("want 1 to 1000000")
				}
				c.Serve.HookQueue = n
				return nil
			}},
		&Setting{Name: "sync-interval", Commands: only, Usage: "time between Sync passes (default 5m; 1s in the demo)",
			set: func(c *Config, v string) error {
				if v == "" {
					return nil
				}
				return duration(func(c *Config) *time.Duration { return &c.Serve.SyncInterval }, 100*time.Millisecond, 24*time.Hour)(c, v)
			}},
		&Setting{Name: "sync-jitter", Commands: only, Usage: "random extra wait before each Sync pass, at most (default 30s; 250ms in the demo, unless -sync-interval is set; 0s: none); another instance's order wakes a pass after up to 1s of it",
			set: func(c *Config, v string) error {
				if v == "" {
					return nil
				}
				if err := duration(func(c *Config) *time.Duration { return &c.Serve.SyncJitter }, 0, time.Hour)(c, v); err != nil {
					return err
				}
				if c.Serve.SyncJitter == 0 {
					c.Serve.SyncJitter = -1 // none (serve's zero is its default)
				}
				return nil
			}},
		&Setting{Name: "catch-up-interval", Commands: only,
			Usage: "time between catch-ups from Okta's System Log, which find orders whose event hook delivery never arrived (default 5m; one -demo-day in the demo; 0s: none; an OAuth service app needs the okta.logs.read scope for them)",
			set: func(c *Config, v string) error {
				if v == "" {
					return nil
				}
				if err := duration(func(c *Config) *time.Duration { return &c.Serve.CatchUpInterval }, 0, 24*time.Hour)(c, v); err != nil {
					return err
				}
				if c.Serve.CatchUpInterval == 0 {
					c.Serve.CatchUpInterval = -1 // none (serve's zero is its default)
				}
				return nil
			}},
		&Setting{Name: "shutdown-timeout", Default: shortDuration(serve.DefaultShutdownTimeout), Commands: only, Usage: "how long a graceful shutdown may take before the steps still running are abandoned",
			set: duration(func(c *Config) *time.Duration { return &c.Serve.ShutdownTimeout }, time.Second, 10*time.Minute)},
		&Setting{Name: "lease", Commands: only, Usage: "how long a step in flight is reserved for this instance (default 2m)",
			set: func(c *Config, v string) error {
				if v == "" {
					return nil
				}
				return duration(func(c *Config) *time.Duration { return &c.Serve.Lease }, time.Second, time.Hour)(c, v)
			}},
		&Setting{Name: "ready-window", Default: shortDuration(serve.DefaultReadyWindow), Commands: only, Usage: "/readyz fails when Okta or Yubico has not answered for this long",
			set: duration(func(c *Config) *time.Duration { return &c.Serve.ReadyWindow }, time.Second, 24*time.Hour)},
		&Setting{Name: "idempotent-shipments", Bool: true, Default: "false", Commands: only, Usage: "Yubico de-duplicates shipment creates by Idempotency-Key (undocumented for the real API; the fakes do)",
			set: func(c *Config, v string) error {
				b, err := parseBool(v)
				c.Serve.IdempotentShipments = b
				return err
			}},
		&Setting{Name: "idempotency-window", Default: shortDuration(fulfillment.DefaultIdempotencyWindow), Commands: only, Usage: "how long Yubico is taken to remember an Idempotency-Key: with -idempotent-shipments, a shipment create whose outcome is unknown is resent only this long after its intent, then errored for a person",
			set: duration(func(c *Config) *time.Duration { return &c.Serve.IdempotencyWindow }, time.Minute, 30*24*time.Hour)},
		&Setting{Name: "console", Bool: true, Commands: only, Usage: "serve the web console at / (default: on when -console-client-id is set, and in the demo)",
			set: func(c *Config, v string) error {
				if v == "" {
					c.Serve.Console = nil
					return nil
				}
				b, err := parseBool(v)
				c.Serve.Console = &b
				return err
			}},
		&Setting{Name: "console-client-id", Commands: only, Usage: "client ID of the console's Okta OIDC web app (sign-in at the org authorization server)",
			set: func(c *Config, v string) error {
				c.Serve.ConsoleClientID = v
				if strings.IndexFunc(v, func(r rune) bool { return r <= ' ' || r >= 0x7f }) >= 0 {
					return errors.New("a client ID has no spaces, control or non-ASCII characters")
				}
				return nil
			}},
		&Setting{Name: "console-client-secret-file", Commands: only, Usage: "file whose first line is the console app's client secret (never given directly)",
			set: func(c *Config, v string) error { c.Serve.ConsoleClientSecretFile = v; return nil }},
		&Setting{Name: "console-redirect-url", Commands: only, Usage: "the console app's sign-in redirect URI (default: -public-url, or http://-listen on loopback (https:// with -tls-cert-file), + " + console.CallbackPath + ")",
			set: func(c *Config, v string) error {
				c.Serve.ConsoleRedirectURL = v
				if v == "" {
					return nil
				}
				return console.CheckRedirectURL(v, "")
			}},
		&Setting{Name: "console-admin-group", Commands: only, Usage: "Okta group whose members may act in the console (required with -console-client-id)",
			set: func(c *Config, v string) error { c.Serve.ConsoleAdminGroup = strings.TrimSpace(v); return nil }},
		&Setting{Name: "console-read-only-group", Commands: only, Usage: "Okta group whose members may look at the console",
			set: func(c *Config, v string) error { c.Serve.ConsoleReadOnlyGroup = strings.TrimSpace(v); return nil }},
		&Setting{Name: "console-session-key-file", Commands: only, Usage: "file whose first line (at least 32 characters, e.g. openssl rand -base64 48) seals the console's session cookies; absent: a random key per process",
			set: func(c *Config, v string) error { c.Serve.ConsoleSessionKeyFile = v; return nil }},
		&Setting{Name: "console-audit-retention", Default: shortDuration(console.DefaultAuditRetention), Commands: only,
			Usage: "how long the console's audit trail is kept in -store (the default is 400 days; at least 24h; 0s: for ever)",
			set: func(c *Config, v string) error {
				d, err := time.ParseDuration(v)
				if err != nil || d < 0 || (d > 0 && d < serve.MinAuditRetention) || d > maxAuditRetention {
					return fmt.Errorf("want 0s (for ever) or a duration from %s to %s", shortDuration(serve.MinAuditRetention), shortDuration(maxAuditRetention))
				}
				if d == 0 {
					d = -1 // for ever (serve's zero is its default)
				}
				c.Serve.ConsoleAuditRetention = d
				return nil
			}},
		&Setting{Name: "demo-users", Default: strconv.Itoa(serve.DefaultDemoUsers), Commands: only, Usage: "demo only: users seeded in the fake org",
			set: func(c *Config, v string) error {
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 || n > 1000 {
					return errors.New("want 0 to 1000")
				}
				c.Serve.DemoUsers = n
				return nil
			}},
		&Setting{Name: "demo-day", Default: shortDuration(serve.DefaultDemoDay), Commands: only, Usage: "demo only: wall time of one fake day",
			set: duration(func(c *Config) *time.Duration { return &c.Serve.DemoDay }, 100*time.Millisecond, 24*time.Hour)},
	)
}

// maxAuditRetention is the longest -console-audit-retention: a century.
const maxAuditRetention = 100 * 365 * 24 * time.Hour

// shortDuration formats d as the README writes durations: 5m and 24h,
// not time.Duration's 5m0s and 24h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// checkServe checks serve's settings and reads the hook secret and the
// console's secrets.
func (c *Config) checkServe() []string {
	problems := c.checkTLS()
	problems = append(problems, c.checkConsole()...)
	if p := c.checkLease(); p != "" {
		problems = append(problems, p)
	}
	if c.Fake() {
		if c.Serve.HookSecretFile != "" || c.Serve.PublicURL != "" {
			problems = append(problems, "-hook-secret-file and -public-url need -okta-org (the demo registers its own hook at the fake org)")
		}
		return problems
	}
	if c.Serve.HookSecretFile == "" {
		problems = append(problems, "-hook-secret-file (PREENROLL_HOOK_SECRET_FILE) is required with -okta-org")
	} else if s, err := readSecret(c.Serve.HookSecretFile); err != nil {
		problems = append(problems, fmt.Sprintf("-hook-secret-file: %v", err))
	} else if len(s) < fulfillment.MinEventHookSecret {
		problems = append(problems, fmt.Sprintf("-hook-secret-file: the secret is shorter than %d characters (make one with openssl rand -base64 48)", fulfillment.MinEventHookSecret))
	} else {
		c.Serve.hookSecret = s
	}
	if c.Store == "" {
		problems = append(problems, "-store (PREENROLL_STORE) is required with -okta-org: keys in flight must survive a restart")
	}
	return problems
}

// checkTLS checks that -tls-cert-file and -tls-key-file are set together
// and load as a pair (serve loads them again at start), and that
// -public-url is https with them. Its problems name the file, never the
// key's content.
func (c *Config) checkTLS() []string {
	certFlag, keyFlag := flagEnv("tls-cert-file"), flagEnv("tls-key-file")
	sc := &c.Serve
	switch {
	case sc.TLSCertFile == "" && sc.TLSKeyFile == "":
		return nil
	case sc.TLSKeyFile == "":
		return []string{fmt.Sprintf("%s needs %s: set both for https, or neither", certFlag, keyFlag)}
	case sc.TLSCertFile == "":
		return []string{fmt.Sprintf("%s needs %s: set both for https, or neither", keyFlag, certFlag)}
	}
	var problems []string
	if u, err := url.Parse(sc.PublicURL); err == nil && u.Scheme == "http" {
		// serve answers https only; even behind a proxy that takes http
		// and speaks https to serve, an http URL puts the event hook, and
		// the console's sign-in and cookies, on plain http.
		problems = append(problems, fmt.Sprintf("%s %q is http, while %s makes serve answer https: give the https URL clients reach serve at",
			flagEnv("public-url"), sc.PublicURL, certFlag))
	}
	err := serve.CheckTLSFiles(sc.TLSCertFile, sc.TLSKeyFile)
	if fe, ok := errors.AsType[*serve.TLSFileError](err); ok {
		flag := "-tls-cert-file"
		if fe.Key {
			flag = "-tls-key-file"
		}
		problems = append(problems, fmt.Sprintf("%s: %s: %v", flag, fe.File, fe.Err))
	} else if err != nil {
		problems = append(problems, err.Error())
	}
	return problems
}

// tls reports whether serve answers https.
func (sc *ServeConfig) tls() bool { return sc.TLSCertFile != "" }

// checkLease checks -lease against -okta-timeout: a step's remote calls
// end three quarters of the way through its lease, so a lease whose three
// quarters are not longer than -okta-timeout cuts every request to Okta
// short of its timeout (a slow Okta would fail every step).
func (c *Config) checkLease() string {
	lease, which := c.Serve.Lease, "-lease"
	if lease == 0 {
		lease, which = fulfillment.DefaultLease, "-lease (default)"
	}
	if lease*3/4 > c.OktaTimeout {
		return ""
	}
	return fmt.Sprintf("%s %s is too short for -okta-timeout %s: a step's calls end three quarters of the way through the lease (%s); set -lease above %s",
		which, shortDuration(lease), shortDuration(c.OktaTimeout), shortDuration(lease*3/4), shortDuration(c.OktaTimeout*4/3))
}

// checkConsole checks the console's settings together and reads its
// secret files.
func (c *Config) checkConsole() []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	sc := &c.Serve
	if sc.Console != nil && !*sc.Console {
		return nil // off: the rest is not used
	}
	app := []struct{ flag, v string }{{"-console-client-id", sc.ConsoleClientID}, {"-console-client-secret-file", sc.ConsoleClientSecretFile},
		{"-console-redirect-url", sc.ConsoleRedirectURL}, {"-console-admin-group", sc.ConsoleAdminGroup}, {"-console-read-only-group", sc.ConsoleReadOnlyGroup}}
	if c.Fake() {
		for _, f := range app {
			if f.v != "" {
				bad("%s needs -okta-org (the demo registers the console's own OIDC app at the fake org)", f.flag)
			}
		}
	} else if sc.ConsoleClientID == "" {
		if sc.Console != nil {
			bad("-console needs -console-client-id (PREENROLL_CONSOLE_CLIENT_ID): the console's Okta OIDC web app")
		}
		for _, f := range app[1:] {
			if f.v != "" {
				bad("%s needs -console-client-id (PREENROLL_CONSOLE_CLIENT_ID)", f.flag)
			}
		}
		if len(problems) > 0 || sc.Console == nil {
			return problems // off: logged by serve
		}
	} else {
		if sc.ConsoleAdminGroup == "" {
			bad("-console-admin-group (PREENROLL_CONSOLE_ADMIN_GROUP) is required with -console-client-id")
		}
		if sc.ConsoleClientSecretFile == "" {
			bad("-console-client-secret-file (PREENROLL_CONSOLE_CLIENT_SECRET_FILE) is required with -console-client-id")
		} else if s, err := readSecret(sc.ConsoleClientSecretFile); err != nil {
			bad("-console-client-secret-file: %v", err)
		} else {
			sc.consoleSecret = s
		}
		if sc.ConsoleRedirectURL == "" && sc.PublicURL == "" && !loopbackListen(sc.Listen) {
			if sc.tls() {
				// https://<listening address> would name an IP address
				// (or [::]), not the host browsers reach.
				bad("-console-redirect-url or -public-url is needed: off loopback, the console's redirect must name the host browsers reach serve at, which -listen %s does not", sc.Listen)
			} else {
				bad("-console-redirect-url or a https -public-url is needed: the console's redirect must be https unless serve listens on loopback (-listen %s)", sc.Listen)
			}
		} else if sc.ConsoleRedirectURL == "" && sc.PublicURL != "" {
			if err := console.CheckRedirectURL(strings.TrimSuffix(sc.PublicURL, "/")+console.CallbackPath, ""); err != nil {
				bad("-public-url as the console's redirect: %v (or set -console-redirect-url)", err)
			}
		}
	}
	if sc.ConsoleSessionKeyFile != "" {
		if s, err := readSecret(sc.ConsoleSessionKeyFile); err != nil {
			bad("-console-session-key-file: %v", err)
		} else if len(s) < console.MinSessionKey {
			bad("-console-session-key-file: the key is shorter than %d characters", console.MinSessionKey)
		} else {
			sc.consoleSession = s
		}
	}
	return problems
}

// loopbackListen reports whether a -listen address is on loopback only
// (so that the console may be served over http).
func loopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	return err == nil && httpclient.IsLoopback(host)
}

// runServe runs serve.Run until the context ends (SIGTERM, SIGINT).
func runServe(ctx context.Context, inv *Invocation) int {
	cfg := inv.Config
	sc := serveConfig(cfg, inv) // no store: serve's in-memory one (the demo)
	if cfg.Store != "" {
		db, closeStore, err := openStore(ctx, cfg.Store, sc.Logger)
		if err != nil {
			inv.errorf("-store: %v", err)
			return ExitFailed
		}
		defer closeStore()
		sc.StoreBackend = db
	}
	if cfg.oktaKey != nil {
		sc.OktaOptions = append(sc.OktaOptions, okta.WithOAuth(okta.OAuthConfig{
			ClientID: cfg.OktaClientID, PrivateKey: cfg.oktaKey, Scopes: cfg.OktaScopes, DPoP: cfg.OktaDPoP,
		}))
		// The catch-up's token asks for okta.logs.read alone: an app
		// without that grant fails the catch-up, not every call.
		sc.SystemLogOptions = []okta.Option{okta.WithOAuth(okta.OAuthConfig{
			ClientID: cfg.OktaClientID, PrivateKey: cfg.oktaKey, Scopes: []string{okta.ScopeLogsRead}, DPoP: cfg.OktaDPoP,
		})}
	}
	if err := serve.Run(ctx, sc); err != nil {
		inv.errorf("%v", err)
		if errors.Is(err, serve.ErrConfig) {
			return ExitUsage
		}
		return ExitFailed
	}
	return ExitOK
}

// serveLogLevel is the level of serve's log: the Service's steps and the
// event hook's requests are logged at info; -verbose adds the debug
// records, every other HTTP request (health checks, metrics scrapes, the
// console's pages).
func serveLogLevel(cfg *Config) slog.Level {
	if cfg.Verbose {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// serveConfig maps serve's resolved settings onto serve.Config, without
// a store (StoreBackend nil: serve's in-memory demo store; runServe sets
// the opened -store).
func serveConfig(cfg *Config, inv *Invocation) serve.Config {
	sc := serveSettings(cfg)
	sc.Logger, sc.Stdout = serveLogger(cfg, inv), inv.Stdout
	return sc
}

// serveSettings is serveConfig without the log and the output: what serve
// would run with, for doctor to apply serve's own rules to.
func serveSettings(cfg *Config) serve.Config {
	return serve.Config{
		Listen: cfg.Serve.Listen, TLSCertFile: cfg.Serve.TLSCertFile, TLSKeyFile: cfg.Serve.TLSKeyFile, PublicURL: cfg.Serve.PublicURL, RegisterHook: cfg.Serve.PublicURL != "", HookPath: cfg.Serve.HookPath,
		HookSecret: okta.Secret(cfg.Serve.hookSecret), HookQueue: cfg.Serve.HookQueue,
		OktaOrg: cfg.OktaOrg, OktaToken: okta.Secret(cfg.oktaToken), HTTPTimeout: cfg.OktaTimeout,
		YubicoAPI: cfg.YubicoAPI, YubicoJWKS: cfg.YubicoJWKS, YubicoToken: okta.Secret(cfg.yubicoToken),
		RPIDs: cfg.RPIDs, Concurrency: cfg.Concurrency, Lease: cfg.Serve.Lease,
		IdempotentShipments: cfg.Serve.IdempotentShipments, IdempotencyWindow: cfg.Serve.IdempotencyWindow,
		SyncInterval: cfg.Serve.SyncInterval, SyncJitter: cfg.Serve.SyncJitter, CatchUpInterval: cfg.Serve.CatchUpInterval,
		ShutdownTimeout: cfg.Serve.ShutdownTimeout, ReadyWindow: cfg.Serve.ReadyWindow,
		DemoUsers: cfg.Serve.DemoUsers, DemoDay: cfg.Serve.DemoDay,
		Console: serve.Console{
			Off:      cfg.Serve.Console != nil && !*cfg.Serve.Console,
			ClientID: cfg.Serve.ConsoleClientID, ClientSecret: okta.Secret(cfg.Serve.consoleSecret),
			RedirectURL: cfg.Serve.ConsoleRedirectURL, AdminGroup: cfg.Serve.ConsoleAdminGroup,
			ReadOnlyGroup: cfg.Serve.ConsoleReadOnlyGroup, SessionKey: okta.Secret(cfg.Serve.consoleSession),
			AuditRetention: cfg.Serve.ConsoleAuditRetention,
		},
	}
}

// serveLogger is serve's log: JSON on stderr at serveLogLevel.
func serveLogger(cfg *Config, inv *Invocation) *slog.Logger {
	return slog.New(slog.NewJSONHandler(inv.Stderr, &slog.HandlerOptions{Level: serveLogLevel(cfg)}))
}

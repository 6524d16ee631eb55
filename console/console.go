package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/internal/httpclient"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/yubico"
)

// Defaults of [Config].
const (
	DefaultSessionTTL = 8 * time.Hour
	DefaultMaxUpload  = 1 << 20
	// DefaultBatchRetention is how long a batch upload is kept.
	DefaultBatchRetention = 30 * 24 * time.Hour
	// MinSessionKey is the shortest Config.SessionKey, in bytes.
	MinSessionKey = 32
)

// ErrInvalidConfig is wrapped by the errors of [New].
var ErrInvalidConfig = errors.New("console: invalid config")

// Config configures the console. Okta, OIDC (Issuer, ClientID,
// RedirectURL, AdminGroup) and SessionKey are required; the rest have
// defaults.
type Config struct {
	// Okta reads users: the People page's search by login and every user
	// page's profile. It should be the client the Service uses.
	Okta *okta.Client
	// Yubico, if not nil, lists the products and the inventory offered on
	// the order page. Nil: the IDs are typed.
	Yubico *yubico.Client
	// DefaultItem is what the order page's fields start with: set it to
	// the Service's Config.Defaults, so that an administrator sees what
	// will be ordered. Zero: the fields start empty. New checks it as an
	// order's item.
	DefaultItem fulfillment.Item
	// OIDC is how administrators sign in.
	OIDC OIDC
	// SessionKey signs and encrypts the session cookies: at least 32
	// random bytes, the same for every instance behind one address.
	// Changing it signs everybody out.
	SessionKey okta.Secret
	// SessionTTL is how long a sign-in lasts (default 8 h).
	SessionTTL time.Duration
	// Clock returns the current time (default time.Now): session expiry,
	// ID token checks and audit times.
	Clock func() time.Time
	// Audit receives an entry for every administrator action and sign-in
	// (default: NewMemoryAudit(10000)); the Audit page lists it.
	Audit AuditLog
	// BasePath is where the console is mounted ("" or "/admin"; no
	// trailing slash). The handler strips nothing: mount it at BasePath+"/".
	BasePath string
	// MaxUpload bounds a batch file upload, in bytes (default 1 MiB).
	MaxUpload int64
	// Documents keeps the batch uploads: their rows, progress and
	// results (default: a fulfillment.MemoryStore of the console's own,
	// lost at exit). Give it the Store the Service uses (every store of
	// package fulfillment and of pgstore is a DocumentStore) so that a
	// batch's page, its results and its order work on every instance
	// sharing that store, and outlive a restart.
	Documents fulfillment.DocumentStore
	// BatchRetention is how long a batch upload is kept (default
	// DefaultBatchRetention): its rows hold logins and, for HR exports,
	// addresses.
	BatchRetention time.Duration
	// HTTPClient makes the OIDC discovery, token and key requests (default:
	// a client with a 30 s timeout, so that a provider that does not
	// answer holds no sign-in longer).
	HTTPClient *http.Client
	// Logger receives a line per failed request (default: discard).
	Logger *slog.Logger
	// Done, when closed, stops the console's live updates: it unsubscribes
	// from the Service and ends the open event streams (which otherwise
	// last as long as the browser tab, holding up an http.Server's
	// Shutdown). Close it when shutdown begins (http.Server's
	// RegisterOnShutdown) or when the console is no longer served. Nil:
	// the console stays subscribed for as long as the Service lives.
	Done <-chan struct{}
}

// OIDC configures sign-in with an OpenID Connect provider (Okta: an OIDC
// web app of the org authorization server, with a groups claim).
type OIDC struct {
	// Issuer is the authorization server's issuer URL: the org URL for
	// Okta's org authorization server (https://example.okta.com).
	Issuer string
	// ClientID and ClientSecret are the web app's credentials.
	ClientID     string
	ClientSecret okta.Secret
	// RedirectURL is the console's callback as registered with the app:
	// the console's address + BasePath + "/auth/callback". It must be
	// https, or http on a loopback address; its scheme decides whether the
	// cookies are Secure. The sign-in cookie must be set on its host, where
	// the provider sends the browser back: a GET or HEAD that arrives on
	// another loopback name for the same port (localhost for 127.0.0.1, or
	// the reverse) is redirected (303) to the same path on its host
	// before anything else. Other host names are served as they come: one
	// cannot be told from a proxy that rewrites Host.
	RedirectURL string
	// AdminGroup is the group (by name, as the groups claim lists it)
	// whose members may act.
	AdminGroup string
	// ReadOnlyGroup is the group whose members may look; empty: none.
	ReadOnlyGroup string
	// Scopes are requested besides "openid" (default: profile, email,
	// groups).
	Scopes []string
}

// Role is what a signed-in person may do.
type Role string

// The roles.
const (
	RoleAdmin    Role = "admin"     // may look and act
	RoleReadOnly Role = "read-only" // may look
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// console is the handler.
type console struct {
	svc       *fulfillment.Service
	okta      *okta.Client
	yubico    *yubico.Client
	item      fulfillment.Item // the order page's fields at first
	oidc      OIDC
	cookies   *sealer
	secure    bool
	home      *url.URL // OIDC.RedirectURL's scheme and host
	ttl       time.Duration
	now       func() time.Time
	audit     AuditLog
	base      string
	maxUpload int64
	hc        *http.Client
	log       *slog.Logger
	tmpl      map[string]*template.Template
	assets    http.Handler
	live      *hub
	// maxStreams and streamWriteTimeout bound the event streams (live.go);
	// tests lower them.
	maxStreams         int
	streamWriteTimeout time.Duration
	batches            *batches
	work               sync.WaitGroup // batch goroutines (tests wait for them)

	providerMu sync.Mutex
	provider   *provider // discovered on first sign-in
}

// New returns the console over svc: an http.Handler to mount at
// cfg.BasePath + "/". Every page needs a signed-in member of the admin or
// read-only group; every state-changing request needs an admin and is
// refused when cross-origin. Errors wrap ErrInvalidConfig and name the
// field.
func New(svc *fulfillment.Service, cfg Config) (http.Handler, error) {
	c, err := newConsole(svc, cfg)
	if err != nil {
		return nil, err
	}
	return c.routes(), nil
}

// newConsole validates cfg and builds the console.
func newConsole(svc *fulfillment.Service, cfg Config) (*console, error) {
	bad := func(format string, args ...any) (*console, error) {
		return nil, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	switch {
	case svc == nil:
		return bad("service: required")
	case cfg.Okta == nil:
		return bad("Okta: required")
	case cfg.OIDC.Issuer == "":
		return bad("OIDC.Issuer: required")
	case cfg.OIDC.ClientID == "":
		return bad("OIDC.ClientID: required")
	case cfg.OIDC.AdminGroup == "":
		return bad("OIDC.AdminGroup: required")
	case len(cfg.SessionKey) < MinSessionKey:
		return bad("SessionKey: %d bytes, want at least %d random bytes", len(cfg.SessionKey), MinSessionKey)
	case cfg.BasePath != "" && (!strings.HasPrefix(cfg.BasePath, "/") || strings.HasSuffix(cfg.BasePath, "/")):
		return bad("BasePath %q: must start with / and not end with one", cfg.BasePath)
	case cfg.SessionTTL < 0, cfg.MaxUpload < 0, cfg.BatchRetention < 0:
		return bad("SessionTTL, MaxUpload, BatchRetention: must not be negative")
	}
	if _, err := url.Parse(cfg.OIDC.Issuer); err != nil {
		return bad("OIDC.Issuer: %v", err)
	}
	if err := CheckRedirectURL(cfg.OIDC.RedirectURL, cfg.BasePath); err != nil {
		return bad("OIDC.RedirectURL %w", err)
	}
	if cfg.DefaultItem != (fulfillment.Item{}) {
		if err := cfg.DefaultItem.Validate(); err != nil {
			return bad("DefaultItem: %w", err)
		}
	}
	home, _ := url.Parse(cfg.OIDC.RedirectURL) // checked above
	secure := home.Scheme == "https"           // url.Parse lower-cases it: HTTPS:// is https too
	c := &console{
		svc: svc, okta: cfg.Okta, yubico: cfg.Yubico, item: cfg.DefaultItem, oidc: cfg.OIDC,
		cookies: newSealer([]byte(cfg.SessionKey.Reveal())), secure: secure, home: &url.URL{Scheme: home.Scheme, Host: home.Host},
		ttl: cfg.SessionTTL, now: cfg.Clock, audit: cfg.Audit, base: cfg.BasePath,
		maxUpload: cfg.MaxUpload, hc: cfg.HTTPClient, log: cfg.Logger,
	}
	if c.ttl == 0 {
		c.ttl = DefaultSessionTTL
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.audit == nil {
		c.audit = NewMemoryAudit(10000)
	}
	if c.maxUpload == 0 {
		c.maxUpload = DefaultMaxUpload
	}
	if c.hc == nil {
		c.hc = &http.Client{Timeout: defaultProviderTimeout}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if c.tmpl, err = parseTemplates(c); err != nil {
		return nil, err
	}
	sub, _ := fs.Sub(assetFS, "assets")
	c.assets = http.StripPrefix(c.base+"/assets/", http.FileServerFS(sub))
	c.live = newHub()
	c.maxStreams, c.streamWriteTimeout = maxStreams, streamWriteTimeout
	docs := cfg.Documents
	if docs == nil {
		docs = fulfillment.NewMemoryStore()
	}
	keep := cfg.BatchRetention
	if keep == 0 {
		keep = DefaultBatchRetention
	}
	c.batches = newBatches(docs, keep, c.now, c.log)
	unsubscribe := svc.Subscribe(context.Background(), c.live.recordChanged)
	if cfg.Done != nil {
		go func() {
			<-cfg.Done
			unsubscribe()
			c.live.close()
		}()
	}
	return c, nil
}

// CheckRedirectURL reports what is wrong with raw as the console's
// OIDC.RedirectURL when it is mounted at basePath: it must be an absolute
// URL whose path is basePath + "/auth/callback", https, or http on a
// loopback address (localhost, 127.0.0.1, ::1). [New] checks it too;
// programs that take the URL as a setting call it to report it with their
// other settings.
//
// Its errors quote raw, unless raw has an '@' in it: a user name and
// password, maybe where url.Parse did not find them (a '#' or '?' in the
// password), are never printed. A URL with a user name or password in it
// is refused.
func CheckRedirectURL(raw, basePath string) error {
	shown := strconv.Quote(raw)
	if strings.Contains(raw, "@") {
		shown = "(not shown: it has an @, maybe a password)"
	}
	redirect, err := url.Parse(raw)
	if err != nil || redirect.Host == "" || redirect.Scheme == "" {
		return fmt.Errorf("%s: want an absolute URL", shown)
	}
	if redirect.User != nil {
		return fmt.Errorf("%s: has a user name or password in it: a redirect URI has none", shown)
	}
	if want := basePath + CallbackPath; redirect.Path != want {
		return fmt.Errorf("%s: its path must be %q", shown, want)
	}
	if redirect.Scheme != "https" && (redirect.Scheme != "http" || !httpclient.IsLoopback(redirect.Hostname())) {
		return fmt.Errorf("%s: must be https (http only on a loopback address)", shown)
	}
	return nil
}

// CallbackPath is the OIDC redirect's path under Config.BasePath: the
// RedirectURL registered with the OIDC app is the console's address +
// BasePath + CallbackPath.
const CallbackPath = "/auth/callback"

// routes builds the handler: security headers around cross-origin
// protection around the routes.
func (c *console) routes() http.Handler {
	mux := http.NewServeMux()
	b := c.base
	mux.Handle("GET "+b+"/assets/", c.assets)
	mux.HandleFunc("GET "+b+"/auth/login", c.login)
	mux.HandleFunc("GET "+b+CallbackPath, c.callback)
	mux.HandleFunc("POST "+b+"/auth/logout", c.logout)

	look := func(pattern string, h func(http.ResponseWriter, *http.Request, *session)) {
		mux.Handle(pattern, c.signedIn(h, false))
	}
	act := func(pattern string, h func(http.ResponseWriter, *http.Request, *session)) {
		mux.Handle(pattern, c.signedIn(h, true))
	}
	look("GET "+b+"/{$}", c.people)
	look("GET "+b+"/find", c.find)
	look("GET "+b+"/users/{id}", c.user)
	look("GET "+b+"/users/{id}/order", c.orderForm)
	act("POST "+b+"/users/{id}/order", c.order)
	act("POST "+b+"/users/{id}/send-pin", c.sendPIN)
	act("POST "+b+"/users/{id}/retry", c.retry)
	look("GET "+b+"/users/{id}/delete", c.deleteForm)
	act("POST "+b+"/users/{id}/delete", c.delete)
	look("GET "+b+"/batch", c.batchForm)
	act("POST "+b+"/batch", c.batchUpload)
	look("GET "+b+"/batch/{id}", c.batchPage)
	act("POST "+b+"/batch/{id}/order", c.batchOrder)
	look("GET "+b+"/batch/{id}/results.csv", c.batchCSV)
	look("GET "+b+"/audit", c.auditPage)
	look("GET "+b+"/events", c.events)
	mux.HandleFunc(b+"/", func(w http.ResponseWriter, r *http.Request) {
		c.problem(w, r, nil, http.StatusNotFound, "Not found", "There is no page at this address.")
	})

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.record(r, nil, "cross-origin request", r.URL.Path, outcomeRefused, "a cross-origin "+r.Method+" was refused")
		c.problem(w, r, nil, http.StatusForbidden, "Cross-origin request refused",
			"This request came from another site. Use the console's own buttons.")
	}))
	return headers(c.redirectHome(cop.Handler(mux)), c.secure)
}

// redirectHome sends a GET or HEAD that arrived on another loopback name
// for the console's address (localhost for 127.0.0.1, or the reverse, on
// the same port) to the same path and query on the host of
// OIDC.RedirectURL, before sign-in starts: the sign-in cookie is set on
// the host the request came to, and the provider sends the browser back to
// the redirect URL's, so a sign-in started on the other name fails. Other
// methods go on (a POST on the other name has no session and, from
// another origin, is refused as cross-origin). Other host names go on too:
// behind a proxy that rewrites Host (the console reads no
// X-Forwarded-Host) every request arrives on another name, and sending
// them all to the public host would loop.
func (c *console) redirectHome(h http.Handler) http.Handler {
	homeHost, homePort := hostPort(c.home.Host, c.home.Scheme)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			host, port := hostPort(r.Host, c.home.Scheme)
			if host != homeHost && port == homePort && httpclient.IsLoopback(host) && httpclient.IsLoopback(homeHost) {
				http.Redirect(w, r, c.home.String()+r.URL.RequestURI(), http.StatusSeeOther)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// hostPort splits a Host header into its lower-case host name (without
// brackets) and its port (the scheme's when it names none).
func hostPort(hostport, scheme string) (host, port string) {
	u := url.URL{Host: hostport}
	host, port = strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return host, port
}

// contentSecurityPolicy allows the console's own scripts, styles and
// connections only: no inline code, no framing, forms post to itself.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// defaultProviderTimeout bounds each request to the OIDC provider when
// Config.HTTPClient is nil.
const defaultProviderTimeout = 30 * time.Second

// hsts is the Strict-Transport-Security of a console whose redirect URL is
// https: browsers then reach its host over https only, for a year
// (RFC 6797); they ignore it over plain http.
const hsts = "max-age=31536000"

// headers sets the security headers of every response; secure adds HSTS.
func headers(h http.Handler, secure bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		if secure {
			hd.Set("Strict-Transport-Security", hsts)
		}
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !strings.Contains(r.URL.Path, "/assets/") {
			hd.Set("Cache-Control", "no-store")
		}
		h.ServeHTTP(w, r)
	})
}

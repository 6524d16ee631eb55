package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/internal/httpclient"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/yubico"
)

// server is one Run: the Service, its HTTP server, the hook queue and the
// Sync loop.
type server struct {
	cfg    Config
	log    *slog.Logger
	m      *metrics
	svc    *fulfillment.Service
	store  fulfillment.Store
	item   fulfillment.Item // the Service's Config.Defaults (the console's order form shows it)
	okta   *okta.Client
	yubico *yubico.Client // nil: order-only
	queue  *hookQueue
	demo   *demo // nil with an org
	// console is the web console mounted at "/" (nil: off).
	console http.Handler
	// certs serves the TLS certificate (nil: plain HTTP).
	certs *certReloader

	draining chan struct{} // closed when shutdown begins
	// hookPending is set while serve registers its event hook at Okta
	// (Config.RegisterHook): /readyz fails until Okta delivers to it.
	hookPending atomic.Bool
	// consoleDone is the console's Config.Done: closed (once, by
	// stopConsole) when the HTTP server shuts down, so that open event
	// streams end instead of holding up Shutdown.
	consoleDone chan struct{}
	stopConsole func()
}

// Run runs the service until ctx ends, then shuts down gracefully within
// Config.ShutdownTimeout: it stops taking event hook deliveries (new ones
// are answered 503 or refused), records the events already accepted, lets
// the Sync steps under way finish (fulfillment's Drain), and closes the
// store. Steps still running at the deadline are abandoned (their context
// is cancelled; each step's recorded intent says what may have happened)
// and their leases shortened to Config.AbandonGrace, so that the next
// instance resumes them soon. Run returns nil after a graceful shutdown,
// or the error that stopped it.
func Run(ctx context.Context, cfg Config) (err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return err
	}
	s := &server{cfg: cfg, log: cfg.Logger, draining: make(chan struct{}), consoleDone: make(chan struct{})}
	s.stopConsole = sync.OnceFunc(func() { close(s.consoleDone) })
	s.m = newMetrics(func() float64 {
		if s.queue == nil {
			return 0
		}
		return float64(s.queue.len())
	})
	var closers []func()
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("serve: listen on %s: %w", cfg.Listen, err)
	}
	closers = append(closers, func() { ln.Close() })
	scheme := "http://"
	if cfg.TLSCertFile != "" {
		if s.certs, err = newCertReloader(cfg.TLSCertFile, cfg.TLSKeyFile, cfg.tlsNow, s.log); err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
		s.m.watchCertificate(func() time.Time {
			// As a handshake would: a renewal shows even while every
			// client resumes a session or keeps its connection.
			c, _ := s.certs.GetCertificate(nil)
			return c.Leaf.NotAfter
		})
		scheme = "https://"
	}
	base := cfg.PublicURL
	if base == "" {
		base = scheme + ln.Addr().String()
	}

	fcfg := cfg.fulfillmentSettings() // as Config.Check checked them
	if cfg.StoreBackend != nil {
		fcfg.Store = cfg.StoreBackend
	} else if cfg.Store != "" {
		db, err := fulfillment.OpenSQLite(ctx, cfg.Store)
		if err != nil {
			return fmt.Errorf("serve: store: %w", err)
		}
		closers = append(closers, func() {
			if err := db.Close(); err != nil {
				s.log.Error("serve: closing the store", "error", err.Error())
			}
		})
		fcfg.Store = db
	} else {
		fcfg.Store = fulfillment.NewMemoryStore()
	}
	s.store = fcfg.Store
	if cfg.Demo() {
		d, err := startDemo(s, fcfg)
		if err != nil {
			return err
		}
		closers = append(closers, d.close)
		s.demo, s.svc, s.okta, s.yubico, s.item = d, d.world.Service, d.world.OktaClient, d.world.YubicoClient, d.item
	} else {
		s.item = fcfg.Defaults
		if err := s.connect(&fcfg); err != nil {
			return err
		}
		if s.svc, err = fulfillment.New(fcfg); err != nil {
			return fmt.Errorf("serve: %w", err)
		}
	}
	if s.console, err = s.newConsole(base); err != nil {
		return err
	}
	closers = append(closers, s.stopConsole)
	s.queue = newHookQueue(s.svc, s.m, s.log, cfg.HookQueue, s.svc.Wake)
	s.queue.done = cfg.eventDone
	s.queue.catchUp = cfg.CatchUpEnabled()
	_, checker := s.store.(fulfillment.EventChecker)
	s.queue.marksFirst = !checker

	srv := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: log.New(newHTTPErrorLog(s.log, cfg.tlsNow), "", 0),
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) }}
	srv.RegisterOnShutdown(s.stopConsole)
	serveErr := make(chan error, 1)
	s.hookPending.Store(s.demo == nil && cfg.RegisterHook)
	if s.certs != nil {
		// ServeTLS adds HTTP/2 to NextProtos.
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: s.certs.GetCertificate}
		go func() { serveErr <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { serveErr <- srv.Serve(ln) }()
	}

	// Work runs on its own context: it ends at the shutdown deadline, not
	// at the signal.
	work, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()
	s.queue.start(work, cfg.HookWorkers)
	var loops sync.WaitGroup
	syncing := s.yubico != nil
	if syncing {
		// The Service's Run, with serve's options (runOptions).
		loops.Go(func() { s.syncLoop(work) })
	} else {
		s.log.Warn("serve: no Yubico token: order-only (events are recorded; another program on this store runs Sync)")
	}
	loops.Go(func() { s.probeLoop(work) })
	if cfg.CatchUpEnabled() {
		loops.Go(func() { s.catchUpLoop(work) })
	}
	if s.demo != nil {
		if err := s.demo.begin(work, base+cfg.HookPath); err != nil {
			srv.Close()
			return err
		}
	} else if cfg.RegisterHook {
		if err := s.registerHook(ctx, s.okta, base+cfg.HookPath, cfg.HookSecret); err != nil {
			srv.Close()
			return err
		}
		s.hookPending.Store(false)
	} else {
		s.log.Info("serve: event hook not registered by serve: set it up in the Okta Admin Console", "url", base+cfg.HookPath)
	}
	s.log.Info("serve: listening", "url", base, "hook", base+cfg.HookPath, "demo", cfg.Demo(), "syncing", syncing, "console", s.console != nil,
		"syncInterval", cfg.SyncInterval.String(), "syncJitter", cfg.SyncJitter.String(), "catchUpInterval", max(cfg.CatchUpInterval, 0).String())
	if cfg.Stdout != nil {
		s.banner(base)
	}
	if cfg.started != nil {
		cfg.started(s)
	}
	if cfg.OnListen != nil {
		cfg.OnListen(base)
	}

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		abandon()
		loops.Wait()
		return fmt.Errorf("serve: HTTP server: %w", err)
	}
	return s.shutdown(srv, abandon, &loops)
}

// shutdown stops in order: hooks, the queue, Sync; then abandons what is
// left at the deadline.
func (s *server) shutdown(srv *http.Server, abandon context.CancelFunc, loops *sync.WaitGroup) error {
	start := time.Now()
	s.log.Info("serve: shutting down", "deadline", s.cfg.ShutdownTimeout.String())
	close(s.draining)
	deadline, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if s.demo != nil {
		s.demo.stop()
	}
	if err := srv.Shutdown(deadline); err != nil {
		s.log.Warn("serve: requests still running at the shutdown deadline: closing their connections", "error", err.Error())
		srv.Close()
	}
	s.queue.close()
	s.svc.Drain()
	done := make(chan struct{})
	go func() {
		s.queue.wait()
		loops.Wait()
		close(done)
	}()
	abandoned := false
	select {
	case <-done:
	case <-deadline.Done():
		abandoned = true
		s.log.Warn("serve: shutdown deadline passed: abandoning the steps still running")
		abandon()
		<-done
	}
	abandon()
	// The leases of abandoned steps are shortened to AbandonGrace, and
	// this instance's Sync claims dropped: the other instances on the
	// store (or this one restarted) take its records at their next pass.
	rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if n, err := s.svc.ReleaseLeases(rctx, s.cfg.AbandonGrace); err != nil {
		s.log.Error("serve: releasing leases", "error", err.Error())
	} else {
		s.log.Info("serve: leases shortened and claims released", "records", n, "grace", s.cfg.AbandonGrace.String())
	}
	s.log.Info("serve: stopped", "took", time.Since(start).Round(time.Millisecond).String(), "abandoned", abandoned)
	return nil
}

// connect makes the clients of the configured org and Yubico account,
// instrumented.
func (s *server) connect(fcfg *fulfillment.Config) error {
	cfg := s.cfg
	oktaHC := s.httpClient(vendorOkta, oktaRoutes, false, nil)
	oc, err := okta.NewClient(cfg.OktaOrg, cfg.OktaToken.Reveal(), append([]okta.Option{
		okta.WithHTTPClient(oktaHC), okta.WithClock(waitClock{s.m, vendorOkta}), okta.WithUserAgent("preenroll-serve"),
	}, cfg.OktaOptions...)...)
	if err != nil {
		return fmt.Errorf("%w: Okta: %w", ErrConfig, err)
	}
	s.okta, fcfg.Okta = oc, oc
	s.m.expect(vendorOkta)
	if cfg.SystemLogOptions != nil {
		// Its own token (okta.logs.read): its refusals do not judge the
		// API credentials for /readyz.
		hc := s.httpClient(vendorOkta, oktaRoutes, false, nil)
		hc.Transport.(*transport).otherCredentials = true
		lc, err := okta.NewClient(cfg.OktaOrg, cfg.OktaToken.Reveal(), slices.Concat([]okta.Option{
			okta.WithHTTPClient(hc), okta.WithClock(waitClock{s.m, vendorOkta}), okta.WithUserAgent("preenroll-serve"),
		}, cfg.OktaOptions, cfg.SystemLogOptions)...)
		if err != nil {
			return fmt.Errorf("%w: Okta (System Log): %w", ErrConfig, err)
		}
		fcfg.SystemLog = lc
	}
	if cfg.YubicoToken == "" {
		return nil
	}
	opts := []yubico.Option{yubico.WithHTTPClient(s.httpClient(vendorYubico, yubicoRoutes, true, nil)),
		yubico.WithClock(waitClock{s.m, vendorYubico}), yubico.WithUserAgent("preenroll-serve")}
	if cfg.YubicoJWKS != "" {
		opts = append(opts, yubico.WithJWKSBaseURL(cfg.YubicoJWKS))
	}
	yc, err := yubico.NewClient(cfg.YubicoAPI, cfg.YubicoToken.Reveal(), append(opts, cfg.YubicoOptions...)...)
	if err != nil {
		return fmt.Errorf("%w: Yubico: %w", ErrConfig, err)
	}
	s.yubico, fcfg.Yubico = yc, yc
	s.m.expect(vendorYubico)
	return nil
}

// httpClient returns an HTTP client whose transport counts and times every
// request (over base, default httpclient.DefaultTransport()).
func (s *server) httpClient(vendor string, rs []route, suffix bool, base http.RoundTripper) *http.Client {
	if base == nil {
		base = httpclient.DefaultTransport()
	}
	return &http.Client{Timeout: s.cfg.HTTPTimeout,
		Transport: &transport{m: s.m, vendor: vendor, routes: rs, suffix: suffix, base: base, now: time.Now}}
}

// remoteWakeJitter bounds the random delay before another instance's
// order wakes the Sync loop (Config.SyncJitter if shorter).
const remoteWakeJitter = time.Second

// maxSyncBackoff caps the wait between failing Sync passes (see syncLoop).
const maxSyncBackoff = time.Minute

// syncLoop runs the Service's Run (fulfillment.Service.RunWith) until ctx
// ends or the Service drains, with runOptions.
func (s *server) syncLoop(ctx context.Context) {
	err := s.svc.RunWith(ctx, s.runOptions(ctx))
	if err != nil && !errors.Is(err, fulfillment.ErrDraining) && ctx.Err() == nil {
		s.log.Error("serve: the Sync loop stopped", "error", err.Error())
	}
}

// runOptions are the Sync loop's: a pass at once, then every SyncInterval
// plus a random extra of up to SyncJitter, and when woken. While passes
// fail (the store cannot be read: the database is down), the wait doubles
// after each failed pass, up to maxSyncBackoff (or SyncInterval if
// longer), so that an outage costs a few log lines and no busy loop; the
// first pass that succeeds restores the interval.
//
// An order this instance recorded (the console's Order and OrderBatch,
// the hook's events, Retry) starts a pass at once: Okta's event for a
// console order may never reach this instance. An order another instance
// recorded (from the store's change feed: pgstore's) starts one after a
// random delay of up to remoteWakeJitter (SyncJitter if shorter; at once
// with none): an order-only instance runs no pass, and the syncing ones
// would otherwise leave its orders to their next interval. Every syncing
// instance then starts a pass for such orders; the delay spreads their
// starts, their claims give the new record to one of them and the others'
// passes find it taken, a cost of one pass each that the delayed wake
// coalesces (an order batch wakes a busy loop once, not once per order).
//
// Each pass is counted in the metrics, and after one that succeeds the
// keys are counted; a failed pass leaves the gauges at the last counts (a
// second read would fail the same way).
func (s *server) runOptions(ctx context.Context) fulfillment.RunOptions {
	remote := min(remoteWakeJitter, s.cfg.SyncJitter)
	if remote <= 0 {
		remote = -1 // at once
	}
	return fulfillment.RunOptions{
		Interval: s.cfg.SyncInterval, Jitter: s.cfg.SyncJitter, MaxBackoff: maxSyncBackoff,
		RemoteWakeDelay: remote, Rand: s.cfg.syncRand, Stop: s.draining,
		OnPass: func(p fulfillment.RunPass) {
			s.m.observeSync(p.Took, p.Report, p.Err)
			if p.Err != nil || ctx.Err() != nil {
				return
			}
			if err := s.m.countKeys(ctx, s.store); err != nil && ctx.Err() == nil {
				s.log.Warn("serve: counting keys", "error", err.Error())
			}
		},
	}
}

// pause waits for d or a value on wake; it reports false, at once, when
// ctx ends or shutdown begins.
func (s *server) pause(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-s.draining:
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}

// probeLoop asks Okta and Yubico something cheap when nothing else did
// for half the ready window, so /readyz tells whether they answer.
func (s *server) probeLoop(ctx context.Context) {
	every := s.cfg.ReadyWindow / 3
	for {
		for vendor, probe := range s.probes() {
			var err error
			if time.Since(s.m.reachedAt(vendor)) >= s.cfg.ReadyWindow/2 {
				pctx, cancel := context.WithTimeout(ctx, s.cfg.HTTPTimeout)
				if err = probe(pctx); err != nil && ctx.Err() == nil {
					s.log.Warn("serve: probe failed", "vendor", vendor, "error", err.Error())
				}
				cancel()
			}
			if s.cfg.probed != nil {
				s.cfg.probed(vendor, err)
			}
		}
		if !s.pause(ctx, every, nil) {
			return
		}
	}
}

// probes are the cheap calls probeLoop makes: Okta's OpenID configuration
// (no token needed) and Yubico's country list.
func (s *server) probes() map[string]func(context.Context) error {
	p := map[string]func(context.Context) error{
		vendorOkta: func(ctx context.Context) error { _, err := s.okta.Issuer(ctx); return err },
	}
	if s.yubico != nil {
		p[vendorYubico] = func(ctx context.Context) error { _, err := s.yubico.Countries(ctx); return err }
	}
	return p
}

// HookName is the name serve gives its event hook in Okta.
const HookName = "preenroll serve"

// registerHook makes the org have serve's event hook, ACTIVE and VERIFIED
// (okta's EnsureEventHook: safe from several instances at once); the
// server must already be answering, as Okta verifies the URL.
func (s *server) registerHook(ctx context.Context, c *okta.Client, hookURL string, secret okta.Secret) error {
	rctx, cancel := context.WithTimeout(ctx, 2*s.cfg.HTTPTimeout)
	defer cancel()
	h, err := c.EnsureEventHook(rctx, okta.EventHook{
		Name:   HookName,
		Events: okta.EventSubscriptions{Items: []string{okta.EventTypePreregisterInitiate}},
		Channel: okta.EventHookChannel{Config: okta.EventHookChannelConfig{URI: hookURL,
			AuthScheme: &okta.EventHookAuthScheme{Key: "Authorization", Value: secret}}},
	})
	if err != nil {
		return fmt.Errorf("serve: register the event hook %s at Okta: %w", hookURL, err)
	}
	s.log.Info("serve: event hook registered", "id", h.ID, "url", hookURL, "status", string(h.Status), "verification", string(h.VerificationStatus))
	return nil
}

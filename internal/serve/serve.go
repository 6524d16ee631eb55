package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"math/rand/v2"
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

	kick chan struct{}
	// remoteWake is set while a delayed wake for another instance's order
	// waits (see wakeRemote).
	remoteWake atomic.Bool
	draining   chan struct{} // closed when shutdown begins
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
	s := &server{cfg: cfg, log: cfg.Logger, kick: make(chan struct{}, 1), draining: make(chan struct{}), consoleDone: make(chan struct{})}
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
	s.queue = newHookQueue(s.svc, s.m, s.log, cfg.HookQueue, s.wake)
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
		// A new order recorded by this instance (the console's Order and
		// OrderBatch, the hook's events, Retry) starts a pass at once:
		// Service.Order wakes only Service.Run, which serve does not use,
		// and Okta's event for a console order may never reach this
		// instance. Only StepInitiated wakes the loop, a step each order
		// passes once (a pass that re-sends an interrupted initiate makes
		// one more), so a pass cannot keep waking itself.
		//
		// An order another instance recorded (c.Remote, from the store's
		// change feed: pgstore's) wakes it too, after a random delay of
		// up to 1 s: an order-only instance runs no pass, and the syncing
		// ones would otherwise leave its orders to their next interval.
		// Every syncing instance then starts a pass for such orders; the
		// delay spreads their starts, their claims give the new record to
		// one of them and the others' passes find it taken, a cost of one
		// pass each that the delayed wake and the wake channel coalesce
		// (an order batch wakes a busy loop once, not once per order). A
		// Resync (the feed restarted) wakes nothing: the orders it may
		// have missed wait for the next interval, as they did before the
		// feed.
		stopWatch := s.svc.Subscribe(work, s.recordChanged)
		defer stopWatch()
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

// recordChanged is the Subscribe callback of a syncing instance: a new
// order wakes the Sync loop (see Run), at once if this instance recorded
// it, after a random delay (wakeRemote) if another one did.
func (s *server) recordChanged(c fulfillment.RecordChange) {
	switch {
	case c.Step != fulfillment.StepInitiated:
	case c.Remote:
		s.wakeRemote()
	default:
		s.wake()
	}
}

// wakeRemote wakes the Sync loop after a random delay of up to
// remoteWakeJitter (SyncJitter if shorter; at once with none), unless a
// delayed wake already waits: every syncing instance hears another
// instance's order, and without the delay all of them would start their
// pass, and claim the new record, at the same moment. The orders heard
// while a delayed wake waits are coalesced into it (their records are
// stored before it fires, so its pass finds them).
func (s *server) wakeRemote() {
	bound := min(remoteWakeJitter, s.cfg.SyncJitter)
	if bound <= 0 {
		s.wake()
		return
	}
	if !s.remoteWake.CompareAndSwap(false, true) {
		return
	}
	s.cfg.afterFunc(s.cfg.remoteWakeRand(bound), func() {
		s.remoteWake.Store(false) // before the wake: an order heard after it waits anew
		s.wake()
	})
}

// wake starts a Sync pass soon (an order was recorded).
func (s *server) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// syncLoop runs Sync at once, then every SyncInterval plus jitter, and
// when woken, until ctx ends or the Service drains. While passes fail (the
// store cannot be read: the database is down), the wait doubles after
// each failed pass, up to maxSyncBackoff (or SyncInterval if longer), so
// that an outage costs a few log lines and no busy loop; the first pass
// that succeeds restores the interval.
func (s *server) syncLoop(ctx context.Context) {
	failed := 0
	for {
		start := time.Now()
		rep, err := s.svc.Sync(ctx)
		s.m.observeSync(time.Since(start), rep, err)
		if errors.Is(err, fulfillment.ErrDraining) || ctx.Err() != nil {
			return
		}
		if err != nil {
			// The pass could not read the store: the keys are not counted
			// (a second read would fail the same way; the gauges keep the
			// last counts).
			failed++
			s.log.Error("serve: sync pass failed", "error", err.Error(), "failedPasses", failed)
		} else {
			failed = 0
			if err := s.m.countKeys(ctx, s.store); err != nil && ctx.Err() == nil {
				s.log.Warn("serve: counting keys", "error", err.Error())
			}
		}
		wait := syncWait(s.cfg.SyncInterval, failed)
		if s.cfg.SyncJitter > 0 {
			wait += rand.N(s.cfg.SyncJitter)
		}
		if !s.pause(ctx, freedWait(wait, rep, err, time.Now()), s.kick) {
			return
		}
	}
}

// freedWait shortens the wait after a pass that rep and err report to when
// the first record another instance held in it is free
// (fulfillment.SyncReport.FreedAfter): a step abandoned at that
// instance's shutdown, its lease shortened, is taken when the lease ends,
// not a whole interval later.
func freedWait(wait time.Duration, rep fulfillment.SyncReport, err error, now time.Time) time.Duration {
	if d, ok := rep.FreedAfter(now); ok && err == nil && d < wait {
		return d
	}
	return wait
}

// maxSyncBackoff caps the wait between failing Sync passes (see syncLoop).
const maxSyncBackoff = time.Minute

// syncWait is the wait after a pass: interval, doubled for each of the
// failed passes in a row, capped at maxSyncBackoff or interval if longer.
func syncWait(interval time.Duration, failed int) time.Duration {
	limit := max(interval, maxSyncBackoff)
	wait := interval
	for range failed {
		if wait >= limit/2 {
			return limit
		}
		wait *= 2
	}
	return wait
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

package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/preenroll/preenroll/console"
	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/yubico"
)

// The demo's console: an OIDC app at the fake org, and an administrator
// in its admin group.
const (
	demoConsoleClientID = "preenroll-console"
	demoAdminGroup      = "preenroll-admins"
	demoAdminName       = "admin" // admin@example.com
)

// signInHold bounds how long one console sign-in keeps the demo's fake
// clock still (wall time); maxHolds bounds the sign-ins under way.
const (
	signInHold = 2 * time.Minute
	maxHolds   = 100
)

// demo is the embedded default: a fake Okta org and a fake Yubico on one
// fast fake clock (fulfillmenttest's World), seeded users, an
// administrator who orders each user a key in Okta, and users who sign in
// with the key when it arrives. serve itself is the production code: it
// receives the fake org's event hook and runs the World's Service.
type demo struct {
	world  *fulfillmenttest.World
	srv    *server
	log    *slog.Logger
	day    time.Duration
	secret okta.Secret
	logins []string
	item   fulfillment.Item

	// clockMu keeps the fake clock still while a user signs in (a fake
	// day passes in seconds; Okta's sign-in transaction lasts 5 fake
	// minutes). It guards holds.
	clockMu sync.Mutex
	// holds are the console sign-ins under way, each keeping the fake
	// clock still until its callback or its wall deadline: the console's
	// login state (10 min), Okta's code (300 s) and the ID token's
	// iat/exp are all on the fake clock, which otherwise moves hours per
	// tick. Keyed by "login N" until the redirect's state is known, then by
	// "state S".
	holds map[string]time.Time
	admin string        // the seeded console administrator's login
	fails *atomic.Int64 // failures the World reported

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// demoNames are the seeded users (new hires and employees alternate).
var demoNames = []string{"ada", "grace", "alan", "edsger", "barbara", "donald", "frances", "ken", "margaret", "dennis"}

// startDemo starts the fakes and the World's Service on the store, with
// serve's instrumented HTTP clients and logger.
func startDemo(s *server, fcfg fulfillment.Config) (*demo, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("serve: demo: %w", err)
	}
	tb := demoTB{log: s.log, fails: &atomic.Int64{}}
	d := &demo{srv: s, log: s.log, fails: tb.fails, day: s.cfg.DemoDay, secret: okta.Secret("demo-hook-" + hex.EncodeToString(b[:]))}
	var users []fulfillmenttest.User
	for i := range s.cfg.DemoUsers {
		name := demoNames[i%len(demoNames)]
		if i >= len(demoNames) {
			name = fmt.Sprintf("%s%d", name, i/len(demoNames)+1)
		}
		u := fulfillmenttest.Employee(name)
		if i%2 == 0 {
			u = fulfillmenttest.NewHire(name)
		}
		users = append(users, u)
		d.logins = append(d.logins, u.Profile.Login)
	}
	oktaOpts := []oktatest.Option{oktatest.WithoutRateLimits()}
	if s.certs != nil {
		oktaOpts = append(oktaOpts, oktatest.WithHookClient(s.certs.pinnedClient()))
	}
	d.world = fulfillmenttest.New(tb,
		fulfillmenttest.WithoutEventHook(),
		fulfillmenttest.WithStore(fcfg.Store),
		fulfillmenttest.WithUsers(users...),
		fulfillmenttest.WithOkta(oktaOpts...),
		fulfillmenttest.WithOktaClient(okta.WithHTTPClient(s.httpClient(vendorOkta, oktaRoutes, false, nil))),
		fulfillmenttest.WithYubicoClient(yubico.WithHTTPClient(s.httpClient(vendorYubico, yubicoRoutes, true, nil))),
		fulfillmenttest.WithConfig(func(c *fulfillment.Config) {
			c.Logger, c.EventHookSecret = fcfg.Logger, d.secret
			if fcfg.Concurrency != 0 {
				c.Concurrency = fcfg.Concurrency
			}
			if fcfg.Lease != 0 {
				c.Lease = fcfg.Lease
			}
			if len(fcfg.RPIDs) > 0 {
				c.RPIDs = fcfg.RPIDs
			}
			if fcfg.Defaults != (fulfillment.Item{}) {
				c.Defaults = fcfg.Defaults
			}
		}),
	)
	if d.world.Service == nil || len(d.world.Okta.Users()) != len(users) {
		d.world.Close()
		return nil, fmt.Errorf("serve: demo: the fakes did not start (see the log)")
	}
	d.item = d.world.Config.Defaults
	d.holds = map[string]time.Time{}
	return d, nil
}

// consoleConfig registers the console's OIDC app at the fake org (with a
// redirect to base's callback), seeds an administrator in its admin group
// and fills the console's sign-in settings. The console's clock is the
// fake clock (the ID token's times are on it); its sessions last
// DefaultSessionTTL of wall time. It reports false, having logged why,
// when base is not a loopback http address a browser could sign in at.
func (d *demo) consoleConfig(cc *console.Config, base string) (bool, error) {
	redirect := base + console.CallbackPath
	if err := console.CheckRedirectURL(redirect, ""); err != nil {
		d.log.Warn("serve: demo: console off: it needs https or a loopback listen address", "error", err.Error())
		return false, nil
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return false, fmt.Errorf("serve: demo: %w", err)
	}
	secret := okta.Secret(hex.EncodeToString(b[:]))
	if err := d.world.Okta.AddOIDCApp(oktatest.OIDCApp{ClientID: demoConsoleClientID, ClientSecret: secret,
		Name: "preenroll console (demo)", RedirectURIs: []string{redirect}, PKCERequired: true}); err != nil {
		return false, fmt.Errorf("serve: demo: %w", err)
	}
	admin, err := d.world.Okta.AddUser(fulfillmenttest.Profile(demoAdminName), okta.UserActive)
	if err == nil {
		err = d.world.Okta.AddToGroup(d.world.Okta.AddGroup(demoAdminGroup), admin.ID)
	}
	if err != nil {
		return false, fmt.Errorf("serve: demo: console administrator: %w", err)
	}
	d.admin = admin.Profile.Login
	cc.OIDC = console.OIDC{Issuer: d.world.Okta.URL(), ClientID: demoConsoleClientID, ClientSecret: secret,
		RedirectURL: redirect, AdminGroup: demoAdminGroup}
	cc.Clock = d.world.Now
	cc.SessionTTL = d.fakeDuration(console.DefaultSessionTTL)
	cc.BatchRetention = d.fakeDuration(console.DefaultBatchRetention) // else 30 fake days: minutes
	return true, nil
}

// fakeDuration is the fake time that passes in wall time w (capped at a
// century).
func (d *demo) fakeDuration(w time.Duration) time.Duration {
	const century = 100 * 365 * 24 * time.Hour
	f := float64(w) * float64(24*time.Hour) / float64(d.day)
	if f >= float64(century) {
		return century
	}
	return time.Duration(f)
}

// holdClockDuringSignIn wraps the console: GET /auth/login holds the fake
// clock still (before the console reads it) until that sign-in's callback
// has been answered, or signInHold has passed.
func (d *demo) holdClockDuringSignIn(h http.Handler) http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/auth/login":
			key := fmt.Sprintf("login %d", n.Add(1))
			held := d.hold(key)
			h.ServeHTTP(w, r)
			if !held {
				return
			}
			state := ""
			if loc, err := url.Parse(w.Header().Get("Location")); err == nil {
				state = loc.Query().Get("state")
			}
			d.rekeyHold(key, state)
		case console.CallbackPath:
			h.ServeHTTP(w, r)
			if state := r.URL.Query().Get("state"); state != "" {
				d.rekeyHold("state "+state, "")
			}
		default:
			h.ServeHTTP(w, r)
		}
	})
}

// hold keeps the fake clock still under key (after any tick under way);
// it reports false when too many sign-ins are under way.
func (d *demo) hold(key string) bool {
	d.clockMu.Lock()
	defer d.clockMu.Unlock()
	now := time.Now()
	maps.DeleteFunc(d.holds, func(_ string, until time.Time) bool { return !now.Before(until) })
	if len(d.holds) >= maxHolds {
		d.log.Warn("serve: demo: too many console sign-ins under way: this one does not hold the fake clock")
		return false
	}
	d.holds[key] = now.Add(signInHold)
	return true
}

// rekeyHold moves the hold under key to "state "+state, or releases it
// when state is empty.
func (d *demo) rekeyHold(key, state string) {
	d.clockMu.Lock()
	defer d.clockMu.Unlock()
	until, ok := d.holds[key]
	delete(d.holds, key)
	if ok && state != "" {
		d.holds["state "+state] = until
	}
}

// heldLocked reports whether a sign-in holds the fake clock (clockMu
// held).
func (d *demo) heldLocked() bool {
	now := time.Now()
	for _, until := range d.holds {
		if now.Before(until) {
			return true
		}
	}
	return false
}

// begin registers serve's event hook at the fake org and starts the fake
// clock, the administrator and the users.
func (d *demo) begin(ctx context.Context, hookURL string) error {
	if err := d.srv.registerHook(ctx, d.world.OktaClient, hookURL, d.secret); err != nil {
		return err
	}
	ctx, d.cancel = context.WithCancel(ctx)
	d.wg.Go(func() { d.runClock(ctx) })
	d.wg.Go(func() { d.runPeople(ctx) })
	return nil
}

// runClock moves the fake time one fake day per d.day of wall time, in
// ticks, except while a console sign-in holds it.
func (d *demo) runClock(ctx context.Context) {
	tick := d.srv.cfg.demoTick
	step := d.fakeDuration(tick)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.clockMu.Lock()
			moved := !d.heldLocked()
			if moved {
				d.world.Advance(step)
			}
			d.clockMu.Unlock()
			if f := d.srv.cfg.demoTicked; f != nil {
				f(moved)
			}
		}
	}
}

// runPeople orders a key for one user per tick of the administrator (in
// Okta, as from the Admin Console: the event reaches serve through its
// hook), and signs each user in once their key has arrived.
func (d *demo) runPeople(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	next := 0
	signedIn := map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if next < len(d.logins) {
			u := d.world.User(d.logins[next])
			err := d.world.OktaClient.InitiateFulfillment(ctx, okta.FulfillmentRequest{UserID: u.ID,
				FulfillmentData: okta.FulfillmentData{{ProductID: d.item.ProductID,
					InventoryProductID: d.item.InventoryProductID, CustomizationID: d.item.CustomizationID}}})
			if err != nil && ctx.Err() == nil {
				d.log.Warn("serve: demo: the administrator's order failed", "user", u.Profile.Login, "error", err.Error())
			} else if err == nil {
				d.log.Info("serve: demo: an administrator ordered a key in Okta", "user", u.Profile.Login)
				next++
			}
		}
		recs, err := d.world.Config.Store.List(ctx, fulfillment.Query{Statuses: []fulfillment.Status{fulfillment.Shipped}})
		if err != nil {
			continue
		}
		for _, r := range recs {
			if signedIn[r.UserID] {
				continue
			}
			if sh, ok := d.world.Yubico.FPRShipment(r.ShipmentID); !ok || sh.State.ID != yubico.StateDelivered {
				continue // not at the door yet
			}
			if d.signIn(ctx, r.UserID) {
				signedIn[r.UserID] = true
				d.log.Info("serve: demo: the user unpacked the key and signed in", "user", r.Login)
			}
		}
	}
}

// signIn takes the user's key out of its parcel and signs in with it and
// the emailed PIN, with the fake clock held still; it reports success.
func (d *demo) signIn(ctx context.Context, userID string) bool {
	d.clockMu.Lock()
	defer d.clockMu.Unlock()
	before := d.fails.Load()
	key := d.world.Parcel(ctx, userID)
	if key == nil {
		return false
	}
	d.world.SignIn(ctx, userID, key, d.world.PIN(userID))
	return d.fails.Load() == before
}

// stop stops the clock and the people (shutdown begins).
func (d *demo) stop() {
	if d.cancel != nil {
		d.cancel()
	}
	d.wg.Wait()
}

func (d *demo) close() {
	d.stop()
	d.world.Close()
}

// demoTB reports the World's failures to the log; the failing World method
// returns zero values and the demo carries on.
type demoTB struct {
	log   *slog.Logger
	fails *atomic.Int64
}

func (demoTB) Helper() {}

func (t demoTB) Fatalf(format string, args ...any) {
	t.fails.Add(1)
	t.log.Warn("serve: demo: " + fmt.Sprintf(format, args...))
}

package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/yubico"
)

// demoTick is how often the demo's fake clock moves (wall time).
const demoTick = 100 * time.Millisecond

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
	// minutes).
	clockMu sync.Mutex
	fails   *atomic.Int64 // failures the World reported

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
	d.world = fulfillmenttest.New(tb,
		fulfillmenttest.WithoutEventHook(),
		fulfillmenttest.WithStore(fcfg.Store),
		fulfillmenttest.WithUsers(users...),
		fulfillmenttest.WithOkta(oktatest.WithoutRateLimits()),
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
	return d, nil
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

// runClock moves the fake time one fake day per d.day of wall time.
func (d *demo) runClock(ctx context.Context) {
	step := time.Duration(float64(24*time.Hour) * float64(demoTick) / float64(d.day))
	t := time.NewTicker(demoTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.clockMu.Lock()
			d.world.Advance(step)
			d.clockMu.Unlock()
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

package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
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
	log    *slog.Logger
	day    time.Duration
	secret string
	logins []string
	item   fulfillment.Item

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
	d := &demo{log: s.log, day: s.cfg.DemoDay, secret: "demo-hook-" + hex.EncodeToString(b[:])}
	tb := demoTB{log: s.log}
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
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := d.world.Okta.AddEventHook(rctx, hookURL, d.secret, oktatest.EventPreregisterInitiate); err != nil {
		return fmt.Errorf("serve: demo: register the event hook at the fake org: %w", err)
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
			d.world.Advance(step)
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
			if signedIn[r.UserID] || r.ShipmentState != yubico.StateDelivered {
				continue
			}
			key := d.world.Parcel(ctx, r.UserID)
			if key == nil {
				continue
			}
			d.world.SignIn(ctx, r.UserID, key, d.world.PIN(r.UserID))
			signedIn[r.UserID] = true
			d.log.Info("serve: demo: the user unpacked the key and signed in", "user", r.Login)
		}
	}
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
type demoTB struct{ log *slog.Logger }

func (demoTB) Helper() {}

func (t demoTB) Fatalf(format string, args ...any) {
	t.log.Warn("serve: demo: " + fmt.Sprintf(format, args...))
}

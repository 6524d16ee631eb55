package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// demoLogin is the user ordered for on the fakes when -user is not given.
const demoLogin = "demo.user@example.com"

// maxProfileFile bounds -profile.
const maxProfileFile = 1 << 20

func init() {
	Register(&Command{
		Name:    "order",
		Summary: "order a pre-enrolled YubiKey for one Okta user",
		MaxArgs: 0,
		Doc: `Orders a pre-enrolled YubiKey for one Okta user (-user, an ID or login): checks
the item and the user's Okta profile as a shipping address (every problem is
listed), checks that the user has no key in fulfillment, in the store and in
Okta's enrollment list, and sends Okta's initiate-fulfillment-request. The
service (Service.Run, or preenroll sync) enrolls the key and creates the
Yubico shipment. Ordering talks only to Okta.

With -store the order is recorded in the SQLite file the service shares, so a
second order for a user whose key is in fulfillment is refused before Okta is
asked. Without it the record lives in memory; Okta's enrollment list is still
checked, which catches every key the service has enrolled (an order sent but
not yet enrolled is visible only in the store).

Without -okta-org it runs on in-process fakes, seeding the user (or
demo.user@example.com) with a valid US address, or with the Okta profile in
-profile FILE. The fakes start empty on every run (the user gets a new ID),
so there a -store does not refuse a second order.

Exit codes: 0 ordered, 1 not ordered, 2 bad usage.`,
		Run: runOrder,
	})
}

// runOrder orders for one user.
func runOrder(ctx context.Context, inv *Invocation) int {
	cfg := inv.Config
	var seeded okta.User
	var seed func(*oktatest.Server) error
	var seedErr error // the fake org's refusal of the seeded user
	if cfg.Fake() {
		p, err := seedProfile(cfg)
		if err != nil {
			inv.errorf("%v", err)
			return ExitFailed
		}
		seed = func(srv *oktatest.Server) error {
			seeded, seedErr = srv.AddUser(p, okta.UserStatus(cfg.SeedStatus))
			return seedErr
		}
	}
	b, err := openBackend(ctx, inv, false, seed)
	if err != nil {
		if seedErr != nil {
			// The fresh fake org refused the user the flags describe (a
			// login that is not an email address, a -profile missing
			// what Okta requires): say which flag, not the fake's call.
			from := fmt.Sprintf("-user %q", cfg.User) // %q escapes control characters
			if cfg.ProfileFile != "" {
				from = "-profile " + cfg.ProfileFile
			}
			inv.errorf("%s: the in-process fake org cannot seed this user: %s", from,
				safe(seedProblem(seedErr)))
			return ExitFailed
		}
		report(ctx, inv.Stderr, "preenroll order", err)
		return ExitFailed
	}
	defer b.Close()
	user := cfg.User
	if b.fakeOkta != nil {
		user = seeded.Profile.Login
		fmt.Fprintf(inv.Stdout, "in-process fakes: Okta %s, Yubico %s; seeded %s user %s (%s)\n",
			b.fakeOkta.URL(), b.fakeYubico.URL(), seeded.Status, safe(seeded.Profile.Login), seeded.ID)
	}
	// Ordering calls only Okta: the Service needs no Yubico client.
	svc, err := b.service(inv, nil)
	if err != nil {
		report(ctx, inv.Stderr, "preenroll order", err)
		return ExitFailed
	}
	rec, err := svc.Order(ctx, user, cfg.Item)
	if err != nil {
		report(ctx, inv.Stderr, "preenroll order", err)
		return ExitFailed
	}
	fmt.Fprintf(inv.Stdout, "ordered a YubiKey for %s (%s): %s\n", safe(rec.Login), rec.UserID, rec.Status.Label())
	fmt.Fprintf(inv.Stdout, "  item: product %s, inventory %s, customization %s; relying party %s\n",
		cfg.Item.ProductID, cfg.Item.InventoryProductID, cfg.Item.CustomizationID, strings.Join(b.rpIDs, ", "))
	fmt.Fprintf(inv.Stdout, "  Okta listed no key of this user in fulfillment, accepted initiate-fulfillment-request\n"+
		"  and emits %s; the service (Service.Run with its event hook,\n"+
		"  or preenroll sync) enrolls the key and creates the Yubico shipment.\n", okta.EventTypePreregisterInitiate)
	if cfg.Store == "" {
		fmt.Fprintf(inv.Stdout, "  Without -store this order is recorded nowhere but at Okta: order again only after\n"+
			"  the service has enrolled the key (Okta then refuses a second one).\n")
	}
	return ExitOK
}

// seedProfile is the profile of the user seeded on the fakes: -profile's
// (with -user, if given, as its login), or a valid US address for -user or
// the demo user.
func seedProfile(cfg *Config) (okta.Profile, error) {
	if cfg.ProfileFile == "" {
		login := cmp.Or(cfg.User, demoLogin)
		local, _, _ := strings.Cut(login, "@")
		return okta.Profile{
			Login: login, Email: login, SecondEmail: local + "@home.example.net",
			FirstName: "Demo", LastName: "User", Organization: "Example Inc.", PrimaryPhone: "+1 781 555 0142",
			StreetAddress: "7788 Foxrun Street", City: "Dedham", State: "MA", ZipCode: "02026", CountryCode: "US",
		}, nil
	}
	data, err := readBounded(cfg.ProfileFile, maxProfileFile)
	if err != nil {
		return okta.Profile{}, fmt.Errorf("-profile: %w", err)
	}
	var p okta.Profile
	if err := json.Unmarshal(data, &p); err != nil {
		return okta.Profile{}, fmt.Errorf("-profile %s: not an Okta profile JSON object: %w", cfg.ProfileFile, err)
	}
	p.Login = cmp.Or(cfg.User, p.Login, demoLogin)
	return p, nil
}

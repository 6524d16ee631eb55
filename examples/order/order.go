package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// fakeRPID is the relying-party ID of the fake org.
const fakeRPID = "example.okta.com"

// backend is where the order goes: the Okta client, and what to close
// afterwards.
type backend struct {
	okta  *okta.Client
	rpID  string
	user  string // the user to order for
	close func()
}

// order checks the item, connects and orders.
func order(ctx context.Context, cfg config, stdout io.Writer) error {
	item := fulfillment.Item{ProductID: cfg.product, InventoryProductID: cfg.inventory, CustomizationID: cfg.customization}
	var b backend
	var err error
	if cfg.org == "" {
		b, err = startFakes(cfg, stdout)
	} else {
		b, err = connect(cfg)
	}
	if err != nil {
		return err
	}
	defer b.close()
	var store fulfillment.Store = fulfillment.NewMemoryStore()
	if cfg.stateFile != "" {
		db, err := fulfillment.OpenSQLite(ctx, cfg.stateFile)
		if err != nil {
			return fmt.Errorf("-state: %w", err)
		}
		defer db.Close()
		store = db
	}
	// Ordering calls only Okta: the Service needs no Yubico client (the
	// fulfillment service, running Sync, has one).
	svc, err := fulfillment.New(fulfillment.Config{
		Okta: b.okta, Store: store, RPIDs: []string{b.rpID}, Logger: cfg.logger,
	})
	if err != nil {
		return err
	}
	rec, err := svc.Order(ctx, b.user, item)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ordered a YubiKey for %s (%s): %s\n", rec.Login, rec.UserID, rec.Status.Label())
	fmt.Fprintf(stdout, "  item: product %s, inventory %s, customization %s; relying party %s\n",
		item.ProductID, item.InventoryProductID, item.CustomizationID, b.rpID)
	fmt.Fprintf(stdout, "  Okta accepted initiate-fulfillment-request and emits %s; the fulfillment service\n"+
		"  (Service.Run with its event hook) enrolls the key and creates the Yubico shipment.\n", oktatest.EventPreregisterInitiate)
	return nil
}

// connect makes the Okta client for a real org.
func connect(cfg config) (backend, error) {
	oc, err := okta.NewClient(cfg.org, cfg.token)
	if err != nil {
		return backend{}, err
	}
	rp := cfg.rpID
	if rp == "" {
		u, err := url.Parse(oc.OrgURL())
		if err != nil {
			return backend{}, err
		}
		rp = u.Hostname()
	}
	return backend{okta: oc, rpID: rp, user: cfg.user, close: func() {}}, nil
}

// startFakes starts a fake Okta org and a fake Yubico and seeds the user.
func startFakes(cfg config, stdout io.Writer) (backend, error) {
	p, err := seedProfile(cfg)
	if err != nil {
		return backend{}, err
	}
	ysrv, err := yubicotest.Start()
	if err != nil {
		return backend{}, err
	}
	osrv, err := oktatest.Start(oktatest.WithNow(ysrv.Now()), oktatest.WithAttestationRoots(ysrv.FIDOCA().Root()))
	if err != nil {
		ysrv.Close()
		return backend{}, err
	}
	closeAll := func() { osrv.Close(); ysrv.Close() }
	u, err := osrv.AddUser(p, okta.UserStatus(cfg.seedStatus))
	if err != nil {
		closeAll()
		return backend{}, err
	}
	oc, err := osrv.Client()
	if err != nil {
		closeAll()
		return backend{}, err
	}
	rp := cfg.rpID
	if rp == "" {
		rp = fakeRPID
	}
	fmt.Fprintf(stdout, "in-process fakes: Okta %s, Yubico %s; seeded %s user %s (%s)\n",
		osrv.URL(), ysrv.URL(), u.Status, u.Profile.Login, u.ID)
	return backend{okta: oc, rpID: rp, user: u.Profile.Login, close: closeAll}, nil
}

// maxProfileFile bounds -profile.
const maxProfileFile = 1 << 20

// seedProfile is the profile of the user seeded in fake mode: -profile's
// (with -user, if given, as its login), or a valid US address for -user
// or the demo user.
func seedProfile(cfg config) (okta.Profile, error) {
	if cfg.profileFile == "" {
		login := cmp.Or(cfg.user, demoLogin)
		local, _, _ := strings.Cut(login, "@")
		return okta.Profile{
			Login: login, Email: login, SecondEmail: local + "@home.example.net",
			FirstName: "Demo", LastName: "User", Organization: "Example Inc.", PrimaryPhone: "+1 781 555 0142",
			StreetAddress: "7788 Foxrun Street", City: "Dedham", State: "MA", ZipCode: "02026", CountryCode: "US",
		}, nil
	}
	f, err := os.Open(cfg.profileFile)
	if err != nil {
		return okta.Profile{}, fmt.Errorf("-profile: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxProfileFile+1))
	if err != nil {
		return okta.Profile{}, fmt.Errorf("-profile: %w", err)
	}
	if len(data) > maxProfileFile {
		return okta.Profile{}, fmt.Errorf("-profile %s: larger than %d bytes", cfg.profileFile, maxProfileFile)
	}
	var p okta.Profile
	if err := json.Unmarshal(data, &p); err != nil {
		return okta.Profile{}, fmt.Errorf("-profile %s: not an Okta profile JSON object: %w", cfg.profileFile, err)
	}
	p.Login = cmp.Or(cfg.user, p.Login, demoLogin)
	return p, nil
}

// report prints why the order failed: every field problem on its own
// line, Okta errors with status, errorCode and summary.
func report(w io.Writer, err error) {
	var ve *fulfillment.ValidationError
	var ae *okta.APIError
	switch {
	case errors.As(err, &ve):
		what := "the order is invalid"
		if errors.Is(err, fulfillment.ErrInvalidShipping) {
			what = "the user's Okta profile cannot be shipped to"
		}
		fmt.Fprintf(w, "order: %s (%d problems):\n", what, len(ve.Fields))
		for _, f := range ve.Fields {
			fmt.Fprintf(w, "  %s\n", f)
		}
	case errors.As(err, &ae):
		fmt.Fprintf(w, "order: Okta refused (%s): HTTP %d %s: %s\n", ae.Op, ae.StatusCode, ae.ErrorCode, ae.ErrorSummary)
		for _, c := range ae.Causes {
			fmt.Fprintf(w, "  cause: %s\n", c.ErrorSummary)
		}
		if ae.RequestID != "" {
			fmt.Fprintf(w, "  Okta request ID: %s\n", ae.RequestID)
		}
	case errors.Is(err, fulfillment.ErrOrderInFlight):
		fmt.Fprintf(w, "order: not ordered: %v\n", err)
	default:
		fmt.Fprintf(w, "order: %v\n", err)
	}
}

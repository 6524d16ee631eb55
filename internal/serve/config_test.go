package serve

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
)

// TestCheckHookPath: CheckHookPath refuses what Run refuses at start (a
// relative path, a query, fragment or space, serve's own endpoints), with
// the same words in Run's configuration error.
func TestCheckHookPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ path, want string }{
		{"/hooks/okta", ""},
		{"/okta/events", ""},
		{"hooks/okta", "want an absolute path like /hooks/okta"},
		{"/hooks/okta?x=1", "want an absolute path like /hooks/okta"},
		{"/hooks okta", "want an absolute path like /hooks/okta"},
		{"/healthz", "taken by serve's own endpoint"},
		{"/", "taken by serve's own endpoint"},
	} {
		got := ""
		if err := CheckHookPath(tc.path); err != nil {
			got = err.Error()
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("CheckHookPath(%q) (-want +got):\n%s", tc.path, diff)
		}
		_, err := Config{OktaOrg: "https://example.okta.com", HookPath: tc.path}.withDefaults()
		if tc.want != "" && (!errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("withDefaults(HookPath %q) = %v, want ErrConfig with %q", tc.path, err, tc.want)
		}
	}
}

// TestEnabled: ConsoleEnabled and CatchUpEnabled, the rules Run applies
// and a preflight check asks ahead, give the same answer before and after
// Run's defaults, and a catch-up that is on has a positive interval to
// wait between passes.
func TestEnabled(t *testing.T) {
	t.Parallel()
	const org = "https://example.okta.com"
	for _, tc := range []struct {
		name                 string
		cfg                  Config
		wantConsole, wantCUp bool
	}{
		{"demo", Config{}, true, true},
		{"demo, console off", Config{Console: Console{Off: true}}, false, true},
		{"demo, catch-up off", Config{CatchUpInterval: -1}, true, false},
		{"org without a console app", Config{OktaOrg: org}, false, true},
		{"org with a console app", Config{OktaOrg: org, Console: Console{ClientID: "0oaConsole", AdminGroup: "Admins"}}, true, true},
		{"org with a console app turned off", Config{OktaOrg: org, Console: Console{ClientID: "0oaConsole", Off: true}}, false, true},
		{"org, catch-up every minute", Config{OktaOrg: org, CatchUpInterval: time.Minute}, false, true},
		{"org, catch-up off", Config{OktaOrg: org, CatchUpInterval: -1}, false, false},
	} {
		type enabled struct{ Console, CatchUp bool }
		want := enabled{tc.wantConsole, tc.wantCUp}
		if diff := cmp.Diff(want, enabled{tc.cfg.ConsoleEnabled(), tc.cfg.CatchUpEnabled()}); diff != "" {
			t.Errorf("%s: before the defaults (-want +got):\n%s", tc.name, diff)
		}
		cfg := tc.cfg
		if !cfg.Demo() {
			cfg.HookSecret, cfg.Store = "hook-secret-0123456789", "keys.db"
		}
		d, err := cfg.withDefaults()
		if err != nil {
			t.Fatalf("%s: withDefaults: %v", tc.name, err)
		}
		if diff := cmp.Diff(want, enabled{d.ConsoleEnabled(), d.CatchUpEnabled()}); diff != "" {
			t.Errorf("%s: after the defaults (-want +got):\n%s", tc.name, diff)
		}
		if d.CatchUpEnabled() != (d.CatchUpInterval > 0) {
			t.Errorf("%s: CatchUpEnabled %v with the interval %v after the defaults", tc.name, d.CatchUpEnabled(), d.CatchUpInterval)
		}
	}
}

// TestCheckRPIDs: Check refuses, before Run opens anything, the RP IDs
// fulfillment.New would refuse: one set, or the default (the org's host)
// when it is no valid RP ID, an IP address above all (WebAuthn refuses
// it, and Okta would refuse the keys Yubico programmed for it). The
// demo's fake org has an RP ID of its own.
func TestCheckRPIDs(t *testing.T) {
	t.Parallel()
	org := func(url string, rpIDs ...string) Config {
		return Config{OktaOrg: url, RPIDs: rpIDs, HookSecret: "hook-secret-0123456789", Store: "keys.db"}
	}
	for _, tc := range []struct {
		name      string
		cfg       Config
		want      string // in the error; "" for none
		wantRPIDs []string
	}{
		{"the org's host", org("https://example.okta.com"), "", []string{"example.okta.com"}},
		{"the org's host, upper case", org("https://Example.Okta.com"), "", []string{"example.okta.com"}},
		{"set", org("http://127.0.0.1:8443", "example.okta.com"), "", []string{"example.okta.com"}},
		{"an org at an IP address", org("http://127.0.0.1:8443"),
			`RPIDs: none set, and the default, OktaOrg's host "127.0.0.1", is no valid RP ID: an IP address`, nil},
		{"an org at an IPv6 address", org("http://[::1]:8443"), `OktaOrg's host "::1", is no valid RP ID: an IP address`, nil},
		{"an IP address set", org("https://example.okta.com", "example.okta.com", "10.0.0.1"), `RPIDs[1] "10.0.0.1": an IP address`, nil},
		{"a bad host set", org("https://example.okta.com", "bad host"), `RPIDs[0] "bad host": must be a bare host name`, nil},
		{"demo", Config{}, "", nil},
		{"demo, set", Config{RPIDs: []string{"login.example.com"}}, "", []string{"login.example.com"}},
		{"demo, an IP address set", Config{RPIDs: []string{"127.0.0.1"}}, `RPIDs[0] "127.0.0.1": an IP address`, nil},
	} {
		err := tc.cfg.Check()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: Check = %v, want nil", tc.name, err)
				continue
			}
			d, err := tc.cfg.withDefaults()
			if err != nil {
				t.Fatalf("%s: withDefaults: %v", tc.name, err)
			}
			if diff := cmp.Diff(tc.wantRPIDs, d.RPIDs); diff != "" {
				t.Errorf("%s: RPIDs after the defaults (-want +got):\n%s", tc.name, diff)
			}
			continue
		}
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Check = %v, want ErrConfig with %q", tc.name, err, tc.want)
		}
	}
}

// TestCheckNamesConfigFields: a setting of the Service that Check refuses
// is named as Config names it, once: not also under the name fulfillment
// gives it (EventHookSecret, SyncClaim, Defaults), which Config has not.
func TestCheckNamesConfigFields(t *testing.T) {
	t.Parallel()
	const secret = "hook-secret-0123456789"
	org := Config{OktaOrg: "https://example.okta.com", HookSecret: secret, Store: "keys.db"}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"a hook secret of two lines", func(c *Config) { c.HookSecret = secret + "\nmore" },
			"serve: invalid configuration: HookSecret: want one line of at least 16 characters"},
		{"a negative lease", func(c *Config) { c.Lease = -time.Second },
			"serve: invalid configuration: AbandonGrace and Lease must not be negative"},
		{"a negative sync interval", func(c *Config) { c.SyncInterval = -time.Hour },
			"serve: invalid configuration: SyncInterval -1h0m0s: must be positive"},
		{"a bad item", func(c *Config) {
			c.Item = fulfillment.Item{ProductID: "1", InventoryProductID: "106", CustomizationID: "x y"}
		},
			`serve: invalid configuration: Item: ` + fulfillment.Item{ProductID: "1", InventoryProductID: "106", CustomizationID: "x y"}.Validate().Error()},
		{"an org URL without a host", func(c *Config) { c.OktaOrg = "example.okta.com" },
			`serve: invalid configuration: OktaOrg "example.okta.com": want an absolute https URL (its host is the default of RPIDs)`},
	} {
		cfg := org
		tc.edit(&cfg)
		got := ""
		if err := cfg.Check(); err != nil {
			got = err.Error()
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: Check (-want +got):\n%s", tc.name, diff)
		}
	}
}

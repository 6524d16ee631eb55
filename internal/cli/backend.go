package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/internal/httpclient"
	"github.com/preenroll/preenroll/internal/serve"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/yubico"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// fakeRPID is the relying-party ID of the in-process fake org.
const fakeRPID = "example.okta.com"

// backend is what a command talks to: the Okta client, the Yubico client
// (nil in order-only mode), the store, and the fakes when there is no org.
type backend struct {
	okta   *okta.Client
	yubico *yubico.Client
	store  fulfillment.Store
	rpIDs  []string
	// fakeOkta and fakeYubico are the in-process fakes (nil with an org).
	fakeOkta   *oktatest.Server
	fakeYubico *yubicotest.Server
	closers    []func()
}

// Close closes the store and stops the fakes.
func (b *backend) Close() {
	for i := len(b.closers) - 1; i >= 0; i-- {
		b.closers[i]()
	}
	b.closers = nil
}

// openBackend connects to the org (or starts the fakes; seed, if not nil,
// adds their users before the clients are made) and opens the store.
// withYubico makes the Yubico client (from -yubico-token-file; none
// without one: order-only mode).
func openBackend(ctx context.Context, inv *Invocation, withYubico bool, seed func(*oktatest.Server) error) (*backend, error) {
	cfg := inv.Config
	b := &backend{rpIDs: cfg.RPIDs}
	fail := func(err error) (*backend, error) { b.Close(); return nil, err }
	if cfg.Fake() {
		ysrv, err := yubicotest.Start()
		if err != nil {
			return fail(err)
		}
		b.closers = append(b.closers, ysrv.Close)
		osrv, err := oktatest.Start(oktatest.WithNow(ysrv.Now()), oktatest.WithAttestationRoots(ysrv.FIDOCA().Root()))
		if err != nil {
			return fail(err)
		}
		b.closers = append(b.closers, osrv.Close)
		b.fakeOkta, b.fakeYubico = osrv, ysrv
		if seed != nil {
			if err := seed(osrv); err != nil {
				return fail(err)
			}
		}
		if b.okta, err = osrv.Client(); err != nil {
			return fail(err)
		}
		if withYubico {
			b.yubico = ysrv.Client()
		}
		if len(b.rpIDs) == 0 {
			b.rpIDs = []string{fakeRPID}
		}
	} else {
		var err error
		if b.okta, err = newOktaClient(inv); err != nil {
			return fail(err)
		}
		if withYubico && cfg.yubicoToken != nil {
			if b.yubico, err = newYubicoClient(inv); err != nil {
				return fail(err)
			}
		}
		if len(b.rpIDs) == 0 {
			// Checked with the settings (defaultRPIDProblem).
			b.rpIDs = []string{serve.DefaultRPID(b.okta.OrgURL())}
		}
	}
	store, closeStore, err := openStore(ctx, cfg.Store, nil)
	if err != nil {
		return fail(fmt.Errorf("-store: %w", err))
	}
	b.closers = append(b.closers, closeStore)
	b.store = store
	return b, nil
}

// clock returns the clock the clients wait on.
func (inv *Invocation) clock() okta.Clock {
	if inv.deps.clock != nil {
		return inv.deps.clock
	}
	return httpclient.WallClock{}
}

// newOktaClient makes the client for the configured org, authenticated
// with the API token or as the OAuth service app: its requests time out
// after -okta-timeout, and every slow request and retry is reported on
// stderr.
func newOktaClient(inv *Invocation) (*okta.Client, error) {
	return newOktaClientScoped(inv, inv.Config.OktaScopes)
}

// newOktaClientScoped is newOktaClient whose OAuth tokens ask for scopes.
func newOktaClientScoped(inv *Invocation, scopes []string) (*okta.Client, error) {
	cfg := inv.Config
	w := &waitReporter{service: "Okta", w: inv.Stderr, base: httpclient.DefaultTransport(), clock: inv.clock(),
		slowAfter: inv.deps.slowAfter, timeout: cfg.OktaTimeout}
	opts := []okta.Option{
		okta.WithHTTPClient(&http.Client{Timeout: cfg.OktaTimeout, Transport: w}),
		okta.WithClock(w),
		okta.WithUserAgent("preenroll-cli"),
	}
	if cfg.oktaKey != nil {
		// An OAuth 2.0 service app: client credentials with a signed
		// client assertion, tokens cached and renewed before expiry.
		opts = append(opts, okta.WithOAuth(okta.OAuthConfig{
			ClientID: cfg.OktaClientID, PrivateKey: cfg.oktaKey, Scopes: scopes, DPoP: cfg.OktaDPoP,
		}))
	}
	return okta.NewClient(cfg.OktaOrg, string(cfg.oktaToken), opts...)
}

// newYubicoClient makes the YubiEnterprise client, reporting slow requests
// and retries like Okta's.
func newYubicoClient(inv *Invocation) (*yubico.Client, error) {
	return newYubicoClientTimeout(inv, httpclient.DefaultTimeout)
}

// newYubicoClientTimeout is newYubicoClient whose requests time out after
// timeout.
func newYubicoClientTimeout(inv *Invocation, timeout time.Duration) (*yubico.Client, error) {
	cfg := inv.Config
	w := &waitReporter{service: "Yubico", w: inv.Stderr, base: httpclient.DefaultTransport(), clock: inv.clock(),
		slowAfter: inv.deps.slowAfter, timeout: timeout}
	opts := []yubico.Option{
		yubico.WithHTTPClient(&http.Client{Timeout: timeout, Transport: w}),
		yubico.WithClock(w),
		yubico.WithUserAgent("preenroll-cli"),
	}
	if cfg.YubicoJWKS != "" {
		opts = append(opts, yubico.WithJWKSBaseURL(cfg.YubicoJWKS))
	}
	return yubico.NewClient(cfg.YubicoAPI, string(cfg.yubicoToken), opts...)
}

// service makes the Service over the backend; store wraps the backend's
// store when not nil.
func (b *backend) service(inv *Invocation, store fulfillment.Store) (*fulfillment.Service, error) {
	cfg := fulfillment.Config{
		Okta: b.okta, Yubico: b.yubico, Store: cmp.Or[fulfillment.Store](store, b.store), RPIDs: b.rpIDs,
		Concurrency: inv.Config.Concurrency, Logger: inv.Logger,
	}
	if b.fakeYubico != nil {
		cfg.Clock = b.fakeYubico.Now
	}
	if inv.Config.CatchUp && inv.Config.oktaKey != nil {
		// The catch-up's token asks for okta.logs.read alone: an app
		// without that grant fails the catch-up, not the pass.
		lc, err := newOktaClientScoped(inv, []string{okta.ScopeLogsRead})
		if err != nil {
			return nil, err
		}
		cfg.SystemLog = lc
	}
	return fulfillment.New(cfg)
}

// userID resolves a user argument (an Okta user ID or login) to the ID the
// store keys records by.
func (b *backend) userID(ctx context.Context, user string) (string, error) {
	u, err := b.okta.GetUser(ctx, user)
	if err != nil {
		return "", err
	}
	return u.ID, nil
}

// unreachable reports whether err means Okta (or Yubico) could not be
// reached or did not answer properly: a transport error, a timeout, a 5xx.
// Such a failure says nothing about the user.
func unreachable(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return true
	}
	var oe *okta.APIError
	if errors.As(err, &oe) {
		return oe.StatusCode >= 500
	}
	var ye *yubico.APIError
	if errors.As(err, &ye) {
		return ye.StatusCode >= 500
	}
	return false
}

// refusedCredentials reports whether err means Okta refused who the
// command is: the API token (401), or the service app's token request.
// Such a failure is the same for every user.
func refusedCredentials(err error) bool {
	var te *okta.TokenError
	return errors.Is(err, okta.ErrUnauthorized) || errors.As(err, &te)
}

package serve

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/preenroll/preenroll/console"
	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/okta"
)

// newConsole builds the web console to mount at "/" over the Service, or
// returns nil and logs why it is off. base is serve's base URL.
func (s *server) newConsole(base string) (http.Handler, error) {
	cfg := s.cfg
	switch {
	case cfg.Console.Off:
		s.log.Info("serve: console off: turned off in the configuration")
		return nil, nil
	case !cfg.ConsoleEnabled():
		s.log.Info("serve: console off: no Okta OIDC app is configured for it (the console's client ID, secret and admin group)")
		return nil, nil
	}
	key := cfg.Console.SessionKey
	if key == "" {
		b := make([]byte, console.MinSessionKey)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("serve: console session key: %w", err)
		}
		key = okta.Secret(b)
		if !cfg.Demo() {
			s.log.Warn("serve: console: no session key configured: using a random one for this process; sessions end when serve restarts and are not shared with other instances")
		}
	}
	// The console's sign-in requests carry the OIDC app's credentials,
	// not the API client's: /readyz does not judge the API token by them.
	hc := s.httpClient(vendorOkta, oktaRoutes, false, nil)
	hc.Transport.(*transport).otherCredentials = true
	cc := console.Config{
		Okta: s.okta, Yubico: s.yubico, SessionKey: key, Logger: s.log, HTTPClient: hc, Done: s.consoleDone, DefaultItem: s.item,
		Audit: loggedAudit{AuditLog: console.NewMemoryAudit(auditPageEntries), log: s.log},
	}
	// With a store that keeps documents (every store serve opens does),
	// the batches and the Audit page are kept in it: shared by every
	// instance on the store, and kept across restarts.
	if docs, ok := s.store.(fulfillment.DocumentStore); ok {
		keep := cfg.Console.AuditRetention
		if s.demo != nil && keep >= 0 {
			// Wall time: the audit trail's times are the fake clock's.
			keep = s.demo.fakeDuration(cmp.Or(keep, console.DefaultAuditRetention))
		}
		cc.Documents = docs
		cc.Audit = loggedAudit{AuditLog: console.NewStoreAudit(docs, keep), log: s.log}
	}
	if s.demo != nil {
		ok, err := s.demo.consoleConfig(&cc, base)
		if err != nil || !ok {
			return nil, err
		}
	} else {
		redirect := cfg.Console.RedirectURL
		if redirect == "" {
			redirect = base + console.CallbackPath
		}
		cc.OIDC = console.OIDC{Issuer: s.okta.OrgURL(), ClientID: cfg.Console.ClientID, ClientSecret: cfg.Console.ClientSecret,
			RedirectURL: redirect, AdminGroup: cfg.Console.AdminGroup, ReadOnlyGroup: cfg.Console.ReadOnlyGroup}
	}
	h, err := console.New(s.svc, cc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w (set the console's redirect URL, or a https public URL)", ErrConfig, err)
	}
	if s.demo != nil {
		h = s.demo.holdClockDuringSignIn(h)
	}
	s.log.Info("serve: console mounted", "url", base+"/", "redirect", cc.OIDC.RedirectURL,
		"adminGroup", cc.OIDC.AdminGroup, "readOnlyGroup", cc.OIDC.ReadOnlyGroup)
	return h, nil
}

// auditPageEntries is how many audit entries the console's Audit page
// keeps in memory when the store keeps no documents.
const auditPageEntries = 10000

// loggedAudit is serve's console audit trail: every entry is written to
// serve's log ("console: audit", with the request's ID) and kept for the
// Audit page, in the store (console.StoreAudit).
type loggedAudit struct {
	console.AuditLog
	log *slog.Logger
}

// Append logs e and keeps it for the Audit page: at warn level when a
// signed-in user's action was refused or failed, otherwise at info, so that
// requests anyone can send (a cross-origin POST, a sign-in the provider
// refused) cannot fill the log with warnings.
func (a loggedAudit) Append(ctx context.Context, e console.AuditEntry) error {
	level := slog.LevelInfo
	if e.Outcome != "ok" && e.Who != "" {
		level = slog.LevelWarn
	}
	a.log.LogAttrs(ctx, level, "console: audit",
		slog.String("who", e.Who), slog.String("subject", e.Subject), slog.String("role", string(e.Role)),
		slog.String("action", e.Action), slog.String("target", e.Target), slog.String("outcome", e.Outcome),
		slog.String("detail", e.Detail), slog.String("remote", e.Remote))
	return a.AuditLog.Append(ctx, e)
}

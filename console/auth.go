package console

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// loginTTL bounds the time between the redirect to the provider and the
// callback.
const loginTTL = 10 * time.Minute

// provider is the discovered OIDC provider with the app's settings.
type provider struct {
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// getProvider discovers the provider on first use (so that the console
// starts while the provider is down) and keeps it.
func (c *console) getProvider(ctx context.Context) (*provider, error) {
	c.providerMu.Lock()
	defer c.providerMu.Unlock()
	if c.provider != nil {
		return c.provider, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, c.hc), c.oidc.Issuer)
	if err != nil {
		return nil, fmt.Errorf("console: discover OIDC provider %s: %w", c.oidc.Issuer, err)
	}
	scopes := c.oidc.Scopes
	if len(scopes) == 0 {
		scopes = []string{"profile", "email", "groups"}
	}
	c.provider = &provider{
		oauth: oauth2.Config{
			ClientID: c.oidc.ClientID, ClientSecret: c.oidc.ClientSecret.Reveal(),
			Endpoint: p.Endpoint(), RedirectURL: c.oidc.RedirectURL,
			Scopes: append([]string{oidc.ScopeOpenID}, scopes...),
		},
		verifier: p.Verifier(&oidc.Config{ClientID: c.oidc.ClientID, Now: c.now}),
	}
	return c.provider, nil
}

// randomToken returns 32 random bytes, base64url.
func randomToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// login sends the browser to the provider (authorization code flow with
// PKCE, state and nonce kept in a sealed cookie).
func (c *console) login(w http.ResponseWriter, r *http.Request) {
	p, err := c.getProvider(r.Context())
	if err != nil {
		c.log.Error("console: sign-in", "error", err)
		c.problem(w, r, nil, http.StatusBadGateway, "Sign-in unavailable",
			"The sign-in provider could not be reached. Try again in a minute.")
		return
	}
	st := loginState{Next: c.localPath(r.URL.Query().Get("next")), Expires: c.now().Add(loginTTL),
		Verifier: oauth2.GenerateVerifier()}
	if st.State, err = randomToken(); err == nil {
		st.Nonce, err = randomToken()
	}
	if err == nil {
		err = c.setCookie(w, c.stateCookie(), st, st.Expires)
	}
	if err != nil {
		c.fail(w, r, nil, err)
		return
	}
	http.Redirect(w, r, p.oauth.AuthCodeURL(st.State, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier)), http.StatusSeeOther)
}

// localPath returns next if it is a path of this console, else its root.
func (c *console) localPath(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(next, c.base+"/") || strings.HasPrefix(next, "//") ||
		strings.Contains(next, "\\") || strings.HasPrefix(u.Path, c.base+"/auth/") {
		return c.base + "/"
	}
	return next
}

// claims are the ID token claims the console reads.
type claims struct {
	Subject           string   `json:"sub"`
	Email             string   `json:"email"`
	PreferredUsername string   `json:"preferred_username"`
	Name              string   `json:"name"`
	Groups            []string `json:"groups"`
}

// callback finishes the sign-in: state, code exchange with the PKCE
// verifier, ID token signature, issuer, audience, expiry and nonce, then
// the role from the groups claim.
func (c *console) callback(w http.ResponseWriter, r *http.Request) {
	var st loginState
	ck, err := r.Cookie(c.stateCookie())
	if err != nil || c.cookies.open(c.stateCookie(), ck.Value, &st) != nil || !c.now().Before(st.Expires) {
		c.problem(w, r, nil, http.StatusBadRequest, "Sign-in expired",
			"The sign-in took too long or was started in another browser. Start again.")
		return
	}
	c.clearCookie(w, c.stateCookie())
	q := r.URL.Query()
	// The state is checked first, for an error redirect too (the provider
	// returns the state with an error, RFC 6749 4.1.2.1): without it the
	// redirect is anybody's link, whose text the page would show.
	if q.Get("state") == "" || q.Get("state") != st.State {
		c.problem(w, r, nil, http.StatusBadRequest, "Sign-in expired", "The sign-in response does not match this browser's sign-in. Start again.")
		return
	}
	if e := q.Get("error"); e != "" {
		// The provider's text is cut short and stripped of control
		// characters before the audit log or the page shows it.
		e, desc := providerText(e, maxProviderError), providerText(q.Get("error_description"), maxProviderText)
		c.record(r, nil, "sign in", "", outcomeRefused, "provider: "+e+": "+desc)
		c.problem(w, r, nil, http.StatusForbidden, "Sign-in refused", "The sign-in provider said: "+e+" "+desc)
		return
	}
	if q.Get("code") == "" {
		c.record(r, nil, "sign in", "", outcomeRefused, "the provider's redirect has no code")
		c.problem(w, r, nil, http.StatusBadRequest, "Sign-in failed", "The sign-in response has no code. Start again.")
		return
	}
	ctx := oidc.ClientContext(r.Context(), c.hc)
	p, err := c.getProvider(ctx)
	if err != nil {
		c.fail(w, r, nil, err)
		return
	}
	tok, err := p.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		c.log.Error("console: sign-in: code exchange", "error", err)
		// The provider refusing the code (used, expired, or made up:
		// invalid_grant, RFC 6749 5.2) is the request's fault, a 400; no
		// answer, a server error or a refusal of the console's own
		// credentials (invalid_client) is not, a 502.
		status := http.StatusBadGateway
		if re, ok := errors.AsType[*oauth2.RetrieveError](err); ok && re.ErrorCode == "invalid_grant" {
			status = http.StatusBadRequest
		}
		c.problem(w, r, nil, status, "Sign-in failed", "The sign-in provider did not accept the sign-in. Start again.")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.verifier.Verify(ctx, raw)
	if err == nil && idt.Nonce != st.Nonce {
		err = errors.New("nonce does not match")
	}
	var cl claims
	if err == nil {
		err = idt.Claims(&cl)
	}
	if err != nil {
		c.log.Error("console: sign-in: ID token", "error", err)
		c.problem(w, r, nil, http.StatusBadGateway, "Sign-in failed", "The sign-in provider's ID token was not valid. Start again.")
		return
	}
	s := &session{Subject: cl.Subject, Login: cl.PreferredUsername, Name: cl.Name, Expires: c.now().Add(c.ttl)}
	if s.Login == "" {
		s.Login = cl.Email
	}
	if s.Login == "" {
		s.Login = cl.Subject
	}
	switch {
	case slices.Contains(cl.Groups, c.oidc.AdminGroup):
		s.Role = RoleAdmin
	case c.oidc.ReadOnlyGroup != "" && slices.Contains(cl.Groups, c.oidc.ReadOnlyGroup):
		s.Role = RoleReadOnly
	default:
		c.record(r, s, "sign in", "", outcomeRefused, "not in the admin or read-only group")
		c.problem(w, r, nil, http.StatusForbidden, "Not allowed",
			"You signed in as "+s.Login+", who is not a member of the console's groups. Ask for "+c.oidc.AdminGroup+" to be granted.")
		return
	}
	if err := c.setCookie(w, c.sessionCookie(), s, s.Expires); err != nil {
		c.fail(w, r, nil, err)
		return
	}
	c.record(r, s, "sign in", "", outcomeOK, string(s.Role))
	http.Redirect(w, r, c.localPath(st.Next), http.StatusSeeOther)
}

// logout ends the session.
func (c *console) logout(w http.ResponseWriter, r *http.Request) {
	if s := c.currentSession(r); s != nil {
		c.record(r, s, "sign out", "", outcomeOK, "")
	}
	c.clearCookie(w, c.sessionCookie())
	c.render(w, r, nil, http.StatusOK, "signedout", page{Title: "Signed out"})
}

// urlQueryEscape escapes s for a query value.
func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// The longest error code and description of a provider's error redirect
// the console keeps, in runes.
const (
	maxProviderError = 64
	maxProviderText  = 200
)

// providerText returns s, from a sign-in redirect's query, without
// control or format characters (line breaks, escape sequences,
// bidirectional overrides), cut after n runes ("…" marks a cut).
func providerText(s string, n int) string {
	var b strings.Builder
	kept := 0
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			continue
		}
		if kept == n {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
		kept++
	}
	return b.String()
}

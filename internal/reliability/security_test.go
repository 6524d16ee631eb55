package reliability_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/internal/syncio"
	"github.com/preenroll/preenroll/internal/testhttp"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/simulator"
	"github.com/preenroll/preenroll/webauthn"
	"github.com/preenroll/preenroll/yubico"
)

// containsSecret reports whether text contains secret: as a whole token
// for an all-digit secret (a PIN; 8 digits also occur inside hex keys and
// base62 IDs by chance), anywhere otherwise.
func containsSecret(text, secret string) bool {
	if strings.Trim(secret, "0123456789") == "" {
		return regexp.MustCompile(`(^|[^0-9A-Za-z])` + secret + `([^0-9A-Za-z]|$)`).MatchString(text)
	}
	return strings.Contains(text, secret)
}

// TestSecretsNeverInLogsErrorsOrURLs runs the whole lifecycle under 20%
// faults (so errors happen on every path) with the Service logging JSON at
// debug level, and searches the log, every error returned, every stored
// record and every request URL the fakes saw for every PIN (preset and new), API token, Authn state
// and session token and the event-hook secret.
func TestSecretsNeverInLogsErrorsOrURLs(t *testing.T) {
	t.Parallel()
	logs := &syncio.Buffer{}
	rep, w := runFaultSuite(t, 16, 77, faultRate, logs)
	secrets := map[string]string{"Okta API token": w.Okta.Token(), "Yubico API token": w.Yubico.Token(), "event-hook secret": hookSecret}
	for _, pin := range w.pins() {
		secrets["preset PIN "+pin[:2]+"…"] = pin
	}
	for i, s := range w.secrets.list() {
		secrets[fmt.Sprintf("secret #%d (PIN or Authn token, %d chars)", i, len(s))] = s
	}
	if n := len(w.pins()); n < rep.active {
		t.Fatalf("%d PIN emails for %d Active users: the search would miss PINs", n, rep.active)
	}
	text := logs.String()
	if !strings.Contains(text, `"msg":"fulfillment: intent"`) || !strings.Contains(text, `"level":"WARN"`) {
		t.Fatalf("the Service logged no intents or warnings; nothing to search (%d bytes)", len(text))
	}
	if len(rep.errorTexts) == 0 {
		t.Fatalf("no errors under 20%% faults; nothing to search")
	}
	var urls strings.Builder
	for _, r := range w.Okta.RequestLog() {
		fmt.Fprintf(&urls, "%s %s?%s %s\n", r.Method, r.Path, r.Query, r.Detail)
	}
	for _, r := range w.Yubico.RequestLog() {
		fmt.Fprintf(&urls, "%s %s?%s %s\n", r.Method, r.Path, r.Query, r.IdempotencyKey)
	}
	records, err := json.Marshal(rep.records)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.records) != 16 {
		t.Fatalf("%d records, want 16", len(rep.records))
	}
	places := map[string]string{
		"the stored records":      string(records),
		"the Service's log":       text,
		"the errors returned":     strings.Join(rep.errorTexts, "\n"),
		"the fakes' request URLs": urls.String(),
	}
	for what, secret := range secrets {
		for where, hay := range places {
			if containsSecret(hay, secret) {
				t.Errorf("the %s appears in %s", what, where)
			}
		}
	}
	t.Logf("searched %d secrets in %d bytes of log, %d errors and %d request URLs",
		len(secrets), len(text), len(rep.errorTexts), len(w.Okta.RequestLog())+len(w.Yubico.RequestLog()))
}

// TestSecretTypesRedact checks that the secret-holding types never print
// or log their value, whatever the verb or the slog handler, and that
// webauthn.Secret.Zero wipes the bytes in place.
func TestSecretTypesRedact(t *testing.T) {
	t.Parallel()
	const pin, state = "73914682", "00stateTokenAbCdEf0123456789"
	tx := okta.AuthnTransaction{StateToken: okta.Secret(state), SessionToken: okta.Secret(state + "s")}
	values := map[string]any{
		"okta.Secret":           okta.Secret(state),
		"okta.AuthnTransaction": tx,
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			if s := fmt.Sprintf(verb, v); strings.Contains(s, state) {
				t.Errorf("%s printed with %s shows the token", name, verb)
			}
		}
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	log.Info("x", "tx", tx, "token", okta.Secret(state))
	if strings.Contains(logs.String(), state) {
		t.Errorf("slog JSON output shows an Authn token: %s", logs.String())
	}

	secret := []byte(pin)
	s := webauthn.Secret(secret)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		if out := fmt.Sprintf(verb, s); strings.Contains(out, pin) || strings.Contains(out, fmt.Sprintf("%x", pin)) {
			t.Errorf("webauthn.Secret printed with %s shows the PIN: %s", verb, out)
		}
	}
	logs.Reset()
	log.Info("x", "pin", s, "resp", struct{ PIN any }{s})
	if strings.Contains(logs.String(), pin) {
		t.Errorf("slog JSON output shows the PIN: %s", logs.String())
	}
	s.Zero()
	if !bytes.Equal(secret, make([]byte, len(pin))) {
		t.Errorf("after Zero the PIN's bytes are %q, want zeros", secret)
	}
}

// TestFakesRefuseMissingOrWrongTokens sends every kind of call to both
// fakes without a token, with a wrong one, with the wrong scheme and with a
// revoked one: each gets 401 and changes nothing.
func TestFakesRefuseMissingOrWrongTokens(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1, 5)
	uid := w.people[0].id
	revokedOkta, revokedYubico := "00revokedOktaToken0123456789", "revokedYubicoToken0123456789"
	w.Okta.AddToken(revokedOkta)
	w.Okta.RevokeToken(revokedOkta)
	w.Yubico.AddToken(revokedYubico)
	w.Yubico.RevokeToken(revokedYubico)
	type call struct{ method, path, body string }
	oktaCalls := []call{
		{"GET", "/api/v1/users/" + uid, ""},
		{"POST", "/api/v1/users?activate=false", `{"profile":{"login":"x@example.com","email":"x@example.com","firstName":"X","lastName":"Y"}}`},
		{"POST", "/api/v1/users/" + uid, `{"profile":{"city":"Evil"}}`},
		{"POST", "/webauthn-registration/api/v1/initiate-fulfillment-request", `{"userId":"` + uid + `","fulfillmentProvider":"yubico","fulfillmentData":[{"productId":"1","inventoryProductId":"106","customizationId":"RXJN83"}]}`},
		{"POST", "/webauthn-registration/api/v1/enroll", `{"userId":"` + uid + `","fulfillmentProvider":"yubico","enrollmentRpIds":["` + rpID + `"]}`},
		{"GET", "/webauthn-registration/api/v1/users/" + uid + "/enrollments", ""},
	}
	yubicoCalls := []call{
		{"GET", "/v1/inventory", ""},
		{"GET", "/v1/shipments_exact", ""},
		{"POST", "/v1/fpr/shipments", `{"delivery_type":1}`},
		{"POST", "/v1/shipments_exact", `{"delivery_type":1}`},
	}
	auths := func(scheme, good, revoked string) map[string]string {
		return map[string]string{
			"no Authorization": "", "wrong token": scheme + " wrong-" + good[:4], "revoked token": scheme + " " + revoked,
			"token without scheme": good, "empty token": scheme + " ",
		}
	}
	send := func(base string, c call, auth string) int {
		var body io.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		req, err := http.NewRequestWithContext(t.Context(), c.method, base+c.path, body)
		if err != nil {
			t.Fatal(err)
		}
		if c.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, b := testhttp.Do(t, req)
		if bytes.Contains(b, []byte(w.Okta.Token())) || bytes.Contains(b, []byte(w.Yubico.Token())) {
			t.Errorf("%s %s: the error body shows a token", c.method, c.path)
		}
		return resp.StatusCode
	}
	for name, auth := range auths("SSWS", w.Okta.Token(), revokedOkta) {
		for _, c := range oktaCalls {
			if got := send(w.Okta.URL(), c, auth); got != http.StatusUnauthorized {
				t.Errorf("Okta %s %s with %s: status %d, want 401", c.method, c.path, name, got)
			}
		}
	}
	for name, auth := range auths("Bearer", w.Yubico.Token(), revokedYubico) {
		for _, c := range yubicoCalls {
			if got := send(strings.TrimSuffix(w.Yubico.URL(), "/v1"), c, auth); got != http.StatusUnauthorized {
				t.Errorf("Yubico %s %s with %s: status %d, want 401", c.method, c.path, name, got)
			}
		}
	}
	// Nothing changed.
	if n := len(w.Okta.Users()); n != 1 {
		t.Errorf("Okta has %d users, want 1", n)
	}
	if u, _ := w.Okta.User(uid); u.Profile.City != "Boston" {
		t.Errorf("the user's city is %q, want Boston", u.Profile.City)
	}
	if es := w.Okta.Enrollments(uid); len(es) != 0 {
		t.Errorf("Okta has %d enrollments, want 0", len(es))
	}
	if n := len(w.Yubico.Shipments()); n != 0 {
		t.Errorf("Yubico has %d shipments, want 0", n)
	}
	// The right token works (so the refusals above mean something).
	if got := send(w.Okta.URL(), oktaCalls[0], "SSWS "+w.Okta.Token()); got != http.StatusOK {
		t.Errorf("Okta with the right token: %d", got)
	}
	if got := send(strings.TrimSuffix(w.Yubico.URL(), "/v1"), yubicoCalls[0], "Bearer "+w.Yubico.Token()); got != http.StatusOK {
		t.Errorf("Yubico with the right token: %d", got)
	}
}

// hookBody is an Okta event-hook delivery of one
// system.mfa.preregister.initiate event for user.
func hookBody(eventID string, u okta.User) string {
	return `{"eventType":"com.okta.event_hook","eventTypeVersion":"1.0","cloudEventsVersion":"0.1","source":"https://x.okta.com",` +
		`"eventId":"` + eventID + `","eventTime":"2026-01-01T00:00:00.000Z","contentType":"application/json","data":{"events":[{` +
		`"uuid":"` + eventID + `","published":"2026-01-01T00:00:00.000Z","eventType":"system.mfa.preregister.initiate",` +
		`"target":[{"type":"User","id":"` + u.ID + `","alternateId":"` + u.Profile.Login + `"},` +
		`{"type":"Factor","detailEntry":{"fulfillment_provider":"yubico","yubico_product_id":"1","yubico_inventory_product_id":"106","yubico_customization_id":"RXJN83"}}]}]}}`
}

// TestEventHookRequiresSecret sends Okta event-hook requests (the
// verification GET and an event POST that would order a key) without the
// shared secret, with a wrong one and with a near miss: all are refused
// and nothing is ordered; the right secret orders.
func TestEventHookRequiresSecret(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1, 6)
	var c counters
	oc, yc := w.clients(clientOptions{}, &c)
	store := fulfillment.NewMemoryStore()
	svc := w.service(oc, yc, store, nil)
	hook := httptest.NewServer(svc.EventHandler())
	t.Cleanup(hook.Close)
	u, _ := w.Okta.User(w.people[0].id)
	send := func(method, auth, body string) int {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequestWithContext(t.Context(), method, hook.URL, rd)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Okta-Verification-Challenge", "challenge-123")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, b := testhttp.Do(t, req)
		if strings.Contains(string(b), hookSecret) {
			t.Errorf("the response shows the hook secret")
		}
		return resp.StatusCode
	}
	for name, auth := range map[string]string{
		"none": "", "wrong": "not-the-secret", "prefix": hookSecret[:len(hookSecret)-1], "longer": hookSecret + "x",
		"Bearer scheme added": "Bearer " + hookSecret, "case changed": strings.ToUpper(hookSecret),
	} {
		if got := send(http.MethodGet, auth, ""); got != http.StatusUnauthorized {
			t.Errorf("verification GET with %s secret: %d, want 401", name, got)
		}
		if got := send(http.MethodPost, auth, hookBody("ev-"+strings.ReplaceAll(name, " ", "-"), u)); got != http.StatusUnauthorized {
			t.Errorf("event POST with %s secret: %d, want 401", name, got)
		}
	}
	if recs, err := store.List(t.Context(), fulfillment.Query{}); err != nil || len(recs) != 0 {
		t.Fatalf("after refused hooks the store holds %d records (%v), want 0", len(recs), err)
	}
	if _, err := w.Okta.AddEventHook(t.Context(), hook.URL, "wrong-secret", "system.mfa.preregister.initiate"); err == nil {
		t.Errorf("Okta verified a hook registered with the wrong secret")
	}
	// The right secret is accepted and orders the key.
	if got := send(http.MethodGet, hookSecret, ""); got != http.StatusOK {
		t.Errorf("verification GET with the secret: %d, want 200", got)
	}
	if got := send(http.MethodPost, hookSecret, hookBody("ev-good", u)); got/100 != 2 {
		t.Fatalf("event POST with the secret: %d, want 2xx", got)
	}
	if _, err := store.Get(t.Context(), u.ID); err != nil {
		t.Errorf("the accepted event recorded no order: %v", err)
	}
}

// enrolled is a user enrolled at Okta whose FIDO Pre-reg shipment Yubico
// has programmed and shipped.
type enrolled struct {
	user   okta.User
	enroll okta.EnrollResponse
	data   yubico.ProductData
}

// enrollAndShip initiates, enrolls (for every RP ID) and ships a key for
// user i of w through the raw clients.
func enrollAndShip(t *testing.T, w *world, oc *okta.Client, yc *yubico.Client, users []int, rpIDs []string) []enrolled {
	t.Helper()
	ctx := t.Context()
	tks, err := yc.TransportKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tk := tks[0]
	var out []enrolled
	var ids []string
	for _, i := range users {
		u, _ := w.Okta.User(w.people[i].id)
		if err := oc.InitiateFulfillment(ctx, okta.FulfillmentRequest{UserID: u.ID, FulfillmentProvider: okta.ProviderYubico,
			FulfillmentData: okta.FulfillmentData{{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"}}}); err != nil {
			t.Fatal(err)
		}
		er, err := oc.Enroll(ctx, okta.EnrollRequest{UserID: u.ID, FulfillmentProvider: okta.ProviderYubico, RPIDs: rpIDs, TransportKey: tk})
		if err != nil {
			t.Fatal(err)
		}
		creds := make([]string, len(er.CredRequests))
		for j, cr := range er.CredRequests {
			creds[j] = cr.CredRequestJWE
		}
		p := u.Profile
		sh, err := yc.CreateFPRShipment(ctx, yubico.NewFPRShipmentRequest(
			yubico.FPRRecipient{Company: p.Organization, Email: p.Email, FirstName: p.FirstName, LastName: p.LastName, Telephone: p.PrimaryPhone},
			yubico.Address{StreetLine1: p.StreetAddress, City: p.City, Region: p.State, PostalCode: p.ZipCode, CountryCode: p.CountryCode},
			1, 106, "RXJN83", er.PINRequestJWE, creds))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sh.ID)
		out = append(out, enrolled{user: u, enroll: er})
	}
	w.AdvanceClockTo(fulfillmenttest.Shipped) // validated, programmed, shipped: 103
	for i, id := range ids {
		sh, err := yc.FPRShipment(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		pd, ok := sh.ProductData()
		if !ok {
			t.Fatalf("shipment %s in state %d has no product data", id, sh.State.ID)
		}
		out[i].data = pd
	}
	return out
}

// activation builds the activate request of e with the given credential
// and PIN responses.
func activation(w *world, yc *yubico.Client, t *testing.T, e enrolled, creds []okta.CredResponse, pinJWE string) okta.ActivateRequest {
	t.Helper()
	sks, err := yc.SigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return okta.ActivateRequest{UserID: e.user.ID, FulfillmentProvider: okta.ProviderYubico, Serial: e.data.SerialNumber,
		Version: e.data.FirmwareVersion, PINResponseJWE: pinJWE, CredResponses: creds, SigningKeys: sks}
}

// TestActivateRefusesResponsesOfAnotherUserOrEnrollment: Okta refuses an
// activation whose credential or PIN responses were sealed for another
// user, or whose credential responses are given for the wrong one of the
// user's enrollments; the enrollments stay pending, and the right
// responses activate.
func TestActivateRefusesResponsesOfAnotherUserOrEnrollment(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 2, 8)
	oc, yc := w.clients(clientOptions{}, &counters{})
	rps := []string{rpID, "second." + rpID}
	es := enrollAndShip(t, w, oc, yc, []int{0, 1}, rps)
	a, b := es[0], es[1]
	pair := func(e enrolled, responses []string) []okta.CredResponse {
		out := make([]okta.CredResponse, len(responses))
		for i, r := range responses {
			out[i] = okta.CredResponse{AuthenticatorEnrollmentID: e.enroll.CredRequests[i].AuthenticatorEnrollmentID, CredResponseJWE: r}
		}
		return out
	}
	swapped := []string{a.data.CredentialResponses[1], a.data.CredentialResponses[0]}
	for _, tc := range []struct {
		name string
		req  okta.ActivateRequest
	}{
		{"B's credential responses for A's enrollments", activation(w, yc, t, a, pair(a, b.data.CredentialResponses), a.data.PINResponse)},
		{"B's PIN response", activation(w, yc, t, a, pair(a, a.data.CredentialResponses), b.data.PINResponse)},
		{"A's responses for the other enrollment", activation(w, yc, t, a, pair(a, swapped), a.data.PINResponse)},
		{"B's responses under B's enrollment IDs for user A", func() okta.ActivateRequest {
			r := activation(w, yc, t, a, pair(b, b.data.CredentialResponses), b.data.PINResponse)
			return r
		}()},
	} {
		if _, err := oc.Activate(t.Context(), tc.req); err == nil {
			t.Errorf("%s: activation accepted", tc.name)
		} else if !errors.Is(err, okta.ErrValidation) && !errors.Is(err, okta.ErrNotFound) {
			t.Errorf("%s: error %v, want a validation or not-found refusal", tc.name, err)
		}
		for _, e := range w.Okta.Enrollments(a.user.ID) {
			if e.Status != okta.StatusFulfillmentPending {
				t.Fatalf("%s: A's enrollment %s is %s after a refused activation", tc.name, e.ID, e.Status)
			}
		}
	}
	if _, err := oc.Activate(t.Context(), activation(w, yc, t, a, pair(a, a.data.CredentialResponses), a.data.PINResponse)); err != nil {
		t.Fatalf("the right responses: %v", err)
	}
	for _, e := range w.Okta.Enrollments(a.user.ID) {
		if e.Status != okta.StatusActive {
			t.Errorf("A's enrollment %s is %s after activation, want ACTIVE", e.ID, e.Status)
		}
	}
}

// challenge starts login's sign-in at Okta and challenges the user's
// WebAuthn factor: it returns the transaction, the factor's ID and the
// WebAuthn request options a browser gets.
func challenge(ctx context.Context, t *testing.T, oc *okta.Client, login string) (okta.AuthnTransaction, string, []byte) {
	t.Helper()
	tx, err := oc.Authenticate(ctx, okta.AuthnRequest{Username: login})
	if err != nil {
		t.Fatal(err)
	}
	factors := tx.WebAuthnFactors()
	if len(factors) == 0 {
		t.Fatalf("authn status %s for %s without a WebAuthn factor", tx.Status, login)
	}
	if tx, err = oc.ChallengeWebAuthnFactor(ctx, tx.StateToken, factors[0].ID); err != nil {
		t.Fatal(err)
	}
	opts, err := oc.WebAuthnRequestOptions(tx, rpID)
	if err != nil {
		t.Fatal(err)
	}
	return tx, factors[0].ID, opts
}

// editOptions rewrites WebAuthn request options JSON ({"publicKey":{…}} or
// bare) with edit.
func editOptions(t *testing.T, opts []byte, edit func(pk map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(opts, &m); err != nil {
		t.Fatal(err)
	}
	pk := m
	if inner, ok := m["publicKey"].(map[string]any); ok {
		pk = inner
	}
	edit(pk)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCredentialBoundToUserAndRP: user A's key cannot sign in as user B
// (the key has no credential for B's challenge, and an assertion made with
// A's credential over B's challenge is refused by Okta), nor for another
// relying party.
func TestCredentialBoundToUserAndRP(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	w := newWorld(t, 2, 9)
	oc, yc := w.clients(clientOptions{}, &counters{})
	store := fulfillment.NewMemoryStore()
	svc := w.service(oc, yc, store, nil)
	if _, err := svc.OrderBatch(ctx, w.ids(), fulfillment.BatchOptions{}); err != nil {
		t.Fatal(err)
	}
	syncUntilQuiet(ctx, t, svc, 5, nil)
	w.AdvanceClockTo(fulfillmenttest.Shipped) // validated, programmed, shipped: 103
	syncUntilQuiet(ctx, t, svc, 5, nil)
	pa, pb := w.people[0], w.people[1]
	ra, _ := store.Get(ctx, pa.id)
	rb, _ := store.Get(ctx, pb.id)
	if ra.Status != fulfillment.Shipped || rb.Status != fulfillment.Shipped {
		t.Fatalf("statuses %s, %s; want Shipped", ra.Status, rb.Status)
	}
	pins := w.pins()
	keyA, err := w.Yubico.Parcel(ra.ShipmentID)
	if err != nil {
		t.Fatal(err)
	}
	pl := simulator.NewPlatform(keyA)
	if err := pl.ChangePIN(ctx, pins[pa.profile.Email], pa.newPIN); err != nil {
		t.Fatal(err)
	}
	pa.pinChanged = true

	// Okta's challenge for B.
	tx, fbID, optsB := challenge(ctx, t, oc, pb.profile.Login)
	if _, err := pl.GetAssertionJSON(ctx, "https://"+rpID, optsB, pa.newPIN); !errors.Is(err, simulator.ErrNoCredentials) {
		t.Errorf("A's key over B's challenge: %v, want ErrNoCredentials", err)
	}

	// A's credential ID, from A's own challenge.
	_, _, optsA := challenge(ctx, t, oc, pa.profile.Login)
	var allowA any
	editOptions(t, optsA, func(pk map[string]any) { allowA = pk["allowCredentials"] })
	// Forged: B's challenge, A's credential.
	forged := editOptions(t, optsB, func(pk map[string]any) { pk["allowCredentials"] = allowA })
	assertion, err := pl.GetAssertionJSON(ctx, "https://"+rpID, forged, pa.newPIN)
	if err != nil {
		t.Fatalf("A's key over B's challenge with A's credential allowed: %v", err)
	}
	as, err := okta.ParseWebAuthnAssertion(assertion)
	if err != nil {
		t.Fatal(err)
	}
	if done, err := oc.VerifyWebAuthnFactor(ctx, tx.StateToken, fbID, as); err == nil && done.Status == okta.AuthnSuccess {
		t.Errorf("Okta signed B in with A's key")
	}
	for _, e := range w.Okta.Enrollments(pb.id) {
		if !e.Profile.PresetPINAvailable {
			t.Errorf("B's enrollment %s lost its preset PIN: Okta counted a sign-in", e.ID)
		}
	}

	// Another relying party: the key has no credential for it.
	otherRP := editOptions(t, optsA, func(pk map[string]any) { pk["rpId"] = "evil.example" })
	if _, err := pl.GetAssertionJSON(ctx, "https://evil.example", otherRP, pa.newPIN); !errors.Is(err, simulator.ErrNoCredentials) {
		t.Errorf("A's key for another RP: %v, want ErrNoCredentials", err)
	}
	// And A can sign in as A (the refusals above mean something).
	if _, err := w.signIn(ctx, oc, pa, ra, "", 1); err != nil {
		t.Errorf("A's own sign-in: %v", err)
	}
	// After the first sign-in Okta no longer holds A's PIN (and still
	// holds B's); Yubico purged both after programming.
	for _, c := range []struct {
		rec     fulfillment.Record
		pinKept bool
		whose   string
	}{{ra, false, "A"}, {rb, true, "B"}} {
		for _, e := range c.rec.Enrollments {
			d, ok := w.Okta.Enrollment(e.ID)
			if !ok || d.PINStored != c.pinKept {
				t.Errorf("%s's enrollment %s: PIN stored %v, want %v", c.whose, e.ID, d.PINStored, c.pinKept)
			}
		}
		if pr, ok := w.Yubico.Programming(c.rec.ShipmentID); !ok || !pr.Purged {
			t.Errorf("%s's shipment %s: Yubico did not purge the PIN and requests (%+v)", c.whose, c.rec.ShipmentID, pr)
		}
	}
}

// TestPINLockoutCannotBeBypassed drives a key's PIN retry counter through
// the simulator's public API: three wrong PINs in a row need a power cycle,
// which does not restore the 8 retries; neither does a new Platform,
// removing and inserting the key, or a Snapshot; at 0 the PIN is blocked
// for good (only authenticatorReset, which wipes the credentials, clears
// it). The Snapshot never shows the PIN.
func TestPINLockoutCannotBeBypassed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key, err := simulator.New(simulator.WithSerial(31337), simulator.WithRand(newSeeded(31337)))
	if err != nil {
		t.Fatal(err)
	}
	const pin, wrong = "73914682", "11112222"
	if err := simulator.NewPlatform(key).SetPIN(ctx, pin); err != nil {
		t.Fatal(err)
	}
	retries := func(p *simulator.Platform) (int, bool) {
		t.Helper()
		n, pcr, err := p.PINRetries(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n, pcr
	}
	tryWrong := func(p *simulator.Platform) error { return p.ChangePIN(ctx, wrong, "55556666") }
	p := simulator.NewPlatform(key)
	for i := range 3 {
		if err := tryWrong(p); !errors.Is(err, simulator.ErrPINInvalid) && !errors.Is(err, simulator.ErrPINAuthBlocked) {
			t.Fatalf("wrong PIN %d: %v", i+1, err)
		}
	}
	if n, pcr := retries(p); n != 5 || !pcr {
		t.Fatalf("after 3 wrong PINs: retries %d, power cycle required %v; want 5, true", n, pcr)
	}
	if err := p.ChangePIN(ctx, pin, "55556666"); !errors.Is(err, simulator.ErrPINAuthBlocked) {
		t.Errorf("the right PIN before a power cycle: %v, want ErrPINAuthBlocked", err)
	}
	if n, pcr := retries(simulator.NewPlatform(key)); n != 5 || !pcr {
		t.Errorf("a new Platform: retries %d, power cycle required %v; want 5, true", n, pcr)
	}
	if st := key.Snapshot(); st.FIDO.PINRetries != 5 || !st.FIDO.PowerCycleRequired {
		t.Errorf("Snapshot: %+v", st.FIDO)
	}
	key.PowerCycle()
	if n, pcr := retries(p); n != 5 || pcr {
		t.Fatalf("after a power cycle: retries %d, power cycle required %v; want 5 (not 8), false", n, pcr)
	}
	for range 2 {
		_ = tryWrong(p)
	}
	key.Remove()
	key.Insert()
	if n, _ := retries(simulator.NewPlatform(key)); n != 3 {
		t.Fatalf("after remove/insert: retries %d, want 3", n)
	}
	for i := 0; i < 3; i++ {
		_ = tryWrong(p)
		if i == 1 {
			key.PowerCycle() // stay below 3 in a row; the total still counts
		}
	}
	if n, _ := retries(p); n != 0 {
		t.Fatalf("after 8 wrong PINs in total: retries %d, want 0", n)
	}
	for _, reset := range []func(){key.PowerCycle, func() { key.Remove(); key.Insert() }, func() {}} {
		reset()
		if err := simulator.NewPlatform(key).ChangePIN(ctx, pin, "55556666"); !errors.Is(err, simulator.ErrPINBlocked) {
			t.Errorf("the right PIN on a blocked key: %v, want ErrPINBlocked", err)
		}
	}
	st := key.Snapshot()
	for _, verb := range []string{"%v", "%+v", "%#v"} {
		if s := fmt.Sprintf(verb, st); strings.Contains(s, pin) || strings.Contains(s, wrong) {
			t.Errorf("Snapshot printed with %s shows a PIN", verb)
		}
	}
	if st.FIDO.PINRetries != 0 {
		t.Errorf("Snapshot retries %d, want 0", st.FIDO.PINRetries)
	}
}

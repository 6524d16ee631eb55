package oktatest_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/simulator"
	"github.com/preenroll/preenroll/webauthn"
)

const rpID = "example.okta.com"

// factory plays Yubico's side by hand: it holds the transport and signing
// keys and programs a simulated key from Okta's sealed requests.
type factory struct {
	transport *webauthn.PrivateKey
	signer    *webauthn.PrivateKey
	key       *simulator.Key
	platform  *simulator.Platform
}

func newFactory(t testing.TB) *factory {
	t.Helper()
	transport, err := webauthn.GenerateKey(rand.Reader, "APCS-Ttrans-C19881-I009", webauthn.UseEncryption)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := webauthn.GenerateKey(rand.Reader, "APCS-Tsgnkey-C19881-H0027616953", webauthn.UseSigning)
	if err != nil {
		t.Fatal(err)
	}
	key, err := simulator.New(simulator.WithSerial(3632071))
	if err != nil {
		t.Fatal(err)
	}
	return &factory{transport: transport, signer: signer, key: key, platform: simulator.NewPlatform(key)}
}

// program opens the requests, creates the credentials on the simulated key
// with pin (forcing a PIN change) and returns the activate request. mutate,
// if set, may alter each credential response before it is sealed.
func (f *factory) program(t testing.TB, srv *oktatest.Server, enr okta.EnrollResponse, pin string, mutate func(*webauthn.CredentialResponse)) okta.ActivateRequest {
	t.Helper()
	ctx := t.Context()
	ring := webauthn.Keyring{f.transport}
	pinReq, err := webauthn.OpenPINRequest(ring, enr.PINRequestJWE)
	if err != nil {
		t.Fatalf("OpenPINRequest: %v", err)
	}
	if err := f.platform.SetPIN(ctx, pin); err != nil {
		t.Fatalf("SetPIN: %v", err)
	}
	act := okta.ActivateRequest{
		UserID: enr.UserID, Serial: "3632071", Version: f.key.Firmware().String(),
		SigningKeys: []webauthn.PublicJWK{f.signer.Public()},
	}
	for _, cr := range enr.CredRequests {
		req, err := webauthn.OpenCredentialRequest(ring, cr.CredRequestJWE, srv.Now())
		if err != nil {
			t.Fatalf("OpenCredentialRequest: %v", err)
		}
		if req.ResponseKey.Kid != cr.KeyID || req.EnrollmentID != cr.AuthenticatorEnrollmentID || req.UserID != enr.UserID {
			t.Fatalf("request %+v does not match its envelope %+v", req, cr)
		}
		credJSON, err := f.platform.CreateCredential(ctx, "https://"+req.RPID, req.CreationOptions(), pin)
		if err != nil {
			t.Fatalf("CreateCredential: %v", err)
		}
		resp, err := webauthn.NewCredentialResponse(req.UserID, req.EnrollmentID, credJSON)
		if err != nil {
			t.Fatalf("NewCredentialResponse: %v", err)
		}
		if mutate != nil {
			mutate(&resp)
		}
		jwe, err := webauthn.SealCredentialResponse(req.ResponseKey, f.signer, resp)
		if err != nil {
			t.Fatalf("SealCredentialResponse: %v", err)
		}
		act.CredResponses = append(act.CredResponses, okta.CredResponse{AuthenticatorEnrollmentID: cr.AuthenticatorEnrollmentID, CredResponseJWE: jwe})
	}
	if err := f.platform.ForcePINChange(ctx, pin); err != nil {
		t.Fatalf("ForcePINChange: %v", err)
	}
	pinJWE, err := webauthn.SealPINResponse(pinReq.ResponseKey, f.signer,
		webauthn.PINResponse{Version: webauthn.MessageVersion, UserID: pinReq.UserID, PIN: webauthn.Secret(pin)})
	if err != nil {
		t.Fatalf("SealPINResponse: %v", err)
	}
	act.PINResponseJWE = pinJWE
	return act
}

func stagedUser(t testing.TB, srv *oktatest.Server) okta.User {
	t.Helper()
	u, err := srv.AddUser(okta.Profile{
		Login: "isaac.brock@example.com", Email: "isaac.brock@example.com", SecondEmail: "isaac@home.example",
		FirstName: "Isaac", LastName: "Brock", PrimaryPhone: "+1 555 0100", StreetAddress: "1 Main St",
		City: "Springfield", State: "OR", ZipCode: "97477", CountryCode: "US", Organization: "Acme",
	}, okta.UserStaged)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// enrolled is a fake with a staged user enrolled for rpID (one credential
// request) and the factory that will program the key.
type enrolled struct {
	srv *oktatest.Server
	c   *okta.Client // retries nothing
	u   okta.User
	fac *factory
	enr okta.EnrollResponse
}

// enrollStagedUser starts a fake with opts and enrolls a staged user.
func enrollStagedUser(t *testing.T, opts ...oktatest.Option) enrolled {
	t.Helper()
	srv := oktatest.NewServer(t, opts...)
	c, err := srv.Client(okta.WithRetryPolicy(okta.NoRetries()))
	if err != nil {
		t.Fatal(err)
	}
	u := stagedUser(t, srv)
	fac := newFactory(t)
	enr, err := c.Enroll(t.Context(), okta.EnrollRequest{UserID: u.ID, RPIDs: []string{rpID}, TransportKey: fac.transport.Public()})
	if err != nil {
		t.Fatal(err)
	}
	return enrolled{srv: srv, c: c, u: u, fac: fac, enr: enr}
}

func TestPreregistrationRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	var mu sync.Mutex // the callback runs on the server's goroutine
	var callbackEvents []oktatest.Event
	srv := oktatest.NewServer(t,
		oktatest.WithAttestationRoots(simulator.DefaultFIDOCA().Root()),
		oktatest.WithEventCallback(func(e oktatest.Event) {
			mu.Lock()
			defer mu.Unlock()
			callbackEvents = append(callbackEvents, e)
		}))
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	u := stagedUser(t, srv)
	fac := newFactory(t)

	order := okta.FulfillmentOrder{ProductID: "1", InventoryProductID: "12", CustomizationID: "2EZ4RZ"}
	if err := c.InitiateFulfillment(ctx, okta.FulfillmentRequest{UserID: u.ID, FulfillmentData: okta.FulfillmentData{order}}); err != nil {
		t.Fatalf("InitiateFulfillment: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(callbackEvents) != 1 || callbackEvents[0].EventType != okta.EventTypePreregisterInitiate ||
		callbackEvents[0].UserID != u.ID || callbackEvents[0].Order != order || callbackEvents[0].FulfillmentProvider != "yubico" {
		t.Fatalf("callback events = %+v", callbackEvents)
	}

	enr, err := c.Enroll(ctx, okta.EnrollRequest{UserID: u.ID, RPIDs: []string{rpID}, TransportKey: fac.transport.Public()})
	if err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	if len(enr.CredRequests) != 1 || !strings.HasPrefix(enr.CredRequests[0].AuthenticatorEnrollmentID, "fwf") ||
		len(enr.CredRequests[0].AuthenticatorEnrollmentID) != 20 || len(enr.CredRequests[0].KeyID) != 20 || enr.FulfillmentProvider != "yubico" {
		t.Fatalf("Enroll = %+v", enr)
	}
	eid := enr.CredRequests[0].AuthenticatorEnrollmentID
	list, err := c.ListEnrollments(ctx, u.ID)
	if err != nil || len(list) != 1 || list[0].Status != okta.StatusFulfillmentPending || list[0].Profile.PresetPINAvailable {
		t.Fatalf("ListEnrollments after enroll = %+v, %v", list, err)
	}
	d, _ := srv.Enrollment(eid)
	if d.Request.UserVerification != "required" || !d.Request.ResidentKey || !cmp.Equal(d.Request.Algorithms, []int{-7}) ||
		!d.Request.ExpiresAt.Equal(srv.Now().Add(oktatest.DefaultChallengeTimeout)) || d.Request.CredProtect == 0 {
		t.Errorf("credential request = %+v", d.Request)
	}

	// One key in fulfillment per user.
	_, err = c.Enroll(ctx, okta.EnrollRequest{UserID: u.ID, RPIDs: []string{rpID}, TransportKey: fac.transport.Public()})
	var ae *okta.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.ErrorCode != "E0000001" || len(ae.Causes) != 1 || !strings.Contains(ae.Causes[0].ErrorSummary, eid) {
		t.Fatalf("second Enroll = %v, want 400 E0000001 naming %s", err, eid)
	}
	if err := c.InitiateFulfillment(ctx, okta.FulfillmentRequest{UserID: u.ID, FulfillmentData: okta.FulfillmentData{order}}); !errors.Is(err, okta.ErrValidation) {
		t.Fatalf("second InitiateFulfillment = %v, want ErrValidation", err)
	}

	const pin, newPIN = "48213957", "135792468"
	act := fac.program(t, srv, enr, pin, nil)
	got, err := c.Activate(ctx, act)
	if err != nil {
		t.Fatalf("Activate: %v (log %+v)", err, srv.RequestLog()[len(srv.RequestLog())-1])
	}
	if diff := cmp.Diff(okta.ActivateResponse{UserID: u.ID, FulfillmentProvider: "yubico", AuthenticatorEnrollmentIDs: []string{eid}}, got); diff != "" {
		t.Errorf("Activate (-want +got):\n%s", diff)
	}
	list, _ = c.ListEnrollments(ctx, u.ID)
	if len(list) != 1 || list[0].Status != okta.StatusActive || !list[0].Profile.PresetPINAvailable || list[0].Profile.CredentialID == "" {
		t.Fatalf("ListEnrollments after activate = %+v", list)
	}

	// The PIN goes to the secondary email of a STAGED user.
	if err := c.SendPIN(ctx, okta.SendPINRequest{UserID: u.ID, AuthenticatorEnrollmentID: eid}); err != nil {
		t.Fatalf("SendPIN: %v", err)
	}
	out := srv.Outbox()
	if len(out) != 1 || out[0].To != "isaac@home.example" || !strings.Contains(out[0].Body, pin) {
		t.Fatalf("outbox = %+v", out)
	}

	// Sign-in: a STAGED user must be activated first.
	if _, err := c.Authenticate(ctx, okta.AuthnRequest{Username: u.Profile.Login}); !errors.Is(err, okta.ErrUnauthorized) {
		t.Fatalf("Authenticate(STAGED) = %v, want ErrUnauthorized", err)
	}
	if err := c.ActivateUser(ctx, u.ID, false); err != nil {
		t.Fatalf("ActivateUser: %v", err)
	}
	tx, err := c.Authenticate(ctx, okta.AuthnRequest{Username: u.Profile.Login})
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	fs := tx.WebAuthnFactors()
	if tx.Status != okta.AuthnMFARequired || len(fs) != 1 || fs[0].ID != eid {
		t.Fatalf("Authenticate = %+v", tx)
	}
	ch, err := c.ChallengeWebAuthnFactor(ctx, tx.StateToken, eid)
	if err != nil {
		t.Fatalf("ChallengeWebAuthnFactor: %v", err)
	}
	optsJSON, err := ch.WebAuthnRequestOptions(rpID)
	if err != nil {
		t.Fatal(err)
	}
	// The factory forced a PIN change: the preset PIN cannot sign in yet.
	if _, err := fac.platform.GetAssertionJSON(ctx, "https://"+rpID, optsJSON, pin); !errors.Is(err, simulator.ErrPINPolicyViolation) {
		t.Fatalf("GetAssertion with the preset PIN = %v, want ErrPINPolicyViolation", err)
	}
	if err := fac.platform.ChangePIN(ctx, pin, newPIN); err != nil {
		t.Fatalf("ChangePIN: %v", err)
	}
	assertionJSON, err := fac.platform.GetAssertionJSON(ctx, "https://"+rpID, optsJSON, newPIN)
	if err != nil {
		t.Fatalf("GetAssertion: %v", err)
	}
	a, err := okta.ParseWebAuthnAssertion(assertionJSON)
	if err != nil {
		t.Fatal(err)
	}
	done, err := c.VerifyWebAuthnFactor(ctx, ch.StateToken, eid, a)
	if err != nil {
		t.Fatalf("VerifyWebAuthnFactor: %v (log %+v)", err, srv.RequestLog()[len(srv.RequestLog())-1])
	}
	if done.Status != okta.AuthnSuccess || done.SessionToken == "" {
		t.Fatalf("VerifyWebAuthnFactor = %+v", done)
	}
	// The state token completes once.
	if _, err := c.VerifyWebAuthnFactor(ctx, ch.StateToken, eid, a); !errors.Is(err, okta.ErrUnauthorized) {
		t.Errorf("replayed VerifyWebAuthnFactor = %v, want ErrUnauthorized", err)
	}

	list, _ = c.ListEnrollments(ctx, u.ID)
	if len(list) != 1 || list[0].Status != okta.StatusActive || list[0].Profile.PresetPINAvailable {
		t.Fatalf("ListEnrollments after sign-in = %+v", list)
	}
	if d, _ := srv.Enrollment(eid); d.PINStored || !srv.PINWiped(eid) || d.Credential == nil || d.Credential.SignCount == 0 {
		t.Errorf("after sign-in: PINStored %v, wiped %v, credential %+v", d.PINStored, srv.PINWiped(eid), d.Credential)
	}
	if err := c.SendPIN(ctx, okta.SendPINRequest{UserID: u.ID, AuthenticatorEnrollmentID: eid}); !errors.Is(err, okta.ErrValidation) {
		t.Fatalf("SendPIN after sign-in = %v, want ErrValidation", err)
	}
	if n := len(srv.Outbox()); n != 1 {
		t.Errorf("outbox has %d emails after refused send-pin, want 1", n)
	}
	if u2, _ := srv.User(u.ID); u2.LastLogin.IsZero() || u2.Status != okta.UserActive {
		t.Errorf("user after sign-in = %+v", u2)
	}
}

// TestActivateRefusesBadResponses: every broken response is refused with
// Okta's generic 400, the enrollment stays in fulfillment, and the request
// log says why.
func TestActivateRefusesBadResponses(t *testing.T) {
	t.Parallel()
	otherCA, err := simulator.NewCA(rand.Reader, "Some other FIDO root", simulatorNow())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		roots      []*x509Cert
		mutate     func(*webauthn.CredentialResponse)
		swapSigner bool
		edit       func(*okta.ActivateRequest) // after sealing
		advance    time.Duration
		wantDetail string
	}{
		{name: "sealed for another enrollment", mutate: func(r *webauthn.CredentialResponse) { r.EnrollmentID = "fwfAnotherEnrollment" }, wantDetail: "sealed for"},
		{name: "sealed for another user", mutate: func(r *webauthn.CredentialResponse) { r.UserID = "00uSomeoneElse000000" }, wantDetail: "sealed for"},
		{name: "unknown signer", swapSigner: true, wantDetail: "credResponses[0]"},
		{name: "credential request expired", advance: oktatest.DefaultChallengeTimeout + time.Hour, wantDetail: "expired"},
		{name: "untrusted attestation", roots: []*x509Cert{otherCA.Root()}, wantDetail: "credResponses[0]"},
		// The PIN response and the first credential response are sealed to
		// one key (the first enrollment's): only what each says it holds
		// keeps them apart.
		{name: "PIN response where the credential response goes", edit: func(a *okta.ActivateRequest) {
			a.CredResponses[0].CredResponseJWE = a.PINResponseJWE
		}, wantDetail: `credResponses[0]: webauthn: open credential response: jws header cty: "preenroll-pin-response+json"`},
		{name: "credential response where the PIN response goes", edit: func(a *okta.ActivateRequest) {
			a.PINResponseJWE = a.CredResponses[0].CredResponseJWE
		}, wantDetail: `pinResponseJwe: webauthn: open pin response: jws header cty: "preenroll-credential-response+json"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			roots := tc.roots
			if roots == nil {
				roots = []*x509Cert{simulator.DefaultFIDOCA().Root()}
			}
			e := enrollStagedUser(t, oktatest.WithAttestationRoots(roots...))
			srv, c, u, enr := e.srv, e.c, e.u, e.enr
			act := e.fac.program(t, srv, enr, "48213957", tc.mutate)
			if tc.swapSigner {
				other, err := webauthn.GenerateKey(rand.Reader, "other-signer", webauthn.UseSigning)
				if err != nil {
					t.Fatal(err)
				}
				act.SigningKeys = []webauthn.PublicJWK{other.Public()}
			}
			if tc.edit != nil {
				tc.edit(&act)
			}
			must(t, srv.Advance(tc.advance))
			_, err := c.Activate(t.Context(), act)
			var ae *okta.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("Activate = %v, want *APIError", err)
			}
			last := srv.RequestLog()[len(srv.RequestLog())-1]
			if !strings.Contains(last.Detail, tc.wantDetail) {
				t.Errorf("log detail = %q, want it to contain %q", last.Detail, tc.wantDetail)
			}
			// Okta's generic cause, then the fake's explanation.
			want := &okta.APIError{StatusCode: 400, ErrorCode: "E0000001", ErrorLink: "E0000001",
				ErrorSummary: "Api validation failed: pinResponseJwe|webAuthnCredResponse",
				Causes: okta.Causes{{ErrorSummary: "There was an unexpected internal error. Please try again."},
					{ErrorSummary: "oktatest: " + last.Detail}}}
			if diff := cmp.Diff(want, ae, cmpAPIError); diff != "" {
				t.Errorf("Activate error (-want +got):\n%s", diff)
			}
			list := srv.Enrollments(u.ID)
			if len(list) != 1 || list[0].Status != okta.StatusFulfillmentPending {
				t.Errorf("enrollments after refused activate = %+v", list)
			}
			if d, _ := srv.Enrollment(enr.CredRequests[0].AuthenticatorEnrollmentID); d.PINStored {
				t.Error("PIN stored after a refused activation")
			}
		})
	}
}

// TestMultipleRPIDsAndLifecycle enrolls two RP IDs (one enrollment and key
// pair each), then covers mark-error, re-activation from the errored state
// and delete.
func TestMultipleRPIDsAndLifecycle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	srv, c := newServerClient(t, oktatest.WithAttestationRoots(simulator.DefaultFIDOCA().Root()))
	u := seedUser(t, srv, "ann@example.com", okta.UserActive)
	fac := newFactory(t)
	enr, err := c.Enroll(ctx, okta.EnrollRequest{UserID: u.ID, RPIDs: []string{"example.okta.com", "login.example.com"}, TransportKey: fac.transport.Public()})
	if err != nil {
		t.Fatal(err)
	}
	if len(enr.CredRequests) != 2 || enr.CredRequests[0].KeyID == enr.CredRequests[1].KeyID {
		t.Fatalf("Enroll = %+v, want two enrollments with distinct keys", enr)
	}
	e0, e1 := enr.CredRequests[0].AuthenticatorEnrollmentID, enr.CredRequests[1].AuthenticatorEnrollmentID
	if err := c.MarkError(ctx, u.ID, e0); err != nil {
		t.Fatal(err)
	}
	if list := srv.Enrollments(u.ID); list[0].Status != okta.StatusFulfillmentErrored || list[1].Status != okta.StatusFulfillmentPending {
		t.Fatalf("after mark-error: %+v", list)
	}
	act := fac.program(t, srv, enr, "97531864", nil)
	partial := act
	partial.CredResponses = act.CredResponses[:1]
	if _, err := c.Activate(ctx, partial); !errors.Is(err, okta.ErrValidation) {
		t.Fatalf("Activate(missing a response) = %v, want ErrValidation", err)
	}
	if _, err := c.Activate(ctx, act); err != nil {
		t.Fatalf("Activate after mark-error: %v", err)
	}
	// ACTIVE users get the PIN at their primary email.
	if err := c.SendPIN(ctx, okta.SendPINRequest{UserID: u.ID, AuthenticatorEnrollmentID: e1}); err != nil {
		t.Fatal(err)
	}
	if out := srv.Outbox(); len(out) != 1 || out[0].To != "ann@example.com" || !strings.Contains(out[0].Body, "97531864") {
		t.Fatalf("outbox = %+v", out)
	}
	if err := c.DeleteEnrollment(ctx, u.ID, e0); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteEnrollment(ctx, u.ID, e0); !errors.Is(err, okta.ErrNotFound) {
		t.Fatalf("second DeleteEnrollment = %v, want ErrNotFound", err)
	}
	if d, _ := srv.Enrollment(e1); !d.PINStored {
		t.Error("deleting one enrollment of the key dropped the shared PIN")
	}
	if err := c.DeleteEnrollment(ctx, u.ID, e1); err != nil {
		t.Fatal(err)
	}
	if list, err := c.ListEnrollments(ctx, u.ID); err != nil || len(list) != 0 {
		t.Fatalf("ListEnrollments after delete = %+v, %v", list, err)
	}
	// The user can order again.
	if _, err := c.Enroll(ctx, okta.EnrollRequest{UserID: u.ID, RPIDs: []string{rpID}, TransportKey: fac.transport.Public()}); err != nil {
		t.Fatalf("Enroll after delete: %v", err)
	}
}

// The credential request Enrollment shows (rebuilt from what the fake
// keeps, see credRequest) is the one sealed into each credRequestJwe, for
// every RP ID of the enroll, and is the caller's own copy.
func TestEnrollmentShowsTheSealedRequest(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	srv, c := newServerClient(t)
	u := seedUser(t, srv, "ann@example.com", okta.UserActive)
	fac := newFactory(t)
	enr, err := c.Enroll(ctx, okta.EnrollRequest{UserID: u.ID, RPIDs: []string{"example.okta.com", "login.example.com"}, TransportKey: fac.transport.Public()})
	if err != nil {
		t.Fatal(err)
	}
	if len(enr.CredRequests) != 2 {
		t.Fatalf("Enroll = %+v, want two credential requests", enr)
	}
	// The PIN's response key is the first enrollment's (one P-384 key
	// fewer per key); the second enrollment has its own.
	pinReq, err := webauthn.OpenPINRequest(webauthn.Keyring{fac.transport}, enr.PINRequestJWE)
	if err != nil {
		t.Fatalf("pinRequestJwe: %v", err)
	}
	if got, want := pinReq.ResponseKey.Kid, enr.CredRequests[0].KeyID; got != want || got == enr.CredRequests[1].KeyID {
		t.Errorf("PIN request's response key %q, want the first enrollment's %q and not the second's %q", got, want, enr.CredRequests[1].KeyID)
	}
	for i, cr := range enr.CredRequests {
		sealed, err := webauthn.OpenCredentialRequest(webauthn.Keyring{fac.transport}, cr.CredRequestJWE, srv.Now())
		if err != nil {
			t.Fatalf("credRequests[%d]: %v", i, err)
		}
		d, ok := srv.Enrollment(cr.AuthenticatorEnrollmentID)
		if !ok {
			t.Fatalf("Enrollment(%s) not found", cr.AuthenticatorEnrollmentID)
		}
		if diff := cmp.Diff(sealed, d.Request); diff != "" {
			t.Errorf("credRequests[%d]: Enrollment's request differs from the sealed one (-sealed +shown):\n%s", i, diff)
		}
		if d.KeyID != cr.KeyID || d.Request.ResponseKey.Kid != cr.KeyID {
			t.Errorf("credRequests[%d]: key %q, request's response key %q, want %q", i, d.KeyID, d.Request.ResponseKey.Kid, cr.KeyID)
		}
		clear(d.Request.Challenge)
		clear(d.Request.UserHandle)
		if again, _ := srv.Enrollment(cr.AuthenticatorEnrollmentID); !cmp.Equal(sealed, again.Request) {
			t.Errorf("credRequests[%d]: changing a shown request changed the fake's", i)
		}
	}
}

// BenchmarkEnrollActivate measures one key's preregistration through the
// fake: enroll (key generation and sealing), the factory's work on the
// simulated key, and activate (opening, signature and attestation checks).
func BenchmarkEnrollActivate(b *testing.B) {
	srv := oktatest.NewServer(b, oktatest.WithAttestationRoots(simulator.DefaultFIDOCA().Root()), oktatest.WithoutRateLimits())
	c, err := srv.Client()
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		u, err := srv.AddUser(okta.Profile{Login: fmt.Sprintf("b%d@example.com", i), Email: "b@example.com", FirstName: "B", LastName: "M"}, okta.UserActive)
		if err != nil {
			b.Fatal(err)
		}
		fac := newFactory(b)
		enr, err := c.Enroll(b.Context(), okta.EnrollRequest{UserID: u.ID, RPIDs: []string{rpID}, TransportKey: fac.transport.Public()})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Activate(b.Context(), fac.program(b, srv, enr, "48213957", nil)); err != nil {
			b.Fatal(err)
		}
	}
}

// Concurrent enrolls of one user (the sealing runs outside the server's
// lock) still leave exactly one key in fulfillment: one wins, the others
// get 400 E0000001.
func TestConcurrentEnrollOneWins(t *testing.T) {
	t.Parallel()
	srv, c := newServerClient(t)
	u := seedUser(t, srv, "race@example.com", okta.UserActive)
	tk := newFactory(t).transport.Public()
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = c.Enroll(t.Context(), okta.EnrollRequest{UserID: u.ID, RPIDs: []string{"example.okta.com"}, TransportKey: tk})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, okta.ErrValidation):
			t.Errorf("Enroll = %v, want success or ErrValidation", err)
		}
	}
	if got := len(srv.Enrollments(u.ID)); won != 1 || got != 1 {
		t.Errorf("%d of %d enrolls succeeded, %d enrollments stored; want 1 and 1", won, n, got)
	}
}

// send-pin before activation (FULFILLMENT_PENDING, and FULFILLMENT_ERRORED
// after mark-error) is refused with 400 E0000001 and sends no email: there
// is no PIN yet.
func TestSendPINBeforeActivation(t *testing.T) {
	t.Parallel()
	srv, c := newServerClient(t)
	u := stagedUser(t, srv)
	enr, err := c.Enroll(t.Context(), okta.EnrollRequest{UserID: u.ID, RPIDs: []string{rpID}, TransportKey: newFactory(t).transport.Public()})
	if err != nil {
		t.Fatal(err)
	}
	eid := enr.CredRequests[0].AuthenticatorEnrollmentID
	for _, step := range []string{"pending", "errored"} {
		if step == "errored" {
			if err := c.MarkError(t.Context(), u.ID, eid); err != nil {
				t.Fatal(err)
			}
		}
		err := c.SendPIN(t.Context(), okta.SendPINRequest{UserID: u.ID, AuthenticatorEnrollmentID: eid})
		var ae *okta.APIError
		if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.ErrorCode != "E0000001" {
			t.Errorf("SendPIN(%s) = %v, want 400 E0000001", step, err)
		}
	}
	if out := srv.Outbox(); len(out) != 0 {
		t.Errorf("outbox = %+v, want empty", out)
	}
}

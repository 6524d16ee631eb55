package yubicotest_test

import (
	"crypto/x509"
	"errors"
	"io"
	mrand "math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/simulator"
	"github.com/preenroll/preenroll/webauthn"
	"github.com/preenroll/preenroll/yubico"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// seeded returns a deterministic randomness source.
func seeded(n byte) *mrand.ChaCha8 {
	var seed [32]byte
	seed[0] = n
	return mrand.NewChaCha8(seed)
}

func newServer(t testing.TB, opts ...yubicotest.Option) *yubicotest.Server {
	t.Helper()
	return yubicotest.NewServer(t, append([]yubicotest.Option{yubicotest.WithRand(seeded(1))}, opts...)...)
}

func usAddress() yubico.Address {
	return yubico.Address{StreetLine1: "7788 Foxrun Street", City: "Dedham", Region: "MA", PostalCode: "02026", CountryCode: "US"}
}

func exactRequest() yubico.ShipmentRequest {
	return yubico.ShipmentRequest{
		DeliveryType:       yubico.DeliveryNormal,
		Recipient:          "Example Inc.",
		RecipientEmail:     "jan.lindberg@example.com",
		RecipientFirstName: "Jan",
		RecipientLastName:  "Lindberg",
		RecipientTelephone: "555-5555",
		Address:            usAddress(),
		Items:              []yubico.ItemRequest{{ProductID: 1, InventoryProductID: 1, Quantity: 2}},
	}
}

// states records the state of a shipment after each step.
func mustShipment(t testing.TB, c *yubico.Client, id string) yubico.Shipment {
	t.Helper()
	s, err := c.Shipment(t.Context(), id)
	if err != nil {
		t.Fatalf("Shipment(%q): %v", id, err)
	}
	return s
}

func advance(t testing.TB, s *yubicotest.Server, d time.Duration) {
	t.Helper()
	if err := s.Advance(d); err != nil {
		t.Fatal(err)
	}
}

func TestExactLifecycle(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := srv.Client()
	ctx := t.Context()

	created, err := c.CreateShipment(ctx, exactRequest())
	if err != nil {
		t.Fatalf("CreateShipment: %v", err)
	}
	if created.State != yubico.StateAwaitingValidation || len(created.ID) != 22 || created.StateMessage != "Awaiting Validation" {
		t.Fatalf("created = %+v, want state 3 with a 22-character ID", created)
	}
	id := created.ID

	type step struct {
		At          time.Time
		State       yubico.ShipmentState
		Sent        bool
		Shipped     bool
		Delivered   bool
		Tracking    bool
		DeliveredAt time.Time
	}
	var got []step
	record := func() {
		s := mustShipment(t, c, id)
		got = append(got, step{srv.Now(), s.State, s.IsSentToFulfillment, s.IsShipped, s.IsDelivered, s.TrackingLink != "", s.DeliveredDate})
	}
	start := srv.Now()              // 09:00 PST, Monday
	advance(t, srv, 15*time.Minute) // validated, still awaiting the batch
	record()
	batch := srv.NextBatch() // Tuesday 03:00 PST
	if err := srv.SetNow(batch.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	record()
	advance(t, srv, time.Second) // the batch
	record()
	// Editing and cancelling are refused from state 10 on.
	if _, err := c.UpdateShipment(ctx, id, exactRequest()); !errors.Is(err, yubico.ErrConflict) {
		t.Errorf("UpdateShipment at 10: error = %v, want ErrConflict", err)
	}
	if err := c.DeleteShipment(ctx, id); !errors.Is(err, yubico.ErrConflict) {
		t.Errorf("DeleteShipment at 10: error = %v, want ErrConflict", err)
	}
	advance(t, srv, 24*time.Hour) // shipped
	record()
	advance(t, srv, 48*time.Hour) // delivered
	record()

	pst := time.FixedZone("PST", -8*3600)
	wantBatch := time.Date(2026, 3, 3, 3, 0, 0, 0, pst)
	want := []step{
		{start.Add(15 * time.Minute), yubico.StateAwaitingValidation, false, false, false, false, time.Time{}},
		{wantBatch.Add(-time.Second), yubico.StateAwaitingValidation, false, false, false, false, time.Time{}},
		{wantBatch, yubico.StateSentToFulfillment, true, false, false, false, time.Time{}},
		{wantBatch.Add(24 * time.Hour), yubico.StateShipped, true, true, false, true, time.Time{}},
		{wantBatch.Add(72 * time.Hour), yubico.StateDelivered, true, true, true, true, wantBatch.Add(72 * time.Hour).UTC()},
	}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); d != "" {
		t.Errorf("lifecycle mismatch (-want +got):\n%s", d)
	}
	// Inventory is drawn at the batch.
	inv, err := c.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if inv[0].ProductID != 1 || inv[0].Quantity != 98 {
		t.Errorf("inventory[0] = %+v, want product 1 with 98 left", inv[0])
	}
}

func TestAddressValidationOutcomes(t *testing.T) {
	t.Parallel()
	nowhere := yubico.Address{StreetLine1: "123 XYZ", City: "Nowhere", Region: "CA", PostalCode: "11111", CountryCode: "US"}
	tests := []struct {
		name   string
		edit   func(*yubico.ShipmentRequest)
		fault  yubicotest.ShipmentFault
		want   yubico.ShipmentState
		wantIn string // in the messages
	}{
		{"deliverable", func(*yubico.ShipmentRequest) {}, 0, yubico.StateAwaitingValidation, ""},
		{"undeliverable", func(r *yubico.ShipmentRequest) { r.Address = nowhere }, 0, yubico.StateUndeliverable, "undeliverable"},
		{"bypass", func(r *yubico.ShipmentRequest) { r.Address, r.AddressValidationBypass = nowhere, true }, 0, yubico.StateAwaitingValidation, ""},
		{"PO box abroad", func(r *yubico.ShipmentRequest) {
			r.Address = yubico.Address{StreetLine1: "P.O. Box 12", City: "Stockholm", PostalCode: "11122", CountryCode: "SE"}
		}, 0, yubico.StateUndeliverable, "PO boxes"},
		{"denied party", func(r *yubico.ShipmentRequest) { r.RecipientFirstName, r.RecipientLastName = "Mallory", "Evil" }, 0, yubico.StateDPLMatch, "denied-party"},
		{"denied company", func(r *yubico.ShipmentRequest) { r.Recipient = "ACME  Shady Corp" }, 0, yubico.StateDPLMatch, "denied-party"},
		{"injected undeliverable", func(*yubico.ShipmentRequest) {}, yubicotest.ShipmentFaultUndeliverable, yubico.StateUndeliverable, "injected"},
		{"injected DPL", func(*yubico.ShipmentRequest) {}, yubicotest.ShipmentFaultDPLMatch, yubico.StateDPLMatch, "injected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, yubicotest.WithDeniedParties("Mallory Evil", "acme shady corp"))
			c := srv.Client()
			if tt.fault != 0 {
				if err := srv.InjectShipmentFaultNext(tt.fault); err != nil {
					t.Fatal(err)
				}
			}
			req := exactRequest()
			tt.edit(&req)
			s, err := c.CreateShipment(t.Context(), req)
			if err != nil {
				t.Fatalf("CreateShipment: %v", err)
			}
			if s.State != yubico.StateAwaitingValidation {
				t.Fatalf("state at create = %v, want 3 (validation is asynchronous)", s.State)
			}
			advance(t, srv, 15*time.Minute)
			got := mustShipment(t, c, s.ID)
			if got.State != tt.want {
				t.Errorf("state after validation = %d %v, want %d", got.State, got.State, tt.want)
			}
			if tt.wantIn != "" && !strings.Contains(strings.Join(got.Messages, "|"), tt.wantIn) {
				t.Errorf("messages = %q, want one containing %q", got.Messages, tt.wantIn)
			}
			if !got.State.Editable() {
				t.Fatalf("state %v not editable", got.State)
			}
			// An error state at or below 9 is fixed by editing: back to 3,
			// validated again, on to fulfillment.
			if got.State.Failed() {
				fixed := exactRequest()
				up, err := c.UpdateShipment(t.Context(), s.ID, fixed)
				if err != nil || up.State != yubico.StateAwaitingValidation {
					t.Fatalf("UpdateShipment = %v, %v; want state 3", up.State, err)
				}
				if err := srv.InjectShipmentFault(s.ID, 0); err != nil {
					t.Fatal(err)
				}
				if err := srv.SetNow(srv.NextBatch()); err != nil {
					t.Fatal(err)
				}
				if st := mustShipment(t, c, s.ID).State; st != yubico.StateSentToFulfillment {
					t.Errorf("state after fix and batch = %v, want 10", st)
				}
			}
		})
	}
}

func TestBatchAndDeliveryFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fault yubicotest.ShipmentFault
		after time.Duration // after the batch
		want  yubico.ShipmentState
	}{
		{yubicotest.ShipmentFaultProcessingError, 0, yubico.StateProcessingError},
		{yubicotest.ShipmentFaultShippingError, 24 * time.Hour, yubico.StateShippingError},
		{yubicotest.ShipmentFaultLost, 72 * time.Hour, yubico.StateLost},
		{yubicotest.ShipmentFaultDeliveryException, 72 * time.Hour, yubico.StateDeliveryException},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			t.Parallel()
			srv := newServer(t)
			c := srv.Client()
			s, err := c.CreateShipment(t.Context(), exactRequest())
			if err != nil {
				t.Fatal(err)
			}
			if err := srv.InjectShipmentFault(s.ID, tt.fault); err != nil {
				t.Fatal(err)
			}
			if err := srv.SetNow(srv.NextBatch().Add(tt.after)); err != nil {
				t.Fatal(err)
			}
			if got := mustShipment(t, c, s.ID).State; got != tt.want {
				t.Errorf("state = %d (%v), want %d", got, got, tt.want)
			}
			// Nothing more happens to a failed shipment.
			advance(t, srv, 30*24*time.Hour)
			if got := mustShipment(t, c, s.ID).State; got != tt.want {
				t.Errorf("state a month later = %d, want %d", got, tt.want)
			}
		})
	}
	if err := newServer(t).InjectShipmentFault("nope", yubicotest.ShipmentFaultLost); err == nil {
		t.Error("InjectShipmentFault on an unknown ID succeeded")
	}
}

func TestInsufficientInventory(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	if err := srv.SetInventory(1, 3); err != nil {
		t.Fatal(err)
	}
	c := srv.Client()
	// Over-requesting is allowed at create; the batch draws in creation order.
	first, err := c.CreateShipment(t.Context(), exactRequest()) // 2 keys
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.CreateShipment(t.Context(), exactRequest()) // 2 more
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.SetNow(srv.NextBatch()); err != nil {
		t.Fatal(err)
	}
	if st := mustShipment(t, c, first.ID).State; st != yubico.StateSentToFulfillment {
		t.Errorf("first state = %v, want 10", st)
	}
	got := mustShipment(t, c, second.ID)
	if got.State != yubico.StateProcessingError || !strings.Contains(strings.Join(got.Messages, ""), "insufficient inventory") {
		t.Errorf("second = state %v messages %q, want 8 with insufficient inventory", got.State, got.Messages)
	}
	if q := srv.Inventory()[0].Quantity; q != 1 {
		t.Errorf("inventory left = %d, want 1", q)
	}
}

// okta plays the identity provider: it holds response keys and seals
// requests to Yubico's transport key, as Okta's enroll does.
type okta struct {
	key      *webauthn.PrivateKey
	pinReq   string
	credReqs []string
	reqs     []webauthn.CredentialRequest
}

func newOkta(t testing.TB, c *yubico.Client, now time.Time, rpIDs ...string) *okta {
	t.Helper()
	rnd := seeded(7)
	key, err := webauthn.GenerateKey(rnd, "okta-response-1", webauthn.UseEncryption)
	if err != nil {
		t.Fatal(err)
	}
	transport, err := c.TransportKeys(t.Context())
	if err != nil {
		t.Fatalf("TransportKeys: %v", err)
	}
	to := transport[0]
	o := &okta{key: key}
	if o.pinReq, err = webauthn.SealPINRequest(to, webauthn.PINRequest{Version: webauthn.MessageVersion, UserID: "00u1", ResponseKey: key.Public()}); err != nil {
		t.Fatal(err)
	}
	for i, rp := range rpIDs {
		req := credRequest(rnd, "pfd"+string(rune('A'+i)), rp, now, key)
		sealed, err := webauthn.SealCredentialRequest(to, req)
		if err != nil {
			t.Fatal(err)
		}
		o.credReqs = append(o.credReqs, sealed)
		o.reqs = append(o.reqs, req)
	}
	return o
}

// credRequest is Okta's credential request for user 00u1 (Jan Lindberg)
// and RP ID rp, expiring 30 days after now, with a challenge drawn from
// rnd, to be answered to key.
func credRequest(rnd io.Reader, enrollmentID, rp string, now time.Time, key *webauthn.PrivateKey) webauthn.CredentialRequest {
	challenge := make([]byte, 32)
	_, _ = io.ReadFull(rnd, challenge)
	return webauthn.CredentialRequest{
		Version: webauthn.MessageVersion, UserID: "00u1", EnrollmentID: enrollmentID,
		RPID: rp, RPName: "Example", UserHandle: []byte("user-handle-00u1"), UserName: "jan@example.com",
		UserDisplayName: "Jan Lindberg", Challenge: challenge, Algorithms: []int{-7}, ResidentKey: true,
		UserVerification: "required", ExpiresAt: now.Add(30 * 24 * time.Hour), ResponseKey: key.Public(),
	}
}

func fprRequest(o *okta) yubico.FPRShipmentRequest {
	return yubico.NewFPRShipmentRequest(
		yubico.FPRRecipient{Company: "Example Inc.", Email: "jan@example.com", FirstName: "Jan", LastName: "Lindberg", Telephone: "555-5555"},
		usAddress(), 1, 106, "CID-EXAMPLE", o.pinReq, o.credReqs)
}

func TestFPRLifecycleWithFactory(t *testing.T) {
	t.Parallel()
	ca := simulator.DefaultFIDOCA()
	srv := newServer(t, yubicotest.WithFIDOCA(ca), yubicotest.WithSerialStart(20000001))
	c := srv.Client()
	ctx := t.Context()
	rpIDs := []string{"example.okta.com", "login.example.com"}
	o := newOkta(t, c, srv.Now(), rpIDs...)

	req := fprRequest(o)
	created, err := c.CreateFPRShipment(ctx, req)
	if err != nil {
		t.Fatalf("CreateFPRShipment: %v", err)
	}
	if created.State.ID != yubico.StateAwaitingValidation {
		t.Fatalf("created state = %v, want 3", created.State.ID)
	}
	id := created.ID
	// The shipment echoes the request, without its customization.
	it := req.Items[0]
	want := yubico.FPRShipment{ID: id, State: created.State, DeliveryType: req.DeliveryType, Recipient: req.Recipient,
		MailingAddress: req.MailingAddress, Items: []yubico.FPRShipmentItem{{ProductID: it.ProductID,
			InventoryProductID: it.InventoryProductID, Quantity: it.Quantity, CustomizationID: it.CustomizationID}}}
	if d := cmp.Diff(want, created); d != "" {
		t.Errorf("created shipment (-want +got):\n%s", d)
	}
	if got, err := c.FPRShipment(ctx, id); err != nil {
		t.Fatal(err)
	} else if d := cmp.Diff(want, got); d != "" {
		t.Errorf("FPRShipment (-want +got):\n%s", d)
	}
	if _, err := srv.Parcel(id); !errors.Is(err, yubicotest.ErrNotShipped) {
		t.Errorf("Parcel before shipping: error = %v, want ErrNotShipped", err)
	}
	if err := srv.SetNow(srv.NextBatch()); err != nil {
		t.Fatal(err)
	}
	got, err := c.FPRShipment(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.State.ID != yubico.StateSentToFulfillment {
		t.Fatalf("state after batch = %v (messages %q), want 10", got.State.ID, srv.Messages(id))
	}
	if _, ok := got.ProductData(); ok {
		t.Errorf("product data visible at state 10")
	}
	if err := c.CancelFPRShipment(ctx, id); !errors.Is(err, yubico.ErrConflict) {
		t.Errorf("CancelFPRShipment at 10: error = %v, want ErrConflict", err)
	}
	prog, ok := srv.Programming(id)
	if !ok || !prog.Purged || prog.Serial != 20000001 {
		t.Errorf("Programming = %+v, %v; want serial 20000001 and purged", prog, ok)
	}
	if d := cmp.Diff([]string{"pfdA", "pfdB"}, prog.EnrollmentIDs); d != "" {
		t.Errorf("EnrollmentIDs mismatch (-want +got):\n%s", d)
	}
	advance(t, srv, 24*time.Hour)
	got, err = c.FPRShipment(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.State.ID != yubico.StateShipped {
		t.Fatalf("state = %v, want 103", got.State.ID)
	}
	advance(t, srv, 48*time.Hour)
	got, err = c.FPRShipment(ctx, id)
	if err != nil || got.State.ID != yubico.StateDelivered {
		t.Fatalf("FPRShipment = %v, %v; want 104", got.State.ID, err)
	}
	pd, ok := got.ProductData()
	if !ok || pd.SerialNumber != "20000001" || pd.FirmwareVersion == "" || len(pd.CredentialResponses) != 2 {
		t.Fatalf("product data = %+v", pd)
	}

	// Okta's side: open and verify with the published signing keys.
	signing, err := c.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	signers := webauthn.JWKS{Keys: signing}
	ring := webauthn.Keyring{o.key}
	rp, err := webauthn.New(webauthn.Config{RPIDs: rpIDs, TrustRoots: []*x509.Certificate{ca.Root()}, RequireAttestation: true,
		Now: srv.Now})
	if err != nil {
		t.Fatal(err)
	}
	var creds []webauthn.Credential
	for i, jwe := range pd.CredentialResponses {
		resp, err := webauthn.OpenCredentialResponse(ring, signers, jwe)
		if err != nil {
			t.Fatalf("OpenCredentialResponse %d: %v", i, err)
		}
		if resp.EnrollmentID != o.reqs[i].EnrollmentID {
			t.Errorf("response %d enrollment = %q, want %q", i, resp.EnrollmentID, o.reqs[i].EnrollmentID)
		}
		cred, err := rp.VerifyPreregistered(ctx, o.reqs[i], resp)
		if err != nil {
			t.Fatalf("VerifyPreregistered %d: %v", i, err)
		}
		creds = append(creds, cred)
	}
	pinResp, err := webauthn.OpenPINResponse(ring, signers, pd.PINResponse)
	if err != nil {
		t.Fatalf("OpenPINResponse: %v", err)
	}
	pin := string(pinResp.PIN)
	if len(pin) != 8 || strings.Trim(pin, "0123456789") != "" {
		t.Errorf("PIN is not 8 digits (length %d)", len(pin))
	}

	// The user: the parcel's key needs a PIN change first, then signs in.
	key, err := srv.Parcel(id)
	if err != nil {
		t.Fatalf("Parcel: %v", err)
	}
	if key.Serial() != 20000001 {
		t.Errorf("parcel serial = %d, want 20000001", key.Serial())
	}
	p := simulator.NewPlatform(key)
	opts, session, err := rp.BeginLogin(rpIDs[0], o.reqs[0].UserHandle, creds[:1])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.GetAssertion(ctx, "https://"+rpIDs[0], opts, pin); !errors.Is(err, simulator.ErrPINPolicyViolation) {
		t.Errorf("GetAssertion before the PIN change: error = %v, want ErrPINPolicyViolation", err)
	}
	const newPIN = "58203741"
	if err := p.ChangePIN(ctx, pin, newPIN); err != nil {
		t.Fatalf("ChangePIN: %v", err)
	}
	assertion, err := p.GetAssertion(ctx, "https://"+rpIDs[0], opts, newPIN)
	if err != nil {
		t.Fatalf("GetAssertion: %v", err)
	}
	a, err := webauthn.ParseAssertionJSON(assertion)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rp.FinishLogin(ctx, session, creds[:1], a); err != nil {
		t.Errorf("FinishLogin: %v", err)
	}
}

// must fails the test on an error from a fake's control method.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestLagging(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := srv.Client()
	if _, ok := srv.Lagging(yubico.StateShipped); ok {
		t.Fatal("Lagging on an empty server = true")
	}
	first, err := c.CreateShipment(t.Context(), exactRequest())
	must(t, err)
	advance(t, srv, 15*time.Minute) // first validated
	if _, err := c.CreateShipment(t.Context(), exactRequest()); err != nil {
		t.Fatal(err)
	}

	check := func(st yubico.ShipmentState, wantID string) {
		t.Helper()
		got, ok := srv.Lagging(st)
		if wantID == "" {
			if ok {
				t.Errorf("Lagging(%d) = %s in state %d, want none", int(st), got.ID, int(got.State))
			}
			return
		}
		var want yubico.Shipment
		for _, sh := range srv.Shipments() {
			if sh.ID == wantID {
				want = sh
			}
		}
		if !ok {
			t.Fatalf("Lagging(%d) = none, want %s", int(st), wantID)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("Lagging(%d) differs from Shipments (-want +got):\n%s", int(st), d)
		}
	}
	check(yubico.StateAwaitingValidation, "")
	check(yubico.StateSentToFulfillment, first.ID) // the first in creation order
	must(t, srv.SetNow(srv.NextBatch()))           // both programmed
	check(yubico.StateSentToFulfillment, "")
	check(yubico.StateShipped, first.ID)
	advance(t, srv, 24*time.Hour) // both shipped
	check(yubico.StateShipped, "")
	check(yubico.StateDelivered, first.ID)
}

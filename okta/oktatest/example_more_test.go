package oktatest_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/simulator"
	"github.com/preenroll/preenroll/webauthn"
)

// ExampleServer_Outbox reads the PIN email of a pre-registered key: once
// the key is activated, send-pin mails the preset PIN to a STAGED user's
// secondary email, and the outbox is that mailbox.
func ExampleServer_Outbox() {
	ctx := context.Background()
	srv, c, err := startExampleOrg()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	u, err := srv.AddUser(okta.Profile{
		Login: "isaac@example.com", Email: "isaac@example.com", SecondEmail: "isaac@home.example",
		FirstName: "Isaac", LastName: "Brock",
	}, okta.UserStaged)
	if err != nil {
		fmt.Println(err)
		return
	}
	const presetPIN = "48213957"
	_, enrollmentID, err := programByHand(ctx, srv, c, u.ID, presetPIN)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := c.SendPIN(ctx, okta.SendPINRequest{UserID: u.ID, AuthenticatorEnrollmentID: enrollmentID}); err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range srv.Outbox() {
		fmt.Printf("to %s, %q, carries the PIN: %v\n", m.To, m.Subject, strings.Contains(m.Body, "\n    "+presetPIN+"\n"))
	}
	// The user reads the newest PIN email in the mailbox.
	pin, err := srv.PIN("isaac@home.example")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("PIN read from the email is the preset PIN:", pin == presetPIN)
	_, err = srv.PIN("isaac@example.com")
	fmt.Println("nothing at the primary email:", errors.Is(err, oktatest.ErrNoPINEmail))
	// Output:
	// to isaac@home.example, "Your YubiKey PIN", carries the PIN: true
	// PIN read from the email is the preset PIN: true
	// nothing at the primary email: true
}

// ExampleServer_PINWiped shows the preset PIN's end: the first sign-in
// with the key wipes it in Okta, after which send-pin is refused; the
// sign-in also sets the user's lastLogin.
func ExampleServer_PINWiped() {
	ctx := context.Background()
	srv, c, err := startExampleOrg()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	u, err := srv.AddUser(okta.Profile{
		Login: "ada@example.com", Email: "ada@example.com", FirstName: "Ada", LastName: "Okafor",
	}, okta.UserActive)
	if err != nil {
		fmt.Println(err)
		return
	}
	const presetPIN, newPIN = "48213957", "135792468"
	platform, enrollmentID, err := programByHand(ctx, srv, c, u.ID, presetPIN)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("before sign-in: PIN wiped", srv.PINWiped(enrollmentID))
	if err := srv.Advance(48 * time.Hour); err != nil { // the parcel travels
		fmt.Println(err)
		return
	}
	status, err := signInByHand(ctx, c, platform, u.Profile.Login, presetPIN, newPIN)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("sign-in:", status)
	fmt.Println("after sign-in: PIN wiped", srv.PINWiped(enrollmentID))
	err = c.SendPIN(ctx, okta.SendPINRequest{UserID: u.ID, AuthenticatorEnrollmentID: enrollmentID})
	fmt.Println("send-pin refused:", errors.Is(err, okta.ErrValidation))
	got, _ := srv.User(u.ID)
	fmt.Println("lastLogin:", got.LastLogin.Format(time.RFC3339))
	// Output:
	// before sign-in: PIN wiped false
	// sign-in: SUCCESS
	// after sign-in: PIN wiped true
	// send-pin refused: true
	// lastLogin: 2026-03-03T09:00:00Z
}

// ExampleServer_AddEventHook registers an event hook, which Okta verifies
// first, and receives the event an order emits.
func ExampleServer_AddEventHook() {
	ctx := context.Background()
	srv, c, err := startExampleOrg()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	const secret = "hook-secret-2f9c"
	var (
		mu       sync.Mutex
		received []string
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != secret {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodGet { // the one-time verification
			_ = json.NewEncoder(w).Encode(map[string]string{"verification": r.Header.Get("X-Okta-Verification-Challenge")})
			return
		}
		var body struct {
			Data struct {
				Events []struct {
					EventType string `json:"eventType"`
					Target    []struct {
						Type string `json:"type"`
					} `json:"target"`
				} `json:"events"`
			} `json:"data"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, e := range body.Data.Events {
			var targets []string
			for _, t := range e.Target {
				targets = append(targets, t.Type)
			}
			received = append(received, fmt.Sprintf("%s (target %s)", e.EventType, strings.Join(targets, ", ")))
		}
	}))
	defer hook.Close()
	if _, err := srv.AddEventHook(ctx, hook.URL, secret, okta.EventTypePreregisterInitiate); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("hook verified")

	u, err := srv.AddUser(okta.Profile{
		Login: "isaac@example.com", Email: "isaac@example.com", SecondEmail: "isaac@home.example",
		FirstName: "Isaac", LastName: "Brock",
	}, okta.UserStaged)
	if err != nil {
		fmt.Println(err)
		return
	}
	err = c.InitiateFulfillment(ctx, okta.FulfillmentRequest{UserID: u.ID,
		FulfillmentData: okta.FulfillmentData{{ProductID: "1", InventoryProductID: "12", CustomizationID: "2EZ4RZ"}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Okta delivers asynchronously, after answering the request.
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ds, err := srv.AwaitDeliveries(waitCtx, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("delivered:", ds[0].EventType, "answered", ds[0].Status)
	mu.Lock()
	defer mu.Unlock()
	fmt.Println("received:", strings.Join(received, ", "))
	// Output:
	// hook verified
	// delivered: system.mfa.preregister.initiate answered 200
	// received: system.mfa.preregister.initiate (target User, PreregistrationMFAFactorResourceDetails)
}

// startExampleOrg starts a fake org on a fixed clock that trusts the
// simulator's attestation CA, and its client.
func startExampleOrg() (*oktatest.Server, *okta.Client, error) {
	srv, err := oktatest.Start(
		oktatest.WithNow(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)),
		oktatest.WithAttestationRoots(simulator.DefaultFIDOCA().Root()),
	)
	if err != nil {
		return nil, nil, err
	}
	c, err := srv.Client()
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	return srv, c, nil
}

// programByHand plays Yubico's side for one user (see factory in
// roundtrip_test.go): order, enroll with a transport key, create the
// credentials on a simulated key with a preset PIN (forcing a PIN change)
// and activate them with sealed responses. It returns the platform the
// user signs in with and the enrollment ID.
func programByHand(ctx context.Context, srv *oktatest.Server, c *okta.Client, userID, pin string) (*simulator.Platform, string, error) {
	transport, err := webauthn.GenerateKey(rand.Reader, "APCS-Ttrans-C19881-I009", webauthn.UseEncryption)
	if err != nil {
		return nil, "", err
	}
	signer, err := webauthn.GenerateKey(rand.Reader, "APCS-Tsgnkey-C19881-H0027616953", webauthn.UseSigning)
	if err != nil {
		return nil, "", err
	}
	key, err := simulator.New(simulator.WithSerial(3632071))
	if err != nil {
		return nil, "", err
	}
	platform := simulator.NewPlatform(key)
	err = c.InitiateFulfillment(ctx, okta.FulfillmentRequest{UserID: userID,
		FulfillmentData: okta.FulfillmentData{{ProductID: "1", InventoryProductID: "12", CustomizationID: "2EZ4RZ"}}})
	if err != nil {
		return nil, "", err
	}
	enr, err := c.Enroll(ctx, okta.EnrollRequest{UserID: userID, RPIDs: []string{rpID}, TransportKey: transport.Public()})
	if err != nil {
		return nil, "", err
	}
	ring := webauthn.Keyring{transport}
	pinReq, err := webauthn.OpenPINRequest(ring, enr.PINRequestJWE)
	if err != nil {
		return nil, "", err
	}
	if err := platform.SetPIN(ctx, pin); err != nil {
		return nil, "", err
	}
	act := okta.ActivateRequest{
		UserID: userID, Serial: strconv.FormatUint(uint64(key.Serial()), 10), Version: key.Firmware().String(),
		SigningKeys: []webauthn.PublicJWK{signer.Public()},
	}
	for _, cr := range enr.CredRequests {
		req, err := webauthn.OpenCredentialRequest(ring, cr.CredRequestJWE, srv.Now())
		if err != nil {
			return nil, "", err
		}
		credJSON, err := platform.CreateCredential(ctx, "https://"+req.RPID, req.CreationOptions(), pin)
		if err != nil {
			return nil, "", err
		}
		resp, err := webauthn.NewCredentialResponse(req.UserID, req.EnrollmentID, credJSON)
		if err != nil {
			return nil, "", err
		}
		sealed, err := webauthn.SealCredentialResponse(req.ResponseKey, signer, resp)
		if err != nil {
			return nil, "", err
		}
		act.CredResponses = append(act.CredResponses, okta.CredResponse{AuthenticatorEnrollmentID: cr.AuthenticatorEnrollmentID, CredResponseJWE: sealed})
	}
	if err := platform.ForcePINChange(ctx, pin); err != nil {
		return nil, "", err
	}
	act.PINResponseJWE, err = webauthn.SealPINResponse(pinReq.ResponseKey, signer,
		webauthn.PINResponse{Version: webauthn.MessageVersion, UserID: pinReq.UserID, PIN: webauthn.Secret(pin)})
	if err != nil {
		return nil, "", err
	}
	if _, err := c.Activate(ctx, act); err != nil {
		return nil, "", err
	}
	return platform, enr.CredRequests[0].AuthenticatorEnrollmentID, nil
}

// signInByHand changes the key's preset PIN and signs in through the Authn
// API with the key's WebAuthn factor, returning the final status.
func signInByHand(ctx context.Context, c *okta.Client, platform *simulator.Platform, login, presetPIN, newPIN string) (okta.AuthnStatus, error) {
	if err := platform.ChangePIN(ctx, presetPIN, newPIN); err != nil {
		return "", err
	}
	tx, err := c.Authenticate(ctx, okta.AuthnRequest{Username: login})
	if err != nil {
		return "", err
	}
	factors := tx.WebAuthnFactors()
	if len(factors) == 0 {
		return "", fmt.Errorf("no WebAuthn factor offered (status %s)", tx.Status)
	}
	if tx, err = c.ChallengeWebAuthnFactor(ctx, tx.StateToken, factors[0].ID); err != nil {
		return "", err
	}
	options, err := tx.WebAuthnRequestOptions(rpID)
	if err != nil {
		return "", err
	}
	credential, err := platform.GetAssertionJSON(ctx, "https://"+rpID, options, newPIN)
	if err != nil {
		return "", err
	}
	assertion, err := okta.ParseWebAuthnAssertion(credential)
	if err != nil {
		return "", err
	}
	if tx, err = c.VerifyWebAuthnFactor(ctx, tx.StateToken, factors[0].ID, assertion); err != nil {
		return "", err
	}
	return tx.Status, nil
}

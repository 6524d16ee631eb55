package oktatest_test

import (
	"context"
	"crypto/rand"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/simulator"
	"github.com/preenroll/preenroll/webauthn"
)

func TestEmailPIN(t *testing.T) {
	const subject = "Your YubiKey PIN"
	for _, tc := range []struct {
		name    string
		mail    oktatest.Email
		want    string
		wantErr string
	}{
		{name: "send-pin body", mail: oktatest.Email{To: "a@example.com", Subject: subject,
			Body: "Hello Ada,\n\nenter this PIN:\n\n    48213957\n\nYou will then be asked to choose a new PIN.\n"}, want: "48213957"},
		{name: "CRLF and a tab", mail: oktatest.Email{To: "a@example.com", Subject: subject,
			Body: "enter this PIN:\r\n\r\n\t1234\r\n"}, want: "1234"},
		{name: "other subject", mail: oktatest.Email{To: "a@example.com", Subject: "Welcome",
			Body: "\n    48213957\n"}, wantErr: "not a PIN email"},
		{name: "no PIN line", mail: oktatest.Email{To: "a@example.com", Subject: subject,
			Body: "PIN 48213957 inline, not on its own line\n"}, wantErr: "has no PIN line"},
		{name: "too short", mail: oktatest.Email{To: "a@example.com", Subject: subject,
			Body: "\n    123\n"}, wantErr: "has no PIN line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.mail.PIN()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("PIN() = %q, %v; want an error containing %q", got, err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "48213957") {
					t.Errorf("the error %q shows the body", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("PIN() = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestServerPINNewest: Server.PIN reads the newest PIN email to the
// address, matching it case-insensitively, and says clearly when there is
// none.
func TestServerPINNewest(t *testing.T) {
	ctx := t.Context()
	srv, c, err := startTrustingOrg()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if _, err := srv.PIN("ada@example.com"); !errors.Is(err, oktatest.ErrNoPINEmail) || !strings.Contains(err.Error(), `"ada@example.com"`) {
		t.Fatalf("PIN with an empty outbox = %v, want ErrNoPINEmail naming the address", err)
	}
	u, err := srv.AddUser(okta.Profile{Login: "ada@example.com", Email: "ada@example.com", FirstName: "Ada", LastName: "Okafor"}, okta.UserActive)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, pin := range []string{"48213957", "59173920"} {
		_, eid, err := programByHand(ctx, srv, c, u.ID, pin)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SendPIN(ctx, okta.SendPINRequest{UserID: u.ID, AuthenticatorEnrollmentID: eid}); err != nil {
			t.Fatal(err)
		}
		p, err := srv.PIN("ADA@example.com")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p)
		if err := c.DeleteEnrollment(ctx, u.ID, eid); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{"48213957", "59173920"}, got); diff != "" {
		t.Errorf("PINs read after each send-pin (-want +got):\n%s", diff)
	}
}

// startTrustingOrg starts a fake org on a fixed clock that trusts the
// simulator's attestation CA, and its client.
func startTrustingOrg() (*oktatest.Server, *okta.Client, error) {
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

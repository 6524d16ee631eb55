package oktatest_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
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
	srv, c, err := startExampleOrg()
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

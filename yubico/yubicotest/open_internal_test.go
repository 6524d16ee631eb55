package yubicotest

import (
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/webauthn"
)

// TestOpenedBeforeTheLock: a create opens its FIDO Pre-reg requests before
// taking s.mu, at the lifecycle's time then; if the clock has moved by the
// time it holds s.mu, factoryInputLocked must give exactly what opening at
// the new time gives (the requests, or the same error, whose message names
// the time of an expiry), reusing the early opening whenever that cannot
// differ.
func TestOpenedBeforeTheLock(t *testing.T) {
	rnd := mrand.NewChaCha8([32]byte{'o', 'p', 'e', 'n'})
	s, err := Start(WithRand(rnd))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := webauthn.GenerateKey(rnd, "okta-response-1", webauthn.UseEncryption)
	if err != nil {
		t.Fatal(err)
	}
	to := s.transport[0].Public()
	t0 := s.lifecycleNow()
	pin, err := webauthn.SealPINRequest(to, webauthn.PINRequest{Version: webauthn.MessageVersion, UserID: "00u1", ResponseKey: resp.Public()})
	if err != nil {
		t.Fatal(err)
	}
	cred := func(user string, expires time.Time) string {
		jwe, err := webauthn.SealCredentialRequest(to, webauthn.CredentialRequest{
			Version: webauthn.MessageVersion, UserID: user, EnrollmentID: "pfd-" + user + expires.Format("1504"),
			RPID: "example.okta.com", RPName: "Example", UserHandle: []byte("h"), UserName: "jan@example.com",
			UserDisplayName: "Jan", Challenge: []byte("0123456789abcdef0123456789abcdef"), Algorithms: []int{-7},
			ResidentKey: true, UserVerification: "required", ExpiresAt: expires, ResponseKey: resp.Public()})
		if err != nil {
			t.Fatal(err)
		}
		return jwe
	}
	h := time.Hour
	tests := []struct {
		name  string
		creds []string
		later time.Duration // how far the clock moves between opening and s.mu
		reuse bool          // the early opening stands
	}{
		{"clock still", []string{cred("00u1", t0.Add(h))}, 0, true},
		{"moved, nothing expired", []string{cred("00u1", t0.Add(h)), cred("00u1", t0.Add(2*h))}, 30 * time.Minute, true},
		{"moved past the second's expiry", []string{cred("00u1", t0.Add(2*h)), cred("00u1", t0.Add(h))}, 90 * time.Minute, false},
		{"expired before, named time moved", []string{cred("00u1", t0.Add(-h))}, time.Minute, false},
		{"expired before, clock still", []string{cred("00u1", t0.Add(-h))}, 0, true},
		{"another user, not expired", []string{cred("00u2", t0.Add(h))}, 30 * time.Minute, true},
		{"another user, expired by then", []string{cred("00u2", t0.Add(h))}, 2 * h, false},
		{"undecryptable after a valid one", []string{cred("00u1", t0.Add(3*h)), "a.b.c.d.e"}, h, true},
		{"undecryptable after one expired by then", []string{cred("00u1", t0.Add(h)), "a.b.c.d.e"}, 2 * h, false},
		{"bad PIN request", nil, h, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pinJWE := pin
			if tt.creds == nil {
				pinJWE = "x.y.z.w.v"
			}
			// s.now is set directly: the test is the only user of s.
			s.setNowLocked(t0)
			op := s.openFactoryInput(pinJWE, tt.creds, s.lifecycleNow())
			s.setNowLocked(t0.Add(tt.later))
			got := s.factoryInputLocked(op, pinJWE, tt.creds)
			want := s.openFactoryInput(pinJWE, tt.creds, s.now).in
			if reused := got == op.in; reused != tt.reuse {
				t.Errorf("early opening reused = %v, want %v", reused, tt.reuse)
			}
			if d := cmp.Diff(describe(want), describe(got)); d != "" {
				t.Errorf("input after the clock moved %v (-opened then +given):\n%s", tt.later, d)
			}
		})
	}
}

// TestOpenedRequestsAreTheSealedOnes: the opened requests a shipment keeps
// (in compact form, see keptCred) rebuild to what opening the JWEs gives,
// field by field.
func TestOpenedRequestsAreTheSealedOnes(t *testing.T) {
	rnd := mrand.NewChaCha8([32]byte{'s', 'h', 'a', 'r', 'e'})
	s, err := Start(WithRand(rnd))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	to := s.transport[0].Public()
	now := s.lifecycleNow()
	key := func(kid string) webauthn.PublicJWK {
		k, err := webauthn.GenerateKey(rnd, kid, webauthn.UseEncryption)
		if err != nil {
			t.Fatal(err)
		}
		return k.Public()
	}
	pinReq := webauthn.PINRequest{Version: webauthn.MessageVersion, UserID: "00u1", ResponseKey: key("pin-key")}
	pinJWE, err := webauthn.SealPINRequest(to, pinReq)
	if err != nil {
		t.Fatal(err)
	}
	var want []webauthn.CredentialRequest
	var jwes []string
	for i, rp := range []string{"example.okta.com", "login.example.com"} {
		c := webauthn.CredentialRequest{
			Version: webauthn.MessageVersion, UserID: "00u1", EnrollmentID: fmt.Sprintf("fwf%d", i),
			RPID: rp, RPName: "Example", UserHandle: []byte("handle"), UserName: "jan@example.com",
			UserDisplayName: "Jan", Challenge: []byte(fmt.Sprintf("challenge-%d-0123456789abcdef0123", i)), Algorithms: []int{-7, -257},
			ResidentKey: true, UserVerification: "required", CredProtect: 2, ExpiresAt: now.Add(time.Hour).UTC(),
			ResponseKey: key(fmt.Sprintf("cred-key-%d", i)),
		}
		if i == 1 { // the other value of every flag
			c.ResidentKey, c.UserVerification, c.CredProtect, c.HMACSecret = false, "preferred", 3, true
			c.ResponseKey.Alg = ""
		}
		jwe, err := webauthn.SealCredentialRequest(to, c)
		if err != nil {
			t.Fatal(err)
		}
		opened, err := webauthn.OpenCredentialRequest(s.transport, jwe, now)
		if err != nil {
			t.Fatal(err)
		}
		want, jwes = append(want, opened), append(jwes, jwe)
	}
	in := s.openFactoryInput(pinJWE, jwes, now).in
	if in.err != nil {
		t.Fatal(in.err)
	}
	if d := cmp.Diff(pinReq, in.pin.request()); d != "" {
		t.Errorf("PIN request (-sealed +kept):\n%s", d)
	}
	got := make([]webauthn.CredentialRequest, len(in.creds))
	for i := range in.creds {
		got[i] = in.creds[i].request(in.pin.userID)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("credential requests (-opened +kept):\n%s", d)
	}
}

// TestShipmentFitsItsSizeClass keeps the shipment record within the
// runtime's 576-byte size class on 64-bit platforms, its 8-byte malloc
// header included (see shipment).
func TestShipmentFitsItsSizeClass(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the layout is sized for 64-bit platforms")
	}
	if got := unsafe.Sizeof(shipment{}); got+8 > 576 {
		t.Errorf("shipment is %d bytes: with its malloc header it no longer fits 576, a fake holds 64 bytes more a shipment", got)
	}
}

// describe renders a factory input for comparison.
func describe(in *factoryInput) string {
	if in.err != nil {
		return fmt.Sprintf("error %v (expired: %v)", in.err, errors.Is(in.err, webauthn.ErrExpired))
	}
	out := "user " + in.pin.userID
	for _, c := range in.creds {
		out += fmt.Sprintf("; %s %s %x", c.enrollmentID, c.expiresAt.UTC().Format(time.RFC3339), c.challenge)
	}
	return out
}

package fulfillment_test

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/internal/httpclient"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/webauthn"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// seedUsers adds n valid users and returns their logins.
func seedUsers(e *env, n int) ([]okta.User, []string) {
	users := make([]okta.User, n)
	logins := make([]string, n)
	for i := range n {
		users[i] = e.addUser(i, []okta.UserStatus{okta.UserStaged, okta.UserActive}[i%2], nil)
		logins[i] = users[i].Profile.Login
	}
	return users, logins
}

// BenchmarkOrderBatch10k orders keys for 10,000 users in one batch against
// the fakes (Okta's default rate limits; the client's throttling waits on
// the fake clock, so this measures the Service, the clients and the fakes,
// not the rate limit).
func BenchmarkOrderBatch10k(b *testing.B) {
	const n = 10000
	var total time.Duration
	for range b.N {
		b.StopTimer()
		e := newEnv(b, envOption{config: func(c *fulfillment.Config) { c.Concurrency = 8 }})
		_, logins := seedUsers(e, n)
		b.StartTimer()
		start := time.Now()
		rep, err := e.Service.OrderBatch(b.Context(), logins, fulfillment.BatchOptions{})
		total += time.Since(start)
		if err != nil || rep.Ordered != n {
			b.Fatalf("OrderBatch: ordered %d of %d, failed %d, invalid %d: %v", rep.Ordered, n, rep.Failed, len(rep.Invalid), err)
		}
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "orders/s")
}

// BenchmarkOrderBatchRateLimited orders 1,000 users against a fake Okta
// whose preregistration bucket allows 500 requests per 10 s window (each
// order makes two: the enrollment list of the one-key check, and
// initiate), in real time, and reports the share of the allowed rate the
// batch achieved over its full windows (the last, partial window is left
// out), the 429s Okta answered (each was waited out and retried by the
// client: the batch must order everybody) and duplicate orders (must be
// 0). It takes about 40 s.
func BenchmarkOrderBatchRateLimited(b *testing.B) {
	const (
		n      = 1000
		limit  = 500
		window = 10 * time.Second
		prefix = "/webauthn-registration/api/v1"
	)
	var ratio float64
	var tooMany, dups int
	for range b.N {
		b.StopTimer()
		e := newEnv(b, envOption{noHook: true, okta: []oktatest.Option{
			oktatest.WithNow(time.Now()), oktatest.WithRealTime(),
			oktatest.WithRateLimit(prefix, limit),
			oktatest.WithRateLimitWindow(window),
		}, config: func(c *fulfillment.Config) { c.Concurrency = 8 }})
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		svc := serviceWithOktaClient(b, e, okta.WithHTTPClient(hc), okta.WithClock(httpclient.WallClock{}))
		_, logins := seedUsers(e, n)
		before := len(e.Okta.RequestLog())
		b.StartTimer()
		rep, err := svc.OrderBatch(b.Context(), logins, fulfillment.BatchOptions{})
		b.StopTimer()
		if err != nil || rep.Ordered != n || rep.Failed != 0 {
			b.Fatalf("OrderBatch: ordered %d of %d, failed %d: %v", rep.Ordered, n, rep.Failed, err)
		}
		var times []time.Time
		for _, r := range e.Okta.RequestLog()[before:] {
			if !strings.HasPrefix(r.Path, prefix) {
				continue
			}
			if r.Status == http.StatusTooManyRequests {
				tooMany++
				continue
			}
			times = append(times, r.Time)
		}
		// Full windows: from the first request to the first request of the
		// last window.
		full, lastStart := 0, times[0]
		for _, t := range times {
			if t.Sub(lastStart) >= window {
				full += countSince(times, lastStart, t)
				lastStart = t
			}
		}
		if span := lastStart.Sub(times[0]); span > 0 {
			ratio = float64(full) / span.Seconds() / (float64(limit) / window.Seconds())
		}
		perUser := map[string]int{}
		for _, ev := range e.Okta.Events() {
			if ev.EventType == okta.EventTypePreregisterInitiate {
				perUser[ev.UserID]++
			}
		}
		for _, c := range perUser {
			dups += c - 1
		}
		if len(perUser) != n {
			b.Fatalf("%d users got an initiate event, want %d", len(perUser), n)
		}
		b.StartTimer()
	}
	b.ReportMetric(ratio, "achieved/allowed")
	b.ReportMetric(float64(tooMany)/float64(b.N), "429s/op")
	b.ReportMetric(float64(dups), "duplicates")
}

// countSince counts the times in [from, to).
func countSince(times []time.Time, from, to time.Time) int {
	n := 0
	for _, t := range times {
		if !t.Before(from) && t.Before(to) {
			n++
		}
	}
	return n
}

// BenchmarkLifecycle runs keys through the whole lifecycle against the
// fakes over loopback HTTP: batch order, enroll, shipment, factory
// programming of a simulated key, activation (attestation verified),
// PIN email, PIN change on the key, sign-in through Okta's Authn API,
// Active. It reports keys/s; compare with BenchmarkLifecycleCrypto.
func BenchmarkLifecycle(b *testing.B) {
	const n = 20
	var total time.Duration
	for range b.N {
		b.StopTimer()
		e := newEnv(b, envOption{yubico: []yubicotest.Option{bigInventory}, config: func(c *fulfillment.Config) { c.Concurrency = 4 }})
		users, logins := seedUsers(e, n)
		b.StartTimer()
		start := time.Now()
		rep, err := e.Service.OrderBatch(b.Context(), logins, fulfillment.BatchOptions{})
		if err != nil || rep.Ordered != n {
			b.Fatalf("OrderBatch: %+v %v", rep, err)
		}
		e.sync()
		e.shipThrough()
		for i, u := range users {
			to := u.Profile.Email
			if i%2 == 0 {
				to = u.Profile.SecondEmail
			}
			rec, err := e.Config.Store.Get(b.Context(), u.ID)
			if err != nil {
				b.Fatal(err)
			}
			e.signIn(u, rec, e.pinFor(to))
		}
		e.Advance(time.Hour) // first sign-ins are checked on the schedule (Record.NextCheck)
		if r := e.sync(); r.Active != n {
			b.Fatalf("%d of %d active", r.Active, n)
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "keys/s")
}

// BenchmarkLifecycleCrypto times the cryptography one key's lifecycle
// cannot avoid, alone: Okta's response key (P-384) and the sealing of the
// credential and PIN requests (ECDH-ES P-384 + AES-GCM); Yubico opening
// them; the key's credential (P-256) and its packed attestation signature;
// three CTAP PIN-protocol key agreements (set PIN, change PIN, PIN token;
// P-256 ECDH); sealing the responses (ES384 + ECDH-ES P-384); Okta opening
// and verifying them and the attestation chain (three P-256 verifications);
// the sign-in assertion (P-256 sign + verify). It reports keys/s, with
// all CPUs busy as in BenchmarkLifecycle.
func BenchmarkLifecycleCrypto(b *testing.B) {
	r := rand.Reader
	transport, err := webauthn.GenerateKey(r, "yubico-transport", webauthn.UseEncryption)
	if err != nil {
		b.Fatal(err)
	}
	signer, err := webauthn.GenerateKey(r, "yubico-sign", webauthn.UseSigning)
	if err != nil {
		b.Fatal(err)
	}
	signers := webauthn.Keyring{signer}.JWKS()
	ca, err := ecdsa.GenerateKey(elliptic.P256(), r)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("authenticator data || client data hash"))
	now := time.Now()
	one := func() error {
		// Okta: enroll.
		resp, err := webauthn.GenerateKey(r, "okta-response", webauthn.UseEncryption)
		if err != nil {
			return err
		}
		req := webauthn.CredentialRequest{Version: webauthn.MessageVersion, UserID: "00u1", EnrollmentID: "fwf1",
			RPID: rpID, RPName: "Okta", UserHandle: make([]byte, 32), UserName: "ada@example.com", UserDisplayName: "Ada",
			Challenge: make([]byte, 32), Algorithms: []int{-7}, ResidentKey: true, UserVerification: "required",
			ExpiresAt: now.Add(time.Hour), ResponseKey: resp.Public()}
		credReq, err := webauthn.SealCredentialRequest(transport.Public(), req)
		if err != nil {
			return err
		}
		pinReq, err := webauthn.SealPINRequest(transport.Public(), webauthn.PINRequest{Version: webauthn.MessageVersion, UserID: "00u1", ResponseKey: resp.Public()})
		if err != nil {
			return err
		}
		// Yubico: open, program the key, seal.
		if _, err := webauthn.OpenCredentialRequest(webauthn.Keyring{transport}, credReq, now); err != nil {
			return err
		}
		if _, err := webauthn.OpenPINRequest(webauthn.Keyring{transport}, pinReq); err != nil {
			return err
		}
		cred, err := ecdsa.GenerateKey(elliptic.P256(), r)
		if err != nil {
			return err
		}
		attestation, err := ecdsa.SignASN1(r, ca, digest[:])
		if err != nil {
			return err
		}
		for range 3 { // CTAP PIN protocol key agreements
			platform, err := ecdh.P256().GenerateKey(r)
			if err != nil {
				return err
			}
			if _, err := platform.ECDH(platform.PublicKey()); err != nil {
				return err
			}
		}
		credResp, err := webauthn.SealCredentialResponse(resp.Public(), signer, webauthn.CredentialResponse{
			Version: webauthn.MessageVersion, UserID: "00u1", EnrollmentID: "fwf1", CredentialID: make([]byte, 64),
			AttestationObject: attestation, ClientDataJSON: []byte(`{"type":"webauthn.create"}`)})
		if err != nil {
			return err
		}
		pinResp, err := webauthn.SealPINResponse(resp.Public(), signer, webauthn.PINResponse{Version: webauthn.MessageVersion, UserID: "00u1", PIN: webauthn.Secret("12345678")})
		if err != nil {
			return err
		}
		// Okta: activate.
		if _, err := webauthn.OpenCredentialResponse(webauthn.Keyring{resp}, signers, credResp); err != nil {
			return err
		}
		if _, err := webauthn.OpenPINResponse(webauthn.Keyring{resp}, signers, pinResp); err != nil {
			return err
		}
		for range 3 { // attestation signature and its two-certificate chain
			if !ecdsa.VerifyASN1(&ca.PublicKey, digest[:], attestation) {
				return errors.New("attestation does not verify")
			}
		}
		// Sign-in.
		sig, err := ecdsa.SignASN1(r, cred, digest[:])
		if err != nil {
			return err
		}
		if !ecdsa.VerifyASN1(&cred.PublicKey, digest[:], sig) {
			return errors.New("assertion does not verify")
		}
		return nil
	}
	// Each of GOMAXPROCS goroutines does whole keys, as the Service's
	// workers and the fakes do in BenchmarkLifecycle.
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := one(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keys/s")
}

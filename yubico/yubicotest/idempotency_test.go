package yubicotest_test

import (
	"maps"

	"github.com/google/go-cmp/cmp"

	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/preenroll/preenroll/internal/testhttp"
	"github.com/preenroll/preenroll/webauthn"
	"github.com/preenroll/preenroll/yubico"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// fprPosts returns the request log's POST /v1/fpr/shipments entries.
func fprPosts(srv *yubicotest.Server) []yubicotest.Request {
	var out []yubicotest.Request
	for _, r := range srv.RequestLog() {
		if r.Method == http.MethodPost && r.Path == "/v1/fpr/shipments" {
			out = append(out, r)
		}
	}
	return out
}

// rawPost sends body to the fake's path with the token and an optional
// Idempotency-Key header (nil: none).
func rawPost(t *testing.T, srv *yubicotest.Server, path string, body []byte, key *string) (*http.Response, []byte) {
	t.Helper()
	h := http.Header{"Content-Type": {"application/json"}}
	if key != nil {
		h[yubico.IdempotencyKeyHeader] = []string{*key}
	}
	return send(t, srv, http.MethodPost, srv.URL()+path, body, h)
}

// send sends body to url with the fake's token and the headers h, and
// returns the response with its body read.
func send(t *testing.T, srv *yubicotest.Server, method, url string, body []byte, h http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(req.Header, h)
	req.Header.Set("Authorization", "Bearer "+srv.Token())
	return testhttp.Do(t, req)
}

// fastRetries retries twice, a millisecond apart.
var fastRetries = yubico.WithRetryPolicy(yubico.RetryPolicy{MaxRetries: 2, Backoff: func(int) time.Duration { return time.Millisecond }})

// newKeyedFPR starts a fake and returns it, a client with opts and a FIDO
// Pre-reg request for example.okta.com carrying the idempotency key.
func newKeyedFPR(t *testing.T, key string, opts ...yubico.Option) (*yubicotest.Server, *yubico.Client, yubico.FPRShipmentRequest) {
	t.Helper()
	srv := newServer(t)
	c := srv.Client(opts...)
	req := fprRequest(newOkta(t, c, srv.Now(), "example.okta.com"))
	req.IdempotencyKey = key
	return srv, c, req
}

func TestIdempotentReplay(t *testing.T) {
	t.Parallel()
	srv, c, req := newKeyedFPR(t, "fulfil-00u1-1")

	first, err := c.CreateFPRShipment(t.Context(), req)
	if err != nil {
		t.Fatalf("first create: %v", err)
	}
	// The replay comes over raw HTTP to see the status and header.
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	resp, out := rawPost(t, srv, "/fpr/shipments", body, &req.IdempotencyKey)
	var again yubico.FPRShipment
	if err := json.Unmarshal(out, &again); err != nil {
		t.Fatalf("replay body %s: %v", out, err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get(yubico.IdempotentReplayedHeader) != "true" ||
		again.ID != first.ID || again.State.ID != first.State.ID {
		t.Errorf("replay = %d %q, %+v; want 200, Idempotent-Replayed: true and shipment %s in state %d",
			resp.StatusCode, resp.Header.Get(yubico.IdempotentReplayedHeader), again, first.ID, first.State.ID)
	}
	all := srv.Shipments()
	if len(all) != 1 || all[0].ID != first.ID || all[0].RecipientEmail != "jan@example.com" {
		t.Fatalf("Shipments() = %+v; want only %s for jan@example.com", all, first.ID)
	}
	posts := fprPosts(srv)
	if len(posts) != 2 || posts[0].Replayed || !posts[1].Replayed || posts[0].IdempotencyKey != req.IdempotencyKey || posts[1].IdempotencyKey != req.IdempotencyKey {
		t.Errorf("request log = %+v; want the second POST replayed, both with the key", posts)
	}

	// After the batch, a replay shows the shipment's current state, and
	// exactly one key was drawn and programmed.
	before := bucketQuantity(srv, 106)
	if err := srv.SetNow(srv.NextBatch()); err != nil {
		t.Fatal(err)
	}
	again, err = c.CreateFPRShipment(t.Context(), req)
	if err != nil || again.ID != first.ID || again.State.ID != yubico.StateSentToFulfillment {
		t.Fatalf("replay after the batch = %s in %d, %v; want %s in 10", again.ID, again.State.ID, err, first.ID)
	}
	if after := bucketQuantity(srv, 106); after != before-1 {
		t.Errorf("inventory 106: %d before the batch, %d after; want one key drawn", before, after)
	}
	if p, ok := srv.Programming(first.ID); !ok || p.Serial != 31000001 {
		t.Errorf("Programming = %+v, %v; want the first serial", p, ok)
	}
	if n := len(srv.Shipments()); n != 1 {
		t.Errorf("%d shipments, want 1", n)
	}
}

func bucketQuantity(srv *yubicotest.Server, id int) int {
	for _, b := range srv.Inventory() {
		if b.ProductID == id {
			return b.Quantity
		}
	}
	return -1
}

func TestIdempotencyKeyReused(t *testing.T) {
	t.Parallel()
	srv, c, req := newKeyedFPR(t, "fulfil-00u1-2")
	if _, err := c.CreateFPRShipment(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	other := req
	other.Recipient.Email = "someone.else@example.com"
	_, err := c.CreateFPRShipment(t.Context(), other)
	var ae *yubico.APIError
	if !errors.Is(err, yubico.ErrConflict) || !errors.As(err, &ae) || ae.StatusCode != http.StatusUnprocessableEntity ||
		ae.Code != yubico.CodeIdempotencyKeyReused || !strings.Contains(ae.Message, req.IdempotencyKey) {
		t.Errorf("create with a reused key and another body: error = %v; want 422 %s naming the key, matching ErrConflict",
			err, yubico.CodeIdempotencyKeyReused)
	}
	exact := exactRequest()
	exact.IdempotencyKey = req.IdempotencyKey
	if _, err := c.CreateShipment(t.Context(), exact); !errors.Is(err, yubico.ErrConflict) {
		t.Errorf("the key on the other create route: error = %v, want ErrConflict", err)
	}
	if n := len(srv.Shipments()); n != 1 {
		t.Errorf("%d shipments, want 1", n)
	}

	// Plain shipments are deduplicated the same way.
	exact.IdempotencyKey = "exact-1"
	s1, err1 := c.CreateShipment(t.Context(), exact)
	s2, err2 := c.CreateShipment(t.Context(), exact)
	if err1 != nil || err2 != nil || s1.ID != s2.ID || len(srv.Shipments()) != 2 {
		t.Errorf("repeated shipments_exact create = %s (%v), %s (%v), %d shipments; want one new shipment",
			s1.ID, err1, s2.ID, err2, len(srv.Shipments()))
	}
}

func TestIdempotencyKeyExpires(t *testing.T) {
	t.Parallel()
	srv, c, req := newKeyedFPR(t, "fulfil-00u1-3")
	first, err := c.CreateFPRShipment(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	advance(t, srv, yubicotest.IdempotencyTTL)
	again, err := c.CreateFPRShipment(t.Context(), req)
	if err != nil || again.ID != first.ID {
		t.Fatalf("create %v after the first: %s, %v; want the replay of %s", yubicotest.IdempotencyTTL, again.ID, err, first.ID)
	}
	advance(t, srv, time.Second)
	later, err := c.CreateFPRShipment(t.Context(), req)
	if err != nil || later.ID == first.ID {
		t.Fatalf("create after the key expired: %s, %v; want a new shipment", later.ID, err)
	}
	if n := len(srv.Shipments()); n != 2 {
		t.Errorf("%d shipments, want 2", n)
	}
	// The new create is remembered afresh.
	if again, err := c.CreateFPRShipment(t.Context(), req); err != nil || again.ID != later.ID {
		t.Errorf("replay of the new create = %s, %v; want %s", again.ID, err, later.ID)
	}
}

func TestWithIdempotencyTTL(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{0, -time.Hour} {
		if srv, err := yubicotest.Start(yubicotest.WithIdempotencyTTL(d)); err == nil {
			srv.Close()
			t.Errorf("Start(WithIdempotencyTTL(%v)) succeeded; want an error", d)
		} else if !strings.Contains(err.Error(), "WithIdempotencyTTL") {
			t.Errorf("Start(WithIdempotencyTTL(%v)) = %v; want an error naming the option", d, err)
		}
	}
	srv := newServer(t, yubicotest.WithIdempotencyTTL(30*24*time.Hour))
	c := srv.Client()
	req := fprRequest(newOkta(t, c, srv.Now(), "example.okta.com"))
	req.IdempotencyKey = "fulfil-00u1-4"
	first, err := c.CreateFPRShipment(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	advance(t, srv, 29*24*time.Hour) // past the default TTL, inside the set one
	if again, err := c.CreateFPRShipment(t.Context(), req); err != nil || again.ID != first.ID {
		t.Fatalf("create 29 days after the first: %s, %v; want the replay of %s", again.ID, err, first.ID)
	}
	advance(t, srv, 24*time.Hour+time.Second)
	if later, err := c.CreateFPRShipment(t.Context(), req); err != nil || later.ID == first.ID {
		t.Fatalf("create after the set TTL: %s, %v; want a new shipment", later.ID, err)
	}
}

func TestInvalidIdempotencyKeyHeader(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	o := newOkta(t, srv.Client(), srv.Now(), "example.okta.com")
	body, err := json.Marshal(fprRequest(o))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"", strings.Repeat("k", 256), "two words"} {
		resp, out := rawPost(t, srv, "/fpr/shipments", body, &key)
		var eb struct {
			ErrorCode string               `json:"error_code"`
			Details   []yubico.ErrorDetail `json:"details"`
		}
		if err := json.Unmarshal(out, &eb); err != nil || resp.StatusCode != http.StatusBadRequest ||
			eb.ErrorCode != yubico.CodeValidationFailed || len(eb.Details) != 1 || eb.Details[0].Field != yubico.IdempotencyKeyHeader {
			t.Errorf("key %q: %d %s; want 400 validation_failed naming %s", key, resp.StatusCode, out, yubico.IdempotencyKeyHeader)
		}
	}
	if n := len(srv.Shipments()); n != 0 {
		t.Errorf("%d shipments created with invalid keys", n)
	}
}

func TestDropResponseAfterCommit(t *testing.T) {
	t.Parallel()
	for _, drops := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d drops, retried with the key", drops), func(t *testing.T) {
			t.Parallel()
			srv, c, req := newKeyedFPR(t, "fulfil-00u1-4", fastRetries)
			if err := srv.DropResponseAfterCommit(drops); err != nil {
				t.Fatal(err)
			}
			s, err := c.CreateFPRShipment(t.Context(), req)
			if err != nil {
				t.Fatalf("CreateFPRShipment: %v", err)
			}
			all := srv.Shipments()
			if len(all) != 1 || all[0].ID != s.ID || all[0].RecipientEmail != "jan@example.com" {
				t.Fatalf("Shipments() = %+v; want exactly %s for jan@example.com", all, s.ID)
			}
			posts := fprPosts(srv)
			if len(posts) != drops+1 || posts[drops].Status != http.StatusOK || !posts[drops].Replayed {
				t.Errorf("request log = %+v; want %d dropped POSTs, then a replayed 200", posts, drops)
			}
			for i, p := range posts[:drops] {
				if p.Status != 0 || p.IdempotencyKey != req.IdempotencyKey {
					t.Errorf("POST %d = %+v; want a dropped response (status 0) with the key", i, p)
				}
			}
		})
	}
	t.Run("without a key the shipment exists but the client saw an error", func(t *testing.T) {
		t.Parallel()
		srv, c, req := newKeyedFPR(t, "", fastRetries)
		if err := srv.DropResponseAfterCommit(1); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateFPRShipment(t.Context(), req); err == nil {
			t.Fatal("CreateFPRShipment succeeded; want the transport error")
		}
		if n, p := len(srv.Shipments()), len(fprPosts(srv)); n != 1 || p != 1 {
			t.Errorf("%d shipments after %d POSTs; want 1 after 1 (no retry without a key)", n, p)
		}
	})
	t.Run("failed validation does not use up the fault", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t)
		c := srv.Client()
		if err := srv.DropResponseAfterCommit(1); err != nil {
			t.Fatal(err)
		}
		bad := exactRequest()
		bad.City = ""
		if _, err := c.CreateShipment(t.Context(), bad); !errors.Is(err, yubico.ErrValidation) {
			t.Fatalf("invalid create: error = %v, want ErrValidation", err)
		}
		if _, err := c.CreateShipment(t.Context(), exactRequest()); err == nil {
			t.Errorf("valid create answered; want its response dropped")
		}
		if n := len(srv.Shipments()); n != 1 {
			t.Errorf("%d shipments, want 1", n)
		}
	})
}

// TestCredentialResponsesSealedPerRequest checks that each credential
// response is sealed to the response key of its own credential request
// (JWE header kid = that key's kid) and that the responses keep the order of
// the requests.
func TestCredentialResponsesSealedPerRequest(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := srv.Client()
	ctx := t.Context()
	now := srv.Now()
	transport, err := c.TransportKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	to := transport[0]
	rnd := seeded(9)
	pinKey, err := webauthn.GenerateKey(rnd, "okta-pin-key", webauthn.UseEncryption)
	if err != nil {
		t.Fatal(err)
	}
	pinReq, err := webauthn.SealPINRequest(to, webauthn.PINRequest{Version: webauthn.MessageVersion, UserID: "00u1", ResponseKey: pinKey.Public()})
	if err != nil {
		t.Fatal(err)
	}
	// Three enrollments, each with its own response key; the RP IDs are in
	// reverse alphabetical order so that sorting would show.
	rpIDs := []string{"z.example.com", "m.example.com", "a.example.com"}
	var keys []*webauthn.PrivateKey
	var sealed []string
	var reqs []webauthn.CredentialRequest
	for i, rp := range rpIDs {
		k, err := webauthn.GenerateKey(rnd, fmt.Sprintf("pfd-enrollment-%d-key", i), webauthn.UseEncryption)
		if err != nil {
			t.Fatal(err)
		}
		req := credRequest(rnd, fmt.Sprintf("pfd%d", i), rp, now, k)
		jwe, err := webauthn.SealCredentialRequest(to, req)
		if err != nil {
			t.Fatal(err)
		}
		keys, sealed, reqs = append(keys, k), append(sealed, jwe), append(reqs, req)
	}
	created, err := c.CreateFPRShipment(ctx, yubico.NewFPRShipmentRequest(
		yubico.FPRRecipient{Company: "Example Inc.", Email: "jan@example.com", Telephone: "555-5555"},
		usAddress(), 1, 106, "CID-EXAMPLE", pinReq, sealed))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.SetNow(srv.NextBatch()); err != nil {
		t.Fatal(err)
	}
	advance(t, srv, 24*time.Hour)
	got, err := c.FPRShipment(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	pd, ok := got.ProductData()
	if !ok || len(pd.CredentialResponses) != len(reqs) {
		t.Fatalf("state %d (messages %q), product data %+v; want %d credential responses", got.State.ID, srv.Messages(created.ID), pd, len(reqs))
	}
	signers := srv.SigningJWKS()
	for i, jwe := range pd.CredentialResponses {
		if kid := jweKid(t, jwe); kid != keys[i].KeyID() {
			t.Errorf("response %d: JWE header kid = %q, want %q (the response key of request %d)", i, kid, keys[i].KeyID(), i)
		}
		resp, err := webauthn.OpenCredentialResponse(webauthn.Keyring{keys[i]}, signers, jwe)
		if err != nil {
			t.Errorf("response %d does not open with the key of request %d: %v", i, i, err)
			continue
		}
		if resp.EnrollmentID != reqs[i].EnrollmentID {
			t.Errorf("response %d answers enrollment %q, want %q", i, resp.EnrollmentID, reqs[i].EnrollmentID)
		}
		others := webauthn.Keyring{keys[(i+1)%len(keys)], keys[(i+2)%len(keys)], pinKey}
		if _, err := webauthn.OpenCredentialResponse(others, signers, jwe); !errors.Is(err, webauthn.ErrWrongKey) {
			t.Errorf("response %d opened without its own key: error = %v, want ErrWrongKey", i, err)
		}
	}
	if kid := jweKid(t, pd.PINResponse); kid != pinKey.KeyID() {
		t.Errorf("PIN response kid = %q, want %q", kid, pinKey.KeyID())
	}
}

// jweKid returns the kid of a compact JWE's protected header.
func jweKid(t *testing.T, jwe string) string {
	t.Helper()
	hdr, _, ok := strings.Cut(jwe, ".")
	if !ok {
		t.Fatalf("not a compact JWE: %.20q", jwe)
	}
	raw, err := base64.RawURLEncoding.DecodeString(hdr)
	if err != nil {
		t.Fatalf("JWE header: %v", err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("JWE header %s: %v", raw, err)
	}
	return h.Kid
}

func TestFaultAndStateSettersRefuseBadCounts(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	before := srv.Inventory()
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"DropResponseAfterCommit(0)", srv.DropResponseAfterCommit(0), "yubicotest: DropResponseAfterCommit: n 0 is not positive"},
		{"DropResponseAfterCommit(-1)", srv.DropResponseAfterCommit(-1), "yubicotest: DropResponseAfterCommit: n -1 is not positive"},
		{"SetInventory(1, -1)", srv.SetInventory(1, -1), "yubicotest: SetInventory: quantity -1 is negative"},
	} {
		if tc.err == nil || tc.err.Error() != tc.want {
			t.Errorf("%s error = %v, want %q", tc.name, tc.err, tc.want)
		}
	}
	if diff := cmp.Diff(before, srv.Inventory()); diff != "" {
		t.Errorf("a refused SetInventory changed the inventory (-before +after):\n%s", diff)
	}
	// Nothing was armed: a create gets its response.
	if _, err := srv.Client().CreateShipment(t.Context(), exactRequest()); err != nil {
		t.Errorf("CreateShipment after refused DropResponseAfterCommit: %v", err)
	}
}

// holdNext holds the next request srv receives, once its arrival is
// recorded, until release is called (at the latest when the test ends,
// before the server closes): arrived is closed when it is held.
func holdNext(t *testing.T, srv *yubicotest.Server) (arrived <-chan struct{}, release func()) {
	t.Helper()
	arrivals, releases := holdFirst(t, srv, 1)
	return arrivals[0], releases[0]
}

// holdFirst holds each of the next n requests srv receives, once its
// arrival is recorded, until its release is called (at the latest when the
// test ends, before the server closes): arrived[i] is closed when the i-th
// is held. The requests after them are not held.
func holdFirst(t *testing.T, srv *yubicotest.Server, n int) (arrived []<-chan struct{}, release []func()) {
	t.Helper()
	ins, outs := make([]chan struct{}, n), make([]chan struct{}, n)
	for i := range n {
		ins[i], outs[i] = make(chan struct{}), make(chan struct{})
		arrived = append(arrived, ins[i])
		out := outs[i]
		release = append(release, sync.OnceFunc(func() { close(out) }))
		t.Cleanup(release[i])
	}
	var (
		mu   sync.Mutex
		next int
	)
	srv.OnArrival(func(*http.Request) {
		mu.Lock()
		i := next
		next++
		mu.Unlock()
		if i < n {
			close(ins[i])
			<-outs[i]
		}
	})
	return arrived, release
}

// TestIdempotencyKeyJudgedAtArrival holds a retried create after it
// arrives, moves the fake clock two TTLs on, then lets it be handled: a
// retry is answered as the key stood when it arrived, as by a service
// whose latency is seconds against a day-long TTL, or, if the key was
// forgotten by then, as the first create with the key made since (a
// request it raced), never with a shipment of its own beside that one.
func TestIdempotencyKeyJudgedAtArrival(t *testing.T) {
	t.Parallel()
	ttl := yubicotest.IdempotencyTTL
	tests := []struct {
		name string
		// after is how long after the first create the retry arrives.
		after time.Duration
		// meanwhile, while the retry is held past its arrival + TTL: a
		// create with another key (handled: the fake prunes old keys), or
		// one with the same key (past its TTL: a new shipment).
		otherKey, sameKey bool
		// replays is the create the retry replays: "first", "fresh" (the
		// create with the same key meanwhile), or "" (none: a new shipment).
		replays string
	}{
		{name: "arrived within the TTL", after: ttl - time.Minute, replays: "first"},
		{name: "arrived within the TTL, keys pruned meanwhile", after: ttl - time.Minute, otherKey: true, replays: "first"},
		{name: "arrived within the TTL, the key used afresh meanwhile", after: time.Hour, sameKey: true, replays: "first"},
		{name: "arrived past the TTL", after: ttl + time.Second, replays: ""},
		{name: "arrived past the TTL, the key used afresh meanwhile", after: ttl + time.Second, sameKey: true, replays: "fresh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t)
			c := srv.Client()
			ctx := t.Context()
			req := exactRequest()
			req.IdempotencyKey = "order-00u1-1"
			first, err := c.CreateShipment(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			advance(t, srv, tt.after)
			arrival := srv.Now()

			arrived, release := holdNext(t, srv)
			type result struct {
				sh  yubico.Shipment
				err error
			}
			done := make(chan result, 1)
			go func() {
				sh, err := c.CreateShipment(ctx, req)
				done <- result{sh, err}
			}()
			<-arrived
			advance(t, srv, 2*ttl)
			wantShipments := 1
			var fresh yubico.Shipment
			if tt.otherKey {
				other := exactRequest()
				other.IdempotencyKey = "order-00u2-1"
				if _, err := c.CreateShipment(ctx, other); err != nil {
					t.Fatal(err)
				}
				wantShipments++
			}
			if tt.sameKey {
				if fresh, err = c.CreateShipment(ctx, req); err != nil || fresh.ID == first.ID {
					t.Fatalf("create with the key past its TTL = %s, %v; want a new shipment", fresh.ID, err)
				}
				wantShipments++
			}
			release()
			got := <-done
			if got.err != nil {
				t.Fatalf("held retry: %v", got.err)
			}
			switch tt.replays {
			case "first":
				if got.sh.ID != first.ID {
					t.Errorf("held retry answered shipment %s; want the first create's %s", got.sh.ID, first.ID)
				}
			case "fresh":
				if got.sh.ID != fresh.ID {
					t.Errorf("held retry answered shipment %s; want the fresh create's %s", got.sh.ID, fresh.ID)
				}
			default:
				wantShipments++
				if got.sh.ID == first.ID {
					t.Errorf("held retry answered the first create's shipment %s; want a new one", got.sh.ID)
				}
			}
			if n := len(srv.Shipments()); n != wantShipments {
				t.Errorf("%d shipments, want %d", n, wantShipments)
			}
			// The held retry finished last: it is logged last, with the
			// time of its arrival.
			log := srv.RequestLog()
			last := log[len(log)-1]
			if last.Path != "/v1/shipments_exact" || last.Replayed != (tt.replays != "") || !last.Time.Equal(arrival) {
				t.Errorf("held retry logged as %+v; want POST /v1/shipments_exact at %v, replayed %v", last, arrival, tt.replays != "")
			}
			if tt.sameKey {
				// The key now stands for the fresh create.
				if again, err := c.CreateShipment(ctx, req); err != nil || again.ID != fresh.ID {
					t.Errorf("retry after the held one = %s, %v; want the replay of %s", again.ID, err, fresh.ID)
				}
			}
		})
	}
}

// TestIdempotencyExpiredCreateNotYetPruned: a create with a key is past its
// TTL as of a retry's arrival but still remembered, as a request in flight
// since before it expired keeps it from being pruned; and the key is used
// afresh after the retry arrived, before it is handled. The retry is
// answered with the fresh create (the one it raced), not with the expired
// one, and makes no shipment of its own. Two requests are held: the one
// whose flight keeps the expired create remembered, and the retry.
func TestIdempotencyExpiredCreateNotYetPruned(t *testing.T) {
	t.Parallel()
	ttl := yubicotest.IdempotencyTTL
	srv := newServer(t)
	c, ctx := srv.Client(), t.Context()
	req := exactRequest()
	req.IdempotencyKey = "order-00u1-1"
	first, err := c.CreateShipment(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		sh  yubico.Shipment
		err error
	}
	send := func(r yubico.ShipmentRequest) <-chan result {
		done := make(chan result, 1)
		go func() {
			sh, err := c.CreateShipment(ctx, r)
			done <- result{sh, err}
		}()
		return done
	}
	arrived, release := holdFirst(t, srv, 2)

	// Within the first create's TTL, a create with another key arrives and
	// is held: the fake cannot prune the first create while it is in flight.
	advance(t, srv, time.Hour)
	other := exactRequest()
	other.IdempotencyKey = "order-00u2-1"
	otherDone := send(other)
	<-arrived[0]
	// Past the first create's TTL, the retry arrives and is held.
	advance(t, srv, ttl)
	retryArrival := srv.Now()
	retryDone := send(req)
	<-arrived[1]
	// A minute later, the key is used afresh: past the TTL, a new shipment.
	advance(t, srv, time.Minute)
	fresh, err := c.CreateShipment(ctx, req)
	if err != nil || fresh.ID == first.ID {
		t.Fatalf("create with the key past its TTL = %s, %v; want a new shipment", fresh.ID, err)
	}

	release[1]()
	got := <-retryDone
	if got.err != nil || got.sh.ID != fresh.ID {
		t.Errorf("held retry = shipment %s, %v; want the fresh create's %s (the first's, %s, had expired when it arrived)",
			got.sh.ID, got.err, fresh.ID, first.ID)
	}
	log := srv.RequestLog()
	if last := log[len(log)-1]; !last.Replayed || !last.Time.Equal(retryArrival) {
		t.Errorf("held retry logged as %+v; want replayed, at its arrival %v", last, retryArrival)
	}
	release[0]()
	if o := <-otherDone; o.err != nil {
		t.Fatalf("held create with another key: %v", o.err)
	}
	// The first create, the fresh one and the other key's: the retry made none.
	if n := len(srv.Shipments()); n != 3 {
		t.Errorf("%d shipments, want 3", n)
	}
}

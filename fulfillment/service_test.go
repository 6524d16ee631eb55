package fulfillment

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/internal/fakehttp"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/webauthn"
	"github.com/preenroll/preenroll/yubico"
)

// newSeededRand is a deterministic io.Reader for tests, safe for
// concurrent use.
func newSeededRand(seed byte) io.Reader {
	var s [32]byte
	s[0] = seed
	return fakehttp.NewSeededReader(s)
}

// t0 is the fixed "now" of the tests in this package.
var t0 = time.Date(2026, 11, 29, 15, 0, 0, 123456789, time.UTC)

// offlineConfig is a valid Config whose clients point at a closed loopback
// port: any call fails at once.
func offlineConfig(t testing.TB) Config {
	t.Helper()
	oc, err := okta.NewClient("http://127.0.0.1:1", "token", okta.WithRetryPolicy(okta.NoRetries()))
	if err != nil {
		t.Fatal(err)
	}
	yc, err := yubico.NewClient("http://127.0.0.1:1/v1", "token", yubico.WithRetryPolicy(yubico.NoRetries()))
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Okta: oc, Yubico: yc, Store: NewMemoryStore(), RPIDs: []string{"example.okta.com"},
		Defaults:        Item{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"},
		Clock:           func() time.Time { return t0 },
		Rand:            newSeededRand(1),
		EventHookSecret: "hook-secret-0123456789",
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(*Config)
	}{
		{"no okta", func(c *Config) { c.Okta = nil }},
		{"no store", func(c *Config) { c.Store = nil }},
		{"nil SQLite store", func(c *Config) { c.Store = (*SQLiteStore)(nil) }},
		{"nil memory store", func(c *Config) { c.Store = (*MemoryStore)(nil) }},
		{"no RP IDs", func(c *Config) { c.RPIDs = nil }},
		{"RP ID with scheme", func(c *Config) { c.RPIDs = []string{"https://example.okta.com"} }},
		{"RP ID with path", func(c *Config) { c.RPIDs = []string{"example.okta.com/x"} }},
		{"RP ID upper case", func(c *Config) { c.RPIDs = []string{"Example.okta.com"} }},
		{"RP ID empty label", func(c *Config) { c.RPIDs = []string{"example..com"} }},
		{"RP ID an IPv4 address", func(c *Config) { c.RPIDs = []string{"127.0.0.1"} }},
		{"RP ID an IPv4 address after a good one", func(c *Config) { c.RPIDs = []string{"example.okta.com", "10.0.0.1"} }},
		{"duplicate RP ID", func(c *Config) { c.RPIDs = []string{"a.example", "a.example"} }},
		{"bad default product", func(c *Config) { c.Defaults.ProductID = "one" }},
		{"incomplete defaults", func(c *Config) { c.Defaults = Item{ProductID: "1"} }},
		{"bad group", func(c *Config) { c.NewUsersGroupID = "a/b" }},
		{"negative concurrency", func(c *Config) { c.Concurrency = -1 }},
		{"huge concurrency", func(c *Config) { c.Concurrency = 100000 }},
		{"negative poll", func(c *Config) { c.PollInterval = -time.Second }},
		{"negative lease", func(c *Config) { c.Lease = -time.Second }},
		{"negative rate", func(c *Config) { c.OrderRate = -1 }},
		{"multi-line secret", func(c *Config) { c.EventHookSecret = "hook-secret-0123456789\r\nX-Evil: 1" }},
		{"short secret", func(c *Config) { c.EventHookSecret = "fifteen-chars-x" }},
		{"broken rand", func(c *Config) { c.Rand = bytes.NewReader(nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := offlineConfig(t)
			tc.change(&cfg)
			if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("New = %v, want ErrInvalidConfig", err)
			}
			// CheckSettings refuses the same, but for the clients, the
			// store and Rand, which it does not look at.
			err := cfg.CheckSettings()
			if wantOK := cfg.Okta == nil || cfg.Store == nil || isNilPointer(cfg.Store) || tc.name == "broken rand"; (err == nil) != wantOK || (err != nil && !errors.Is(err, ErrInvalidConfig)) {
				t.Errorf("CheckSettings = %v, want ok %v", err, wantOK)
			}
		})
	}
	for _, secret := range []okta.Secret{"", okta.Secret(strings.Repeat("s", MinEventHookSecret))} {
		cfg := offlineConfig(t)
		cfg.EventHookSecret = secret
		if _, err := New(cfg); err != nil {
			t.Errorf("New with a %d-byte EventHookSecret = %v, want it accepted", len(secret), err)
		}
	}
	s, err := New(offlineConfig(t))
	if err != nil {
		t.Fatalf("New(valid) = %v", err)
	}
	if s.concurrency != DefaultConcurrency || s.pollInterval != DefaultPollInterval || s.lease != DefaultLease {
		t.Errorf("defaults: concurrency %d poll %v lease %v", s.concurrency, s.pollInterval, s.lease)
	}
}

// TestConfigErrorNamesEveryProblem: New and CheckSettings report every
// field they refuse, in Config's order, not only the first.
func TestConfigErrorNamesEveryProblem(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(*Config)
		check  bool // also CheckSettings, which does not look at the clients and the store
		want   []string
	}{
		{"empty", func(c *Config) { *c = Config{} }, false, []string{
			"Okta: required", "Store: required", "RPIDs: at least one relying-party ID is required"}},
		{"nil store pointer", func(c *Config) { c.Store = (*MemoryStore)(nil) }, false, []string{"Store: a nil *fulfillment.MemoryStore"}},
		{"several settings", func(c *Config) {
			c.RPIDs = []string{"a.example", "a..example", "a.example"}
			c.ExistingUsersGroupID = "a/b"
			c.Concurrency = -1
			c.Lease = -time.Second
			c.SyncClaim = -time.Minute
			c.IdempotencyWindow = -time.Hour
			c.EventHookSecret = "short-secret"
		}, true, []string{
			`RPIDs[1] "a..example": ` + webauthn.RPIDProblem("a..example"),
			`RPIDs[2] "a.example": duplicate`,
			`ExistingUsersGroupID "a/b": must be 1-64 ASCII letters, digits, '.', '_' or '-'`,
			fmt.Sprintf("Concurrency -1: want 0 (default %d) to %d", DefaultConcurrency, maxConcurrency),
			"Lease -1s: must not be negative",
			"SyncClaim -1m0s: must not be negative",
			"IdempotencyWindow -1h0m0s: must not be negative",
			"EventHookSecret: shorter than 16 bytes (whoever guesses it can post events; make one with openssl rand -base64 48)",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := offlineConfig(t)
			tc.change(&cfg)
			_, newErr := New(cfg)
			errs := map[string]error{"New": newErr}
			if tc.check {
				errs["CheckSettings"] = cfg.CheckSettings()
			}
			for name, err := range errs {
				ce, ok := errors.AsType[*ConfigError](err)
				if !ok || !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("%s = %v, want a *ConfigError matching ErrInvalidConfig", name, err)
				}
				if diff := cmp.Diff(tc.want, ce.Problems); diff != "" {
					t.Errorf("%s problems (-want +got):\n%s", name, diff)
				}
				if want := "fulfillment: invalid config: " + strings.Join(tc.want, "; "); err.Error() != want {
					t.Errorf("%s = %q, want %q", name, err, want)
				}
			}
		})
	}
}

// sealedResponse returns a real credential response JWE sealed to key.
func sealedResponse(t *testing.T, to *webauthn.PrivateKey, signer *webauthn.PrivateKey, enrollmentID string) string {
	t.Helper()
	jwe, err := webauthn.SealCredentialResponse(to.Public(), signer, webauthn.CredentialResponse{
		Version: webauthn.MessageVersion, UserID: "00u1", EnrollmentID: enrollmentID,
		CredentialID: []byte("cred-" + enrollmentID), AttestationObject: []byte{0xa0}, ClientDataJSON: []byte("{}"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return jwe
}

func TestPairResponses(t *testing.T) {
	t.Parallel()
	r := newSeededRand(2)
	keys := make([]*webauthn.PrivateKey, 3)
	for i, kid := range []string{"okta-key-a", "okta-key-b", "okta-key-c"} {
		k, err := webauthn.GenerateKey(r, kid, webauthn.UseEncryption)
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = k
	}
	signer, err := webauthn.GenerateKey(r, "yubico-sig", webauthn.UseSigning)
	if err != nil {
		t.Fatal(err)
	}
	enrollments := []Enrollment{{ID: "fwfA", KeyID: "okta-key-a"}, {ID: "fwfB", KeyID: "okta-key-b"}}
	respA := sealedResponse(t, keys[0], signer, "fwfA")
	respB := sealedResponse(t, keys[1], signer, "fwfB")
	respC := sealedResponse(t, keys[2], signer, "fwfC")

	noKid := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"x"}`)) + ".a.b.c.d"
	pair := func(ids ...string) []okta.CredResponse {
		var out []okta.CredResponse
		for i := 0; i < len(ids); i += 2 {
			out = append(out, okta.CredResponse{AuthenticatorEnrollmentID: ids[i], CredResponseJWE: ids[i+1]})
		}
		return out
	}
	three := append(slices.Clone(enrollments), Enrollment{ID: "fwfX", KeyID: "okta-key-x"}) // respC names none of them
	for _, tc := range []struct {
		name        string
		enrollments []Enrollment
		responses   []string
		want        []okta.CredResponse
		wantPairing Pairing
		wantErr     string // a part of the error; "" for none
	}{
		{"in order", enrollments, []string{respA, respB}, pair("fwfA", respA, "fwfB", respB), PairedByKeyID, ""},
		{"reversed: paired by kid", enrollments, []string{respB, respA}, pair("fwfA", respA, "fwfB", respB), PairedByKeyID, ""},
		{"shared key: recorded order", []Enrollment{{ID: "fwfA", KeyID: "k"}, {ID: "fwfB", KeyID: "k"}}, []string{respB, respA},
			pair("fwfA", respB, "fwfB", respA), PairedByRequestOrder, ""},
		{"one unmatched kid: request order", enrollments, []string{respA, respC}, pair("fwfA", respA, "fwfB", respC), PairedByRequestOrder, ""},
		{"one unmatched kid first: request order", enrollments, []string{respC, respB}, pair("fwfA", respC, "fwfB", respB), PairedByRequestOrder, ""},
		{"only response unmatched", enrollments[:1], []string{respC}, pair("fwfA", respC), PairedByRequestOrder, ""},
		{"no kid: request order", enrollments, []string{respA, noKid}, pair("fwfA", respA, "fwfB", noKid), PairedByRequestOrder, ""},
		{"two unmatched kids", three, []string{respA, respC, noKid}, nil, "", "more than one enrollment could be theirs"},
		{"all unmatched", []Enrollment{{ID: "fwfX", KeyID: "x"}, {ID: "fwfY", KeyID: "y"}}, []string{respA, respB}, nil, "", "more than one enrollment could be theirs"},
		{"unmatched and out of order", three, []string{respB, respA, respC}, nil, "", "not in the order of the requests"},
		{"too few", enrollments, []string{respA}, nil, "", "1 credential responses for 2 enrollments"},
		{"too many", enrollments, []string{respA, respB, respC}, nil, "", "3 credential responses for 2 enrollments"},
		{"same enrollment twice", enrollments, []string{respA, respA}, nil, "", "repeated"},
		{"not a JWE", enrollments, []string{respA, "abc.def"}, nil, "", "not a compact JWE"},
		{"header not JSON", enrollments, []string{respA, base64.RawURLEncoding.EncodeToString([]byte("nope")) + "....."[:4]}, nil, "", "not JSON"},
		{"huge header", enrollments, []string{respA, strings.Repeat("A", maxJWEHeader+1) + ".a.b.c.d"}, nil, "", "longer than"},
		{"empty under shared key", []Enrollment{{ID: "fwfA"}, {ID: "fwfB"}}, []string{respA, ""}, nil, "", "is empty"},
		{"empty under distinct keys", enrollments, []string{respA, ""}, nil, "", "is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, pairing, why, err := pairResponses(tc.enrollments, tc.responses)
			if (err != nil) != (tc.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("pairResponses error = %v, want one containing %q", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("pairResponses (-want +got):\n%s", diff)
			}
			if pairing != tc.wantPairing || (pairing == PairedByRequestOrder) != (why != "") {
				t.Errorf("pairing %q (why %q), want %q with a reason iff by request order", pairing, why, tc.wantPairing)
			}
		})
	}
}

// TestCheckSettingsRPIDs: the RP IDs are checked by webauthn's rule, the
// one the relying party's ceremonies apply, so that no key is ordered for
// an RP ID (an IP address) its credentials could not be used with.
func TestCheckSettingsRPIDs(t *testing.T) {
	t.Parallel()
	for rp, ok := range map[string]bool{
		"example.okta.com": true, "localhost": true, "a-b.example": true,
		"127.0.0.1": false, "::1": false, "10.0.0.1": false, "intranet": false, "example.123": false,
		"": false, "-a.example": false, "a-.example": false, "a_b.example": false, "exämple.com": false,
		"host:443": false, "a b": false, strings.Repeat("a", 64) + ".com": false, strings.Repeat("a.", 127) + "com": false,
	} {
		err := Config{RPIDs: []string{"example.org", rp}}.CheckSettings()
		if got := err == nil; got != ok {
			t.Errorf("CheckSettings(RPIDs %q) = %v, want ok %v", rp, err, ok)
		}
		if err != nil && (!errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "RPIDs[1]") || !strings.Contains(err.Error(), webauthn.RPIDProblem(rp))) {
			t.Errorf("CheckSettings(RPIDs %q) = %v, want ErrInvalidConfig naming RPIDs[1] and %q", rp, err, webauthn.RPIDProblem(rp))
		}
	}
}

func TestDefinite(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&okta.APIError{StatusCode: 400}, true},
		{&okta.APIError{StatusCode: 404}, true},
		{&okta.APIError{StatusCode: 429}, false},
		{&okta.APIError{StatusCode: 500}, false},
		{&yubico.APIError{StatusCode: 422}, true},
		{&yubico.APIError{StatusCode: 408}, false},
		{&yubico.APIError{StatusCode: 503}, false},
		{okta.ErrInvalidArgument, true},
		{errors.New("connection reset"), false},
		// A keyed create refused after an attempt that may have been applied.
		{fmt.Errorf("%w: %w", yubico.ErrOutcomeUnknown, &yubico.APIError{StatusCode: 400}), false},
	} {
		if got := definite(tc.err); got != tc.want {
			t.Errorf("definite(%v) = %v, want %v", tc.err, got, tc.want)
		}
		if got := errors.Is(unknown("x", tc.err), ErrOutcomeUnknown); got == tc.want {
			t.Errorf("unknown(%v) wraps ErrOutcomeUnknown = %v, want %v", tc.err, got, !tc.want)
		}
	}
}

// hookEvent builds an Okta event hook delivery with one event per uuid.
func hookEvent(userID string, detail map[string]any, uuids ...string) []byte {
	var events []map[string]any
	for _, id := range uuids {
		events = append(events, map[string]any{
			"uuid": id, "published": "2026-11-29T15:00:00.000Z", "eventType": okta.EventTypePreregisterInitiate, "version": "0",
			"severity": "INFO", "displayMessage": "MFA preregistration initiated",
			"target": []map[string]any{
				{"id": userID, "type": "User", "alternateId": userID + "@example.com", "displayName": "A User"},
				{"id": "pfx1", "type": "PreregistrationMFAFactor", "detailEntry": detail},
			},
		})
	}
	b, _ := json.Marshal(map[string]any{
		"eventType": "com.okta.event_hook", "eventTypeVersion": "1.0", "cloudEventsVersion": "0.1",
		"source": "https://example.okta.com/api/v1/eventHooks/who1", "eventId": "e1", "contentType": "application/json",
		"data": map[string]any{"events": events},
	})
	return b
}

func TestEventHandler(t *testing.T) {
	t.Parallel()
	cfg := offlineConfig(t)
	cfg.MaxEventBody = 64 << 10
	var logs bytes.Buffer
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	ids, org := withEventOrg(t, &cfg, "event1", "event2", "event3")
	gone, err := org.AddUser(okta.Profile{Login: "gone@example.com", Email: "gone@example.com", FirstName: "G", LastName: "One"}, okta.UserDeprovisioned)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := s.EventHandler()
	send := func(method string, body []byte, header map[string]string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(method, "/okta/events", bytes.NewReader(body))
		req.Header.Set("Authorization", cfg.EventHookSecret.Reveal())
		req.Header.Set("Content-Type", "application/json")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	snake := map[string]any{"fulfillment_provider": "yubico", "yubico_product_id": "55", "yubico_inventory_product_id": "106", "yubico_customization_id": "RXJN83"}

	t.Run("verification", func(t *testing.T) {
		w := send("GET", nil, map[string]string{"X-Okta-Verification-Challenge": "chal-123"})
		if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"verification":"chal-123"}` {
			t.Errorf("GET = %d %q, want 200 {\"verification\":\"chal-123\"}", w.Code, w.Body)
		}
		if w := send("GET", nil, nil); w.Code != 400 {
			t.Errorf("GET without challenge = %d, want 400", w.Code)
		}
		if w := send("GET", nil, map[string]string{"X-Okta-Verification-Challenge": strings.Repeat("x", 2000)}); w.Code != 400 {
			t.Errorf("GET with huge challenge = %d, want 400", w.Code)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		body := hookEvent("00urefused", snake, "uuid-refused")
		for _, tc := range []struct {
			name   string
			method string
			body   []byte
			header map[string]string
			want   int
		}{
			{"no auth", "POST", body, map[string]string{"Authorization": ""}, 401},
			{"wrong auth", "POST", body, map[string]string{"Authorization": "hook-secret-0123456780"}, 401},
			{"prefix of auth", "POST", body, map[string]string{"Authorization": "hook-secret"}, 401},
			{"wrong auth on GET", "GET", nil, map[string]string{"Authorization": "x", "X-Okta-Verification-Challenge": "c"}, 401},
			{"method", "PUT", body, nil, 405},
			{"content type", "POST", body, map[string]string{"Content-Type": "text/plain"}, 415},
			{"too large", "POST", bytes.Repeat([]byte(" "), 65<<10), nil, 413},
			{"not JSON", "POST", []byte("{"), nil, 400},
			{"no data", "POST", []byte(`{"eventType":"com.okta.event_hook"}`), nil, 400},
			{"no events", "POST", []byte(`{"data":{"events":[]}}`), nil, 400},
		} {
			if w := send(tc.method, tc.body, tc.header); w.Code != tc.want {
				t.Errorf("%s: status %d, want %d", tc.name, w.Code, tc.want)
			}
		}
		if _, err := s.store.Get(t.Context(), "00urefused"); !errors.Is(err, ErrRecordNotFound) {
			t.Errorf("a refused delivery left a record: %v", err)
		}
		if strings.Contains(logs.String(), cfg.EventHookSecret.Reveal()) {
			t.Error("the event hook secret appears in the log")
		}
	})

	t.Run("records an order once", func(t *testing.T) {
		if w := send("POST", hookEvent(ids["event1"], snake, "uuid-1"), nil); w.Code != 200 {
			t.Fatalf("POST = %d %s", w.Code, w.Body)
		}
		rec, err := s.store.Get(t.Context(), ids["event1"])
		if err != nil {
			t.Fatal(err)
		}
		want := Record{UserID: ids["event1"], Login: "event1@example.com", Status: FulfillmentStarted, Step: StepInitiated,
			Items: []Item{{ProductID: "55", InventoryProductID: "106", CustomizationID: "RXJN83"}}, Attempts: 1, EventID: "uuid-1"}
		if diff := cmp.Diff(want, rec, cmpRecordCore); diff != "" {
			t.Errorf("record (-want +got):\n%s", diff)
		}
		// Redelivery, and a second order for the same user.
		for _, id := range []string{"uuid-1", "uuid-2"} {
			if w := send("POST", hookEvent(ids["event1"], snake, id), nil); w.Code != 200 {
				t.Fatalf("POST %s = %d", id, w.Code)
			}
		}
		again, err := s.store.Get(t.Context(), ids["event1"])
		if err != nil {
			t.Fatal(err)
		}
		if again.Version != rec.Version {
			t.Errorf("duplicate events changed the record: version %d → %d", rec.Version, again.Version)
		}
	})

	t.Run("new order after active, old event replayed", func(t *testing.T) {
		ctx := t.Context()
		if _, err := s.store.Put(ctx, Record{UserID: ids["event2"], Status: Active, Step: StepActive, EventID: "uuid-old"}); err != nil {
			t.Fatal(err)
		}
		if first, err := s.store.MarkEvent(ctx, "uuid-old", t0); err != nil || !first {
			t.Fatal(first, err)
		}
		camel := map[string]any{"fulfillmentProvider": "yubico", "yubicoProductId": 29, "yubicoInventoryProductId": "106", "yubicoCustomizationId": "RXJN83"}
		// One delivery, two events: the old one replayed and a new one.
		if w := send("POST", hookEvent(ids["event2"], camel, "uuid-old", "uuid-new"), nil); w.Code != 200 {
			t.Fatalf("POST = %d", w.Code)
		}
		rec, err := s.store.Get(ctx, ids["event2"])
		if err != nil {
			t.Fatal(err)
		}
		if rec.Status != FulfillmentStarted || rec.EventID != "uuid-new" || rec.Items[0].ProductID != "29" {
			t.Errorf("record = %s %s %+v, want a new order from uuid-new for product 29", rec.Status, rec.EventID, rec.Items)
		}
	})

	t.Run("defaults and malformed events", func(t *testing.T) {
		ctx := t.Context()
		if w := send("POST", hookEvent(ids["event3"], nil, "uuid-3"), nil); w.Code != 200 {
			t.Fatalf("POST = %d", w.Code)
		}
		rec, err := s.store.Get(ctx, ids["event3"])
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]Item{cfg.Defaults}, rec.Items); diff != "" {
			t.Errorf("items of an event without details (-want +got):\n%s", diff)
		}
		for i, body := range [][]byte{
			hookEvent("00uevent4", map[string]any{"fulfillment_provider": "other"}, "uuid-4"),
			hookEvent("00uevent4", map[string]any{"yubico_product_id": "x1"}, "uuid-5"),
			hookEvent("bad/user", snake, "uuid-6"),
			hookEvent("00uevent4", snake, ""),
			[]byte(`{"data":{"events":[{"uuid":"u7","eventType":"user.session.start","target":[{"id":"00uevent4","type":"User"}]}]}}`),
			[]byte(`{"data":{"events":[{"uuid":"u8","eventType":"system.mfa.preregister.initiate","target":[]}]}}`),
		} {
			if w := send("POST", body, nil); w.Code != 200 {
				t.Errorf("delivery %d: status %d, want 200 (event skipped)", i, w.Code)
			}
		}
		if _, err := s.store.Get(ctx, "00uevent4"); !errors.Is(err, ErrRecordNotFound) {
			t.Errorf("a malformed event made a record: %v", err)
		}
	})
	t.Run("rejects users Okta does not have", func(t *testing.T) {
		ctx := t.Context()
		// Event UUIDs as Okta's (36 bytes): logged whole, so that the line
		// can be found in Okta's System Log.
		for _, tc := range []struct{ name, userID, reason, uuid string }{
			{"unknown", "00unobody0000000000", "Okta answers", "1f6c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"},
			{"deactivated", gone.ID, "is deactivated", "2f6c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"},
		} {
			for _, uuid := range []string{tc.uuid, tc.uuid} { // and its redelivery
				logs.Reset()
				w := send("POST", hookEvent(tc.userID, snake, uuid), nil)
				var answer struct {
					Rejected []struct{ UUID, UserID, Reason string }
				}
				if err := json.Unmarshal(w.Body.Bytes(), &answer); w.Code != 200 || err != nil || len(answer.Rejected) != 1 {
					t.Fatalf("%s: POST = %d %q, want 200 naming one rejected event; log: %s", tc.name, w.Code, w.Body, logs.String())
				}
				r := answer.Rejected[0]
				if r.UUID != uuid || r.UserID != tc.userID || !strings.Contains(r.Reason, tc.reason) || !strings.Contains(r.Reason, ErrUnknownUser.Error()) {
					t.Errorf("%s: rejection = %+v, want uuid %s, user %s and a reason with %q", tc.name, r, uuid, tc.userID, tc.reason)
				}
				var line struct{ Level, Msg, UUID, EventType, User, Reason string }
				if err := json.Unmarshal(logs.Bytes(), &line); err != nil || line.Level != "WARN" || line.Msg != "fulfillment: event hook: event rejected" ||
					line.UUID != uuid || line.EventType != okta.EventTypePreregisterInitiate || line.User != tc.userID || !strings.Contains(line.Reason, tc.reason) {
					t.Errorf("%s: log = %s (%v), want one warning naming the event, its type, the user and the reason", tc.name, logs.String(), err)
				}
			}
			if _, err := s.store.Get(ctx, tc.userID); !errors.Is(err, ErrRecordNotFound) {
				t.Errorf("%s: a rejected event made a record: %v", tc.name, err)
			}
			if first, err := s.store.MarkEvent(ctx, tc.uuid, t0); err != nil || !first {
				t.Errorf("%s: the rejected event was marked handled (%v, %v)", tc.name, first, err)
			}
		}
		// An answer without rejections has no body.
		w := send("POST", hookEvent(ids["event3"], snake, "uuid-in-flight"), nil)
		if w.Code != 200 || w.Body.Len() != 0 {
			t.Errorf("event of a user in flight: POST = %d %q, want 200 without rejections", w.Code, w.Body)
		}
	})
}

// cmpRecordCore compares records without bookkeeping fields.
var cmpRecordCore = cmp.FilterPath(func(p cmp.Path) bool {
	switch p.Last().String() {
	case ".Version", ".History", ".CreatedAt", ".UpdatedAt", ".Keys", ".Lease":
		return true
	}
	return false
}, cmp.Ignore())

func TestEventHandlerWithoutSecret(t *testing.T) {
	t.Parallel()
	cfg := offlineConfig(t)
	cfg.EventHookSecret = ""
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/", bytes.NewReader(hookEvent("00u1", nil, "u1")))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	s.EventHandler().ServeHTTP(w, req)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("POST without a configured secret = %d, want 401", w.Code)
	}
}

// manualTicker is a Ticker driven by the test.
type manualTicker struct {
	c       chan time.Time
	stopped chan struct{}
}

func (m *manualTicker) C() <-chan time.Time { return m.c }
func (m *manualTicker) Stop()               { close(m.stopped) }

// countingStore counts List calls (one per Sync pass).
type countingStore struct {
	Store
	lists chan struct{}
}

func (c *countingStore) List(ctx context.Context, q Query) ([]Record, error) {
	c.lists <- struct{}{}
	return c.Store.List(ctx, q)
}

func TestRunSyncsOnEveryTick(t *testing.T) {
	t.Parallel()
	cfg := offlineConfig(t)
	store := &countingStore{Store: NewMemoryStore(), lists: make(chan struct{})}
	cfg.Store = store
	kickID, _ := withEventOrg(t, &cfg, "kick")
	tick := &manualTicker{c: make(chan time.Time), stopped: make(chan struct{})}
	var gotInterval time.Duration
	cfg.PollInterval = 5 * time.Minute
	cfg.NewTicker = func(d time.Duration) Ticker { gotInterval = d; return tick }
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	<-store.lists // the pass at start
	for range 3 {
		tick.c <- t0
		<-store.lists
	}
	// An event kicks a pass without a tick.
	req := httptest.NewRequest("POST", "/", bytes.NewReader(hookEvent(kickID["kick"], nil, "uuid-kick")))
	req.Header.Set("Authorization", cfg.EventHookSecret.Reveal())
	req.Header.Set("Content-Type", "application/json")
	s.EventHandler().ServeHTTP(httptest.NewRecorder(), req)
	<-store.lists
	cancel()
	// The kicked pass may try the new record and fail (no network); Run
	// must still end with ctx's error.
	go func() {
		for range store.lists {
		}
	}()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	close(store.lists)
	<-tick.stopped
	if gotInterval != 5*time.Minute {
		t.Errorf("ticker interval = %v, want 5m", gotInterval)
	}
}

// FuzzEventHook feeds arbitrary bodies to the event hook handler: it never
// panics, answers 200 or a 4xx, and records only well-formed orders.
func FuzzEventHook(f *testing.F) {
	f.Add(hookEvent("00uf1", map[string]any{"yubicoProductId": "1", "yubicoInventoryProductId": "106", "yubicoCustomizationId": "RXJN83"}, "u1"))
	f.Add(hookEvent("00uf2", nil, "u2", "u3"))
	f.Add([]byte(`{"data":{"events":[{"uuid":"x","eventType":"system.mfa.preregister.initiate","target":[{"type":"User","id":"00u3","detailEntry":{"yubico_product_id":7}}]}]}}`))
	f.Add([]byte(`{"data":{"events":null}}`))
	f.Add([]byte(`[]`))
	// The handler asks Okta about each event's user: one fake org for all
	// inputs (the fuzzed user IDs are unknown to it, so they are rejected).
	orgCfg := offlineConfig(f)
	withEventOrg(f, &orgCfg)
	f.Fuzz(func(t *testing.T, body []byte) {
		cfg := offlineConfig(t)
		cfg.Okta = orgCfg.Okta
		cfg.MaxEventBody = 16 << 10
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		req.Header.Set("Authorization", cfg.EventHookSecret.Reveal())
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		w := httptest.NewRecorder()
		s.EventHandler().ServeHTTP(w, req)
		if w.Code != http.StatusOK && (w.Code < 400 || w.Code >= 500) {
			t.Fatalf("status %d for %q", w.Code, body)
		}
		recs, err := s.store.List(t.Context(), Query{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if err := validateOrder(r.UserID, r.Items); err != nil || r.EventID == "" {
				t.Fatalf("recorded an invalid order %+v: %v", r, err)
			}
		}
	})
}

// The event hook secret never shows in fmt or slog output of a Config, nor
// in the JSON of its field.
func TestConfigRedactsEventHookSecret(t *testing.T) {
	t.Parallel()
	cfg := offlineConfig(t)
	secret := cfg.EventHookSecret.Reveal()
	var jsonLog, textLog bytes.Buffer
	slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("config", "cfg", cfg, "secret", cfg.EventHookSecret)
	slog.New(slog.NewTextHandler(&textLog, nil)).Info("config", "cfg", cfg, "secret", cfg.EventHookSecret)
	// A Config holds funcs, which encoding/json refuses: the secret's
	// field alone, as a program logging its settings as JSON would have it.
	field, err := json.Marshal(struct{ EventHookSecret okta.Secret }{cfg.EventHookSecret})
	if err != nil {
		t.Fatalf("json.Marshal of the secret: %v", err)
	}
	for _, out := range []string{
		fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprint(cfg.EventHookSecret),
		string(field), jsonLog.String(), textLog.String(),
	} {
		if strings.Contains(out, secret) {
			t.Errorf("the event hook secret shows in %s", out)
		}
	}
	if !strings.Contains(fmt.Sprintf("%+v", cfg), "EventHookSecret:[REDACTED]") {
		t.Errorf("%%+v of Config = %+v, want EventHookSecret:[REDACTED]", cfg)
	}
}

// Unauthorized event hook requests, which anybody who reaches the hook can
// send, are logged at most once a minute, each line counting the ones
// refused since the last without a line.
func TestRefusedHookLogPaced(t *testing.T) {
	t.Parallel()
	cfg := offlineConfig(t)
	now := t0
	cfg.Clock = func() time.Time { return now }
	var logs bytes.Buffer
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	refuse := func(n int) {
		t.Helper()
		for range n {
			req := httptest.NewRequest("POST", "/", bytes.NewReader(hookEvent("00u1", nil, "u1")))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "wrong")
			w := httptest.NewRecorder()
			s.EventHandler().ServeHTTP(w, req)
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("POST with a wrong secret = %d, want 401", w.Code)
			}
		}
	}
	refuse(5)
	now = now.Add(59 * time.Second)
	refuse(1)
	now = now.Add(time.Second)
	refuse(3)
	var got []int
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var rec struct {
			Msg      string
			Unlogged int `json:"unlogged_before"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if strings.Contains(rec.Msg, "unauthorized") {
			got = append(got, rec.Unlogged)
		}
	}
	// t0: one line (none before), 4 + 1 unlogged; t0+60s: one line
	// counting those 5, then 2 unlogged.
	if diff := cmp.Diff([]int{0, 5}, got); diff != "" {
		t.Errorf("unauthorized lines' unlogged_before (-want +got):\n%s", diff)
	}
}

// TestRefusedHookLogSaysNoSecret: a Service without EventHookSecret
// refuses every hook request, Okta's verification too; its log line says
// why, so that a program that forgot the secret is not left to guess. A
// refusal of a wrong secret carries no reason.
func TestRefusedHookLogSaysNoSecret(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		secret okta.Secret
		want   string
	}{
		{"", "Config.EventHookSecret is empty: every request is refused"},
		{"hook-secret-0123456789", ""},
	} {
		cfg := offlineConfig(t)
		cfg.EventHookSecret = tc.secret
		var logs bytes.Buffer
		cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("X-Okta-Verification-Challenge", "challenge")
		req.Header.Set("Authorization", "a guess")
		w := httptest.NewRecorder()
		s.EventHandler().ServeHTTP(w, req)
		if w.Code != http.StatusUnauthorized {
			t.Errorf("secret %q: verification = %d, want 401", tc.secret, w.Code)
		}
		var rec struct {
			Msg    string
			Reason string
		}
		if err := json.Unmarshal(logs.Bytes(), &rec); err != nil {
			t.Fatalf("secret %q: log %q: %v", tc.secret, logs.String(), err)
		}
		if !strings.Contains(rec.Msg, "unauthorized") || rec.Reason != tc.want {
			t.Errorf("secret %q: logged %q with reason %q, want reason %q", tc.secret, rec.Msg, rec.Reason, tc.want)
		}
	}
}

// TestOrderChecksUserFirst: Order and OrderBatch refuse a user that no
// Okta ID or login can be (blank, too long, control characters, white
// space around it) before asking Okta (offlineConfig's Okta fails every
// call: a ValidationError says none was made), and quote at most 32 bytes
// of it. A user no store can key (CheckID, the empty one included)
// wraps CheckID's *IDError too, so its error matches ErrInvalidID and
// errors.As finds the reason; one of white space only or with white space
// around it does neither. The error's text is the ValidationError's.
func TestOrderChecksUserFirst(t *testing.T) {
	t.Parallel()
	svc, err := New(offlineConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("a", MaxIDLen+1)
	for _, tc := range []struct {
		user    string
		want    FieldError
		wantID  *IDError // what errors.As finds, nil when the error must not match ErrInvalidID
		wantMsg string
	}{
		{"", FieldError{Field: "userId", Problem: "required"},
			&IDError{What: "user ID", ID: "", Problem: "is empty"},
			`fulfillment: invalid order: userId: required`},
		{"   ", FieldError{Field: "userId", Problem: "required", Value: "   "},
			nil,
			`fulfillment: invalid order: userId "   ": required`},
		{long, FieldError{Field: "userId", Problem: "is 257 bytes, longer than 256", Value: strings.Repeat("a", 32) + "…"},
			&IDError{What: "user ID", ID: long, Problem: "is 257 bytes, longer than 256"},
			`fulfillment: invalid order: userId "` + strings.Repeat("a", 32) + `…": is 257 bytes, longer than 256`},
		{"jan\x00@example.com", FieldError{Field: "userId", Problem: "contains a control character", Value: "jan\x00@example.com"},
			&IDError{What: "user ID", ID: "jan\x00@example.com", Problem: "contains a control character"},
			`fulfillment: invalid order: userId "jan\x00@example.com": contains a control character`},
		{" jan@example.com", FieldError{Field: "userId", Problem: "leading or trailing white space", Value: " jan@example.com"},
			nil,
			`fulfillment: invalid order: userId " jan@example.com": leading or trailing white space`},
		{"\xffjan", FieldError{Field: "userId", Problem: "is not valid UTF-8", Value: "\xffjan"},
			&IDError{What: "user ID", ID: "\xffjan", Problem: "is not valid UTF-8"},
			`fulfillment: invalid order: userId "\xffjan": is not valid UTF-8`},
	} {
		_, err := svc.Order(t.Context(), tc.user)
		checkUserErr(t, fmt.Sprintf("Order(%q)", tc.user), err, tc.want, tc.wantID, tc.wantMsg)
		rep, err := svc.OrderBatch(t.Context(), []string{tc.user}, BatchOptions{})
		if err != nil || len(rep.Invalid) != 1 || rep.Ordered != 0 {
			t.Errorf("OrderBatch(%q) = %+v, %v; want the user invalid", tc.user, rep, err)
			continue
		}
		checkUserErr(t, fmt.Sprintf("OrderBatch(%q) invalid", tc.user), rep.Invalid[0].Err, tc.want, tc.wantID, tc.wantMsg)
	}
}

// checkUserErr checks the error of Order or OrderBatch for a user it
// refuses: a *ValidationError wrapping ErrInvalidOrder with the one field
// problem want and the text wantMsg, matching ErrInvalidID and holding
// wantID (errors.As) if wantID is not nil, and neither otherwise.
func checkUserErr(t *testing.T, call string, err error, want FieldError, wantID *IDError, wantMsg string) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidOrder) {
		t.Errorf("%s = %v, want a *ValidationError wrapping ErrInvalidOrder", call, err)
		return
	}
	if diff := cmp.Diff([]FieldError{want}, ve.Fields); diff != "" {
		t.Errorf("%s fields (-want +got):\n%s", call, diff)
	}
	if got := err.Error(); got != wantMsg {
		t.Errorf("%s error = %q, want %q", call, got, wantMsg)
	}
	if got := errors.Is(err, ErrInvalidID); got != (wantID != nil) {
		t.Errorf("%s: errors.Is(err, ErrInvalidID) = %v, want %v", call, got, wantID != nil)
	}
	var ie *IDError
	if !errors.As(err, &ie) {
		ie = nil
	}
	if diff := cmp.Diff(wantID, ie); diff != "" {
		t.Errorf("%s: errors.As(err, *IDError) (-want +got):\n%s", call, diff)
	}
}

// TestValidationErrorNotInvalidID: a ValidationError for anything but a
// user ID no store can key matches neither ErrInvalidID nor holds an
// *IDError, and still wraps its own kind.
func TestValidationErrorNotInvalidID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		kind error
	}{
		{"empty shipping info", ShippingInfo{}.Check(), ErrInvalidShipping},
		{"empty item", Item{}.Validate(), ErrInvalidOrder},
		{"user with white space around it", checkUserKey(" 00u1"), ErrInvalidOrder},
	} {
		var ve *ValidationError
		if !errors.As(tc.err, &ve) || !errors.Is(tc.err, tc.kind) {
			t.Errorf("%s: error = %v, want a *ValidationError wrapping %v", tc.name, tc.err, tc.kind)
			continue
		}
		var ie *IDError
		if errors.Is(tc.err, ErrInvalidID) || errors.As(tc.err, &ie) {
			t.Errorf("%s: error = %v matches ErrInvalidID or holds an *IDError (%v), want neither", tc.name, tc.err, ie)
		}
	}
}

// TestUserIDMethodsRefuseInvalidIDs: every Service method that takes a
// user ID (or an event naming one) refuses one no store can key with an
// error matching ErrInvalidID, through which errors.As finds the
// *IDError naming it, and makes no call (offlineConfig's Okta and Yubico
// fail every one: such an error would not match).
func TestUserIDMethodsRefuseInvalidIDs(t *testing.T) {
	t.Parallel()
	svc, err := New(offlineConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, id := range []string{"", "00u\x00", "00u\xff", strings.Repeat("u", MaxIDLen+1)} {
		_, recordEventErr := svc.RecordEvent(ctx, HookEvent{ID: "evt-1", UserID: id})
		for _, tc := range []struct {
			call string
			err  error
			what string // the IDError's What
		}{
			{"Status", second(svc.Status(ctx, id)), "user ID"},
			{"Retry", second(svc.Retry(ctx, id)), "user ID"},
			{"Check", second(svc.Check(ctx, id)), "user ID"},
			{"Delete", svc.Delete(ctx, id), "user ID"},
			{"ResendPIN", svc.ResendPIN(ctx, id), "user ID"},
			{"RecordEvent of its user", recordEventErr, "user ID"},
			{"RecordEvent of its event ID", second(svc.RecordEvent(ctx, HookEvent{ID: id, UserID: "00u1"})), "event ID"},
		} {
			var ie *IDError
			if !errors.Is(tc.err, ErrInvalidID) || !errors.As(tc.err, &ie) {
				t.Errorf("%s(%q) = %v, want an error matching ErrInvalidID with an *IDError", tc.call, id, tc.err)
				continue
			}
			if ie.What != tc.what || ie.ID != id {
				t.Errorf("%s(%q): IDError names %s %q, want %s %q", tc.call, id, ie.What, ie.ID, tc.what, id)
			}
		}
	}
}

// second returns the error of a call that returns a value and an error.
func second[V any](_ V, err error) error { return err }

// TestListChecksQuery: a status that is none of the five is an error
// naming it, not an empty list.
func TestListChecksQuery(t *testing.T) {
	t.Parallel()
	svc, err := New(offlineConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		q    Query
		want string // "" for no error
	}{
		{Query{}, ""},
		{Query{Statuses: []Status{Active, Shipped}}, ""},
		{Query{Statuses: []Status{Active, "ACITVE"}}, `fulfillment: query: Statuses[1] "ACITVE": not a status (want one of [FULFILLMENT_STARTED FULFILLMENT_ERRORED SHIPPED ACTIVE DELETED])`},
		{Query{Statuses: []Status{StatusNone}}, `fulfillment: query: Statuses[0] "": not a status (want one of [FULFILLMENT_STARTED FULFILLMENT_ERRORED SHIPPED ACTIVE DELETED])`},
		{Query{Limit: -1}, "fulfillment: query: Limit -1: must not be negative (0: no limit)"},
	} {
		_, err := svc.List(t.Context(), tc.q)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("List(%+v) error = %q, want %q", tc.q, got, tc.want)
		}
	}
}

// TestOrderBatchInterrupted: a batch whose context ends says so with the
// package's prefix, wrapping the context's error.
func TestOrderBatchInterrupted(t *testing.T) {
	t.Parallel()
	svc, err := New(offlineConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = svc.OrderBatch(ctx, []string{"jan@example.com"}, BatchOptions{})
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "fulfillment: batch of 1 users: ") {
		t.Errorf("OrderBatch = %v, want fulfillment's error wrapping context.Canceled", err)
	}
	users := make(chan string)
	_, err = svc.OrderBatchFrom(ctx, users, BatchOptions{})
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "fulfillment: batch: ") {
		t.Errorf("OrderBatchFrom = %v, want fulfillment's error wrapping context.Canceled", err)
	}
}

// TestManageErrors: a login where the Okta ID goes finds no record and
// says why; the store's other errors carry the call and the user.
func TestManageErrors(t *testing.T) {
	t.Parallel()
	svc, err := New(offlineConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Status(t.Context(), "olga@example.com")
	if want := `fulfillment: no record for user "olga@example.com" (a login? status takes the user's Okta ID, Record.UserID: 00u…)`; err == nil || err.Error() != want || !errors.Is(err, ErrRecordNotFound) {
		t.Errorf("Status(login) = %v, want %q wrapping ErrRecordNotFound", err, want)
	}
	if err := svc.Delete(t.Context(), "00unknown"); err == nil || err.Error() != `fulfillment: no record for user "00unknown"` {
		t.Errorf("Delete(unknown ID) = %v, want ErrRecordNotFound's text only", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tc := range []struct {
		call string
		err  error
	}{
		{"status", func() error { _, err := svc.Status(ctx, "00u1"); return err }()},
		{"delete", svc.Delete(ctx, "00u1")},
		{"resend PIN", svc.ResendPIN(ctx, "00u1")},
		{"retry", func() error { _, err := svc.Retry(ctx, "00u1"); return err }()},
	} {
		if want := "fulfillment: " + tc.call + ` "00u1": context canceled`; tc.err == nil || tc.err.Error() != want || !errors.Is(tc.err, context.Canceled) {
			t.Errorf("%s = %v, want %q", tc.call, tc.err, want)
		}
	}
}

package fulfillment_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/internal/testhttp"
	"github.com/preenroll/preenroll/okta"
)

// hookSpec is the Service's event hook as a program registers it.
func hookSpec(uri, secret string) okta.EventHook {
	return okta.EventHook{
		Name:   "preenroll",
		Events: okta.EventSubscriptions{Items: []string{okta.EventTypePreregisterInitiate}},
		Channel: okta.EventHookChannel{Config: okta.EventHookChannelConfig{
			URI: uri, AuthScheme: &okta.EventHookAuthScheme{Key: "Authorization", Value: okta.Secret(secret)},
		}},
	}
}

// lossyFront passes Okta's calls to the Service's EventHandler, but answers
// 500 to the first delivery after the handler did its work (a proxy that
// lost the answer), so Okta delivers the same event again. It keeps the
// bodies it saw.
type lossyFront struct {
	next http.Handler

	mu     sync.Mutex
	posts  int
	bodies [][]byte
}

func (f *lossyFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		f.next.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	f.mu.Lock()
	f.posts++
	first := f.posts == 1
	f.bodies = append(f.bodies, body)
	f.mu.Unlock()
	if !first {
		f.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	f.next.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		w.WriteHeader(rec.Code) // the handler refused: pass that on
		return
	}
	http.Error(w, "answer lost", http.StatusBadGateway)
}

// TestEventHookReceiver: the Service's EventHandler registered through
// the Event Hooks API (EnsureEventHook) against oktatest: verification
// passes, an order Okta reports is recorded once although Okta delivers it
// twice, a replayed body changes nothing, and the answer comes without any
// remote work (the handler only records; Sync does the rest).
func TestEventHookReceiver(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOption{noHook: true})
	ctx := t.Context()
	front := &lossyFront{next: e.Service.EventHandler()}
	hs := httptest.NewServer(front)
	t.Cleanup(hs.Close)
	h, err := e.OktaClient.EnsureEventHook(ctx, hookSpec(hs.URL+"/okta/events", e.Config.EventHookSecret.Reveal()))
	if err != nil {
		t.Fatalf("EnsureEventHook: %v", err)
	}
	if h.VerificationStatus != okta.EventHookVerified {
		t.Fatalf("hook %s after Ensure", h.VerificationStatus)
	}
	yubicoBefore := len(e.Yubico.RequestLog())

	u := e.addUser(1, okta.UserStaged, nil)
	e.orderAtOkta(u.ID, defaultItem)
	ds := e.awaitDeliveries(2)
	if ds[0].Status != http.StatusBadGateway || ds[1].Status != http.StatusOK || ds[1].Attempt != 2 || ds[0].EventID != ds[1].EventID {
		t.Fatalf("deliveries = %+v, want 502 then the retry answered 200", ds)
	}
	rec := e.wantStatus(u.ID, fulfillment.FulfillmentStarted, fulfillment.StepInitiated)
	if n := eventChanges(rec); n != 1 {
		t.Errorf("the event was recorded %d times, want once: %+v", n, rec.History)
	}
	// Answered without calling Yubico: Okta's 3 s limit never depends on it.
	if n := len(e.Yubico.RequestLog()) - yubicoBefore; n != 0 {
		t.Errorf("the hook made %d Yubico calls", n)
	}

	// The same delivery replayed (by Okta or by an attacker who has the
	// secret) is accepted and changes nothing.
	resp, _ := testhttp.PostJSON(t, hs.URL+"/okta/events", e.Config.EventHookSecret.Reveal(), front.bodies[0])
	if resp.StatusCode != http.StatusOK {
		t.Errorf("replayed delivery answered %d", resp.StatusCode)
	}
	if rec := e.status(u.ID); eventChanges(rec) != 1 || len(rec.History) != 1 {
		t.Errorf("after the replay: %+v", rec.History)
	}
}

// TestEventHookReceiverWrongSecret: a hook registered with another secret
// than the Service's fails verification (the handler answers 401, Okta 400),
// stays UNVERIFIED and gets no events; a delivery with a wrong secret is
// refused with 401 and records nothing.
func TestEventHookReceiverWrongSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOption{noHook: true})
	ctx := t.Context()
	hs := httptest.NewServer(e.Service.EventHandler())
	t.Cleanup(hs.Close)
	_, err := e.OktaClient.EnsureEventHook(ctx, hookSpec(hs.URL, "not-the-service-secret"))
	if !errors.Is(err, okta.ErrValidation) || !strings.Contains(err.Error(), "answered HTTP 401") {
		t.Fatalf("EnsureEventHook with a wrong secret = %v, want the verification's 400 naming the 401", err)
	}
	hooks, err := e.OktaClient.ListEventHooks(ctx)
	if err != nil || len(hooks) != 1 || hooks[0].VerificationStatus != okta.EventHookUnverified {
		t.Fatalf("hooks = %+v, %v; want one UNVERIFIED", hooks, err)
	}
	u := e.addUser(1, okta.UserStaged, nil)
	e.orderAtOkta(u.ID, defaultItem)
	for _, secret := range []string{"", "not-the-service-secret", e.Config.EventHookSecret.Reveal() + "x"} {
		resp, _ := testhttp.PostJSON(t, hs.URL, secret,
			[]byte(`{"eventType":"com.okta.event_hook","eventId":"e1","data":{"events":[{"uuid":"u1","eventType":"system.mfa.preregister.initiate","target":[{"id":"`+u.ID+`","type":"User"}]}]}}`))
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("delivery with secret %q answered %d, want 401", secret, resp.StatusCode)
		}
	}
	e.Okta.Close() // waits for any delivery the initiate caused
	if ds := e.Okta.Deliveries(); len(ds) != 0 {
		t.Errorf("an unverified hook got deliveries: %+v", ds)
	}
	if _, err := e.Service.Status(ctx, u.ID); !errors.Is(err, fulfillment.ErrRecordNotFound) {
		t.Errorf("Status after refused deliveries = %v, want ErrRecordNotFound", err)
	}
}

// eventChanges counts the history entries an Okta event made.
func eventChanges(rec fulfillment.Record) int {
	n := 0
	for _, c := range rec.History {
		if strings.HasPrefix(c.Reason, "Okta event ") {
			n++
		}
	}
	return n
}

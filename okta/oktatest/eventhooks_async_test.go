package oktatest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// hookAndAddMember registers ep as an event hook of srv, then adds a new
// active user, login, to a new group through c: one
// group.user_membership.add event for the hook.
func hookAndAddMember(t *testing.T, srv *oktatest.Server, c *okta.Client, ep *endpoint, login string) {
	t.Helper()
	if _, err := srv.AddEventHook(t.Context(), ep.URL, endpointSecret); err != nil {
		t.Fatal(err)
	}
	u := seedUser(t, srv, login, okta.UserActive)
	if err := c.AddUserToGroup(t.Context(), srv.AddGroup("Engineering"), u.ID); err != nil {
		t.Fatal(err)
	}
}

// TestEventHookDeliveryIsAsynchronous: the request that caused an event
// has its answer while the hook is still busy with the delivery, and the
// test sees the delivery through AwaitDeliveries.
func TestEventHookDeliveryIsAsynchronous(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	release := make(chan struct{})
	ep := newEndpoint(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			<-release // the hook is busy until the test lets it answer
		}
		answerCorrectly(w, r)
	})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	hookAndAddMember(t, srv, c, ep, "async@example.com")
	// The hook has not answered (it cannot before release), yet the
	// request that caused the event returned.
	if ds := srv.Deliveries(); len(ds) != 0 {
		t.Fatalf("deliveries before the hook answered = %+v, want none (the request waited for the hook)", ds)
	}
	close(release)
	ds, err := srv.AwaitDeliveries(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Status != http.StatusNoContent || ds[0].Attempt != 1 {
		t.Errorf("deliveries = %+v, want one answered 204", ds)
	}
}

// TestEventHookCallsBackDuringDelivery: a hook that asks the org about the
// event's user while handling the delivery (as a receiver that checks the
// user does) gets its answer; a synchronous delivery would deadlock here.
func TestEventHookCallsBackDuringDelivery(t *testing.T) {
	t.Parallel()
	srv, c := newServerClient(t)
	statuses := make(chan okta.UserStatus, 1)
	var ep *endpoint
	ep = newEndpoint(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			answerCorrectly(w, r)
			return
		}
		var p okta.EventHookDelivery // the endpoint has read the body
		if err := json.Unmarshal(ep.received(http.MethodPost)[n-1].body, &p); err != nil || p.Data == nil || len(p.Data.Events) != 1 {
			http.Error(w, "bad delivery", http.StatusBadRequest)
			return
		}
		u, err := c.GetUser(r.Context(), p.Data.Events[0].Target[0].ID)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		statuses <- u.Status
		w.WriteHeader(http.StatusOK)
	})
	hookAndAddMember(t, srv, c, ep, "callback@example.com")
	ds, err := srv.AwaitQueuedDeliveries(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Status != http.StatusOK {
		t.Fatalf("deliveries = %+v, want one answered 200", ds)
	}
	if got := <-statuses; got != okta.UserActive {
		t.Errorf("the hook read the user as %s, want %s", got, okta.UserActive)
	}
}

// TestEventHookDeliveryOrder: one hook receives the events in the order
// they were emitted, one delivery at a time, even when the events come
// faster than the hook answers.
func TestEventHookDeliveryOrder(t *testing.T) {
	t.Parallel()
	srv, c := newServerClient(t)
	gate := make(chan struct{})
	ep := newEndpoint(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && n == 1 {
			<-gate // the first delivery waits until every event is queued
		}
		answerCorrectly(w, r)
	})
	if _, err := srv.AddEventHook(t.Context(), ep.URL, endpointSecret, "group.user_membership.add"); err != nil {
		t.Fatal(err)
	}
	u := seedUser(t, srv, "order@example.com", okta.UserActive)
	for _, g := range []string{"One", "Two", "Three", "Four"} {
		if err := c.AddUserToGroup(t.Context(), srv.AddGroup(g), u.ID); err != nil {
			t.Fatal(err)
		}
	}
	close(gate)
	ds, err := srv.AwaitQueuedDeliveries(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var emitted, delivered, received []string
	for _, e := range srv.Events() {
		if e.EventType == "group.user_membership.add" {
			emitted = append(emitted, e.UUID)
		}
	}
	for _, d := range ds {
		delivered = append(delivered, d.EventUUIDs...)
	}
	for _, p := range ep.received(http.MethodPost) {
		var d okta.EventHookDelivery
		if err := json.Unmarshal(p.body, &d); err != nil || d.Data == nil || len(d.Data.Events) != 1 {
			t.Fatalf("delivery body %q: %v", p.body, err)
		}
		received = append(received, d.Data.Events[0].UUID)
	}
	if len(emitted) != 4 {
		t.Fatalf("emitted %d events, want 4", len(emitted))
	}
	if diff := cmp.Diff(emitted, delivered); diff != "" {
		t.Errorf("recorded deliveries out of order (-emitted +delivered):\n%s", diff)
	}
	if diff := cmp.Diff(emitted, received); diff != "" {
		t.Errorf("the hook received the events out of order (-emitted +received):\n%s", diff)
	}
}

// TestCloseWaitsForDeliveries: Close returns only after the deliveries
// queued before it finished, so their attempts are all recorded.
func TestCloseWaitsForDeliveries(t *testing.T) {
	t.Parallel()
	srv, c := newServerClient(t)
	release := make(chan struct{})
	ep := newEndpoint(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			<-release
		}
		answerCorrectly(w, r)
	})
	hookAndAddMember(t, srv, c, ep, "close@example.com")
	closed := make(chan struct{})
	go func() {
		srv.Close()
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("Close returned while a delivery was still with the hook")
	default:
	}
	close(release)
	<-closed
	ds := srv.Deliveries()
	if len(ds) != 1 || ds[0].Status != http.StatusNoContent {
		t.Errorf("deliveries after Close = %+v, want the one answered 204", ds)
	}
}

// TestEventHookVerificationUnreachable: a verification that could not
// reach the endpoint says so, not that it timed out.
func TestEventHookVerificationUnreachable(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	hs := httptest.NewServer(http.NotFoundHandler())
	hs.Close() // nothing listens at its URL now
	_, err := srv.AddEventHook(t.Context(), hs.URL, endpointSecret)
	if err == nil || !strings.Contains(err.Error(), "could not call the endpoint") || strings.Contains(err.Error(), "did not answer within") {
		t.Errorf("AddEventHook(closed endpoint) = %v, want \"could not call the endpoint\"", err)
	}
}

package yubicotest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/yubico"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// TestConcurrentCreatesWithOneKey: creates with one Idempotency-Key sent at
// once make one shipment (FIDO Pre-reg creates open their requests outside
// the server's lock, in parallel); every one gets it, and the request log
// shows one create and the rest replayed. Run it with -race.
func TestConcurrentCreatesWithOneKey(t *testing.T) {
	t.Parallel()
	const clients = 8
	srv := newServer(t)
	fpr := fprRequest(newOkta(t, srv.Client(), srv.Now(), "example.okta.com", "other.example.com"))
	for _, tc := range []struct {
		route string
		body  any
	}{
		{"/fpr/shipments", fpr},
		{"/shipments_exact", exactRequest()},
	} {
		body, err := json.Marshal(tc.body)
		if err != nil {
			t.Fatal(err)
		}
		key := "concurrent" + tc.route
		before := len(srv.Shipments())
		start := make(chan struct{})
		ids := make([]string, clients)
		errs := make([]error, clients)
		var wg sync.WaitGroup
		for i := range clients {
			wg.Go(func() {
				<-start
				ids[i], errs[i] = postShipment(t, srv, tc.route, body, key)
			})
		}
		close(start)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("POST %s: %v", tc.route, err)
		}
		all := srv.Shipments()
		if len(all) != before+1 {
			t.Fatalf("POST %s %d times with one key: %d new shipments, want 1", tc.route, clients, len(all)-before)
		}
		want := make([]string, clients)
		for i := range want {
			want[i] = all[before].ID
		}
		if d := cmp.Diff(want, ids); d != "" {
			t.Errorf("POST %s: shipment IDs answered (-want +got):\n%s", tc.route, d)
		}
		created, replayed := 0, 0
		for _, r := range srv.RequestLog() {
			if r.Method == http.MethodPost && r.Path == "/v1"+tc.route && r.IdempotencyKey == key {
				if r.Replayed {
					replayed++
				} else if r.Status == http.StatusOK {
					created++
				}
			}
		}
		if created != 1 || replayed != clients-1 {
			t.Errorf("POST %s: request log has %d creates and %d replays, want 1 and %d", tc.route, created, replayed, clients-1)
		}
	}
	// The shipment made of the concurrent FIDO Pre-reg creates is whole: it
	// is programmed at the batch with both credentials.
	id := srv.Shipments()[0].ID
	if err := srv.SetNow(srv.NextBatch()); err != nil {
		t.Fatal(err)
	}
	if p, ok := srv.Programming(id); !ok || len(p.RPIDs) != 2 {
		t.Errorf("Programming(%s) = %+v, %v (messages %q); want two credentials", id, p, ok, srv.Messages(id))
	}
}

// postShipment posts body to the fake's create route with key and returns
// the shipment ID answered; it may run on any goroutine.
func postShipment(t *testing.T, srv *yubicotest.Server, route string, body []byte, key string) (string, error) {
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL()+route, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+srv.Token())
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(yubico.IdempotencyKeyHeader, key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, out)
	}
	var s struct {
		ID string `json:"shipment_id"`
	}
	if err := json.Unmarshal(out, &s); err != nil || s.ID == "" {
		return "", fmt.Errorf("response %s: no shipment_id (%v)", out, err)
	}
	return s.ID, nil
}

// failingRand reads from r, failing every read once armed, until disarmed
// again: after a given number of successful reads.
type failingRand struct {
	r     io.Reader
	after atomic.Int64 // reads left before failing; < 0: never fail
}

var errNoRandomness = errors.New("test: no randomness")

func (f *failingRand) Read(p []byte) (int, error) {
	if f.after.Load() == 0 {
		return 0, errNoRandomness
	}
	f.after.Add(-1)
	return f.r.Read(p)
}

// TestFailedCreateLeavesNothing: a create that fails halfway (the fake's
// randomness runs out after the shipment's ID, before its item's) answers
// 500 and records nothing: no shipment, no idempotency key, no use of an
// injected fault. A retry with the key then makes one shipment, with the
// fault.
func TestFailedCreateLeavesNothing(t *testing.T) {
	t.Parallel()
	rnd := &failingRand{r: seeded(3)}
	rnd.after.Store(-1)
	srv := newServer(t, yubicotest.WithRand(rnd))
	must(t, srv.InjectShipmentFaultNext(yubicotest.ShipmentFaultDPLMatch))
	body, err := json.Marshal(exactRequest())
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for reads := int64(0); ; reads++ {
		key := fmt.Sprintf("half-%d", reads)
		rnd.after.Store(reads)
		resp, out := rawPost(t, srv, "/shipments_exact", body, &key)
		rnd.after.Store(-1)
		if resp.StatusCode == http.StatusOK {
			break
		}
		failed++
		if resp.StatusCode != http.StatusInternalServerError || !bytes.Contains(out, []byte(errNoRandomness.Error())) {
			t.Fatalf("create with %d reads of randomness = %d %s; want 500 naming the error", reads, resp.StatusCode, out)
		}
		if n := len(srv.Shipments()); n != 0 {
			t.Fatalf("a create failing after %d reads of randomness left %d shipments", reads, n)
		}
		// The key is not remembered: the retry creates.
		resp, out = rawPost(t, srv, "/shipments_exact", body, &key)
		if resp.StatusCode != http.StatusOK || resp.Header.Get(yubico.IdempotentReplayedHeader) != "" {
			t.Fatalf("retry after %d reads = %d %q %s; want a new shipment", reads, resp.StatusCode, resp.Header.Get(yubico.IdempotentReplayedHeader), out)
		}
		all := srv.Shipments()
		if len(all) != 1 || len(all[0].Items) != 1 {
			t.Fatalf("after the retry: %+v; want one whole shipment", all)
		}
		// The fault went to the one shipment made.
		advance(t, srv, 15*time.Minute)
		if got := mustShipment(t, srv.Client(), all[0].ID).State; got != yubico.StateDPLMatch {
			t.Fatalf("retried shipment is in state %d, want %d (the injected fault)", got, yubico.StateDPLMatch)
		}
		must(t, srv.Client().DeleteShipment(t.Context(), all[0].ID))
		must(t, srv.InjectShipmentFaultNext(yubicotest.ShipmentFaultDPLMatch))
	}
	if failed < 2 {
		t.Errorf("only %d creates failed for want of randomness; want failures at the shipment's ID and at its item's", failed)
	}
}

package fulfillment_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/okta"
)

// renameKeyIDs is an http.RoundTripper that rewrites the keyId of every
// credential request in Okta's enroll answers: the keyId Okta reports then
// names no key Yubico seals a response to (the kid of the response key
// inside the sealed request is unchanged), as when Okta's keyId and the
// JWK's kid are different identifiers.
type renameKeyIDs struct{ base http.RoundTripper }

func (r renameKeyIDs) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err != nil || req.Method != http.MethodPost || !strings.HasSuffix(req.URL.Path, "/enroll") || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	crs, _ := m["credRequests"].([]any)
	for _, cr := range crs {
		if o, ok := cr.(map[string]any); ok {
			o["keyId"] = "renamed-" + o["keyId"].(string)
		}
	}
	if body, err = json.Marshal(m); err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return resp, nil
}

// pairingWorld is a World whose Service's Okta client sees renamed keyIds,
// registering keys for rpIDs.
func pairingWorld(t *testing.T, rpIDs ...string) *fulfillmenttest.World {
	return fulfillmenttest.New(t, fulfillmenttest.WithoutEventHook(),
		fulfillmenttest.WithUsers(fulfillmenttest.Employee("ada")),
		fulfillmenttest.WithOktaClient(okta.WithHTTPClient(&http.Client{Transport: renameKeyIDs{http.DefaultTransport}})),
		fulfillmenttest.WithConfig(func(c *fulfillment.Config) { c.RPIDs = rpIDs }))
}

// TestUnmatchedKidFallsBackToRequestOrder: Yubico's only credential
// response is sealed to a key whose kid is no enrollment's keyId; the
// Service pairs it by request order with the one enrollment there is, says
// so in the record, and Okta (which decrypts it with that enrollment's
// key) activates it.
func TestUnmatchedKidFallsBackToRequestOrder(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	w := pairingWorld(t, fulfillmenttest.DefaultRPID)
	if _, err := w.Service.Order(ctx, "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	rec := w.AdvanceUntil(ctx, "ada@example.com", fulfillment.Shipped)
	if rec.Pairing != fulfillment.PairedByRequestOrder {
		t.Errorf("record pairing %q, want %q", rec.Pairing, fulfillment.PairedByRequestOrder)
	}
	var note string
	for _, c := range rec.History {
		if c.Step == fulfillment.StepActivating {
			note = c.Reason
		}
	}
	if !strings.Contains(note, "paired by request order") || !strings.Contains(note, "no enrollment's keyId") ||
		!strings.Contains(note, rec.Enrollments[0].ID) {
		t.Errorf("activating note %q, want the pairing, why, and the enrollment", note)
	}
	if es := w.Okta.Enrollments(rec.UserID); len(es) != 1 || es[0].ID != rec.Enrollments[0].ID || es[0].Status != okta.StatusActive {
		t.Errorf("Okta enrollments %+v, want the recorded one ACTIVE", es)
	}
}

// TestUnmatchedKidsAreNotGuessed: with two enrollments and neither
// response's kid naming an enrollment's keyId, more than one enrollment
// could be each response's; the record errors with that reason and
// nothing is activated.
func TestUnmatchedKidsAreNotGuessed(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	w := pairingWorld(t, fulfillmenttest.DefaultRPID, "login.example.com")
	if _, err := w.Service.Order(ctx, "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	rec := w.AdvanceUntil(ctx, "ada@example.com", fulfillment.FulfillmentErrored)
	if rec.FailedStep != fulfillment.StepActivating || !strings.Contains(rec.Reason, "more than one enrollment could be theirs") {
		t.Errorf("errored at %s with %q, want activating with a reason saying the pairing is ambiguous", rec.FailedStep, rec.Reason)
	}
	es := w.Okta.Enrollments(rec.UserID)
	if len(es) != 2 {
		t.Fatalf("Okta enrollments %+v, want 2", es)
	}
	for _, e := range es {
		if e.Status == okta.StatusActive {
			t.Errorf("enrollment %s is ACTIVE; nothing may be activated on a guess", e.ID)
		}
	}
}

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/yubico"
)

// decodeStatusLines decodes the JSON lines of status -json strictly: one
// object a line, no key the statusJSON type does not have.
func decodeStatusLines(t *testing.T, stdout string) []statusJSON {
	t.Helper()
	out := []statusJSON{}
	for i, l := range strings.Split(stdout, "\n") {
		if l == "" {
			if i != strings.Count(stdout, "\n") {
				t.Errorf("line %d is empty", i+1)
			}
			continue
		}
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		var s statusJSON
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("line %d: %v\n%s", i+1, err, l)
		}
		if _, err := dec.Token(); err != io.EOF {
			t.Fatalf("line %d holds more than one value: %s", i+1, l)
		}
		out = append(out, s)
	}
	return out
}

// ptr returns a pointer to v (the expected values' nullable fields).
func ptr[T any](v T) *T { return &v }

// TestStatusJSON runs status -json against a fake org over HTTP and a
// SQLite store seeded with records at several statuses, each carrying
// internals that must not be printed.
func TestStatusJSON(t *testing.T) {
	t.Parallel()
	o := newOrg(t)
	started := o.addUser(t, "started@example.com")
	waiting := o.addUser(t, "waiting@example.com")
	errored := o.addUser(t, "errored@example.com")
	deleted := o.addUser(t, "deleted@example.com")
	bare := o.addUser(t, "bare@example.com")

	pst := time.FixedZone("PST", -8*3600)
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 500_000_000, pst) // 16:00:00.5 UTC
	t1 := t0.Add(90 * time.Minute)
	item := fulfillment.Item{ProductID: "29", InventoryProductID: "106", CustomizationID: "RXJN83"}
	// secret marks every internal a status line must leave out.
	const secret = "SECRET-"
	recs := []fulfillment.Record{{
		// An intent in flight: Status reads it without asking Okta.
		UserID: started.ID, Login: "started@example.com", Status: fulfillment.FulfillmentStarted,
		Step: fulfillment.StepShipmentCreating, Items: []fulfillment.Item{item}, Attempts: 1,
		Enrollments: []fulfillment.Enrollment{{ID: "fwfStarted1", KeyID: secret + "kid", CredRequest: secret + "cred", Status: okta.StatusFulfillmentPending}},
		PINRequest:  secret + "pin-request",
		Shipping:    fulfillment.ShippingInfo{FirstName: "Sam", StreetLine1: secret + "1 Main Street", City: secret + "Dedham"},
		EnrollCalls: []fulfillment.EnrollCall{{Sent: t0}}, TransportKeyID: secret + "transport",
		Keys:  map[fulfillment.Step]string{fulfillment.StepShipmentCreating: secret + "idempotency"},
		Lease: fulfillment.Lease{Owner: secret + "owner", Until: t1}, Claim: fulfillment.Lease{Owner: secret + "claim", Until: t1},
		EventID: secret + "event", NextCheck: t1, // not read at an intent: null
		CreatedAt: t0, UpdatedAt: t1,
		History: []fulfillment.Change{
			{At: t0, Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepInitiated, Attempt: 1},
			{At: t1, Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepShipmentCreating, Attempt: 1, Key: secret + "idempotency"},
		},
	}, {
		// Waiting for Yubico: its next check is a time.
		UserID: waiting.ID, Login: "waiting@example.com", Status: fulfillment.FulfillmentStarted,
		Step: fulfillment.StepShipmentCreated, Items: []fulfillment.Item{item}, Attempts: 1,
		ShipmentID: "shp-waiting", ShipmentState: yubico.StateSentToFulfillment, NextCheck: t1.Add(24 * time.Hour),
		CreatedAt: t0, UpdatedAt: t1,
		History: []fulfillment.Change{{At: t1, Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepShipmentCreated, Attempt: 1}},
	}, {
		// Errored, with a reason holding control characters.
		UserID: errored.ID, Login: "errored@example.com", Status: fulfillment.FulfillmentErrored,
		Step: fulfillment.StepErrored, FailedStep: fulfillment.StepEnrolling, Reason: "Okta refused\n\x1b[31mred\x1b[0m", Attempts: 2,
		Items: []fulfillment.Item{item}, CreatedAt: t0, UpdatedAt: t1,
		History: []fulfillment.Change{
			{At: t0, Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepInitiated, Attempt: 1},
			{At: t1, Status: fulfillment.FulfillmentErrored, Step: fulfillment.StepErrored, Attempt: 2, Reason: "Okta refused\n\x1b[31mred\x1b[0m"},
		},
	}, {
		// Deleted after delivery: a stale NextCheck is not printed.
		UserID: deleted.ID, Login: "deleted@example.com", Status: fulfillment.Deleted, Step: fulfillment.StepDeleted,
		Reason: "deleted by an administrator", Attempts: 1, Items: []fulfillment.Item{item},
		Enrollments: []fulfillment.Enrollment{{ID: "fwfDeleted1", Status: okta.StatusActive, Deleted: true}},
		ShipmentID:  "shp-deleted", ShipmentState: yubico.StateDelivered, Serial: "31415926", Firmware: "5.7.1",
		DeliveredAt: t1, NextCheck: t1, CreatedAt: t0, UpdatedAt: t1.Add(time.Hour),
		History: []fulfillment.Change{{At: t1.Add(time.Hour), Status: fulfillment.Deleted, Step: fulfillment.StepDeleted, Attempt: 1, Reason: "deleted by an administrator"}},
	}}
	store := filepath.Join(t.TempDir(), "keys.db")
	st, err := fulfillment.OpenSQLite(t.Context(), store)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if _, err := st.Put(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	items := []statusItem{{ProductID: "29", InventoryProductID: "106", CustomizationID: "RXJN83"}}
	const at0, at1 = "2026-03-01T16:00:00Z", "2026-03-01T17:30:00Z"
	want := map[string]statusJSON{
		"started": {
			UserID: started.ID, Login: ptr("started@example.com"), Record: true,
			Status: ptr("FULFILLMENT_STARTED"), StatusLabel: ptr("Fulfillment started"), Step: ptr("shipment-creating"),
			Attempts: 1, Items: items, CreatedAt: ptr(at0), UpdatedAt: ptr(at1),
			Enrollments: []statusEnrollment{{ID: "fwfStarted1", Status: ptr("FULFILLMENT_PENDING")}},
			History: []statusChange{
				{At: ptr(at0), Status: ptr("FULFILLMENT_STARTED"), Step: ptr("initiated"), Attempt: 1},
				{At: ptr(at1), Status: ptr("FULFILLMENT_STARTED"), Step: ptr("shipment-creating"), Attempt: 1},
			},
		},
		"waiting": {
			UserID: waiting.ID, Login: ptr("waiting@example.com"), Record: true,
			Status: ptr("FULFILLMENT_STARTED"), StatusLabel: ptr("Fulfillment started"), Step: ptr("shipment-created"),
			Attempts: 1, Items: items, ShipmentID: ptr("shp-waiting"), ShipmentState: ptr(10), ShipmentStateName: ptr("Sent to Fulfillment"),
			NextCheck: ptr("2026-03-02T17:30:00Z"), CreatedAt: ptr(at0), UpdatedAt: ptr(at1), Enrollments: []statusEnrollment{},
			History: []statusChange{{At: ptr(at1), Status: ptr("FULFILLMENT_STARTED"), Step: ptr("shipment-created"), Attempt: 1}},
		},
		"errored": {
			UserID: errored.ID, Login: ptr("errored@example.com"), Record: true,
			Status: ptr("FULFILLMENT_ERRORED"), StatusLabel: ptr("Fulfillment errored"), Step: ptr("errored"),
			FailedStep: ptr("enrolling"), Reason: ptr("Okta refused\n\x1b[31mred\x1b[0m"), Attempts: 2, Items: items,
			CreatedAt: ptr(at0), UpdatedAt: ptr(at1), Enrollments: []statusEnrollment{},
			History: []statusChange{
				{At: ptr(at0), Status: ptr("FULFILLMENT_STARTED"), Step: ptr("initiated"), Attempt: 1},
				{At: ptr(at1), Status: ptr("FULFILLMENT_ERRORED"), Step: ptr("errored"), Attempt: 2, Reason: ptr("Okta refused\n\x1b[31mred\x1b[0m")},
			},
		},
		"deleted": {
			UserID: deleted.ID, Login: ptr("deleted@example.com"), Record: true,
			Status: ptr("DELETED"), StatusLabel: ptr("Deleted"), Step: ptr("deleted"), Reason: ptr("deleted by an administrator"),
			Attempts: 1, Items: items, ShipmentID: ptr("shp-deleted"), ShipmentState: ptr(104), ShipmentStateName: ptr("Delivered"),
			Serial: ptr("31415926"), Firmware: ptr("5.7.1"), DeliveredAt: ptr(at1),
			CreatedAt: ptr(at0), UpdatedAt: ptr("2026-03-01T18:30:00Z"),
			Enrollments: []statusEnrollment{{ID: "fwfDeleted1", Status: ptr("ACTIVE"), Deleted: true}},
			History:     []statusChange{{At: ptr("2026-03-01T18:30:00Z"), Status: ptr("DELETED"), Step: ptr("deleted"), Attempt: 1, Reason: ptr("deleted by an administrator")}},
		},
		"bare": {
			UserID: bare.ID, Login: ptr("bare@example.com"),
			Items: []statusItem{}, Enrollments: []statusEnrollment{}, History: []statusChange{},
		},
	}
	all := []statusJSON{want["started"], want["waiting"], want["errored"], want["deleted"]}
	sort.Slice(all, func(i, j int) bool { return all[i].UserID < all[j].UserID }) // the store lists by user ID

	env := map[string]string{"PREENROLL_OKTA_ORG": o.srv.URL(), "PREENROLL_OKTA_TOKEN_FILE": o.tokenFile, "PREENROLL_STORE": store, "PREENROLL_RP_ID": testRPID}
	for _, tc := range []struct {
		name       string
		args       []string
		wantCode   int
		want       []statusJSON
		wantStderr string // a line stderr must hold; "" wants it empty
	}{
		{"records at every status, by login and ID", []string{"started@example.com", waiting.ID, "errored@example.com", "deleted@example.com"}, ExitOK,
			[]statusJSON{want["started"], want["waiting"], want["errored"], want["deleted"]}, ""},
		{"no record: Okta's view", []string{"bare@example.com"}, ExitOK, []statusJSON{want["bare"]}, ""},
		{"unknown user: stderr, exit 1, the others printed", []string{"errored@example.com", "ghost@example.com", "bare@example.com"}, ExitFailed,
			[]statusJSON{want["errored"], want["bare"]}, "preenroll status ghost@example.com: Okta refused (get user): HTTP 404 E0000007"},
		{"no USER: every record", nil, ExitOK, all, ""},
		{"-json=false prints text", []string{"-json=false", "errored@example.com"}, ExitOK, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"status", "-json"}, tc.args...)
			r := invocation{env: env}.run(t, args...)
			if r.code != tc.wantCode {
				t.Errorf("exit %d, want %d; stderr:\n%s", r.code, tc.wantCode, r.stderr)
			}
			if tc.wantStderr == "" && r.stderr != "" {
				t.Errorf("stderr:\n%s", r.stderr)
			}
			if !strings.Contains(r.stderr, tc.wantStderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantStderr, r.stderr)
			}
			if strings.Contains(r.stdout, secret) || strings.Contains(r.stdout, o.srv.Token()) {
				t.Errorf("stdout holds an internal or a secret:\n%s", r.stdout)
			}
			if tc.want == nil {
				if !strings.Contains(r.stdout, "errored@example.com ("+errored.ID+"): Fulfillment errored, step errored, attempt 2") {
					t.Errorf("text output:\n%s", r.stdout)
				}
				return
			}
			if strings.ContainsAny(r.stdout, "\x1b\r") {
				t.Errorf("stdout holds a raw control character:\n%q", r.stdout)
			}
			if diff := cmp.Diff(tc.want, decodeStatusLines(t, r.stdout)); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
		})
	}
}

// TestStatusJSONEmptyStore: without records, -json prints nothing (the
// text says "no records in the store").
func TestStatusJSONEmptyStore(t *testing.T) {
	t.Parallel()
	o := newOrg(t)
	args := append([]string{"status", "-json", "-store", filepath.Join(t.TempDir(), "keys.db")}, o.args()...)
	if r := runCLI(t, args...); r.code != ExitOK || r.stdout != "" || r.stderr != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// jsonKeys returns the keys of the objects in the JSON lines of stdout,
// nested ones as items[].productId, sorted.
func jsonKeys(t *testing.T, stdout string) []string {
	t.Helper()
	set := map[string]bool{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			set[prefix+k] = true
			if list, ok := v.([]any); ok {
				for _, x := range list {
					if o, ok := x.(map[string]any); ok {
						walk(prefix+k+"[].", o)
					}
				}
			}
		}
	}
	for l := range strings.SplitSeq(strings.TrimSpace(stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		walk("", m)
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// readmeStatusKeys returns the keys the README's table under
// "preenroll status -json" documents, sorted.
func readmeStatusKeys(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := bytes.Cut(data, []byte("**`preenroll status -json`**"))
	if !ok {
		t.Fatal("README has no **`preenroll status -json`** paragraph")
	}
	row := regexp.MustCompile("^\\| `([A-Za-z\\[\\].]+)` \\|")
	var keys []string
	inTable := false
	for l := range strings.SplitSeq(string(rest), "\n") {
		if m := row.FindStringSubmatch(l); m != nil {
			keys, inTable = append(keys, m[1]), true
		} else if inTable && !strings.HasPrefix(l, "|") {
			break
		}
	}
	slices.Sort(keys)
	return keys
}

// TestStatusJSONFieldsDocumented: the keys status -json writes, nested
// ones included, are exactly those the README's table documents, and
// each is named in preenroll help status.
func TestStatusJSONFieldsDocumented(t *testing.T) {
	t.Parallel()
	// A line with every list non-empty, so that nested keys show.
	r := fulfillment.Record{
		UserID: "00u1", Status: fulfillment.Shipped, Step: fulfillment.StepPINSent,
		Items:       []fulfillment.Item{{ProductID: "1", InventoryProductID: "106", CustomizationID: "DEMO01"}},
		Enrollments: []fulfillment.Enrollment{{ID: "fwf1"}},
		History:     []fulfillment.Change{{Step: fulfillment.StepPINSent}},
	}
	var b strings.Builder
	if err := writeJSONLine(&b, recordJSON(r)); err != nil {
		t.Fatal(err)
	}
	view := oktaViewJSON(okta.User{ID: "00u2"}, []okta.Enrollment{{ID: "fwf2", Status: okta.StatusActive}})
	if err := writeJSONLine(&b, view); err != nil {
		t.Fatal(err)
	}
	got := jsonKeys(t, b.String())
	if diff := cmp.Diff(readmeStatusKeys(t), got); diff != "" {
		t.Errorf("README's status -json table (-README +written):\n%s", diff)
	}
	help := runCLI(t, "help", "status").stdout
	for _, k := range got {
		leaf := k[strings.LastIndex(k, ".")+1:]
		if !regexp.MustCompile(`\b` + regexp.QuoteMeta(leaf) + `\b`).MatchString(help) {
			t.Errorf("preenroll help status does not name %s", k)
		}
	}
}

// listLog is a Store that records the queries List is asked.
type listLog struct {
	fulfillment.Store
	queries []fulfillment.Query
}

func (l *listLog) List(ctx context.Context, q fulfillment.Query) ([]fulfillment.Record, error) {
	l.queries = append(l.queries, q)
	return l.Store.List(ctx, q)
}

// TestEachRecord: status without USER reads the store a page at a time
// (never every record at once) and prints every record once, in user ID
// order, stopping at the first error of the printing.
func TestEachRecord(t *testing.T) {
	t.Parallel()
	seed := func(t *testing.T, n int) *listLog {
		st := fulfillment.NewMemoryStore()
		for i := range n {
			r := fulfillment.Record{UserID: fmt.Sprintf("00u%d", i), Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepInitiated, Attempts: 1}
			if _, err := st.Put(t.Context(), r); err != nil {
				t.Fatal(err)
			}
		}
		return &listLog{Store: st}
	}
	stop := errors.New("stdout closed")
	for _, tc := range []struct {
		name      string
		records   int
		failAt    string // fn's error at this user
		wantIDs   []string
		wantAfter []string // the queries' After, each with Limit 2
		wantErr   error
	}{
		{"empty", 0, "", nil, []string{""}, nil},
		{"a partial last page", 5, "", []string{"00u0", "00u1", "00u2", "00u3", "00u4"}, []string{"", "00u1", "00u3"}, nil},
		{"full pages", 4, "", []string{"00u0", "00u1", "00u2", "00u3"}, []string{"", "00u1", "00u3"}, nil},
		{"printing fails", 5, "00u2", []string{"00u0", "00u1"}, []string{"", "00u1"}, stop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := seed(t, tc.records)
			var ids []string
			n, err := eachRecord(t.Context(), st, 2, func(r fulfillment.Record) error {
				if r.UserID == tc.failAt {
					return stop
				}
				ids = append(ids, r.UserID)
				return nil
			})
			if !errors.Is(err, tc.wantErr) || n != len(ids) {
				t.Errorf("eachRecord: %d, %v; want %d, %v", n, err, len(ids), tc.wantErr)
			}
			var want []fulfillment.Query
			for _, a := range tc.wantAfter {
				want = append(want, fulfillment.Query{After: a, Limit: 2})
			}
			if diff := cmp.Diff(tc.wantIDs, ids); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, st.queries); diff != "" {
				t.Errorf("List queries (-want +got):\n%s", diff)
			}
		})
	}
}

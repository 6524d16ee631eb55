package yubicotest_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/yubico"
)

// TestListPaging pins the paging of GET /v1/shipments_exact: count, total
// count and the page's shipments in creation order, at the edges (empty
// store, a page ending exactly at the last shipment, a short last page, an
// offset at and past the end) with and without filters, and after a
// delete.
func TestListPaging(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	empty := newServer(t)
	resp, body := send(t, empty, http.MethodGet, empty.URL()+"/shipments_exact", nil, nil)
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("empty list: %d %s, %v", resp.StatusCode, body, err)
	}
	if d := cmp.Diff(map[string]string{"count": "0", "total_count": "0", "shipments": "[]"},
		map[string]string{"count": string(env["count"]), "total_count": string(env["total_count"]), "shipments": string(env["shipments"])}); d != "" {
		t.Errorf("empty list (-want +got):\n%s", d)
	}

	srv := newServer(t)
	c := srv.Client()
	ids := createShipments(t, c, 7, func(i int, req *yubico.ShipmentRequest) {
		req.RecipientEmail = fmt.Sprintf("User%d@example.com", i)
		if i == 1 || i == 4 {
			req.Address = nowhere
		}
	})
	advance(t, srv, 15*time.Minute)

	state7 := func(limit, offset int) yubico.ListOptions {
		return yubico.ListOptions{SearchField: "shipment_state_id", Search: "7", Limit: limit, Offset: offset}
	}
	type page struct {
		Count, Total int
		IDs          []string
	}
	pick := func(idx ...int) []string {
		out := []string{}
		for _, i := range idx {
			out = append(out, ids[i])
		}
		return out
	}
	tests := []struct {
		name string
		o    yubico.ListOptions
		want page
	}{
		{"default limit", yubico.ListOptions{}, page{7, 7, pick(0, 1, 2, 3, 4, 5, 6)}},
		{"first page", yubico.ListOptions{Limit: 3}, page{3, 7, pick(0, 1, 2)}},
		{"middle page on a boundary", yubico.ListOptions{Limit: 3, Offset: 3}, page{3, 7, pick(3, 4, 5)}},
		{"short last page", yubico.ListOptions{Limit: 3, Offset: 6}, page{1, 7, pick(6)}},
		{"page ending at the last", yubico.ListOptions{Limit: 7}, page{7, 7, pick(0, 1, 2, 3, 4, 5, 6)}},
		{"last one", yubico.ListOptions{Limit: 1, Offset: 6}, page{1, 7, pick(6)}},
		{"offset at the end", yubico.ListOptions{Limit: 3, Offset: 7}, page{0, 7, pick()}},
		{"offset past the end", yubico.ListOptions{Offset: 8}, page{0, 7, pick()}},
		{"largest offset", yubico.ListOptions{Offset: math.MaxInt}, page{0, 7, pick()}},
		{"filter", state7(0, 0), page{2, 2, pick(1, 4)}},
		{"filter, second page", state7(1, 1), page{1, 2, pick(4)}},
		{"filter, page ending at the last", state7(2, 0), page{2, 2, pick(1, 4)}},
		{"filter, offset at the end", state7(1, 2), page{0, 2, pick()}},
		{"filter, largest offset", state7(1, math.MaxInt), page{0, 2, pick()}},
		{"filter matching none", yubico.ListOptions{SearchField: "shipment_state_id", Search: "99"}, page{0, 0, pick()}},
		{"filter ne, short last page", yubico.ListOptions{AdvancedSearch: true, Search: "shipment_state_id::ne::7", Limit: 2, Offset: 4},
			page{1, 5, pick(6)}},
		{"filter lt", yubico.ListOptions{AdvancedSearch: true, Search: "shipment_state_id::lt::7", Limit: 2, Offset: 2},
			page{2, 5, pick(3, 5)}},
		{"filter contains, case-insensitive", yubico.ListOptions{AdvancedSearch: true, Search: "recipient_email::contains::USER5@"},
			page{1, 1, pick(5)}},
		{"filter eq, case-insensitive", yubico.ListOptions{SearchField: "recipient_email", Search: "user2@EXAMPLE.com"},
			page{1, 1, pick(2)}},
		{"filter by ID", yubico.ListOptions{SearchField: "shipment_id", Search: ids[3]}, page{1, 1, pick(3)}},
	}
	list := func(t *testing.T, o yubico.ListOptions) page {
		t.Helper()
		p, err := c.ListShipments(ctx, o)
		if err != nil {
			t.Fatalf("ListShipments(%+v): %v", o, err)
		}
		got := page{Count: p.Count, Total: p.TotalCount, IDs: []string{}}
		for _, s := range p.Shipments {
			got.IDs = append(got.IDs, s.ID)
		}
		return got
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, list(t, tt.o)); d != "" {
				t.Errorf("ListShipments(%+v) (-want +got):\n%s", tt.o, d)
			}
		})
	}

	// A deleted shipment leaves the list; the others keep their order.
	if err := c.DeleteShipment(ctx, ids[2]); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(page{3, 6, pick(3, 4, 5)}, list(t, yubico.ListOptions{Limit: 3, Offset: 2})); d != "" {
		t.Errorf("after deleting the third shipment (-want +got):\n%s", d)
	}
	if d := cmp.Diff(page{2, 6, pick(5, 6)}, list(t, yubico.ListOptions{Limit: 3, Offset: 4})); d != "" {
		t.Errorf("last page after the delete (-want +got):\n%s", d)
	}

	// A page's shipments are whole: the list shows what a get shows.
	p, err := c.ListShipments(ctx, yubico.ListOptions{Limit: 1, Offset: 1})
	if err != nil || len(p.Shipments) != 1 {
		t.Fatalf("ListShipments(limit 1, offset 1) = %+v, %v", p, err)
	}
	if d := cmp.Diff(mustShipment(t, c, ids[1]), p.Shipments[0]); d != "" {
		t.Errorf("listed shipment differs from Shipment(%s) (-get +list):\n%s", ids[1], d)
	}
}

// nowhere is an address the fake's NowhereRule finds undeliverable: a
// shipment to it is in state 7 once validated.
var nowhere = yubico.Address{StreetLine1: "123 XYZ", City: "Nowhere", Region: "NY", PostalCode: "11111", CountryCode: "US"}

// createShipments creates n shipments of exactRequest, edit (if not nil)
// changing the i-th, and returns their IDs in order.
func createShipments(t testing.TB, c *yubico.Client, n int, edit func(i int, req *yubico.ShipmentRequest)) []string {
	t.Helper()
	ids := make([]string, 0, n)
	for i := range n {
		req := exactRequest()
		if edit != nil {
			edit(i, &req)
		}
		s, err := c.CreateShipment(t.Context(), req)
		if err != nil {
			t.Fatalf("create shipment %d: %v", i, err)
		}
		ids = append(ids, s.ID)
	}
	return ids
}

// TestLargeBodyHasContentLength: a body larger than net/http's 2 KiB
// response buffer (a page of shipments) is sent with its Content-Length,
// not chunked, so that a client reads it into one buffer of that size.
func TestLargeBodyHasContentLength(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	createShipments(t, srv.Client(), 30, nil)
	resp, body := send(t, srv, http.MethodGet, srv.URL()+"/shipments_exact", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list = %d %s", resp.StatusCode, body)
	}
	if len(body) <= 2048 {
		t.Fatalf("the page is %d bytes, want more than 2 KiB for this test", len(body))
	}
	if resp.ContentLength != int64(len(body)) || len(resp.TransferEncoding) != 0 {
		t.Errorf("Content-Length %d, Transfer-Encoding %q for a %d-byte body; want the length, not chunked", resp.ContentLength, resp.TransferEncoding, len(body))
	}
}

package yubico

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"

	"github.com/preenroll/preenroll/internal/httpclient"
)

// MaxPageSize is the service's cap on records per call ("There is a
// 100-record limit on all API calls").
const MaxPageSize = 100

// maxPages bounds how many pages an iterator fetches (1,000,000 records).
const maxPages = 10000

// CreateShipment creates a /shipments_exact shipment (POST /shipments_exact)
// and returns it, normally in [StateAwaitingValidation]. Address validation
// happens later, asynchronously: an undeliverable address shows up as
// [StateUndeliverable] some minutes after a successful create. A malformed
// request fails with an [*APIError] matching [ErrValidation]. Without
// r.IdempotencyKey the create is sent exactly once; with it, it is retried
// as [Client.CreateFPRShipment] describes.
func (c *Client) CreateShipment(ctx context.Context, r ShipmentRequest) (Shipment, error) {
	if err := CheckIdempotencyKey(r.IdempotencyKey); err != nil {
		return Shipment{}, fmt.Errorf("%w: POST /shipments_exact: %w", ErrInvalidArgument, err)
	}
	var w shipmentWire
	err := c.do(ctx, request{method: http.MethodPost, path: "/shipments_exact", in: r, idempotencyKey: r.IdempotencyKey}, &w)
	if err != nil {
		return Shipment{}, err
	}
	return w.shipment(), nil
}

// Shipment returns one shipment (GET /shipments_exact/{id}). An unknown ID
// fails with an error matching [ErrNotFound] (the service answers 400).
func (c *Client) Shipment(ctx context.Context, id string) (Shipment, error) {
	var w shipmentWire
	err := c.doID(ctx, request{method: http.MethodGet, notFoundOn400: true}, "/shipments_exact/", id, &w)
	if err != nil {
		return Shipment{}, err
	}
	return w.shipment(), nil
}

// UpdateShipment replaces a shipment's recipient, address and delivery type
// (PUT /shipments_exact/{id} with the full create body) and returns the
// updated shipment. It fails with an error matching [ErrConflict] once the
// shipment is past state 9, and [ErrNotFound] for an unknown ID.
func (c *Client) UpdateShipment(ctx context.Context, id string, r ShipmentRequest) (Shipment, error) {
	var w shipmentWire
	err := c.doID(ctx, request{method: http.MethodPut, in: r}, "/shipments_exact/", id, &w)
	if err != nil {
		return Shipment{}, err
	}
	return w.shipment(), nil
}

// DeleteShipment cancels a shipment (DELETE /shipments_exact/{id}). It fails
// with an error matching [ErrConflict] once the shipment is past state 9, and
// [ErrNotFound] for an unknown ID. Deletes are not retried.
func (c *Client) DeleteShipment(ctx context.Context, id string) error {
	return c.doID(ctx, request{method: http.MethodDelete}, "/shipments_exact/", id, nil)
}

// ListOptions select and page shipments in [Client.ListShipments] and
// [Client.Shipments]. The zero value lists every shipment.
type ListOptions struct {
	// Search and SearchField filter: Search "99" with SearchField
	// "shipment_state_id" lists shipments in state 99.
	Search      string
	SearchField string // the field Search is compared with
	// AdvancedSearch sends advanced_search=true; Search is then
	// "field_name::operation_type::value".
	AdvancedSearch bool
	// Limit is the page size, 1 to MaxPageSize; 0 means MaxPageSize.
	Limit int
	// Offset is the index of the first record.
	Offset int
}

func (o ListOptions) query() (url.Values, error) {
	if o.Limit < 0 || o.Limit > MaxPageSize {
		return nil, fmt.Errorf("%w: list limit %d: want 0 to %d", ErrInvalidArgument, o.Limit, MaxPageSize)
	}
	if o.Offset < 0 {
		return nil, fmt.Errorf("%w: list offset %d: must not be negative", ErrInvalidArgument, o.Offset)
	}
	if (o.Search == "") != (o.SearchField == "") && !o.AdvancedSearch {
		return nil, fmt.Errorf("%w: list: Search and SearchField must be given together", ErrInvalidArgument)
	}
	limit := o.Limit
	if limit == 0 {
		limit = MaxPageSize
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}, "offset": {strconv.Itoa(o.Offset)}}
	if o.Search != "" {
		q.Set("search", o.Search)
	}
	if o.SearchField != "" {
		q.Set("search_field", o.SearchField)
	}
	if o.AdvancedSearch {
		q.Set("advanced_search", "true")
	}
	return q, nil
}

// ShipmentPage is one page of [Client.ListShipments].
type ShipmentPage struct {
	Count      int        // records on this page
	TotalCount int        // records matching, over all pages
	Shipments  []Shipment // this page's records
}

// ListShipments returns one page of shipments (GET /shipments_exact with
// limit and offset). The array's member name is not public; the client reads
// "shipments", "shipments_exact", "data" or "items", or else the only array
// in the envelope.
func (c *Client) ListShipments(ctx context.Context, o ListOptions) (ShipmentPage, error) {
	q, err := o.query()
	if err != nil {
		return ShipmentPage{}, err
	}
	var env listEnvelope
	if err := c.do(ctx, request{method: http.MethodGet, path: "/shipments_exact", query: q}, &env); err != nil {
		return ShipmentPage{}, err
	}
	var page ShipmentPage
	if err := env.decode("/shipments_exact", &page.Shipments, "shipments", "shipments_exact", "data", "items"); err != nil {
		return ShipmentPage{}, err
	}
	page.Count, page.TotalCount = env.Count, env.TotalCount
	if env.Count == 0 {
		page.Count = len(page.Shipments)
	}
	return page, nil
}

// Shipments iterates over every shipment matching o, fetching pages of at
// most MaxPageSize from o.Offset on until total_count is reached or a page is
// empty. An error ends the iteration after being yielded once.
func (c *Client) Shipments(ctx context.Context, o ListOptions) iter.Seq2[Shipment, error] {
	return func(yield func(Shipment, error) bool) {
		for range maxPages {
			page, err := c.ListShipments(ctx, o)
			if err != nil {
				yield(Shipment{}, err)
				return
			}
			for _, s := range page.Shipments {
				if !yield(s, nil) {
					return
				}
			}
			o.Offset += len(page.Shipments)
			if len(page.Shipments) == 0 || o.Offset >= page.TotalCount {
				return
			}
		}
		yield(Shipment{}, fmt.Errorf("yubico: list shipments: more than %d pages", maxPages))
	}
}

// SearchShipments iterates over the shipments whose field equals value, for
// example SearchShipments(ctx, "shipment_state_id", "99").
func (c *Client) SearchShipments(ctx context.Context, field, value string) iter.Seq2[Shipment, error] {
	return c.Shipments(ctx, ListOptions{Search: value, SearchField: field})
}

// SearchDescription returns the raw metadata document of GET
// /shipments_exact/search-description (which fields are searchable, sortable
// and filterable); its structure is not public.
func (c *Client) SearchDescription(ctx context.Context) (json.RawMessage, error) {
	var raw json.RawMessage
	err := c.do(ctx, request{method: http.MethodGet, path: "/shipments_exact/search-description"}, &raw)
	return raw, err
}

// listEnvelope is {"count":N,"total_count":M,"<array>":[...]}.
type listEnvelope struct {
	Count      int
	TotalCount int
	members    map[string]json.RawMessage
}

// UnmarshalJSON keeps the members and reads count and total_count.
func (e *listEnvelope) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &e.members); err != nil {
		return err
	}
	for name, dst := range map[string]*int{"count": &e.Count, "total_count": &e.TotalCount} {
		if raw, ok := e.members[name]; ok && string(raw) != "null" {
			if err := json.Unmarshal(raw, dst); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if *dst < 0 {
				return fmt.Errorf("%s: negative value %d", name, *dst)
			}
		}
	}
	return nil
}

// decode unmarshals the first of names present (or the envelope's only
// array) into dst.
func (e *listEnvelope) decode(path string, dst any, names ...string) error {
	raw, ok := json.RawMessage(nil), false
	for _, n := range names {
		if raw, ok = e.members[n]; ok {
			break
		}
	}
	if !ok {
		found := 0
		for _, r := range e.members {
			if len(r) > 0 && r[0] == '[' {
				raw, found = r, found+1
			}
		}
		if found != 1 {
			return fmt.Errorf("yubico: GET %s: response has no list member", path)
		}
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("yubico: GET %s: decode response: %w", path, err)
	}
	return nil
}

// doID sends r to the path prefix+id (see idPath), decoding into out.
func (c *Client) doID(ctx context.Context, r request, prefix, id string, out any) error {
	p, err := idPath(prefix, id)
	if err != nil {
		return err
	}
	r.path = p
	return c.do(ctx, r, out)
}

// idPath validates an ID and returns prefix+ID (url.URL escapes it when
// the request is built). "." and ".." are refused: a dot segment would
// name another resource, as a '/' would.
func idPath(prefix, id string) (string, error) {
	if id == "" {
		return "", fmt.Errorf("%w: shipment ID is empty", ErrInvalidArgument)
	}
	if id == "." || id == ".." {
		return "", fmt.Errorf("%w: shipment ID %q is a dot segment", ErrInvalidArgument, id)
	}
	if len(id) > 256 {
		return "", fmt.Errorf("%w: shipment ID %q is longer than 256 bytes", ErrInvalidArgument, httpclient.Clip(id, 40))
	}
	for _, r := range id {
		if r <= ' ' || r == 0x7f || r == '/' || r == '?' || r == '#' || r == '%' {
			return "", fmt.Errorf("%w: shipment ID %q contains a character not allowed in an ID", ErrInvalidArgument, httpclient.Clip(id, 40))
		}
	}
	return prefix + id, nil // url.URL escapes it
}

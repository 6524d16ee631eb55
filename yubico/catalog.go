package yubico

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/preenroll/preenroll/internal/httpclient"
)

// InventoryItem is one inventory bucket of the organisation (GET /inventory).
// A virtual subscription bucket (IsVirtual) is spent on the concrete products
// of ProductMapping: a shipment item then names the concrete product_id and
// the bucket's ProductID as inventory_product_id.
type InventoryItem struct {
	ID             string `json:"organization_product_inventory_id,omitempty"` // the bucket record ID
	OrganizationID string `json:"organization_id,omitempty"`                   // the organisation
	ProductID      int    `json:"product_id"`                                  // the bucket, used as inventory_product_id
	ProductName    string `json:"product_name"`                                // e.g. "YubiKey 5 NFC"
	Quantity       int    `json:"organization_product_quantity"`               // keys left
	InventoryType  int    `json:"inventory_type"`                              // 1 plain stock, 3 subscription (meaning not public)
	ProductTier    int    `json:"product_tier"`                                // subscription tier
	IsSubscription bool   `json:"is_subscription_product"`                     // a subscription bucket
	IsVirtual      bool   `json:"is_virtual_product"`                          // spent on the products of ProductMapping
	ProductMapping []int  `json:"product_mapping"`                             // concrete product IDs a virtual bucket covers
}

// Inventory returns the organisation's inventory buckets (GET /inventory,
// every page). Quantities are decremented by the daily fulfillment batch, not
// at create time.
func (c *Client) Inventory(ctx context.Context) ([]InventoryItem, error) {
	return listAll[InventoryItem](ctx, c, "/inventory", "organization_product_inventory")
}

// ShippableKeys returns every product associated with the organisation,
// including those with zero inventory (GET /shippablekeys). The response's
// member name is not public; the client reads "shippable_keys" or the
// envelope's only array, each entry shaped like an [InventoryItem].
func (c *Client) ShippableKeys(ctx context.Context) ([]InventoryItem, error) {
	return listAll[InventoryItem](ctx, c, "/shippablekeys", "shippable_keys", "organization_product_inventory", "products")
}

// Product is one entry of Yubico's product catalogue.
type Product struct {
	ID            int    `json:"product_id"`               // product_id
	Name          string `json:"product_name"`             // e.g. "YubiKey 5C NFC"
	Code          string `json:"product_code,omitempty"`   // product_code
	SKU           string `json:"product_sku,omitempty"`    // product_sku
	Tier          int    `json:"product_tier,omitempty"`   // product_tier
	InventoryType int    `json:"inventory_type,omitempty"` // inventory_type
}

// Products returns the product catalogue (GET /products, every page).
func (c *Client) Products(ctx context.Context) ([]Product, error) {
	return listAll[Product](ctx, c, "/products", "products", "data", "items")
}

// Product returns one product (GET /products/{id}); an unknown ID fails with
// an error matching [ErrNotFound].
func (c *Client) Product(ctx context.Context, id int) (Product, error) {
	if id <= 0 {
		return Product{}, fmt.Errorf("%w: product ID %d is not positive", ErrInvalidArgument, id)
	}
	var p Product
	err := c.do(ctx, request{method: http.MethodGet, path: "/products/" + strconv.Itoa(id), notFoundOn400: true}, &p)
	return p, err
}

// Country is a destination the organisation may ship to.
type Country struct {
	Code string `json:"country_code_2"`         // ISO 3166-1 alpha-2
	Name string `json:"country_name,omitempty"` // the country's name
}

// Countries returns the countries the organisation may ship to (GET
// /countries). The response's member name is not public; the client reads
// "countries" or the envelope's only array, or a bare array.
func (c *Client) Countries(ctx context.Context) ([]Country, error) {
	var raw json.RawMessage
	if err := c.do(ctx, request{method: http.MethodGet, path: "/countries"}, &raw); err != nil {
		return nil, err
	}
	var list []Country
	if len(raw) > 0 && raw[0] == '[' {
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("yubico: GET /countries: decode response: %w", err)
		}
		return list, nil
	}
	var env listEnvelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("yubico: GET /countries: decode response: %w", err)
	}
	err := env.decode("/countries", &list, "countries", "data", "items")
	return list, err
}

// AddressCheck is the outcome of [Client.ValidateAddress].
type AddressCheck struct {
	Deliverable bool     // status "deliverable"
	Status      string   // the service's status string
	Details     []string // reasons for an undeliverable address
}

// ValidateAddress asks whether Yubico can deliver to a (POST
// /validate-address). The service answers 200 {"status":"deliverable"} or 400
// {"status":"undeliverable","details":[{"description":...}]}; both are a
// result, not an error. Other failures are an [*APIError].
func (c *Client) ValidateAddress(ctx context.Context, a Address) (AddressCheck, error) {
	var out struct {
		Status  string `json:"status"`
		Details []struct {
			Description string `json:"description"`
		} `json:"details"`
	}
	err := c.do(ctx, request{method: http.MethodPost, path: "/validate-address", in: a}, &out)
	var ae *APIError
	if errors.As(err, &ae) && ae.StatusCode == http.StatusBadRequest {
		if json.Unmarshal(ae.Body, &out) == nil && out.Status == "undeliverable" {
			err = nil
		}
	}
	if err != nil {
		return AddressCheck{}, err
	}
	chk := AddressCheck{Deliverable: out.Status == "deliverable", Status: out.Status}
	for _, d := range out.Details {
		chk.Details = append(chk.Details, d.Description)
	}
	if !chk.Deliverable && chk.Status != "undeliverable" {
		return AddressCheck{}, fmt.Errorf("yubico: POST /validate-address: unexpected status %q", httpclient.Clip(out.Status, 40))
	}
	return chk, nil
}

// listAll pages through a list endpoint with limit/offset until total_count
// and returns the records of every page (those read so far with an error),
// each page's array found under the first of members it has (see
// listEnvelope.decode).
func listAll[T any](ctx context.Context, c *Client, path string, members ...string) ([]T, error) {
	var all []T
	offset := 0
	for range maxPages {
		q := url.Values{"limit": {strconv.Itoa(MaxPageSize)}, "offset": {strconv.Itoa(offset)}}
		var env listEnvelope
		if err := c.do(ctx, request{method: http.MethodGet, path: path, query: q}, &env); err != nil {
			return all, err
		}
		var page []T
		err := env.decode(path, &page, members...)
		all = append(all, page...)
		if err != nil {
			return all, err
		}
		n := len(page)
		offset += n
		// An envelope without total_count is a single page.
		if n == 0 || offset >= env.TotalCount {
			return all, nil
		}
	}
	return all, fmt.Errorf("yubico: GET %s: more than %d pages", path, maxPages)
}

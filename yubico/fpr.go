package yubico

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// FPRRecipient is the recipient object of a FIDO Pre-reg shipment.
type FPRRecipient struct {
	Company   string `json:"recipient_company"`             // company line (recipient_company), required
	Email     string `json:"recipient_email,omitempty"`     // where shipment notices go
	FirstName string `json:"recipient_firstname,omitempty"` // given name
	LastName  string `json:"recipient_lastname,omitempty"`  // family name
	Telephone string `json:"recipient_telephone,omitempty"` // the carrier's contact number
}

// FPRShipmentRequest is the body of POST /fpr/shipments
// (docs/yubico.md §FIDO Pre-reg shipments): nested recipient and mailing address, exactly
// one item of quantity 1.
type FPRShipmentRequest struct {
	DeliveryType   DeliveryType     `json:"delivery_type,omitempty"` // normal (default) or expedited
	Recipient      FPRRecipient     `json:"recipient"`               // who receives the key
	MailingAddress Address          `json:"mailing_address"`         // where it goes
	Items          []FPRItemRequest `json:"shipment_items"`          // exactly one item
	// IdempotencyKey, if not empty, is sent by [Client.CreateFPRShipment] as
	// the Idempotency-Key header (not in the body) and lets the client retry
	// the create; see [IdempotencyKeyHeader]. Use one key per intended
	// shipment and resend the same body with it.
	IdempotencyKey string `json:"-"`
}

// FPRItemRequest is the single item of a [FPRShipmentRequest].
type FPRItemRequest struct {
	ProductID          int                `json:"product_id"`             // 1, 29 (FIPS: 54, 55)
	InventoryProductID int                `json:"inventory_product_id"`   // the inventory bucket
	Quantity           int                `json:"product_quantity"`       // must be 1
	CustomizationID    string             `json:"customization_id"`       // Yubico-issued CID
	Customizations     []FPRCustomization `json:"product_customizations"` // exactly one, with the IdP's requests
}

// FPRCustomization carries the IdP's encrypted requests (compact JWEs to one
// of Yubico's transport keys): one PIN request and one credential request per
// relying-party ID.
type FPRCustomization struct {
	PINRequest         string   `json:"fido_pin_request"`         // fido_pin_request, a compact JWE
	CredentialRequests []string `json:"fido_credential_requests"` // fido_credential_requests, one per RP ID
}

// NewFPRShipmentRequest builds the usual one-key request: one item of
// quantity 1 with one customization holding pinRequest and credRequests.
func NewFPRShipmentRequest(to FPRRecipient, addr Address, productID, inventoryProductID int, customizationID, pinRequest string, credRequests []string) FPRShipmentRequest {
	return FPRShipmentRequest{
		DeliveryType:   DeliveryNormal,
		Recipient:      to,
		MailingAddress: addr,
		Items: []FPRItemRequest{{
			ProductID:          productID,
			InventoryProductID: inventoryProductID,
			Quantity:           1,
			CustomizationID:    customizationID,
			Customizations: []FPRCustomization{{
				PINRequest:         pinRequest,
				CredentialRequests: append([]string(nil), credRequests...),
			}},
		}},
	}
}

// FPRShipment is a FIDO Pre-reg shipment as GET /fpr/shipments/{id} returns
// it. Its state is nested (shipment_state.shipment_state_id), unlike
// /shipments_exact.
type FPRShipment struct {
	ID             string            `json:"shipment_id"`             // shipment_id
	State          FPRState          `json:"shipment_state"`          // shipment_state
	DeliveryType   DeliveryType      `json:"delivery_type,omitempty"` // normal or expedited
	Recipient      FPRRecipient      `json:"recipient"`               // who receives the key
	MailingAddress Address           `json:"mailing_address"`         // where it goes
	TrackingLink   string            `json:"tracking_link,omitempty"` // set once shipped
	Items          []FPRShipmentItem `json:"shipment_items"`          // the one item
}

// FPRState is the nested shipment_state object.
type FPRState struct {
	ID      ShipmentState `json:"shipment_state_id"`                // shipment_state_id
	Message string        `json:"shipment_state_message,omitempty"` // shipment_state_message
}

// FPRShipmentItem is the item of a [FPRShipment]; ProductData is filled at
// state 103 and 104.
type FPRShipmentItem struct {
	ProductID          int           `json:"product_id"`                 // the model
	InventoryProductID int           `json:"inventory_product_id"`       // the inventory bucket
	Quantity           int           `json:"product_quantity"`           // 1
	CustomizationID    string        `json:"customization_id,omitempty"` // the Yubico-issued CID
	ProductData        []ProductData `json:"product_data,omitempty"`     // the programmed key, at 103 and 104
}

// ProductData describes the programmed key of a shipped FIDO Pre-reg
// shipment: its serial and firmware (pass them to Okta's activate as serial
// and version) and the encrypted responses (compact JWEs to the IdP's response
// keys, each wrapping a JWS signed with a Yubico signing key).
// CredentialResponses are in the order of the credential requests.
type ProductData struct {
	SerialNumber        string   `json:"serial_number"`             // decimal serial, Okta's activate serial
	FirmwareVersion     string   `json:"firmware_version"`          // e.g. "5.7.1"
	PINResponse         string   `json:"fido_pin_response"`         // fido_pin_response, a compact JWE
	CredentialResponses []string `json:"fido_credential_responses"` // fido_credential_responses, compact JWEs
}

// UnmarshalJSON accepts serial_number and firmware_version as strings or
// numbers (their wire type is not public).
func (p *ProductData) UnmarshalJSON(b []byte) error {
	type alias ProductData
	var w struct {
		alias
		SerialNumber    flexString `json:"serial_number"`
		FirmwareVersion flexString `json:"firmware_version"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*p = ProductData(w.alias)
	p.SerialNumber, p.FirmwareVersion = string(w.SerialNumber), string(w.FirmwareVersion)
	return nil
}

// ProductData returns the first item's first product data, and whether
// there is one (only at 103/104).
func (s FPRShipment) ProductData() (ProductData, bool) {
	if len(s.Items) == 0 || len(s.Items[0].ProductData) == 0 {
		return ProductData{}, false
	}
	return s.Items[0].ProductData[0], true
}

// CreateFPRShipment creates a FIDO Pre-reg shipment (POST /fpr/shipments)
// and returns it (shipment_id and state). The encrypted requests are checked
// by Yubico when it programs the key, so an undecryptable request surfaces
// later as an error state.
//
// Without r.IdempotencyKey the create is sent exactly once. With it, the
// Idempotency-Key header is sent and the create is retried under the
// client's [RetryPolicy] (transport errors, 429, 5xx) with the same key; a
// server that honours the key answers a repeat with the shipment it already
// made, and answers the key reused with a different body with an
// [*APIError] matching [ErrConflict] (see [CodeIdempotencyKeyReused]). A
// malformed key fails with [ErrInvalidIdempotencyKey] before anything is sent.
func (c *Client) CreateFPRShipment(ctx context.Context, r FPRShipmentRequest) (FPRShipment, error) {
	if err := CheckIdempotencyKey(r.IdempotencyKey); err != nil {
		return FPRShipment{}, fmt.Errorf("%w: POST /fpr/shipments: %w", ErrInvalidArgument, err)
	}
	var s FPRShipment
	if err := c.do(ctx, request{method: http.MethodPost, path: "/fpr/shipments", in: r, idempotencyKey: r.IdempotencyKey}, &s); err != nil {
		return FPRShipment{}, err
	}
	if s.ID == "" {
		return FPRShipment{}, errors.New("yubico: POST /fpr/shipments: response has no shipment_id")
	}
	return s, nil
}

// FPRShipment returns a FIDO Pre-reg shipment (GET /fpr/shipments/{id}); an
// unknown ID fails with an error matching [ErrNotFound].
func (c *Client) FPRShipment(ctx context.Context, id string) (FPRShipment, error) {
	p, err := idPath("/fpr/shipments/", id)
	if err != nil {
		return FPRShipment{}, err
	}
	var s FPRShipment
	if err := c.do(ctx, request{method: http.MethodGet, path: p, notFoundOn400: true}, &s); err != nil {
		return FPRShipment{}, err
	}
	if s.State.ID.ResponsesReady() {
		pd, ok := s.ProductData()
		if !ok || pd.SerialNumber == "" || pd.PINResponse == "" || len(pd.CredentialResponses) == 0 {
			return FPRShipment{}, fmt.Errorf("yubico: GET %s: shipment in state %d has incomplete product_data", p, s.State.ID)
		}
	}
	return s, nil
}

// CancelFPRShipment cancels a FIDO Pre-reg shipment while it is editable
// (state 9 or below). It fails with an error matching [ErrConflict] once the
// shipment is locked for fulfillment and [ErrNotFound] for an unknown ID.
//
// Route decision: Yubico documents no cancel route for FIDO Pre-reg shipments
// (docs/decisions.md §Yubico cancel route). This client sends
// DELETE /fpr/shipments/{id}, mirroring DELETE /shipments_exact/{id}; the
// fake in yubicotest accepts both. Deletes are not retried.
func (c *Client) CancelFPRShipment(ctx context.Context, id string) error {
	return c.doID(ctx, request{method: http.MethodDelete}, "/fpr/shipments/", id, nil)
}

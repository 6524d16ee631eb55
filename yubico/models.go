package yubico

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/preenroll/preenroll/internal/httpclient"
)

// ShipmentState is a shipment's shipment_state_id. Yubico's full state table
// is not public (docs/yubico.md §Shipment states): the named constants are the states
// Yubico's documentation and sample code show; any other value is kept as is.
type ShipmentState int

// Known shipment states.
const (
	StateIncompleteRequest  ShipmentState = 1   // error: incomplete shipping request
	StateAwaitingValidation ShipmentState = 3   // initial state after create
	StateIncomplete         ShipmentState = 6   // error: incomplete
	StateUndeliverable      ShipmentState = 7   // error: address undeliverable or not understood
	StateProcessingError    ShipmentState = 8   // error: processing error, contact support
	StateDPLMatch           ShipmentState = 9   // error: denied-party-list match
	StateSentToFulfillment  ShipmentState = 10  // locked for fulfillment (first non-editable state)
	StateShippingError      ShipmentState = 99  // error: shipping error, contact support
	StateShipped            ShipmentState = 103 // shipped; FIDO Pre-reg responses available
	StateDelivered          ShipmentState = 104 // delivered; FIDO Pre-reg responses available
	StateLost               ShipmentState = 105 // error: shipment lost or missing
	StateDeliveryException  ShipmentState = 106 // error: delivery exception
)

var stateNames = map[ShipmentState]string{
	StateIncompleteRequest:  "Incomplete Shipping Request",
	StateAwaitingValidation: "Awaiting Validation",
	StateIncomplete:         "Incomplete",
	StateUndeliverable:      "Address is undeliverable or could not be understood",
	StateProcessingError:    "Error: Processing Error, contact Support",
	StateDPLMatch:           "Error: DPL Match",
	StateSentToFulfillment:  "Sent to Fulfillment",
	StateShippingError:      "Error: Shipping error, contact Support",
	StateShipped:            "Shipment Shipped",
	StateDelivered:          "Delivered",
	StateLost:               "Shipment Lost/Missing",
	StateDeliveryException:  "Delivery Exception",
}

// String returns the state's message as Yubico's console shows it, or
// "state N" for a state this package does not know.
func (s ShipmentState) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return "state " + strconv.Itoa(int(s))
}

// Known reports whether s is one of the named constants.
func (s ShipmentState) Known() bool { _, ok := stateNames[s]; return ok }

// Editable reports whether a shipment in state s can still be updated or
// cancelled: state 0 to 9, before it is locked for fulfillment. A negative
// state is no state Yubico has and is not editable.
func (s ShipmentState) Editable() bool { return s >= 0 && s <= StateDPLMatch }

// ResponsesReady reports whether a FIDO Pre-reg shipment in state s carries
// its serial number, firmware version and encrypted responses (103, 104).
func (s ShipmentState) ResponsesReady() bool { return s == StateShipped || s == StateDelivered }

// Failed reports whether s is an error state (1, 6, 7, 8, 9, 99, 105, 106).
// States 1 to 9 can be fixed by editing the shipment; the others need support.
func (s ShipmentState) Failed() bool {
	switch s {
	case StateIncompleteRequest, StateIncomplete, StateUndeliverable, StateProcessingError, StateDPLMatch,
		StateShippingError, StateLost, StateDeliveryException:
		return true
	}
	return false
}

// DeliveryType is a shipment's delivery_type.
type DeliveryType int

// Delivery types.
const (
	DeliveryNormal    DeliveryType = 1
	DeliveryExpedited DeliveryType = 2
)

// String returns "normal", "expedited" or "delivery type N".
func (d DeliveryType) String() string {
	switch d {
	case DeliveryNormal:
		return "normal"
	case DeliveryExpedited:
		return "expedited"
	}
	return "delivery type " + strconv.Itoa(int(d))
}

// Address is a postal address as the API spells it. It is the flat part of a
// /shipments_exact body, the mailing_address of a FIDO Pre-reg shipment and
// the body of validate-address. Region is a two-letter USPS code, required for
// US and CA. Yubico's newest published limit is street_line1+street_line2 ≤
// 120 bytes; street_line3 is deprecated (September 2024).
type Address struct {
	StreetLine1 string `json:"street_line1"`           // first street line, required
	StreetLine2 string `json:"street_line2,omitempty"` // second street line
	StreetLine3 string `json:"street_line3,omitempty"` // deprecated since September 2024
	City        string `json:"city"`                   // required
	Region      string `json:"region,omitempty"`       // USPS code; required for US and CA
	PostalCode  string `json:"postal_code"`            // required
	CountryCode string `json:"country_code_2"`         // ISO 3166-1 alpha-2
}

// ShipmentRequest is the body of POST and PUT /shipments_exact
// (docs/yubico.md §Shipment request).
type ShipmentRequest struct {
	ChannelPartnerID        int           `json:"channelpartner_id"`             // the entity the inventory was bought through
	DeliveryType            DeliveryType  `json:"delivery_type,omitempty"`       // normal (default) or expedited
	Recipient               string        `json:"recipient"`                     // company line
	RecipientEmail          string        `json:"recipient_email,omitempty"`     // where shipment notices go
	RecipientFirstName      string        `json:"recipient_firstname,omitempty"` // given name
	RecipientLastName       string        `json:"recipient_lastname,omitempty"`  // family name
	RecipientTelephone      string        `json:"recipient_telephone,omitempty"` // the carrier's contact number
	Address                               // flattened: street_line1 ... country_code_2
	AddressValidationBypass bool          `json:"address_validation_bypass,omitempty"` // skip Yubico's address validation
	Items                   []ItemRequest `json:"shipment_items"`                      // the product lines (at most 500 keys in all)
	// IdempotencyKey, if not empty, is sent by [Client.CreateShipment] as
	// the Idempotency-Key header (not in the body) and lets the client retry
	// the create; see [IdempotencyKeyHeader]. [Client.UpdateShipment]
	// ignores it.
	IdempotencyKey string `json:"-"`
}

// ItemRequest is one product line of a [ShipmentRequest].
type ItemRequest struct {
	ProductID          int `json:"product_id"`                // the model, e.g. 1 = YubiKey 5 NFC
	InventoryProductID int `json:"inventory_product_id"`      // the inventory bucket to draw from
	Quantity           int `json:"shipment_product_quantity"` // how many
}

// Shipment is a /shipments_exact shipment as the API returns it. Fields the
// service does not send stay zero.
type Shipment struct {
	ID                      string         `json:"shipment_id"`                      // shipment_id, 22 characters
	OrganizationID          string         `json:"organization_id,omitempty"`        // the organisation
	UserID                  string         `json:"user_id,omitempty"`                // the API caller's user
	State                   ShipmentState  `json:"shipment_state_id"`                // shipment_state_id
	StateMessage            string         `json:"shipment_state_message,omitempty"` // shipment_state_message
	StateCode               string         `json:"shipment_state_code,omitempty"`    // shipment_state_code
	Messages                Messages       `json:"shipment_messages,omitempty"`      // shipment_messages: why it failed, for example
	Type                    string         `json:"shipment_type,omitempty"`          // "Manual", "Automated", "AUTO FIDO PRE-REG" (key name unconfirmed)
	ChannelPartnerID        int            `json:"channelpartner_id,omitempty"`      // channelpartner_id
	DeliveryType            DeliveryType   `json:"delivery_type,omitempty"`          // normal or expedited
	Recipient               string         `json:"recipient,omitempty"`              // company line
	RecipientEmail          string         `json:"recipient_email,omitempty"`        // where shipment notices go
	RecipientFirstName      string         `json:"recipient_firstname,omitempty"`    // given name
	RecipientLastName       string         `json:"recipient_lastname,omitempty"`     // family name
	RecipientTelephone      string         `json:"recipient_telephone,omitempty"`    // the carrier's contact number
	Address                                // flattened
	AddressValidationBypass bool           `json:"address_validation_bypass,omitempty"` // address validation skipped
	IsSentToFulfillment     bool           `json:"is_sent_to_fulfillment"`              // past the fulfillment batch
	IsShipped               bool           `json:"is_shipped"`                          // shipped
	IsDelivered             bool           `json:"is_delivered"`                        // delivered
	TrackingLink            string         `json:"tracking_link,omitempty"`             // the carrier's tracking URL
	RequestDate             time.Time      `json:"-"`                                   // shipment_request_date
	DeliveredDate           time.Time      `json:"-"`                                   // delivered_date
	Items                   []ShipmentItem `json:"shipment_items"`                      // the product lines
}

type shipmentAlias Shipment

type shipmentWire struct {
	shipmentAlias
	RequestDate   flexTime `json:"shipment_request_date,omitzero"`
	DeliveredDate flexTime `json:"delivered_date,omitzero"`
}

// MarshalJSON encodes the shipment in the wire shape (dates as RFC 3339).
func (s Shipment) MarshalJSON() ([]byte, error) {
	return json.Marshal(shipmentWire{shipmentAlias(s), flexTime(s.RequestDate), flexTime(s.DeliveredDate)})
}

// UnmarshalJSON decodes the wire shape; dates may be RFC 3339, "2006-01-02
// 15:04:05", "2006-01-02", empty or null.
func (s *Shipment) UnmarshalJSON(b []byte) error {
	var w shipmentWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = w.shipment()
	return nil
}

// shipment returns the Shipment w decoded. The client's calls that return
// one shipment decode its wire shape straight into a shipmentWire: through
// Shipment.UnmarshalJSON the body would be validated and decoded twice.
func (w *shipmentWire) shipment() Shipment {
	s := Shipment(w.shipmentAlias)
	s.RequestDate = time.Time(w.RequestDate)
	s.DeliveredDate = time.Time(w.DeliveredDate)
	return s
}

// ShipmentItem is one product line of a [Shipment].
type ShipmentItem struct {
	ShipmentProductID  string `json:"shipment_product_id,omitempty"` // the line's ID
	ShipmentID         string `json:"shipment_id,omitempty"`         // its shipment
	ProductID          int    `json:"product_id"`                    // the model
	InventoryProductID int    `json:"inventory_product_id"`          // the inventory bucket
	ProductName        string `json:"product_name,omitempty"`        // e.g. "YubiKey 5C"
	ProductSKU         string `json:"product_sku,omitempty"`         // product_sku
	ProductCode        string `json:"product_code,omitempty"`        // product_code
	ProductTier        int    `json:"product_tier,omitempty"`        // product_tier
	InventoryType      int    `json:"inventory_type,omitempty"`      // inventory_type
	Quantity           int    `json:"shipment_product_quantity"`     // how many
}

// Messages are a shipment's shipment_messages. Their structure is not
// public: the decoder accepts strings and objects with a "message" or
// "description" member.
type Messages []string

// UnmarshalJSON decodes strings or objects; null is an empty list.
func (m *Messages) UnmarshalJSON(b []byte) error {
	var raws []json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		return fmt.Errorf("shipment_messages: %w", err)
	}
	out := make(Messages, 0, len(raws))
	for _, r := range raws {
		var s string
		if json.Unmarshal(r, &s) == nil {
			out = append(out, s)
			continue
		}
		var o struct {
			Message     string `json:"message"`
			Description string `json:"description"`
		}
		if err := json.Unmarshal(r, &o); err != nil {
			return fmt.Errorf("shipment_messages: element is neither a string nor an object")
		}
		if o.Message != "" {
			out = append(out, o.Message)
		} else {
			out = append(out, o.Description)
		}
	}
	*m = out
	return nil
}

// flexTime decodes the date formats seen in Yubico responses.
type flexTime time.Time

// IsZero reports whether t is the zero time (for omitzero).
func (t flexTime) IsZero() bool { return time.Time(t).IsZero() }

// MarshalJSON encodes t as RFC 3339 in UTC, or null.
func (t flexTime) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(time.Time(t).UTC().Format(time.RFC3339))
}

// UnmarshalJSON accepts the date formats seen in Yubico responses.
func (t *flexTime) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*t = flexTime{}
		return nil
	}
	s, err := httpclient.JSONString(b)
	if err != nil {
		return fmt.Errorf("date: want a string, got %.20s", b)
	}
	if s == "" {
		*t = flexTime{}
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if v, err := time.Parse(layout, s); err == nil {
			*t = flexTime(v)
			return nil
		}
	}
	return fmt.Errorf("date %q: unrecognised format", httpclient.Clip(s, 40))
}

// flexString decodes a JSON string or number (or null) into a string.
type flexString string

// UnmarshalJSON accepts a JSON string, number or null.
func (f *flexString) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*f = ""
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a string or number, got %.20s", b)
	}
	*f = flexString(n.String())
	return nil
}

package fulfillment

import (
	"errors"
	"fmt"
	"strconv"
)

// ProviderYubico is the only fulfillment provider Okta defines.
const ProviderYubico = "yubico"

// MaxOrderItems bounds the items of one Order. Okta's fulfillmentData is an
// array; Yubico programs one FIDO Pre-reg key per shipment, so the Service
// ships each item separately.
const MaxOrderItems = 16

// ErrInvalidOrder is wrapped by the *ValidationError that [Order.Validate]
// returns.
var ErrInvalidOrder = errors.New("fulfillment: invalid order")

// Order asks for pre-enrolled keys for one Okta user: the body of Okta's
// initiate-fulfillment-request (docs/okta.md §Wire shapes).
type Order struct {
	// UserID is the Okta user ID (for example "00us2hPODQncCkxef0g3").
	UserID string `json:"userId"`
	// Provider is the fulfillment provider; only "yubico" exists.
	Provider string `json:"fulfillmentProvider"`
	// Items are the keys ordered; at least one.
	Items []Item `json:"fulfillmentData"`
}

// Item is one key of an Order (Okta's FulfillmentDataOrderDetails). Okta
// carries the IDs as strings; Yubico takes ProductID and InventoryProductID
// as integers.
type Item struct {
	// ProductID is Yubico's make and model, e.g. "1" (YubiKey 5 NFC),
	// "29" (5C NFC), "54"/"55" (FIPS).
	ProductID string `json:"productId"`
	// InventoryProductID is the inventory bucket to draw from, e.g. "106".
	InventoryProductID string `json:"inventoryProductId"`
	// CustomizationID is the Yubico-issued customization (CID), e.g.
	// "RXJN83".
	CustomizationID string `json:"customizationId"`
}

// Validate checks the order like Okta's preregistration API checks its
// parameters, and reports every problem at once in a *ValidationError that
// wraps ErrInvalidOrder. Field names are Okta's JSON names
// ("userId", "fulfillmentData[0].productId", ...). The rules:
//   - userId: required; 1–64 ASCII letters, digits, '.', '_' or '-' (it
//     goes into URL paths);
//   - fulfillmentProvider: must be "yubico";
//   - fulfillmentData: 1 to MaxOrderItems items;
//   - productId, inventoryProductId: required; decimal integers 1–2147483647
//     without sign or leading zeros;
//   - customizationId: required; 1–32 ASCII letters or digits (Yubico's
//     CIDs look like "RXJN83"; the exact format is not published).
func (o Order) Validate() error {
	var v validator
	switch {
	case o.UserID == "":
		v.add("userId", o.UserID, "required")
	case !isIdentifier(o.UserID, 64, "._-"):
		v.add("userId", o.UserID, "must be 1-64 ASCII letters, digits, '.', '_' or '-'")
	}
	switch {
	case o.Provider == "":
		v.add("fulfillmentProvider", o.Provider, "required")
	case o.Provider != ProviderYubico:
		v.add("fulfillmentProvider", o.Provider, `must be "yubico"`)
	}
	switch {
	case len(o.Items) == 0:
		v.add("fulfillmentData", "", "at least one item is required")
	case len(o.Items) > MaxOrderItems:
		v.add("fulfillmentData", strconv.Itoa(len(o.Items))+" items", fmt.Sprintf("at most %d items", MaxOrderItems))
	default:
		for i, it := range o.Items {
			prefix := fmt.Sprintf("fulfillmentData[%d].", i)
			checkNumericID(&v, prefix+"productId", it.ProductID)
			checkNumericID(&v, prefix+"inventoryProductId", it.InventoryProductID)
			switch {
			case it.CustomizationID == "":
				v.add(prefix+"customizationId", it.CustomizationID, "required")
			case !isIdentifier(it.CustomizationID, 32, ""):
				v.add(prefix+"customizationId", it.CustomizationID, "must be 1-32 ASCII letters or digits")
			}
		}
	}
	return v.err(ErrInvalidOrder)
}

func checkNumericID(v *validator, field, s string) {
	if s == "" {
		v.add(field, s, "required")
		return
	}
	if _, err := ParseProductID(s); err != nil {
		v.add(field, s, "must be a positive decimal integer without sign or leading zeros")
	}
}

// ParseProductID parses a Yubico product or inventory product ID as Okta
// carries it (a decimal string) into the integer Yubico expects. It accepts
// 1–2147483647 without sign, spaces or leading zeros.
func ParseProductID(s string) (int, error) {
	if s == "" || len(s) > 10 || s[0] == '0' {
		return 0, fmt.Errorf("fulfillment: malformed product ID %q", truncateValue(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("fulfillment: malformed product ID %q", truncateValue(s))
		}
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("fulfillment: product ID %q out of range", s)
	}
	return int(n), nil
}

// isIdentifier reports whether s is 1..maxLen ASCII letters, digits or bytes
// from extra.
func isIdentifier(s string, maxLen int, extra string) bool {
	if len(s) == 0 || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c < 0x80 && extra != "" && containsByte(extra, c):
		default:
			return false
		}
	}
	return true
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

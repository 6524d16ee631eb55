package fulfillment

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrInvalidOrder is wrapped by the *ValidationError that [Item.Validate]
// returns, and that [Service.Order] and [Service.OrderBatch] return for an
// order they refuse.
var ErrInvalidOrder = errors.New("fulfillment: invalid order")

// Item is the key ordered for one user (one entry of Okta's
// fulfillmentData, FulfillmentDataOrderDetails). Okta carries the IDs as
// strings; Yubico takes ProductID and InventoryProductID as integers.
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

// Validate checks the item like Okta's preregistration API checks its
// parameters, and reports every problem at once in a *ValidationError that
// wraps ErrInvalidOrder, fields named by Okta's JSON names. The rules:
//   - productId, inventoryProductId: required; decimal integers 1–2147483647
//     without sign or leading zeros;
//   - customizationId: required; 1–32 ASCII letters or digits (Yubico's
//     CIDs look like "RXJN83"; the exact format is not published).
func (it Item) Validate() error {
	var v validator
	it.check(&v, "")
	return v.err(ErrInvalidOrder)
}

// check adds the item's problems to v, each field name after prefix.
func (it Item) check(v *validator, prefix string) {
	checkNumericID(v, prefix+"productId", it.ProductID)
	checkNumericID(v, prefix+"inventoryProductId", it.InventoryProductID)
	switch {
	case it.CustomizationID == "":
		v.add(prefix+"customizationId", it.CustomizationID, "required")
	case !isIdentifier(it.CustomizationID, 32, ""):
		v.add(prefix+"customizationId", it.CustomizationID, "must be 1-32 ASCII letters or digits")
	}
}

// validateOrder checks an order as Okta's initiate-fulfillment-request
// would take it, every problem at once (a *ValidationError wrapping
// ErrInvalidOrder, fields named as in Okta's body: "userId",
// "fulfillmentData", "fulfillmentData[0].productId", ...):
//   - userId: required; 1–64 ASCII letters, digits, '.', '_' or '-' (it
//     goes into URL paths);
//   - fulfillmentData: exactly one item (Okta allows one key in
//     fulfillment per user), valid by [Item.Validate].
func validateOrder(userID string, items []Item) error {
	var v validator
	switch {
	case userID == "":
		v.add("userId", userID, "required")
	case !isIdentifier(userID, 64, "._-"):
		v.add("userId", userID, "must be 1-64 ASCII letters, digits, '.', '_' or '-'")
	}
	checkItems(&v, items)
	return v.err(ErrInvalidOrder)
}

// validateItems is the items half of [validateOrder], for an order whose
// user is not known yet: exactly one item, valid by [Item.Validate], its
// fields named as in Okta's body.
func validateItems(items []Item) error {
	var v validator
	checkItems(&v, items)
	return v.err(ErrInvalidOrder)
}

// checkItems adds the problems of an order's items to v.
func checkItems(v *validator, items []Item) {
	switch {
	case len(items) == 0:
		v.add("fulfillmentData", "", "at least one item is required (an Item given to Order, BatchOptions.Items, or Config.Defaults)")
	case len(items) > 1:
		v.add("fulfillmentData", strconv.Itoa(len(items))+" items", "one item per order: Okta allows one key in fulfillment per user")
	}
	for i, it := range items {
		it.check(v, fmt.Sprintf("fulfillmentData[%d].", i))
	}
}

func checkNumericID(v *validator, field, s string) {
	if s == "" {
		v.add(field, s, "required")
		return
	}
	if _, err := parseProductID(s); err != nil {
		v.add(field, s, "must be a positive decimal integer without sign or leading zeros")
	}
}

// parseProductID parses a Yubico product or inventory product ID as Okta
// carries it (a decimal string) into the integer Yubico expects. It accepts
// 1–2147483647 without sign, spaces or leading zeros.
func parseProductID(s string) (int, error) {
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

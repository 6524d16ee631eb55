package yubicotest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/yubico"
)

// TestFilterFieldsAreTheView: a list filter compares the fields
// exactFieldsLocked renders, which must be the shipment's view but for the
// state code, messages and items (which no search field reads), so that a
// filter selects by what the list shows.
func TestFilterFieldsAreTheView(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("PST", -8*3600))
	for _, sh := range []*shipment{
		{id: "fprDelivered", fpr: true, userID: "u1", state: yubico.StateDelivered, messages: []string{"m"}, sent: true,
			created: at, delivered: at.Add(time.Hour), tracking: "https://t.invalid/1", cid: "CID",
			req: yubico.ShipmentRequest{ChannelPartnerID: 3, DeliveryType: yubico.DeliveryExpedited, Recipient: "Co",
				RecipientEmail: "A@b.example", RecipientFirstName: "F", RecipientLastName: "L", RecipientTelephone: "1",
				Address: usAddressForTest(), AddressValidationBypass: true},
			items: []yubico.ShipmentItem{{ShipmentProductID: "p", ProductID: 1, Quantity: 1}}},
		{id: "exactPending", state: yubico.StateAwaitingValidation, created: at},
		{id: "exactLost", state: yubico.StateLost, created: at, sent: true},
	} {
		full, fields := s.exactViewLocked(sh), s.exactFieldsLocked(sh)
		for name, get := range searchFields {
			if a, b := get(&full), get(&fields); a != b {
				t.Errorf("%s: search field %s is %q in the view, %q to a filter", sh.id, name, a, b)
			}
		}
		full.StateCode, full.Messages, full.Items = "", nil, nil
		if d := cmp.Diff(full, fields); d != "" {
			t.Errorf("%s: view without state code, messages and items (-) vs exactFieldsLocked (+):\n%s", sh.id, d)
		}
	}
}

func usAddressForTest() yubico.Address {
	return yubico.Address{StreetLine1: "1 Main St", StreetLine2: "Suite 2", City: "Dedham", Region: "MA", PostalCode: "02026", CountryCode: "US"}
}

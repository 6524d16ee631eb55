package fulfillment

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// order is what validateOrder checks.
type order struct {
	UserID string
	Items  []Item
}

func validOrder() order {
	return order{
		UserID: "00us2hPODQncCkxef0g3",
		Items:  []Item{{ProductID: "55", InventoryProductID: "106", CustomizationID: "RXJN83"}},
	}
}

// problems flattens a validation error to "field: problem" lines; nil → nil.
func problems(t *testing.T, err error, sentinel error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	if !errors.Is(err, sentinel) {
		t.Errorf("error %v does not wrap %v", err, sentinel)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %T %v is not a *ValidationError", err, err)
	}
	var out []string
	for _, f := range ve.Fields {
		if len(f.Value) > 32+len("…") {
			t.Errorf("%s: value not truncated (%d bytes)", f.Field, len(f.Value))
		}
		out = append(out, f.Field+": "+f.Problem)
	}
	return out
}

func TestOrderValidate(t *testing.T) {
	t.Parallel()
	const (
		numeric = "must be a positive decimal integer without sign or leading zeros"
		cid     = "must be 1-32 ASCII letters or digits"
		uid     = "must be 1-64 ASCII letters, digits, '.', '_' or '-'"
	)
	huge := strings.Repeat("9", 1<<20)
	tests := []struct {
		name   string
		modify func(*order)
		want   []string
	}{
		{"valid", func(*order) {}, nil},
		{"valid limits", func(o *order) { o.Items = []Item{{"2147483647", "1", "a"}} }, nil},
		{"several items", func(o *order) {
			o.Items = append(o.Items, Item{"1", "12", "2EZ4RZ"}, Item{"2147483647", "29", "a"})
		}, []string{"fulfillmentData: one item per order: Okta allows one key in fulfillment per user"}},
		{"empty", func(o *order) { *o = order{} }, []string{
			"userId: required",
			"fulfillmentData: at least one item is required (an Item given to Order, BatchOptions.Items, or Config.Defaults)",
		}},
		{"empty item", func(o *order) { o.Items = []Item{{}} }, []string{
			"fulfillmentData[0].productId: required",
			"fulfillmentData[0].inventoryProductId: required",
			"fulfillmentData[0].customizationId: required",
		}},
		{"hostile user id", func(o *order) { o.UserID = "../../admin" }, []string{"userId: " + uid}},
		{"unicode user id", func(o *order) { o.UserID = "00uÜser" }, []string{"userId: " + uid}},
		{"1 MB user id", func(o *order) { o.UserID = huge }, []string{"userId: " + uid}},
		{"bad numbers", func(o *order) {
			o.Items = []Item{
				{"01", "-1", "RXJN83"},
				{"1.0", "+5", "RXJN83"},
				{"٣", " 1", "RXJN83"},
				{"2147483648", huge, "RXJN83"},
				{"0", "1e3", "RXJN83"},
			}
		}, []string{
			"fulfillmentData: one item per order: Okta allows one key in fulfillment per user",
			"fulfillmentData[0].productId: " + numeric,
			"fulfillmentData[0].inventoryProductId: " + numeric,
			"fulfillmentData[1].productId: " + numeric,
			"fulfillmentData[1].inventoryProductId: " + numeric,
			"fulfillmentData[2].productId: " + numeric,
			"fulfillmentData[2].inventoryProductId: " + numeric,
			"fulfillmentData[3].productId: " + numeric,
			"fulfillmentData[3].inventoryProductId: " + numeric,
			"fulfillmentData[4].productId: " + numeric,
			"fulfillmentData[4].inventoryProductId: " + numeric,
		}},
		{"bad customization ids", func(o *order) {
			o.Items = []Item{
				{"1", "1", "RX-N83"},
				{"1", "1", "RXJN83\x00"},
				{"1", "1", strings.Repeat("A", 33)},
				{"1", "1", "ÄÖÜ"},
			}
		}, []string{
			"fulfillmentData: one item per order: Okta allows one key in fulfillment per user",
			"fulfillmentData[0].customizationId: " + cid,
			"fulfillmentData[1].customizationId: " + cid,
			"fulfillmentData[2].customizationId: " + cid,
			"fulfillmentData[3].customizationId: " + cid,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := validOrder()
			tt.modify(&o)
			got := problems(t, validateOrder(o.UserID, o.Items), ErrInvalidOrder)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("problems (-want +got):\n%s", d)
			}
		})
	}
}

func TestOrderErrorText(t *testing.T) {
	t.Parallel()
	o := validOrder()
	o.UserID = "a/b"
	o.Items[0].ProductID = strings.Repeat("x", 100)
	want := `fulfillment: invalid order: userId "a/b": must be 1-64 ASCII letters, digits, '.', '_' or '-'; ` +
		`fulfillmentData[0].productId "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…": must be a positive decimal integer without sign or leading zeros`
	if got := validateOrder(o.UserID, o.Items).Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
}

func TestItemValidate(t *testing.T) {
	t.Parallel()
	if err := (Item{ProductID: "1", InventoryProductID: "106", CustomizationID: "RXJN83"}).Validate(); err != nil {
		t.Errorf("valid item: %v", err)
	}
	got := problems(t, Item{ProductID: "01", CustomizationID: "RX-N83"}.Validate(), ErrInvalidOrder)
	want := []string{
		"productId: must be a positive decimal integer without sign or leading zeros",
		"inventoryProductId: required",
		"customizationId: must be 1-32 ASCII letters or digits",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("problems (-want +got):\n%s", d)
	}
}

func TestParseProductID(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{"1": 1, "29": 29, "106": 106, "2147483647": 2147483647} {
		got, err := parseProductID(in)
		if err != nil || got != want {
			t.Errorf("parseProductID(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "007", "-3", "3 ", "2147483648", "99999999999", "１"} {
		if _, err := parseProductID(in); err == nil {
			t.Errorf("parseProductID(%q) succeeded", in)
		}
	}
}

package fulfillment

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func validOrder() Order {
	return Order{
		UserID:   "00us2hPODQncCkxef0g3",
		Provider: ProviderYubico,
		Items:    []Item{{ProductID: "55", InventoryProductID: "106", CustomizationID: "RXJN83"}},
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
		modify func(*Order)
		want   []string
	}{
		{"valid", func(*Order) {}, nil},
		{"valid several items", func(o *Order) {
			o.Items = append(o.Items, Item{"1", "12", "2EZ4RZ"}, Item{"2147483647", "29", "a"})
		}, nil},
		{"empty", func(o *Order) { *o = Order{} }, []string{
			"userId: required",
			"fulfillmentProvider: required",
			"fulfillmentData: at least one item is required",
		}},
		{"empty item", func(o *Order) { o.Items = []Item{{}} }, []string{
			"fulfillmentData[0].productId: required",
			"fulfillmentData[0].inventoryProductId: required",
			"fulfillmentData[0].customizationId: required",
		}},
		{"wrong provider", func(o *Order) { o.Provider = "Yubico" }, []string{`fulfillmentProvider: must be "yubico"`}},
		{"hostile user id", func(o *Order) { o.UserID = "../../admin" }, []string{"userId: " + uid}},
		{"unicode user id", func(o *Order) { o.UserID = "00uÜser" }, []string{"userId: " + uid}},
		{"1 MB user id", func(o *Order) { o.UserID = huge }, []string{"userId: " + uid}},
		{"bad numbers", func(o *Order) {
			o.Items = []Item{
				{"01", "-1", "RXJN83"},
				{"1.0", "+5", "RXJN83"},
				{"٣", " 1", "RXJN83"},
				{"2147483648", huge, "RXJN83"},
				{"0", "1e3", "RXJN83"},
			}
		}, []string{
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
		{"bad customization ids", func(o *Order) {
			o.Items = []Item{
				{"1", "1", "RX-N83"},
				{"1", "1", "RXJN83\x00"},
				{"1", "1", strings.Repeat("A", 33)},
				{"1", "1", "ÄÖÜ"},
			}
		}, []string{
			"fulfillmentData[0].customizationId: " + cid,
			"fulfillmentData[1].customizationId: " + cid,
			"fulfillmentData[2].customizationId: " + cid,
			"fulfillmentData[3].customizationId: " + cid,
		}},
		{"too many items", func(o *Order) {
			o.Items = make([]Item, MaxOrderItems+1)
		}, []string{"fulfillmentData: at most 16 items"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := validOrder()
			tt.modify(&o)
			got := problems(t, o.Validate(), ErrInvalidOrder)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("problems (-want +got):\n%s", d)
			}
		})
	}
}

func TestOrderErrorText(t *testing.T) {
	t.Parallel()
	o := validOrder()
	o.Provider = "acme"
	o.Items[0].ProductID = strings.Repeat("x", 100)
	want := `fulfillment: invalid order: fulfillmentProvider "acme": must be "yubico"; ` +
		`fulfillmentData[0].productId "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…": must be a positive decimal integer without sign or leading zeros`
	if got := o.Validate().Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
}

func TestParseProductID(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{"1": 1, "29": 29, "106": 106, "2147483647": 2147483647} {
		got, err := ParseProductID(in)
		if err != nil || got != want {
			t.Errorf("ParseProductID(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "007", "-3", "3 ", "2147483648", "99999999999", "１"} {
		if _, err := ParseProductID(in); err == nil {
			t.Errorf("ParseProductID(%q) succeeded", in)
		}
	}
}

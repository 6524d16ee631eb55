package fulfillment

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCheckQuotesValuesAsTyped: the problems of a profile name the values
// as the administrator wrote them, not their normalised forms, while the
// rules are applied to the normalised forms.
func TestCheckQuotesValuesAsTyped(t *testing.T) {
	p := Profile{
		Login: "pat@example.com", Email: "pat@Example.COM", FirstName: "Pat", LastName: "Bad",
		Organization: "Example", PrimaryPhone: "+1 781 555 0142",
		StreetAddress: "  7788   Foxrun Street\n", City: "Dedham", State: " Mass. ", ZipCode: "2026", CountryCode: "us",
		UserStatus: "ACTIVE",
	}
	err := ShippingInfoFromProfile(p).Check()
	var ve *ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidShipping) {
		t.Fatalf("Check = %v, want a *ValidationError wrapping ErrInvalidShipping", err)
	}
	want := []FieldError{
		{Field: "state", Value: " Mass. ", Problem: "must be a two-letter USPS code for US"},
		{Field: "zipCode", Value: "2026", Problem: `not a valid US postal code (like "12345 or 12345-6789")`},
	}
	if diff := cmp.Diff(want, ve.Fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if err := ShippingInfoFromProfile(Profile{Login: "x", Email: "jan@example.com", FirstName: "Jan", LastName: "L",
		Organization: "E", PrimaryPhone: "+17815550142", StreetAddress: "1 Main St", City: "Dedham", State: "ma",
		ZipCode: "02026", CountryCode: "us", UserStatus: "ACTIVE"}).Check(); err != nil {
		t.Errorf("Check of a profile that normalises to valid = %v", err)
	}
}

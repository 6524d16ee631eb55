package fulfillment

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nyaruka/phonenumbers"
)

// phoneResult is what NormalizePhone returned, comparable with cmp.Diff:
// the number, or the primaryPhone field error.
type phoneResult struct {
	E164 string
	Err  *FieldError
}

func normalizePhoneResult(t *testing.T, country, in string) phoneResult {
	t.Helper()
	got, err := NormalizePhone(country, in)
	if err == nil {
		return phoneResult{E164: got}
	}
	var ve *ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidShipping) || len(ve.Fields) != 1 || got != "" {
		t.Fatalf("NormalizePhone(%q, %q) = %q, %T %v; want a *ValidationError with one field", country, in, got, err, err)
	}
	return phoneResult{Err: &ve.Fields[0]}
}

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	ok := func(e164 string) phoneResult { return phoneResult{E164: e164} }
	bad := func(typed, problem string) phoneResult {
		return phoneResult{Err: &FieldError{Field: "primaryPhone", Problem: problem, Value: typed}}
	}
	const syntax = "may contain only digits, spaces, '-', '.', '/', parentheses and a leading '+'"
	const ext = "has an extension; give the number alone (the carrier calls it)"
	tests := []struct {
		country, in string
		want        phoneResult
	}{
		// North America: national, with trunk 1, international prefix 011.
		{"US", "(415) 555-0100", ok("+14155550100")},
		{"US", "1-415-555-0100", ok("+14155550100")},
		{"us", "415.555.0100", ok("+14155550100")},
		{"US", " +1 415 555 0100 ", ok("+14155550100")},
		{"US", "011 49 30 123456", ok("+4930123456")},
		{"US", "415-555-010", bad("415-555-010", "too short for +1 (US)")},
		{"US", "4155550100999", bad("4155550100999", "too long for +1 (US)")},
		{"US", "+1 015 555 0100", bad("+1 015 555 0100", "not a number in use in +1 (US) (no such area code or number range)")},
		{"US", "555 0100", bad("555 0100", "missing the area code: a local number in +1 (US)")},
		{"CA", "604 555 0100", ok("+16045550100")},
		{"CA", "(514) 555-0100", ok("+15145550100")},
		// United Kingdom: trunk 0, the "(0)" of international form.
		{"GB", "020 7946 0958", ok("+442079460958")},
		{"GB", "+44 (0)20 7946 0958", ok("+442079460958")},
		{"GB", "0044 (0)20 7946 0958", ok("+442079460958")},
		{"GB", "07400 123456", ok("+447400123456")},
		{"GB", "07700 900123", bad("07700 900123", "not a number in use in +44 (GB) (no such area code or number range)")}, // Ofcom's drama range
		// Germany: variable-length numbers.
		{"DE", "030 123456", ok("+4930123456")},
		{"DE", "+49 (30) 123456", ok("+4930123456")},
		{"DE", "0151 23456789", ok("+4915123456789")},
		{"DE", "00 1 415 555 0100", ok("+14155550100")},
		{"DE", "+49 30", bad("+49 30", "too short for +49 (DE)")},
		// France: the trunk 0 may be left out.
		{"FR", "01 42 68 53 00", ok("+33142685300")},
		{"FR", "1 42 68 53 00", ok("+33142685300")},
		{"FR", "06 12 34 56 78", ok("+33612345678")},
		{"FR", "+33 1 42", bad("+33 1 42", "too short for +33 (FR)")},
		{"FR", "01 42 68 53 00 1", bad("01 42 68 53 00 1", "too long for +33 (FR)")},
		// Japan: international prefix 010; full-width input.
		{"JP", "03-1234-5678", ok("+81312345678")},
		{"JP", "090-1234-5678", ok("+819012345678")},
		{"JP", "０３－１２３４－５６７８", ok("+81312345678")},
		{"JP", "010 1 415 555 0100", ok("+14155550100")},
		// India, Brazil (two-digit area codes, nine-digit mobiles).
		{"IN", "098765 43210", ok("+919876543210")},
		{"IN", "+91 98765 43210", ok("+919876543210")},
		{"BR", "(11) 91234-5678", ok("+5511912345678")},
		{"BR", "(11) 3123-4567", ok("+551131234567")},
		// Argentina: mobile numbers are written 0 + area code + 15 + number.
		{"AR", "011 15-2345-6789", ok("+5491123456789")},
		{"AR", "+54 9 11 2345-6789", ok("+5491123456789")},
		{"BR", "11 1234 5678", bad("11 1234 5678", "not a number in use in +55 (BR) (no such area code or number range)")},
		// Countries the hand-written table did not know: national form
		// was refused outright.
		{"KE", "0712 345678", ok("+254712345678")},
		{"IS", "611 1234", ok("+3546111234")},
		{"BT", "17 12 34 56", ok("+97517123456")},
		{"FJ", "701 2345", ok("+6797012345")},
		{"MC", "06 12 34 56 78", ok("+377612345678")},
		{"IT", "06 1234 5678", ok("+390612345678")}, // Italy keeps the 0
		{"IT", "+39 06 1234 5678", ok("+390612345678")},
		// A number of another country than countryCode, in international form.
		{"DE", "+44 20 7946 0958", ok("+442079460958")},
		{"JP", "+1 (415) 555-0100", ok("+14155550100")},
		{"FR", "+81 3-1234-5678", ok("+81312345678")},
		{"", "+254 712 345678", ok("+254712345678")},
		{"AQ", "+672 3 12345", ok("+672312345")},     // Antarctica has no plan; Norfolk Island's number
		{"US", "+800 1234 5678", ok("+80012345678")}, // a UIFN freephone number
		// National form without a country to read it by.
		{"", "555 0100", bad("555 0100", "in national form, but countryCode is empty; write it with '+' and the country calling code")},
		{"AQ", "1234 5678", bad("1234 5678", `in national form, but countryCode "AQ" has no numbering plan of its own; write it with '+' and the country calling code`)},
		{"XX", "030 123456", bad("030 123456", `in national form, but countryCode "XX" has no numbering plan of its own; write it with '+' and the country calling code`)},
		// Not phone numbers.
		{"US", "+0 123 4567", bad("+0 123 4567", "has no valid country calling code after the international prefix")},
		{"US", "+999 123 456", bad("+999 123 456", "has no valid country calling code after the international prefix")},
		{"US", "+1234", bad("+1234", "too short for +1 (US)")},
		{"US", "+44", bad("+44", "too short to be a phone number")},
		{"US", "1", bad("1", "too short to be a phone number")},
		{"US", "--", bad("--", "too short to be a phone number")},
		{"US", "  ", bad("  ", "required")},
		{"US", "415 555 0100 ext 3", bad("415 555 0100 ext 3", ext)},
		{"US", "415 555 0100 x3", bad("415 555 0100 x3", ext)},
		{"US", "415 555 0100 #3", bad("415 555 0100 #3", ext)},
		{"US", "call me", bad("call me", syntax)},
		{"US", "+1+415", bad("+1+415", syntax)},
		{"US", "tel:+14155550100", bad("tel:+14155550100", syntax)},
		{"US", "+1 415 555 0100\x00", bad("+1 415 555 0100\x00", "contains control or invisible formatting characters")},
		{"US", "+1 415\u202e555 0100", bad("+1 415\u202e555 0100", "contains control or invisible formatting characters")},
		{"US", strings.Repeat("1", 1<<20), bad(strings.Repeat("1", 32)+"…", "too long to be a phone number (over 64 bytes)")},
		// Separators as word processors and spreadsheets write them.
		{"US", "+1 415\u2013555\u20130100", ok("+14155550100")},
		{"US", "415\u00a0555\u00a00100", ok("+14155550100")},
	}
	for _, tt := range tests {
		got := normalizePhoneResult(t, tt.country, tt.in)
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("NormalizePhone(%q, %.40q) (-want +got):\n%s", tt.country, tt.in, d)
			continue
		}
		if got.E164 == "" {
			continue
		}
		if !isE164(got.E164) {
			t.Errorf("isE164(%q) = false for a normalised number", got.E164)
		}
		for _, country := range []string{tt.country, "", "NZ"} {
			if again, err := NormalizePhone(country, got.E164); again != got.E164 || err != nil {
				t.Errorf("NormalizePhone(%q, %q) = %q, %v; not idempotent", country, got.E164, again, err)
			}
		}
	}
}

// TestNormalizePhoneEveryCountry reads each country's example numbers (from
// libphonenumber's metadata) in national form with the country as
// countryCode, and in international form with another one. The ISO 3166-1
// codes without a numbering plan of their own are listed.
func TestNormalizePhoneEveryCountry(t *testing.T) {
	t.Parallel()
	var noPlan, unreadable []string
	for c := range iso3166 {
		if !phonenumbers.GetSupportedRegions()[c] {
			noPlan = append(noPlan, c)
			continue
		}
		for _, typ := range []phonenumbers.PhoneNumberType{phonenumbers.FIXED_LINE, phonenumbers.MOBILE} {
			ex := phonenumbers.GetExampleNumberForType(c, typ)
			if ex == nil {
				continue
			}
			want := phonenumbers.Format(ex, phonenumbers.E164)
			national := phonenumbers.Format(ex, phonenumbers.NATIONAL)
			if n, err := phonenumbers.Parse(national, c); err != nil || phonenumbers.Format(n, phonenumbers.E164) != want {
				// The port formats a few numbers in a national form it
				// cannot read back; the table above has the real form.
				unreadable = append(unreadable, c+" "+national)
			} else if got, err := NormalizePhone(c, national); got != want || err != nil {
				t.Errorf("%s: NormalizePhone(%q) = %q, %v; want %q", c, national, got, err, want)
			}
			intl := phonenumbers.Format(ex, phonenumbers.INTERNATIONAL)
			if got, err := NormalizePhone("US", intl); got != want || err != nil {
				t.Errorf("%s: NormalizePhone(US, %q) = %q, %v; want %q", c, intl, got, err, want)
			}
		}
	}
	if d := cmp.Diff([]string{"AR 09 15-2345-6789"}, unreadable); d != "" {
		t.Errorf("example numbers whose national form libphonenumber cannot read back (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"AQ", "BV", "GS", "HM", "PN", "TF", "UM"}, slices.Sorted(slices.Values(noPlan))); d != "" {
		t.Errorf("ISO 3166-1 codes without a numbering plan (-want +got):\n%s", d)
	}
}

func TestIsE164(t *testing.T) {
	t.Parallel()
	tests := map[string]bool{
		"+14155550100":      true,
		"+442079460958":     true,
		"+390612345678":     true, // Italian leading zero
		"+80012345678":      true,
		"+1415555010":       false, // too short
		"+10155550100":      false, // no such area code
		"+447700900123":     false, // Ofcom drama range
		"+1 415 555 0100":   false,
		"14155550100":       false,
		"+014155550100":     false,
		"+9991234567":       false,
		"+4930123456789012": false, // 16 digits
		"+":                 false,
		"":                  false,
		"+44":               false,
		"+１4155550100":      false,
	}
	got := map[string]bool{}
	for s := range tests {
		got[s] = isE164(s)
	}
	if d := cmp.Diff(tests, got); d != "" {
		t.Errorf("isE164 (-want +got):\n%s", d)
	}
}

// TestValidatePhoneShowsTyped checks that Validate, after Normalize, names
// primaryPhone and shows the number as typed, and accepts the E.164 form
// of a valid one.
func TestValidatePhoneShowsTyped(t *testing.T) {
	t.Parallel()
	inBerlin := func(p *Profile) { p.CountryCode, p.State, p.ZipCode, p.City = "DE", "", "10115", "Berlin" }
	tests := []struct {
		phone string
		edit  func(*Profile)
		want  []FieldError
	}{
		{"030 12", inBerlin, []FieldError{{Field: "primaryPhone", Problem: "not a number in use in +49 (DE) (no such area code or number range)", Value: "030 12"}}},
		{"(415) 555-010", nil, []FieldError{{Field: "primaryPhone", Problem: "too short for +1 (US)", Value: "(415) 555-010"}}},
		{"+44 7700 900123", nil, []FieldError{{Field: "primaryPhone", Problem: "not a number in use in +44 (GB, GG, IM, JE) (no such area code or number range)", Value: "+44 7700 900123"}}},
		{"(415) 555-0100", nil, nil},
		{"030 123456", inBerlin, nil},
		{"+44 20 7946 0958", inBerlin, nil},
	}
	for _, tt := range tests {
		p := baseProfile()
		p.PrimaryPhone = tt.phone
		if tt.edit != nil {
			tt.edit(&p)
		}
		err := ShippingInfoFromProfile(p).Normalize().Validate()
		var got []FieldError
		if ve, ok := errors.AsType[*ValidationError](err); ok {
			got = ve.Fields
		} else if err != nil {
			t.Fatalf("Validate: %T %v", err, err)
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("%s %q (-want +got):\n%s", p.CountryCode, tt.phone, d)
		}
	}
}

// FuzzNormalizePhone checks NormalizePhone on any input: no panic; a result
// in E.164 that reads back as itself under any countryCode; or one
// primaryPhone error showing the input as given.
func FuzzNormalizePhone(f *testing.F) {
	for _, s := range [][2]string{
		{"US", "(415) 555-0100"}, {"GB", "+44 (0)20 7946 0958"}, {"JP", "０３－１２３４－５６７８"}, {"AR", "011 15-2345-6789"},
		{"IT", "06 1234 5678"}, {"", "+800 1234 5678"}, {"DE", "00 1 415 555 0100"}, {"US", "415 555 0100 ext 3"}, {"RU", "8 (912) 345-67-89"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, country, number string) {
		got, err := NormalizePhone(country, number)
		if err != nil {
			ve, ok := errors.AsType[*ValidationError](err)
			if !ok || got != "" || len(ve.Fields) != 1 || ve.Fields[0].Field != "primaryPhone" ||
				ve.Fields[0].Value != truncateValue(number) || ve.Fields[0].Problem == "" {
				t.Fatalf("NormalizePhone(%q, %q) = %q, %#v", country, number, got, err)
			}
			return
		}
		if !isE164(got) {
			t.Fatalf("NormalizePhone(%q, %q) = %q, not E.164", country, number, got)
		}
		for _, c := range []string{country, "", "US"} {
			if again, err := NormalizePhone(c, got); again != got || err != nil {
				t.Fatalf("NormalizePhone(%q, %q) = %q, %v; want it unchanged", c, got, again, err)
			}
		}
	})
}

// BenchmarkNormalizePhone: a number in national form takes libphonenumber's
// parser; one already in E.164 (as Okta profiles usually hold it) only the
// metadata check.
func BenchmarkNormalizePhone(b *testing.B) {
	for _, bc := range []struct{ name, country, number string }{
		{"national", "FR", "01 42 68 53 00"},
		{"e164", "FR", "+33142685300"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := NormalizePhone(bc.country, bc.number); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package fulfillment

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/okta"
)

// baseProfile is a valid, normalised US profile of a STAGED user.
func baseProfile() Profile {
	return Profile{
		Login:         "jan.lindberg@example.com",
		Email:         "jan.lindberg@example.com",
		SecondEmail:   "jan.home@example.net",
		FirstName:     "Jan",
		LastName:      "Lindberg",
		PrimaryPhone:  "+17815550142",
		StreetAddress: "7788 Foxrun Street",
		City:          "Dedham",
		State:         "MA",
		ZipCode:       "02026",
		CountryCode:   "US",
		Organization:  "Example Inc.",
		UserStatus:    "STAGED",
	}
}

func info(modify func(*Profile)) ShippingInfo {
	p := baseProfile()
	if modify != nil {
		modify(&p)
	}
	return ShippingInfoFromProfile(p)
}

// abroad returns a change of the test profile to an address in country cc,
// with its state, postal code and phone; an empty city keeps the
// profile's.
func abroad(cc, state, zip, city, phone string) func(*Profile) {
	return func(p *Profile) {
		p.CountryCode, p.State, p.ZipCode, p.PrimaryPhone = cc, state, zip, phone
		if city != "" {
			p.City = city
		}
	}
}

func TestValidateValidAddresses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mod  func(*Profile)
	}{
		{"US", nil},
		{"US ZIP+4", func(p *Profile) { p.ZipCode = "02026-1234" }},
		{"US territory", func(p *Profile) { p.State, p.ZipCode = "PR", "00901" }},
		{"US military", func(p *Profile) { p.City, p.State, p.ZipCode = "APO", "AE", "09012" }},
		{"CA", abroad("CA", "QC", "H3Z 2Y7", "Montréal", "+15145550100")},
		{"GB", abroad("GB", "", "SW1A 2AA", "London", "+442079460958")},
		{"GB GIR", abroad("GB", "", "GIR 0AA", "", "+442079460958")},
		{"DE", abroad("DE", "Berlin", "10115", "Berlin", "+4930123456")},
		{"FR", abroad("FR", "", "75008", "", "+33142685300")},
		{"NL", abroad("NL", "", "1012 AB", "", "+31201234567")},
		{"SE", abroad("SE", "", "111 51", "", "+46812345678")},
		{"AU", abroad("AU", "NSW", "2000", "", "+61291234567")},
		{"JP", abroad("JP", "東京都", "100-0001", "千代田区", "+81312345678")},
		{"IN", abroad("IN", "DL", "110001", "", "+919876543210")},
		{"BR generic", abroad("BR", "SP", "01310-100", "", "+5511912345678")},
		{"unlisted calling code", abroad("KE", "", "00100", "", "+254712345678")},
		{"ACTIVE user without second email", func(p *Profile) { p.UserStatus, p.SecondEmail = "ACTIVE", "" }},
		{"two street lines", func(p *Profile) { p.StreetAddress = "7788 Foxrun Street\nApt 2" }},
		{"multibyte within limits", func(p *Profile) { p.FirstName, p.LastName = "Zoë-Åsa", "Ñúñez Çelik" }},
		{"joiner in name", func(p *Profile) { p.FirstName = "Pri\u200dya" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := info(tt.mod)
			if err := s.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if d := cmp.Diff(s, s.Normalize()); d != "" {
				t.Errorf("a valid info is not a fixed point of Normalize (-in +out):\n%s", d)
			}
		})
	}
}

func TestValidateProblems(t *testing.T) {
	t.Parallel()
	mb := strings.Repeat("a", 1<<20)
	tests := []struct {
		name string
		mod  func(*Profile)
		want []string
	}{
		{"everything empty", func(p *Profile) { *p = Profile{UserStatus: "STAGED"} }, []string{
			"firstName: required", "lastName: required", "organization: required", "email: required",
			"secondEmail: required", "primaryPhone: required", "streetAddress: required", "city: required",
			"zipCode: required", "countryCode: required",
		}},
		{"second email required for staged", func(p *Profile) { p.SecondEmail = "" }, []string{"secondEmail: required"}},
		{"second email required for active never signed in", func(p *Profile) {
			p.UserStatus, p.NeverSignedIn, p.SecondEmail = "ACTIVE", true, ""
		}, []string{"secondEmail: required"}},
		{"second email checked when given", func(p *Profile) { p.UserStatus, p.SecondEmail = "ACTIVE", "nope" },
			[]string{"secondEmail: not a valid email address"}},
		{"bad emails", func(p *Profile) { p.Email, p.SecondEmail = "Jan <jan@example.com>", "jan@localhost" }, []string{
			"email: not a valid email address", "secondEmail: email domain needs a dot",
		}},
		{"email domain case", func(p *Profile) { p.Email = "jan@Example.COM" },
			[]string{`email: not normalised (Normalize gives "jan@example.com")`}},
		{"email domain label", func(p *Profile) { p.Email = "jan@-example.com" }, []string{"email: email domain is malformed"}},
		{"email too long", func(p *Profile) { p.Email = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 20) + ".com" },
			[]string{"email: longer than 80 bytes (89)"}},
		{"US without state", func(p *Profile) { p.State = "" }, []string{"state: required"}},
		{"US bad state", func(p *Profile) { p.State = "XX" }, []string{"state: must be a two-letter USPS code for US"}},
		{"US lower-case state", func(p *Profile) { p.State = "ma" }, []string{`state: not normalised (Normalize gives "MA")`}},
		{"US state spelled out", func(p *Profile) { p.State = "Massachusetts" }, []string{"state: must be a two-letter USPS code for US"}},
		{"CA province from US list", func(p *Profile) {
			p.CountryCode, p.State, p.ZipCode = "CA", "NY", "K1A 0B1"
		}, []string{"state: must be a two-letter USPS code for CA"}},
		{"military city", func(p *Profile) { p.State, p.ZipCode = "AP", "96201" }, []string{"city: must be APO, FPO or DPO for military region AP"}},
		{"country lower case", func(p *Profile) { p.CountryCode = "us" }, []string{`countryCode: not normalised (Normalize gives "US")`}},
		{"country UK", func(p *Profile) { p.CountryCode, p.State, p.ZipCode = "UK", "", "SW1A 2AA" }, []string{
			`countryCode: not an ISO 3166-1 alpha-2 code; use "GB"`,
		}},
		{"country unassigned", func(p *Profile) { p.CountryCode, p.State = "ZZ", "" }, []string{"countryCode: not an assigned ISO 3166-1 alpha-2 code"}},
		{"country alpha-3", func(p *Profile) { p.CountryCode, p.State = "USA", "" }, []string{"countryCode: not an assigned ISO 3166-1 alpha-2 code"}},
		{"US zip", func(p *Profile) { p.ZipCode = "2026" }, []string{`zipCode: not a valid US postal code (like "12345 or 12345-6789")`}},
		{"US zip not normalised", func(p *Profile) { p.ZipCode = "020261234" }, []string{`zipCode: not normalised (Normalize gives "02026-1234")`}},
		{"CA postal letters", func(p *Profile) { p.CountryCode, p.State, p.ZipCode = "CA", "ON", "D1A 0B1" }, []string{
			`zipCode: not a valid CA postal code (like "K1A 0B1")`,
		}},
		{"CA postal in another province", func(p *Profile) { p.CountryCode, p.State, p.ZipCode = "CA", "QC", "K1A 0B1" }, []string{
			"zipCode: a postal code starting with K is not in QC",
		}},
		{"CA postal territory shared letter", func(p *Profile) { p.CountryCode, p.State, p.ZipCode = "CA", "NU", "X0A 0H0" }, nil},
		{"GB postal", func(p *Profile) { p.CountryCode, p.State, p.ZipCode = "GB", "", "SW1A2AAA" }, []string{
			`zipCode: not a valid GB postal code (like "SW1A 1AA")`,
		}},
		{"NL postal SA", func(p *Profile) { p.CountryCode, p.State, p.ZipCode = "NL", "", "1012 SA" }, []string{
			`zipCode: not a valid NL postal code (like "1012 AB")`,
		}},
		{"JP postal", func(p *Profile) { p.CountryCode, p.State, p.ZipCode = "JP", "", "1000001" }, []string{
			`zipCode: not normalised (Normalize gives "100-0001")`,
		}},
		{"IN postal leading 0", func(p *Profile) { p.CountryCode, p.State, p.ZipCode = "IN", "", "010001" }, []string{
			`zipCode: not a valid IN postal code (like "110001")`,
		}},
		{"generic postal", func(p *Profile) { p.CountryCode, p.State, p.ZipCode = "BR", "", "#1" }, []string{
			"zipCode: not a valid postal code: 2-10 letters, digits, spaces or dashes",
		}},
		{"phone national", func(p *Profile) { p.PrimaryPhone = "(781) 555-0142" }, []string{
			`primaryPhone: not in E.164 form (Normalize gives "+17815550142")`,
		}},
		{"phone letters", func(p *Profile) { p.PrimaryPhone = "call me" }, []string{
			"primaryPhone: may contain only digits, spaces, '-', '.', '/', parentheses and a leading '+'",
		}},
		{"phone NANP exchange", func(p *Profile) { p.PrimaryPhone = "+17810550142" }, []string{
			"primaryPhone: not a number in use in +1 (US) (no such area code or number range)",
		}},
		{"phone too short", func(p *Profile) { p.PrimaryPhone = "+4930" }, []string{"primaryPhone: too short for +49 (DE)"}},
		{"name lengths in bytes", func(p *Profile) {
			p.FirstName = "Ééééééééé"                // 9 runes, 18 bytes
			p.LastName = strings.Repeat("ü", 11)     // 22 bytes
			p.Organization = strings.Repeat("Ω", 11) // 22 bytes
		}, []string{
			"firstName: longer than 15 bytes (18)", "lastName: longer than 20 bytes (22)", "organization: longer than 20 bytes (22)",
		}},
		{"street lines", func(p *Profile) { p.StreetAddress = strings.Repeat("x", 61) }, []string{
			"streetAddress: first line is longer than 60 bytes",
		}},
		{"street combined", func(p *Profile) {
			p.StreetAddress = strings.Repeat("x", 60) + "\n" + strings.Repeat("y", 60) + "\nz"
		}, []string{"streetAddress: second line is longer than 60 bytes"}},
		{"street punctuation only", func(p *Profile) { p.StreetAddress = "--" }, []string{"streetAddress: must contain a letter or digit"}},
		{"city too long", func(p *Profile) { p.City = strings.Repeat("é", 31) }, []string{"city: longer than 60 bytes (62)"}},
		{"region too long elsewhere", func(p *Profile) { p.CountryCode, p.State, p.ZipCode = "DE", strings.Repeat("r", 51), "10115" }, []string{
			"state: longer than 50 bytes (51)",
		}},
		{"control characters", func(p *Profile) {
			p.FirstName = "Jan\x00"
			p.LastName = "Lind\x1b[31mberg"
			p.City = "Ded\u202eham" // right-to-left override
			p.Organization = "Ex\tample"
		}, []string{
			"firstName: contains control or invisible formatting characters",
			"lastName: contains control or invisible formatting characters",
			"organization: contains control or invisible formatting characters",
			"city: contains control or invisible formatting characters",
		}},
		{"invalid UTF-8", func(p *Profile) { p.FirstName, p.City = "J\xffan", "\xc3" }, []string{
			"firstName: invalid UTF-8", "city: invalid UTF-8",
		}},
		{"replacement character", func(p *Profile) { p.LastName = "Lind\uFFFDberg" }, []string{
			"lastName: contains control or invisible formatting characters",
		}},
		{"not normalised whitespace", func(p *Profile) { p.FirstName, p.City = " Jan", "Ded  ham" }, []string{
			"firstName: not normalised (extra whitespace or not NFC)", "city: not normalised (extra whitespace or not NFC)",
		}},
		{"not NFC", func(p *Profile) { p.FirstName = "Zoe\u0308" }, []string{"firstName: not normalised (extra whitespace or not NFC)"}},
		{"no letters", func(p *Profile) { p.FirstName, p.LastName, p.City = "123", "!!!", "42" }, []string{
			"firstName: must contain a letter", "lastName: must contain a letter", "city: must contain a letter",
		}},
		{"1 MB everywhere", func(p *Profile) {
			p.FirstName, p.LastName, p.Organization, p.Email, p.SecondEmail = mb, mb, mb, mb, mb
			p.PrimaryPhone, p.StreetAddress, p.City, p.State, p.ZipCode, p.CountryCode = mb, mb, mb, mb, mb, mb
		}, []string{
			"firstName: longer than 15 bytes (1048576)", "lastName: longer than 20 bytes (1048576)",
			"organization: longer than 20 bytes (1048576)", "email: longer than 80 bytes (1048576)",
			"secondEmail: longer than 80 bytes (1048576)", "primaryPhone: longer than 40 bytes (1048576)",
			"streetAddress: longer than 180 bytes (1048576)", "city: longer than 60 bytes (1048576)", "state: longer than 50 bytes (1048576)",
			"zipCode: longer than 20 bytes (1048576)", "countryCode: longer than 8 bytes (1048576)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := problems(t, info(tt.mod).Validate(), ErrInvalidShipping)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("problems (-want +got):\n%s", d)
			}
		})
	}
}

func TestValidationErrorReport(t *testing.T) {
	t.Parallel()
	s := info(func(p *Profile) {
		p.ZipCode = "1"
		p.FirstName = strings.Repeat("\x00", 40)
	})
	err := s.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("not a *ValidationError: %v", err)
	}
	f, ok := ve.Field("firstName")
	if !ok || f.Value != strings.Repeat("\x00", 32)+"…" {
		t.Errorf("firstName value = %q, want 32 NULs and an ellipsis", f.Value)
	}
	want := `fulfillment: invalid shipping info: firstName "` + strings.Repeat(`\x00`, 32) + `…": contains control or invisible formatting characters; ` +
		`zipCode "1": not a valid US postal code (like "12345 or 12345-6789")`
	if err.Error() != want {
		t.Errorf("Error() =\n%s\nwant\n%s", err, want)
	}
	if _, ok := ve.Field("city"); ok {
		t.Error("Field reports a problem for a good field")
	}
	if !errors.Is(err, ErrInvalidShipping) || errors.Is(err, ErrInvalidOrder) {
		t.Error("wrong sentinel")
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	in := ShippingInfo{
		FirstName:   "  Zoe\u0308\t Ann ",
		LastName:    "O'Brien\u00a0 Smith",
		Company:     "Example\n\nInc.",
		Email:       " Jan.Lindberg@EXAMPLE.Com ",
		SecondEmail: "",
		Phone:       " (781) 555-0142 ",
		StreetLine1: "",
		StreetLine2: " 7788   Foxrun Street ",
		City:        "Dedham ",
		Region:      " ma",
		PostalCode:  "020261234",
		CountryCode: " us ",
		UserStatus:  "staged",
	}
	want := ShippingInfo{
		FirstName:   "Zoë Ann",
		LastName:    "O'Brien Smith",
		Company:     "Example Inc.",
		Email:       "Jan.Lindberg@example.com",
		Phone:       "+17815550142",
		StreetLine1: "7788 Foxrun Street",
		City:        "Dedham",
		Region:      "MA",
		PostalCode:  "02026-1234",
		CountryCode: "US",
		UserStatus:  "STAGED",
	}
	got := in.Normalize()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Normalize (-want +got):\n%s", d)
	}
	if d := cmp.Diff(got, got.Normalize()); d != "" {
		t.Errorf("Normalize not idempotent (-once +twice):\n%s", d)
	}
}

func TestNormalizeThenValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   Profile
	}{
		{"CA", Profile{FirstName: "María", LastName: "García", Organization: "Example Canada", Email: "maria@example.com",
			PrimaryPhone: "416.555.0199", StreetAddress: "100 Queen St W\r\nSuite 200", City: "Toronto", State: "on",
			ZipCode: "m5h2n2", CountryCode: "ca", UserStatus: "ACTIVE"}},
		{"GB", Profile{FirstName: "Oliver", LastName: "Smith", Organization: "Example Ltd", Email: "o@example.co.uk",
			SecondEmail: "o@example.net", PrimaryPhone: "+44 (0)20 7946 0958", StreetAddress: "10 Downing Street",
			City: "London", ZipCode: "sw1a2aa", CountryCode: "gb", UserStatus: "staged"}},
		{"DE national phone", Profile{FirstName: "Jürgen", LastName: "Groß", Organization: "Beispiel GmbH", Email: "j@example.de",
			PrimaryPhone: "030 / 123456", StreetAddress: "Unter den Linden 1", City: "Berlin", ZipCode: "10 117", CountryCode: "DE"}},
		{"NL", Profile{FirstName: "Sanne", LastName: "de Vries", Organization: "Voorbeeld BV", Email: "s@example.nl",
			PrimaryPhone: "0031 20 123 4567", StreetAddress: "Dam 1", City: "Amsterdam", ZipCode: "1012jS", CountryCode: "NL"}},
		{"SE", Profile{FirstName: "Lars", LastName: "Nilsson", Organization: "Example AB", Email: "l@example.se",
			PrimaryPhone: "08-123 456 78", StreetAddress: "Drottninggatan 1", City: "Stockholm", ZipCode: "11151", CountryCode: "SE"}},
		{"JP", Profile{FirstName: "Hiro", LastName: "Tanaka", Organization: "Example KK", Email: "h@example.jp",
			PrimaryPhone: "03-1234-5678", StreetAddress: "1-1 Chiyoda", City: "Tokyo", ZipCode: "1000001", CountryCode: "JP"}},
		{"IN", Profile{FirstName: "Priya", LastName: "Sharma", Organization: "Example Pvt Ltd", Email: "p@example.in",
			PrimaryPhone: "098765 43210", StreetAddress: "12 Janpath", City: "New Delhi", State: "DL", ZipCode: "110 001", CountryCode: "IN"}},
		{"AU", Profile{FirstName: "Jack", LastName: "Wilson", Organization: "Example Pty", Email: "j@example.com.au",
			PrimaryPhone: "(02) 9123 4567", StreetAddress: "1 Macquarie St", City: "Sydney", State: "NSW", ZipCode: "2000", CountryCode: "AU"}},
		{"US 011", Profile{FirstName: "Amy", LastName: "Ng", Organization: "Example", Email: "a@example.com",
			PrimaryPhone: "011 44 20 7946 0958", StreetAddress: "1 Main St", City: "Boston", State: "ma", ZipCode: "02108", CountryCode: "US"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := ShippingInfoFromProfile(tt.in).Normalize()
			if err := n.Validate(); err != nil {
				t.Errorf("Validate after Normalize: %v\n%+v", err, n)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	s := ShippingInfo{
		FirstName:   "Maximilianus",            // 12 bytes → 10
		LastName:    "Ñúñez-Çelik-Åberg",       // multibyte; cut on a rune boundary
		Company:     "Example Co Ltd Holdings", // the space at the cut is dropped
		StreetLine1: strings.Repeat("s", 70),   // never truncated
		Email:       strings.Repeat("e", 90) + "@example.com",
	}
	got := s.Truncate()
	want := s
	want.FirstName = "Maximilian"
	want.LastName = "Ñúñez-Çelik"
	want.Company = "Example Co Ltd"
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Truncate (-want +got):\n%s", d)
	}
	for _, v := range []string{got.FirstName, got.LastName, got.Company} {
		if !utf8.ValidString(v) {
			t.Errorf("Truncate produced invalid UTF-8 %q", v)
		}
	}
	if err := s.Validate(); err == nil {
		t.Error("Validate accepted over-long names; it must never truncate by itself")
	}
	if _, ok := info(func(p *Profile) { p.FirstName = "Maximilianus-Alexander" }).Truncate().Validate().(*ValidationError); ok {
		t.Error("a truncated long name still fails validation")
	}
}

func TestRecipientEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status okta.UserStatus
		never  bool
		want   string
	}{
		{"STAGED", false, "home@example.net"},
		{"staged", false, "home@example.net"},
		{" Staged ", true, "home@example.net"},
		{"ACTIVE", true, "work@example.com"},
		{"PROVISIONED", true, "work@example.com"},
		{"ACTIVE", false, "work@example.com"},
		{"SUSPENDED", true, "work@example.com"},
		{"", false, "work@example.com"},
	}
	for _, tt := range tests {
		s := ShippingInfo{Email: "work@example.com", SecondEmail: "home@example.net", UserStatus: tt.status, NeverSignedIn: tt.never}
		if got := s.RecipientEmail(); got != tt.want {
			t.Errorf("RecipientEmail(%s, never=%v) = %q, want %q", tt.status, tt.never, got, tt.want)
		}
	}
}

func TestPostalCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		country, in, want string
		valid             bool
	}{
		{"US", "12345", "12345", true},
		{"US", " 12345-6789 ", "12345-6789", true},
		{"US", "123456789", "12345-6789", true},
		{"US", "1234", "1234", false},
		{"US", "12345-678", "12345-678", false},
		{"CA", "k1a0b1", "K1A 0B1", true},
		{"CA", "K1A-0B1", "K1A 0B1", true},
		{"CA", "W1A 0B1", "W1A 0B1", false},
		{"GB", "ec1a1bb", "EC1A 1BB", true},
		{"GB", "M1 1AE", "M1 1AE", true},
		{"GB", "B33 8TH", "B33 8TH", true},
		{"GB", "CR2 6XH", "CR2 6XH", true},
		{"GB", "DN55 1PT", "DN55 1PT", true},
		{"GB", "QA1 1AA", "QA1 1AA", false},
		{"DE", "01067", "01067", true},
		{"DE", "1067", "1067", false},
		{"FR", "75 008", "75008", true},
		{"NL", "1012ab", "1012 AB", true},
		{"NL", "0123 AB", "0123 AB", false},
		{"NL", "1012 SS", "1012 SS", false},
		{"SE", "11455", "114 55", true},
		{"SE", "011 55", "011 55", false},
		{"AU", "0800", "0800", true},
		{"AU", "80000", "80000", false},
		{"JP", "100 0001", "100-0001", true},
		{"IN", "560 001", "560001", true},
		{"BR", "01310-100", "01310-100", true},
		{"IE", "d02 x285", "D02 X285", true},
		{"BR", "x", "X", false},
		{"BR", "-123", "-123", false},
		{"BR", "12345678901", "12345678901", false},
		{"US", "１２３４５", "１２３４５", false},
		{"US", "12345\xff", "12345\xff", false},
	}
	for _, tt := range tests {
		got := normalizePostal(tt.country, tt.in)
		valid := checkPostal(tt.country, got) == ""
		if got != tt.want || valid != tt.valid {
			t.Errorf("postal %s %q → %q valid=%v; want %q valid=%v", tt.country, tt.in, got, valid, tt.want, tt.valid)
		}
		if again := normalizePostal(tt.country, got); again != got {
			t.Errorf("normalizePostal not idempotent: %q → %q", got, again)
		}
	}
}

func TestCountryCodes(t *testing.T) {
	t.Parallel()
	if len(iso3166) != 249 {
		t.Errorf("ISO 3166-1 list has %d codes, want 249", len(iso3166))
	}
	for _, c := range []string{"US", "GB", "AX", "BQ", "CW", "SS", "SX", "XK", "UK", "EU", "us", "", "USA"} {
		want := map[string]bool{"US": true, "GB": true, "AX": true, "BQ": true, "CW": true, "SS": true, "SX": true}[c]
		if got := isCountryCode(c); got != want {
			t.Errorf("isCountryCode(%q) = %v, want %v", c, got, want)
		}
	}
	if len(usRegions) != 50+1+8+3 || len(caRegions) != 13 {
		t.Errorf("region lists: %d US, %d CA; want 62 and 13", len(usRegions), len(caRegions))
	}
}

func BenchmarkNormalizeValidate(b *testing.B) {
	s := ShippingInfoFromProfile(Profile{FirstName: " Amélie ", LastName: "Dubois", Organization: "Example SAS",
		Email: "a@Example.fr", SecondEmail: "b@example.fr", PrimaryPhone: "01 42 68 53 00", StreetAddress: "8 rue de l'Élysée",
		City: "Paris", ZipCode: "75 008", CountryCode: "fr", UserStatus: "STAGED"})
	for b.Loop() {
		if err := s.Normalize().Validate(); err != nil {
			b.Fatal(err)
		}
	}
}

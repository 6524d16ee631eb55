package fulfillment

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode"

	"github.com/preenroll/preenroll/okta"
)

// ErrInvalidShipping is wrapped by the *ValidationError that
// [ShippingInfo.Validate] returns.
var ErrInvalidShipping = errors.New("fulfillment: invalid shipping info")

// Yubico's field length limits, counted in bytes of UTF-8 (the newest
// published set, docs/yubico.md §Shipment request: Yubico's 2023-12/2024 FIDO
// Pre-reg guide per field, and the current API doc's combined limit of 120
// for street_line1 plus street_line2). Yubico warns that non-ASCII
// characters count for more than one, so bytes are the safe measure.
const (
	maxFirstNameBytes  = 15  // recipient_firstname
	maxLastNameBytes   = 20  // recipient_lastname
	maxCompanyBytes    = 20  // recipient_company
	maxStreetLineBytes = 60  // street_line1, street_line2 each
	maxStreetBytes     = 120 // street_line1 + street_line2
	maxCityBytes       = 60  // city
	maxRegionBytes     = 50  // region
	maxPostalCodeBytes = 20  // postal_code
	maxEmailBytes      = 80  // recipient_email (applied to both emails)
	maxPhoneBytes      = 40  // recipient_telephone
)

// The lengths the Okta Workflows template cuts names to before it creates a
// shipment (docs/okta.md §The Okta Workflows template); [ShippingInfo.Truncate] applies
// them, counted in bytes.
const (
	truncFirstNameBytes = 10
	truncLastNameBytes  = 15
	truncCompanyBytes   = 15
)

// ShippingInfo is the recipient and address of a FIDO Pre-reg shipment,
// built from a Profile by [ShippingInfoFromProfile]. The comments name the
// Yubico field each value goes to and the Okta attribute it comes from;
// errors name the Okta attribute, because that is what an administrator
// fixes.
type ShippingInfo struct {
	FirstName   string `json:"firstName"`    // recipient_firstname ← firstName
	LastName    string `json:"lastName"`     // recipient_lastname ← lastName
	Company     string `json:"organization"` // recipient_company ← organization
	Email       string `json:"email"`        // primary email
	SecondEmail string `json:"secondEmail"`  // where the PIN goes for new users
	Phone       string `json:"primaryPhone"` // recipient_telephone ← primaryPhone (E.164)
	StreetLine1 string `json:"streetLine1"`  // street_line1 ← first line of streetAddress
	StreetLine2 string `json:"streetLine2"`  // street_line2 ← further lines of streetAddress
	City        string `json:"city"`         // city
	Region      string `json:"state"`        // region ← state (USPS code for US/CA)
	PostalCode  string `json:"zipCode"`      // postal_code ← zipCode
	CountryCode string `json:"countryCode"`  // country_code_2 ← countryCode

	UserStatus    okta.UserStatus `json:"userStatus,omitempty"`    // Okta user status, as in Profile
	NeverSignedIn bool            `json:"neverSignedIn,omitempty"` // as in Profile
}

// ShippingInfoFromProfile maps p onto a ShippingInfo. It does not change
// the values except to split the street address: the first non-empty line
// becomes StreetLine1 and any further lines, joined by ", ", StreetLine2.
// Call [ShippingInfo.Normalize] and then [ShippingInfo.Validate].
func ShippingInfoFromProfile(p Profile) ShippingInfo {
	l1, l2 := splitStreet(p.StreetAddress)
	return ShippingInfo{
		FirstName:     p.FirstName,
		LastName:      p.LastName,
		Company:       p.Organization,
		Email:         p.Email,
		SecondEmail:   p.SecondEmail,
		Phone:         p.PrimaryPhone,
		StreetLine1:   l1,
		StreetLine2:   l2,
		City:          p.City,
		Region:        p.State,
		PostalCode:    p.ZipCode,
		CountryCode:   p.CountryCode,
		UserStatus:    p.UserStatus,
		NeverSignedIn: p.NeverSignedIn,
	}
}

func splitStreet(s string) (line1, line2 string) {
	var lines []string
	for l := range strings.SplitSeq(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	switch len(lines) {
	case 0:
		return "", ""
	case 1:
		return lines[0], ""
	}
	return lines[0], strings.Join(lines[1:], ", ")
}

// SecondEmailRequired reports whether the user needs a secondary email: a
// STAGED user, or an ACTIVE or PROVISIONED user who never signed in, cannot
// read the primary mailbox the PIN would otherwise go to.
func (s ShippingInfo) SecondEmailRequired() bool {
	switch canonicalUserStatus(s.UserStatus) {
	case okta.UserStaged:
		return true
	case okta.UserActive, okta.UserProvisioned:
		return s.NeverSignedIn
	}
	return false
}

// canonicalUserStatus returns st upper-cased and trimmed, so that a status
// typed by hand ("staged ") compares equal to Okta's constants.
func canonicalUserStatus(st okta.UserStatus) okta.UserStatus {
	return okta.UserStatus(strings.ToUpper(strings.TrimSpace(string(st))))
}

// RecipientEmail is the address Yubico sends shipment and tracking mail
// to: the secondary email for a STAGED user, otherwise the primary one. This
// is the Okta Workflows template's rule (docs/okta.md §The Okta Workflows template) and
// the address Okta's send-pin mails the PIN to, so the user gets both at
// one address. An ACTIVE user who never signed in must still have a
// secondary email on file ([ShippingInfo.SecondEmailRequired]) so that an
// administrator can reach them, but their mail goes to the primary address
// like every other activated user's.
func (s ShippingInfo) RecipientEmail() string {
	if canonicalUserStatus(s.UserStatus) == okta.UserStaged {
		return s.SecondEmail
	}
	return s.Email
}

// Normalize returns s with every value in canonical form: Unicode NFC,
// surrounding whitespace trimmed and inner runs of whitespace collapsed to
// one space; country code (and for US and Canada the region) upper-cased;
// the email domain lower-cased; the postal code in its country's format
// ("sw1a1aa" → "SW1A 1AA"); the phone in E.164 when it can be read
// ("(415) 555-0100" in the US → "+14155550100"). A lone second street line
// moves up to the first. Values it cannot make valid are left for
// [ShippingInfo.Validate] to report; invalid UTF-8 and control characters
// are kept so that Validate sees them. Normalize is idempotent:
// s.Normalize().Normalize() == s.Normalize().
func (s ShippingInfo) Normalize() ShippingInfo {
	n := s
	n.FirstName = cleanText(s.FirstName)
	n.LastName = cleanText(s.LastName)
	n.Company = cleanText(s.Company)
	n.Email = normalizeEmail(s.Email)
	n.SecondEmail = normalizeEmail(s.SecondEmail)
	n.StreetLine1 = cleanText(s.StreetLine1)
	n.StreetLine2 = cleanText(s.StreetLine2)
	if n.StreetLine1 == "" {
		n.StreetLine1, n.StreetLine2 = n.StreetLine2, ""
	}
	n.City = cleanText(s.City)
	n.CountryCode = upperASCII(collapseSpace(s.CountryCode))
	n.Region = cleanText(s.Region)
	if regionRequired(n.CountryCode) {
		n.Region = upperASCII(n.Region)
	}
	n.PostalCode = normalizePostal(n.CountryCode, s.PostalCode)
	n.Phone = collapseSpace(s.Phone)
	if p, err := NormalizePhone(n.CountryCode, n.Phone); err == nil {
		n.Phone = p
	}
	n.UserStatus = okta.UserStatus(upperASCII(collapseSpace(string(s.UserStatus))))
	return n
}

// Truncate returns s with the first name, last name and organization cut
// to the lengths the Okta Workflows template uses (10, 15 and 15 bytes, on
// a character boundary, trailing spaces dropped). Nothing else is ever
// truncated: a cut address or email would send the key or the PIN to the
// wrong place. Validate never truncates; call Truncate only when shortening
// names is acceptable.
func (s ShippingInfo) Truncate() ShippingInfo {
	s.FirstName = truncateBytes(s.FirstName, truncFirstNameBytes)
	s.LastName = truncateBytes(s.LastName, truncLastNameBytes)
	s.Company = truncateBytes(s.Company, truncCompanyBytes)
	return s
}

// Validate checks s as it would be sent to Yubico and returns nil or a
// *ValidationError (wrapping ErrInvalidShipping) with one FieldError per
// bad field, all at once. Fields are named by Okta attribute. The rules:
//   - firstName, lastName, organization, email, primaryPhone,
//     streetAddress, city, zipCode and countryCode are required;
//     secondEmail is required when [ShippingInfo.SecondEmailRequired];
//   - every value is valid UTF-8, without control or invisible formatting
//     characters, within Yubico's byte limits (first name 15, last name
//     20, organization 20, each street line 60 and both together 120,
//     city 60, state 50, zip code 20, each email 80, phone 40),
//     and normalised (see [ShippingInfo.Normalize]);
//   - countryCode is an assigned ISO 3166-1 alpha-2 code;
//   - state is a USPS two-letter code for the US (states, DC, territories,
//     AA/AE/AP, whose city must be APO, FPO or DPO) and Canada;
//   - zipCode matches the country's format (exact for US, CA, GB, DE, FR,
//     NL, SE, AU, JP, IN; 2–10 letters, digits, spaces or dashes elsewhere);
//     a Canadian code's first letter agrees with the province;
//   - primaryPhone is a number its country's numbering plan assigns, in
//     E.164 form (see [NormalizePhone]);
//   - emails are plain addresses (net/mail) with a dotted domain.
func (s ShippingInfo) Validate() error {
	var v validator
	v.text("firstName", s.FirstName, true, maxFirstNameBytes, needLetter)
	v.text("lastName", s.LastName, true, maxLastNameBytes, needLetter)
	v.text("organization", s.Company, true, maxCompanyBytes, needLetterOrDigit)
	v.text("email", s.Email, true, maxEmailBytes, checkEmail)
	v.text("secondEmail", s.SecondEmail, s.SecondEmailRequired(), maxEmailBytes, checkEmail)
	country := s.CountryCode
	v.text("primaryPhone", s.Phone, true, maxPhoneBytes, func(p string) string { return checkPhone(country, p) })
	street := s.StreetLine1
	if s.StreetLine2 != "" {
		street += "\n" + s.StreetLine2
	}
	v.text("streetAddress", street, true, maxStreetLineBytes*3, func(string) string {
		switch {
		case s.StreetLine1 == "" && s.StreetLine2 != "":
			return "first line is empty; not normalised"
		case len(s.StreetLine1) > maxStreetLineBytes:
			return fmt.Sprintf("first line is longer than %d bytes", maxStreetLineBytes)
		case len(s.StreetLine2) > maxStreetLineBytes:
			return fmt.Sprintf("second line is longer than %d bytes", maxStreetLineBytes)
		case len(s.StreetLine1)+len(s.StreetLine2) > maxStreetBytes:
			return fmt.Sprintf("lines together are longer than %d bytes", maxStreetBytes)
		}
		if p := needLetterOrDigit(s.StreetLine1); p != "" {
			return p
		}
		if cleanText(s.StreetLine1) != s.StreetLine1 || cleanText(s.StreetLine2) != s.StreetLine2 {
			return "not normalised (extra whitespace)"
		}
		return ""
	}, "\n")
	v.text("city", s.City, true, maxCityBytes, func(c string) string {
		if p := needLetter(c); p != "" {
			return p
		}
		if country == "US" && militaryRegions[s.Region] && c != "APO" && c != "FPO" && c != "DPO" {
			return "must be APO, FPO or DPO for military region " + s.Region
		}
		return ""
	})
	v.text("state", s.Region, regionRequired(country), maxRegionBytes, func(r string) string {
		if !regionRequired(country) {
			return ""
		}
		if !validRegion(country, r) {
			if validRegion(country, upperASCII(r)) {
				return "not normalised (Normalize gives " + quote(upperASCII(r)) + ")"
			}
			return "must be a two-letter USPS code for " + country
		}
		return ""
	})
	v.text("zipCode", s.PostalCode, true, maxPostalCodeBytes, func(z string) string {
		if p := checkPostal(country, z); p != "" {
			return p
		}
		return checkPostalRegion(country, s.Region, z)
	})
	v.text("countryCode", s.CountryCode, true, 2*4, func(c string) string {
		if isCountryCode(c) {
			return ""
		}
		if u := upperASCII(strings.TrimSpace(c)); isCountryCode(u) {
			return "not normalised (Normalize gives " + quote(u) + ")"
		} else if hint, ok := reservedCountryHints[u]; ok && hint != "" {
			return "not an ISO 3166-1 alpha-2 code; use " + quote(hint)
		}
		return "not an assigned ISO 3166-1 alpha-2 code"
	})
	return v.err(ErrInvalidShipping)
}

func needLetter(s string) string {
	for _, r := range s {
		if unicode.IsLetter(r) {
			return ""
		}
	}
	return "must contain a letter"
}

func needLetterOrDigit(s string) string {
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return ""
		}
	}
	return "must contain a letter or digit"
}

// checkEmail checks a plain address: what net/mail accepts without a
// display name or comments, one '@', a local part of at most 64 bytes, and a
// domain of dot-separated labels of letters, digits and inner hyphens.
func checkEmail(e string) string {
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || a.Name != "" {
		return "not a valid email address"
	}
	at := strings.LastIndexByte(e, '@')
	local, domain := e[:at], e[at+1:]
	if strings.Count(e, "@") != 1 || local == "" || len(local) > 64 {
		return "not a valid email address"
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return "email domain needs a dot"
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return "email domain is malformed"
		}
		for _, r := range l {
			if !(r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
				return "email domain is malformed"
			}
		}
	}
	if normalizeEmail(e) != e {
		return "not normalised (Normalize gives " + quote(normalizeEmail(e)) + ")"
	}
	return ""
}

// normalizeEmail collapses whitespace and lower-cases the ASCII letters of
// the domain.
func normalizeEmail(e string) string {
	e = cleanText(e)
	at := strings.LastIndexByte(e, '@')
	if at < 0 {
		return e
	}
	return e[:at+1] + lowerASCII(e[at+1:])
}

package fulfillment

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/width"
)

// Phone numbers are read and checked with the numbering plans of Google's
// libphonenumber (https://github.com/google/libphonenumber), as ported to
// Go by github.com/nyaruka/phonenumbers: every country's calling code,
// trunk prefix, international dialling prefix and assigned number ranges.

// maxPhoneInputBytes bounds what NormalizePhone reads; Yubico takes at most
// MaxPhoneBytes, and libphonenumber refuses more than 250 characters.
const maxPhoneInputBytes = 64

// maxE164Digits is the most digits an E.164 number has (ITU-T E.164 §6.1:
// country code and national significant number together).
const maxE164Digits = 15

// phoneField is the Okta attribute phone errors name.
const phoneField = "primaryPhone"

// NormalizePhone returns number in E.164 form ("+4930123456"). A number in
// national form ("030 123456") is read by the numbering plan of country (the
// profile's countryCode, an ISO 3166-1 alpha-2 code, any case): its trunk
// prefix is dropped and its international dialling prefix ("00", "011" in
// North America, ...) understood. A number in international form ("+44 (0)20
// 7946 0958") may belong to any country, whatever country says. The number
// must be one the country's numbering plan assigns (right length, an
// existing area code or mobile range), per libphonenumber's metadata.
//
// It accepts the separators people write (spaces, '-', '.', '/',
// parentheses, Unicode dashes) and full-width forms (as Japanese input
// methods type them); letters, extensions and other characters are refused,
// since a carrier needs the bare number. A number already in E.164 form is
// returned unchanged, so NormalizePhone is idempotent.
//
// The error is a *ValidationError (wrapping ErrInvalidShipping) with one
// FieldError for primaryPhone, whose Value is number as given (shortened to
// 32 bytes) and whose Problem says what is wrong.
func NormalizePhone(country, number string) (string, error) {
	if len(number) > maxPhoneInputBytes {
		return "", phoneError(number, fmt.Sprintf("too long to be a phone number (over %d bytes)", maxPhoneInputBytes))
	}
	s := strings.TrimSpace(number)
	if s == "" {
		return "", phoneError(number, "required")
	}
	if s[0] == '+' && digitsOnly(s[1:]) && isE164(s) {
		return s, nil
	}
	if !isASCII(s) {
		s = width.Narrow.String(s) // "＋８１ ３－１２３４" → "+81 3-1234"
	}
	if p := phoneSyntax(s); p != "" {
		return "", phoneError(number, p)
	}
	region := upperASCII(strings.TrimSpace(country))
	if !phonenumbers.GetSupportedRegions()[region] {
		region = phonenumbers.UNKNOWN_REGION
	}
	n, err := phonenumbers.ParseAndKeepRawInput(s, region)
	if err != nil {
		return "", phoneError(number, parseProblem(err, s[0] == '+', country, region))
	}
	if n.GetExtension() != "" {
		return "", phoneError(number, problemExtension)
	}
	if !phonenumbers.IsValidNumber(n) {
		return "", phoneError(number, planProblem(n, region))
	}
	e164 := phonenumbers.Format(n, phonenumbers.E164)
	switch {
	case len(e164)-1 > maxE164Digits:
		return "", phoneError(number, fmt.Sprintf("longer than the %d digits of an international number", maxE164Digits))
	case !isE164(e164):
		// Not reached with libphonenumber's metadata; refuse rather than
		// return a form that would read differently a second time.
		return "", phoneError(number, "has no unambiguous international form")
	}
	return e164, nil
}

// isE164 reports whether s is a phone number in the E.164 form that
// [NormalizePhone] produces: '+', the country calling code and the national
// significant number, at most 15 digits, nothing else, and a number
// libphonenumber's metadata says is valid.
func isE164(s string) bool {
	if len(s) < 3 || len(s)-1 > maxE164Digits || s[0] != '+' || !digitsOnly(s[1:]) || s[1] == '0' {
		return false
	}
	d := s[1:]
	// Country calling codes are a prefix code (ITU-T E.164): at most one
	// of the first one, two or three digits is assigned.
	for l := 1; l <= 3 && l < len(d); l++ {
		cc, _ := strconv.Atoi(d[:l])
		if len(phonenumbers.GetRegionCodesForCountryCode(cc)) == 0 {
			continue
		}
		nsn := d[l:]
		nn, err := strconv.ParseUint(nsn, 10, 64)
		if err != nil {
			return false
		}
		n := &phonenumbers.PhoneNumber{CountryCode: new(int32(cc)), NationalNumber: &nn}
		if zeros := leadingZeros(nsn); zeros > 0 {
			// Italy and a few others keep the leading 0 after the
			// country code; libphonenumber records how many.
			n.ItalianLeadingZero = new(true)
			if zeros > 1 {
				n.NumberOfLeadingZeros = new(int32(zeros))
			}
		}
		return phonenumbers.IsValidNumber(n) && phonenumbers.GetNationalSignificantNumber(n) == nsn
	}
	return false
}

// leadingZeros counts the zeros nsn starts with, the last digit excepted
// (libphonenumber's rule: "0" alone has none).
func leadingZeros(nsn string) int {
	z := 0
	for z < len(nsn)-1 && nsn[z] == '0' {
		z++
	}
	return z
}

// checkPhone is [ShippingInfo.Validate]'s rule for primaryPhone: a valid
// number, in E.164 form.
func checkPhone(country, p string) string {
	n, err := NormalizePhone(country, p)
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) && len(ve.Fields) == 1 {
			return ve.Fields[0].Problem
		}
		return err.Error()
	}
	if n != p {
		return "not in E.164 form (Normalize gives " + quote(n) + ")"
	}
	return ""
}

// The problems NormalizePhone reports, when they do not depend on the
// number.
const (
	problemSyntax    = "may contain only digits, spaces, '-', '.', '/', parentheses and a leading '+'"
	problemExtension = "has an extension; give the number alone (the carrier calls it)"
	problemTooShort  = "too short to be a phone number"
	problemCallCode  = "has no valid country calling code after the international prefix"
)

// phoneError is NormalizePhone's error: problem with primaryPhone, showing
// the number as the user typed it.
func phoneError(number, problem string) error {
	return &ValidationError{
		Fields: []FieldError{{Field: phoneField, Problem: problem, Value: truncateValue(number)}},
		kind:   ErrInvalidShipping,
	}
}

// phoneSyntax checks the characters of s (after width folding): digits,
// white space, '-', '.', '/', parentheses, Unicode dashes, and a '+' only
// in front. It names an extension ("x12", "ext. 12", "#12") as such.
func phoneSyntax(s string) string {
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9', r == '-', r == '.', r == '/', r == '(', r == ')':
		case r == '+' && i == 0:
		case unicode.IsSpace(r), r >= '\u2010' && r <= '\u2015', r == '\u2212':
		default:
			l := strings.ToLower(s)
			if strings.Contains(l, "ext") || strings.ContainsAny(l, "x#;") {
				return problemExtension
			}
			if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				return "contains control or invisible formatting characters"
			}
			return problemSyntax
		}
	}
	return ""
}

// parseProblem explains a libphonenumber parse error. intl is whether the
// number starts with '+'; region is the default region used ("ZZ" when
// country has no numbering plan).
func parseProblem(err error, intl bool, country, region string) string {
	switch {
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
		if intl || region != phonenumbers.UNKNOWN_REGION {
			return problemCallCode
		}
		if strings.TrimSpace(country) == "" {
			return "in national form, but countryCode is empty; write it with '+' and the country calling code"
		}
		return "in national form, but countryCode " + quote(truncateValue(country)) +
			" has no numbering plan of its own; write it with '+' and the country calling code"
	case errors.Is(err, phonenumbers.ErrNumTooLong):
		return fmt.Sprintf("too long to be a phone number (over %d bytes)", maxPhoneInputBytes)
	}
	// ErrNotANumber, ErrTooShortNSN, ErrTooShortAfterIDD.
	return problemTooShort
}

// planProblem says why n, which is not a valid number, is not: a length
// its country's numbering plan never has, or a number range it does not
// assign.
func planProblem(n *phonenumbers.PhoneNumber, region string) string {
	where := planName(int(n.GetCountryCode()), region)
	switch phonenumbers.IsPossibleNumberWithReason(n) {
	case phonenumbers.IS_POSSIBLE:
	case phonenumbers.TOO_SHORT:
		return "too short for " + where
	case phonenumbers.TOO_LONG:
		return "too long for " + where
	case phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
		if n.GetCountryCodeSource() == phonenumbers.PhoneNumber_FROM_DEFAULT_COUNTRY {
			return "missing the area code: a local number in " + where
		}
		return "too short for " + where
	case phonenumbers.INVALID_COUNTRY_CODE:
		return problemCallCode
	default: // INVALID_LENGTH
		return "wrong number of digits for " + where
	}
	return "not a number in use in " + where + " (no such area code or number range)"
}

// planName names a numbering plan for an error: "+33 (FR)"; the region the
// number was read for when it has that calling code ("+1 (CA)"); for codes
// several countries share, "+44 (GB, GG, IM, JE)" or "+1 (NANP)".
func planName(cc int, region string) string {
	code := "+" + strconv.Itoa(cc)
	regions := phonenumbers.GetRegionCodesForCountryCode(cc)
	switch {
	case phonenumbers.GetCountryCodeForRegion(region) == cc:
		return code + " (" + region + ")"
	case len(regions) == 0 || regions[0] == "001":
		return code
	case cc == 1:
		return code + " (NANP)"
	case len(regions) <= 4:
		return code + " (" + strings.Join(regions, ", ") + ")"
	}
	return fmt.Sprintf("%s (%s and %d more)", code, regions[0], len(regions)-1)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

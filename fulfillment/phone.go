package fulfillment

import (
	"errors"
	"strings"
)

// callingPlan is how one country writes phone numbers: its country calling
// code, the trunk prefix dropped in international form, and the length range
// of the national significant number.
type callingPlan struct {
	code         string
	trunk        string
	minLen, maxN int
}

// nanp is the North American Numbering Plan: +1, ten digits NXX-NXX-XXXX.
var nanp = callingPlan{code: "1", trunk: "1", minLen: 10, maxN: 10}

// callingPlans covers the countries whose numbers are checked by length:
// NANP members, and the countries with exact postal rules, plus common
// destinations. Other countries accept numbers only in international form.
var callingPlans = map[string]callingPlan{
	"US": nanp, "CA": nanp, "AG": nanp, "AI": nanp, "AS": nanp, "BB": nanp, "BM": nanp, "BS": nanp,
	"DM": nanp, "DO": nanp, "GD": nanp, "GU": nanp, "JM": nanp, "KN": nanp, "KY": nanp, "LC": nanp,
	"MP": nanp, "MS": nanp, "PR": nanp, "SX": nanp, "TC": nanp, "TT": nanp, "VC": nanp, "VG": nanp, "VI": nanp,
	"GB": {"44", "0", 9, 10},
	"DE": {"49", "0", 6, 13},
	"FR": {"33", "0", 9, 9},
	"NL": {"31", "0", 9, 9},
	"SE": {"46", "0", 7, 10},
	"AU": {"61", "0", 9, 9},
	"JP": {"81", "0", 9, 10},
	"IN": {"91", "0", 10, 10},
	"IE": {"353", "0", 7, 9},
	"IT": {"39", "", 6, 11},
	"ES": {"34", "", 9, 9},
	"PT": {"351", "", 9, 9},
	"CH": {"41", "0", 9, 9},
	"AT": {"43", "0", 4, 13},
	"BE": {"32", "0", 8, 9},
	"DK": {"45", "", 8, 8},
	"NO": {"47", "", 8, 8},
	"FI": {"358", "0", 5, 12},
	"PL": {"48", "", 9, 9},
	"CZ": {"420", "", 9, 9},
	"NZ": {"64", "0", 8, 10},
	"SG": {"65", "", 8, 8},
	"HK": {"852", "", 8, 8},
	"MX": {"52", "", 10, 10},
	"BR": {"55", "0", 10, 11},
	"CN": {"86", "0", 10, 11},
	"KR": {"82", "0", 9, 10},
	"IL": {"972", "0", 8, 9},
	"ZA": {"27", "0", 9, 9},
}

// plansByCode maps a calling code to a plan of one of its countries (all
// countries sharing a code share the length rule here).
var plansByCode = func() map[string]callingPlan {
	m := make(map[string]callingPlan)
	for _, p := range callingPlans {
		m[p.code] = p
	}
	return m
}()

var (
	errPhoneSyntax    = errors.New("may contain only digits, spaces, '-', '.', '/', parentheses and a leading '+'")
	errPhoneLength    = errors.New("has the wrong number of digits")
	errPhoneCountry   = errors.New("needs an international form (+ and country code) for this country")
	errPhoneNANP      = errors.New("is not a valid North American number (NXX-NXX-XXXX)")
	errPhoneLeading0  = errors.New("country code cannot start with 0")
	maxPhoneInputSize = 64
)

// NormalizePhone returns number in E.164 form ("+4930123456"), reading a
// national number ("030 123456") by the dialling rules of country (an ISO
// 3166-1 alpha-2 code). It accepts the separators people write (spaces,
// '-', '.', '/', parentheses), a leading "+" or "00" (also "011" in NANP
// countries) for international form, and the "(0)" of "+44 (0)20 ...".
// The error says what is wrong; it never contains the number.
func NormalizePhone(country, number string) (string, error) {
	if len(number) > maxPhoneInputSize {
		return "", errPhoneLength
	}
	s := strings.TrimSpace(number)
	intl := false
	switch {
	case strings.HasPrefix(s, "+"):
		intl, s = true, s[1:]
	}
	digits := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case c == '(' && i+2 < len(s) && s[i+1] == '0' && s[i+2] == ')' && (intl || strings.HasPrefix(string(digits), "00")):
			i += 2 // the "(0)" trunk hint of international numbers
		case c == ' ' || c == '-' || c == '.' || c == '/' || c == '(' || c == ')':
		default:
			return "", errPhoneSyntax
		}
	}
	d := string(digits)
	plan, known := callingPlans[country]
	if !intl {
		switch {
		case strings.HasPrefix(d, "00"):
			intl, d = true, d[2:]
		case known && plan.code == "1" && strings.HasPrefix(d, "011"):
			intl, d = true, d[3:]
		}
	}
	if !intl {
		if !known {
			return "", errPhoneCountry
		}
		if plan.trunk != "" && strings.HasPrefix(d, plan.trunk) && len(d)-len(plan.trunk) >= plan.minLen {
			d = d[len(plan.trunk):]
		}
		d = plan.code + d
	}
	if err := checkE164Digits(d); err != nil {
		return "", err
	}
	return "+" + d, nil
}

// checkE164Digits checks the digits of an international number (without
// '+'): 7–15 digits, a non-zero first digit, and the national length rule
// when the country code is one the package knows.
func checkE164Digits(d string) error {
	if d == "" || len(d) < 7 || len(d) > 15 {
		return errPhoneLength
	}
	if d[0] == '0' {
		return errPhoneLeading0
	}
	for n := 1; n <= 3; n++ {
		p, ok := plansByCode[d[:n]]
		if !ok {
			continue
		}
		national := d[n:]
		if len(national) < p.minLen || len(national) > p.maxN {
			if p.code == "1" {
				return errPhoneNANP
			}
			return errPhoneLength
		}
		if p.code == "1" && (national[0] < '2' || national[3] < '2') {
			return errPhoneNANP
		}
		return nil
	}
	return nil
}

// IsE164 reports whether s is a phone number in E.164 form that
// [NormalizePhone] would produce: '+' and 7–15 digits, passing the length
// rule of a known country code.
func IsE164(s string) bool {
	if len(s) < 2 || s[0] != '+' || !digitsOnly(s[1:]) {
		return false
	}
	return checkE164Digits(s[1:]) == nil
}

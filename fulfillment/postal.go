package fulfillment

import (
	"regexp"
	"strings"
)

// postalRule is one country's postal-code format: canonical is the pattern
// of the normalised code; normalize turns a compacted (upper-case, no spaces
// or dashes) code into the canonical form, or returns "" if it cannot.
type postalRule struct {
	canonical *regexp.Regexp
	example   string
	normalize func(compact string) string
}

var (
	gbPostal = regexp.MustCompile(`^(GIR 0AA|[A-PR-UWYZ]([0-9]{1,2}|[A-HK-Y][0-9]{1,2}|[0-9][A-HJKPS-UW]|[A-HK-Y][0-9][ABEHMNPRV-Y]) [0-9][ABD-HJLNP-UW-Z]{2})$`)
	caPostal = regexp.MustCompile(`^[ABCEGHJ-NPRSTVXY][0-9][ABCEGHJ-NPRSTV-Z] [0-9][ABCEGHJ-NPRSTV-Z][0-9]$`)
	nlPostal = regexp.MustCompile(`^[1-9][0-9]{3} (?:[A-RT-Z][A-Z]|S[BCE-RT-Z])$`)
)

func digitsOnly(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// splitAt returns s with sep inserted before its last n bytes, when s is
// long enough.
func splitAt(s string, n int, sep string) string {
	if len(s) <= n {
		return ""
	}
	return s[:len(s)-n] + sep + s[len(s)-n:]
}

// fixed returns a normaliser for codes of exactly n digits.
func fixed(n int) func(string) string {
	return func(c string) string {
		if len(c) == n && digitsOnly(c) {
			return c
		}
		return ""
	}
}

// postalRules holds the countries whose format is checked exactly; other
// countries get the generic rule of [checkPostal].
var postalRules = map[string]postalRule{
	"US": {regexp.MustCompile(`^[0-9]{5}(-[0-9]{4})?$`), "12345 or 12345-6789", func(c string) string {
		switch {
		case len(c) == 5 && digitsOnly(c):
			return c
		case len(c) == 9 && digitsOnly(c):
			return c[:5] + "-" + c[5:]
		}
		return ""
	}},
	"CA": {caPostal, "K1A 0B1", func(c string) string { return splitAt(c, 3, " ") }},
	"GB": {gbPostal, "SW1A 1AA", func(c string) string { return splitAt(c, 3, " ") }},
	"DE": {regexp.MustCompile(`^[0-9]{5}$`), "10115", fixed(5)},
	"FR": {regexp.MustCompile(`^[0-9]{5}$`), "75008", fixed(5)},
	"NL": {nlPostal, "1012 AB", func(c string) string { return splitAt(c, 2, " ") }},
	"SE": {regexp.MustCompile(`^[1-9][0-9]{2} [0-9]{2}$`), "114 55", func(c string) string {
		if len(c) == 5 && digitsOnly(c) {
			return c[:3] + " " + c[3:]
		}
		return ""
	}},
	"AU": {regexp.MustCompile(`^[0-9]{4}$`), "2000", fixed(4)},
	"JP": {regexp.MustCompile(`^[0-9]{3}-[0-9]{4}$`), "100-0001", func(c string) string {
		if len(c) == 7 && digitsOnly(c) {
			return c[:3] + "-" + c[3:]
		}
		return ""
	}},
	"IN": {regexp.MustCompile(`^[1-9][0-9]{5}$`), "110001", fixed(6)},
}

// genericPostal is the rule for countries without an exact rule: 2–10
// letters, digits, spaces or dashes, starting and ending with a letter or
// digit.
var genericPostal = regexp.MustCompile(`^[A-Z0-9](?:[A-Z0-9 -]{0,8})[A-Z0-9]$`)

// compactPostal upper-cases s and drops spaces and dashes.
func compactPostal(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == ' ' || r == '-' {
			continue
		}
		if r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// normalizePostal returns the canonical form of a postal code for country
// (for example "sw1a1aa" → "SW1A 1AA", "123456789" → "12345-6789"). Codes
// it cannot recognise come back upper-cased with whitespace collapsed, and
// [checkPostal] then reports them.
func normalizePostal(country, s string) string {
	s = upperASCII(collapseSpace(s))
	if r, ok := postalRules[country]; ok && !r.canonical.MatchString(s) && len(s) <= 32 {
		if n := r.normalize(compactPostal(s)); n != "" && r.canonical.MatchString(n) {
			return n
		}
	}
	return s
}

// checkPostal returns "" if code is a valid, normalised postal code for
// country, or the problem.
func checkPostal(country, code string) string {
	if r, ok := postalRules[country]; ok {
		if r.canonical.MatchString(code) {
			return ""
		}
		if n := normalizePostal(country, code); n != code && r.canonical.MatchString(n) {
			return "not normalised (Normalize gives " + quote(n) + ")"
		}
		return "not a valid " + country + " postal code (like " + quote(r.example) + ")"
	}
	if genericPostal.MatchString(code) {
		return ""
	}
	if n := normalizePostal(country, code); n != code && genericPostal.MatchString(n) {
		return "not normalised (Normalize gives " + quote(n) + ")"
	}
	return "not a valid postal code: 2-10 letters, digits, spaces or dashes"
}

// caPostalRegions maps the first letter of a Canadian postal code to the
// provinces and territories it serves (Canada Post's forward sortation).
var caPostalRegions = map[byte]string{
	'A': "NL", 'B': "NS", 'C': "PE", 'E': "NB", 'G': "QC", 'H': "QC", 'J': "QC",
	'K': "ON", 'L': "ON", 'M': "ON", 'N': "ON", 'P': "ON", 'R': "MB", 'S': "SK",
	'T': "AB", 'V': "BC", 'X': "NT NU", 'Y': "YT",
}

// checkPostalRegion returns "" if a valid, normalised postal code agrees
// with the region, or the problem. Only Canada is checked.
func checkPostalRegion(country, region, code string) string {
	if country != "CA" || code == "" || !caRegions[region] {
		return ""
	}
	if want, ok := caPostalRegions[code[0]]; ok && !strings.Contains(want, region) {
		return "a postal code starting with " + code[:1] + " is not in " + region
	}
	return ""
}

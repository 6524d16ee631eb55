package fulfillment

import "strings"

// iso3166 holds every officially assigned ISO 3166-1 alpha-2 code (249).
var iso3166 = setOf(`
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
DE DJ DK DM DO DZ
EC EE EG EH ER ES ET
FI FJ FK FM FO FR
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
HK HM HN HR HT HU
ID IE IL IM IN IO IQ IR IS IT
JE JM JO JP
KE KG KH KI KM KN KP KR KW KY KZ
LA LB LC LI LK LR LS LT LU LV LY
MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
NA NC NE NF NG NI NL NO NP NR NU NZ
OM
PA PE PF PG PH PK PL PM PN PR PS PT PW PY
QA
RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
UA UG UM US UY UZ
VA VC VE VG VI VN VU
WF WS
YE YT
ZA ZM ZW`)

// reservedCountryHints names the assigned code for commonly used codes that
// ISO 3166-1 does not assign.
var reservedCountryHints = map[string]string{
	"UK": "GB", // exceptionally reserved
	"EL": "GR", // exceptionally reserved (EU usage)
	"EN": "GB",
	"XK": "", // Kosovo: user-assigned, not shippable by code
	"EU": "",
}

// isCountryCode reports whether code is an officially assigned ISO 3166-1
// alpha-2 code, in upper case ("US", not "us" or "UK").
func isCountryCode(code string) bool { return iso3166[code] }

// usRegions are the USPS two-letter codes accepted for country US: the 50
// states, DC, the territories and freely associated states with USPS codes,
// and the military "states" AA, AE and AP.
var usRegions = setOf(`
AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO
MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY
DC AS GU MP PR VI FM MH PW
AA AE AP`)

// militaryRegions are the USPS codes for overseas military mail.
var militaryRegions = setOf("AA AE AP")

// caRegions are the Canada Post two-letter codes of the provinces and
// territories.
var caRegions = setOf("AB BC MB NB NL NS NT NU ON PE QC SK YT")

// regionRequired reports whether Yubico needs a two-letter USPS region for
// country (the US and Canada).
func regionRequired(country string) bool { return country == "US" || country == "CA" }

// validRegion reports whether region is a known two-letter code for country.
func validRegion(country, region string) bool {
	switch country {
	case "US":
		return usRegions[region]
	case "CA":
		return caRegions[region]
	}
	return true
}

func setOf(list string) map[string]bool {
	m := make(map[string]bool)
	for _, f := range strings.Fields(list) {
		m[f] = true
	}
	return m
}

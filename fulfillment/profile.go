package fulfillment

import "github.com/preenroll/preenroll/okta"

// Profile is an Okta user's profile as far as shipping a key is concerned:
// the attributes of docs/okta.md §Users and groups (JSON names as under
// Okta's "profile"; profileFields in profile.go is their one list), plus
// the user's status and whether they ever signed in, which decide whether
// the secondary email is required. An HRIS export is mapped
// onto the same shape (see [Mapping]).
type Profile struct {
	Login         string `json:"login"`         // the Okta login
	Email         string `json:"email"`         // primary email
	SecondEmail   string `json:"secondEmail"`   // secondary email; the PIN goes here for new users
	FirstName     string `json:"firstName"`     // given name
	LastName      string `json:"lastName"`      // family name
	PrimaryPhone  string `json:"primaryPhone"`  // telephone for the carrier
	StreetAddress string `json:"streetAddress"` // one or two lines, separated by a newline
	City          string `json:"city"`          // city
	State         string `json:"state"`         // state or region (USPS code in the US and Canada)
	ZipCode       string `json:"zipCode"`       // postal code
	CountryCode   string `json:"countryCode"`   // ISO 3166-1 alpha-2
	Organization  string `json:"organization"`  // company

	// UserStatus is the Okta user status (okta.UserStaged, okta.UserActive,
	// ...).
	UserStatus okta.UserStatus `json:"userStatus,omitempty"`
	// NeverSignedIn is true when the user has never signed in (Okta's
	// lastLogin is null).
	NeverSignedIn bool `json:"neverSignedIn,omitempty"`
}

// profileFields is THE list of the Okta profile attributes a shipment
// needs: each one's name (an Attr constant) and where a [Profile] and an
// okta.Profile hold it. Every mapping between the two, and every HRIS
// column setter of a plain attribute, goes through it.
var profileFields = []struct {
	name string
	in   func(*Profile) *string
	okta func(*okta.Profile) *string
}{
	{AttrLogin, func(p *Profile) *string { return &p.Login }, func(p *okta.Profile) *string { return &p.Login }},
	{AttrEmail, func(p *Profile) *string { return &p.Email }, func(p *okta.Profile) *string { return &p.Email }},
	{AttrSecondEmail, func(p *Profile) *string { return &p.SecondEmail }, func(p *okta.Profile) *string { return &p.SecondEmail }},
	{AttrFirstName, func(p *Profile) *string { return &p.FirstName }, func(p *okta.Profile) *string { return &p.FirstName }},
	{AttrLastName, func(p *Profile) *string { return &p.LastName }, func(p *okta.Profile) *string { return &p.LastName }},
	{AttrPrimaryPhone, func(p *Profile) *string { return &p.PrimaryPhone }, func(p *okta.Profile) *string { return &p.PrimaryPhone }},
	{AttrStreetAddress, func(p *Profile) *string { return &p.StreetAddress }, func(p *okta.Profile) *string { return &p.StreetAddress }},
	{AttrCity, func(p *Profile) *string { return &p.City }, func(p *okta.Profile) *string { return &p.City }},
	{AttrState, func(p *Profile) *string { return &p.State }, func(p *okta.Profile) *string { return &p.State }},
	{AttrZipCode, func(p *Profile) *string { return &p.ZipCode }, func(p *okta.Profile) *string { return &p.ZipCode }},
	{AttrCountryCode, func(p *Profile) *string { return &p.CountryCode }, func(p *okta.Profile) *string { return &p.CountryCode }},
	{AttrOrganization, func(p *Profile) *string { return &p.Organization }, func(p *okta.Profile) *string { return &p.Organization }},
}

// profileFromOkta maps an Okta user onto the domain Profile.
func profileFromOkta(u okta.User) Profile {
	p := Profile{UserStatus: u.Status, NeverSignedIn: u.LastLogin.IsZero()}
	for _, f := range profileFields {
		*f.in(&p) = *f.okta(&u.Profile)
	}
	return p
}

// oktaProfile maps a domain Profile onto Okta's profile attributes.
func oktaProfile(p Profile) okta.Profile {
	var o okta.Profile
	for _, f := range profileFields {
		*f.okta(&o) = *f.in(&p)
	}
	return o
}

// overlay copies p's non-empty attributes, except the login, onto dst.
func overlay(dst *Profile, p Profile) {
	for _, f := range profileFields {
		if v := *f.in(&p); v != "" && f.name != AttrLogin {
			*f.in(dst) = v
		}
	}
}

// withPlainSetters returns special (the setters of attributes that need
// more than a copy) plus a setter for every other attribute of
// profileFields.
func withPlainSetters(special map[string]func(*Profile, string) error) map[string]func(*Profile, string) error {
	for _, f := range profileFields {
		if _, ok := special[f.name]; !ok {
			special[f.name] = func(p *Profile, v string) error { *f.in(p) = v; return nil }
		}
	}
	return special
}

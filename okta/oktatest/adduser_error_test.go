package oktatest_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// TestAddUserError: every profile AddUser refuses gives an *AddUserError
// whose fields say why, and whose text is the package prefix and Reason.
func TestAddUserError(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	valid := okta.Profile{Login: "ada@example.com", Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace"}
	if _, err := srv.AddUser(valid, okta.UserActive); err != nil {
		t.Fatal(err)
	}
	with := func(edit func(*okta.Profile)) okta.Profile {
		p := valid
		edit(&p)
		return p
	}
	for _, tc := range []struct {
		name   string
		p      okta.Profile
		want   oktatest.AddUserError
		reason string // want Reason(); Error() is "oktatest: AddUser: " and it
	}{
		{"login taken", valid,
			oktatest.AddUserError{Login: "ada@example.com", Exists: true},
			`login "ada@example.com" already exists`},
		{"login taken, other case", with(func(p *okta.Profile) { p.Login = "ADA@Example.com" }),
			oktatest.AddUserError{Login: "ADA@Example.com", Exists: true},
			`login "ADA@Example.com" already exists`},
		{"not an email address", with(func(p *okta.Profile) { p.Login, p.Email = "jan", "jan" }),
			oktatest.AddUserError{Login: "jan", Causes: []string{"login: Does not match required pattern", "email: Does not match required pattern"}},
			"invalid profile: login: Does not match required pattern; email: Does not match required pattern"},
		{"blank names", with(func(p *okta.Profile) {
			p.Login, p.Email, p.FirstName, p.LastName = "grace@example.com", "grace@example.com", " ", ""
		}),
			oktatest.AddUserError{Login: "grace@example.com", Causes: []string{"firstName: The field cannot be left blank", "lastName: The field cannot be left blank"}},
			"invalid profile: firstName: The field cannot be left blank; lastName: The field cannot be left blank"},
		{"too long", with(func(p *okta.Profile) { p.Login, p.Email, p.CountryCode = "lin@example.com", "lin@example.com", "USA" }),
			oktatest.AddUserError{Login: "lin@example.com", Causes: []string{"countryCode: The field is too long"}},
			"invalid profile: countryCode: The field is too long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := srv.AddUser(tc.p, okta.UserStaged)
			ae, ok := errors.AsType[*oktatest.AddUserError](err)
			if !ok {
				t.Fatalf("AddUser error = %v (%T), want an *AddUserError", err, err)
			}
			if diff := cmp.Diff(tc.want, *ae); diff != "" {
				t.Errorf("AddUserError (-want +got):\n%s", diff)
			}
			if got := ae.Reason(); got != tc.reason {
				t.Errorf("Reason() = %q, want %q", got, tc.reason)
			}
			if got, want := err.Error(), "oktatest: AddUser: "+tc.reason; got != want {
				t.Errorf("Error() = %q, want %q", got, want)
			}
		})
	}
}

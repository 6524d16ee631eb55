package fulfillmenttest

import (
	"strings"
	"unicode"

	"github.com/preenroll/preenroll/okta"
)

// User is a user to seed in the fake Okta org.
type User struct {
	// Profile is the user's Okta profile (the shipping address among it).
	Profile okta.Profile
	// Status is the user's Okta status (okta.UserStaged for a new hire).
	Status okta.UserStatus
}

// NewHire returns a new hire named name: STAGED (the account is not
// active before the first day), with a valid shipping profile
// ([Profile]). Okta emails a STAGED user's PIN to the secondary email.
func NewHire(name string) User { return User{Profile: Profile(name), Status: okta.UserStaged} }

// Employee returns an existing employee named name: ACTIVE, with a valid
// shipping profile ([Profile]). Okta emails the PIN to the primary email.
func Employee(name string) User { return User{Profile: Profile(name), Status: okta.UserActive} }

// Profile returns a valid shipping profile for name, the local part of an
// email address: login and email name@example.com, secondary email
// name@home.example.net, first name the leading letters of name
// capitalised (at most 15 bytes, Yubico's limit; "Ada" when name starts
// with none), last name "Tester", phone +16175550100 and an address in
// Boston, MA, US. Change fields of the result to test other cases.
func Profile(name string) okta.Profile {
	first := strings.ToUpper(name[:min(1, len(name))]) + name[min(1, len(name)):]
	if i := strings.IndexFunc(first, func(r rune) bool { return r > unicode.MaxASCII || !unicode.IsLetter(r) }); i >= 0 {
		first = first[:i]
	}
	if first == "" {
		first = "Ada"
	}
	return okta.Profile{
		Login: name + "@example.com", Email: name + "@example.com", SecondEmail: name + "@home.example.net",
		FirstName: first[:min(15, len(first))], LastName: "Tester", PrimaryPhone: "+16175550100",
		StreetAddress: "1 Main Street", City: "Boston", State: "MA", ZipCode: "02110", CountryCode: "US",
		Organization: "Example Inc",
	}
}

// AddUser seeds u in the fake Okta org and returns it as Okta holds it
// (with its ID). A profile the fake refuses (a duplicate login, say)
// fails the test.
func (w *World) AddUser(u User) okta.User {
	w.tb.Helper()
	got, err := w.Okta.AddUser(u.Profile, u.Status)
	if err != nil {
		w.fail("AddUser(%s): %v", u.Profile.Login, err)
		return okta.User{}
	}
	w.mu.Lock()
	w.logins[lower(got.Profile.Login)] = got.ID
	w.mu.Unlock()
	return got
}

// User returns the user as the fake Okta org holds it now; login is the
// user's login or Okta ID. An unknown user fails the test.
func (w *World) User(login string) okta.User {
	w.tb.Helper()
	w.mu.Lock()
	id, ok := w.logins[lower(login)]
	w.mu.Unlock()
	if !ok {
		id = login
	}
	if u, ok := w.Okta.User(id); ok {
		return u
	}
	// A user the World did not seed (created by PrepareUser, say).
	for _, u := range w.Okta.Users() {
		if strings.EqualFold(u.Profile.Login, login) {
			w.mu.Lock()
			w.logins[lower(login)] = u.ID
			w.mu.Unlock()
			return u
		}
	}
	w.fail("no user %q in the Okta org", login)
	return okta.User{}
}

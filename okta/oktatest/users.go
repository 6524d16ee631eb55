package oktatest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/preenroll/preenroll/internal/fakehttp"
	"github.com/preenroll/preenroll/okta"
)

type user struct {
	id              string
	seq             uint64 // creation order: list cursors resolve to it
	typeID          string // the user type (type.id)
	status          okta.UserStatus
	created         time.Time
	activated       time.Time
	statusChanged   time.Time
	lastLogin       time.Time
	lastUpdated     time.Time
	profile         okta.Profile
	userHandle      []byte // WebAuthn user handle, random, stable per user
	groups          []string
	activationToken string
}

type group struct {
	id                    string
	seq                   int // index in Server.groupOrder
	name                  string
	description           string
	created               time.Time
	lastUpdated           time.Time
	lastMembershipUpdated time.Time
	members               []string // user IDs in insertion order
}

// userWire is Okta's User object.
type userWire struct {
	ID              string          `json:"id"`
	Status          okta.UserStatus `json:"status"`
	Created         oktaTime        `json:"created"`
	Activated       optOktaTime     `json:"activated"`
	StatusChanged   optOktaTime     `json:"statusChanged"`
	LastLogin       optOktaTime     `json:"lastLogin"`
	LastUpdated     oktaTime        `json:"lastUpdated"`
	PasswordChanged optOktaTime     `json:"passwordChanged"`
	Type            struct {
		ID string `json:"id"`
	} `json:"type"`
	// Profile is a namedProfile when the profile has no Extra attributes
	// (encoded as a plain struct), else the okta.Profile (whose
	// MarshalJSON merges Extra in).
	Profile     any `json:"profile"`
	Credentials struct {
		Provider struct {
			Type string `json:"type"`
			Name string `json:"name"`
		} `json:"provider"`
	} `json:"credentials"`
	Links userLinks `json:"_links"`
}

// userLinks are a User's _links, in the order of their names (as a map
// would encode them).
type userLinks struct {
	Activate *hrefLink `json:"activate,omitempty"` // STAGED and DEPROVISIONED users
	Self     hrefLink  `json:"self"`
}

// hrefLink is one HAL link.
type hrefLink struct {
	Href string `json:"href"`
}

// namedProfile encodes a profile's named fields only (Extra is
// `json:"-"`), as okta.Profile.MarshalJSON does for a profile without
// Extra, without its nested json.Marshal and the re-validation of its
// output.
type namedProfile okta.Profile

// profileWire is p as a userWire encodes it.
func profileWire(p okta.Profile) any {
	if len(p.Extra) == 0 {
		return namedProfile(p)
	}
	return p
}

func (s *Server) userWireLocked(u *user) userWire {
	w := userWire{
		ID: u.id, Status: u.status, Created: oktaTime(u.created), Activated: optOktaTime(u.activated),
		StatusChanged: optOktaTime(u.statusChanged), LastLogin: optOktaTime(u.lastLogin), LastUpdated: oktaTime(u.lastUpdated),
		Profile: profileWire(u.profile),
	}
	w.Type.ID = u.typeID
	w.Credentials.Provider.Type, w.Credentials.Provider.Name = "OKTA", "OKTA"
	self := s.srv.URL + "/api/v1/users/" + u.id
	w.Links.Self.Href = self
	if u.status == okta.UserStaged || u.status == okta.UserDeprovisioned {
		w.Links.Activate = &hrefLink{self + "/lifecycle/activate"}
	}
	return w
}

func (s *Server) userLocked(u *user) okta.User {
	return okta.User{
		ID: u.id, Status: u.status, Created: u.created, Activated: u.activated, StatusChanged: u.statusChanged,
		LastLogin: u.lastLogin, LastUpdated: u.lastUpdated, Type: okta.UserType{ID: u.typeID}, Profile: cloneProfile(u.profile),
	}
}

func cloneProfile(p okta.Profile) okta.Profile {
	if p.Extra != nil {
		m := make(map[string]json.RawMessage, len(p.Extra))
		for k, v := range p.Extra {
			m[k] = append(json.RawMessage(nil), v...)
		}
		p.Extra = m
	}
	return p
}

// validateProfile applies Okta's default user schema: login (email form),
// email, firstName and lastName required; emails well formed; length
// limits; countryCode at most 2 characters. It returns the first failing
// field and every cause.
func validateProfile(p okta.Profile) (field string, causes []string) {
	add := func(f, c string) {
		if field == "" {
			field = f
		}
		causes = append(causes, f+": "+c)
	}
	req := []struct{ name, v string }{{"login", p.Login}, {"email", p.Email}, {"firstName", p.FirstName}, {"lastName", p.LastName}}
	for _, r := range req {
		if strings.TrimSpace(r.v) == "" {
			add(r.name, "The field cannot be left blank")
		}
	}
	for _, e := range []struct{ name, v string }{{"login", p.Login}, {"email", p.Email}, {"secondEmail", p.SecondEmail}} {
		if e.v == "" {
			continue
		}
		if a, err := mail.ParseAddress(e.v); err != nil || a.Address != e.v {
			add(e.name, "Does not match required pattern")
		}
	}
	limits := []struct {
		name, v string
		max     int
	}{
		{"login", p.Login, 100}, {"email", p.Email, 100}, {"secondEmail", p.SecondEmail, 100},
		{"firstName", p.FirstName, 50}, {"lastName", p.LastName, 50}, {"primaryPhone", p.PrimaryPhone, 100},
		{"streetAddress", p.StreetAddress, 1024}, {"city", p.City, 128}, {"state", p.State, 128},
		{"zipCode", p.ZipCode, 50}, {"countryCode", p.CountryCode, 2},
	}
	for _, l := range limits {
		if len([]rune(l.v)) > l.max {
			add(l.name, "The field is too long")
		}
	}
	return field, causes
}

// AddUser seeds a user with the given status (STAGED, ACTIVE, ...; empty
// means STAGED) and returns it. The profile must pass Okta's default schema
// (login, email, firstName, lastName). It fails for a duplicate login. Its
// errors are [*AddUserError]s.
func (s *Server) AddUser(p okta.Profile, status okta.UserStatus) (okta.User, error) {
	if field, causes := validateProfile(p); field != "" {
		return okta.User{}, &AddUserError{Login: p.Login, Causes: causes}
	}
	if status == "" {
		status = okta.UserStaged
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.userByLoginLocked(p.Login) != nil {
		return okta.User{}, &AddUserError{Login: p.Login, Exists: true}
	}
	u := s.newUserLocked(p, status)
	return s.userLocked(u), nil
}

// AddUserError is the error of [Server.AddUser]: the user the fake org
// refused to seed, and why. errors.As finds it for a caller who words the
// reason for a person.
type AddUserError struct {
	// Login is the profile's login, as given.
	Login string
	// Causes are the profile's problems under Okta's default schema, one
	// "attribute: reason" each, as Okta words its errorCauses ("email:
	// Does not match required pattern", "lastName: The field cannot be left
	// blank"); nil when Exists.
	Causes []string
	// Exists reports a valid profile whose login another user of the fake
	// org has already (compared as Okta compares logins, ignoring case).
	Exists bool
}

// Error reads "oktatest: AddUser: " and the [AddUserError.Reason].
func (e *AddUserError) Error() string { return "oktatest: AddUser: " + e.Reason() }

// Reason says why, as Error words it without the package's prefix (as
// okta.ArgumentError's and webauthn.FieldError's Reason do): "invalid
// profile: " and the causes separated by semicolons, or
// `login "ada@example.com" already exists`.
func (e *AddUserError) Reason() string {
	if e.Exists {
		return fmt.Sprintf("login %q already exists", e.Login)
	}
	return "invalid profile: " + strings.Join(e.Causes, "; ")
}

func (s *Server) newUserLocked(p okta.Profile, status okta.UserStatus) *user {
	now := s.now()
	s.userSeq++
	u := &user{
		id: s.randomID("00u", 17), seq: s.userSeq, typeID: DefaultUserTypeID, status: status, created: now,
		lastUpdated: now, profile: cloneProfile(p), userHandle: s.randomBytes(32),
	}
	if status != okta.UserStaged {
		u.statusChanged = now
	}
	if status == okta.UserActive {
		u.activated = now
	}
	s.users[u.id] = u
	s.userOrder = append(s.userOrder, u.id)
	s.byLogin[loginKey(p.Login)] = u
	return u
}

// SetLastLogin seeds the time userID last signed in, which Okta reports as
// the user's lastLogin; the zero time means never (lastLogin null). A
// successful Authn sign-in sets it to the fake clock's time. It fails for an
// unknown user or a time after the fake clock.
func (s *Server) SetLastLogin(userID string, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[userID]
	if !ok {
		return fmt.Errorf("oktatest: SetLastLogin: unknown user %q", userID)
	}
	if t.After(s.now()) {
		return fmt.Errorf("oktatest: SetLastLogin: lastLogin %s is after the fake clock %s",
			t.UTC().Format(time.RFC3339), s.now().Format(time.RFC3339))
	}
	if !t.IsZero() {
		t = t.UTC()
	}
	u.lastLogin = t
	return nil
}

// AddGroup seeds an OKTA_GROUP group and returns its ID.
func (s *Server) AddGroup(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newGroupLocked(name, "").id
}

// Users returns every user, in creation order.
func (s *Server) Users() []okta.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fakehttp.Map(s.userOrder, func(id string) okta.User { return s.userLocked(s.users[id]) })
}

// User returns one user by ID.
func (s *Server) User(id string) (okta.User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return okta.User{}, false
	}
	return s.userLocked(u), true
}

// GroupMembers returns the user IDs in a group, in the order they were added.
func (s *Server) GroupMembers(groupID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g, ok := s.groups[groupID]; ok {
		return append([]string(nil), g.members...)
	}
	return nil
}

func (s *Server) userByLoginLocked(login string) *user {
	return s.byLogin[loginKey(login)]
}

// loginKey maps a login to a key equal for exactly the logins
// strings.EqualFold treats as equal: each rune becomes the smallest rune
// of its simple case-folding orbit. The byLogin index keyed by it makes a
// login lookup O(1); it was a scan of every user, which made seeding or
// creating N users quadratic (100,000 users took longer than 10 minutes).
func loginKey(login string) string {
	var b strings.Builder
	b.Grow(len(login))
	for _, r := range login {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}

// withPathUser runs fn under s.mu with the user whose ID is the path
// parameter param; for an unknown user it answers 404 E0000007 and fn does
// not run.
func (s *Server) withPathUser(x *exchange, param string, fn func(*user)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.userForPathLocked(x, param); u != nil {
		fn(u)
	}
}

// userForPathLocked returns the user whose ID is the path parameter param,
// or answers 404 E0000007 and returns nil.
func (s *Server) userForPathLocked(x *exchange, param string) *user {
	u, ok := s.users[x.params[param]]
	if !ok {
		s.notFound(x, x.params[param], "User")
		return nil
	}
	return u
}

// findUserLocked resolves an ID, a login or an unambiguous login short name.
func (s *Server) findUserLocked(idOrLogin string) *user {
	if u, ok := s.users[idOrLogin]; ok {
		return u
	}
	if u := s.userByLoginLocked(idOrLogin); u != nil {
		return u
	}
	var found *user
	for _, u := range s.users {
		if short, _, ok := strings.Cut(u.profile.Login, "@"); ok && strings.EqualFold(short, idOrLogin) {
			if found != nil {
				return nil
			}
			found = u
		}
	}
	return found
}

func (s *Server) handleCreateUser(x *exchange) {
	var req struct {
		Profile  *okta.Profile `json:"profile"`
		GroupIDs []string      `json:"groupIds"`
		Type     *struct {
			ID string `json:"id"`
		} `json:"type"`
	}
	if !s.decode(x, &req) {
		return
	}
	typeID := DefaultUserTypeID
	if req.Type != nil {
		typeID = req.Type.ID
	}
	if req.Profile == nil {
		s.validation(x, "profile", "profile: The field cannot be left blank")
		return
	}
	activate, ok := s.boolParam(x, "activate", true)
	if !ok {
		return
	}
	if field, causes := validateProfile(*req.Profile); field != "" {
		s.validation(x, field, causes...)
		return
	}
	if len(req.GroupIDs) > 100 {
		s.fail(x, http.StatusBadRequest, "E0000093", "Target count limit exceeded", "groupIds: Target count limit exceeded")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.userByLoginLocked(req.Profile.Login) != nil {
		s.validation(x, "login", "login: An object with this field already exists in the current organization")
		return
	}
	for _, gid := range req.GroupIDs {
		if _, ok := s.groups[gid]; !ok {
			s.notFound(x, gid, "Group")
			return
		}
	}
	if _, ok := s.userTypes[typeID]; !ok {
		// Okta's answer for an unknown type is not documented; this one is ours.
		s.validation(x, "type", "type.id: The user type "+strconv.Quote(typeID)+" does not exist")
		return
	}
	status := okta.UserStaged
	if activate {
		// Okta makes a user without credentials PROVISIONED or ACTIVE; the
		// fake has no passwords and uses ACTIVE so the user can sign in.
		status = okta.UserActive
	}
	u := s.newUserLocked(*req.Profile, status)
	u.typeID = typeID
	for _, gid := range req.GroupIDs {
		s.addMemberLocked(s.groups[gid], u)
	}
	s.writeJSON(x, http.StatusOK, s.userWireLocked(u))
}

func (s *Server) handleGetUser(x *exchange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.findUserLocked(x.params["id"])
	if u == nil {
		s.notFound(x, x.params["id"], "User")
		return
	}
	s.writeJSON(x, http.StatusOK, s.userWireLocked(u))
}

// handleUpdateUser is the partial update (POST): given attributes replace
// the stored ones, null removes one, absent ones are kept.
func (s *Server) handleUpdateUser(x *exchange) {
	var req struct {
		Profile map[string]json.RawMessage `json:"profile"`
	}
	if !s.decode(x, &req) {
		return
	}
	if req.Profile == nil {
		s.validation(x, "profile", "profile: The field cannot be left blank")
		return
	}
	s.withPathUser(x, "id", func(u *user) {
		cur, err := json.Marshal(u.profile)
		if err != nil {
			s.internalError(x, "encode profile: %v", err)
			return
		}
		var merged map[string]json.RawMessage
		if err := json.Unmarshal(cur, &merged); err != nil {
			s.internalError(x, "decode profile: %v", err)
			return
		}
		for k, v := range req.Profile {
			if string(v) == "null" {
				delete(merged, k)
				continue
			}
			merged[k] = v
		}
		b, _ := json.Marshal(merged)
		var p okta.Profile
		if err := json.Unmarshal(b, &p); err != nil {
			field := "profile"
			var ae *okta.ProfileAttributeError
			if errors.As(err, &ae) {
				field = ae.Attr
			}
			s.validation(x, field, field+": Does not match required pattern")
			return
		}
		if field, causes := validateProfile(p); field != "" {
			s.validation(x, field, causes...)
			return
		}
		if other := s.userByLoginLocked(p.Login); other != nil && other != u {
			s.validation(x, "login", "login: An object with this field already exists in the current organization")
			return
		}
		delete(s.byLogin, loginKey(u.profile.Login))
		u.profile = p
		s.byLogin[loginKey(p.Login)] = u
		u.lastUpdated = s.now()
		s.writeJSON(x, http.StatusOK, s.userWireLocked(u))
	})
}

func (s *Server) addMemberLocked(g *group, u *user) {
	for _, m := range g.members {
		if m == u.id {
			return
		}
	}
	g.members = append(g.members, u.id)
	g.lastMembershipUpdated = s.now()
	u.groups = append(u.groups, g.id)
}

func (s *Server) handleAddToGroup(x *exchange) {
	s.withMembership(x, func(g *group, u *user) {
		s.addMemberLocked(g, u)
		s.emitLocked(x, Event{EventType: "group.user_membership.add", UserID: u.id, UserLogin: u.profile.Login, GroupID: g.id})
		s.writeNoContent(x)
	})
}

// Group members default to 1000 per page, as Okta's listGroupUsers does;
// Okta declares no maximum (the server's [WithMaxPageSize] caps it).
const membersDefaultLimit = 1000

// handleListMembers pages with ?limit (default 1000) and ?after (a user
// ID), linking the next page with Link rel="next" as Okta does.
func (s *Server) handleListMembers(x *exchange) {
	q := x.r.URL.Query()
	lim, ok := s.pageLimit(q, membersDefaultLimit, membersDefaultLimit*1000)
	if !ok {
		s.badLimit(x)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groupForPathLocked(x)
	if g == nil {
		return
	}
	start := 0
	if after := q.Get("after"); after != "" {
		start = len(g.members)
		for i, m := range g.members {
			if m == after {
				start = i + 1
				break
			}
		}
	}
	page, more := pageIDs(g.members, start, lim, func(string) bool { return true })
	out := fakehttp.Map(page, func(id string) userWire { return s.userWireLocked(s.users[id]) })
	next := ""
	if more {
		next = page[len(page)-1]
	}
	s.setPageLinks(x, next, lim)
	s.writeJSON(x, http.StatusOK, out)
}

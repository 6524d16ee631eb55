package oktatest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/preenroll/preenroll/okta"
)

// Page sizes of GET /api/v1/users (Okta's listUsers: limit defaults to 200,
// to 10 with q; "up to the maximum (200 for most orgs)").
const (
	usersDefaultLimit  = 200
	usersQDefaultLimit = 10
	usersMaxLimit      = 200
)

// DefaultUserTypeID is the ID of the org's default user type, the type.id
// of every user created without one. Add other types with
// [Server.AddUserType].
const DefaultUserTypeID = "oty00000000000000000"

// AddUserType adds a user type named name and returns its ID ("oty…"), which
// POST /api/v1/users accepts as type.id.
func (s *Server) AddUserType(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.randomID("oty", 17)
	s.userTypes[id] = name
	return id
}

// userSearch is the search dialect of GET /api/v1/users: any profile
// attribute and the top-level id, status, type.id and dates; co only on
// the four name and email attributes; case-insensitive values.
var userSearch = exprDialect{
	param:   "search",
	strs:    []string{"id", "status", "type.id"},
	dates:   []string{"created", "activated", "statusChanged", "lastUpdated", "lastLogin", "passwordChanged"},
	profile: true,
	co:      []string{"profile.firstName", "profile.lastName", "profile.email", "profile.login"},
	fold:    true,
}

// userFilter is the filter dialect of GET /api/v1/users: seven attributes,
// eq only (lt, le, gt, ge on lastUpdated), case-sensitive values.
var userFilter = exprDialect{
	param: "filter",
	strs:  []string{"status", "id", "profile.login", "profile.email", "profile.firstName", "profile.lastName"},
	dates: []string{"lastUpdated"},
}

// userAttrs are a user's own attributes for expressions (profile
// attributes are profileAttrs).
var userAttrs = attrTable[*user]{
	strs: map[string]func(*user) string{
		"id":      func(u *user) string { return u.id },
		"status":  func(u *user) string { return string(u.status) },
		"type.id": func(u *user) string { return u.typeID },
	},
	dates: map[string]func(*user) time.Time{
		"created":         func(u *user) time.Time { return u.created },
		"activated":       func(u *user) time.Time { return u.activated },
		"statusChanged":   func(u *user) time.Time { return u.statusChanged },
		"lastUpdated":     func(u *user) time.Time { return u.lastUpdated },
		"lastLogin":       func(u *user) time.Time { return u.lastLogin },
		"passwordChanged": func(*user) time.Time { return time.Time{} }, // never set: the fake has no passwords
	},
}

// profileAttrs are the named fields of a profile; other profile
// attributes are its Extra values.
var profileAttrs = attrTable[*okta.Profile]{strs: map[string]func(*okta.Profile) string{
	"login":         func(p *okta.Profile) string { return p.Login },
	"email":         func(p *okta.Profile) string { return p.Email },
	"secondEmail":   func(p *okta.Profile) string { return p.SecondEmail },
	"firstName":     func(p *okta.Profile) string { return p.FirstName },
	"lastName":      func(p *okta.Profile) string { return p.LastName },
	"primaryPhone":  func(p *okta.Profile) string { return p.PrimaryPhone },
	"streetAddress": func(p *okta.Profile) string { return p.StreetAddress },
	"city":          func(p *okta.Profile) string { return p.City },
	"state":         func(p *okta.Profile) string { return p.State },
	"zipCode":       func(p *okta.Profile) string { return p.ZipCode },
	"countryCode":   func(p *okta.Profile) string { return p.CountryCode },
	"organization":  func(p *okta.Profile) string { return p.Organization },
}}

// userAttrLocked returns one attribute of u for an expression: one of
// userAttrs, or a profile attribute ("profile." is optional), which is a
// named field (profileAttrs) or an Extra value (a string, the elements of
// an array, or a number or boolean as written).
func (s *Server) userAttrLocked(u *user, name string) attrValue {
	if v, ok := userAttrs.get(u, name); ok {
		return v
	}
	attr, _ := strings.CutPrefix(name, "profile.")
	if v, ok := profileAttrs.get(&u.profile, attr); ok {
		return v
	}
	return rawAttr(u.profile.Extra[attr])
}

// rawAttr is the candidates of a raw JSON attribute value.
func rawAttr(raw json.RawMessage) attrValue {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return attrValue{}
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return attrValue{strs: []string{s}}
	}
	var arr []json.RawMessage
	if json.Unmarshal(raw, &arr) == nil {
		var out attrValue
		for _, e := range arr {
			out.strs = append(out.strs, rawAttr(e).strs...)
		}
		return out
	}
	return attrValue{strs: []string{string(raw)}}
}

// listQuery is the parsed selection of a list request.
type listQuery struct {
	q      string // prefix query, lower-cased; "" when absent
	search expr
	filter expr
	sortBy string // search only
	desc   bool
}

// parseListQuery reads q, search, filter, sortBy and sortOrder, answering
// 400 and returning false when one is invalid: E0000031 for an expression
// the dialect refuses, E0000030 for a date that does not parse.
func (s *Server) parseListQuery(x *exchange, search, filter exprDialect) (listQuery, bool) {
	params := x.r.URL.Query()
	lq := listQuery{q: strings.ToLower(params.Get("q"))}
	for _, p := range []struct {
		name string
		d    exprDialect
		dst  *expr
	}{{"search", search, &lq.search}, {"filter", filter, &lq.filter}} {
		v := params.Get(p.name)
		if v == "" {
			continue
		}
		e, err := parseExpr(v, p.d)
		if err != nil {
			s.exprError(x, err)
			return lq, false
		}
		*p.dst = e
	}
	if lq.sortBy = params.Get("sortBy"); lq.sortBy != "" {
		if _, ok := search.attr(lq.sortBy); !ok {
			s.fail(x, http.StatusBadRequest, "E0000031", "Bad request. Invalid filter parameter.",
				"sortBy: attribute "+lq.sortBy+" is not supported")
			return lq, false
		}
	}
	switch o := params.Get("sortOrder"); strings.ToLower(o) {
	case "", "asc":
	case "desc":
		lq.desc = true
	default:
		s.validation(x, "sortOrder", "sortOrder: Invalid value "+o)
		return lq, false
	}
	return lq, true
}

func (s *Server) exprError(x *exchange, err error) {
	if errors.Is(err, errExprDate) {
		s.fail(x, http.StatusBadRequest, "E0000030",
			"Bad request. Invalid date. Dates must be of the form yyyy-MM-dd'T'HH:mm:ss.SSSZZ, e.g. 2013-01-01T12:00:00.000-07:00.",
			err.Error())
		return
	}
	s.fail(x, http.StatusBadRequest, "E0000031", "Bad request. Invalid filter parameter.", err.Error())
}

// handleListUsers is GET /api/v1/users. Without q, search or filter it
// lists every user but DEPROVISIONED ones, in creation order; q matches
// the start of firstName, lastName or email (case-insensitive) and is not
// paged (no rel="next"); search and filter include DEPROVISIONED users.
// Given together, the selections must all match. The after cursor is the ID
// of the last user of the previous page.
func (s *Server) handleListUsers(x *exchange) {
	s.serveList(x, listing{
		search: userSearch, filter: userFilter,
		defLimit: usersDefaultLimit, qDefLimit: usersQDefaultLimit, maxLimit: usersMaxLimit,
		order: func() []string { return s.userOrder },
		attr:  func(id, name string) attrValue { return s.userAttrLocked(s.users[id], name) },
		include: func(id string, lq listQuery) bool {
			u := s.users[id]
			if lq.search == nil && lq.filter == nil && u.status == okta.UserDeprovisioned {
				return false
			}
			return lq.q == "" || userMatchesQ(u, lq.q)
		},
		startAfter: s.userIndexAfterLocked,
		wire:       func(id string) any { return s.userWireLocked(s.users[id]) },
	})
}

// userMatchesQ is q's match: a prefix of firstName, lastName or email.
func userMatchesQ(u *user, q string) bool {
	for _, v := range []string{u.profile.FirstName, u.profile.LastName, u.profile.Email} {
		if strings.HasPrefix(strings.ToLower(v), q) {
			return true
		}
	}
	return false
}

// userIndexAfterLocked is the index in userOrder of the first user created
// after the user with ID after (live or deleted); len(userOrder) for an
// unknown cursor.
func (s *Server) userIndexAfterLocked(after string) int {
	seq, ok := s.deletedSeq[after]
	if u, live := s.users[after]; live {
		seq, ok = u.seq, true
	}
	if !ok {
		return len(s.userOrder)
	}
	return sort.Search(len(s.userOrder), func(i int) bool { return s.users[s.userOrder[i]].seq > seq })
}

// sortedIDs returns the matching IDs of ids ordered by key (dates in time
// order, other attributes as case-insensitive text, absent values first),
// ties by ID, as Okta orders search results with sortBy.
func sortedIDs(ids []string, match func(string) bool, key func(string) attrValue, desc bool) []string {
	type keyed struct {
		id  string
		key attrValue
	}
	var all []keyed
	for _, id := range ids {
		if match(id) {
			all = append(all, keyed{id, key(id)})
		}
	}
	slices.SortStableFunc(all, func(a, b keyed) int {
		c := compareAttr(a.key, b.key)
		if c == 0 {
			c = strings.Compare(a.id, b.id)
		}
		if desc {
			c = -c
		}
		return c
	})
	out := make([]string, len(all))
	for i, k := range all {
		out[i] = k.id
	}
	return out
}

// sortedPage applies sortBy: the sorted matching IDs and the index after
// the cursor (the end for an unknown cursor).
func sortedPage(ids []string, match func(string) bool, key func(string) attrValue, lq listQuery, after string) ([]string, int) {
	sorted := sortedIDs(ids, match, key, lq.desc)
	if after == "" {
		return sorted, 0
	}
	if i := slices.Index(sorted, after); i >= 0 {
		return sorted, i + 1
	}
	return sorted, len(sorted)
}

func compareAttr(a, b attrValue) int {
	if !a.t.IsZero() || !b.t.IsZero() {
		return a.t.Compare(b.t)
	}
	first := func(v attrValue) string {
		if len(v.strs) == 0 {
			return ""
		}
		return strings.ToLower(v.strs[0])
	}
	return cmp.Compare(first(a), first(b))
}

// pageIDs returns up to lim IDs from ids[start:] that match, and whether
// another matching ID follows them.
func pageIDs(ids []string, start, lim int, match func(string) bool) (page []string, more bool) {
	for _, id := range ids[min(start, len(ids)):] {
		if !match(id) {
			continue
		}
		if len(page) == lim {
			return page, true
		}
		page = append(page, id)
	}
	return page, false
}

package okta

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/preenroll/preenroll/internal/httpclient"
)

// UserStatus is an Okta user's lifecycle status. Values not listed here are
// decoded as is.
type UserStatus string

// User statuses (Okta's UserStatus schema).
const (
	UserStaged          UserStatus = "STAGED"
	UserProvisioned     UserStatus = "PROVISIONED"
	UserActive          UserStatus = "ACTIVE"
	UserRecovery        UserStatus = "RECOVERY"
	UserPasswordExpired UserStatus = "PASSWORD_EXPIRED"
	UserLockedOut       UserStatus = "LOCKED_OUT"
	UserSuspended       UserStatus = "SUSPENDED"
	UserDeprovisioned   UserStatus = "DEPROVISIONED"
)

// Profile is an Okta user profile. The named fields are the ones the
// shipping of a key needs; every other attribute (custom ones included) is
// kept verbatim in Extra, so a decoded profile round-trips.
//
// When encoded, empty named fields are omitted. Extra entries are encoded
// as they are; an Extra entry whose name is also a named field is
// overridden by a non-empty named field. To clear an attribute in
// [Client.UpdateProfile], set Extra[name] to json.RawMessage("null").
type Profile struct {
	Login         string `json:"login,omitempty"`         // unique sign-in name, usually an email
	Email         string `json:"email,omitempty"`         // primary email
	SecondEmail   string `json:"secondEmail,omitempty"`   // secondary email; the PIN goes here for STAGED users
	FirstName     string `json:"firstName,omitempty"`     // given name
	LastName      string `json:"lastName,omitempty"`      // family name
	PrimaryPhone  string `json:"primaryPhone,omitempty"`  // the shipment's telephone
	StreetAddress string `json:"streetAddress,omitempty"` // street, possibly two lines
	City          string `json:"city,omitempty"`          // city
	State         string `json:"state,omitempty"`         // state or region (USPS code in the US and Canada)
	ZipCode       string `json:"zipCode,omitempty"`       // postal code
	CountryCode   string `json:"countryCode,omitempty"`   // ISO 3166-1 alpha-2
	Organization  string `json:"organization,omitempty"`  // company, the shipment's recipient line
	// Extra holds every other profile attribute as raw JSON.
	Extra map[string]json.RawMessage `json:"-"`
}

type profileAlias Profile

// MarshalJSON merges the named fields over Extra.
func (p Profile) MarshalJSON() ([]byte, error) {
	named, err := json.Marshal(profileAlias(p))
	if err != nil {
		return nil, err
	}
	if len(p.Extra) == 0 {
		return named, nil
	}
	m := make(map[string]json.RawMessage, len(p.Extra)+len(profileNames))
	for k, v := range p.Extra {
		if !json.Valid(v) {
			return nil, &ProfileAttributeError{Attr: k, Problem: "is not valid JSON"}
		}
		m[k] = v
	}
	var nm map[string]json.RawMessage
	if err := json.Unmarshal(named, &nm); err != nil {
		return nil, err
	}
	for k, v := range nm {
		m[k] = v
	}
	return json.Marshal(m)
}

// UnmarshalJSON decodes the named fields (null → "") and keeps every other
// attribute in Extra. A named field of a non-string type is an error.
// Names are matched exactly (not case-insensitively as encoding/json
// matches struct fields), and a name given twice keeps its last value.
func (p *Profile) UnmarshalJSON(b []byte) error {
	if !json.Valid(b) || !isObject(b) {
		return p.unmarshalMap(b) // json.Unmarshal's error, or null
	}
	// b is a valid object: walk its members instead of decoding it into a
	// map of copied keys and values and then each named value again.
	var a profileAlias
	var named [len(profileNames)][]byte // the last value of each named field
	for k, v := range members(b) {
		if i := profileIndex(k[1 : len(k)-1]); i >= 0 {
			named[i] = v
			continue
		}
		if a.Extra == nil {
			a.Extra = make(map[string]json.RawMessage)
		}
		name, err := httpclient.JSONString(k)
		if err != nil {
			return err
		}
		if i := profileIndex(name); i >= 0 {
			// An escaped name of a named field ("\u006cogin").
			named[i] = v
			continue
		}
		a.Extra[name] = bytes.Clone(v)
	}
	for i, v := range named {
		if v == nil || string(v) == "null" {
			continue
		}
		if v[0] != '"' {
			return &ProfileAttributeError{Attr: profileNames[i], Problem: "is not a string"}
		}
		s, err := httpclient.JSONString(v)
		if err != nil {
			return &ProfileAttributeError{Attr: profileNames[i], Problem: "is not a string"}
		}
		*a.field(i) = s
	}
	if len(a.Extra) == 0 {
		a.Extra = nil
	}
	*p = Profile(a)
	return nil
}

// unmarshalMap decodes b through a map, as UnmarshalJSON did before it
// walked the members itself: for input that is not a valid object (its
// error is json.Unmarshal's), and as the reference its tests compare with.
func (p *Profile) unmarshalMap(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	var a profileAlias
	extra := make(map[string]json.RawMessage)
	for k, v := range m {
		i := profileIndex(k)
		if i < 0 {
			extra[k] = v
			continue
		}
		if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return &ProfileAttributeError{Attr: k, Problem: "is not a string"}
		}
		*a.field(i) = s
	}
	if len(extra) > 0 {
		a.Extra = extra
	}
	*p = Profile(a)
	return nil
}

// profileNames are the JSON names of Profile's named fields, in the order
// of profileAlias.field.
var profileNames = [...]string{"login", "email", "secondEmail", "firstName", "lastName", "primaryPhone",
	"streetAddress", "city", "state", "zipCode", "countryCode", "organization"}

// profileIndex returns the index in profileNames of a member's name, -1 if
// it names no field.
func profileIndex[S ~string | ~[]byte](name S) int {
	switch string(name) {
	case "login":
		return 0
	case "email":
		return 1
	case "secondEmail":
		return 2
	case "firstName":
		return 3
	case "lastName":
		return 4
	case "primaryPhone":
		return 5
	case "streetAddress":
		return 6
	case "city":
		return 7
	case "state":
		return 8
	case "zipCode":
		return 9
	case "countryCode":
		return 10
	case "organization":
		return 11
	}
	return -1
}

// field returns the named field profileNames[i].
func (a *profileAlias) field(i int) *string {
	return [...]*string{&a.Login, &a.Email, &a.SecondEmail, &a.FirstName, &a.LastName, &a.PrimaryPhone,
		&a.StreetAddress, &a.City, &a.State, &a.ZipCode, &a.CountryCode, &a.Organization}[i]
}

// User is an Okta user. Timestamps Okta reports as null are zero.
type User struct {
	ID              string     `json:"id"`              // user ID, "00u…"
	Status          UserStatus `json:"status"`          // STAGED, ACTIVE, ...
	Created         time.Time  `json:"created"`         // creation time
	Activated       time.Time  `json:"activated"`       // activation time; zero if never
	StatusChanged   time.Time  `json:"statusChanged"`   // last status change; zero if never
	LastLogin       time.Time  `json:"lastLogin"`       // last sign-in; zero if never
	LastUpdated     time.Time  `json:"lastUpdated"`     // last change of any kind
	PasswordChanged time.Time  `json:"passwordChanged"` // last password change; zero if never
	Type            UserType   `json:"type"`            // the user type
	Profile         Profile    `json:"profile"`         // the user's attributes
}

// UserType names an Okta user type (the user's type object). The type
// decides the profile schema.
type UserType struct {
	ID string `json:"id"` // "oty…"
}

// CreateUserRequest is the input of [Client.CreateUser]. Its zero value
// (apart from the profile) creates a STAGED user.
type CreateUserRequest struct {
	// Profile must have Login; Okta also requires Email, FirstName and LastName
	// in the default user type.
	Profile Profile
	// GroupIDs are groups the user is added to on creation.
	GroupIDs []string
	// Activate creates the user ACTIVE or PROVISIONED instead of STAGED.
	Activate bool
	// TypeID is the user type to create the user with (sent as
	// type: {id}); empty means the org's default type.
	TypeID string
}

// CreateUser creates a user (POST /api/v1/users?activate=false|true) and
// returns it; without Activate the user is STAGED. The call is not retried
// after transport errors or 5xx (it is not idempotent), but is after 429.
//
// Errors: ErrInvalidArgument (empty login, a malformed TypeID); *APIError
// wrapping ErrValidation (for example E0000001 with cause "login: An object
// with this field already exists in the current organization", or an
// unknown user type), ErrForbidden, ErrRateLimited.
func (c *Client) CreateUser(ctx context.Context, req CreateUserRequest) (User, error) {
	const op = "create user"
	if strings.TrimSpace(req.Profile.Login) == "" {
		return User{}, argError(op, "profile.login", "is empty")
	}
	body := struct {
		Profile  Profile   `json:"profile"`
		GroupIDs []string  `json:"groupIds,omitempty"`
		Type     *UserType `json:"type,omitempty"`
	}{Profile: req.Profile, GroupIDs: req.GroupIDs}
	if req.TypeID != "" {
		if strings.TrimSpace(req.TypeID) != req.TypeID || strings.ContainsFunc(req.TypeID, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return User{}, argError(op, "type.id", "%s has surrounding spaces or control characters", quoted(req.TypeID))
		}
		body.Type = &UserType{ID: req.TypeID}
	}
	var u User
	_, err := c.do(ctx, &call{
		op: op, method: "POST", route: "/api/v1/users",
		query: url.Values{"activate": {strconv.FormatBool(req.Activate)}},
		body:  body, out: &u,
	})
	return u, err
}

// GetUser returns a user by ID or login (GET /api/v1/users/{idOrLogin}).
// Logins containing "/" can only be fetched by ID.
//
// Errors: ErrInvalidArgument; *APIError wrapping ErrNotFound (E0000007),
// ErrForbidden, ErrRateLimited.
func (c *Client) GetUser(ctx context.Context, idOrLogin string) (User, error) {
	const op = "get user"
	var u User
	_, err := c.do(ctx, &call{
		op: op, method: "GET", route: "/api/v1/users/{id}", args: []pathArg{{"idOrLogin", idOrLogin}},
		idempotent: true, out: &u,
	})
	return u, err
}

// UpdateProfile partially updates a user's profile (POST /api/v1/users/{id},
// Okta's partial update): only non-empty named fields and Extra entries are
// sent; every other attribute keeps its value. It returns the updated user.
// Re-sending the same update is harmless, so it is retried like a GET.
//
// Errors: ErrInvalidArgument; *APIError wrapping ErrValidation (E0000001 with
// causes naming the attribute), ErrNotFound, ErrForbidden, ErrRateLimited.
func (c *Client) UpdateProfile(ctx context.Context, userID string, p Profile) (User, error) {
	const op = "update profile"
	var u User
	_, err := c.do(ctx, &call{
		op: op, method: "POST", route: "/api/v1/users/{id}", args: []pathArg{{"userID", userID}},
		body: struct {
			Profile Profile `json:"profile"`
		}{p}, idempotent: true, out: &u,
	})
	return u, err
}

// ActivateUser activates a STAGED or DEPROVISIONED user
// (POST /api/v1/users/{id}/lifecycle/activate?sendEmail=...). With sendEmail
// Okta emails the user an activation link.
//
// Errors: ErrInvalidArgument; *APIError wrapping ErrForbidden (E0000016 the
// user is already active, E0000038 not allowed in the user's status),
// ErrNotFound, ErrRateLimited.
func (c *Client) ActivateUser(ctx context.Context, userID string, sendEmail bool) error {
	const op = "activate user"
	_, err := c.do(ctx, &call{
		op: op, method: "POST", route: "/api/v1/users/{id}/lifecycle/activate",
		args:  []pathArg{{"userID", userID}},
		query: url.Values{"sendEmail": {strconv.FormatBool(sendEmail)}},
	})
	return err
}

// Issuer returns the org authorization server's issuer
// (GET /.well-known/openid-configuration, not rate limited, no token sent).
// Okta's Workflows template derives the default RP ID from it: the issuer
// without "https://".
//
// Errors: *APIError wrapping ErrNotFound or ErrServer; an error if the
// document has no issuer.
func (c *Client) Issuer(ctx context.Context) (string, error) {
	const op = "openid configuration"
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if _, err := c.do(ctx, &call{
		op: op, method: "GET", route: "/.well-known/openid-configuration",
		idempotent: true, anonymous: true, out: &doc,
	}); err != nil {
		return "", err
	}
	if doc.Issuer == "" {
		return "", fmt.Errorf("okta: %s: issuer is empty", op)
	}
	return doc.Issuer, nil
}

// DefaultRPID returns the RP ID Okta's Workflows template registers keys
// for: the host of the org's issuer ([Client.Issuer]), e.g.
// "example.okta.com".
//
// Errors: those of Issuer; an error if the issuer is not an absolute URL.
func (c *Client) DefaultRPID(ctx context.Context) (string, error) {
	iss, err := c.Issuer(ctx)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(iss)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("okta: default RP ID: issuer %q is not an absolute URL", iss)
	}
	return u.Hostname(), nil
}

// ListUsers returns the first page of the org's users, at most limit (1 to
// 200) (GET /api/v1/users?limit=N; deprovisioned users are not listed).
// It follows no next link: it is meant for a look at the org, such as
// checking that the credentials may read users. With OAuth the call needs
// [ScopeUsersRead] (or [ScopeUsersManage]).
//
// Errors: ErrInvalidArgument (limit out of range); *APIError wrapping
// ErrUnauthorized, ErrForbidden, ErrRateLimited.
func (c *Client) ListUsers(ctx context.Context, limit int) ([]User, error) {
	const op = "list users"
	if limit < 1 || limit > 200 {
		return nil, argError(op, "limit", "%d is not between 1 and 200", limit)
	}
	var out []User
	_, err := c.do(ctx, &call{
		op: op, method: "GET", route: "/api/v1/users", idempotent: true,
		query: url.Values{"limit": {strconv.Itoa(limit)}}, out: &out,
	})
	return out, err
}

package okta

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxPages bounds how many pages ListGroupMembers follows.
const maxPages = 10000

// AddUserToGroup adds a user to an OKTA_GROUP group
// (PUT /api/v1/groups/{groupId}/users/{userId}, 204). Adding a member again
// is harmless, so the call is retried like a GET.
//
// Errors: ErrInvalidArgument; *APIError wrapping ErrNotFound (unknown group or
// user), ErrForbidden (for example an APP_GROUP), ErrRateLimited.
func (c *Client) AddUserToGroup(ctx context.Context, groupID, userID string) error {
	const op = "add user to group"
	_, err := c.do(ctx, &call{
		op: op, method: "PUT", route: "/api/v1/groups/{id}/users/{userId}",
		args: []pathArg{{"groupID", groupID}, {"userID", userID}}, idempotent: true,
	})
	return err
}

// ListGroupMembers iterates over the members of a group
// (GET /api/v1/groups/{groupId}/users), following Okta's Link rel="next"
// pagination. Pages are fetched lazily as the loop advances; stopping the
// loop stops fetching. An error is yielded once, as the last element, with a
// zero User.
//
// Errors: ErrInvalidArgument; *APIError wrapping ErrNotFound (unknown group),
// ErrForbidden, ErrRateLimited; an error if a next link points elsewhere than
// the group's member list on the org.
func (c *Client) ListGroupMembers(ctx context.Context, groupID string) iter.Seq2[User, error] {
	k := &call{
		op: "list group members", method: "GET", route: "/api/v1/groups/{id}/users",
		args: []pathArg{{"groupID", groupID}}, idempotent: true,
		query: url.Values{"limit": {"200"}},
	}
	// A next link's path is compared decoded (url.URL.Path): the ID as
	// given, not escaped as the first request's path has it.
	return pages[User](ctx, c, k, "/api/v1/groups/"+groupID+"/users", "the org's list of the group's members", nil)
}

// pages iterates over the items of a list Okta pages with Link rel="next":
// the page first asks for, then each next link, which must stay on the org at
// path (decoded, as url.URL.Path; what names it in the error: "the org's
// System Log"), fetched
// lazily as the loop advances, at most maxPages. endAt, if not nil, ends
// the iteration after a page whose item count it accepts, whatever the
// page's links. An error is yielded once, as the last element, with a
// zero T.
func pages[T any](ctx context.Context, c *Client, first *call, path, what string, endAt func(n int) bool) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		k := *first // each iteration starts at the first page
		var zero T
		for page := 0; ; page++ {
			if page == maxPages {
				yield(zero, fmt.Errorf("okta: %s: more than %d pages", k.op, maxPages))
				return
			}
			var items []T
			k.out = &items
			h, err := c.do(ctx, &k)
			if err != nil {
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if endAt != nil && endAt(len(items)) {
				return
			}
			next := nextLink(h)
			if next == "" {
				return
			}
			nu, err := url.Parse(next)
			if err != nil || nu.Scheme != c.org.Scheme || nu.Host != c.org.Host || nu.Path != path {
				yield(zero, fmt.Errorf("okta: %s: next link %q is outside %s", k.op, next, what))
				return
			}
			k.rawURL, k.query = nu.String(), nil
		}
	}
}

// nextLink returns the target of the Link header entry with rel="next".
func nextLink(h http.Header) string {
	for _, v := range h.Values("Link") {
		for part := range strings.SplitSeq(v, ",") {
			target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
			if !ok {
				continue
			}
			target = strings.TrimSpace(target)
			if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			for p := range strings.SplitSeq(params, ";") {
				name, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(strings.TrimSpace(name), "rel") && strings.Trim(strings.TrimSpace(val), `"`) == "next" {
					return target[1 : len(target)-1]
				}
			}
		}
	}
	return ""
}

// Group is an Okta group, as GET /api/v1/groups returns it (the fields
// this package reads).
type Group struct {
	// ID is the group's ID ("00g…").
	ID string `json:"id"`
	// Type is OKTA_GROUP, APP_GROUP or BUILT_IN.
	Type string `json:"type"`
	// Profile holds the group's name and description.
	Profile GroupProfile `json:"profile"`
}

// GroupProfile is a group's profile.
type GroupProfile struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// maxGroupsNamed bounds the groups GroupsNamed returns.
const maxGroupsNamed = 200

// GroupsNamed returns the groups whose name is name
// (GET /api/v1/groups?search=profile.name eq "name", one page of at most
// 200). Okta compares the name without regard to case: the caller compares
// Profile.Name itself where case matters (an ID token's groups claim names
// groups exactly). With OAuth the call needs [ScopeGroupsRead].
//
// Errors: ErrInvalidArgument (an empty name, or one with control
// characters); *APIError wrapping ErrForbidden, ErrRateLimited.
func (c *Client) GroupsNamed(ctx context.Context, name string) ([]Group, error) {
	const op = "list groups"
	if strings.TrimSpace(name) == "" || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return nil, argError(op, "name", "is empty or has control characters")
	}
	var out []Group
	_, err := c.do(ctx, &call{
		op: op, method: "GET", route: "/api/v1/groups", idempotent: true,
		query: url.Values{"search": {"profile.name eq " + quoteExpr(name)}, "limit": {strconv.Itoa(maxGroupsNamed)}},
		out:   &out,
	})
	return out, err
}

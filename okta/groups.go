package okta

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/url"
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
// ErrForbidden, ErrRateLimited; an error if a next link points outside the org.
func (c *Client) ListGroupMembers(ctx context.Context, groupID string) iter.Seq2[User, error] {
	const op = "list group members"
	return func(yield func(User, error) bool) {
		k := &call{
			op: op, method: "GET", route: "/api/v1/groups/{id}/users",
			args: []pathArg{{"groupID", groupID}}, idempotent: true,
			query: url.Values{"limit": {"200"}},
		}
		for page := 0; ; page++ {
			if page == maxPages {
				yield(User{}, fmt.Errorf("okta: %s: more than %d pages", op, maxPages))
				return
			}
			var users []User
			k.out = &users
			h, err := c.do(ctx, k)
			if err != nil {
				yield(User{}, err)
				return
			}
			for _, u := range users {
				if !yield(u, nil) {
					return
				}
			}
			next := nextLink(h)
			if next == "" {
				return
			}
			nu, err := url.Parse(next)
			if err != nil || nu.Scheme != c.org.Scheme || nu.Host != c.org.Host {
				yield(User{}, fmt.Errorf("okta: %s: next link %q is outside the org", op, next))
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

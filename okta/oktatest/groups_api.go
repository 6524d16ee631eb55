package oktatest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Page sizes of GET /api/v1/groups (Okta's listGroups: limit defaults to
// and is at most 10000; a q query is not paged and returns at most 300
// groups unless limit says otherwise).
const (
	groupsDefaultLimit  = 10000
	groupsQDefaultLimit = 300
	groupsMaxLimit      = 10000
)

// groupWire is Okta's Group object (type OKTA_GROUP).
type groupWire struct {
	ID                    string   `json:"id"`
	Created               oktaTime `json:"created"`
	LastUpdated           oktaTime `json:"lastUpdated"`
	LastMembershipUpdated oktaTime `json:"lastMembershipUpdated"`
	ObjectClass           []string `json:"objectClass"`
	Type                  string   `json:"type"`
	Profile               struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"profile"`
	Links map[string]any `json:"_links"`
}

func (s *Server) groupWireLocked(g *group) groupWire {
	w := groupWire{
		ID: g.id, Created: oktaTime(g.created), LastUpdated: oktaTime(g.lastUpdated),
		LastMembershipUpdated: oktaTime(g.lastMembershipUpdated),
		ObjectClass:           []string{"okta:user_group"}, Type: "OKTA_GROUP",
	}
	w.Profile.Name, w.Profile.Description = g.name, g.description
	w.Links = map[string]any{
		"logo": []map[string]string{
			{"name": "medium", "href": s.srv.URL + "/assets/img/logos/groups/okta-medium.png", "type": "image/png"},
			{"name": "large", "href": s.srv.URL + "/assets/img/logos/groups/okta-large.png", "type": "image/png"},
		},
		"users": s.link("/api/v1/groups/" + g.id + "/users"),
		"apps":  s.link("/api/v1/groups/" + g.id + "/apps"),
	}
	return w
}

func (s *Server) newGroupLocked(name, description string) *group {
	now := s.now()
	g := &group{
		id: s.randomID("00g", 17), seq: len(s.groupOrder), name: name, description: description,
		created: now, lastUpdated: now, lastMembershipUpdated: now,
	}
	s.groups[g.id] = g
	s.groupOrder = append(s.groupOrder, g.id)
	return g
}

// groupSearch is the search dialect of GET /api/v1/groups: any profile
// attribute, id, type, source.id and the dates; co only on profile.name
// and profile.description; case-insensitive values.
var groupSearch = exprDialect{
	param:   "search",
	strs:    []string{"id", "type", "source.id"},
	dates:   []string{"created", "lastUpdated", "lastMembershipUpdated"},
	profile: true,
	co:      []string{"profile.name", "profile.description"},
	fold:    true,
}

// groupFilter is the filter dialect of GET /api/v1/groups: id and type
// (eq) and the two update dates (eq, lt, le, gt, ge); case-sensitive.
var groupFilter = exprDialect{
	param: "filter",
	strs:  []string{"id", "type"},
	dates: []string{"lastUpdated", "lastMembershipUpdated"},
}

// groupAttrs are a group's attributes for expressions; source.id (no
// APP_GROUPs) and other profile attributes are absent.
var groupAttrs = attrTable[*group]{
	strs: map[string]func(*group) string{
		"id":                  func(g *group) string { return g.id },
		"type":                func(*group) string { return "OKTA_GROUP" },
		"profile.name":        func(g *group) string { return g.name },
		"profile.description": func(g *group) string { return g.description },
	},
	dates: map[string]func(*group) time.Time{
		"created":               func(g *group) time.Time { return g.created },
		"lastUpdated":           func(g *group) time.Time { return g.lastUpdated },
		"lastMembershipUpdated": func(g *group) time.Time { return g.lastMembershipUpdated },
	},
}

func groupAttr(g *group, name string) attrValue {
	v, _ := groupAttrs.get(g, name)
	return v
}

// handleCreateGroup is POST /api/v1/groups: {profile: {name, description}}
// creates an OKTA_GROUP. A blank or duplicate name is 400 E0000001 (Okta
// documents the code for validation failures; the cause texts are ours).
func (s *Server) handleCreateGroup(x *exchange) {
	var req struct {
		Profile *struct {
			Name        string `json:"name"`
			Description string `json:"description"`
		} `json:"profile"`
	}
	if !s.decode(x, &req) {
		return
	}
	if req.Profile == nil || strings.TrimSpace(req.Profile.Name) == "" {
		s.validation(x, "name", "name: The field cannot be left blank")
		return
	}
	if len([]rune(req.Profile.Name)) > 255 || len([]rune(req.Profile.Description)) > 1024 {
		s.validation(x, "profile", "profile: The field is too long")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.groupOrder {
		if strings.EqualFold(s.groups[id].name, req.Profile.Name) {
			s.validation(x, "name", "name: An object with this field already exists in the current organization")
			return
		}
	}
	g := s.newGroupLocked(req.Profile.Name, req.Profile.Description)
	s.writeJSON(x, http.StatusOK, s.groupWireLocked(g))
}

// handleGetGroup is GET /api/v1/groups/{gid}.
func (s *Server) handleGetGroup(x *exchange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.groupForPathLocked(x); g != nil {
		s.writeJSON(x, http.StatusOK, s.groupWireLocked(g))
	}
}

// groupForPathLocked returns the group of the path parameter gid, or
// answers 404 E0000007 and returns nil.
func (s *Server) groupForPathLocked(x *exchange) *group {
	g, ok := s.groups[x.params["gid"]]
	if !ok {
		s.notFound(x, x.params["gid"], "Group")
		return nil
	}
	return g
}

// handleListGroups is GET /api/v1/groups, in creation order. q matches the
// start of the group's name (case-insensitive) and is not paged; search
// and filter take Okta's expressions; after is the last group's ID.
func (s *Server) handleListGroups(x *exchange) {
	s.serveList(x, listing{
		search: groupSearch, filter: groupFilter,
		defLimit: groupsDefaultLimit, qDefLimit: groupsQDefaultLimit, maxLimit: groupsMaxLimit,
		order: func() []string { return s.groupOrder },
		attr:  func(id, name string) attrValue { return groupAttr(s.groups[id], name) },
		include: func(id string, lq listQuery) bool {
			return lq.q == "" || strings.HasPrefix(strings.ToLower(s.groups[id].name), lq.q)
		},
		startAfter: func(cursor string) int {
			if g, ok := s.groups[cursor]; ok {
				return g.seq + 1
			}
			return len(s.groupOrder)
		},
		wire: func(id string) any { return s.groupWireLocked(s.groups[id]) },
	})
}

// handleRemoveFromGroup is DELETE /api/v1/groups/{gid}/users/{uid} (204;
// removing a user who is not a member is harmless).
func (s *Server) handleRemoveFromGroup(x *exchange) {
	s.withMembership(x, func(g *group, u *user) {
		if i := slices.Index(g.members, u.id); i >= 0 {
			g.members = slices.Delete(g.members, i, i+1)
			g.lastMembershipUpdated = s.now()
			u.groups = slices.DeleteFunc(u.groups, func(id string) bool { return id == g.id })
		}
		s.writeNoContent(x)
	})
}

// withMembership runs fn under s.mu with the group gid and the user uid of
// a membership path; when either is unknown it answers 404 E0000007 and fn
// does not run.
func (s *Server) withMembership(x *exchange, fn func(*group, *user)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.groupForPathLocked(x); g != nil {
		if u := s.userForPathLocked(x, "uid"); u != nil {
			fn(g, u)
		}
	}
}

// AddToGroup seeds a membership, as PUT /api/v1/groups/{gid}/users/{uid}
// does but without an event. It fails for an unknown group or user.
func (s *Server) AddToGroup(groupID, userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[groupID]
	if !ok {
		return fmt.Errorf("oktatest: AddToGroup: unknown group %q", groupID)
	}
	u, ok := s.users[userID]
	if !ok {
		return fmt.Errorf("oktatest: AddToGroup: unknown user %q", userID)
	}
	s.addMemberLocked(g, u)
	return nil
}

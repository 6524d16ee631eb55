package sdkcompat

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	sdk "github.com/okta/okta-sdk-golang/v5/okta"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

func createGroup(t *testing.T, c *sdk.APIClient, name, description string) *sdk.Group {
	t.Helper()
	g, _, err := c.GroupAPI.CreateGroup(t.Context()).Group(sdk.Group{
		Profile: &sdk.GroupProfile{Name: &name, Description: &description},
	}).Execute()
	if err != nil {
		t.Fatalf("CreateGroup %s: %v", name, err)
	}
	return g
}

func groupNames(gs []sdk.Group) []string {
	out := make([]string, 0, len(gs))
	for _, g := range gs {
		out = append(out, deref(g.Profile.Name))
	}
	return out
}

func TestGroupsCreateGetList(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	c := newSDK(t, srv)
	eng := createGroup(t, c, "Engineering", "Builds things")
	createGroup(t, c, "Engineering Managers", "")
	createGroup(t, c, "Sales", "Sells things")
	createGroup(t, c, "YubiKey pilot", "")
	if deref(eng.Type) != "OKTA_GROUP" || !strings.HasPrefix(deref(eng.Id), "00g") || eng.Created == nil ||
		!cmp.Equal(eng.ObjectClass, []string{"okta:user_group"}) {
		t.Errorf("created group: %+v", eng)
	}
	got, _, err := c.GroupAPI.GetGroup(t.Context(), deref(eng.Id)).Execute()
	if err != nil || deref(got.Profile.Name) != "Engineering" || deref(got.Profile.Description) != "Builds things" {
		t.Errorf("GetGroup: %+v %v", got, err)
	}
	_, resp, err := c.GroupAPI.GetGroup(t.Context(), "00gNoSuchGroup000000").Execute()
	if code, body := oktaError(t, resp, err); code != 404 || body.ErrorCode != "E0000007" {
		t.Errorf("GetGroup unknown: %d %+v", code, body)
	}
	// A duplicate or blank name is refused.
	for _, name := range []string{"engineering", " "} {
		n := name
		_, resp, err := c.GroupAPI.CreateGroup(t.Context()).Group(sdk.Group{Profile: &sdk.GroupProfile{Name: &n}}).Execute()
		if code, body := oktaError(t, resp, err); code != 400 || body.ErrorCode != "E0000001" {
			t.Errorf("CreateGroup %q: %d %+v", name, code, body)
		}
	}

	for _, tc := range []struct {
		name, q, search, filter string
		want                    []string
	}{
		{name: "all", want: []string{"Engineering", "Engineering Managers", "Sales", "YubiKey pilot"}},
		{name: "q prefix", q: "eng", want: []string{"Engineering", "Engineering Managers"}},
		{name: "q no match", q: "pilot", want: []string{}},
		{name: "search name sw", search: `profile.name sw "yubikey"`, want: []string{"YubiKey pilot"}},
		{name: "search description co", search: `profile.description co "things"`, want: []string{"Engineering", "Sales"}},
		{name: "filter type", filter: `type eq "OKTA_GROUP"`, want: []string{"Engineering", "Engineering Managers", "Sales", "YubiKey pilot"}},
		{name: "filter id", filter: `id eq "` + deref(eng.Id) + `"`, want: []string{"Engineering"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gs, _, err := withQuery(c.GroupAPI.ListGroups(t.Context()), tc.q, tc.search, tc.filter).Execute()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, groupNames(gs)); diff != "" {
				t.Errorf("groups (-want +got):\n%s", diff)
			}
		})
	}

	// limit and after page the plain list.
	gs, resp, err := c.GroupAPI.ListGroups(t.Context()).Limit(3).Execute()
	if err != nil {
		t.Fatal(err)
	}
	names := groupNames(gs)
	for resp.HasNextPage() {
		var page []sdk.Group
		if resp, err = resp.Next(&page); err != nil {
			t.Fatal(err)
		}
		names = append(names, groupNames(page)...)
	}
	if want := []string{"Engineering", "Engineering Managers", "Sales", "YubiKey pilot"}; !cmp.Equal(want, names) {
		t.Errorf("paged groups = %v, want %v", names, want)
	}
	// A q query is not paged, as at Okta.
	_, resp, err = c.GroupAPI.ListGroups(t.Context()).Q("e").Limit(1).Execute()
	if err != nil || resp.HasNextPage() {
		t.Errorf("q with limit 1: next page %v, %v; Okta does not page a q query", resp.HasNextPage(), err)
	}
}

func TestGroupMembers(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	c := newSDK(t, srv)
	g := createGroup(t, c, "Pilot", "")
	gid := deref(g.Id)
	var want []string
	for i := range 1001 {
		login := "member" + strconv.Itoa(i) + "@example.com"
		u, err := srv.AddUser(okta.Profile{Login: login, Email: login, FirstName: "M", LastName: strconv.Itoa(i)}, okta.UserActive)
		if err != nil {
			t.Fatal(err)
		}
		if i < 3 {
			if _, err := c.GroupAPI.AssignUserToGroup(t.Context(), gid, u.ID).Execute(); err != nil {
				t.Fatal(err)
			}
		} else if err := srv.AddToGroup(gid, u.ID); err != nil {
			t.Fatal(err)
		}
		want = append(want, u.ID)
	}
	// Okta's default page of members is 1000.
	members, resp, err := c.GroupAPI.ListGroupUsers(t.Context(), gid).Execute()
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != 1000 || !resp.HasNextPage() {
		t.Fatalf("first page: %d members, next %v; want 1000 and a next page", len(members), resp.HasNextPage())
	}
	self := links(resp)[0]
	if self != "<"+srv.URL()+"/api/v1/groups/"+gid+"/users>; rel=\"self\"" {
		t.Errorf("self link %q", self)
	}
	got := make([]string, 0, len(want))
	for _, m := range members {
		got = append(got, deref(m.Id))
	}
	var rest []sdk.GroupMember
	if resp, err = resp.Next(&rest); err != nil {
		t.Fatal(err)
	}
	for _, m := range rest {
		got = append(got, deref(m.Id))
	}
	if diff := cmp.Diff(want, got); diff != "" || resp.HasNextPage() {
		t.Errorf("members (-want +got):\n%s\nnext page: %v", diff, resp.HasNextPage())
	}
	// Removing a member.
	if _, err := c.GroupAPI.UnassignUserFromGroup(t.Context(), gid, want[0]).Execute(); err != nil {
		t.Fatal(err)
	}
	members, _, err = c.GroupAPI.ListGroupUsers(t.Context(), gid).Limit(2).Execute()
	if err != nil || len(members) != 2 || deref(members[0].Id) != want[1] {
		t.Errorf("after removal: %d members, first %s, %v", len(members), deref(members[0].Id), err)
	}
}

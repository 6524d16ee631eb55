package sdkcompat

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sdk "github.com/okta/okta-sdk-golang/v5/okta"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

func TestCreateGetUser(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	c := newSDK(t, srv)
	typeID := srv.AddUserType("contractor")
	p := sdk.NewUserProfile()
	p.SetLogin("ada@example.com")
	p.SetEmail("ada@example.com")
	p.SetFirstName("Ada")
	p.SetLastName("Lovelace")
	created, _, err := c.UserAPI.CreateUser(t.Context()).Activate(false).Body(sdk.CreateUserRequest{
		Profile: *p, Type: &sdk.CreateUserRequestType{Id: &typeID},
	}).Execute()
	if err != nil {
		t.Fatal(err)
	}
	if deref(created.Status) != "STAGED" || deref(created.Type.Id) != typeID {
		t.Errorf("created: status %s, type %s; want STAGED, %s", deref(created.Status), deref(created.Type.Id), typeID)
	}
	for _, key := range []string{deref(created.Id), "ada@example.com", "ada"} {
		got, _, err := c.UserAPI.GetUser(t.Context(), key).Execute()
		if err != nil {
			t.Fatalf("GetUser(%q): %v", key, err)
		}
		if deref(got.Id) != deref(created.Id) || deref(got.Profile.Login) != "ada@example.com" {
			t.Errorf("GetUser(%q) = %s %s", key, deref(got.Id), deref(got.Profile.Login))
		}
	}
	// An unknown user type is refused.
	other := "otyNoSuchType000000"
	_, resp, err := c.UserAPI.CreateUser(t.Context()).Activate(false).Body(sdk.CreateUserRequest{
		Profile: *p, Type: &sdk.CreateUserRequestType{Id: &other},
	}).Execute()
	if status, body := oktaError(t, resp, err); status != 400 || body.ErrorCode != "E0000001" {
		t.Errorf("unknown type: %d %+v", status, body)
	}
}

// seedDirectory creates users (in this order) through the SDK and returns
// their IDs by login.
func seedDirectory(t *testing.T, c *sdk.APIClient) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for _, u := range []struct {
		login, first, last string
		activate           bool
	}{
		{"alice@example.com", "Alice", "Archer", true},
		{"albert@example.com", "Albert", "Baker", false},
		{"bob@example.org", "Bob", "Alvarez", true},
		{"carol@example.org", "Carol", "Cooper", false},
		{"dave@example.com", "Dave", "Dunn", true},
	} {
		ids[u.login] = deref(createUser(t, c, u.login, u.first, u.last, u.activate).Id)
	}
	return ids
}

func TestListSearchFilterQ(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	c := newSDK(t, srv)
	ids := seedDirectory(t, c)
	// Dave leaves: DEPROVISIONED users are left out of plain and q lists.
	if _, err := c.UserAPI.DeactivateUser(t.Context(), ids["dave@example.com"]).Execute(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Advance(time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.UserAPI.UpdateUser(t.Context(), ids["carol@example.org"]).User(sdk.UpdateUserRequest{
		Profile: &sdk.UserProfile{AdditionalProperties: map[string]any{"department": "Engineering"}},
	}).Execute(); err != nil {
		t.Fatal(err)
	}
	cutoff := srv.Now().Add(-time.Minute).Format("2006-01-02T15:04:05.000Z")

	tests := []struct {
		name              string
		q, search, filter string
		want              []string
	}{
		{name: "all but deprovisioned", want: []string{"alice@example.com", "albert@example.com", "bob@example.org", "carol@example.org"}},
		{name: "search login eq", search: `profile.login eq "bob@example.org"`, want: []string{"bob@example.org"}},
		{name: "search is case-insensitive", search: `profile.login eq "BOB@Example.org"`, want: []string{"bob@example.org"}},
		{name: "search email sw", search: `profile.email sw "al"`, want: []string{"alice@example.com", "albert@example.com"}},
		{name: "search status and sw", search: `status eq "ACTIVE" and profile.login sw "a"`, want: []string{"alice@example.com"}},
		{name: "search or with parentheses", search: `(status eq "STAGED" and profile.firstName eq "Carol") or profile.lastName eq "Dunn"`,
			want: []string{"carol@example.org", "dave@example.com"}},
		{name: "search includes deprovisioned", search: `status eq "DEPROVISIONED"`, want: []string{"dave@example.com"}},
		{name: "search custom attribute", search: `profile.department eq "engineering"`, want: []string{"carol@example.org"}},
		{name: "search co", search: `profile.email co "example.org"`, want: []string{"bob@example.org", "carol@example.org"}},
		{name: "filter status", filter: `status eq "STAGED"`, want: []string{"albert@example.com", "carol@example.org"}},
		{name: "filter is case-sensitive", filter: `status eq "staged"`, want: []string{}},
		{name: "filter lastUpdated gt", filter: `lastUpdated gt "` + cutoff + `"`, want: []string{"carol@example.org"}},
		{name: "filter id or id", filter: `id eq "` + ids["bob@example.org"] + `" or id eq "` + ids["dave@example.com"] + `"`,
			want: []string{"bob@example.org", "dave@example.com"}},
		{name: "q first name prefix", q: "al", want: []string{"alice@example.com", "albert@example.com", "bob@example.org"}},
		{name: "q excludes deprovisioned", q: "dave", want: []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			users, resp, err := withQuery(c.UserAPI.ListUsers(t.Context()), tc.q, tc.search, tc.filter).Execute()
			if err != nil {
				t.Fatal(err)
			}
			want := make([]string, 0, len(tc.want))
			for _, l := range tc.want {
				want = append(want, ids[l])
			}
			if diff := cmp.Diff(want, userIDs(users)); diff != "" {
				t.Errorf("users (-want +got):\n%s", diff)
			}
			if resp.HasNextPage() {
				t.Errorf("next page on a short list: %q", links(resp))
			}
		})
	}
}

func TestListRefusesBadExpressions(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	c := newSDK(t, srv)
	for _, tc := range []struct{ search, filter, code string }{
		{search: `profile.login eq`, code: "E0000031"},
		{search: `profile.login ne "a"`, code: "E0000031"},
		{search: `profile.city co "x"`, code: "E0000031"},
		{search: `created gt "yesterday"`, code: "E0000030"},
		{filter: `profile.city eq "x"`, code: "E0000031"},
		{filter: `status sw "A"`, code: "E0000031"},
		{filter: `(status eq "ACTIVE"`, code: "E0000031"},
	} {
		req := c.UserAPI.ListUsers(t.Context())
		if tc.search != "" {
			req = req.Search(tc.search)
		} else {
			req = req.Filter(tc.filter)
		}
		_, resp, err := req.Execute()
		status, body := oktaError(t, resp, err)
		if status != 400 || body.ErrorCode != tc.code || len(body.ErrorCauses) == 0 {
			t.Errorf("search %q filter %q: %d %+v, want 400 %s with a cause", tc.search, tc.filter, status, body, tc.code)
		}
	}
}

func TestListUsersPagination(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	c := newSDK(t, srv)
	var want []string
	for i := range 7 {
		login := "user" + strconv.Itoa(i) + "@example.com"
		u, err := srv.AddUser(okta.Profile{Login: login, Email: login, FirstName: "User", LastName: "N" + strconv.Itoa(i)}, okta.UserActive)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, u.ID)
	}
	users, resp, err := c.UserAPI.ListUsers(t.Context()).Limit(3).Execute()
	if err != nil {
		t.Fatal(err)
	}
	got := userIDs(users)
	pages := 1
	for resp.HasNextPage() {
		next := resp.NextPage()
		if !strings.Contains(next, "limit=3") || !strings.Contains(next, "after="+got[len(got)-1]) {
			t.Errorf("next link %q lacks limit=3 and after=<last ID>", next)
		}
		var page []sdk.User
		resp, err = resp.Next(&page)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, userIDs(page)...)
		pages++
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("paged users (-want +got):\n%s", diff)
	}
	if pages != 3 {
		t.Errorf("%d pages, want 3 (3+3+1)", pages)
	}
	// Self links carry the query, and a request without one ends without "?".
	_, resp, err = c.UserAPI.ListUsers(t.Context()).Execute()
	if err != nil {
		t.Fatal(err)
	}
	if l := links(resp); len(l) != 1 || l[0] != "<"+srv.URL()+"/api/v1/users>; rel=\"self\"" {
		t.Errorf("Link = %q, want one self link without a query", l)
	}
	// limit above Okta's maximum of 200 is capped.
	for i := range 200 {
		login := "bulk" + strconv.Itoa(i) + "@example.com"
		if _, err := srv.AddUser(okta.Profile{Login: login, Email: login, FirstName: "Bulk", LastName: "User"}, okta.UserActive); err != nil {
			t.Fatal(err)
		}
	}
	users, resp, err = c.UserAPI.ListUsers(t.Context()).Limit(500).Execute()
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 200 || !resp.HasNextPage() {
		t.Errorf("limit=500: %d users, next %v; want 200 and a next page", len(users), resp.HasNextPage())
	}
	users, _, err = c.UserAPI.ListUsers(t.Context()).Execute()
	if err != nil || len(users) != 200 {
		t.Errorf("default page: %d users, %v; want Okta's default 200", len(users), err)
	}
	users, _, err = c.UserAPI.ListUsers(t.Context()).Q("bulk").Execute()
	if err != nil || len(users) != 10 {
		t.Errorf("q page: %d users, %v; want Okta's q default 10", len(users), err)
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	c := newSDK(t, srv)
	id := deref(createUser(t, c, "life@example.com", "Life", "Cycle", true).Id)
	status := func() string {
		t.Helper()
		u, _, err := c.UserAPI.GetUser(t.Context(), id).Execute()
		if err != nil {
			t.Fatal(err)
		}
		return deref(u.Status)
	}
	ctx := t.Context()
	suspend := func() (*sdk.APIResponse, error) { return c.UserAPI.SuspendUser(ctx, id).Execute() }
	unsuspend := func() (*sdk.APIResponse, error) { return c.UserAPI.UnsuspendUser(ctx, id).Execute() }
	deactivate := func() (*sdk.APIResponse, error) { return c.UserAPI.DeactivateUser(ctx, id).Execute() }
	activate := func() (*sdk.APIResponse, error) {
		_, r, err := c.UserAPI.ActivateUser(ctx, id).SendEmail(false).Execute()
		return r, err
	}
	steps := []struct {
		name       string
		call       func() (*sdk.APIResponse, error)
		wantStatus string // after the call
		wantHTTP   int    // of a refused call; 0: success
		wantCode   string
	}{
		{"suspend active", suspend, "SUSPENDED", 0, ""},
		{"suspend suspended", suspend, "SUSPENDED", 400, "E0000001"},
		{"unsuspend", unsuspend, "ACTIVE", 0, ""},
		{"unsuspend active", unsuspend, "ACTIVE", 400, "E0000001"},
		{"activate active", activate, "ACTIVE", 403, "E0000016"},
		{"reset factors", func() (*sdk.APIResponse, error) { return c.UserAPI.ResetFactors(ctx, id).Execute() }, "ACTIVE", 0, ""},
		{"unlock active", func() (*sdk.APIResponse, error) { return c.UserAPI.UnlockUser(ctx, id).Execute() }, "ACTIVE", 400, "E0000032"},
		{"deactivate", deactivate, "DEPROVISIONED", 0, ""},
		{"suspend deprovisioned", suspend, "DEPROVISIONED", 400, "E0000001"},
		{"deactivate deprovisioned", deactivate, "DEPROVISIONED", 403, "E0000038"},
		{"activate deprovisioned", activate, "ACTIVE", 0, ""},
	}
	for _, st := range steps {
		resp, err := st.call()
		if st.wantHTTP == 0 {
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
		} else if code, body := oktaError(t, resp, err); code != st.wantHTTP || body.ErrorCode != st.wantCode {
			t.Errorf("%s: %d %s, want %d %s", st.name, code, body.ErrorCode, st.wantHTTP, st.wantCode)
		}
		if got := status(); got != st.wantStatus {
			t.Fatalf("after %s: status %s, want %s", st.name, got, st.wantStatus)
		}
	}

	// reactivate works on PROVISIONED users only and returns a token.
	prov, err := srv.AddUser(okta.Profile{Login: "prov@example.com", Email: "prov@example.com", FirstName: "P", LastName: "V"}, okta.UserProvisioned)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := c.UserAPI.ReactivateUser(ctx, prov.ID).SendEmail(false).Execute()
	if err != nil || deref(tok.ActivationToken) == "" || !strings.HasPrefix(deref(tok.ActivationUrl), srv.URL()) {
		t.Errorf("reactivate: %+v %v", tok, err)
	}
	_, resp, err := c.UserAPI.ReactivateUser(ctx, id).Execute()
	if code, body := oktaError(t, resp, err); code != 403 || body.ErrorCode != "E0000038" {
		t.Errorf("reactivate ACTIVE: %d %+v", code, body)
	}
	// unlock takes a LOCKED_OUT user back to ACTIVE.
	locked, err := srv.AddUser(okta.Profile{Login: "locked@example.com", Email: "locked@example.com", FirstName: "L", LastName: "O"}, okta.UserLockedOut)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UserAPI.UnlockUser(ctx, locked.ID).Execute(); err != nil {
		t.Fatal(err)
	}
	if u, _ := srv.User(locked.ID); u.Status != okta.UserActive {
		t.Errorf("after unlock: %s", u.Status)
	}
	// Unknown users are 404 E0000007.
	resp, err = c.UserAPI.SuspendUser(ctx, "00uNoSuchUser0000000").Execute()
	if code, body := oktaError(t, resp, err); code != 404 || body.ErrorCode != "E0000007" {
		t.Errorf("suspend unknown: %d %+v", code, body)
	}
}

func TestDeleteUserTwice(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	c := newSDK(t, srv)
	ids := seedDirectory(t, c)
	gid := srv.AddGroup("Leavers")
	id := ids["bob@example.org"]
	if _, err := c.GroupAPI.AssignUserToGroup(t.Context(), gid, id).Execute(); err != nil {
		t.Fatal(err)
	}
	// The first DELETE deactivates.
	resp, err := c.UserAPI.DeleteUser(t.Context(), id).Execute()
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("first delete: %v %v", resp, err)
	}
	u, _, err := c.UserAPI.GetUser(t.Context(), id).Execute()
	if err != nil || deref(u.Status) != "DEPROVISIONED" {
		t.Fatalf("after first delete: %v %v", u, err)
	}
	// The second deletes for good.
	resp, err = c.UserAPI.DeleteUser(t.Context(), id).Execute()
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("second delete: %v %v", resp, err)
	}
	_, resp, err = c.UserAPI.GetUser(t.Context(), id).Execute()
	if code, body := oktaError(t, resp, err); code != 404 || body.ErrorCode != "E0000007" {
		t.Errorf("get deleted: %d %+v", code, body)
	}
	resp, err = c.UserAPI.DeleteUser(t.Context(), id).Execute()
	if code, body := oktaError(t, resp, err); code != 404 || body.ErrorCode != "E0000007" {
		t.Errorf("third delete: %d %+v", code, body)
	}
	if m := srv.GroupMembers(gid); len(m) != 0 {
		t.Errorf("deleted user still in group: %v", m)
	}
	// The login is free again, and a cursor at the deleted user still pages on.
	createUser(t, c, "bob@example.org", "Bob", "Again", false)
	users, _, err := c.UserAPI.ListUsers(t.Context()).After(id).Execute()
	if err != nil {
		t.Fatal(err)
	}
	var logins []string
	for _, u := range users {
		logins = append(logins, deref(u.Profile.Login))
	}
	if want := []string{"carol@example.org", "dave@example.com", "bob@example.org"}; !slices.Equal(logins, want) {
		t.Errorf("after the deleted user: %v, want %v", logins, want)
	}
}

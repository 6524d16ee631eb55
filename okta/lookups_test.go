package okta_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// TestGroupsNamed: GroupsNamed finds a group by its name (Okta compares
// without regard to case), a name with quotes and backslashes is escaped
// in the search, an unknown name finds nothing, and an empty name is
// refused before any request.
func TestGroupsNamed(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	admins := srv.AddGroup("Preenroll Admins")
	quoted := srv.AddGroup(`IT "Ops" \ Desk`)
	srv.AddGroup("Preenroll Admins Backup")
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		want []string // IDs
	}{
		{"Preenroll Admins", []string{admins}},
		{"preenroll admins", []string{admins}},
		{`IT "Ops" \ Desk`, []string{quoted}},
		{"Nobody", nil},
	} {
		gs, err := c.GroupsNamed(t.Context(), tc.name)
		if err != nil {
			t.Fatalf("GroupsNamed(%q): %v", tc.name, err)
		}
		var got []string
		for _, g := range gs {
			got = append(got, g.ID)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("GroupsNamed(%q) (-want +got):\n%s", tc.name, diff)
		}
	}
	if _, err := c.GroupsNamed(t.Context(), " "); !errors.Is(err, okta.ErrInvalidArgument) {
		t.Errorf("GroupsNamed(blank) = %v, want ErrInvalidArgument", err)
	}
}

// TestListUsers: ListUsers returns one page of at most limit users and
// refuses a limit out of range.
func TestListUsers(t *testing.T) {
	t.Parallel()
	srv := oktatest.NewServer(t)
	for _, login := range []string{"a@example.com", "b@example.com"} {
		if _, err := srv.AddUser(okta.Profile{Login: login, Email: login, FirstName: "A", LastName: "B"}, okta.UserActive); err != nil {
			t.Fatal(err)
		}
	}
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	us, err := c.ListUsers(t.Context(), 1)
	if err != nil || len(us) != 1 || us[0].Profile.Login != "a@example.com" {
		t.Errorf("ListUsers(1) = %v, %v; want a@example.com alone", us, err)
	}
	for _, limit := range []int{0, 201} {
		if _, err := c.ListUsers(t.Context(), limit); !errors.Is(err, okta.ErrInvalidArgument) {
			t.Errorf("ListUsers(%d) = %v, want ErrInvalidArgument", limit, err)
		}
	}
}

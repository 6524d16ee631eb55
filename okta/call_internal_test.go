package okta

import (
	"errors"
	"testing"
)

// A call's path is its route with each placeholder replaced, in order, by
// its validated and escaped argument.
func TestCallPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		route string
		args  []pathArg
		want  string // "" for an error
		inval bool   // the error wraps ErrInvalidArgument
	}{
		{route: "/api/v1/users", want: "/api/v1/users"},
		{route: "/api/v1/users/{id}", args: []pathArg{{"userID", "00u1"}}, want: "/api/v1/users/00u1"},
		{route: "/api/v1/users/{id}", args: []pathArg{{"idOrLogin", "a b@x"}}, want: "/api/v1/users/a%20b@x"},
		{route: "/x/{userId}/enrollments/{id}/mark-error", args: []pathArg{{"userID", "u"}, {"enrollmentID", "e"}},
			want: "/x/u/enrollments/e/mark-error"},
		{route: "/api/v1/users/{id}", args: []pathArg{{"userID", ""}}, inval: true},
		{route: "/api/v1/users/{id}", args: []pathArg{{"userID", "../admin"}}, inval: true},
		{route: "/api/v1/users/{id}", args: []pathArg{{"userID", "a\x00"}}, inval: true},
		{route: "/api/v1/users/{id}"},
		{route: "/api/v1/users", args: []pathArg{{"userID", "u"}}},
	} {
		k := &call{op: "op", route: tc.route, args: tc.args}
		got, err := k.path()
		if got != tc.want || (err == nil) != (tc.want != "") || errors.Is(err, ErrInvalidArgument) != tc.inval {
			t.Errorf("path of %q with %v = %q, %v; want %q (invalid argument %v)", tc.route, tc.args, got, err, tc.want, tc.inval)
		}
	}
}

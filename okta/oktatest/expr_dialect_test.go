package oktatest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestExprDialects pins what each list parameter accepts: attributes (and
// which are dates) and operators.
func TestExprDialects(t *testing.T) {
	type verdict struct{ Date, OK, Eq, Co, Gt bool }
	judge := func(d exprDialect, name string) verdict {
		date, ok := d.attr(name)
		return verdict{date, ok, d.op(name, "eq"), d.op(name, "co"), d.op(name, "gt")}
	}
	tests := []struct {
		name    string
		dialect exprDialect
		attr    string
		want    verdict
	}{
		{"user search id", userSearch, "id", verdict{OK: true, Eq: true, Gt: true}},
		{"user search date", userSearch, "lastLogin", verdict{Date: true, OK: true, Eq: true, Gt: true}},
		{"user search co attribute", userSearch, "profile.email", verdict{OK: true, Eq: true, Co: true, Gt: true}},
		{"user search other profile", userSearch, "profile.department", verdict{OK: true, Eq: true, Gt: true}},
		{"user search bare profile.", userSearch, "profile.", verdict{Eq: true, Gt: true}},
		{"user search unknown", userSearch, "credentials", verdict{Eq: true, Gt: true}},
		{"user filter login", userFilter, "profile.login", verdict{OK: true, Eq: true}},
		{"user filter date", userFilter, "lastUpdated", verdict{Date: true, OK: true, Eq: true, Co: true, Gt: true}},
		{"user filter other profile", userFilter, "profile.department", verdict{Eq: true}},
		{"group search source", groupSearch, "source.id", verdict{OK: true, Eq: true, Gt: true}},
		{"group search co attribute", groupSearch, "profile.description", verdict{OK: true, Eq: true, Co: true, Gt: true}},
		{"group filter date", groupFilter, "lastMembershipUpdated", verdict{Date: true, OK: true, Eq: true, Co: true, Gt: true}},
		{"group filter type", groupFilter, "type", verdict{OK: true, Eq: true}},
		{"group filter profile", groupFilter, "profile.name", verdict{Eq: true}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, judge(tt.dialect, tt.attr)); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", tt.name, diff)
		}
	}
}

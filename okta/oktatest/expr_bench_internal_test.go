package oktatest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/preenroll/preenroll/okta"
)

// BenchmarkAttrLookup measures looking one attribute of one record up for
// an expression, which a list request's search or filter does for every
// record it scans: a user's own attribute (a string, a date), a named
// profile attribute with and without "profile.", an Extra profile
// attribute (decoded from its raw JSON), and a group's attribute.
func BenchmarkAttrLookup(b *testing.B) {
	s := NewServer(b)
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	u := &user{id: "00u1", status: okta.UserActive, created: at, lastUpdated: at, profile: okta.Profile{
		Login: "jan@example.com", Email: "jan@example.com", FirstName: "Jan", LastName: "Lindberg",
		Extra: map[string]json.RawMessage{"department": json.RawMessage(`"Engineering"`)},
	}}
	g := &group{id: "00g1", name: "Engineering", lastUpdated: at}
	for _, bc := range []struct {
		name, attr string
		lookup     func(name string) attrValue
	}{
		{"user/status", "status", func(n string) attrValue { return s.userAttrLocked(u, n) }},
		{"user/lastUpdated", "lastUpdated", func(n string) attrValue { return s.userAttrLocked(u, n) }},
		{"user/profile.email", "profile.email", func(n string) attrValue { return s.userAttrLocked(u, n) }},
		{"user/email", "email", func(n string) attrValue { return s.userAttrLocked(u, n) }},
		{"user/profile.department", "profile.department", func(n string) attrValue { return s.userAttrLocked(u, n) }},
		{"group/profile.name", "profile.name", func(n string) attrValue { return groupAttr(g, n) }},
	} {
		if v := bc.lookup(bc.attr); len(v.strs) == 0 && v.t.IsZero() {
			b.Fatalf("%s: attribute %q is absent", bc.name, bc.attr)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.lookup(bc.attr)
			}
		})
	}
}

package okta

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// profileCases are profiles' JSON that UnmarshalJSON's walk of the members
// must decode as the map-based decoder (unmarshalMap) does.
var profileCases = []string{
	`{}`,
	`null`,
	` {"login":"a@example.com","email":"a@example.com","firstName":"Ada","lastName":"L"} `,
	`{"login":"a@example.com","nickName":"x","zz":{"a":[1,"}]",{"b":null}]},"n":-1.5e3,"t":true,"f":false}`,
	`{ "login" : "a" , "city" : null , "extra" : [ 1 , 2 ] }`,
	`{"login":"a","login":"b"}`,                // the last wins
	`{"login":5,"login":"b"}`,                  // the last wins, so no error
	`{"login":"b","login":5}`,                  // the last is not a string
	`{"\u006cogin":"escaped name"}`,            // an escaped named field
	`{"x\"y":"\"quoted\" \\ \u00e9\t"}`,        // escapes in an extra name and value
	`{"firstName":"\u00e9\ud83d\ude00 \"q\""}`, // escapes in a named value
	"{\"firstName\":\"bad \xff utf8\",\"n\xfe\":\"v\"}",
	`{"city":{"secret":"s3cr3t"}}`,
	`{"city":["a"]}`,
	`{"email":true}`,
	`[]`,
	`"login"`,
	`5`,
	`{"login":"a"`,
	`{"login":"a",}`,
	``,
}

// TestProfileUnmarshalLikeMap: UnmarshalJSON decodes as the map-based
// decoder did: the same Profile, or an error where it failed.
func TestProfileUnmarshalLikeMap(t *testing.T) {
	t.Parallel()
	for _, in := range profileCases {
		checkProfileLikeMap(t, []byte(in))
	}
}

// TestProfileUnmarshalNamesTheAttribute: a profile with one named field
// that is not a string gives the *ProfileAttributeError the map-based
// decoder gave, naming that field. (With several, the map decoder named
// whichever its map's order met first.)
func TestProfileUnmarshalNamesTheAttribute(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want ProfileAttributeError
	}{
		{`{"login":"b","login":5}`, ProfileAttributeError{Attr: "login", Problem: "is not a string"}},
		{`{"city":{"secret":"s3cr3t"},"x":1}`, ProfileAttributeError{Attr: "city", Problem: "is not a string"}},
		{`{"\u0063ity":["a"]}`, ProfileAttributeError{Attr: "city", Problem: "is not a string"}},
		{`{"email":true,"firstName":"Ada"}`, ProfileAttributeError{Attr: "email", Problem: "is not a string"}},
	} {
		var got, old Profile
		for name, err := range map[string]error{"UnmarshalJSON": got.UnmarshalJSON([]byte(tc.in)), "map decoder": old.unmarshalMap([]byte(tc.in))} {
			pe, ok := errors.AsType[*ProfileAttributeError](err)
			if !ok {
				t.Errorf("%s(%s) = %v, want a *ProfileAttributeError", name, tc.in, err)
				continue
			}
			if diff := cmp.Diff(tc.want, *pe); diff != "" {
				t.Errorf("%s(%s) (-want +got):\n%s", name, tc.in, diff)
			}
		}
	}
}

func checkProfileLikeMap(t *testing.T, in []byte) {
	t.Helper()
	var got, want Profile
	gotErr, wantErr := got.UnmarshalJSON(in), want.unmarshalMap(in)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("UnmarshalJSON(%q) error = %v, map decoder's = %v", in, gotErr, wantErr)
	}
	if gotErr != nil {
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("UnmarshalJSON(%q) (-map decoder +got):\n%s", in, diff)
	}
	if !json.Valid(in) {
		t.Errorf("UnmarshalJSON(%q) accepted invalid JSON", in)
	}
}

// FuzzProfileUnmarshal compares UnmarshalJSON with the map-based decoder
// on arbitrary input.
func FuzzProfileUnmarshal(f *testing.F) {
	for _, in := range profileCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) { checkProfileLikeMap(t, in) })
}

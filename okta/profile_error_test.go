package okta_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/okta"
)

// TestProfileAttributeError: a Profile's JSON that cannot be encoded or
// decoded is an *okta.ProfileAttributeError naming the attribute, which
// json.Unmarshal returns as UnmarshalJSON made it (also for a Profile
// inside another value) and json.Marshal wraps; the text is the
// package's, without the value.
func TestProfileAttributeError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		do      func() error
		want    okta.ProfileAttributeError
		text    string // the *ProfileAttributeError's text
		wrapped bool   // json.Marshal wraps it; json.Unmarshal returns it itself
	}{
		{"unmarshal: a number", func() error {
			var p okta.Profile
			return json.Unmarshal([]byte(`{"login":"a@example.com","firstName":5}`), &p)
		}, okta.ProfileAttributeError{Attr: "firstName", Problem: "is not a string"}, `okta: profile attribute "firstName" is not a string`, false},
		{"unmarshal: an object, inside a user", func() error {
			var u okta.User
			return json.Unmarshal([]byte(`{"id":"00u1","profile":{"city":{"secret":"s3cr3t"}}}`), &u)
		}, okta.ProfileAttributeError{Attr: "city", Problem: "is not a string"}, `okta: profile attribute "city" is not a string`, false},
		{"marshal: an extra attribute not JSON", func() error {
			_, err := json.Marshal(okta.Profile{Login: "a@example.com", Extra: map[string]json.RawMessage{"nickName": json.RawMessage(`{"s3cr3t"`)}})
			return err
		}, okta.ProfileAttributeError{Attr: "nickName", Problem: "is not valid JSON"}, `okta: profile attribute "nickName" is not valid JSON`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			var pe *okta.ProfileAttributeError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) holds no *ProfileAttributeError", err, err)
			}
			if diff := cmp.Diff(tc.want, *pe); diff != "" {
				t.Errorf("ProfileAttributeError (-want +got):\n%s", diff)
			}
			if got := pe.Error(); got != tc.text {
				t.Errorf("Error() = %q, want %q", got, tc.text)
			}
			if !tc.wrapped && err != error(pe) {
				t.Errorf("json.Unmarshal returned %v (%T), not the *ProfileAttributeError itself", err, err)
			}
			if s := err.Error(); strings.Contains(s, "s3cr3t") {
				t.Errorf("the error's text %q holds the value", s)
			}
		})
	}
}

package fulfillment

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Validation errors and the text helpers every validator uses.

// FieldError is one problem with one field. Value is the offending value,
// shortened to at most 32 bytes plus "…" (Error quotes it).
type FieldError struct {
	Field   string // e.g. "zipCode" or "fulfillmentData[0].productId"
	Problem string // e.g. "required"
	Value   string // the value, shortened
}

// Error reads `field "value": problem` (or `field: problem` when the
// value is empty).
func (e FieldError) Error() string {
	if e.Value == "" {
		return e.Field + ": " + e.Problem
	}
	return fmt.Sprintf("%s %q: %s", e.Field, e.Value, e.Problem)
}

// ValidationError holds every problem a Validate method found. It wraps
// ErrInvalidShipping or ErrInvalidOrder, by what was validated. The one
// [Service.Order] and [Service.OrderBatch] give a user that no store can
// key (see [CheckID]) wraps that check's [*IDError] too, so that it
// matches [ErrInvalidID] and errors.As finds the reason, as in a Store's
// error for the same ID.
type ValidationError struct {
	Fields []FieldError // every problem, in field order
	kind   error
	cause  error // the *IDError of a user ID CheckID refuses, or nil
}

// Error lists every problem, separated by semicolons.
func (e *ValidationError) Error() string {
	var b strings.Builder
	if e.kind != nil {
		b.WriteString(e.kind.Error())
	} else {
		b.WriteString("fulfillment: invalid input")
	}
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Error())
	}
	return b.String()
}

// Unwrap returns ErrInvalidShipping or ErrInvalidOrder, and the
// [*IDError] of a user ID that no store can key.
func (e *ValidationError) Unwrap() []error {
	var errs []error
	if e.kind != nil {
		errs = append(errs, e.kind)
	}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

// Field returns the problem reported for field, if any.
func (e *ValidationError) Field(field string) (FieldError, bool) {
	for _, f := range e.Fields {
		if f.Field == field {
			return f, true
		}
	}
	return FieldError{}, false
}

// validator collects FieldErrors.
type validator struct{ errs []FieldError }

func (v *validator) add(field, value, problem string) {
	v.errs = append(v.errs, FieldError{Field: field, Problem: problem, Value: truncateValue(value)})
}

func (v *validator) err(kind error) error {
	if len(v.errs) == 0 {
		return nil
	}
	return &ValidationError{Fields: v.errs, kind: kind}
}

// text checks one text field: valid UTF-8, required, no control
// characters (except those in allowed), at most maxBytes, then check (which may be
// nil), then that it is normalised.
func (v *validator) text(field, s string, required bool, maxBytes int, check func(string) string, allowed ...string) {
	switch {
	case !utf8.ValidString(s):
		v.add(field, s, "invalid UTF-8")
	case s == "" && required:
		v.add(field, s, "required")
	case s == "":
	case hasControl(s, allowed...):
		v.add(field, s, "contains control or invisible formatting characters")
	case len(s) > maxBytes:
		v.add(field, s, fmt.Sprintf("longer than %d bytes (%d)", maxBytes, len(s)))
	default:
		if check != nil {
			if p := check(s); p != "" {
				v.add(field, s, p)
				return
			}
		}
		if len(allowed) == 0 && cleanText(s) != s {
			v.add(field, s, "not normalised (extra whitespace or not NFC)")
		}
	}
}

// hasControl reports whether s has a control character (Cc), an invisible
// formatting character (Cf, such as bidi overrides, but not the joiners
// U+200C/U+200D), U+FFFD or a noncharacter, other than those in allowed.
func hasControl(s string, allowed ...string) bool {
	for _, r := range s {
		if len(allowed) > 0 && strings.ContainsRune(allowed[0], r) {
			continue
		}
		switch {
		case r == '\u200c' || r == '\u200d':
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == utf8.RuneError,
			r >= 0xFDD0 && r <= 0xFDEF, r&0xFFFE == 0xFFFE:
			return true
		}
	}
	return false
}

// cleanText is the normal form of free text: NFC, trimmed, inner
// whitespace runs collapsed to one space. Invalid UTF-8 is kept.
func cleanText(s string) string {
	if utf8.ValidString(s) {
		s = norm.NFC.String(s)
	}
	return collapseSpace(s)
}

// collapseSpace trims s and collapses inner runs of Unicode whitespace to
// one ASCII space, keeping every other byte (invalid UTF-8 included).
func collapseSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// truncateBytes cuts s to at most n bytes on a character boundary and drops
// trailing spaces.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimRight(s[:cut], " ")
}

// truncateValue shortens a value for an error report: at most 32 bytes on
// a character boundary, then "…".
func truncateValue(s string) string {
	const max = 32
	if len(s) <= max {
		return s
	}
	return truncateBytes(s, max) + "…"
}

// truncateID shortens an ID from outside (an event's UUID, a user ID) for
// a log line or an error, longer than truncateValue allows so that a real
// one is kept whole: an Okta event UUID is 36 bytes, and a line that cut it
// could not be matched to Okta's System Log.
func truncateID(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return truncateBytes(s, max) + "…"
}

// checkUserKey validates a user as [Service.Order] and
// [Service.OrderBatch] take one (an Okta user ID or login) before Okta is
// asked for it: a *ValidationError wrapping ErrInvalidOrder for field
// "userId", or nil. An ID the store could not key ([CheckID]'s rule,
// idProblem) is refused here, not by an Okta round trip whose error would
// quote it, and its error wraps the *IDError CheckID would return (the
// empty key included); a key of white space only, or with white space
// around it, is one a store could hold, and its error does not.
func checkUserKey(key string) error {
	var problem string
	cause := CheckID("user ID", key)
	if ie, ok := cause.(*IDError); ok {
		problem = ie.Problem
	}
	switch {
	case strings.TrimSpace(key) == "":
		problem = "required"
	case problem != "":
	case strings.TrimSpace(key) != key:
		problem = "leading or trailing white space"
	default:
		return nil
	}
	return &ValidationError{Fields: []FieldError{{Field: "userId", Problem: problem, Value: truncateValue(key)}}, kind: ErrInvalidOrder, cause: cause}
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

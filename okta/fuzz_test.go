package okta

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzDecodeErrorBody feeds arbitrary error bodies and headers to the
// APIError decoder: it must never panic, must keep Body bounded and must
// keep the status-to-sentinel mapping.
func FuzzDecodeErrorBody(f *testing.F) {
	f.Add(400, `{"errorCode":"E0000001","errorSummary":"Api validation failed: x","errorLink":"E0000001","errorId":"oae1","errorCauses":[{"errorSummary":"x: bad"}]}`, "")
	f.Add(400, `{"errorCode":"E0000001","errorCauses":{"errorSummary":"There was an unexpected internal error. Please try again."}}`, "")
	f.Add(429, `{"errorCode":"E0000047"}`, "1767225600")
	f.Add(500, `<html>`, "x")
	f.Add(404, `{"errorCauses":null}`, "-5")
	f.Fuzz(func(t *testing.T, status int, body, reset string) {
		if status < 100 || status > 999 {
			return
		}
		resp := &http.Response{StatusCode: status, Header: http.Header{}}
		resp.Header.Set("X-Rate-Limit-Reset", reset)
		resp.Header.Set("Date", "Thu, 01 Jan 2026 00:00:00 GMT")
		e := newAPIError("op", resp, []byte(body), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		if len(e.Body) > maxErrorBody {
			t.Fatalf("Body has %d bytes", len(e.Body))
		}
		if e.RetryAfter < 0 {
			t.Fatalf("RetryAfter = %v", e.RetryAfter)
		}
		if !strings.HasPrefix(e.Error(), "okta: op: HTTP ") {
			t.Fatalf("Error() = %q", e.Error())
		}
		if s := statusSentinels.For(status); s != nil && len(e.Unwrap()) != 1 {
			t.Fatalf("Unwrap() = %v for status %d", e.Unwrap(), status)
		}
	})
}

// FuzzDecodeEnrollments decodes arbitrary list-enrollments bodies: no panic,
// and any successfully decoded list re-encodes.
func FuzzDecodeEnrollments(f *testing.F) {
	f.Add(`[{"id":"fwf23789dfs9asdf782","factorType":"webauthn","provider":"FIDO","vendorName":"FIDO","fulfillmentProvider":"yubico","status":"ACTIVE","created":"2018-05-24T20:43:19.000Z","lastUpdated":"2018-05-24T21:43:32.000Z","profile":{"credentialId":"l3Br","authenticatorName":"YubiKey 5C","presetPinAvailable":true},"_links":{"self":{"href":"https://example.okta.com/x","hints":{"allow":["DELETE"]}}}}]`)
	f.Add(`[{"status":"FULFILLMENT_WHATEVER","extra":[1,{}]}]`)
	f.Add(`{"productId":"1"}`)
	f.Fuzz(func(t *testing.T, body string) {
		var es []Enrollment
		if json.Unmarshal([]byte(body), &es) == nil {
			if _, err := json.Marshal(es); err != nil {
				t.Fatalf("re-encode: %v", err)
			}
		}
		var fd FulfillmentData
		_ = json.Unmarshal([]byte(body), &fd)
		var tx AuthnTransaction
		if json.Unmarshal([]byte(body), &tx) == nil {
			_, _ = tx.WebAuthnRequestOptions("example.okta.com")
		}
		var p Profile
		if json.Unmarshal([]byte(body), &p) == nil {
			if _, err := json.Marshal(p); err != nil {
				t.Fatalf("profile re-encode: %v", err)
			}
		}
		_, _ = ParseWebAuthnAssertion([]byte(body))
	})
}

// FuzzCallPath fills a route's placeholders with arbitrary IDs: the path is
// the route with each one escaped, or the call is refused with
// ErrInvalidArgument (empty, "." or "..", a path separator, a control
// character).
func FuzzCallPath(f *testing.F) {
	f.Add("00u1", "e1")
	f.Add("a b@x", "qU3%")
	f.Add("../admin", "x")
	f.Add("..", "x")
	f.Add("", "x")
	f.Add("u", "a\x00")
	f.Fuzz(func(t *testing.T, userID, enrollmentID string) {
		k := &call{op: "op", route: "/u/{userId}/enrollments/{id}/mark-error",
			args: []pathArg{{"userID", userID}, {"enrollmentID", enrollmentID}}}
		got, err := k.path()
		if err != nil {
			if !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("path() error = %v, want ErrInvalidArgument", err)
			}
			return
		}
		if want := "/u/" + url.PathEscape(userID) + "/enrollments/" + url.PathEscape(enrollmentID) + "/mark-error"; got != want {
			t.Fatalf("path() = %q, want %q", got, want)
		}
		for _, id := range []string{userID, enrollmentID} {
			if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\\") ||
				strings.ContainsFunc(id, func(r rune) bool { return r < ' ' || r == 0x7f }) {
				t.Fatalf("path() accepted ID %q", id)
			}
		}
	})
}

// A route whose placeholders do not match its arguments is an error, never
// a path with a placeholder left in it.
func TestCallPathArgumentCount(t *testing.T) {
	one := []pathArg{{"userID", "u"}}
	if p, err := (&call{op: "op", route: "/users/{id}/groups/{groupId}", args: one}).path(); err == nil {
		t.Errorf("two placeholders, one argument: path() = %q, want an error", p)
	}
	if p, err := (&call{op: "op", route: "/users", args: one}).path(); err == nil {
		t.Errorf("no placeholder, one argument: path() = %q, want an error", p)
	}
	if p, err := (&call{op: "op", route: "/users"}).path(); err != nil || p != "/users" {
		t.Errorf("no placeholder, no argument: path() = %q, %v; want /users", p, err)
	}
}

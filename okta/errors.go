package okta

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/preenroll/preenroll/internal/httpclient"
	"github.com/preenroll/preenroll/webauthn"
)

// statusSentinels records which sentinel below stands for which HTTP status
// (a 422 has none); APIError.Unwrap and TokenError.Unwrap look it up.
var statusSentinels httpclient.StatusSentinels

// Sentinel errors. An [*APIError] unwraps to the one matching its HTTP
// status, so callers can test with errors.Is.
var (
	// ErrInvalidArgument reports a request rejected by the client before it
	// was sent: a missing or malformed field. The client's own checks return
	// an [*ArgumentError] matching it, which names the argument and the
	// problem.
	ErrInvalidArgument = errors.New("okta: invalid argument")
	// ErrNotFound: HTTP 404 (E0000007 resource not found, E0000008 path not found).
	ErrNotFound = statusSentinels.New("okta: not found", http.StatusNotFound)
	// ErrRateLimited: HTTP 429 (E0000047), returned once the retry policy
	// gives up waiting.
	ErrRateLimited = statusSentinels.New("okta: rate limited", http.StatusTooManyRequests)
	// ErrValidation: HTTP 400 (E0000001 "Api validation failed", E0000003
	// malformed body, ...). See APIError.Causes for the fields.
	ErrValidation = statusSentinels.New("okta: validation failed", http.StatusBadRequest)
	// ErrUnauthorized: HTTP 401 (E0000011 invalid token, E0000004
	// authentication failed, E0000015 feature not enabled).
	ErrUnauthorized = statusSentinels.New("okta: unauthorized", http.StatusUnauthorized)
	// ErrForbidden: HTTP 403 (E0000006 no permission, E0000038 operation not
	// allowed in the user's status, E0000016 already active, E0000068 invalid
	// factor answer, ...).
	ErrForbidden = statusSentinels.New("okta: forbidden", http.StatusForbidden)
	// ErrConflict: HTTP 409 (E0000112 user still being activated).
	ErrConflict = statusSentinels.New("okta: conflict", http.StatusConflict)
	// ErrServer: HTTP 5xx.
	ErrServer = statusSentinels.New("okta: server error", httpclient.Status5xx)
)

// ArgumentError is the error of a call, option or key the client refused
// before sending anything: an argument, or a field of one, that is missing
// or malformed. It matches [ErrInvalidArgument] (errors.Is), and errors.As
// finds it for a caller who words the reason for a person. Like the rest of
// the package's errors it never holds a secret: a token, a key's bytes or a
// client assertion is named, never quoted.
type ArgumentError struct {
	// Op is what refused the argument, as the message starts: the call
	// ("get user", "enroll") or option ("WithOAuth"); "private key" for
	// [ParsePrivateKey] and [NewPrivateKey], whose argument is the key
	// itself; "" for the org URL and token [NewClient] takes, and for a
	// nil option given to it (Arg "option 1").
	Op string
	// Arg names the argument or field refused as the API names it
	// ("idOrLogin", "profile.login", "Scopes[0]", "org URL"), or several
	// refused together ("userId and authenticatorEnrollmentId"); "" when
	// Op names it (a private key refused as a whole).
	Arg string
	// Problem is what is wrong, worded to follow Arg: "is empty",
	// `"a/b" contains a path separator`, "is not between 1 and 200"; or,
	// when Arg is "", a phrase of its own ("neither a PEM private key nor
	// a JWK").
	Problem string
}

// maxValueShown is how much of a refused value an [ArgumentError] quotes:
// its text goes to logs and to the console's pages, and the value came
// from outside (a user ID typed into a URL, a key file, a config value).
const maxValueShown = 64

// quoted is v as an ArgumentError's problem shows it: quoted (%q), cut to
// maxValueShown bytes.
func quoted(v string) string { return strconv.Quote(httpclient.Clip(v, maxValueShown)) }

// keyProblem is what is wrong with a key webauthn refused, for an
// ArgumentError's problem: the *webauthn.FieldError's reason (`jwk "k":
// y: missing`), without webauthn's prefix and sentinel; any other error
// whole.
func keyProblem(err error) string {
	if fe, ok := errors.AsType[*webauthn.FieldError](err); ok {
		return fe.Reason()
	}
	return err.Error()
}

// argError returns an [*ArgumentError] for op's arg, its problem formatted.
func argError(op, arg, format string, args ...any) error {
	return &ArgumentError{Op: op, Arg: arg, Problem: fmt.Sprintf(format, args...)}
}

// optionError is what NewClient returns for the error of an option: the
// *ArgumentError of a shared option's *httpclient.OptionError, or err
// itself (okta's own options return *ArgumentError).
func optionError(err error) error {
	if oe, ok := errors.AsType[*httpclient.OptionError](err); ok {
		return &ArgumentError{Op: oe.Op, Arg: oe.Arg, Problem: oe.Problem}
	}
	return httpclient.WrapIn(ErrInvalidArgument)(err)
}

// Error reads "okta: invalid argument: Op: Arg Problem", e.g.
// `okta: invalid argument: get user: idOrLogin "a/b" contains a path separator`,
// leaving out Op and Arg when they are "" (`okta: invalid argument: private
// key: empty`).
func (e *ArgumentError) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalidArgument.Error())
	b.WriteString(": ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason())
	return b.String()
}

// Reason is Arg and Problem as Error words them, without the package's
// prefix and Op: `idOrLogin "a/b" contains a path separator`, "empty".
func (e *ArgumentError) Reason() string {
	switch {
	case e.Arg == "":
		return e.Problem
	case e.Problem == "":
		return e.Arg
	}
	return e.Arg + " " + e.Problem
}

// Unwrap returns [ErrInvalidArgument].
func (e *ArgumentError) Unwrap() error { return ErrInvalidArgument }

// ProfileAttributeError is the error of a [Profile]'s JSON encoding or
// decoding for one attribute: a value of Extra that is not valid JSON
// ([Profile.MarshalJSON]), or a named field ("login", "email", ...) whose
// value is not a string or null ([Profile.UnmarshalJSON]). json.Unmarshal
// returns it as it is, json.Marshal wraps it, and errors.As finds it for a
// caller that names the attribute itself. It never holds the value.
type ProfileAttributeError struct {
	// Attr is the attribute's name as the profile's JSON has it
	// ("firstName", or an Extra key).
	Attr string
	// Problem is what is wrong, worded to follow the attribute: "is not
	// valid JSON", "is not a string".
	Problem string
}

// Error reads "okta: profile attribute "Attr" Problem", e.g.
// `okta: profile attribute "firstName" is not a string`.
func (e *ProfileAttributeError) Error() string {
	return fmt.Sprintf("okta: profile attribute %q %s", e.Attr, e.Problem)
}

// maxErrorBody bounds APIError.Body; maxErrorCauses bounds APIError.Causes.
const (
	maxErrorBody   = 8 << 10
	maxErrorCauses = 100
	maxErrorText   = 1 << 10 // an errorSummary, of the error or of a cause
)

// ErrorCause is one entry of an Okta error's errorCauses.
type ErrorCause struct {
	// ErrorSummary is the human-readable cause, e.g.
	// "login: An object with this field already exists in the current organization".
	ErrorSummary string `json:"errorSummary"`
	// Reason, LocationType, Location and Domain appear on some causes.
	Reason       string `json:"reason,omitempty"`
	LocationType string `json:"locationType,omitempty"` // see Reason
	Location     string `json:"location,omitempty"`     // see Reason
	Domain       string `json:"domain,omitempty"`       // see Reason
}

// Causes is the decoded errorCauses member. Okta's schema says it is an array,
// but the preregistration 400 examples send a single object; both decode.
type Causes []ErrorCause

// UnmarshalJSON accepts an array of causes, a single cause object or null.
func (c *Causes) UnmarshalJSON(b []byte) error {
	return oneOrMany(b, (*[]ErrorCause)(c))
}

// oneOrMany decodes into *dst a JSON array of T, a single T object (as one
// element) or null (nil): the shapes Okta uses interchangeably for
// errorCauses and, across spec versions, for fulfillmentData. *dst is set
// only on success.
func oneOrMany[T any](b []byte, dst *[]T) error {
	var many []T
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '{' {
		var one T
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		many = []T{one}
	} else if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*dst = many
	return nil
}

// APIError is an error response from Okta. Its zero value is not useful;
// the client creates it from a non-2xx response.
type APIError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// ErrorCode is Okta's errorCode, e.g. "E0000007". It is the only member
	// Okta supports for flow control.
	ErrorCode string
	// ErrorSummary is Okta's human-readable summary.
	ErrorSummary string
	// ErrorLink is Okta's errorLink (currently equal to ErrorCode).
	ErrorLink string
	// ErrorID identifies this error occurrence for Okta support.
	ErrorID string
	// Causes are the decoded errorCauses (array or object on the wire).
	Causes Causes
	// RequestID is the X-Okta-Request-Id response header.
	RequestID string
	// RetryAfter is how long to wait before sending a 429'd request again,
	// as the client itself waits: Retry-After if Okta sent one, else until
	// X-Rate-Limit-Reset (counted from the response's Date) plus one
	// second, since the reset is in whole seconds. Zero if unknown or not
	// a 429.
	RetryAfter time.Duration
	// Body is the raw response body, truncated to 8 KiB.
	Body []byte
	// Attempts is how many times the request was sent.
	Attempts int
	// Op names the client call, e.g. "get user".
	Op string
}

// Error formats the error as "okta: <op>: HTTP <status> <code>: <summary> (<causes>)".
func (e *APIError) Error() string {
	b := errorStart(e.Op)
	writeHTTP(b, e.StatusCode, e.ErrorCode, e.ErrorSummary)
	if len(e.Causes) > 0 {
		b.WriteString(" (")
		for i, c := range e.Causes {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(c.ErrorSummary)
		}
		b.WriteString(")")
	}
	writeRequestID(b, e.RequestID)
	if e.Attempts > 1 {
		fmt.Fprintf(b, " after %d attempts", e.Attempts)
	}
	return b.String()
}

// errorStart begins the message of an error of the call op:
// "okta: <op>: ", or "okta: " without an op.
func errorStart(op string) *strings.Builder {
	b := new(strings.Builder)
	b.WriteString("okta: ")
	if op != "" {
		b.WriteString(op)
		b.WriteString(": ")
	}
	return b
}

// writeHTTP appends "HTTP <status> <code>: <summary>" (without code or
// summary when empty) to an error message.
func writeHTTP(b *strings.Builder, status int, code, summary string) {
	fmt.Fprintf(b, "HTTP %d", status)
	if code != "" {
		b.WriteString(" ")
		b.WriteString(code)
	}
	if summary != "" {
		b.WriteString(": ")
		b.WriteString(summary)
	}
}

// writeRequestID appends " [request <id>]" to an error message, nothing
// for an empty id.
func writeRequestID(b *strings.Builder, id string) {
	if id != "" {
		fmt.Fprintf(b, " [request %s]", id)
	}
}

// Unwrap returns the sentinel matching the status code, so errors.Is works.
func (e *APIError) Unwrap() []error { return statusSentinels.Sentinels(e.StatusCode) }

// errorBody is Okta's Error schema.
type errorBody struct {
	ErrorCode    string `json:"errorCode"`
	ErrorSummary string `json:"errorSummary"`
	ErrorLink    string `json:"errorLink"`
	ErrorID      string `json:"errorId"`
	ErrorCauses  Causes `json:"errorCauses"`
}

// newAPIError builds an APIError from a response whose body was already read
// (bounded by the caller).
func newAPIError(op string, resp *http.Response, body []byte, now time.Time) *APIError {
	e := &APIError{
		Op:         op,
		StatusCode: resp.StatusCode,
		RequestID:  resp.Header.Get("X-Okta-Request-Id"),
	}
	// Decode the whole (already bounded) body, so that many causes do not
	// cost the error code; keep only the first 8 KiB raw.
	e.Body = append([]byte(nil), body[:min(len(body), maxErrorBody)]...)
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil {
		e.ErrorCode = eb.ErrorCode
		e.ErrorSummary = eb.ErrorSummary
		e.ErrorLink = eb.ErrorLink
		e.ErrorID = eb.ErrorID
		e.ErrorSummary = httpclient.Clip(e.ErrorSummary, maxErrorText)
		e.Causes = eb.ErrorCauses[:min(len(eb.ErrorCauses), maxErrorCauses)]
		for i := range e.Causes {
			e.Causes[i].ErrorSummary = httpclient.Clip(e.Causes[i].ErrorSummary, maxErrorText)
		}
	} else {
		// Not an Okta error object (a proxy page, a truncated body, ...):
		// keep only a short, printable summary.
		e.ErrorSummary = http.StatusText(resp.StatusCode)
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		if d, ok := rateLimitWait(resp.Header, now); ok {
			e.RetryAfter = d
		}
	}
	return e
}

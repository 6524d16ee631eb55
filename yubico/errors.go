package yubico

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/preenroll/preenroll/internal/httpclient"
)

// statusSentinels records which sentinel below stands for which HTTP status,
// before the error code of a 400 or 422 refines it (see APIError.Unwrap).
var statusSentinels httpclient.StatusSentinels

// Sentinel errors. An [*APIError] matches (errors.Is) the sentinel of its
// status: 401 ErrUnauthorized; 403 ErrForbidden; 404, a 400 with error code
// invalid_shipment_id, and a 400 on a GET of one shipment or product by ID
// (Yubico's answer to an unknown ID) ErrNotFound; 400 and 422 ErrValidation; 409
// ErrConflict (also a 4xx whose error code names a shipment that can no longer
// be edited, or an idempotency key reused with a different body); 429 ErrRateLimited; 5xx ErrServer.
// Requests the client refuses before sending them match ErrInvalidArgument.
var (
	// ErrInvalidArgument reports a request rejected by the client before it
	// was sent (a missing or malformed field), or an invalid NewClient
	// argument or option.
	ErrInvalidArgument = errors.New("yubico: invalid argument")
	// ErrForbidden: HTTP 403 (the token lacks permission).
	ErrForbidden    = statusSentinels.New("yubico: forbidden", http.StatusForbidden)
	ErrUnauthorized = statusSentinels.New("yubico: unauthorized", http.StatusUnauthorized)
	ErrNotFound     = statusSentinels.New("yubico: not found", http.StatusNotFound)
	ErrValidation   = statusSentinels.New("yubico: invalid request", http.StatusBadRequest, http.StatusUnprocessableEntity)
	ErrConflict     = statusSentinels.New("yubico: conflict", http.StatusConflict)
	ErrRateLimited  = statusSentinels.New("yubico: rate limited", http.StatusTooManyRequests)
	ErrServer       = statusSentinels.New("yubico: server error", httpclient.Status5xx)
)

// Error codes the client recognises in error bodies (the codes of the fake
// in package yubicotest; Yubico's own error body format is not public).
const (
	// CodeInvalidShipmentID: the shipment ID names no shipment of the organisation.
	CodeInvalidShipmentID = "invalid_shipment_id"
	// CodeShipmentNotEditable: the shipment is past state 9 and can no longer be
	// updated or cancelled.
	CodeShipmentNotEditable = "shipment_not_editable"
	// CodeValidationFailed: the request body failed validation; see Details.
	CodeValidationFailed = "validation_failed"
)

// maxErrorBody bounds APIError.Body; maxErrorDetails bounds APIError.Details.
const (
	maxErrorBody    = 4 << 10
	maxErrorDetails = 100
)

// ErrorDetail is one problem reported by the service, usually about one field.
type ErrorDetail struct {
	Field       string `json:"field,omitempty"` // the request field at fault, if one
	Description string `json:"description"`     // what is wrong
}

// APIError is a non-2xx response from the API. Use errors.Is with the
// sentinels, or errors.As to read the fields.
type APIError struct {
	Method     string        // HTTP method of the request
	Path       string        // path below the base URL, e.g. "/shipments_exact/abc"
	StatusCode int           // HTTP status
	Code       string        // the service's error code, if the body had one
	Message    string        // the service's message, if any
	Details    []ErrorDetail // field-level problems, if any
	RequestID  string        // X-Request-Id response header, if any
	RetryAfter time.Duration // from Retry-After, if any
	Body       []byte        // the raw body, at most 4 KiB
	Attempts   int           // how many times the request was sent

	notFoundOn400 bool
}

// Error describes the failure (never containing the token).
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "yubico: %s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		b.WriteString(": " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	for i, d := range e.Details {
		if i == 3 {
			fmt.Fprintf(&b, " (and %d more)", len(e.Details)-3)
			break
		}
		if d.Field != "" {
			fmt.Fprintf(&b, "; %s: %s", d.Field, d.Description)
		} else {
			fmt.Fprintf(&b, "; %s", d.Description)
		}
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	return b.String()
}

// Unwrap returns the sentinels the error matches.
func (e *APIError) Unwrap() []error {
	errs := statusSentinels.Sentinels(e.StatusCode)
	if len(errs) == 1 && errs[0] == ErrValidation { // 400 or 422: the code may say more
		switch {
		case e.Code == CodeShipmentNotEditable || e.Code == CodeIdempotencyKeyReused:
			errs[0] = ErrConflict
		case e.Code == CodeInvalidShipmentID || (e.notFoundOn400 && e.Code != CodeValidationFailed):
			errs[0] = ErrNotFound
		}
	}
	return errs
}

// errorBody is the tolerant shape of an error response: the fake's
// {"error_code","message","details":[{"field","description"}]} and the
// validate-address {"status","details":[{"description"}]} both fit.
type errorBody struct {
	ErrorCode   string          `json:"error_code"`
	Code        json.RawMessage `json:"code"`
	Error       json.RawMessage `json:"error"`
	Message     string          `json:"message"`
	Description string          `json:"error_description"`
	Status      json.RawMessage `json:"status"`
	Details     []struct {
		Field       string `json:"field"`
		Description string `json:"description"`
		Message     string `json:"message"`
	} `json:"details"`
}

func (c *Client) apiError(r request, label string, resp *http.Response, body []byte) *APIError {
	e := &APIError{
		Method:        r.method,
		Path:          label,
		StatusCode:    resp.StatusCode,
		RequestID:     resp.Header.Get("X-Request-Id"),
		RetryAfter:    retryAfter(resp.Header, c.core.Clock.Now()),
		notFoundOn400: r.notFoundOn400,
	}
	// Decode the whole (already bounded) body: a long list of details must
	// not lose the error code, which decides the sentinel.
	e.Body = append([]byte(nil), body[:min(len(body), maxErrorBody)]...)
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil {
		e.Code = eb.ErrorCode
		if e.Code == "" {
			e.Code = jsonString(eb.Code)
		}
		e.Message = eb.Message
		if e.Message == "" {
			e.Message = eb.Description
		}
		if s := jsonString(eb.Error); s != "" {
			if e.Code == "" {
				e.Code = s
			} else if e.Message == "" {
				e.Message = s
			}
		}
		if e.Message == "" {
			e.Message = jsonString(eb.Status)
		}
		for i, d := range eb.Details {
			if i == maxErrorDetails {
				break
			}
			desc := d.Description
			if desc == "" {
				desc = d.Message
			}
			e.Details = append(e.Details, ErrorDetail{Field: d.Field, Description: desc})
		}
	}
	e.Code = httpclient.Clip(e.Code, 100)
	e.Message = httpclient.Clip(e.Message, 500)
	return e
}

// jsonString returns raw as a string if it is a JSON string or number.
func jsonString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// retryAfter is the response's Retry-After (httpclient.RetryAfter: delay
// seconds or an HTTP date, clamped to a day), 0 without one.
func retryAfter(h http.Header, now time.Time) time.Duration {
	d, _ := httpclient.RetryAfter(h, now)
	return d
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/internal/batchcsv"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/yubico"
)

// describe says what went wrong for one user, on one line, safe for a
// terminal: every field problem of a validation error, Okta's status,
// errorCode, summary and request ID, or what could not be reached.
func describe(ctx context.Context, err error) string {
	var ve *fulfillment.ValidationError
	var oe *okta.APIError
	var ye *yubico.APIError
	var te *okta.TokenError
	switch {
	case errors.Is(err, errInterrupted), ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return "interrupted"
	case errors.As(err, &ve):
		return batchcsv.Problem(err)
	case unreachable(ctx, err):
		return remote(err) + " unreachable: " + oneLine(err)
	case errors.As(err, &te) && te.StatusCode != 0:
		return describeToken(te, "", tokenHints[te.ErrorCode])
	case errors.As(err, &oe):
		s := fmt.Sprintf("Okta: HTTP %d %s: %s", oe.StatusCode, oe.ErrorCode, oe.ErrorSummary)
		for _, c := range oe.Causes {
			s += "; " + c.ErrorSummary
		}
		if oe.RequestID != "" {
			s += " (Okta request ID " + oe.RequestID + ")"
		}
		return safe(s)
	case errors.As(err, &ye):
		s := fmt.Sprintf("Yubico: HTTP %d %s: %s", ye.StatusCode, ye.Code, ye.Message)
		if ye.RequestID != "" {
			s += " (Yubico request ID " + ye.RequestID + ")"
		}
		return safe(s)
	}
	return oneLine(err)
}

// describeToken says why Okta's token endpoint refused the service app,
// on one terminal-safe line: Okta's status, error code and description,
// then hint in parentheses (if not empty) and Okta's request ID. asked
// names what the token was asked for ("for okta.logs.read"); empty, the
// line speaks of the service app's token request.
func describeToken(te *okta.TokenError, asked, hint string) string {
	s := "Okta refused the service app's token request"
	if asked != "" {
		s = "Okta refused the service app a token " + asked
	}
	s += fmt.Sprintf(": HTTP %d %s: %s", te.StatusCode, te.ErrorCode, te.Description)
	if hint != "" {
		s += " (" + hint + ")"
	}
	if te.RequestID != "" {
		s += " (Okta request ID " + te.RequestID + ")"
	}
	return safe(s)
}

// tokenHints say what to check when Okta's token endpoint refuses the
// service app (OAuth error codes, RFC 6749 §5.2 and RFC 9449).
var tokenHints = map[string]string{
	"invalid_client":      "check -okta-client-id, and that the public key of -okta-private-key-file is registered with the app",
	"invalid_scope":       "grant the scopes to the app in Okta, or ask for fewer with -okta-scopes",
	"unauthorized_client": "the app must be an API service app allowed the client credentials grant",
	// Okta also refuses a proof dated in the future or more than five
	// minutes ago by its clock (docs/okta.md, DPoP): a host clock off.
	"invalid_dpop_proof": "if the app requires DPoP, leave -okta-dpop on; with it on, check that this host's clock is right (NTP): Okta refuses a proof more than 5 minutes off its own clock",
}

// oneLine is err's text on one terminal-safe line.
func oneLine(err error) string {
	return safe(strings.ReplaceAll(err.Error(), "\n", "; "))
}

// multiLine is err's text with each line terminal-safe (for errors that
// list problems one per line).
func multiLine(err error) string {
	ls := strings.Split(err.Error(), "\n")
	for i, l := range ls {
		ls[i] = safe(l)
	}
	return strings.Join(ls, "\n")
}

// report prints why a command failed for one user: every field problem on
// its own line, Okta errors with status, errorCode, summary, causes and
// request ID.
func report(ctx context.Context, w io.Writer, prefix string, err error) {
	var ve *fulfillment.ValidationError
	var oe *okta.APIError
	switch {
	case errors.As(err, &ve):
		what := "the order is invalid"
		if errors.Is(err, fulfillment.ErrInvalidShipping) {
			what = "the user's Okta profile cannot be shipped to"
		}
		fmt.Fprintf(w, "%s: %s (%d problems):\n", prefix, what, len(ve.Fields))
		for _, f := range ve.Fields {
			fmt.Fprintf(w, "  %s\n", safe(f.Error()))
		}
	case !unreachable(ctx, err) && errors.As(err, &oe):
		fmt.Fprintf(w, "%s: Okta refused (%s): HTTP %d %s: %s\n", prefix, oe.Op, oe.StatusCode, oe.ErrorCode, safe(oe.ErrorSummary))
		for _, c := range oe.Causes {
			fmt.Fprintf(w, "  cause: %s\n", safe(c.ErrorSummary))
		}
		if oe.RequestID != "" {
			fmt.Fprintf(w, "  Okta request ID: %s\n", safe(oe.RequestID))
		}
	case errors.Is(err, fulfillment.ErrOrderInFlight):
		fmt.Fprintf(w, "%s: not ordered: %s\n", prefix, oneLine(err))
	case errors.Is(err, fulfillment.ErrRecordNotFound):
		fmt.Fprintf(w, "%s: no record of this user in the store (was the key ordered with this -store?)\n", prefix)
	default:
		fmt.Fprintf(w, "%s: %s\n", prefix, describe(ctx, err))
	}
}

// remote names the service an error of an unreachable remote came from:
// Yubico if the chain holds a *yubico.APIError or an error of package
// yubico (whose errors all start "yubico: "), otherwise Okta.
func remote(err error) string {
	var ye *yubico.APIError
	if errors.As(err, &ye) || strings.Contains(err.Error(), "yubico: ") {
		return "Yubico"
	}
	return "Okta"
}

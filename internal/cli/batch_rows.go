package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/preenroll/preenroll/fulfillment"
)

// Limits of the input CSV.
const (
	maxCSVBytes = 64 << 20
	maxRows     = 100_000
	maxLogin    = 256 // bytes
)

// row is one user row of the input.
type row struct {
	line    int    // 1-based line of the row in the file
	login   string // as written (trimmed); empty if the row has none
	profile *fulfillment.Profile
	userID  string // Okta user ID, once known
	problem string // why the row is bad; empty for a good row
}

// detectMapping reads the header of a CSV given without -mapping: columns
// named by Okta's profile attributes, login and at least one more (matched
// as fulfillment.ReadHRIS matches them, ignoring case and white space),
// are profiles read through fulfillment.OktaMapping; anything else (a lone
// "login" column, or no header at all) is left to readLogins.
func detectMapping(data []byte) *fulfillment.Mapping {
	header, err := csv.NewReader(bytes.NewReader(data)).Read()
	if err != nil && !errors.Is(err, csv.ErrFieldCount) {
		return nil
	}
	m := fulfillment.OktaMapping()
	login, attrs := false, 0
	for _, h := range header {
		h = strings.TrimSpace(h)
		for _, c := range m.Columns {
			if strings.EqualFold(h, c.Source) {
				attrs++
				login = login || c.Attribute == fulfillment.AttrLogin
			}
		}
	}
	if login && attrs > 1 {
		return &m
	}
	return nil
}

// readLogins reads a CSV whose header is the single column "login" and
// whose rows are Okta logins (or user IDs). A row with another number of
// fields, an empty or malformed login, or a login already on an earlier
// line is bad; the error is for the file as a whole (not CSV, wrong
// header).
func readLogins(data []byte) ([]row, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	switch {
	case errors.Is(err, io.EOF):
		return nil, errors.New("line 1: the file is empty; want a header row \"login\"")
	case err != nil:
		return nil, err
	case len(header) != 1 || !strings.EqualFold(strings.TrimSpace(header[0]), "login"):
		return nil, fmt.Errorf("line 1: the header must be the single column \"login\", or Okta profile attributes (login, firstName, lastName, email, ...), "+
			"or give -mapping for an HRIS export; got %q", strings.Join(header, ","))
	}
	var rows []row
	first := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		if len(rows) == maxRows {
			return nil, fmt.Errorf("more than %d rows", maxRows)
		}
		line, _ := cr.FieldPos(0)
		rw := row{line: line}
		if len(rec) > 0 {
			rw.login = strings.TrimSpace(rec[0])
		}
		rw.problem = loginProblem(rw.login)
		switch {
		case len(rec) != 1:
			rw.problem = fmt.Sprintf("%d fields, want 1 (login)", len(rec))
		case rw.problem != "":
		default:
			key := strings.ToLower(rw.login)
			if at, dup := first[key]; dup {
				rw.problem = fmt.Sprintf("duplicate login (first on line %d)", at)
			} else {
				first[key] = line
			}
		}
		if !utf8.ValidString(rw.login) || len(rw.login) > maxLogin {
			rw.login = "" // do not echo garbage back
		}
		rows = append(rows, rw)
	}
}

// loginProblem says what is wrong with a login cell, or "".
func loginProblem(l string) string {
	switch {
	case l == "":
		return "login is empty"
	case !utf8.ValidString(l):
		return "login is not valid UTF-8"
	case len(l) > maxLogin:
		return fmt.Sprintf("login is longer than %d bytes", maxLogin)
	case strings.ContainsFunc(l, func(r rune) bool { return !unicode.IsGraphic(r) || unicode.IsSpace(r) }):
		return "login contains white space or control characters"
	}
	return ""
}

// readAllBounded reads at most maxCSVBytes and drops a UTF-8 byte order
// mark.
func readAllBounded(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxCSVBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxCSVBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxCSVBytes)
	}
	return bytes.TrimPrefix(data, []byte("\uFEFF")), nil
}

// readHRIS reads a CSV of profiles (an HRIS export, or Okta attributes)
// through m (package fulfillment's HRIS directory). Rows the reader
// rejects (empty login, duplicate login, oversized or malformed value) and
// rows whose address does not validate are bad; every good row carries its
// profile.
func readHRIS(ctx context.Context, data []byte, m fulfillment.Mapping) ([]row, error) {
	h, err := fulfillment.ReadHRIS(bytes.NewReader(data), fulfillment.FormatCSV, m)
	if h == nil {
		return nil, exportError(err)
	}
	var rows []row
	for _, e := range unjoin(err) {
		var re *fulfillment.RowError
		if !errors.As(e, &re) {
			return nil, e
		}
		rows = append(rows, row{line: re.Line, problem: rowProblem(re)})
	}
	for p, err := range h.All(ctx) {
		if err != nil {
			return nil, err
		}
		line, _ := h.Line(p.Login)
		rw := row{line: line, login: p.Login}
		if err := fulfillment.ShippingInfoFromProfile(p).Check(); err != nil {
			rw.problem = describe(ctx, err)
		} else {
			rw.profile = &p
		}
		rows = append(rows, rw)
	}
	slices.SortStableFunc(rows, func(a, b row) int { return a.line - b.line })
	return rows, nil
}

// rowProblem says what a *fulfillment.RowError found, without its line.
func rowProblem(re *fulfillment.RowError) string {
	problem := strings.TrimPrefix(re.Err.Error(), "fulfillment: ")
	if re.Column != "" {
		problem = fmt.Sprintf("column %q: %s", re.Column, problem)
	}
	return problem
}

// exportProblems are the problems that refuse a whole export (such as
// every column the header lacks), one a line.
type exportProblems []string

// Error lists the problems, one an indented line when there are several.
func (e exportProblems) Error() string {
	if len(e) == 1 {
		return e[0]
	}
	return fmt.Sprintf("%d problems:\n  %s", len(e), strings.Join(e, "\n  "))
}

// exportError restates ReadHRIS's error for a refused export: each
// *fulfillment.RowError as "line N, column "c": problem".
func exportError(err error) error {
	var out exportProblems
	for _, e := range unjoin(err) {
		var re *fulfillment.RowError
		if !errors.As(e, &re) {
			return err
		}
		out = append(out, fmt.Sprintf("line %d, %s", re.Line, rowProblem(re)))
	}
	return out
}

// unjoin splits an errors.Join error into its parts.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

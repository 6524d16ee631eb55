// Package batchcsv reads the CSV files of a batch order (the rows of
// `preenroll batch` and of the console's Batch page) and writes cells of
// their result reports safely.
//
// A file is one of: a lone "login" column of Okta logins (or user IDs);
// "login" with more of Okta's profile attribute names (profiles read
// through fulfillment.OktaMapping); or an HR system's export read through
// a declared fulfillment.Mapping (Workday, ServiceNow). Every bad row is
// reported with its 1-based line and its problem; a problem with the file
// as a whole (not CSV, wrong header, too large) is the error.
package batchcsv

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/preenroll/preenroll/fulfillment"
)

// Limits of an input file.
const (
	MaxBytes = 64 << 20 // the largest file read
	MaxRows  = 100_000  // the most user rows
	MaxLogin = 256      // the longest login, in bytes
)

// Row is one user row of the input.
type Row struct {
	Line    int                  // 1-based line of the row in the file
	Login   string               // as written (trimmed); empty if the row has none or it is garbage (invalid UTF-8, longer than MaxLogin)
	Profile *fulfillment.Profile // the row's profile (profile files only, good rows only)
	Problem string               // why the row is bad; empty for a good row
}

// Read reads a batch file: through m if it is not nil, otherwise as its
// header says (DetectMapping). It returns the rows in line order and the
// mapping they were read with (nil for plain logins). howMapped says how
// the caller names a mapping ("give -mapping"), for the error about a
// header that is neither logins nor Okta attributes.
func Read(ctx context.Context, data []byte, m *fulfillment.Mapping, howMapped string) ([]Row, *fulfillment.Mapping, error) {
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	if m == nil {
		m = DetectMapping(data)
	}
	if m != nil {
		rows, err := ReadProfiles(ctx, data, *m)
		return rows, m, err
	}
	rows, err := ReadLogins(data, howMapped)
	return rows, nil, err
}

// ReadAll reads at most MaxBytes from r and drops a UTF-8 byte order mark.
func ReadAll(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxBytes {
		return nil, fmt.Errorf("larger than %d bytes", MaxBytes)
	}
	return bytes.TrimPrefix(data, []byte("\uFEFF")), nil
}

// DetectMapping reads the header of a CSV given without a mapping: columns
// named by Okta's profile attributes, login and at least one more (matched
// as fulfillment.ReadHRIS matches them, ignoring case and white space),
// are profiles read through fulfillment.OktaMapping; anything else (a lone
// "login" column, or no header at all) is nil, for ReadLogins.
func DetectMapping(data []byte) *fulfillment.Mapping {
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

// ReadLogins reads a CSV whose header is the single column "login" and
// whose rows are Okta logins (or user IDs). A row with another number of
// fields, an empty or malformed login, or a login already on an earlier
// line is bad; the error is for the file as a whole (not CSV, wrong
// header, more than MaxRows rows). howMapped is as for Read.
func ReadLogins(data []byte, howMapped string) ([]Row, error) {
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
			"or %s for an HRIS export; got %q", howMapped, truncate(strings.Join(header, ",")))
	}
	var rows []Row
	first := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		if len(rows) == MaxRows {
			return nil, fmt.Errorf("more than %d rows", MaxRows)
		}
		line, _ := cr.FieldPos(0)
		rw := Row{Line: line}
		if len(rec) > 0 {
			rw.Login = strings.TrimSpace(rec[0])
		}
		rw.Problem = loginProblem(rw.Login)
		switch {
		case len(rec) != 1:
			rw.Problem = fmt.Sprintf("%d fields, want 1 (login)", len(rec))
		case rw.Problem != "":
		default:
			key := strings.ToLower(rw.Login)
			if at, dup := first[key]; dup {
				rw.Problem = fmt.Sprintf("duplicate login (first on line %d)", at)
			} else {
				first[key] = line
			}
		}
		rw.Login = shown(rw.Login)
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
	case len(l) > MaxLogin:
		return fmt.Sprintf("login is longer than %d bytes", MaxLogin)
	case strings.ContainsFunc(l, func(r rune) bool { return !unicode.IsGraphic(r) || unicode.IsSpace(r) }):
		return "login contains white space or control characters"
	}
	return ""
}

// shown is a login as a Row carries it: "" for garbage (invalid UTF-8,
// longer than MaxLogin), which is not echoed back. A login with control
// characters is kept, for the row's report: every reader of a Row prints
// it escaped (Safe, Cell, or an HTML template).
func shown(l string) string {
	if !utf8.ValidString(l) || len(l) > MaxLogin {
		return ""
	}
	return l
}

// maxQuote is the most bytes of a value from the file that an error or a
// problem quotes.
const maxQuote = 64

// truncate shortens s, a value from the file, to at most maxQuote bytes
// (on a character boundary) and an ellipsis, so that no error or problem
// carries more than a bounded amount of the input.
func truncate(s string) string {
	if len(s) <= maxQuote {
		return s
	}
	cut := maxQuote
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// ReadProfiles reads a CSV of profiles (an HRIS export, or Okta
// attributes) through m (package fulfillment's HRIS directory). Rows the
// reader rejects (empty login, duplicate login, oversized or malformed
// value), rows whose login ReadLogins would refuse (white space, control
// characters, longer than MaxLogin) and rows whose address does not
// validate are bad; every good row carries its profile.
func ReadProfiles(ctx context.Context, data []byte, m fulfillment.Mapping) ([]Row, error) {
	h, err := fulfillment.ReadHRIS(bytes.NewReader(data), fulfillment.FormatCSV, m)
	if h == nil {
		if m.Name == fulfillment.OktaMapping().Name {
			if p := oktaHeaderProblem(err, m); p != nil {
				return nil, p
			}
		}
		return nil, exportError(err)
	}
	var rows []Row
	for _, e := range unjoin(err) {
		var re *fulfillment.RowError
		if !errors.As(e, &re) {
			return nil, e
		}
		rows = append(rows, Row{Line: re.Line, Problem: rowProblem(re)})
	}
	for p, err := range h.All(ctx) {
		if err != nil {
			return nil, err
		}
		line, _ := h.Line(p.Login)
		rw := Row{Line: line, Login: shown(p.Login)}
		if lp := loginProblem(p.Login); lp != "" {
			rw.Problem = lp // as ReadLogins says it: no login can have these
		} else if err := fulfillment.ShippingInfoFromProfile(p).Check(); err != nil {
			rw.Problem = Problem(err)
		} else {
			rw.Profile = &p
		}
		rows = append(rows, rw)
	}
	slices.SortStableFunc(rows, func(a, b Row) int { return a.Line - b.Line })
	return rows, nil
}

// oktaHeaderProblem rewords ReadHRIS's error for a header of Okta profile
// attributes that lacks columns: it names them and the columns such a
// file has, since the file is nobody's HRIS export and "mapped column
// missing" would not tell its author what to add. It returns nil for any
// other error, which is ReadHRIS's to report.
func oktaHeaderProblem(err error, m fulfillment.Mapping) error {
	var missing []string
	for _, e := range unjoin(err) {
		var re *fulfillment.RowError
		if !errors.As(e, &re) || !errors.Is(e, fulfillment.ErrMissingColumn) {
			return nil
		}
		missing = append(missing, re.Column)
	}
	if len(missing) == 0 {
		return nil
	}
	var required []string
	for _, c := range m.Columns {
		if !slices.Contains(m.Optional, c.Source) {
			required = append(required, c.Source)
		}
	}
	return ExportProblems{fmt.Sprintf("line 1: the header lacks %s: a file of Okta profile attributes has the columns %s "+
		"(%s may be left out; a cell may be empty), or is the single column \"login\"",
		strings.Join(missing, ", "), strings.Join(required, ", "), strings.Join(m.Optional, " and "))}
}

// Problem is err on one line, terminal-safe: every field problem of a
// *fulfillment.ValidationError joined by "; ", otherwise the error's text.
func Problem(err error) string {
	var ve *fulfillment.ValidationError
	if errors.As(err, &ve) {
		parts := make([]string, len(ve.Fields))
		for i, f := range ve.Fields {
			parts[i] = Safe(f.Error())
		}
		return strings.Join(parts, "; ")
	}
	return Safe(strings.ReplaceAll(err.Error(), "\n", "; "))
}

// rowProblem says what a *fulfillment.RowError found, without its line:
// the reader's *fulfillment.ExportError in its own words (its Problem),
// otherwise as [Problem] says an error (a *fulfillment.ValidationError's
// fields, or the whole text), after the column if the error names one.
func rowProblem(re *fulfillment.RowError) string {
	var problem string
	if ee, ok := errors.AsType[*fulfillment.ExportError](re.Err); ok {
		problem = Safe(strings.ReplaceAll(ee.Problem, "\n", "; "))
	} else {
		problem = Problem(re.Err)
	}
	if re.Column != "" {
		problem = fmt.Sprintf("column %q: %s", truncate(re.Column), problem)
	}
	return problem
}

// ExportProblems are the problems that refuse a whole export (such as
// every column the header lacks), one a line.
type ExportProblems []string

// Error lists the problems, one an indented line when there are several.
func (e ExportProblems) Error() string {
	if len(e) == 1 {
		return e[0]
	}
	return fmt.Sprintf("%d problems:\n  %s", len(e), strings.Join(e, "\n  "))
}

// exportError restates ReadHRIS's error for a refused export: each
// *fulfillment.RowError as "line N, column "c": problem".
func exportError(err error) error {
	var out ExportProblems
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

// Safe returns s for printing on a terminal or into a report: unchanged if
// every character is printable, otherwise Go-quoted ("\x1b[31mjan") so
// that no escape sequence (colours, OSC window titles, cursor moves), bidi
// override or line break from outside data reaches the terminal.
func Safe(s string) string {
	if !needsQuoting(s) {
		return s
	}
	return strconv.QuoteToGraphic(s)
}

// needsQuoting reports whether s has a character that is not graphic:
// a control or format character, or invalid UTF-8.
func needsQuoting(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return r == utf8.RuneError || (!unicode.IsGraphic(r) && r != ' ')
	})
}

// Cell defuses a value a spreadsheet would run as a formula (one starting
// with =, +, -, @, tab or carriage return gets a leading apostrophe), and
// escapes control characters (Safe).
func Cell(s string) string {
	s = Safe(s)
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

package fulfillment

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/preenroll/preenroll/okta"
)

// Directory is where user profiles come from: Okta itself, or an export of
// an HR system (see [HRIS]).
type Directory interface {
	// Lookup returns the profile whose login is key (case-insensitive), or
	// an error wrapping ErrProfileNotFound.
	Lookup(ctx context.Context, key string) (Profile, error)
}

// Errors of the HRIS reader.
var (
	// ErrProfileNotFound is wrapped when a Directory has no such user.
	ErrProfileNotFound = errors.New("fulfillment: profile not found")
	// ErrDuplicateLogin is wrapped by the *RowError of each row whose login
	// another row also has. None of those rows is kept: which address is
	// right is for a person to decide.
	ErrDuplicateLogin = errors.New("fulfillment: " + duplicateLogin)
	// ErrMalformedExport is wrapped by errors about the export as a whole or
	// about one row (bad CSV or JSON, missing column, oversized field).
	ErrMalformedExport = errors.New("fulfillment: " + malformedExport)
	// ErrMissingColumn is wrapped (with ErrMalformedExport) by the
	// [*RowError] of each mapped column a header lacks; its Column names
	// the column.
	ErrMissingColumn = errors.New("mapped column missing from the header")
	// ErrExportTooLarge is wrapped when an export exceeds the reader's size
	// or row limits.
	ErrExportTooLarge = errors.New("fulfillment: " + exportTooLarge)
	// ErrInvalidMapping is wrapped by [Mapping.Validate]'s errors.
	ErrInvalidMapping = errors.New("fulfillment: invalid HRIS mapping")
)

// The words of ErrDuplicateLogin, ErrMalformedExport and
// ErrExportTooLarge, which begin the Problem of an [*ExportError] of
// their kind.
const (
	duplicateLogin  = "duplicate login"
	malformedExport = "malformed HRIS export"
	exportTooLarge  = "HRIS export too large"
)

// ExportError is what [ReadHRIS] found wrong with a row or a value of an
// export, the Err of its [*RowError]: Problem says it for a person,
// without the line, the column or the package's prefix, and Error reads
// "fulfillment: " and Problem. It wraps its kind (ErrMalformedExport,
// ErrDuplicateLogin or ErrExportTooLarge) and what else made it: for a
// mapped column the header lacks, ErrMissingColumn; for bad CSV or JSON,
// the error of encoding/csv or encoding/json.
type ExportError struct {
	// Problem is e.g. "malformed HRIS export: login is empty" or
	// `duplicate login "jan@example.com" (first on line 2)`; values in
	// it are quoted and shortened.
	Problem string
	errs    []error // the kind, then what else made it
}

// Error reads "fulfillment: " and e.Problem.
func (e *ExportError) Error() string { return "fulfillment: " + e.Problem }

// Unwrap returns e's kind and what else made it.
func (e *ExportError) Unwrap() []error { return e.errs }

// malformedf is an *ExportError of kind ErrMalformedExport whose Problem
// goes on with the words of format and args (no %w: causes are wrapped
// by wrapping).
func malformedf(format string, args ...any) *ExportError {
	return &ExportError{Problem: malformedExport + ": " + fmt.Sprintf(format, args...), errs: []error{ErrMalformedExport}}
}

// wrapping adds causes to what e wraps, and returns e.
func (e *ExportError) wrapping(causes ...error) *ExportError {
	e.errs = append(e.errs, causes...)
	return e
}

// RowError is a problem with one row of an HRIS export. Line is the 1-based
// line in the file where the row (or the bad value) starts; Column is the
// export's column (CSV header or JSON member) at fault, empty when the
// problem is the whole row.
type RowError struct {
	Line   int    // 1-based line where the row or value starts
	Column string // CSV header or JSON member; empty for the whole row
	Err    error  // what is wrong: ReadHRIS's is an *ExportError, which wraps a sentinel
}

// Error names the line and, when known, the column.
func (e *RowError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("fulfillment: HRIS export line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("fulfillment: HRIS export line %d, column %q: %v", e.Line, e.Column, e.Err)
}

// Unwrap returns Err.
func (e *RowError) Unwrap() error { return e.Err }

// Format is the file format of an HRIS export.
type Format int

// The export formats.
const (
	// FormatCSV: a header row naming the columns, then one row per user. A UTF-8
	// byte order mark and CRLF line ends are accepted.
	FormatCSV Format = iota + 1
	// FormatJSON: an array of objects, or an object whose Mapping.Records member
	// holds that array (Workday RaaS: "Report_Entry"; ServiceNow table API:
	// "result"). Values are strings, numbers or booleans.
	FormatJSON
)

// formatNames are the names of the formats.
var formatNames = map[Format]string{FormatCSV: "CSV", FormatJSON: "JSON"}

// String returns "CSV" or "JSON".
func (f Format) String() string {
	if n, ok := formatNames[f]; ok {
		return n
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// Profile attribute names a Mapping may target: the JSON names of
// [Profile]'s fields.
const (
	AttrLogin         = "login"
	AttrEmail         = "email"
	AttrSecondEmail   = "secondEmail"
	AttrFirstName     = "firstName"
	AttrLastName      = "lastName"
	AttrPrimaryPhone  = "primaryPhone"
	AttrStreetAddress = "streetAddress"
	AttrCity          = "city"
	AttrState         = "state"
	AttrZipCode       = "zipCode"
	AttrCountryCode   = "countryCode"
	AttrOrganization  = "organization"
	AttrUserStatus    = "userStatus"
	AttrNeverSignedIn = "neverSignedIn"
)

// setters writes one attribute into a Profile. Only streetAddress may come
// from several columns (joined by newlines, in Mapping order).
var setters = withPlainSetters(map[string]func(p *Profile, v string) error{
	AttrStreetAddress: func(p *Profile, v string) error {
		if v == "" {
			return nil
		}
		if p.StreetAddress != "" {
			p.StreetAddress += "\n"
		}
		p.StreetAddress += v
		return nil
	},
	AttrUserStatus: func(p *Profile, v string) error { p.UserStatus = okta.UserStatus(v); return nil },
	AttrNeverSignedIn: func(p *Profile, v string) error {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "", "false", "no", "0", "n":
			p.NeverSignedIn = false
		case "true", "yes", "1", "y":
			p.NeverSignedIn = true
		default:
			return malformedf("%q is not a boolean", truncateValue(v))
		}
		return nil
	},
})

// Column maps one column of an export onto one Profile attribute.
type Column struct {
	// Source is the CSV header, matched ignoring case and surrounding
	// white space, or the JSON member name, matched exactly.
	Source    string
	Attribute string // one of the Attr* names
}

// Mapping declares how an HRIS export becomes Profiles.
type Mapping struct {
	// Name identifies the mapping in errors ("workday").
	Name string
	// Records is the JSON member holding the array of records; empty when
	// the document is the array itself. Unused for CSV.
	Records string
	// Columns maps export columns to profile attributes. Every attribute
	// appears at most once, except streetAddress, whose columns are joined
	// by newlines in this order (address line 1, line 2). login is
	// required. Every mapped column must exist in a CSV header, except
	// those in Optional; in JSON a missing member reads as empty.
	Columns []Column
	// Optional lists the Sources of Columns a CSV header may leave out;
	// their values read as empty. The login's column cannot be optional.
	Optional []string
}

// workdayMapping is [WorkdayMapping]'s.
var workdayMapping = Mapping{
	Name:    "workday",
	Records: "Report_Entry",
	Columns: []Column{
		{"Username", AttrLogin},
		{"Email_Address_Work", AttrEmail},
		{"Email_Address_Home", AttrSecondEmail},
		{"Legal_Name_First_Name", AttrFirstName},
		{"Legal_Name_Last_Name", AttrLastName},
		{"Phone_Number_Primary", AttrPrimaryPhone},
		{"Address_Line_1", AttrStreetAddress},
		{"Address_Line_2", AttrStreetAddress},
		{"Municipality", AttrCity},
		{"Region_Code", AttrState},
		{"Postal_Code", AttrZipCode},
		{"Country_ISO_Code", AttrCountryCode},
		{"Company", AttrOrganization},
		{"Okta_Status", AttrUserStatus},
	},
}

// serviceNowMapping is [ServiceNowMapping]'s.
var serviceNowMapping = Mapping{
	Name:    "servicenow",
	Records: "result",
	Columns: []Column{
		{"user_name", AttrLogin},
		{"email", AttrEmail},
		{"u_personal_email", AttrSecondEmail},
		{"first_name", AttrFirstName},
		{"last_name", AttrLastName},
		{"phone", AttrPrimaryPhone},
		{"street", AttrStreetAddress},
		{"city", AttrCity},
		{"state", AttrState},
		{"zip", AttrZipCode},
		{"country", AttrCountryCode},
		{"company", AttrOrganization},
	},
}

// WorkdayMapping reads a Workday custom report (RaaS) of workers, as CSV or
// as JSON ({"Report_Entry":[...]}), with the column names of our sample
// report testdata/workday.csv. Workday has no Okta user status; a report
// that computes one can add a column for AttrUserStatus. Each call returns
// a new copy.
func WorkdayMapping() Mapping { return workdayMapping.clone() }

// ServiceNowMapping reads ServiceNow's sys_user table, as a CSV export or
// the table API's JSON ({"result":[...]}). The secondary email is the
// custom field u_personal_email, as in our sample testdata/servicenow.json.
// Each call returns a new copy.
func ServiceNowMapping() Mapping { return serviceNowMapping.clone() }

// oktaMapping is [OktaMapping]'s: every attribute of profileFields, read
// from the column of the same name.
var oktaMapping = func() Mapping {
	m := Mapping{Name: "okta", Optional: []string{AttrSecondEmail, AttrState}}
	for _, f := range profileFields {
		m.Columns = append(m.Columns, Column{Source: f.name, Attribute: f.name})
	}
	return m
}()

// OktaMapping reads an export whose columns are named after Okta's own user
// profile attributes (the JSON names of [Profile]: login, firstName,
// lastName, email, secondEmail, primaryPhone, streetAddress, city, state,
// zipCode, countryCode, organization), the form in which people script
// Okta's Users API. secondEmail and state may be left out of a CSV header
// (not every user needs them); other columns, such as Okta attributes a
// shipment does not use, are ignored. As JSON it reads an array of flat
// objects with those members. Each call returns a new copy.
func OktaMapping() Mapping { return oktaMapping.clone() }

func (m Mapping) clone() Mapping {
	m.Columns = slices.Clone(m.Columns)
	m.Optional = slices.Clone(m.Optional)
	return m
}

// headerKey is how a CSV header cell and a Source are compared: without a
// byte order mark or surrounding white space, case folded.
func headerKey(h string) string {
	return strings.ToLower(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(h), "\uFEFF")))
}

// Validate checks the mapping itself: known attributes, no attribute twice
// (except streetAddress), a login column, no empty source, no source twice
// (ignoring case, as CSV headers are matched), optional sources that are
// mapped and not the login's. Its errors wrap ErrInvalidMapping.
func (m Mapping) Validate() error {
	seenAttr := map[string]bool{}
	seenSrc := map[string]string{} // header key → attribute
	for i, c := range m.Columns {
		switch {
		case headerKey(c.Source) == "":
			return fmt.Errorf("%w %q: column %d: empty source", ErrInvalidMapping, m.Name, i)
		case seenSrc[headerKey(c.Source)] != "":
			return fmt.Errorf("%w %q: column %q mapped twice", ErrInvalidMapping, m.Name, c.Source)
		case setters[c.Attribute] == nil:
			return fmt.Errorf("%w %q: column %q: unknown profile attribute %q", ErrInvalidMapping, m.Name, c.Source, c.Attribute)
		case seenAttr[c.Attribute] && c.Attribute != AttrStreetAddress:
			return fmt.Errorf("%w %q: attribute %q mapped twice", ErrInvalidMapping, m.Name, c.Attribute)
		}
		seenSrc[headerKey(c.Source)], seenAttr[c.Attribute] = c.Attribute, true
	}
	if !seenAttr[AttrLogin] {
		return fmt.Errorf("%w %q: no column maps to %q", ErrInvalidMapping, m.Name, AttrLogin)
	}
	for _, o := range m.Optional {
		switch seenSrc[headerKey(o)] {
		case "":
			return fmt.Errorf("%w %q: optional column %q is not mapped", ErrInvalidMapping, m.Name, o)
		case AttrLogin:
			return fmt.Errorf("%w %q: the login column %q cannot be optional", ErrInvalidMapping, m.Name, o)
		}
	}
	return nil
}

// Limits of the HRIS reader; change them with the HRISOption functions.
const (
	DefaultMaxExportBytes = 64 << 20 // whole file
	DefaultMaxRows        = 100_000  // data rows
	DefaultMaxFieldBytes  = 4096     // one value
	maxRowErrors          = 100      // row errors reported before giving up
)

// HRISOption configures [ReadHRIS].
type HRISOption func(*hrisConfig)

type hrisConfig struct {
	maxBytes, maxRows, maxField int
}

// WithMaxExportBytes bounds the size of the export (default 64 MiB; n <= 0
// keeps the default).
func WithMaxExportBytes(n int) HRISOption { return func(c *hrisConfig) { setPositive(&c.maxBytes, n) } }

// WithMaxRows bounds the number of data rows (default 100000; n <= 0 keeps
// the default).
func WithMaxRows(n int) HRISOption { return func(c *hrisConfig) { setPositive(&c.maxRows, n) } }

// WithMaxFieldBytes bounds the size of one value (default 4096 bytes; n <= 0
// keeps the default).
func WithMaxFieldBytes(n int) HRISOption { return func(c *hrisConfig) { setPositive(&c.maxField, n) } }

func setPositive(dst *int, n int) {
	if n > 0 {
		*dst = n
	}
}

// HRIS is a Directory over the profiles of one HRIS export, held in memory
// in file order. It is safe for concurrent use (it is read-only).
type HRIS struct {
	profiles []Profile
	lines    []int
	byLogin  map[string]int
}

var _ Directory = (*HRIS)(nil)

// ReadHRIS reads an export in format f through mapping m.
//
// CSV headers are matched to the mapping's sources ignoring case,
// surrounding white space and a byte order mark.
//
// Problems with the export as a whole (unreadable CSV or JSON, mapped
// columns missing from the header, limits exceeded) return a nil *HRIS and
// an error wrapping ErrMalformedExport or ErrExportTooLarge, usually a
// *RowError naming the line (one per missing column, joined with
// [errors.Join]); a bad mapping returns an error wrapping
// ErrInvalidMapping; an unknown format or a failing reader, their own error. Problems with single rows (an
// oversized value, an empty login, a login that appears twice) leave those
// rows out and are returned together, one *RowError per row in line order
// (every row of a repeated login included), joined with [errors.Join],
// next to the *HRIS holding every good row; check both.
// Values are kept as written (use [ShippingInfo.Normalize] and
// [ShippingInfo.Validate] to check the addresses).
func ReadHRIS(r io.Reader, f Format, m Mapping, opts ...HRISOption) (*HRIS, error) {
	cfg := hrisConfig{maxBytes: DefaultMaxExportBytes, maxRows: DefaultMaxRows, maxField: DefaultMaxFieldBytes}
	for _, o := range opts {
		o(&cfg)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, int64(cfg.maxBytes)+1))
	if err != nil {
		return nil, fmt.Errorf("fulfillment: read HRIS export: %w", err)
	}
	if len(data) > cfg.maxBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrExportTooLarge, cfg.maxBytes)
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	b := &hrisBuilder{cfg: cfg, m: m, h: &HRIS{byLogin: map[string]int{}}, firstRow: map[string]int{}}
	switch f {
	case FormatCSV:
		err = b.readCSV(data)
	case FormatJSON:
		err = b.readJSON(data)
	default:
		return nil, fmt.Errorf("fulfillment: unknown HRIS export format %v", f)
	}
	if err != nil {
		return nil, err
	}
	return b.finish()
}

// hrisBuilder accumulates rows, row errors and duplicate logins.
type hrisBuilder struct {
	cfg      hrisConfig
	m        Mapping
	h        *HRIS
	rows     []hrisRow
	rowErrs  []error
	firstRow map[string]int // folded login → index in rows of its first row
	dups     map[string]bool
	nrows    int
}

type hrisRow struct {
	p     Profile
	line  int
	login string
}

// value is one cell: its text and the line it starts on.
type value struct {
	s    string
	line int
}

// addRow maps one record (source column → value) onto a Profile.
func (b *hrisBuilder) addRow(line int, get func(src string) (value, bool)) error {
	b.nrows++
	if b.nrows > b.cfg.maxRows {
		return &RowError{Line: line, Err: &ExportError{Problem: fmt.Sprintf("%s: more than %d rows", exportTooLarge, b.cfg.maxRows), errs: []error{ErrExportTooLarge}}}
	}
	var p Profile
	var loginCol string
	for _, c := range b.m.Columns {
		v, _ := get(c.Source)
		if len(v.s) > b.cfg.maxField {
			return b.rowError(&RowError{Line: v.line, Column: c.Source, Err: malformedf("value longer than %d bytes", b.cfg.maxField)})
		}
		if !utf8.ValidString(v.s) {
			return b.rowError(&RowError{Line: v.line, Column: c.Source, Err: malformedf("invalid UTF-8")})
		}
		if err := setters[c.Attribute](&p, v.s); err != nil {
			return b.rowError(&RowError{Line: v.line, Column: c.Source, Err: err})
		}
		if c.Attribute == AttrLogin {
			loginCol = c.Source
		}
	}
	p.Login = strings.TrimSpace(p.Login)
	if p.Login == "" {
		return b.rowError(&RowError{Line: line, Column: loginCol, Err: malformedf("login is empty")})
	}
	key := strings.ToLower(p.Login)
	if i, ok := b.firstRow[key]; ok {
		first := b.rows[i]
		if b.dups == nil {
			b.dups = map[string]bool{}
		}
		if !b.dups[key] {
			// The first row is dropped too: report it, once.
			b.dups[key] = true
			err := b.rowError(&RowError{Line: first.line, Column: loginCol, Err: duplicateLoginError(first.p.Login, "also", line)})
			if err != nil {
				return err
			}
		}
		return b.rowError(&RowError{Line: line, Column: loginCol, Err: duplicateLoginError(p.Login, "first", first.line)})
	}
	b.firstRow[key] = len(b.rows)
	b.rows = append(b.rows, hrisRow{p: p, line: line, login: key})
	return nil
}

// duplicateLoginError is the *ExportError of a row whose login another
// row, on line other, has too: `duplicate login "x" (first on line 2)`.
func duplicateLoginError(login, where string, other int) *ExportError {
	return &ExportError{Problem: fmt.Sprintf("%s %q (%s on line %d)", duplicateLogin, truncateValue(login), where, other), errs: []error{ErrDuplicateLogin}}
}

// errLine is the line of a row error.
func errLine(err error) int {
	if re, ok := err.(*RowError); ok {
		return re.Line
	}
	return 0
}

// rowError records a row-level problem; past maxRowErrors it stops the read.
func (b *hrisBuilder) rowError(e *RowError) error {
	b.rowErrs = append(b.rowErrs, e)
	if len(b.rowErrs) >= maxRowErrors {
		return fmt.Errorf("%w: more than %d bad rows: %w", ErrMalformedExport, maxRowErrors-1, errors.Join(b.rowErrs...))
	}
	return nil
}

func (b *hrisBuilder) finish() (*HRIS, error) {
	for _, r := range b.rows {
		if b.dups[r.login] {
			continue
		}
		b.h.byLogin[r.login] = len(b.h.profiles)
		b.h.profiles = append(b.h.profiles, r.p)
		b.h.lines = append(b.h.lines, r.line)
	}
	slices.SortStableFunc(b.rowErrs, func(x, y error) int { return errLine(x) - errLine(y) })
	return b.h, errors.Join(b.rowErrs...)
}

func (b *hrisBuilder) readCSV(data []byte) error {
	cr := csv.NewReader(bufio.NewReader(bytes.NewReader(data)))
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return &RowError{Line: 1, Err: malformedf("no header row")}
		}
		return csvError(err)
	}
	index := map[string]int{} // header key → field
	for i, h := range header {
		k := headerKey(h)
		if _, dup := index[k]; dup && k != "" {
			return &RowError{Line: 1, Column: strings.TrimSpace(h), Err: malformedf("column appears twice in the header (ignoring case)")}
		}
		index[k] = i
	}
	field := map[string]int{} // Source → field, for the columns the header has
	var missing []error
	for _, c := range b.m.Columns {
		i, ok := index[headerKey(c.Source)]
		switch {
		case ok:
			field[c.Source] = i
		case !slices.ContainsFunc(b.m.Optional, func(o string) bool { return headerKey(o) == headerKey(c.Source) }):
			missing = append(missing, &RowError{Line: 1, Column: c.Source, Err: malformedf("%v (mapping %q)", ErrMissingColumn, b.m.Name).wrapping(ErrMissingColumn)})
		}
	}
	if len(missing) > 0 {
		return errors.Join(missing...) // every missing column at once
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				b.nrows++
				rerr := &RowError{Line: pe.StartLine, Err: malformedf("%d fields, the header has %d", len(rec), len(header))}
				if err := b.rowError(rerr); err != nil {
					return err
				}
				continue
			}
			return csvError(err)
		}
		line, _ := cr.FieldPos(0)
		err = b.addRow(line, func(src string) (value, bool) {
			i, ok := field[src]
			if !ok { // an optional column the header leaves out
				return value{line: line}, false
			}
			l, _ := cr.FieldPos(i)
			return value{s: rec[i], line: l}, true
		})
		if err != nil {
			return err
		}
	}
}

// csvError turns a *csv.ParseError into a *RowError naming the line.
func csvError(err error) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("%w: %w", ErrMalformedExport, err)
	}
	return &RowError{Line: pe.Line, Err: malformedf("%v (column %d)", pe.Err, pe.Column).wrapping(pe.Err)}
}

func (b *hrisBuilder) readJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	lineAt := newLineIndex(data)
	tok, err := dec.Token()
	if err != nil {
		return jsonError(err, lineAt, dec)
	}
	if b.m.Records != "" && tok == json.Delim('{') {
		found := false
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return jsonError(err, lineAt, dec)
			}
			if k == b.m.Records {
				found = true
				if tok, err = dec.Token(); err != nil {
					return jsonError(err, lineAt, dec)
				}
				break
			}
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return jsonError(err, lineAt, dec)
			}
		}
		if !found {
			return &RowError{Line: 1, Column: b.m.Records, Err: malformedf("no %q member holding the records", b.m.Records)}
		}
	}
	if tok != json.Delim('[') {
		return &RowError{Line: lineAt(dec.InputOffset()), Err: malformedf("expected an array of records")}
	}
	for dec.More() {
		start := lineAt(skipSpace(data, dec.InputOffset()))
		var rec map[string]json.RawMessage
		if err := dec.Decode(&rec); err != nil {
			if _, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
				return &RowError{Line: start, Err: malformedf("each record must be an object")}
			}
			return jsonError(err, lineAt, dec)
		}
		vals := make(map[string]value, len(rec))
		var bad *RowError
		for _, c := range b.m.Columns {
			raw, ok := rec[c.Source]
			if !ok || bad != nil {
				continue
			}
			s, err := jsonScalar(raw)
			if err != nil {
				bad = &RowError{Line: start, Column: c.Source, Err: err}
				continue
			}
			vals[c.Source] = value{s: s, line: start}
		}
		if bad != nil {
			b.nrows++
			if err := b.rowError(bad); err != nil {
				return err
			}
			continue
		}
		if err := b.addRow(start, func(src string) (value, bool) {
			v, ok := vals[src]
			if !ok {
				v.line = start
			}
			return v, ok
		}); err != nil {
			return err
		}
	}
	return nil
}

// jsonScalar turns a JSON string, number, boolean or null into text.
func jsonScalar(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", malformedf("%v", err).wrapping(err)
		}
		return s, nil
	case 'n':
		return "", nil
	case 't', 'f':
		return string(raw), nil
	case '{', '[':
		return "", malformedf("expected a string, number or boolean, got an object or array")
	}
	return string(raw), nil // a number, as written
}

func jsonError(err error, lineAt func(int64) int, dec *json.Decoder) error {
	off := dec.InputOffset()
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = se.Offset
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &RowError{Line: lineAt(off), Err: malformedf("unexpected end of JSON")}
	}
	return &RowError{Line: lineAt(off), Err: malformedf("%v", err).wrapping(err)}
}

// newLineIndex returns a function from byte offset to 1-based line number.
func newLineIndex(data []byte) func(int64) int {
	var starts []int
	for i, c := range data {
		if c == '\n' {
			starts = append(starts, i)
		}
	}
	return func(off int64) int {
		lo, hi := 0, len(starts)
		for lo < hi {
			mid := (lo + hi) / 2
			if int64(starts[mid]) < off {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		return lo + 1
	}
}

// skipSpace returns the offset of the first byte at or after off that is
// not JSON whitespace or a comma, so a record's line is the line of its '{'.
func skipSpace(data []byte, off int64) int64 {
	for off < int64(len(data)) {
		switch data[off] {
		case ' ', '\t', '\r', '\n', ',':
			off++
		default:
			return off
		}
	}
	return off
}

// Lookup returns the profile whose login is key, ignoring case; the error
// wraps ErrProfileNotFound when there is none. It honours ctx cancellation.
func (h *HRIS) Lookup(ctx context.Context, key string) (Profile, error) {
	if err := ctx.Err(); err != nil {
		return Profile{}, err
	}
	i, ok := h.byLogin[strings.ToLower(strings.TrimSpace(key))]
	if !ok {
		return Profile{}, fmt.Errorf("%w: login %q", ErrProfileNotFound, truncateValue(key))
	}
	return h.profiles[i], nil
}

// All yields every profile in file order. It stops with ctx's error when
// ctx is done.
func (h *HRIS) All(ctx context.Context) iter.Seq2[Profile, error] {
	return func(yield func(Profile, error) bool) {
		for _, p := range h.profiles {
			if err := ctx.Err(); err != nil {
				yield(Profile{}, err)
				return
			}
			if !yield(p, nil) {
				return
			}
		}
	}
}

// Len is the number of profiles.
func (h *HRIS) Len() int { return len(h.profiles) }

// Line returns the line of the export the profile with login key came from.
func (h *HRIS) Line(key string) (int, bool) {
	i, ok := h.byLogin[strings.ToLower(strings.TrimSpace(key))]
	if !ok {
		return 0, false
	}
	return h.lines[i], true
}

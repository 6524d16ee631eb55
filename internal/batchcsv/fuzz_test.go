package batchcsv

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
)

// maxQuoted bounds one line of an error or one row's problem: every value
// from the file that a message quotes is truncated, so no line may carry
// more than this much of the input, however long the file's cells are.
const maxQuoted = 600

// seedFiles are the batch files of the repository's own tests.
func seedFiles(f *testing.F) [][]byte {
	f.Helper()
	var out [][]byte
	for _, pattern := range []string{"../cli/testdata/*.csv", "../../fulfillment/testdata/*.csv"} {
		names, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range names {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, b)
		}
	}
	if len(out) < 10 {
		f.Fatalf("found %d seed files, want the CSVs of internal/cli and fulfillment", len(out))
	}
	return append(out,
		[]byte("login\n\"a\nb\"\njan@example.com\n"),
		[]byte("login\njan\x1b[31m@example.com\n\xff\xfe\n"),
		[]byte("\uFEFFlogin\r\njan@example.com\r\n\r\n=cmd|' /C calc'!A0\r\n"),
		[]byte("login,firstName\n\"unterminated\n"),
		[]byte("login,email\njan\x01@example.com,jan@example.com\n"),
		[]byte("login,firstName,lastName,email,secondEmail,primaryPhone,streetAddress,city,state,zipCode,countryCode,organization\n"+
			"\"jan\nlindberg@example.com\",Jan,Lindberg,jan.lindberg@example.com,jan.home@example.net,(781) 555-0142,7788 Foxrun Street,Dedham,MA,02026,US,Example Inc.\n"+
			"jan lindberg@example.com,Jan,Lindberg,jan.lindberg@example.com,jan.home@example.net,(781) 555-0142,7788 Foxrun Street,Dedham,MA,02026,US,Example Inc.\n"),
		[]byte(strings.Repeat("x", 700)+"\njan@example.com\n"),
		[]byte("login,email,"+strings.Repeat("y", 700)+","+strings.Repeat("Y", 700)+"\n"),
	)
}

// lineCount is the number of lines of data as encoding/csv counts them.
func lineCount(data []byte) int { return bytes.Count(data, []byte("\n")) + 1 }

// checkBounded fails if a line of msg is longer than maxQuoted bytes.
func checkBounded(t *testing.T, what, msg string) {
	t.Helper()
	for l := range strings.SplitSeq(msg, "\n") {
		if len(l) > maxQuoted {
			t.Fatalf("%s has a line of %d bytes (more than %d): %.200q…", what, len(l), maxQuoted, l)
		}
	}
}

// checkRows asserts what every reader promises of the rows it returns.
func checkRows(t *testing.T, data []byte, rows []Row) {
	t.Helper()
	lines, prev := lineCount(data), 1 // line 1 is the header
	for i, r := range rows {
		if r.Line <= prev || r.Line > lines {
			t.Fatalf("row %d: line %d, want after line %d and at most %d (the file's lines)", i, r.Line, prev, lines)
		}
		prev = r.Line
		if !utf8.ValidString(r.Login) || len(r.Login) > MaxLogin {
			t.Fatalf("row %d: login %q is not valid UTF-8 or longer than %d bytes", i, r.Login, MaxLogin)
		}
		checkBounded(t, "row problem", r.Problem)
		if r.Problem != "" {
			if r.Profile != nil {
				t.Fatalf("row %d: bad row (%s) carries a profile", i, r.Problem)
			}
			continue
		}
		// A good row's login is one ReadLogins takes: not empty, and
		// without white space, control or format characters.
		if p := loginProblem(r.Login); p != "" || strings.ContainsFunc(r.Login, func(c rune) bool { return !unicode.IsGraphic(c) }) {
			t.Fatalf("row %d: good row with login %q: %s", i, r.Login, p)
		}
		if r.Profile != nil && r.Profile.Login != r.Login {
			t.Fatalf("row %d: login %q, profile's login %q", i, r.Login, r.Profile.Login)
		}
	}
}

func FuzzRead(f *testing.F) {
	for _, b := range seedFiles(f) {
		f.Add(b, uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, mapping uint8) {
		var m *fulfillment.Mapping
		switch mapping % 4 {
		case 1:
			w := fulfillment.WorkdayMapping()
			m = &w
		case 2:
			s := fulfillment.ServiceNowMapping()
			m = &s
		case 3:
			o := fulfillment.OktaMapping()
			m = &o
		}
		detected := DetectMapping(bytes.TrimPrefix(data, []byte("\uFEFF")))
		if detected != nil && detected.Name != fulfillment.OktaMapping().Name {
			t.Fatalf("DetectMapping = %q, want nil or Okta's", detected.Name)
		}
		rows, used, err := Read(t.Context(), data, m, "give -mapping")
		if err != nil {
			if rows != nil {
				t.Fatalf("rows %v with error %v", rows, err)
			}
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			checkBounded(t, "error", err.Error())
			return
		}
		switch {
		case m != nil && used != m:
			t.Fatalf("read through %v, want the given mapping", used)
		case m == nil && (used == nil) != (detected == nil):
			t.Fatalf("read through %v, DetectMapping said %v", used, detected)
		}
		checkRows(t, data, rows)
		if used == nil {
			for i, r := range rows {
				if r.Profile != nil {
					t.Fatalf("row %d of a logins file has a profile", i)
				}
			}
		}
	})
}

func FuzzReadLogins(f *testing.F) {
	for _, b := range seedFiles(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := ReadLogins(data, "give -mapping")
		if err != nil {
			checkBounded(t, "error", err.Error())
			return
		}
		checkRows(t, data, rows)
		seen := map[string]bool{}
		for i, r := range rows {
			if r.Problem != "" {
				continue
			}
			key := strings.ToLower(r.Login)
			if seen[key] {
				t.Fatalf("row %d: login %q accepted twice", i, r.Login)
			}
			seen[key] = true
		}
	})
}

func FuzzCell(f *testing.F) {
	for _, s := range []string{"", "jan@example.com", "=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "=cmd|' /C calc'!A0",
		"\x1b[31mred", "\u202eevil", "a\nb", "\xff", "\uFFFD", " =1", "'quoted", "Amélie"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		safe := Safe(s)
		if !utf8.ValidString(safe) || strings.ContainsFunc(safe, func(r rune) bool { return !unicode.IsGraphic(r) && r != ' ' }) {
			t.Fatalf("Safe(%q) = %q has a character that is not printable", s, safe)
		}
		if safe != s {
			if got, err := strconv.Unquote(safe); err != nil || got != s {
				t.Fatalf("Safe(%q) = %q does not unquote back: %q, %v", s, safe, got, err)
			}
		}
		c := Cell(s)
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			t.Fatalf("Cell(%q) = %q starts with a formula character", s, c)
		}
		if c != safe && c != "'"+safe {
			t.Fatalf("Cell(%q) = %q, want Safe's %q with at most a leading apostrophe", s, c, safe)
		}
	})
}

// The fuzz targets' first findings, kept as unit tests.
func TestReadFound(t *testing.T) {
	const okta = "login,firstName,lastName,email,secondEmail,primaryPhone,streetAddress,city,state,zipCode,countryCode,organization\n"
	const rest = ",Jan,Lindberg,jan.lindberg@example.com,jan.home@example.net,(781) 555-0142,7788 Foxrun Street,Dedham,MA,02026,US,Example Inc.\n"
	long := strings.Repeat("é", 400)
	tests := []struct {
		name, data string
		want       []Row  // compared without profiles
		wantErr    string // the error's text, if any
	}{{
		name: "a logins file keeps a bad login for its report, and its line",
		data: "login\njan\x1b[31m@example.com\n\"a\nb\"\nnot a login\n",
		want: []Row{
			{Line: 2, Login: "jan\x1b[31m@example.com", Problem: "login contains white space or control characters"},
			{Line: 3, Login: "a\nb", Problem: "login contains white space or control characters"},
			{Line: 5, Login: "not a login", Problem: "login contains white space or control characters"},
		},
	}, {
		name: "a profiles file refuses the logins a logins file refuses",
		data: okta + "\"jan\nlindberg@example.com\"" + rest + "jan lindberg@example.com" + rest + "jan.lindberg@example.com" + rest,
		want: []Row{
			{Line: 2, Login: "jan\nlindberg@example.com", Problem: "login contains white space or control characters"},
			{Line: 4, Login: "jan lindberg@example.com", Problem: "login contains white space or control characters"},
			{Line: 5, Login: "jan.lindberg@example.com"},
		},
	}, {
		name:    "a wrong header is quoted up to 64 bytes",
		data:    long + "\njan@example.com\n",
		wantErr: `line 1: the header must be the single column "login", or Okta profile attributes (login, firstName, lastName, email, ...), or give -mapping for an HRIS export; got "` + strings.Repeat("é", 32) + `…"`,
	}, {
		name:    "a header column named twice is quoted up to 64 bytes",
		data:    "login,email," + long + "," + strings.ToUpper(long) + "\n",
		wantErr: `line 1, column "` + strings.Repeat("É", 32) + `…": malformed HRIS export: column appears twice in the header (ignoring case)`,
	}, {
		name: "a row the reader refuses is told in its words, after the column",
		data: okta + "jan.lindberg@example.com,Jan,Lindberg,jan.lindberg@example.com,,,1 Main St,\xffDedham,MA,02026,US,\n" +
			"amelie@example.com,Am,D,amelie@example.com,,,,,,,FR,\"\n" + strings.Repeat("x", 4097) + "\"\n",
		want: []Row{
			{Line: 2, Problem: `column "city": malformed HRIS export: invalid UTF-8`},
			{Line: 3, Problem: `column "organization": malformed HRIS export: value longer than 4096 bytes`},
		},
	}, {
		name:    "bad CSV is told in the reader's words, with encoding/csv's",
		data:    okta + "jan.lindberg@example.com,Jan,Lind\"berg" + rest[len(",Jan,Lindberg"):],
		wantErr: `line 2, malformed HRIS export: bare " in non-quoted-field (column 34)`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, _, err := Read(t.Context(), []byte(tt.data), nil, "give -mapping")
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v\nwant %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range rows {
				rows[i].Profile = nil
			}
			if diff := cmp.Diff(tt.want, rows); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

package fulfillment

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var workdayProfiles = []Profile{
	{Login: "jan.lindberg@example.com", Email: "jan.lindberg@example.com", SecondEmail: "jan.home@example.net",
		FirstName: "Jan", LastName: "Lindberg", PrimaryPhone: "(781) 555-0142", StreetAddress: "7788 Foxrun Street\nApt 2",
		City: "Dedham", State: "MA", ZipCode: "02026", CountryCode: "US", Organization: "Example Inc.", UserStatus: "ACTIVE"},
	{Login: "amelie.dubois@example.com", Email: "amelie.dubois@example.com", SecondEmail: "amelie@example.fr",
		FirstName: "Amélie", LastName: "Dubois", PrimaryPhone: "01 42 68 53 00", StreetAddress: "8 rue de l'Élysée",
		City: "Paris", ZipCode: "75008", CountryCode: "FR", Organization: "Example SAS", UserStatus: "STAGED"},
	{Login: "hiro.tanaka@example.com", Email: "hiro.tanaka@example.com",
		FirstName: "Hiro", LastName: "Tanaka", PrimaryPhone: "+81 3-1234-5678", StreetAddress: "1-1 Chiyoda\nChiyoda-ku",
		City: "Tokyo", ZipCode: "1000001", CountryCode: "JP", Organization: "Example KK", UserStatus: "ACTIVE"},
	{Login: "oliver.smith@example.com", Email: "oliver.smith@example.com", SecondEmail: "oliver@example.co.uk",
		FirstName: "Oliver", LastName: "Smith", PrimaryPhone: "+44 (0)20 7946 0958", StreetAddress: "10 Downing Street",
		City: "London", ZipCode: "sw1a 2aa", CountryCode: "gb", Organization: "Example Ltd", UserStatus: "STAGED"},
}

var serviceNowProfiles = []Profile{
	{Login: "maria.garcia@example.com", Email: "maria.garcia@example.com", SecondEmail: "maria.g@example.org",
		FirstName: "María", LastName: "García", PrimaryPhone: "+1 416 555 0199", StreetAddress: "100 Queen St W\nSuite 200",
		City: "Toronto", State: "on", ZipCode: "m5h2n2", CountryCode: "CA", Organization: "Example Canada"},
	{Login: "lars.nilsson@example.com", Email: "lars.nilsson@example.com",
		FirstName: "Lars", LastName: "Nilsson", PrimaryPhone: "08-123 456 78", StreetAddress: "Drottninggatan 1",
		City: "Stockholm", ZipCode: "11151", CountryCode: "SE", Organization: "Example AB"},
	{Login: "priya.sharma@example.com", Email: "priya.sharma@example.com", SecondEmail: "priya@example.in",
		FirstName: "Priya", LastName: "Sharma", PrimaryPhone: "098765 43210", StreetAddress: "12 Janpath",
		City: "New Delhi", State: "DL", ZipCode: "110 001", CountryCode: "IN", Organization: "Example Pvt Ltd"},
}

// oktaProfiles are testdata/okta.csv: a CSV named by Okta's attributes.
var oktaProfiles = []Profile{
	{Login: "jan.lindberg@example.com", FirstName: "Jan", LastName: "Lindberg", Email: "jan.lindberg@example.com", SecondEmail: "jan.home@example.net",
		PrimaryPhone: "(781) 555-0142", StreetAddress: "7788 Foxrun Street", City: "Dedham", State: "MA", ZipCode: "02026", CountryCode: "US", Organization: "Example Inc."},
	{Login: "ana.costa@example.com", FirstName: "Ana", LastName: "Costa", Email: "ana.costa@example.com", SecondEmail: "ana@example.com.br",
		PrimaryPhone: "(11) 91234-5678", StreetAddress: "Av. Paulista, 1000", City: "São Paulo", State: "SP", ZipCode: "01310-100", CountryCode: "BR", Organization: "Example Ltda"},
	{Login: "wanjiru.kamau@example.com", FirstName: "Wanjiru", LastName: "Kamau", Email: "wanjiru.kamau@example.com", SecondEmail: "wanjiru@example.co.ke",
		PrimaryPhone: "0712 345678", StreetAddress: "Kenyatta Avenue 1", City: "Nairobi", ZipCode: "00100", CountryCode: "KE", Organization: "Example EA"},
	{Login: "yuki.sato@example.com", FirstName: "Yuki", LastName: "Sato", Email: "yuki.sato@example.com", SecondEmail: "yuki@example.jp",
		PrimaryPhone: "090-1234-5678", StreetAddress: "1-1 Chiyoda\nChiyoda-ku", City: "Tokyo", ZipCode: "1000001", CountryCode: "JP", Organization: "Example KK"},
}

func collect(t *testing.T, h *HRIS) []Profile {
	t.Helper()
	var out []Profile
	for p, err := range h.All(t.Context()) {
		if err != nil {
			t.Fatalf("All: %v", err)
		}
		out = append(out, p)
	}
	return out
}

func TestReadHRISSamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file   string
		format Format
		m      Mapping
		want   []Profile
		lines  map[string]int
	}{
		{"workday.csv", FormatCSV, WorkdayMapping(), workdayProfiles, map[string]int{"oliver.smith@example.com": 5}},
		{"workday.json", FormatJSON, WorkdayMapping(), workdayProfiles, map[string]int{"jan.lindberg@example.com": 3, "hiro.tanaka@example.com": 36}},
		{"servicenow.json", FormatJSON, ServiceNowMapping(), serviceNowProfiles, map[string]int{"lars.nilsson@example.com": 19}},
		{"servicenow.csv", FormatCSV, ServiceNowMapping(), serviceNowProfiles, map[string]int{"maria.garcia@example.com": 2, "lars.nilsson@example.com": 4}},
		{"okta.csv", FormatCSV, OktaMapping(), oktaProfiles, map[string]int{"jan.lindberg@example.com": 2, "yuki.sato@example.com": 5}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			f, err := os.Open("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			h, err := ReadHRIS(f, tt.format, tt.m)
			if err != nil {
				t.Fatalf("ReadHRIS: %v", err)
			}
			if d := cmp.Diff(tt.want, collect(t, h)); d != "" {
				t.Errorf("profiles (-want +got):\n%s", d)
			}
			for login, want := range tt.lines {
				if got, ok := h.Line(login); !ok || got != want {
					t.Errorf("Line(%s) = %d, %v; want %d", login, got, ok, want)
				}
			}
			// Every sample user can be shipped to once normalised.
			for _, p := range tt.want {
				if err := ShippingInfoFromProfile(p).Normalize().Validate(); err != nil {
					t.Errorf("%s: %v", p.Login, err)
				}
			}
		})
	}
}

func TestHRISLookup(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/workday.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := ReadHRIS(f, FormatCSV, WorkdayMapping())
	if err != nil {
		t.Fatal(err)
	}
	var d Directory = h
	p, err := d.Lookup(t.Context(), " Hiro.Tanaka@EXAMPLE.com")
	if err != nil || p.LastName != "Tanaka" {
		t.Errorf("Lookup = %+v, %v", p, err)
	}
	if _, err := d.Lookup(t.Context(), "nobody@example.com"); !errors.Is(err, ErrProfileNotFound) {
		t.Errorf("Lookup(unknown) = %v, want ErrProfileNotFound", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := d.Lookup(ctx, "hiro.tanaka@example.com"); !errors.Is(err, context.Canceled) {
		t.Errorf("Lookup(cancelled) = %v", err)
	}
	n := 0
	for _, err := range h.All(ctx) {
		n++
		if !errors.Is(err, context.Canceled) {
			t.Errorf("All(cancelled) yielded %v", err)
		}
	}
	if n != 1 {
		t.Errorf("All(cancelled) yielded %d values, want 1", n)
	}
	if h.Len() != 4 {
		t.Errorf("Len = %d", h.Len())
	}
	for range h.All(t.Context()) {
		break // stopping early must not panic
	}
}

var tinyMapping = Mapping{Name: "tiny", Records: "rows", Columns: []Column{
	{"user", AttrLogin}, {"mail", AttrEmail}, {"street1", AttrStreetAddress}, {"street2", AttrStreetAddress}, {"new", AttrNeverSignedIn},
}}

// rowErrs flattens ReadHRIS's error into "line/column/sentinel" strings.
func rowErrs(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	var out []string
	for _, e := range list {
		var re *RowError
		if !errors.As(e, &re) {
			t.Fatalf("error %v is not a *RowError", e)
		}
		kind := "other"
		for _, s := range []error{ErrDuplicateLogin, ErrExportTooLarge, ErrMalformedExport} {
			if errors.Is(e, s) {
				kind = strings.TrimPrefix(s.Error(), "fulfillment: ")
				break
			}
		}
		if !strings.Contains(re.Error(), "line ") {
			t.Errorf("row error %q does not name the line", re)
		}
		// Its Err is an *ExportError, whose Problem begins with its
		// kind's words.
		if ee, ok := errors.AsType[*ExportError](re.Err); !ok {
			t.Errorf("row error %q: Err is a %T, want an *ExportError", re, re.Err)
		} else if !strings.HasPrefix(ee.Problem, kind) {
			t.Errorf("row error %q: Problem %q, want it to begin %q", re, ee.Problem, kind)
		}
		out = append(out, strings.Join([]string{itoa(re.Line), re.Column, kind}, "/"))
	}
	return out
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

func TestReadHRISRows(t *testing.T) {
	t.Parallel()
	const dup, bad, big = "duplicate login", "malformed HRIS export", "HRIS export too large"
	tests := []struct {
		name      string
		format    Format
		in        string
		opts      []HRISOption
		wantNil   bool // whole export refused
		wantRows  []string
		wantLogin []string
	}{
		{"csv ok with BOM, CRLF and quoted newline", FormatCSV,
			"\ufeffuser,mail,street1,street2,new\r\na@x.io,a@x.io,\"1 Main St\r\nRear\",Unit 4,yes\r\n\r\nb@x.io,b@x.io,2 Main St,,\r\n",
			nil, false, nil, []string{"a@x.io", "b@x.io"}},
		{"csv duplicates dropped on both sides", FormatCSV,
			"user,mail,street1,street2,new\na@x.io,,,,\nb@x.io,,,,\nA@X.IO,,,,\nc@x.io,,,,\na@x.io,,,,\n",
			nil, false, []string{"2/user/" + dup, "4/user/" + dup, "6/user/" + dup}, []string{"b@x.io", "c@x.io"}},
		{"csv empty login and bad boolean", FormatCSV,
			"user,mail,street1,street2,new\n ,a@x.io,,,\nb@x.io,,,,maybe\nc@x.io,,,,\n",
			nil, false, []string{"2/user/" + bad, "3/new/" + bad}, []string{"c@x.io"}},
		{"csv field count", FormatCSV,
			"user,mail,street1,street2,new\na@x.io,,,\nb@x.io,,,,\n",
			nil, false, []string{"2//" + bad}, []string{"b@x.io"}},
		{"csv oversized field", FormatCSV,
			"user,mail,street1,street2,new\na@x.io,,," + strings.Repeat("s", 65) + ",\nb@x.io,,,,\n",
			[]HRISOption{WithMaxFieldBytes(64)}, false, []string{"2/street2/" + bad}, []string{"b@x.io"}},
		{"csv 1 MB field", FormatCSV,
			"user,mail,street1,street2,new\na@x.io," + strings.Repeat("m", 1<<20) + ",,,\nb@x.io,,,,\n",
			nil, false, []string{"2/mail/" + bad}, []string{"b@x.io"}},
		{"json 1 MB value", FormatJSON,
			`[{"user":"a@x.io","street1":"` + strings.Repeat("m", 1<<20) + `"},{"user":"ü@x.io"}]`,
			nil, false, []string{"1/street1/" + bad}, []string{"ü@x.io"}},
		{"csv unicode and hostile values kept as written", FormatCSV,
			"user,mail,street1,street2,new\n\"名前@例え.jp\",\"=cmd|' /C calc'!A0\",\"\u202e1 Main\",,\n",
			nil, false, nil, []string{"名前@例え.jp"}},
		{"csv invalid UTF-8", FormatCSV,
			"user,mail,street1,street2,new\na@x.io,\xff,,,\n",
			nil, false, []string{"2/mail/" + bad}, nil},
		{"csv missing column", FormatCSV, "user,mail,street1,new\n", nil, true, []string{"1/street2/" + bad}, nil},
		{"csv duplicate header", FormatCSV, "user,mail,street1,street2,new,mail\n", nil, true, []string{"1/mail/" + bad}, nil},
		{"csv empty", FormatCSV, "", nil, true, []string{"1//" + bad}, nil},
		{"csv bare quote", FormatCSV, "user,mail,street1,street2,new\na@x.io,a\"b,,,\n", nil, true, []string{"2//" + bad}, nil},
		{"csv too many rows", FormatCSV, "user,mail,street1,street2,new\na,,,,\nb,,,,\nc,,,,\n",
			[]HRISOption{WithMaxRows(2)}, true, []string{"4//" + big}, nil},
		{"non-positive limits keep the defaults", FormatCSV, "user,mail,street1,street2,new\na@x.io,,,,\n",
			[]HRISOption{WithMaxRows(0), WithMaxFieldBytes(-1), WithMaxExportBytes(0)}, false, nil, []string{"a@x.io"}},
		{"json ok", FormatJSON,
			`{"meta":{"x":[1,2]},"rows":[` + "\n" + `{"user":"a@x.io","mail":null,"street1":"1 Main","new":true},` + "\n" + `{"user":"b@x.io","street2":12345,"new":false,"extra":{"ignored":1}}]}`,
			nil, false, nil, []string{"a@x.io", "b@x.io"}},
		{"json bare array", FormatJSON, `[{"user":"a@x.io"}]`, nil, false, nil, []string{"a@x.io"}},
		{"json duplicate and nested value", FormatJSON,
			"{\"rows\":[\n{\"user\":\"a@x.io\"},\n{\"user\":\"b@x.io\",\"mail\":{\"x\":1}},\n{\"user\":\"A@x.io\"}\n]}",
			nil, false, []string{"2/user/" + dup, "3/mail/" + bad, "4/user/" + dup}, nil},
		{"json missing records member", FormatJSON, `{"result":[]}`, nil, true, []string{"1/rows/" + bad}, nil},
		{"json not an array", FormatJSON, `{"rows":{"user":"a"}}`, nil, true, []string{"1//" + bad}, nil},
		{"json record not an object", FormatJSON, "[\n{\"user\":\"a@x.io\"},\n\"oops\"]", nil, true, []string{"3//" + bad}, nil},
		{"json syntax", FormatJSON, "[\n{\"user\":\"a@x.io\"},\n{\"user\":]", nil, true, []string{"3//" + bad}, nil},
		{"json truncated", FormatJSON, "[\n{\"user\":\"a@x.io\"", nil, true, []string{"2//" + bad}, nil},
		{"json empty", FormatJSON, "", nil, true, []string{"1//" + bad}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, err := ReadHRIS(strings.NewReader(tt.in), tt.format, tinyMapping, tt.opts...)
			if d := cmp.Diff(tt.wantRows, rowErrs(t, err)); d != "" {
				t.Errorf("row errors (-want +got):\n%s\nerr: %v", d, err)
			}
			if tt.wantNil {
				if h != nil {
					t.Errorf("got a directory for a refused export")
				}
				return
			}
			if h == nil {
				t.Fatalf("no directory: %v", err)
			}
			var logins []string
			for _, p := range collect(t, h) {
				logins = append(logins, p.Login)
			}
			if d := cmp.Diff(tt.wantLogin, logins); d != "" {
				t.Errorf("logins (-want +got):\n%s", d)
			}
		})
	}
}

// TestExportErrorProblems: what a person is told of each row error, an
// *ExportError's Problem, and what it wraps besides its kind.
func TestExportErrorProblems(t *testing.T) {
	t.Parallel()
	const header = "user,mail,street1,street2,new\n"
	for _, tc := range []struct {
		name   string
		format Format
		in     string
		opts   []HRISOption
		want   []string // "line/column: Problem"
		kind   error
		cause  error // wrapped too, if not nil
	}{
		{"empty login", FormatCSV, header + " ,a@x.io,,,\n", nil, []string{"2/user: malformed HRIS export: login is empty"}, ErrMalformedExport, nil},
		{"bad boolean", FormatCSV, header + "b@x.io,,,,maybe\n", nil, []string{`2/new: malformed HRIS export: "maybe" is not a boolean`}, ErrMalformedExport, nil},
		{"duplicate", FormatCSV, header + "a@x.io,,,,\nA@X.IO,,,,\n", nil, []string{
			`2/user: duplicate login "a@x.io" (also on line 3)`, `3/user: duplicate login "A@X.IO" (first on line 2)`}, ErrDuplicateLogin, nil},
		{"too many rows", FormatCSV, header + "a,,,,\nb,,,,\n", []HRISOption{WithMaxRows(1)}, []string{"3/: HRIS export too large: more than 1 rows"}, ErrExportTooLarge, nil},
		{"missing column", FormatCSV, "user,mail,street1,new\n", nil, []string{`1/street2: malformed HRIS export: mapped column missing from the header (mapping "tiny")`}, ErrMalformedExport, ErrMissingColumn},
		{"bare quote", FormatCSV, header + "a@x.io,a\"b,,,\n", nil, []string{`2/: malformed HRIS export: bare " in non-quoted-field (column 9)`}, ErrMalformedExport, csv.ErrBareQuote},
		{"json nested value", FormatJSON, `[{"user":"a@x.io","mail":{"x":1}}]`, nil, []string{"1/mail: malformed HRIS export: expected a string, number or boolean, got an object or array"}, ErrMalformedExport, nil},
	} {
		_, err := ReadHRIS(strings.NewReader(tc.in), tc.format, tinyMapping, tc.opts...)
		var got []string
		for _, e := range unjoinTest(err) {
			re, ok := errors.AsType[*RowError](e)
			if !ok {
				t.Fatalf("%s: error %v is not a *RowError", tc.name, e)
			}
			ee, ok := errors.AsType[*ExportError](re.Err)
			if !ok {
				t.Fatalf("%s: %v: Err is a %T, want an *ExportError", tc.name, re, re.Err)
			}
			got = append(got, fmt.Sprintf("%d/%s: %s", re.Line, re.Column, ee.Problem))
			if !errors.Is(ee, tc.kind) || (tc.cause != nil && !errors.Is(ee, tc.cause)) {
				t.Errorf("%s: %v does not wrap both %v and %v", tc.name, ee, tc.kind, tc.cause)
			}
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: problems (-want +got):\n%s", tc.name, diff)
		}
	}
}

// unjoinTest splits an errors.Join error into its parts.
func unjoinTest(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestReadHRISValues(t *testing.T) {
	t.Parallel()
	h, err := ReadHRIS(strings.NewReader("user,mail,street1,street2,new\r\na@x.io,a@x.io,\"1 Main St\",Unit 4,TRUE\r\n"), FormatCSV, tinyMapping)
	if err != nil {
		t.Fatal(err)
	}
	want := Profile{Login: "a@x.io", Email: "a@x.io", StreetAddress: "1 Main St\nUnit 4", NeverSignedIn: true}
	if d := cmp.Diff([]Profile{want}, collect(t, h)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestReadHRISLimitsAndMapping(t *testing.T) {
	t.Parallel()
	_, err := ReadHRIS(strings.NewReader(strings.Repeat("x", 2048)), FormatCSV, tinyMapping, WithMaxExportBytes(1024))
	if !errors.Is(err, ErrExportTooLarge) {
		t.Errorf("oversized export: %v", err)
	}
	_, err = ReadHRIS(strings.NewReader("[]"), Format(9), tinyMapping)
	if err == nil || !strings.Contains(err.Error(), "Format(9)") {
		t.Errorf("unknown format: %v", err)
	}
	bad := []Mapping{
		{Name: "no login", Columns: []Column{{"a", AttrEmail}}},
		{Name: "unknown", Columns: []Column{{"u", AttrLogin}, {"a", "shoeSize"}}},
		{Name: "twice", Columns: []Column{{"u", AttrLogin}, {"a", AttrEmail}, {"b", AttrEmail}}},
		{Name: "same source", Columns: []Column{{"u", AttrLogin}, {"u", AttrEmail}}},
		{Name: "empty source", Columns: []Column{{"", AttrLogin}}},
		{Name: "blank source", Columns: []Column{{" \ufeff ", AttrLogin}}},
		{Name: "same source but for case", Columns: []Column{{"u", AttrLogin}, {" U", AttrEmail}}},
		{Name: "optional not mapped", Columns: []Column{{"u", AttrLogin}}, Optional: []string{"mail"}},
		{Name: "optional login", Columns: []Column{{"u", AttrLogin}, {"mail", AttrEmail}}, Optional: []string{"U"}},
	}
	for _, m := range bad {
		if err := m.Validate(); !errors.Is(err, ErrInvalidMapping) {
			t.Errorf("mapping %q: %v, want ErrInvalidMapping", m.Name, err)
		}
		if _, err := ReadHRIS(strings.NewReader(""), FormatCSV, m); !errors.Is(err, ErrInvalidMapping) {
			t.Errorf("ReadHRIS accepted mapping %q", m.Name)
		}
	}
	for _, m := range []Mapping{WorkdayMapping(), ServiceNowMapping(), OktaMapping()} {
		if err := m.Validate(); err != nil {
			t.Errorf("built-in mapping: %v", err)
		}
	}
}

func TestReadHRISTooManyBadRows(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("user,mail,street1,street2,new\n")
	for range 150 {
		b.WriteString(",,,,\n")
	}
	h, err := ReadHRIS(strings.NewReader(b.String()), FormatCSV, tinyMapping)
	if h != nil || !errors.Is(err, ErrMalformedExport) || !strings.Contains(err.Error(), "more than 99 bad rows") {
		t.Errorf("got %v, %v", h, err)
	}
}

func BenchmarkReadHRIS10k(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("user_name,email,u_personal_email,first_name,last_name,phone,street,city,state,zip,country,company\n")
	for i := range 10_000 {
		sb.WriteString("user" + itoa(i+1) + "@example.com,u@example.com,p@example.org,Ann,Lee,+1 416 555 0199,1 Queen St,Toronto,ON,M5H 2N2,CA,Example\n")
	}
	data := sb.String()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		h, err := ReadHRIS(strings.NewReader(data), FormatCSV, ServiceNowMapping())
		if err != nil || h.Len() != 10_000 {
			b.Fatal(err)
		}
	}
}

// TestReadHRISHeaders checks how CSV headers are matched: ignoring case,
// surrounding white space and a byte order mark, for every built-in
// mapping; optional columns may be missing, and every missing required
// column is reported at once.
func TestReadHRISHeaders(t *testing.T) {
	t.Parallel()
	file := func(name string) string {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// reheader replaces the header line of a sample with f(header).
	reheader := func(data string, f func(string) string) string {
		data = strings.TrimPrefix(data, "\ufeff")
		h, rest, _ := strings.Cut(data, "\n")
		return f(h) + "\n" + rest
	}
	padEach := func(h string) string {
		cells := strings.Split(h, ",")
		for i, c := range cells {
			cells[i] = "  " + c + "\t"
		}
		return strings.Join(cells, ",")
	}
	const bad = "malformed HRIS export"
	var noState []Profile
	for _, p := range oktaProfiles {
		p.State, p.SecondEmail = "", ""
		noState = append(noState, p)
	}
	tests := []struct {
		name     string
		in       string
		m        Mapping
		want     []Profile
		wantErrs []string
	}{
		{"okta as written", file("okta.csv"), OktaMapping(), oktaProfiles, nil},
		{"okta lower case", reheader(file("okta.csv"), strings.ToLower), OktaMapping(), oktaProfiles, nil},
		{"okta upper case, padded, BOM", "\ufeff" + reheader(file("okta.csv"), func(h string) string { return padEach(strings.ToUpper(h)) }), OktaMapping(), oktaProfiles, nil},
		{"okta quoted header with BOM inside", reheader(file("okta.csv"), func(h string) string { return "\"\ufeffLogin\"" + strings.TrimPrefix(h, "login") }), OktaMapping(), oktaProfiles, nil},
		{"okta without the optional columns", reheader(file("okta.csv"), func(h string) string {
			return strings.NewReplacer("secondEmail", "personalEmail", ",state,", ",region,").Replace(h)
		}), OktaMapping(), noState, nil},
		{"okta missing required columns", "login,firstname,email,city\na@x.io,A,a@x.io,X\n", OktaMapping(), nil,
			[]string{"1/lastName/" + bad, "1/primaryPhone/" + bad, "1/streetAddress/" + bad, "1/zipCode/" + bad, "1/countryCode/" + bad, "1/organization/" + bad}},
		{"okta header repeated but for case", reheader(file("okta.csv"), func(h string) string { return h + ",EMAIL" }), OktaMapping(), nil,
			[]string{"1/EMAIL/" + bad}},
		{"workday lower case", reheader(file("workday.csv"), strings.ToLower), WorkdayMapping(), workdayProfiles, nil},
		{"workday padded upper case", reheader(file("workday.csv"), func(h string) string { return padEach(strings.ToUpper(h)) }), WorkdayMapping(), workdayProfiles, nil},
		{"servicenow upper case", reheader(file("servicenow.csv"), strings.ToUpper), ServiceNowMapping(), serviceNowProfiles, nil},
		{"empty header cells are no duplicates", "user,,mail,,street1,street2,new\na@x.io,,a@x.io,,,,\n", tinyMapping,
			[]Profile{{Login: "a@x.io", Email: "a@x.io"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, err := ReadHRIS(strings.NewReader(tt.in), FormatCSV, tt.m)
			if d := cmp.Diff(tt.wantErrs, rowErrs(t, err)); d != "" {
				t.Fatalf("errors (-want +got):\n%s\nerr: %v", d, err)
			}
			if tt.wantErrs != nil {
				if h != nil {
					t.Errorf("got a directory for a refused export")
				}
				return
			}
			if d := cmp.Diff(tt.want, collect(t, h)); d != "" {
				t.Errorf("profiles (-want +got):\n%s", d)
			}
		})
	}
}

func TestReadHRISOktaJSON(t *testing.T) {
	t.Parallel()
	in := `[{"login":"a@x.io","firstName":"Ann","primaryPhone":"+44 20 7946 0958","countryCode":"GB","title":"ignored"}]`
	h, err := ReadHRIS(strings.NewReader(in), FormatJSON, OktaMapping())
	if err != nil {
		t.Fatal(err)
	}
	want := []Profile{{Login: "a@x.io", FirstName: "Ann", PrimaryPhone: "+44 20 7946 0958", CountryCode: "GB"}}
	if d := cmp.Diff(want, collect(t, h)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

package fulfillment

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/okta"
)

func FuzzValidateNormalize(f *testing.F) {
	f.Add("Jan", "Lindberg", "Example Inc.", "jan@example.com", "home@example.net", "(781) 555-0142",
		"7788 Foxrun Street\nApt 2", "Dedham", "ma", "020261234", "us", "STAGED", false)
	f.Add(" Zoe\u0308 ", "O\u00a0Brien", "Ex\x00", "a@B.C", "", "+44 (0)20 7946 0958",
		"\n\n", "APO", "AE", "sw1a2aa", "gb", "ACTIVE", true)
	f.Add("\xff", "\u202e", "", "x", "@", "00", "a\r\nb", "", "", "k1a0b1", "CA", "", false)
	f.Add("名", "姓", "会社", "a@例え.jp", "b@example.jp", "03-1234-5678", "1-1", "東京", "", "1000001", "JP", "", false)
	f.Fuzz(func(t *testing.T, first, last, org, email, second, phone, street, city, state, zip, country, status string, never bool) {
		p := Profile{
			FirstName: first, LastName: last, Organization: org, Email: email, SecondEmail: second,
			PrimaryPhone: phone, StreetAddress: street, City: city, State: state, ZipCode: zip,
			CountryCode: country, UserStatus: okta.UserStatus(status), NeverSignedIn: never,
		}
		s := ShippingInfoFromProfile(p)
		checkValidation(t, s.Validate())
		n := s.Normalize()
		if d := cmp.Diff(n, n.Normalize()); d != "" {
			t.Fatalf("Normalize not idempotent (-once +twice):\n%s", d)
		}
		err := n.Validate()
		checkValidation(t, err)
		if err == nil {
			if len(n.FirstName) > maxFirstNameBytes || len(n.StreetLine1)+len(n.StreetLine2) > maxStreetBytes || !isE164(n.Phone) {
				t.Fatalf("accepted an info that breaks a limit: %+v", n)
			}
			if tr := n.Truncate(); tr.Validate() != nil {
				t.Fatalf("truncating a valid info made it invalid: %v", tr.Validate())
			}
		}
		tr := n.Truncate()
		if len(tr.FirstName) > truncFirstNameBytes || len(tr.LastName) > truncLastNameBytes || len(tr.Company) > truncCompanyBytes {
			t.Fatalf("Truncate left long names: %+v", tr)
		}
	})
}

// checkValidation checks the shape of a Validate result.
func checkValidation(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ve *ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidShipping) || len(ve.Fields) == 0 {
		t.Fatalf("Validate returned %T %v", err, err)
	}
	seen := map[string]bool{}
	for _, fe := range ve.Fields {
		if seen[fe.Field] || fe.Problem == "" || len(fe.Value) > 32+len("…") {
			t.Fatalf("bad field error %#v", fe)
		}
		seen[fe.Field] = true
	}
}

func FuzzStatusMachine(f *testing.F) {
	f.Add([]byte{0, 3, 5, 6})
	f.Add([]byte{0, 1, 2, 3, 4, 4, 5, 4, 6, 6})
	f.Add([]byte{6, 0, 1, 1, 2, 1, 6, 3})
	f.Fuzz(func(t *testing.T, seq []byte) {
		if len(seq) > 1000 {
			seq = seq[:1000]
		}
		s := StatusNone
		for _, b := range seq {
			var e Event
			if events := allEvents(); int(b) < len(events) {
				e = events[b]
			} else {
				e = Event([]byte{b}) // never a known event
			}
			next, err := s.Next(e)
			want, allowed := allowedMoves[s][e]
			switch {
			case allowed && (err != nil || next != want):
				t.Fatalf("%s --%s--> %s, %v; the lifecycle says %s", s, e, next, err, want)
			case !allowed && (err == nil || next != s || !errors.Is(err, ErrInvalidTransition)):
				t.Fatalf("%s --%s--> %s, %v; the lifecycle forbids it", s, e, next, err)
			}
			if !next.Valid() && next != StatusNone {
				t.Fatalf("reached unknown status %q", next)
			}
			if s == Deleted && next != Deleted {
				t.Fatalf("left the terminal status")
			}
			s = next
		}
	})
}

func FuzzHRISReader(f *testing.F) {
	for _, name := range []string{"workday.csv", "workday.json", "servicenow.csv", "servicenow.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, strings.HasSuffix(name, ".json"))
	}
	f.Add([]byte("Username\n\"a\nb\",x\n"), false)
	f.Add([]byte(`{"Report_Entry":[{"Username":"a"},{"Username":"A"},7]}`), true)
	f.Fuzz(func(t *testing.T, data []byte, isJSON bool) {
		format := FormatCSV
		if isJSON {
			format = FormatJSON
		}
		h, err := ReadHRIS(bytes.NewReader(data), format, WorkdayMapping(), WithMaxRows(200), WithMaxFieldBytes(256))
		if err != nil && !errors.Is(err, ErrMalformedExport) && !errors.Is(err, ErrExportTooLarge) && !errors.Is(err, ErrDuplicateLogin) {
			t.Fatalf("error wraps no HRIS sentinel: %v", err)
		}
		if h == nil {
			if err == nil {
				t.Fatal("nil directory without an error")
			}
			return
		}
		seen := map[string]bool{}
		for p, err := range h.All(t.Context()) {
			if err != nil {
				t.Fatal(err)
			}
			key := strings.ToLower(p.Login)
			if p.Login == "" || seen[key] {
				t.Fatalf("empty or duplicate login %q kept", p.Login)
			}
			seen[key] = true
			if got, err := h.Lookup(t.Context(), p.Login); err != nil || got != p {
				t.Fatalf("Lookup(%q) = %+v, %v", p.Login, got, err)
			}
			_ = ShippingInfoFromProfile(p).Normalize().Validate()
		}
	})
}

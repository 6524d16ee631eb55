package yubicotest_test

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// GET /v1/countries/csv is RFC 4180 CSV: names with quotes and commas
// round-trip through encoding/csv.
func TestCountriesCSV(t *testing.T) {
	t.Parallel()
	srv := newServer(t, yubicotest.WithCountries(
		yubicotest.Country{Code: "CI", Name: `Côte d'Ivoire`},
		yubicotest.Country{Code: "KR", Name: `Korea, Republic of`},
		yubicotest.Country{Code: "XK", Name: `The "quoted" one`},
	))
	resp, body := send(t, srv, http.MethodGet, srv.URL()+"/countries/csv", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	got, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("response is not CSV: %v", err)
	}
	want := [][]string{{"country_code_2", "country_name"}, {"CI", `Côte d'Ivoire`}, {"KR", `Korea, Republic of`}, {"XK", `The "quoted" one`}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("countries CSV (-want +got):\n%s", d)
	}
}

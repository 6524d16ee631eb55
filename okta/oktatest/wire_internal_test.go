package oktatest

import (
	"testing"
	"time"
)

// TestOktaTimeJSON: oktaTime writes what time.Time.Format writes with
// Okta's layout, in UTC and quoted, digit by digit; optOktaTime is null
// when zero.
func TestOktaTimeJSON(t *testing.T) {
	t.Parallel()
	paris := time.FixedZone("CET", 3600)
	for _, tm := range []time.Time{
		time.Date(2013, 7, 2, 21, 36, 25, 344_999_999, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, paris),
		time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 1_000_000, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		{},
	} {
		want := `"` + tm.UTC().Format("2006-01-02T15:04:05.000Z") + `"`
		got, err := oktaTime(tm).MarshalJSON()
		if err != nil || string(got) != want {
			t.Errorf("oktaTime(%v) = %s, %v; want %s", tm, got, err, want)
		}
		if tm.IsZero() {
			want = "null"
		}
		got, err = optOktaTime(tm).MarshalJSON()
		if err != nil || string(got) != want {
			t.Errorf("optOktaTime(%v) = %s, %v; want %s", tm, got, err, want)
		}
	}
}

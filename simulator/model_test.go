package simulator

import (
	"strings"
	"testing"
)

func TestParseVersion(t *testing.T) {
	t.Parallel()
	good := []struct {
		in   string
		want Version
	}{
		{"5.4.3", Version{5, 4, 3}},
		{"5.7.1", Version{5, 7, 1}},
		{"0.0.0", Version{}},
		{"255.255.255", Version{255, 255, 255}},
		{"5.07.1", Version{5, 7, 1}},
	}
	for _, tt := range good {
		if got, err := ParseVersion(tt.in); err != nil || got != tt.want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "5", "5.4", "5.4.3.1", "v5.4.3", "5.4.x", "5.256.0", "5.-1.0", "5.+1.0", "5..3", " 5.4.3", "5.4.3 ", "5.4.0003", "５.4.3"} {
		if got, err := ParseVersion(in); err == nil {
			t.Errorf("ParseVersion(%q) = %v, want an error", in, got)
		} else if !strings.Contains(err.Error(), "version") {
			t.Errorf("ParseVersion(%q) error %q does not say what is wrong", in, err)
		}
	}
}

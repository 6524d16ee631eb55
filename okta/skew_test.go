package okta

import (
	"testing"
	"time"
)

// The clock-offset estimate is the largest observation of the current and
// the previous period: it ignores a late, low observation, and follows a
// clock step once the old maximum has aged out.
func TestSkewEstimate(t *testing.T) {
	t0 := time.Date(2031, 3, 1, 12, 0, 0, 0, time.UTC)
	type obs struct {
		at time.Duration // after t0, by the client's clock
		d  time.Duration
	}
	for _, tc := range []struct {
		name string
		obs  []obs
		want time.Duration
	}{
		{"nothing seen", nil, 0},
		{"one", []obs{{0, -time.Hour}}, -time.Hour},
		{"a lower late one is ignored", []obs{{0, 0}, {time.Minute, -2 * time.Minute}}, 0},
		{"the maximum of the previous period still counts", []obs{{0, 0}, {6 * time.Minute, -2 * time.Minute}}, 0},
		{"a step is followed after two periods", []obs{{0, time.Hour}, {6 * time.Minute, 0}, {12 * time.Minute, 0}}, 0},
		{"a gap longer than two periods forgets", []obs{{0, time.Hour}, {11 * time.Minute, 0}}, 0},
		{"the client's clock going back starts afresh", []obs{{time.Hour, time.Hour}, {0, 0}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e skewEstimate
			for _, o := range tc.obs {
				e.observe(o.d, t0.Add(o.at))
			}
			if got := e.get(); got != tc.want {
				t.Errorf("estimate = %v, want %v", got, tc.want)
			}
		})
	}
}

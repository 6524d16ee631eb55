package serve

import (
	"testing"
	"time"
)

func TestSyncWait(t *testing.T) {
	tests := []struct {
		interval time.Duration
		failed   int
		want     time.Duration
	}{
		{200 * time.Millisecond, 0, 200 * time.Millisecond},
		{200 * time.Millisecond, 1, 400 * time.Millisecond},
		{200 * time.Millisecond, 3, 1600 * time.Millisecond},
		{200 * time.Millisecond, 8, 51200 * time.Millisecond},
		{200 * time.Millisecond, 9, time.Minute},
		{200 * time.Millisecond, 1000, time.Minute},
		{5 * time.Minute, 0, 5 * time.Minute},
		{5 * time.Minute, 4, 5 * time.Minute}, // an interval over the cap is not stretched
		{40 * time.Second, 1, time.Minute},
	}
	for _, tt := range tests {
		if got := syncWait(tt.interval, tt.failed); got != tt.want {
			t.Errorf("syncWait(%v, %d) = %v, want %v", tt.interval, tt.failed, got, tt.want)
		}
	}
}

package fulfillment

import (
	"testing"
	"time"
)

// nextBatch reads a waiting shipment half an hour after Yubico's 03:00
// Pacific batch: later the same day when the batch has not settled yet,
// the next day once that read is past, in summer and winter time alike.
func TestNextBatch(t *testing.T) {
	t.Parallel()
	pt := func(y int, m time.Month, d, h, min int) time.Time {
		return time.Date(y, m, d, h, min, 0, 0, batchLocation)
	}
	for _, tc := range []struct {
		name      string
		now, want time.Time
	}{
		{"evening before", pt(2026, 3, 2, 17, 0), pt(2026, 3, 3, 3, 30)},
		{"batch started, not settled", pt(2026, 3, 3, 3, 15), pt(2026, 3, 3, 3, 30)},
		{"at the read", pt(2026, 3, 3, 3, 30), pt(2026, 3, 4, 3, 30)},
		{"just after the read", pt(2026, 3, 3, 3, 31), pt(2026, 3, 4, 3, 30)},
		{"summer time begins overnight", pt(2026, 3, 7, 12, 0), pt(2026, 3, 8, 3, 30)},
		{"winter", pt(2026, 12, 6, 2, 0), pt(2026, 12, 6, 3, 30)},
	} {
		if got := nextBatch(tc.now.UTC()); !got.Equal(tc.want) {
			t.Errorf("%s: nextBatch(%v) = %v, want %v", tc.name, tc.now, got.In(batchLocation), tc.want)
		}
	}
}

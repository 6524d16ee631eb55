package serve

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/internal/httpclient"
)

// TestWaitClockCountsWaitsMade: a wait refused because it would outlast
// the call's deadline is not counted as a wait.
func TestWaitClockCountsWaitsMade(t *testing.T) {
	m := newMetrics(func() float64 { return 0 })
	c := waitClock{m: m, vendor: vendorOkta}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if err := c.Sleep(ctx, time.Hour); !errors.Is(err, httpclient.ErrPastDeadline) {
		t.Fatalf("Sleep past the deadline = %v, want ErrPastDeadline", err)
	}
	if err := c.Sleep(t.Context(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if n := testutil.ToFloat64(m.waits.WithLabelValues(vendorOkta)); n != 1 {
		t.Errorf("waits counted %v, want 1 (the refused one is not a wait)", n)
	}
	if s := testutil.ToFloat64(m.waitSeconds.WithLabelValues(vendorOkta)); s != 0.001 {
		t.Errorf("wait seconds %v, want 0.001", s)
	}
}

// TestObserveSyncCountsRecordsNotDue: the records a pass skipped because
// their next check has not come are counted under result "not_due".
func TestObserveSyncCountsRecordsNotDue(t *testing.T) {
	m := newMetrics(func() float64 { return 0 })
	m.observeSync(time.Second, fulfillment.SyncReport{Checked: 2, Advanced: 1, NotDue: 7}, nil)
	for result, want := range map[string]float64{"checked": 2, "advanced": 1, "not_due": 7} {
		if got := testutil.ToFloat64(m.syncRecords.WithLabelValues(result)); got != want {
			t.Errorf("sync records %q = %v, want %v", result, got, want)
		}
	}
}

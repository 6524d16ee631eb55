package fulfillment

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestCannotResend: a create whose outcome is unknown is resent only with
// IdempotentShipments and while less than IdempotencyWindow has passed
// since the first intent that carried its key (not a later resume of it);
// a key no recorded intent carries has no known age and is not resent.
func TestCannotResend(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	const key = "shipment-creating-1"
	intent := func(ago time.Duration, key string) Change {
		return Change{At: now.Add(-ago), Step: StepShipmentCreating, Key: key}
	}
	for _, tc := range []struct {
		name       string
		idempotent bool
		history    []Change
		want       bool // can resend
	}{
		{"without keys", false, []Change{intent(time.Minute, key)}, false},
		{"inside the window", true, []Change{intent(time.Hour, key)}, true},
		{"at the window", true, []Change{intent(24*time.Hour, key)}, false},
		{"first intent past it, resumed since", true, []Change{intent(25*time.Hour, key), intent(time.Minute, key)}, false},
		{"an earlier attempt's key past it", true, []Change{intent(25*time.Hour, "shipment-creating-0"), intent(time.Hour, key)}, true},
		{"no intent with the key", true, []Change{intent(time.Hour, "shipment-creating-0")}, false},
		{"no history", true, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Service{idempotentShipments: tc.idempotent, idempotencyWindow: 24 * time.Hour, now: func() time.Time { return now }}
			rec := Record{Keys: map[Step]string{StepShipmentCreating: key}, History: tc.history}
			why := s.cannotResend(rec, StepShipmentCreating)
			if diff := cmp.Diff(tc.want, why == ""); diff != "" {
				t.Errorf("can resend (-want +got):\n%s\nreason %q", diff, why)
			}
		})
	}
}

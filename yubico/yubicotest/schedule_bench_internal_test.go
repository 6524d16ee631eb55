package yubicotest

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/preenroll/preenroll/yubico"
)

// seedSteadyState returns a fake holding n plain shipments created at an
// even pace over the three days before its clock's time, so that they are
// spread over the lifecycle (awaiting validation, the batch, the carrier,
// delivery) and something falls due at most validation ticks. They are
// recorded directly, without HTTP, and carry no items (the batch takes no
// inventory).
func seedSteadyState(b *testing.B, n int) *Server {
	b.Helper()
	s, err := Start()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	gap := 3 * 24 * time.Hour / time.Duration(n)
	for i := range n {
		s.mu.Lock()
		s.recordLocked(&shipment{id: fmt.Sprintf("s%06d", i), state: yubico.StateAwaitingValidation, created: s.now, pendingSince: s.now})
		s.mu.Unlock()
		if err := s.Advance(gap); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkAdvance measures moving the clock through one day in
// 15-minute steps (96 Advance calls, each running the transitions that
// fall due) with 1,000 and 10,000 shipments spread over the lifecycle. The
// set-up is not timed.
func BenchmarkAdvance(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				s := seedSteadyState(b, n)
				b.StartTimer()
				for range 96 {
					if err := s.Advance(15 * time.Minute); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkDeleteShipments measures deleting (cancelling) 1,000 and 10,000
// shipments awaiting validation, oldest first, through the DELETE
// handler (without HTTP); one op deletes them all. The set-up is not
// timed.
func BenchmarkDeleteShipments(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				s, err := Start()
				if err != nil {
					b.Fatal(err)
				}
				ids := make([]string, n)
				s.mu.Lock()
				for i := range ids {
					ids[i] = fmt.Sprintf("s%06d", i)
					s.recordLocked(&shipment{id: ids[i], state: yubico.StateAwaitingValidation, created: s.now, pendingSince: s.now})
				}
				s.mu.Unlock()
				b.StartTimer()
				for _, id := range ids {
					w := httptest.NewRecorder()
					s.deleteShipment(w, id, false)
					if w.Code != 204 {
						b.Fatalf("delete %s: %d %s", id, w.Code, w.Body)
					}
				}
				b.StopTimer()
				s.Close()
				b.StartTimer()
			}
		})
	}
}

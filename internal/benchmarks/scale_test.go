package benchmarks_test

import (
	"fmt"
	"testing"

	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// BenchmarkOktaSeedUsers adds 20,000 users to a fake org: each AddUser
// checks that the login is new, which must not cost a scan of the org
// (it did before the login index: quadratic in the org's size).
func BenchmarkOktaSeedUsers(b *testing.B) {
	const n = 20_000
	for b.Loop() {
		b.StopTimer()
		s := oktatest.NewServer(b)
		b.StartTimer()
		for i := range n {
			if _, err := s.AddUser(fulfillmenttest.Profile(fmt.Sprintf("user%06d", i)), ""); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/user")
}

package yubicotest

import (
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCreationOrderMatchesSlice adds and removes shipments at random and
// checks the creation order against a plain slice after each step: the
// count, every shipment in order, and pages at every offset (across holes,
// before and after the holes are squeezed out).
func TestCreationOrderMatchesSlice(t *testing.T) {
	rnd := mrand.New(mrand.NewPCG(7, 7))
	var o creationOrder
	var want []*shipment
	n, withHoles, compactions := 0, 0, 0
	ids := func(shs []*shipment) []string {
		out := []string{}
		for _, sh := range shs {
			out = append(out, sh.id)
		}
		return out
	}
	for step := range 2000 {
		if len(want) == 0 || rnd.IntN(100) < 60 {
			sh := &shipment{id: fmt.Sprint(n)}
			n++
			o.add(sh)
			want = append(want, sh)
		} else {
			i := rnd.IntN(len(want))
			holes := o.holes
			o.remove(want[i])
			o.remove(want[i]) // a second remove changes nothing
			if o.holes < holes {
				compactions++
			}
			want = slices.Delete(want, i, i+1)
		}
		if o.len() != len(want) {
			t.Fatalf("step %d: len %d, want %d", step, o.len(), len(want))
		}
		if step%10 != 0 {
			continue
		}
		if o.holes > 0 {
			withHoles++
		}
		if d := cmp.Diff(ids(want), ids(slices.Collect(o.all()))); d != "" {
			t.Fatalf("step %d: all (-want +got):\n%s", step, d)
		}
		for offset := 0; offset <= len(want)+1; offset++ {
			limit := 1 + rnd.IntN(5)
			wantPage := want[min(offset, len(want)):min(offset+limit, len(want))]
			if d := cmp.Diff(ids(wantPage), ids(o.page(offset, limit))); d != "" {
				t.Fatalf("step %d: page(%d, %d) (-want +got):\n%s", step, offset, limit, d)
			}
		}
	}
	if withHoles < 50 || compactions < 3 {
		t.Errorf("checked with holes %d times, %d compactions: the test exercised too little", withHoles, compactions)
	}
	for i := 1; i < len(want); i++ {
		if want[i-1].seq >= want[i].seq {
			t.Fatalf("seq %d before %d", want[i-1].seq, want[i].seq)
		}
	}
}

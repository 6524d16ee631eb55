package yubicotest

import "iter"

// creationOrder holds the shipments in creation order, as the list
// endpoints page them. A delete leaves a hole, counted out of a Fenwick
// tree of the live shipments so that a page still starts in O(log n); the
// holes are squeezed out once they are half the slots, so a delete costs
// O(log n) amortized where removing it from a slice cost O(n).
type creationOrder struct {
	slots []*shipment // nil where a shipment was deleted
	live  fenwick     // 1 for each live slot
	holes int
	next  uint64 // the seq of the next shipment added
}

// add appends sh, giving it the next creation sequence number.
func (o *creationOrder) add(sh *shipment) {
	sh.seq, o.next = o.next, o.next+1
	sh.slot = int32(len(o.slots))
	o.slots = append(o.slots, sh)
	o.live.push(1)
}

// remove takes sh out, keeping the others' order.
func (o *creationOrder) remove(sh *shipment) {
	if sh.slot < 0 || int(sh.slot) >= len(o.slots) || o.slots[sh.slot] != sh {
		return
	}
	o.slots[sh.slot] = nil
	o.live.add(int(sh.slot), -1)
	sh.slot = -1
	o.holes++
	if 2*o.holes > len(o.slots) {
		o.compact()
	}
}

// compact squeezes the holes out.
func (o *creationOrder) compact() {
	kept := o.slots[:0]
	for _, sh := range o.slots {
		if sh != nil {
			sh.slot = int32(len(kept))
			kept = append(kept, sh)
		}
	}
	clear(o.slots[len(kept):])
	o.slots, o.holes = kept, 0
	o.live.reset(len(kept))
}

// len returns how many shipments there are.
func (o *creationOrder) len() int { return len(o.slots) - o.holes }

// all yields the shipments in creation order.
func (o *creationOrder) all() iter.Seq[*shipment] {
	return func(yield func(*shipment) bool) {
		for _, sh := range o.slots {
			if sh != nil && !yield(sh) {
				return
			}
		}
	}
}

// page returns at most limit shipments from the offset-th on (counting
// from 0), in creation order: never nil.
func (o *creationOrder) page(offset, limit int) []*shipment {
	if o.holes == 0 {
		return window(o.slots, limit, offset)
	}
	if offset >= o.len() || limit <= 0 {
		return []*shipment{}
	}
	out := make([]*shipment, 0, min(limit, o.len()-offset))
	for i := o.live.find(offset + 1); i < len(o.slots) && len(out) < limit; i++ {
		if sh := o.slots[i]; sh != nil {
			out = append(out, sh)
		}
	}
	return out
}

// fenwick is a Fenwick (binary indexed) tree of counts over slots 0..n-1:
// t[i] (1-based) holds the sum of the slots (i-lowbit(i), i].
type fenwick struct{ t []int }

func lowbit(i int) int { return i & -i }

// push appends a slot holding v.
func (f *fenwick) push(v int) {
	if len(f.t) == 0 {
		f.t = append(f.t, 0) // t[0] is unused
	}
	i := len(f.t)
	f.t = append(f.t, v+f.prefix(i-1)-f.prefix(i-lowbit(i)))
}

// add adds d to slot i.
func (f *fenwick) add(i, d int) {
	for i++; i < len(f.t); i += lowbit(i) {
		f.t[i] += d
	}
}

// prefix returns the sum of the first n slots.
func (f *fenwick) prefix(n int) int {
	sum := 0
	for ; n > 0; n -= lowbit(n) {
		sum += f.t[n]
	}
	return sum
}

// find returns the smallest slot index whose prefix through it reaches
// k (k ≥ 1), or the number of slots if the total is below k.
func (f *fenwick) find(k int) int {
	pos, step := 0, 1
	for step*2 < len(f.t) {
		step *= 2
	}
	for ; step > 0; step /= 2 {
		if next := pos + step; next < len(f.t) && f.t[next] < k {
			pos, k = next, k-f.t[next]
		}
	}
	return pos // 1-based pos+1 is the slot; 0-based that is pos
}

// reset makes n slots each holding 1, in O(n).
func (f *fenwick) reset(n int) {
	f.t = append(f.t[:0], make([]int, n+1)...)
	for i := 1; i <= n; i++ {
		f.t[i]++
		if j := i + lowbit(i); j <= n {
			f.t[j] += f.t[i]
		}
	}
}

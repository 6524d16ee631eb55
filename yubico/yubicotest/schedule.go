package yubicotest

import (
	"time"

	"github.com/preenroll/preenroll/yubico"
)

// The lifecycle's schedule is a min-heap of the shipments' next
// transitions, so that moving the clock costs O(log n) per shipment whose
// transition falls due, not a pass over every shipment at each instant
// something is due.
//
// A live entry's time is exactly its shipment's next transition's. A
// change to a shipment's state or times (create, edit, SetState, a
// transition) pushes a new entry and leaves the older ones stale (their
// gen is no longer the shipment's), and a delete makes them stale too. The
// one thing a transition time depends on besides its shipment is the last
// batch (a validated shipment's batch, see batchTimeLocked), and a batch
// run at B moves only the batch times at or before B: those shipments'
// entries were due at B, so popDueLocked took them and runDueLocked
// rescheduled them. TestScheduleMatchesScan checks this after every step
// of its random runs.

// schedEntry is a scheduled look at shipment sh at time at, valid while
// gen is sh.gen.
type schedEntry struct {
	at  time.Time
	sh  *shipment
	gen uint64
}

// schedule is a binary min-heap of entries, earliest first, ties in
// creation order: the order popDueLocked hands due shipments to the
// lifecycle in, which the batch takes them in. It is typed rather than a
// container/heap.Interface, whose Push and Pop box every entry into an
// interface (an allocation each).
type schedule []schedEntry

// less reports whether entry i comes before entry j.
func (q schedule) less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].sh.seq < q[j].sh.seq
}

// up moves entry j towards the root until its parent is not after it.
func (q schedule) up(j int) {
	for j > 0 {
		i := (j - 1) / 2 // parent
		if !q.less(j, i) {
			break
		}
		q[i], q[j] = q[j], q[i]
		j = i
	}
}

// down moves entry i towards the leaves until neither child is before it,
// and reports whether it moved.
func (q schedule) down(i int) bool {
	i0, n := i, len(q)
	for {
		j := 2*i + 1
		if j >= n {
			break
		}
		if r := j + 1; r < n && q.less(r, j) {
			j = r // the earlier child
		}
		if !q.less(j, i) {
			break
		}
		q[i], q[j] = q[j], q[i]
		i = j
	}
	return i > i0
}

// init restores the heap order of the whole slice in O(n).
func (q schedule) init() {
	for i := len(q)/2 - 1; i >= 0; i-- {
		q.down(i)
	}
}

// fix restores the heap order after entry i's time changed.
func (q schedule) fix(i int) {
	if !q.down(i) {
		q.up(i)
	}
}

// push adds e.
func (q *schedule) push(e schedEntry) {
	*q = append(*q, e)
	q.up(len(*q) - 1)
}

// pop removes and returns the earliest entry; q must not be empty.
func (q *schedule) pop() schedEntry {
	old := *q
	n := len(old) - 1
	e := old[0]
	old[0] = old[n]
	old[n] = schedEntry{} // drop the reference to the shipment
	*q = old[:n]
	q.down(0)
	return e
}

// stale reports whether e no longer stands for its shipment's transition.
func (e schedEntry) stale() bool { return e.gen != e.sh.gen }

// eventTimeLocked returns when sh's next transition falls due on its own,
// and false when none is scheduled: validation at the first tick after it
// entered 3, the batch once validated, the carrier's pick-up in 10,
// delivery in 103.
func (s *Server) eventTimeLocked(sh *shipment) (time.Time, bool) {
	switch {
	case sh.state == yubico.StateAwaitingValidation && !sh.validated:
		return s.validationTick(sh.pendingSince), true
	case sh.state == yubico.StateAwaitingValidation && sh.validated:
		return s.batchTimeLocked(sh)
	case sh.state == yubico.StateSentToFulfillment && !sh.shipAt.IsZero():
		return sh.shipAt, true
	case sh.state == yubico.StateShipped && !sh.deliverAt.IsZero():
		return sh.deliverAt, true
	}
	return time.Time{}, false
}

// scheduleLocked schedules sh's next transition after a change to its
// state or times, making its earlier entries stale.
func (s *Server) scheduleLocked(sh *shipment) {
	sh.gen++
	if t, ok := s.eventTimeLocked(sh); ok {
		s.sched.push(schedEntry{at: t, sh: sh, gen: sh.gen})
	}
	s.compactScheduleLocked()
}

// unscheduleLocked makes sh's entries stale (sh is deleted).
func (s *Server) unscheduleLocked(sh *shipment) {
	sh.gen++
	s.compactScheduleLocked()
}

// compactScheduleLocked drops the stale entries once they are most of the
// heap (a test editing one shipment again and again, say, before the clock
// reaches them): O(1) amortized per entry pushed.
func (s *Server) compactScheduleLocked() {
	if len(s.sched) < 64 || len(s.sched) <= 2*len(s.shipments) {
		return
	}
	live := s.sched[:0]
	for _, e := range s.sched {
		if !e.stale() {
			live = append(live, e)
		}
	}
	clear(s.sched[len(live):])
	s.sched = live
	s.sched.init()
}

// nextEventLocked returns the earliest pending transition time: that of
// the earliest live entry (see schedule), once the stale ones before it
// are dropped.
func (s *Server) nextEventLocked() (time.Time, bool) {
	for len(s.sched) > 0 {
		if e := s.sched[0]; !e.stale() {
			return e.at, true
		}
		s.sched.pop()
	}
	return time.Time{}, false
}

// popDueLocked removes the entries due at s.now from the schedule and
// returns their shipments in creation order: advanceLocked runs the
// lifecycle from one transition time to the next, so every entry due is
// due at s.now, and the heap breaks that tie by creation order.
func (s *Server) popDueLocked() []*shipment {
	var due []*shipment
	for len(s.sched) > 0 && !s.sched[0].at.After(s.now) {
		if e := s.sched.pop(); !e.stale() {
			e.sh.gen++ // its entry is gone: runDueLocked reschedules it
			due = append(due, e.sh)
		}
	}
	return due
}

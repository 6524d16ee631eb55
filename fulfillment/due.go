package fulfillment

import (
	"container/heap"
	"context"
	"math"
	"slices"
	"time"
)

// schedule says when [Service.Sync] acts on a record in flight at a step.
type schedule int

const (
	// atOnce: the record has a step to make now (or an intent to resume).
	atOnce schedule = iota
	// onNextCheck: the record waits for the outside world until its
	// Record.NextCheck (schedule.go).
	onNextCheck
	// rests: the record waits for a person (Retry or Delete); Sync never
	// acts on it.
	rests
)

// schedules is THE table of when Sync acts on a record in flight, by step;
// a step it does not name is due at once. [Record.DueAt] reads it, and so
// do Sync's skips, [Service]'s own check before a waiting step and every
// store's due index ([DueLister]).
var schedules = map[Step]schedule{
	StepShipmentCreated:  onNextCheck, // a shipment not shipped yet, read at Yubico
	StepPINSent:          onNextCheck, // a shipped key awaiting its first sign-in
	StepErrored:          rests,       // waits for Retry or Delete
	StepManagedElsewhere: rests,       // another tool fulfils the key: waits for Delete, or Retry
}

// DueAt reports when [Service.Sync] next acts on r. ok is false if it
// never does as r stands: r is not in flight ([Status.InFlight]) or rests
// at StepErrored or StepManagedElsewhere, waiting for Retry or Delete.
// Otherwise at is when r falls due: r.NextCheck for a record waiting for
// the outside world (StepShipmentCreated, StepPINSent; a zero NextCheck is
// due at once), the zero time (due at once) for any other step.
//
// It is the one definition of due-ness: Sync skips exactly the records it
// says are not due at Sync's clock, and a store's due index ([DueLister])
// keeps DueAt of every record it writes ([DueKey] turns at into a sortable
// integer).
func (r Record) DueAt() (at time.Time, ok bool) {
	if !r.Status.InFlight() {
		return time.Time{}, false
	}
	switch schedules[r.Step] {
	case atOnce:
		return time.Time{}, true
	case onNextCheck:
		return r.NextCheck, true
	}
	return time.Time{}, false // rests
}

// dueBy reports whether Sync acts on r at now ([Record.DueAt]), and whether
// r waits for its next check (in flight, not resting, and not due).
func (r Record) dueBy(now time.Time) (due, waiting bool) {
	at, ok := r.DueAt()
	if !ok {
		return false, false
	}
	if now.Before(at) {
		return false, true
	}
	return true, false
}

// DueKey returns t as an integer that orders as the times do: its Unix
// time in nanoseconds, clamped to the int64 range (before 1678 it is
// math.MinInt64, the zero time included: due at once; after 2262,
// math.MaxInt64). A store keeps DueKey of [Record.DueAt] in an indexed
// column and selects the records whose key is at most DueKey(now); as the
// clamp is monotonic, the selection is [Record.DueAt]'s for every now
// between 1678 and 2262, and [Service.Sync] re-checks each record anyway.
func DueKey(t time.Time) int64 {
	switch {
	case t.Before(minDueKeyTime):
		return math.MinInt64
	case t.After(maxDueKeyTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// The times whose Unix nanoseconds fit in an int64.
var (
	minDueKeyTime = time.Unix(0, math.MinInt64)
	maxDueKeyTime = time.Unix(0, math.MaxInt64)
)

// DueQuery selects records in [DueLister.ListDue].
type DueQuery struct {
	// Now is the caller's time (a Store never reads the clock): records
	// whose [Record.DueAt] is at or before it, or due at once, are due.
	Now time.Time
	// After, if not empty, keeps records whose user ID sorts after it (for
	// paging with Limit).
	After string
	// Limit, if positive, returns at most this many records.
	Limit int
}

// DueLister is implemented by a [Store] that keeps a due index: the
// [Record.DueAt] of every record it stores, in a column (or structure) it
// can select from without reading the records that are not due. With it a
// [Service.Sync] pass that finds nothing due reads no record, however many
// are in flight; without it Sync lists every record in flight and skips
// the ones not due, as it always did. Every store in this module
// implements it; fulfillmenttest.RunStoreConformance checks it.
//
// It is an optional interface, like [StatusCounter], rather than new
// [Query] fields: a Store written before it would ignore a field it does
// not know and return every record, and the Service could not tell. A
// wrapper that embeds a Store hides the interface; forward it with the
// functions [ListDue] and [CountNotDue], which fall back to listing for an
// inner store without it. Whatever a DueLister returns, Sync re-checks
// each record's due-ness at its own clock before it acts.
type DueLister interface {
	// ListDue returns the records due at q.Now ([Record.DueAt] ok and at
	// not after q.Now), ordered by user ID, after q.After, at most q.Limit.
	ListDue(ctx context.Context, q DueQuery) ([]Record, error)
	// CountNotDue returns how many records wait for a next check that
	// has not come at now ([Record.DueAt] ok and after now):
	// [SyncReport.NotDue].
	CountNotDue(ctx context.Context, now time.Time) (int, error)
}

// ListDue returns the records of store that are due at q.Now, as
// [DueLister.ListDue]: with the store's due index if it is a DueLister,
// else by listing the records in flight a page at a time and keeping the
// due ones.
func ListDue(ctx context.Context, store Store, q DueQuery) ([]Record, error) {
	if d, ok := store.(DueLister); ok {
		return d.ListDue(ctx, q)
	}
	var out []Record
	err := ListPages(ctx, store, Query{InFlight: true, After: q.After, Limit: syncPage}, func(r Record) bool {
		if due, _ := r.dueBy(q.Now); due {
			out = append(out, r)
		}
		return q.Limit <= 0 || len(out) < q.Limit
	})
	return out, err
}

// CountNotDue returns how many records of store wait for a next check that
// has not come at now, as [DueLister.CountNotDue]: with the store's own
// count if it is a DueLister, else by listing the records in flight.
func CountNotDue(ctx context.Context, store Store, now time.Time) (int, error) {
	if d, ok := store.(DueLister); ok {
		return d.CountNotDue(ctx, now)
	}
	n := 0
	err := ListPages(ctx, store, Query{InFlight: true, Limit: syncPage}, func(r Record) bool {
		if _, waiting := r.dueBy(now); waiting {
			n++
		}
		return true
	})
	return n, err
}

// dueIndex is MemoryStore's due index: a min-heap of the DueKey of every
// record Sync acts on, so that the keys due at a time are found without
// looking at the others (a walk of the heap that stops at every entry
// later than the time), with each user's position for updates.
type dueIndex struct {
	entries []dueEntry
	pos     map[string]int // user ID → index in entries
}

type dueEntry struct {
	key    int64
	userID string
}

func (x *dueIndex) Len() int { return len(x.entries) }
func (x *dueIndex) Less(i, j int) bool {
	return x.entries[i].key < x.entries[j].key
}
func (x *dueIndex) Swap(i, j int) {
	x.entries[i], x.entries[j] = x.entries[j], x.entries[i]
	x.pos[x.entries[i].userID] = i
	x.pos[x.entries[j].userID] = j
}
func (x *dueIndex) Push(v any) {
	e := v.(dueEntry)
	x.pos[e.userID] = len(x.entries)
	x.entries = append(x.entries, e)
}
func (x *dueIndex) Pop() any {
	e := x.entries[len(x.entries)-1]
	x.entries = x.entries[:len(x.entries)-1]
	delete(x.pos, e.userID)
	return e
}

// set records r's due time, or removes r from the index if Sync never
// acts on it.
func (x *dueIndex) set(r Record) {
	if x.pos == nil {
		x.pos = map[string]int{}
	}
	at, ok := r.DueAt()
	i, indexed := x.pos[r.UserID]
	switch {
	case !ok && indexed:
		heap.Remove(x, i)
	case !ok:
	case indexed:
		x.entries[i].key = DueKey(at)
		heap.Fix(x, i)
	default:
		heap.Push(x, dueEntry{DueKey(at), r.UserID})
	}
}

// due calls yield with the user ID of every entry due at key now (key at
// most now), in no order: the heap's root and, below each due entry, its
// children, so the walk costs O(due entries).
func (x *dueIndex) due(now int64, yield func(userID string)) {
	stack := []int{0}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if i >= len(x.entries) || x.entries[i].key > now {
			continue
		}
		yield(x.entries[i].userID)
		stack = append(stack, 2*i+1, 2*i+2)
	}
}

// firstIDs returns the at most limit (all if limit ≤ 0) smallest of ids in
// order, without sorting all of them: a page of a due set much larger
// than the page costs O(len(ids)) comparisons, not a full sort.
func firstIDs(ids []string, limit int) []string {
	if limit <= 0 || len(ids) <= limit {
		slices.Sort(ids)
		return ids
	}
	h := &maxStrings{}
	for _, id := range ids {
		switch {
		case len(*h) < limit:
			heap.Push(h, id)
		case id < (*h)[0]:
			(*h)[0] = id
			heap.Fix(h, 0)
		}
	}
	out := []string(*h)
	slices.Sort(out)
	return out
}

// maxStrings is a max-heap of strings.
type maxStrings []string

func (h maxStrings) Len() int           { return len(h) }
func (h maxStrings) Less(i, j int) bool { return h[i] > h[j] }
func (h maxStrings) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *maxStrings) Push(v any)        { *h = append(*h, v.(string)) }
func (h *maxStrings) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}

package fulfillment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/yubico"
)

// Sentinel errors of a [Store]. Implementations return errors that match
// them with errors.Is.
var (
	// ErrRecordNotFound means the store holds no record for the user.
	ErrRecordNotFound = errors.New("fulfillment: no record for user")
	// ErrVersionConflict means a [Store.Put] lost a compare-and-swap race:
	// the stored record's version is not the one the caller read (or a
	// record already exists when the caller passed version 0). Read the
	// record again and redo the change.
	ErrVersionConflict = errors.New("fulfillment: record version conflict")
	// ErrInvalidID means an ID (a user's, an event's, a document's or its
	// collection's) is one no store can key: every error of [CheckID]
	// matches it (an [*IDError] says why), and so does every error a
	// Store of this module, or a [Service] method taking a user ID, returns
	// for such an ID ("User IDs" in the package documentation lists them).
	ErrInvalidID = errors.New("fulfillment: invalid ID")
)

// Step is where a [Record] stands inside its [Status], one remote call at a
// time. Steps come in pairs: the "-ing" step (an intent, see [Step.Intent])
// is recorded with an idempotency key BEFORE the remote call, and the
// "-ed" step is recorded with the call's result AFTER it. A process that
// dies anywhere therefore leaves either an intent (the call may or may not
// have happened: the Service recovers as described on [Service]) or a result
// (the call happened and its outcome is known).
//
// The order of a successful lifecycle:
//
//	Initiating → Initiated → Enrolling → Enrolled → ShipmentCreating →
//	ShipmentCreated → Activating → Activated → PINSending → PINSent → Active
//
// plus MarkingError → Errored (with [Record.FailedStep] naming the step that
// failed) and Deleting → Deleted. ManagedElsewhere is where a record rests,
// FulfillmentStarted, when Okta lists an enrollment of the user in
// fulfillment that the Service did not create (another tool, such as the
// Okta Workflows flowpack, is fulfilling the key): the Service leaves it
// alone until Delete, or Retry once it is gone.
type Step string

// The steps of a record; see [Step].
const (
	StepInitiating       Step = "initiating"        // intent: POST initiate-fulfillment-request
	StepInitiated        Step = "initiated"         // Okta accepted the order (or its event arrived)
	StepEnrolling        Step = "enrolling"         // intent: POST enroll
	StepEnrolled         Step = "enrolled"          // enrollments and sealed requests recorded
	StepShipmentCreating Step = "shipment-creating" // intent: POST /v1/fpr/shipments
	StepShipmentCreated  Step = "shipment-created"  // shipment ID recorded; polling Yubico
	StepActivating       Step = "activating"        // intent: POST activate
	StepActivated        Step = "activated"         // Okta verified the responses
	StepPINSending       Step = "pin-sending"       // intent: POST send-pin
	StepPINSent          Step = "pin-sent"          // PIN emailed; status Shipped
	StepActive           Step = "active"            // first sign-in seen; PIN wiped
	StepMarkingError     Step = "marking-error"     // intent: POST mark-error
	StepErrored          Step = "errored"           // see FailedStep and Reason
	StepManagedElsewhere Step = "managed-elsewhere" // another tool fulfils the key; see Reason
	StepDeleting         Step = "deleting"          // intent: cancel shipment, delete enrollments
	StepDeleted          Step = "deleted"           // terminal
)

// Intent reports whether s is recorded before a remote call (an "-ing"
// step) rather than after one.
func (s Step) Intent() bool {
	switch s {
	case StepInitiating, StepEnrolling, StepShipmentCreating, StepActivating,
		StepPINSending, StepMarkingError, StepDeleting:
		return true
	}
	return false
}

// String returns the step's name.
func (s Step) String() string { return string(s) }

// Enrollment is one Okta preregistration enrollment of a record, one per
// relying-party ID. The order of [Record.Enrollments] is the order of the
// fido_credential_requests sent to Yubico, so the i-th request belongs to
// the i-th enrollment.
type Enrollment struct {
	// ID is Okta's authenticatorEnrollmentId.
	ID string `json:"id"`
	// KeyID is Okta's keyId: the response key the credential request names.
	// Yubico's credential response is a JWE whose header kid is this key, so
	// responses are paired with enrollments by it.
	KeyID string `json:"keyId,omitempty"`
	// CredRequest is Okta's credRequestJwe (ciphertext for Yubico), kept
	// until the shipment exists so that a resumed create sends the same body.
	CredRequest string `json:"credRequest,omitempty"`
	// Status is the enrollment's status at Okta when last seen
	// (FULFILLMENT_PENDING, FULFILLMENT_ERRORED, ACTIVE, ...). Once the
	// enrollment is Deleted it keeps the last status Okta reported.
	Status okta.EnrollmentStatus `json:"status,omitempty"`
	// Deleted is true once Okta no longer lists the enrollment (deleted
	// there, or by [Service.Delete]).
	Deleted bool `json:"deleted,omitempty"`
}

// legacyDeleted is the Status that records stored before Enrollment.Deleted
// existed carried for a deleted enrollment. It is not a status Okta reports.
const legacyDeleted okta.EnrollmentStatus = "DELETED"

// UnmarshalJSON decodes an Enrollment, reading a stored Status "DELETED"
// (written by earlier versions) as Deleted with no status.
func (e *Enrollment) UnmarshalJSON(b []byte) error {
	type plain Enrollment // no UnmarshalJSON: no recursion
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if p.Status == legacyDeleted {
		p.Status, p.Deleted = "", true
	}
	*e = Enrollment(p)
	return nil
}

// Pairing says how the credential responses of a shipped key were paired
// with its enrollments for activation.
type Pairing string

// The pairings.
const (
	// PairedByKeyID: each response's JWE kid named the keyId Okta gave its
	// enrollment.
	PairedByKeyID Pairing = "kid"
	// PairedByRequestOrder: by the order of the credential requests sent to
	// Yubico, as the Okta Workflows template pairs; the record's history
	// says why (keyIds missing or shared, or one response's kid naming no
	// enrollment).
	PairedByRequestOrder Pairing = "request-order"
)

// EnrollCall is one enroll call of the current attempt whose outcome the
// Service did not learn (the answer was lost, or the process died during
// it), timed by the Okta client's clock ([okta.Client.Now]). Okta cannot
// say which enrollments a call made, so an enrollment the record does not
// know is taken for the Service's own only if Okta created it while such a
// call was in flight; any other is another tool's and never touched.
type EnrollCall struct {
	// Sent is when the call was about to be sent.
	Sent time.Time `json:"sent"`
	// Returned is when it returned without an answer; zero if the process
	// died during it (then the call's lease bounds it).
	Returned time.Time `json:"returned,omitzero"`
}

// Change is one entry of a record's history: a step reached, with the
// status it left the record in.
type Change struct {
	// At is when the change was saved (UTC, from Config.Clock).
	At time.Time `json:"at"`
	// Status is the record's status after the change.
	Status Status `json:"status"`
	// Step is the step the record reached: an intent ("-ing") or a result.
	Step Step `json:"step"`
	// Attempt is the record's attempt number at the change (see
	// Record.Attempts).
	Attempt int `json:"attempt,omitempty"`
	// Key is the idempotency key of an intent step.
	Key string `json:"key,omitempty"`
	// Reason explains an error, a retry or a deletion.
	Reason string `json:"reason,omitempty"`
}

// Lease marks an intent as being worked on by one Service instance. Another
// instance leaves the record alone until Until has passed; then it treats
// the owner as dead and recovers the intent.
type Lease struct {
	// Owner identifies the Service instance working on the intent (a
	// random ID each Service makes when it is created).
	Owner string `json:"owner,omitempty"`
	// Until is when the lease expires if the owner does not finish first.
	Until time.Time `json:"until,omitzero"`
}

// Record is everything the Service knows about one user's key in
// fulfillment. Records are values: a [Store] returns copies, and a change is
// saved with [Store.Put], which compares Version.
type Record struct {
	// UserID is the Okta user ID (00u...), the record's key in the store.
	UserID string `json:"userId"`
	// Login is the user's Okta login when the record was made, for people
	// reading the record.
	Login string `json:"login,omitempty"`
	// Status is where the key is in its lifecycle.
	Status Status `json:"status"`
	// Step is the last step recorded: an intent ("-ing", its call in
	// flight or interrupted) or a result.
	Step Step `json:"step"`
	// FailedStep is the step that failed while Status is errored; Retry
	// resumes there.
	FailedStep Step `json:"failedStep,omitempty"`
	// Items is the order (one item: Okta allows one key in fulfillment
	// per user).
	Items []Item `json:"items,omitempty"`
	// Enrollments are the Okta enrollments the Service created for the
	// key, one per RP ID, in Okta's order.
	Enrollments []Enrollment `json:"enrollments,omitempty"`
	// PINRequest is Okta's pinRequestJwe (ciphertext for Yubico), kept until
	// the shipment exists.
	PINRequest string `json:"pinRequest,omitempty"`
	// Shipping is the normalised recipient and address the shipment is
	// created with, kept from the intent until the shipment exists so that a
	// resumed create sends the same body.
	Shipping ShippingInfo `json:"shipping,omitzero"`
	// EnrollCalls are the enroll calls of the current attempt whose
	// outcome is not known, until the enroll succeeds.
	EnrollCalls []EnrollCall `json:"enrollCalls,omitempty"`
	// TransportKeyID is the kid of the Yubico transport key Okta sealed the
	// requests to.
	TransportKeyID string `json:"transportKeyId,omitempty"`
	// ShipmentID is the Yubico shipment's ID once it is created.
	ShipmentID string `json:"shipmentId,omitempty"`
	// ShipmentState is the shipment's state at Yubico when last read:
	// polled until it ships, then (less often) until it is delivered or the
	// key is Active.
	ShipmentState yubico.ShipmentState `json:"shipmentState,omitempty"`
	// ShipmentCheckedAt is when Yubico was last asked about the shipment
	// after it shipped.
	ShipmentCheckedAt time.Time `json:"shipmentCheckedAt,omitzero"`
	// DeliveredAt is when the Service first saw the shipment delivered
	// (state 104); zero until then. Yubico's FIDO Pre-reg shipment carries
	// no delivery time, so this is the time of the read that saw it, at
	// most one delivery poll late (see [Service]).
	DeliveredAt time.Time `json:"deliveredAt,omitzero"`
	// NextCheck is when the Service next looks at a record that waits for
	// the outside world: a shipment that has not shipped (StepShipmentCreated)
	// or a shipped key awaiting its first sign-in (StepPINSent). Until then
	// [Service.Sync] skips the record: no remote call, no store write. Zero
	// (records stored before it existed too) means due at once; at any other
	// step it is not read. See [Service] for the schedule.
	NextCheck time.Time `json:"nextCheck,omitzero"`
	// Serial is the shipped key's serial number, as Yubico reports it.
	Serial string `json:"serial,omitempty"`
	// Firmware is the shipped key's firmware version, as Yubico reports it.
	Firmware string `json:"firmware,omitempty"`
	// Pairing is how the credential responses were paired with the
	// enrollments at activation (empty before).
	Pairing Pairing `json:"pairing,omitempty"`
	// Reason is why the record is errored, deleted or managed elsewhere.
	Reason string `json:"reason,omitempty"`
	// Attempts counts fulfillment attempts: 1 for the first, +1 per Retry.
	Attempts int `json:"attempts,omitempty"`
	// Keys holds the idempotency key of each intent step of the current
	// attempt, so a resumed call reuses the key of the interrupted one (a
	// shipment create Yubico refused leaves none: nothing was made under
	// it).
	Keys map[Step]string `json:"keys,omitempty"`
	// Lease is set while an intent is in flight.
	Lease Lease `json:"lease,omitzero"`
	// Claim is held by the instance whose Sync pass last took the record
	// (see [Config.SyncClaim]): until it expires, the Sync passes of other
	// instances sharing the store skip the record without a remote call,
	// so that several instances check each record as often as one does.
	// Unlike Lease it does not stop Retry, Delete or ResendPIN.
	Claim Lease `json:"claim,omitzero"`
	// EventID is the uuid of the Okta event that started the record, if any.
	EventID string `json:"eventId,omitempty"`
	// Version is the store's compare-and-swap version: 0 for a record not
	// yet stored, incremented by every successful Put.
	Version int64 `json:"-"`
	// CreatedAt is when the record was first saved (UTC), by the clock of
	// the Service that saved it (Config.Clock). The Service sets it; a
	// Store keeps it as given.
	CreatedAt time.Time `json:"createdAt"`
	// UpdatedAt is when it was last saved (UTC), set like CreatedAt. The
	// Service reads it back, for example to tell an event published before
	// the record's deletion from a new order, so a Store that stamped its
	// own time here would break that on a fake clock.
	UpdatedAt time.Time `json:"updatedAt"`
	// History lists every step reached, oldest first. It only grows.
	History []Change `json:"history,omitempty"`
}

// clone returns a deep copy of r, so that stores never share slices or maps
// with their callers.
func (r Record) clone() Record {
	r.Items = slices.Clone(r.Items)
	r.Enrollments = slices.Clone(r.Enrollments)
	r.EnrollCalls = slices.Clone(r.EnrollCalls)
	r.Keys = maps.Clone(r.Keys)
	r.History = slices.Clone(r.History)
	return r
}

// Query selects records in [Store.List]. The zero Query selects every
// record. Results are ordered by user ID.
type Query struct {
	// Statuses, if not empty, keeps records whose status is one of them.
	Statuses []Status
	// InFlight keeps records whose key is still in fulfillment
	// (FulfillmentStarted, FulfillmentErrored or Shipped): those that block
	// a new order (see [CanOrder]) and that Sync looks at.
	InFlight bool
	// After, if not empty, keeps records whose user ID sorts after it
	// (for paging with Limit).
	After string
	// Limit, if positive, returns at most this many records.
	Limit int
}

// Check reports a Query that cannot mean what it says: a status among
// Statuses that is none of the five (a typo would select nothing, with no
// error), or a negative Limit.
func (q Query) Check() error {
	for i, st := range q.Statuses {
		if !st.Valid() {
			return fmt.Errorf("fulfillment: query: Statuses[%d] %q: not a status (want one of %v)", i, truncateValue(string(st)), Statuses())
		}
	}
	if q.Limit < 0 {
		return fmt.Errorf("fulfillment: query: Limit %d: must not be negative (0: no limit)", q.Limit)
	}
	return nil
}

func (q Query) match(r Record) bool {
	if q.After != "" && r.UserID <= q.After {
		return false
	}
	if q.InFlight && !r.Status.InFlight() {
		return false
	}
	return len(q.Statuses) == 0 || slices.Contains(q.Statuses, r.Status)
}

// Store keeps fulfillment records. Implementations must be safe for
// concurrent use; [NewMemoryStore] and [OpenSQLite] are provided here, and
// package fulfillment/pgstore keeps them in PostgreSQL so that several
// Service instances share them. fulfillmenttest.RunStoreConformance is the
// suite every implementation passes. A Store may also implement the
// optional [StatusCounter] (counts by status without reading records) and
// [DueLister] (a due index, so that Sync reads only the records due); the
// Service works without them, by listing. A store may be a [ChangeFeed]
// (MemoryStore and pgstore are), with which [Service.Subscribe] delivers
// the changes of the other instances sharing it. Every store of this module is
// also a [DocumentStore], which keeps small versioned documents (a
// console's batches and audit trail, the catch-up checkpoint) next to the
// records, and an [EventChecker], with which an event's order that could
// not be saved is not lost.
//
// A wrapper that embeds a Store (a struct with a field of type Store, to
// count or trace its calls) has only the methods of Store: it hides these
// optional interfaces, and the Service then works without them. Forward
// at least EventChecker and DocumentStore (a method each calling the
// wrapped store's): without EventChecker an event whose order could not
// be saved is lost (see [EventChecker]); without DocumentStore the
// catch-up checkpoint is kept in memory (see
// [Service.CatchUpFromCheckpoint]). RunStoreConformance skips the cases of
// the interfaces a store does not implement.
//
// Leases ([Record.Lease]) are record fields like any other: an instance
// takes or renews one with Put, so two instances claiming the same expired
// lease race on the record's version and exactly one wins. The Service
// compares Lease.Until with its own clock; a Store never reads the time.
//
// A Store gives back every field of a record as it was put (times as the
// same instant, to the nanosecond), except Version, which it sets: it does not stamp
// [Record.CreatedAt] or [Record.UpdatedAt] itself (the Service does, on
// its clock). [CheckRecord] and [CheckPut] validate what Put is given as
// every store of this module does.
type Store interface {
	// Get returns the record of the user, or an error matching
	// ErrRecordNotFound.
	Get(ctx context.Context, userID string) (Record, error)
	// Put stores r if the stored record's version equals r.Version (0: no
	// record exists yet) and returns it with its new version. Otherwise it
	// stores nothing and returns an error matching ErrVersionConflict.
	// r.History must begin with the stored history (it only grows).
	//
	// A Put that adds no history entry is bookkeeping that is no step
	// (a Sync claim, a lease, a next check), whose loss costs the
	// Service a write made again or a lease waited out. A store may commit
	// such a Put less durably than the others, so that a crash rolls it
	// back, provided that the crash rolls back no later write with it and
	// ends every process that used the store: one that went on would hold
	// the lost version, and its next Put could match the version another
	// writer gave the record since, overwriting that write. [SQLiteStore]
	// does (its processes share its machine); a store on a server that
	// its clients outlive, such as pgstore's, must not. An intent or a
	// result, which adds an entry, is always committed durably.
	Put(ctx context.Context, r Record) (Record, error)
	// List returns the records selected by q, ordered by user ID.
	List(ctx context.Context, q Query) ([]Record, error)
	// MarkEvent records that the Okta event with this uuid was handled and
	// reports whether this is the first time it was marked.
	MarkEvent(ctx context.Context, eventID string, at time.Time) (first bool, err error)
}

// EventChecker is implemented by a [Store] that can tell whether an event
// was marked ([Store.MarkEvent]) without marking it. With it,
// [Service.RecordEvent] marks an event only after the order it records is
// saved: a save that fails (the store down, the context cancelled at
// shutdown) leaves the event unmarked, so that a redelivery or a
// [Service.CatchUp] records it. Without it, RecordEvent marks the event
// before saving, and a save that fails after the mark loses the order:
// every redelivery and catch-up finds the event marked. Every store of
// this module implements it; a wrapper that embeds one hides it (see
// [Store]).
type EventChecker interface {
	// EventMarked reports whether MarkEvent marked the event.
	EventMarked(ctx context.Context, eventID string) (bool, error)
}

// ChangeFeed is implemented by a [Store] that can tell its callers about
// the records stored through it by any process sharing it: another
// Service instance on the same database, or another Service on the same
// [MemoryStore]. With it, [Service.Subscribe] delivers the changes of the
// other instances too (marked [RecordChange.Remote]), so that a console
// open on one instance shows what a Sync pass of another did, and
// [Service.Run] starts a pass for another instance's order. [MemoryStore]
// and pgstore implement it; [SQLiteStore] does not (several processes on
// one SQLite file are rare, and SQLite has no notification between
// processes: a feed would have to poll the file). A wrapper that embeds a
// Store hides it (see [Store]); forward it with a method calling the
// wrapped store's.
//
// Which writes are reported: a Put that creates a record, a Put that adds
// a history entry (the stored history grows) or changes the record's
// Status or Step, and the removal of a record from the store (no Service
// removes one; an operator or a program of its own may). A Put that does
// none of these is bookkeeping of a Sync pass (a claim, a lease taken
// over, a next check, a parcel looked at) and is not reported, so that a
// pass over many keys does not flood the browsers of a console with
// changes that show nothing new. A Put that fails is not reported.
//
// fulfillmenttest.RunStoreConformance checks a store's feed when it
// implements this interface.
type ChangeFeed interface {
	// WatchChanges calls fn with the changes stored through the store
	// (by this process or any other), from one goroutine, one call at a
	// time and in the order they were stored, until ctx ends (it then
	// returns nil) or the feed breaks (it returns the error; changes
	// stored meanwhile are lost, and the caller calls it again to listen
	// anew). A change has UserID, Status, Step and the new Version; the
	// removal of a record is reported with Version 0 and no Status or
	// Step; Login and Remote are never set (the feed carries no login:
	// read the record with [Store.Get]).
	//
	// The first call of fn is a change with Resync set and nothing else,
	// as soon as the feed listens: every change stored after that is
	// reported. A later change with Resync set means that changes may
	// have been lost in between (a consumer too slow for the feed, a
	// notification the store could not read): the caller reads the
	// records again if it needs them. fn must return quickly; a slow fn
	// holds up the feed and may make it lose changes (reported by a
	// Resync) or break.
	WatchChanges(ctx context.Context, fn func(RecordChange)) error
}

// feedReports reports whether a [ChangeFeed] reports the Put of r over
// stored (nil: r creates the record): see [ChangeFeed].
func feedReports(stored *Record, r Record) bool {
	return stored == nil || len(r.History) > len(stored.History) || r.Status != stored.Status || r.Step != stored.Step
}

// StatusCounter is implemented by a [Store] that can count its records by
// status without reading them (an index scan in SQL): the counts of a
// console's overview or a metrics gauge at 100,000 keys. Every store in
// this module implements it; [CountByStatus] falls back to paging through
// [Store.List] for a store that does not.
type StatusCounter interface {
	// CountByStatus returns how many records the store holds of each
	// status; a status it holds none of may be absent.
	CountByStatus(ctx context.Context) (map[Status]int, error)
}

// countPage is how many records [CountByStatus] reads a page when the
// store cannot count.
const countPage = 1000

// CountByStatus returns how many records store holds of each status: with
// the store's own count ([StatusCounter]) if it has one, else by listing
// every record a page at a time.
func CountByStatus(ctx context.Context, store Store) (map[Status]int, error) {
	if c, ok := store.(StatusCounter); ok {
		return c.CountByStatus(ctx)
	}
	counts := map[Status]int{}
	err := ListPages(ctx, store, Query{Limit: countPage}, func(r Record) bool {
		counts[r.Status]++
		return true
	})
	if err != nil {
		return nil, err
	}
	return counts, nil
}

// ListPages calls yield with each record store lists for q, in order, q.Limit
// (the page size, positive) at a time from q.After, until yield returns false:
// a listing of any size that never holds more than a page. A Limit that is
// not positive, or a Query that [Query.Check] refuses, is an error.
func ListPages(ctx context.Context, store Store, q Query, yield func(Record) bool) error {
	if err := q.Check(); err != nil {
		return err
	}
	if q.Limit <= 0 {
		return fmt.Errorf("fulfillment: list pages: Limit %d: the page size must be positive", q.Limit)
	}
	for {
		recs, err := store.List(ctx, q)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if !yield(r) {
				return nil
			}
		}
		if len(recs) < q.Limit {
			return nil
		}
		q.After = recs[len(recs)-1].UserID
	}
}

// MaxIDLen is the longest user ID or event ID, in bytes, a [Store] accepts.
const MaxIDLen = 256

// CheckID validates a user or event ID given to a [Store]: what names it
// in the error ("user ID", "event ID"). Every Store applies it, so an ID one
// store accepts every store accepts: not empty, at most [MaxIDLen] bytes,
// valid UTF-8 and free of control characters (NUL included: PostgreSQL
// text cannot hold it). Its error is an [*IDError], which matches
// [ErrInvalidID].
func CheckID(what, id string) error {
	if p := idProblem(id); p != "" {
		return &IDError{What: what, ID: id, Problem: p}
	}
	return nil
}

// IDError is the error of [CheckID]: an ID no [Store] can key, and why. It
// matches [ErrInvalidID] (errors.Is); errors.As finds it in the error of
// every Store of this module and of the [Service] methods taking a user ID,
// for a caller who shows the reason to a person.
type IDError struct {
	What    string // what the ID is: "user ID", "event ID", "document ID", ...
	ID      string // the ID as given
	Problem string // why it is refused: "is empty", "contains a control character", ...
}

// Error reads `fulfillment: store: user ID "a\x01" contains a control
// character`; an ID that is empty, not UTF-8 or too long is not quoted
// (`fulfillment: store: user ID is not valid UTF-8`).
func (e *IDError) Error() string {
	if e.ID == "" || !utf8.ValidString(e.ID) || len(e.ID) > MaxIDLen {
		return fmt.Sprintf("fulfillment: store: %s %s", e.What, e.Problem) // not quoted: nothing, garbage, or too long
	}
	return fmt.Sprintf("fulfillment: store: %s %q %s", e.What, e.ID, e.Problem)
}

// Unwrap returns [ErrInvalidID].
func (e *IDError) Unwrap() error { return ErrInvalidID }

// idProblem says why id can key no record ("is empty", "contains a
// control character", ...), or returns "": the rule of [CheckID], and of
// the users [Service.Order] takes.
func idProblem(id string) string {
	switch {
	case id == "":
		return "is empty"
	case len(id) > MaxIDLen:
		return fmt.Sprintf("is %d bytes, longer than %d", len(id), MaxIDLen)
	case !utf8.ValidString(id):
		return "is not valid UTF-8"
	case strings.ContainsFunc(id, unicode.IsControl):
		return "contains a control character"
	}
	return ""
}

// CheckRecord validates the parts of a record given to [Store.Put] that do
// not depend on the stored one: its user ID ([CheckID]), a status and a
// version that is not negative.
func CheckRecord(r Record) error {
	if err := CheckID("user ID", r.UserID); err != nil {
		return err
	}
	if r.Status == "" {
		return fmt.Errorf("fulfillment: store: record of %q has no status", r.UserID)
	}
	if r.Version < 0 {
		return fmt.Errorf("fulfillment: store: record of %q has negative version %d", r.UserID, r.Version)
	}
	return nil
}

// CheckPut validates a record given to [Store.Put] against the stored one
// (nil if none exists; only its Version and the length of its History are
// read). It returns [CheckRecord]'s error, an error matching
// [ErrVersionConflict] if the versions differ, or an error if r's history
// is shorter than the stored one. A Store that does the compare-and-swap
// inside its database calls it to explain a write that changed nothing.
func CheckPut(r Record, stored *Record) error {
	if err := CheckRecord(r); err != nil {
		return err
	}
	if stored == nil {
		if r.Version != 0 {
			return fmt.Errorf("%w: record of %q does not exist, got version %d", ErrVersionConflict, r.UserID, r.Version)
		}
		return nil
	}
	if r.Version != stored.Version {
		return fmt.Errorf("%w: record of %q is at version %d, got %d", ErrVersionConflict, r.UserID, stored.Version, r.Version)
	}
	if len(r.History) < len(stored.History) {
		return fmt.Errorf("fulfillment: store: record of %q would shrink its history from %d to %d changes",
			r.UserID, len(stored.History), len(r.History))
	}
	return nil
}

func notFound(userID string) error {
	return fmt.Errorf("%w %q", ErrRecordNotFound, userID)
}

// InFlight reports whether a key in status s is still in fulfillment
// (FulfillmentStarted, FulfillmentErrored or Shipped): the statuses
// [Query.InFlight] selects.
func (s Status) InFlight() bool {
	return s == FulfillmentStarted || s == FulfillmentErrored || s == Shipped
}

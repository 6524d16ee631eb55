package cli

import (
	"encoding/json"
	"io"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/okta"
)

// statusJSONDoc is what preenroll help status says about -json; the
// README's "Command line" documents the same fields (a test compares the
// key sets).
const statusJSONDoc = `With -json, stdout is JSON Lines, one object per USER or record in the text's
order, with every key present (null when absent, [] for an empty list; times
RFC 3339 UTC to the second):
  userId, login, record (false: the store has no record; then only userId,
    login and enrollments, Okta's list, are set and attempts is 0),
  status, statusLabel, step, failedStep, reason, attempts,
  items [{productId, inventoryProductId, customizationId}],
  shipmentId, shipmentState (Yubico's number), shipmentStateName, serial,
  firmware, deliveredAt, nextCheck (when sync next looks at a key waiting for
    Yubico or its first sign-in), createdAt, updatedAt,
  enrollments [{id, status (Okta's), deleted, keyStatus (the key status
    Okta's view implies), authenticatorName, presetPinAvailable}] (the last
    three from Okta's view only),
  history [{at, status, step, attempt, reason}], oldest first.
A user Okta does not know, or a failure, prints nothing on stdout: the error
goes to stderr and the exit code is 1 (without USER, records are printed as
they are read, so a store failing part-way leaves those before it printed). Nothing secret is printed: a record
holds no PIN, and its idempotency keys, leases, Okta's sealed requests and
the shipping address are left out.`

// statusJSON is one line of preenroll status -json. Every key is always
// written (null when absent) so that a script sees one shape; the keys are
// a documented interface (statusJSONDoc, README): add, never rename.
type statusJSON struct {
	UserID            string             `json:"userId"`
	Login             *string            `json:"login"`
	Record            bool               `json:"record"`
	Status            *string            `json:"status"`
	StatusLabel       *string            `json:"statusLabel"`
	Step              *string            `json:"step"`
	FailedStep        *string            `json:"failedStep"`
	Reason            *string            `json:"reason"`
	Attempts          int                `json:"attempts"`
	Items             []statusItem       `json:"items"`
	ShipmentID        *string            `json:"shipmentId"`
	ShipmentState     *int               `json:"shipmentState"`
	ShipmentStateName *string            `json:"shipmentStateName"`
	Serial            *string            `json:"serial"`
	Firmware          *string            `json:"firmware"`
	DeliveredAt       *string            `json:"deliveredAt"`
	NextCheck         *string            `json:"nextCheck"`
	CreatedAt         *string            `json:"createdAt"`
	UpdatedAt         *string            `json:"updatedAt"`
	Enrollments       []statusEnrollment `json:"enrollments"`
	History           []statusChange     `json:"history"`
}

// statusItem is the order of a record: what Yubico ships.
type statusItem struct {
	ProductID          string `json:"productId"`
	InventoryProductID string `json:"inventoryProductId"`
	CustomizationID    string `json:"customizationId"`
}

// statusEnrollment is one Okta enrollment: of the record (reconciled with
// Okta's list by Service.Status), or Okta's list for a user without record.
type statusEnrollment struct {
	ID string `json:"id"`
	// Status is the enrollment's status as Okta last reported it.
	Status *string `json:"status"`
	// Deleted: Okta no longer lists it (a record's enrollments only).
	Deleted bool `json:"deleted"`
	// KeyStatus is the key status Okta's status and PIN state imply
	// (fulfillment.StatusFromOkta); null when they imply none, and for a
	// record's enrollments, whose PIN state is not kept.
	KeyStatus *string `json:"keyStatus"`
	// AuthenticatorName and PresetPINAvailable: Okta's view only.
	AuthenticatorName  *string `json:"authenticatorName"`
	PresetPINAvailable *bool   `json:"presetPinAvailable"`
}

// statusChange is one entry of a record's history (without the intent's
// idempotency key).
type statusChange struct {
	At      *string `json:"at"`
	Status  *string `json:"status"`
	Step    *string `json:"step"`
	Attempt int     `json:"attempt"`
	Reason  *string `json:"reason"`
}

// recordJSON is the -json line of a record.
func recordJSON(r fulfillment.Record) statusJSON {
	s := statusJSON{
		UserID: r.UserID, Login: nonEmpty(r.Login), Record: true,
		Status: nonEmpty(string(r.Status)), Step: nonEmpty(string(r.Step)), FailedStep: nonEmpty(string(r.FailedStep)),
		Reason: nonEmpty(r.Reason), Attempts: r.Attempts,
		Items:      []statusItem{},
		ShipmentID: nonEmpty(r.ShipmentID), Serial: nonEmpty(r.Serial), Firmware: nonEmpty(r.Firmware),
		DeliveredAt: jsonTime(r.DeliveredAt), CreatedAt: jsonTime(r.CreatedAt), UpdatedAt: jsonTime(r.UpdatedAt),
		Enrollments: []statusEnrollment{}, History: []statusChange{},
	}
	if r.Status != fulfillment.StatusNone {
		s.StatusLabel = nonEmpty(r.Status.Label())
	}
	if r.ShipmentState != 0 {
		n := int(r.ShipmentState)
		s.ShipmentState, s.ShipmentStateName = &n, nonEmpty(r.ShipmentState.String())
	}
	if at, ok := r.DueAt(); ok {
		s.NextCheck = jsonTime(at) // zero (due at the next pass): null
	}
	for _, it := range r.Items {
		s.Items = append(s.Items, statusItem{ProductID: it.ProductID, InventoryProductID: it.InventoryProductID, CustomizationID: it.CustomizationID})
	}
	for _, e := range r.Enrollments {
		s.Enrollments = append(s.Enrollments, statusEnrollment{ID: e.ID, Status: nonEmpty(string(e.Status)), Deleted: e.Deleted})
	}
	for _, c := range r.History {
		s.History = append(s.History, statusChange{At: jsonTime(c.At), Status: nonEmpty(string(c.Status)), Step: nonEmpty(string(c.Step)),
			Attempt: c.Attempt, Reason: nonEmpty(c.Reason)})
	}
	return s
}

// oktaViewJSON is the -json line of a user the store has no record of:
// Okta's list of the user's enrollments.
func oktaViewJSON(u okta.User, es []okta.Enrollment) statusJSON {
	s := statusJSON{UserID: u.ID, Login: nonEmpty(u.Profile.Login), Items: []statusItem{}, Enrollments: []statusEnrollment{}, History: []statusChange{}}
	for _, e := range es {
		pin := e.Profile.PresetPINAvailable
		v := statusEnrollment{ID: e.ID, Status: nonEmpty(string(e.Status)), AuthenticatorName: nonEmpty(e.Profile.AuthenticatorName), PresetPINAvailable: &pin}
		if st, ok := fulfillment.StatusFromOkta(e.Status, pin); ok {
			v.KeyStatus = nonEmpty(string(st))
		}
		s.Enrollments = append(s.Enrollments, v)
	}
	return s
}

// writeJSONLine writes v as one line of JSON. encoding/json escapes every
// control character, so a login or reason from Okta cannot break the line
// or reach a terminal raw.
func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// nonEmpty returns nil for "", else a pointer to s: JSON null for an
// absent value.
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// jsonTime formats t as RFC 3339 in UTC to the second (what jq's
// fromdate reads), or nil for the zero time.
func jsonTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	return nonEmpty(t.UTC().Format(time.RFC3339))
}

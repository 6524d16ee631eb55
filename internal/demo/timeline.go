package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/preenroll/preenroll/fulfillment"
)

// event is one thing that happened to one user.
type event struct {
	Time   time.Time
	User   string // login
	UserID string // Okta user ID, when known
	Status fulfillment.Status
	Step   string
	Detail string
}

// header describes the run.
type header struct {
	OktaURL, YubicoURL, RPID string
	Start                    time.Time
	Users                    int
	UserWidth                int // the longest login, in runes
}

// sink prints the run.
type sink interface {
	header(h header)
	event(e event)
}

// timeline prints a human-readable table.
type timeline struct {
	w     io.Writer
	width int // of the user column
}

func newTimeline(w io.Writer) *timeline { return &timeline{w: w, width: 24} }

// statusWidth fits the longest status label ("Fulfillment started").
const statusWidth = 19

func (t *timeline) header(h header) {
	t.width = max(t.width, h.UserWidth)
	fmt.Fprintf(t.w, "Pre-enrolled YubiKeys for %d users: fake Okta %s (RP ID %s), fake Yubico %s\n",
		h.Users, h.OktaURL, h.RPID, h.YubicoURL)
	fmt.Fprintf(t.w, "fake clock starts %s\n\n", h.Start.UTC().Format("Mon 2 Jan 2006 15:04 MST"))
	fmt.Fprintf(t.w, "%-16s  %-*s  %-*s  %-9s  %s\n", "time (UTC)", t.width, "user", statusWidth, "status", "step", "what happened")
}

func (t *timeline) event(e event) {
	user := e.User
	if n := utf8.RuneCountInString(user); n > t.width {
		t.width = n
	}
	fmt.Fprintf(t.w, "%-16s  %-*s  %-*s  %-9s  %s\n", e.Time.UTC().Format("2006-01-02 15:04"),
		t.width, user, statusWidth, e.Status.Label(), e.Step, strings.ReplaceAll(e.Detail, "\n", " "))
}

// jsonLines prints one JSON object per event.
type jsonLines struct{ enc *json.Encoder }

func newJSONLines(w io.Writer) *jsonLines {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &jsonLines{enc: enc}
}

func (j *jsonLines) header(header) {}

// jsonEvent is the wire shape of an event.
type jsonEvent struct {
	Time   time.Time `json:"time"`
	User   string    `json:"user"`
	UserID string    `json:"userId,omitempty"`
	Status string    `json:"status"`
	Step   string    `json:"step"`
	Detail string    `json:"detail"`
}

func (j *jsonLines) event(e event) {
	status := string(e.Status)
	if e.Status == fulfillment.StatusNone {
		status = "NOT_ORDERED"
	}
	// Encoding a struct of strings and a time cannot fail; a write error
	// (closed pipe) has nowhere better to go.
	_ = j.enc.Encode(jsonEvent{Time: e.Time.UTC(), User: e.User, UserID: e.UserID, Status: status, Step: e.Step, Detail: e.Detail})
}

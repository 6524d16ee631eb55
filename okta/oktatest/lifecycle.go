package oktatest

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"

	"github.com/preenroll/preenroll/okta"
)

// userMove is one lifecycle operation on a user: the statuses it starts
// from, where it leads and how Okta refuses it from any other status.
type userMove struct {
	from func(okta.UserStatus) bool
	to   okta.UserStatus // "" keeps the status
	// refuse is the error for a user whose status from rejects.
	refuse func(okta.UserStatus) refusal
}

type refusal struct {
	status        int
	code, summary string
	causes        []string
}

func oneOf(statuses ...okta.UserStatus) func(okta.UserStatus) bool {
	return func(s okta.UserStatus) bool { return slices.Contains(statuses, s) }
}

func notDeprovisioned(s okta.UserStatus) bool { return s != okta.UserDeprovisioned }

// notAllowed is Okta's E0000038.
func notAllowed(okta.UserStatus) refusal {
	return refusal{http.StatusForbidden, "E0000038", "This operation is not allowed in the user's current status.", nil}
}

// userMoves is the one table that decides every lifecycle operation of
// the fake (POST /api/v1/users/{id}/lifecycle/{op} and DELETE
// /api/v1/users/{id}). The allowed statuses and the results are Okta's
// (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/UserLifecycle/);
// where Okta documents no error for a refused move, E0000038 is ours.
var userMoves = map[string]userMove{
	// STAGED or DEPROVISIONED → ACTIVE; E0000016 if already active.
	"activate": {from: oneOf(okta.UserStaged, okta.UserDeprovisioned), to: okta.UserActive,
		refuse: func(s okta.UserStatus) refusal {
			if s == okta.UserActive {
				return refusal{http.StatusForbidden, "E0000016", "Activation failed because the user is already active", nil}
			}
			return notAllowed(s)
		}},
	// PROVISIONED restarts its activation and stays PROVISIONED.
	"reactivate": {from: oneOf(okta.UserProvisioned), refuse: notAllowed},
	// Any status but DEPROVISIONED → DEPROVISIONED.
	"deactivate": {from: notDeprovisioned, to: okta.UserDeprovisioned, refuse: notAllowed},
	// ACTIVE → SUSPENDED; 400 E0000001 otherwise.
	"suspend": {from: oneOf(okta.UserActive), to: okta.UserSuspended, refuse: func(okta.UserStatus) refusal {
		return refusal{http.StatusBadRequest, "E0000001", "Api validation failed: suspendUser",
			[]string{"Cannot suspend a user that is not active"}}
	}},
	// SUSPENDED → ACTIVE; 400 E0000001 otherwise.
	"unsuspend": {from: oneOf(okta.UserSuspended), to: okta.UserActive, refuse: func(okta.UserStatus) refusal {
		return refusal{http.StatusBadRequest, "E0000001", "Api validation failed: unsuspendUser",
			[]string{"Cannot unsuspend a user that is not suspended"}}
	}},
	// LOCKED_OUT → ACTIVE; E0000032 otherwise.
	"unlock": {from: oneOf(okta.UserLockedOut), to: okta.UserActive, refuse: func(okta.UserStatus) refusal {
		return refusal{http.StatusBadRequest, "E0000032", "Unlock is not allowed for this user.", nil}
	}},
	// Every factor enrollment (the preregistered ones included) is removed;
	// the status stays. Okta documents it for ACTIVE users; the fake allows
	// every status but DEPROVISIONED (pre-enrolled keys belong to STAGED
	// users too).
	"reset_factors": {from: notDeprovisioned, refuse: notAllowed},
	// DELETE /api/v1/users/{id} on a DEPROVISIONED user deletes it for
	// good; on any other user it deactivates (see handleDeleteUser).
	"delete": {from: oneOf(okta.UserDeprovisioned), refuse: notAllowed},
}

// moveLocked applies move op to u, or answers its refusal and returns false.
func (s *Server) moveLocked(x *exchange, u *user, op string) bool {
	m := userMoves[op]
	if !m.from(u.status) {
		r := m.refuse(u.status)
		x.detail("%s refused: user is %s", op, u.status)
		s.fail(x, r.status, r.code, r.summary, r.causes...)
		return false
	}
	now := s.now()
	if m.to != "" && m.to != u.status {
		u.status = m.to
		u.statusChanged = now
		if m.to == okta.UserActive && u.activated.IsZero() {
			u.activated = now
		}
	}
	u.lastUpdated = now
	return true
}

// boolParam reads an optional boolean query parameter, answering 400 and
// returning false when it does not parse.
func (s *Server) boolParam(x *exchange, name string, def bool) (v, ok bool) {
	raw := x.r.URL.Query().Get(name)
	if raw == "" {
		return def, true
	}
	b, err := strconv.ParseBool(raw)
	if err != nil {
		s.validation(x, name, name+": Invalid value "+strconv.Quote(raw))
		return false, false
	}
	return b, true
}

// handleActivateUser is POST /api/v1/users/{id}/lifecycle/activate
// (sendEmail defaults to true).
func (s *Server) handleActivateUser(x *exchange) {
	sendEmail, ok := s.boolParam(x, "sendEmail", true)
	if !ok {
		return
	}
	s.withPathUser(x, "id", func(u *user) {
		// The welcome email goes to the primary email and, for a new (STAGED)
		// user who cannot read that mailbox yet, also to the secondary one, as
		// Okta's pre-enrolled YubiKey guide says (docs/okta.md §Preregistration API).
		to := []string{u.profile.Email}
		if u.status == okta.UserStaged && u.profile.SecondEmail != "" {
			to = append(to, u.profile.SecondEmail)
		}
		if !s.moveLocked(x, u, "activate") {
			return
		}
		s.sendActivationLocked(x, u, sendEmail, to)
	})
}

// sendActivationLocked issues a new activation token and either emails the
// link (answering {}) or returns it (sendEmail false), as activate and
// reactivate do.
func (s *Server) sendActivationLocked(x *exchange, u *user, sendEmail bool, to []string) {
	u.activationToken = s.randomID("", 20)
	activationURL := s.srv.URL + "/welcome/" + u.activationToken
	if sendEmail {
		for _, addr := range to {
			s.sendMailLocked(addr, "Welcome to "+s.orgName,
				fmt.Sprintf("Hello %s,\n\nYour account is ready. Activate it at %s\n", u.profile.FirstName, activationURL))
		}
		s.writeJSON(x, http.StatusOK, map[string]any{})
		return
	}
	s.writeJSON(x, http.StatusOK, map[string]string{"activationUrl": activationURL, "activationToken": u.activationToken})
}

// handleReactivateUser is POST /api/v1/users/{id}/lifecycle/reactivate
// (sendEmail defaults to false).
func (s *Server) handleReactivateUser(x *exchange) {
	sendEmail, ok := s.boolParam(x, "sendEmail", false)
	if !ok {
		return
	}
	s.withPathUser(x, "id", func(u *user) {
		if s.moveLocked(x, u, "reactivate") {
			s.sendActivationLocked(x, u, sendEmail, []string{u.profile.Email})
		}
	})
}

// userMoveHandler serves the lifecycle operations that answer 200 with no
// body: deactivate, suspend, unsuspend, unlock and reset_factors.
func userMoveHandler(op string) func(*Server, *exchange) {
	return func(s *Server, x *exchange) {
		if op == "deactivate" {
			// sendEmail (default false) notifies admins; the fake sends nothing.
			if _, ok := s.boolParam(x, "sendEmail", false); !ok {
				return
			}
		}
		s.withPathUser(x, "id", func(u *user) {
			if !s.moveLocked(x, u, op) {
				return
			}
			if op == "reset_factors" {
				for _, e := range slices.Clone(s.byUser[u.id]) {
					s.removeEnrollmentLocked(e)
				}
			}
			s.writeEmpty(x, http.StatusOK)
		})
	}
}

// handleDeleteUser is DELETE /api/v1/users/{id}: the first call on a user
// that is not DEPROVISIONED deactivates it; a call on a DEPROVISIONED user
// deletes it and everything it owns (group memberships, factor
// enrollments, sign-in transactions). Both answer 204.
func (s *Server) handleDeleteUser(x *exchange) {
	if _, ok := s.boolParam(x, "sendEmail", false); !ok {
		return
	}
	s.withPathUser(x, "id", func(u *user) {
		if u.status != okta.UserDeprovisioned {
			s.moveLocked(x, u, "deactivate")
			x.detail("first delete deactivated the user")
			s.writeNoContent(x)
			return
		}
		if !s.moveLocked(x, u, "delete") {
			return
		}
		s.deleteUserLocked(u)
		s.writeNoContent(x)
	})
}

// deleteUserLocked removes u for good. Its ID stays known to list cursors.
func (s *Server) deleteUserLocked(u *user) {
	if i := sort.Search(len(s.userOrder), func(i int) bool { return s.users[s.userOrder[i]].seq >= u.seq }); i < len(s.userOrder) && s.userOrder[i] == u.id {
		s.userOrder = slices.Delete(s.userOrder, i, i+1)
	}
	delete(s.users, u.id)
	delete(s.byLogin, loginKey(u.profile.Login))
	s.deletedSeq[u.id] = u.seq
	for _, gid := range u.groups {
		if g, ok := s.groups[gid]; ok {
			g.members = slices.DeleteFunc(g.members, func(id string) bool { return id == u.id })
			g.lastMembershipUpdated = s.now()
		}
	}
	for _, e := range slices.Clone(s.byUser[u.id]) {
		s.removeEnrollmentLocked(e)
	}
	for tok, t := range s.txns {
		if t.userID == u.id {
			delete(s.txns, tok)
		}
	}
}

// writeEmpty answers status with no body (Okta's lifecycle operations).
func (s *Server) writeEmpty(x *exchange, status int) {
	x.w.Header().Set("Content-Length", "0")
	x.status, x.out, x.wrote = status, nil, true
	x.entry.Status = status
}

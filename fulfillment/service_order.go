package fulfillment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/preenroll/preenroll/okta"
)

// PrepareUser makes a user ready to receive a key. The profile is validated
// as a shipping address first (all problems at once, in a
// *ValidationError wrapping ErrInvalidShipping) and nothing is sent to
// Okta if it is invalid.
//
//   - NewUser: the user is created STAGED (not activated) with the profile
//     and put in Config.NewUsersGroupID. The secondary email is required:
//     the PIN goes there.
//   - ExistingUser: the user is looked up by p.Login, its shipping
//     attributes are updated to p's, and it is put in
//     Config.ExistingUsersGroupID.
//
// It returns the Okta user ID. Okta errors are returned wrapped (for
// example okta.ErrValidation for a duplicate login).
func (s *Service) PrepareUser(ctx context.Context, p Profile, kind UserKind) (string, error) {
	if kind != NewUser && kind != ExistingUser {
		return "", fmt.Errorf("fulfillment: prepare user: unknown kind %d", int(kind))
	}
	if p.Login == "" {
		return "", &ValidationError{Fields: []FieldError{{Field: "login", Problem: "required"}}, kind: ErrInvalidShipping}
	}
	if kind == NewUser {
		p.UserStatus, p.NeverSignedIn = okta.UserStaged, true
		typed := ShippingInfoFromProfile(p)
		info := typed.Normalize()
		if s.truncate {
			info = info.Truncate()
		}
		if err := info.Validate(); err != nil {
			return "", typed.asTyped(err)
		}
		req := okta.CreateUserRequest{Profile: oktaProfile(p)}
		if s.newGroup != "" {
			req.GroupIDs = []string{s.newGroup}
		}
		u, err := s.okta.CreateUser(ctx, req)
		if err != nil {
			return "", fmt.Errorf("fulfillment: prepare new user %q: %w", p.Login, err)
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: user prepared",
			slog.String("user", u.ID), slog.String("kind", kind.String()))
		return u.ID, nil
	}
	u, err := s.okta.GetUser(ctx, p.Login)
	if err != nil {
		return "", fmt.Errorf("fulfillment: prepare existing user %q: %w", p.Login, err)
	}
	merged := profileFromOkta(u)
	overlay(&merged, p)
	if _, err := s.shippingInfo(okta.User{Status: u.Status, LastLogin: u.LastLogin, Profile: oktaProfile(merged)}); err != nil {
		return "", err
	}
	patch := oktaProfile(p)
	patch.Login = "" // never rename
	if _, err := s.okta.UpdateProfile(ctx, u.ID, patch); err != nil {
		return "", fmt.Errorf("fulfillment: prepare existing user %q: update profile: %w", p.Login, err)
	}
	if s.existingGroup != "" {
		if err := s.okta.AddUserToGroup(ctx, s.existingGroup, u.ID); err != nil {
			return "", fmt.Errorf("fulfillment: prepare existing user %q: add to group: %w", p.Login, err)
		}
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: user prepared",
		slog.String("user", u.ID), slog.String("kind", kind.String()))
	return u.ID, nil
}

// Order orders a key for one Okta user (ID or login): the item given, or
// Config.Defaults. Before any call that changes anything it checks, in
// order:
//
//   - the user: an ID or login no store can key (see [CheckID]), or blank,
//     or with white space around it, is a *ValidationError for field
//     "userId" wrapping ErrInvalidOrder (and CheckID's *IDError, matching
//     ErrInvalidID, when CheckID refuses it), and Okta is not asked;
//   - the order (a *ValidationError wrapping ErrInvalidOrder; one item per
//     order, since Okta allows one key in fulfillment per user);
//   - the user's Okta profile as a shipping address (a *ValidationError
//     wrapping ErrInvalidShipping, every bad field named);
//   - that the user has no key in fulfillment, in the store or in Okta's
//     enrollment list (an error wrapping ErrOrderInFlight).
//
// Then it records the intent, calls Okta's initiate-fulfillment-request and
// records the order as Initiated; [Service.Sync] takes it from there (a
// [Service.Run] of this Service is woken to do so at once). On an
// unknown outcome (transport error, 5xx) the error wraps ErrOutcomeUnknown
// and the intent stays recorded for Sync to resume; a definite refusal by
// Okta leaves the record FulfillmentErrored at step Initiating.
//
// A user Okta does not have gets an error wrapping okta.ErrNotFound. The
// record returned carries the user's Okta ID (Record.UserID): the key
// that Service.Status, Retry, Delete, ResendPIN and Check take, which
// look no login up.
func (s *Service) Order(ctx context.Context, userID string, items ...Item) (Record, error) {
	if err := checkUserKey(userID); err != nil {
		return Record{}, err
	}
	items = s.withDefaults(items)
	if err := validateItems(items); err != nil {
		return Record{}, err // before any call: the user is not read for a bad order
	}
	u, err := s.okta.GetUser(ctx, userID)
	if err != nil {
		return Record{}, fmt.Errorf("fulfillment: order for %q: get user: %w", truncateID(userID), err)
	}
	if err := validateOrder(u.ID, items); err != nil {
		return Record{}, err
	}
	if _, err := s.shippingInfo(u); err != nil {
		return Record{}, err
	}
	return s.order(ctx, u, items, "")
}

// withDefaults returns items, or Config.Defaults when items is empty and
// defaults are configured.
func (s *Service) withDefaults(items []Item) []Item {
	if len(items) == 0 && s.defaults != (Item{}) {
		return []Item{s.defaults}
	}
	return items
}

// orderItems applies the defaults and validates an order.
func (s *Service) orderItems(userID string, items []Item) ([]Item, error) {
	items = s.withDefaults(items)
	if err := validateOrder(userID, items); err != nil {
		return nil, err
	}
	return items, nil
}

// inFlightAtOkta returns an error wrapping ErrOrderInFlight if Okta lists an
// enrollment of the user that is still in fulfillment.
func inFlightAtOkta(userID string, es []okta.Enrollment) error {
	for _, e := range es {
		if st, ok := StatusFromOkta(e.Status, e.Profile.PresetPINAvailable); ok {
			if err := CanOrder(st); err != nil {
				return fmt.Errorf("fulfillment: order for %q: Okta enrollment %s is %s: %w", userID, e.ID, e.Status, err)
			}
		}
	}
	return nil
}

// order records and sends the order of a user whose profile was validated.
// eventID is the Okta event that asked for it, if any.
func (s *Service) order(ctx context.Context, u okta.User, items []Item, eventID string) (Record, error) {
	ctx, unlock := s.lock(ctx, u.ID)
	defer unlock()
	rec, err := s.store.Get(ctx, u.ID)
	switch {
	case errors.Is(err, ErrRecordNotFound):
		rec = Record{UserID: u.ID}
	case err != nil:
		return Record{}, fmt.Errorf("fulfillment: order for %q: %w", u.ID, err)
	}
	if err := CanOrder(rec.Status); err != nil {
		return rec, fmt.Errorf("fulfillment: order for %q: %w", u.ID, err)
	}
	es, err := s.okta.ListEnrollments(ctx, u.ID)
	if err != nil {
		return Record{}, fmt.Errorf("fulfillment: order for %q: list enrollments: %w", u.ID, err)
	}
	if err := inFlightAtOkta(u.ID, es); err != nil {
		return Record{}, err
	}
	started, err := StatusNone.Next(EventEnroll)
	if err != nil {
		return Record{}, err
	}
	// A new lifecycle: keep the store's version and history, reset the rest.
	rec = Record{
		UserID: u.ID, Login: u.Profile.Login, Status: started, Items: items, Attempts: 1,
		EventID: eventID, Version: rec.Version, History: rec.History,
	}
	ctx, cancel := s.fenced(ctx)
	defer cancel()
	rec, _, err = s.intend(ctx, rec, StepInitiating)
	if err != nil {
		if errors.Is(err, ErrVersionConflict) {
			return Record{}, fmt.Errorf("fulfillment: order for %q: another order was recorded concurrently: %w", u.ID, ErrOrderInFlight)
		}
		return Record{}, err
	}
	// The order is on record (sent, or its intent for Sync to resume):
	// Run need not wait for its next tick.
	defer s.wakeRun()
	return s.sendInitiate(ctx, rec)
}

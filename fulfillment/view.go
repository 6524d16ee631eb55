package fulfillment

import (
	"context"

	"github.com/preenroll/preenroll/okta"
)

// What a screen over the Service reads without changing anything.

// List returns the records of the Service's Store selected by q, ordered
// by user ID (see [Query] for paging), without asking Okta: what a console
// lists. [Service.Status] reads one record reconciled with Okta. A Query
// that [Query.Check] refuses is an error, before the store is read.
func (s *Service) List(ctx context.Context, q Query) ([]Record, error) {
	if err := q.Check(); err != nil {
		return nil, err
	}
	return s.store.List(ctx, q)
}

// CountByStatus returns how many records of each status the Service's
// Store holds, without reading them where the store can count
// ([StatusCounter]; every store in this module can).
func (s *Service) CountByStatus(ctx context.Context) (map[Status]int, error) {
	return CountByStatus(ctx, s.store)
}

// CheckShipping validates an Okta user's profile as the shipping address
// of an order exactly as [Service.Order] does (Config.TruncateNames
// included), without any call: nil, or a *ValidationError wrapping
// ErrInvalidShipping that names every Okta attribute to fix, quoting the
// values as they are in the profile.
func (s *Service) CheckShipping(u okta.User) error {
	_, err := s.shippingInfo(u)
	return err
}

// ProfileFromOkta returns the shipping attributes of an Okta user as a
// [Profile], with its status and whether it ever signed in.
func ProfileFromOkta(u okta.User) Profile { return profileFromOkta(u) }

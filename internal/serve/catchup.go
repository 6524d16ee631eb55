package serve

import (
	"context"
	"errors"

	"github.com/preenroll/preenroll/okta"
)

// catchUpLoop catches up every CatchUpInterval, the first time at once,
// until ctx ends or shutdown begins, from the checkpoint kept in the store
// (fulfillment.Service.CatchUpFromCheckpoint), shared by every instance on
// it.
//
// It is not the Service's Run's catch-up (Config.CatchUpEvery): an
// order-only instance (no Yubico token) runs no Run but still catches
// up, and serve counts each catch-up in its metrics and logs a hint for
// a token that may not read the System Log.
func (s *server) catchUpLoop(ctx context.Context) {
	for {
		rep, err := s.svc.CatchUpFromCheckpoint(ctx)
		cut := ctx.Err() != nil // shutdown cut it short: neither a result nor a failure
		if !cut {
			s.m.observeCatchUp(rep, err)
		}
		if s.cfg.caughtUp != nil {
			s.cfg.caughtUp(rep, err)
		}
		if cut {
			return
		}
		switch {
		case err == nil && rep.Since.IsZero():
			s.log.Debug("serve: first catch-up on this store: orders placed from now on are caught up", "from", rep.Until)
		case err == nil:
			s.log.Debug("serve: caught up from Okta's System Log", "since", rep.Since, "until", rep.Until, "events", rep.Events, "recorded", rep.Recorded())
		}
		if err != nil {
			hint := ""
			var te *okta.TokenError
			if errors.Is(err, okta.ErrForbidden) || (errors.As(err, &te) && te.ErrorCode == "invalid_scope") {
				hint = "grant the Okta service app the okta.logs.read scope (an API token's admin needs to read the System Log), or turn the catch-up off (-catch-up-interval 0s)"
			}
			s.log.Warn("serve: catch-up from Okta's System Log failed: orders whose event hook delivery never arrived are not found until it works", "error", err.Error(), "hint", hint)
		}
		if !s.pause(ctx, s.cfg.CatchUpInterval, nil) {
			return
		}
	}
}

package fulfillment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/preenroll/preenroll/okta"
)

// ErrInvalidBatch is returned (wrapped) by OrderBatch when
// BatchOptions.StopOnInvalid is set and some users are invalid.
var ErrInvalidBatch = errors.New("fulfillment: batch has invalid users")

// BatchOptions configure [Service.OrderBatch].
type BatchOptions struct {
	// Items is the item ordered for every user (default Config.Defaults).
	Items []Item
	// Progress, if not nil, is called after each user is ordered (or not),
	// one call at a time.
	Progress func(Progress)
	// StopOnInvalid orders nobody when any user is invalid. By default the
	// valid users are ordered and the invalid ones reported.
	StopOnInvalid bool
}

// Progress is what a batch has done so far.
type Progress struct {
	// Total is the number of users being ordered (valid ones).
	Total int
	// Done = Ordered + Skipped + Failed.
	Done, Ordered, Skipped, Failed int
	// Invalid is the number of users rejected before ordering.
	Invalid int
	// Last is the result that made this progress.
	Last Result
}

// Result is the outcome for one user of a batch, or a failure of a Sync.
type Result struct {
	// Index is the user's position in the batch input.
	Index int
	// UserID is the Okta user ID (empty if the user was not found); Login
	// the login, when known.
	UserID, Login string
	// Status is the user's key status after the batch.
	Status Status
	// Step is the step that failed (in a SyncReport's Failures only).
	Step Step
	// Err is why the user was not ordered: a *ValidationError (every bad
	// field), an error wrapping ErrOrderInFlight (skipped), or an Okta or
	// store error (failed). Nil when ordered. In a SyncReport, why the
	// step failed (see [SyncReport.Failures]).
	Err error
}

// BatchReport is the outcome of a batch.
type BatchReport struct {
	// Results holds one entry per valid user, in input order.
	Results []Result
	// Invalid holds one entry per user rejected before any order was sent:
	// unknown users, duplicates, bad profiles (every field), bad items.
	Invalid []Result
	// Ordered, Skipped (a key already in flight) and Failed count Results.
	Ordered, Skipped, Failed int
}

// OrderBatch orders a key for each user (Okta ID or login). It works in two
// phases:
//
//  1. Validation: every user is looked up at Okta (a read) and its order
//     and profile validated. Every invalid user (unknown, repeated in the
//     input, bad profile, bad item) is reported in BatchReport.Invalid with
//     all its problems, and nothing is ordered for it. With StopOnInvalid,
//     nothing at all is ordered if any user is invalid (the error wraps
//     ErrInvalidBatch).
//  2. Ordering: one initiate-fulfillment-request per valid user, as
//     [Service.Order] does, Config.Concurrency at a time (errgroup), within
//     Okta's rate limit (the Okta client waits for the rate-limit window
//     when it runs low, and Config.OrderRate adds a limit of its own). A
//     user who already has a key in flight, in the store or at Okta, is
//     skipped (Result.Err wraps ErrOrderInFlight), so running a batch again
//     orders nobody twice.
//
// Per-user problems never stop the batch; they are in the report. The
// error is non-nil only for StopOnInvalid or when ctx ends (the report
// then holds what was done).
func (s *Service) OrderBatch(ctx context.Context, users []string, opts BatchOptions) (BatchReport, error) {
	var rep BatchReport
	type valid struct {
		index int
		user  okta.User
	}
	checked := make([]*valid, len(users))
	invalid := make([]*Result, len(users))
	items, itemsErr := s.orderItems("batch", opts.Items)
	seen := map[string]int{}
	var seenMu sync.Mutex

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency)
	for i, key := range users {
		g.Go(func() error {
			res := Result{Index: i, Login: key}
			if itemsErr != nil {
				res.Err = itemsErr
				invalid[i] = &res
				return nil
			}
			u, err := s.okta.GetUser(gctx, key)
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				res.Err = fmt.Errorf("fulfillment: batch: user %q: %w", truncateValue(key), err)
				invalid[i] = &res
				return nil
			}
			res.UserID, res.Login = u.ID, u.Profile.Login
			seenMu.Lock()
			first, dup := seen[u.ID]
			if !dup {
				seen[u.ID] = i
			}
			seenMu.Unlock()
			if dup {
				res.Err = fmt.Errorf("fulfillment: batch: user %q is also at index %d", u.ID, first)
				invalid[i] = &res
				return nil
			}
			if _, err := s.orderItems(u.ID, items); err != nil {
				res.Err = err
				invalid[i] = &res
				return nil
			}
			if _, err := s.shippingInfo(u); err != nil {
				res.Err = err
				invalid[i] = &res
				return nil
			}
			checked[i] = &valid{index: i, user: u}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return rep, err
	}
	var todo []*valid
	for i := range users {
		switch {
		case invalid[i] != nil:
			rep.Invalid = append(rep.Invalid, *invalid[i])
		case checked[i] != nil:
			todo = append(todo, checked[i])
		}
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: batch validated",
		slog.Int("users", len(users)), slog.Int("valid", len(todo)), slog.Int("invalid", len(rep.Invalid)))
	if opts.StopOnInvalid && len(rep.Invalid) > 0 {
		return rep, fmt.Errorf("%w: %d of %d users; nothing was ordered", ErrInvalidBatch, len(rep.Invalid), len(users))
	}

	rep.Results = make([]Result, len(todo))
	var mu sync.Mutex
	prog := Progress{Total: len(todo), Invalid: len(rep.Invalid)}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency)
	for n, v := range todo {
		g.Go(func() error {
			res := Result{Index: v.index, UserID: v.user.ID, Login: v.user.Profile.Login}
			if s.limiter != nil {
				if err := s.limiter.Wait(gctx); err != nil {
					res.Err = err
				}
			}
			if res.Err == nil {
				rec, err := s.order(gctx, v.user, items, "")
				res.Status, res.Err = rec.Status, err
			}
			mu.Lock()
			defer mu.Unlock()
			rep.Results[n] = res
			switch {
			case res.Err == nil:
				rep.Ordered++
				prog.Ordered++
			case errors.Is(res.Err, ErrOrderInFlight):
				rep.Skipped++
				prog.Skipped++
			default:
				rep.Failed++
				prog.Failed++
			}
			prog.Done++
			prog.Last = res
			if opts.Progress != nil {
				opts.Progress(prog)
			}
			return nil
		})
	}
	g.Wait()
	s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: batch done",
		slog.Int("ordered", rep.Ordered), slog.Int("skipped", rep.Skipped),
		slog.Int("failed", rep.Failed), slog.Int("invalid", len(rep.Invalid)))
	return rep, ctx.Err()
}

// OrderBatchFrom is OrderBatch over the users received from a channel. It
// reads until the channel is closed (validation needs every user before
// anything is ordered) or ctx ends.
func (s *Service) OrderBatchFrom(ctx context.Context, users <-chan string, opts BatchOptions) (BatchReport, error) {
	var all []string
	for {
		select {
		case <-ctx.Done():
			return BatchReport{}, ctx.Err()
		case u, ok := <-users:
			if !ok {
				return s.OrderBatch(ctx, all, opts)
			}
			all = append(all, u)
		}
	}
}

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
//     Okta's rate limit (the Okta client paces each bucket, spreading what
//     is left of the window over the time to its reset, and
//     Config.OrderRate adds a limit of its own). A
//     user who already has a key in flight, in the store or at Okta, is
//     skipped (Result.Err wraps ErrOrderInFlight), so running a batch again
//     orders nobody twice.
//
// Per-user problems never stop the batch; they are in the report. The
// error is non-nil only for StopOnInvalid or when ctx ends (the report
// then holds what was done).
func (s *Service) OrderBatch(ctx context.Context, users []string, opts BatchOptions) (BatchReport, error) {
	items := s.withDefaults(opts.Items)
	itemsErr := validateItems(items)
	todo, invalid, err := s.validateBatch(ctx, users, items, itemsErr)
	rep := BatchReport{Invalid: invalid}
	if err != nil {
		return rep, fmt.Errorf("fulfillment: batch of %d users: validation interrupted, nothing ordered: %w", len(users), err)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: batch validated",
		slog.Int("users", len(users)), slog.Int("valid", len(todo)), slog.Int("invalid", len(rep.Invalid)))
	if opts.StopOnInvalid && len(rep.Invalid) > 0 {
		return rep, fmt.Errorf("%w: %d of %d users; nothing was ordered", ErrInvalidBatch, len(rep.Invalid), len(users))
	}
	s.orderValid(ctx, &rep, todo, items, opts.Progress)
	s.log.LogAttrs(ctx, slog.LevelInfo, "fulfillment: batch done",
		slog.Int("ordered", rep.Ordered), slog.Int("skipped", rep.Skipped),
		slog.Int("failed", rep.Failed), slog.Int("invalid", len(rep.Invalid)))
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("fulfillment: batch of %d users: interrupted after %d ordered: %w", len(users), rep.Ordered, err)
	}
	return rep, nil
}

// batchUser is one user of a batch after its lookup.
type batchUser struct {
	index int
	user  okta.User
	err   error // why it is invalid; nil: valid
}

// validateBatch looks every user up at Okta, Config.Concurrency at a time,
// and validates its order and profile. It returns the valid users and the
// invalid ones, both in input order; a user given twice is valid at its
// first index and invalid at the others. The error is ctx's.
func (s *Service) validateBatch(ctx context.Context, users []string, items []Item, itemsErr error) (valid []batchUser, invalid []Result, err error) {
	looked := make([]batchUser, len(users))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency)
	for i, key := range users {
		g.Go(func() error {
			looked[i] = batchUser{index: i, err: itemsErr}
			if itemsErr != nil {
				return nil
			}
			if err := checkUserKey(key); err != nil {
				looked[i].err = err
				return nil
			}
			u, err := s.okta.GetUser(gctx, key)
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				looked[i].err = fmt.Errorf("fulfillment: batch: user %q: %w", truncateValue(key), err)
				return nil
			}
			looked[i].user = u
			if _, err := s.orderItems(u.ID, items); err != nil {
				looked[i].err = err
			} else if _, err := s.shippingInfo(u); err != nil {
				looked[i].err = err
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	first := map[string]int{}
	for i, b := range looked {
		if id := b.user.ID; id != "" {
			if j, dup := first[id]; dup {
				b.err = fmt.Errorf("fulfillment: batch: user %q is also at index %d", id, j)
			} else {
				first[id] = i
			}
		}
		if b.err != nil {
			invalid = append(invalid, Result{Index: i, UserID: b.user.ID, Login: cmpOr(b.user.Profile.Login, users[i]), Err: b.err})
			continue
		}
		valid = append(valid, b)
	}
	return valid, invalid, nil
}

// orderValid orders every valid user of a batch, Config.Concurrency at a
// time and within Config.OrderRate, filling rep and calling progress.
func (s *Service) orderValid(ctx context.Context, rep *BatchReport, todo []batchUser, items []Item, progress func(Progress)) {
	rep.Results = make([]Result, len(todo))
	var mu sync.Mutex
	prog := Progress{Total: len(todo), Invalid: len(rep.Invalid)}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency)
	for n, v := range todo {
		g.Go(func() error {
			res := Result{Index: v.index, UserID: v.user.ID, Login: v.user.Profile.Login}
			if s.limiter != nil {
				res.Err = s.limiter.Wait(gctx)
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
			if progress != nil {
				progress(prog)
			}
			return nil
		})
	}
	g.Wait()
}

// OrderBatchFrom is OrderBatch over the users received from a channel. It
// reads until the channel is closed (validation needs every user before
// anything is ordered) or ctx ends.
func (s *Service) OrderBatchFrom(ctx context.Context, users <-chan string, opts BatchOptions) (BatchReport, error) {
	var all []string
	for {
		select {
		case <-ctx.Done():
			return BatchReport{}, fmt.Errorf("fulfillment: batch: reading users interrupted after %d, nothing ordered: %w", len(all), ctx.Err())
		case u, ok := <-users:
			if !ok {
				return s.OrderBatch(ctx, all, opts)
			}
			all = append(all, u)
		}
	}
}

package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/okta"
)

// The catch-up's checkpoint: the Until of the last catch-up that recorded
// every event it read, as a document in the store, shared by every
// instance on it (or in this process's memory when the store keeps no
// documents).
const (
	checkpointCollection = "serve.catch-up"
	checkpointID         = "okta-system-log"
)

// checkpoint is the checkpoint document's data.
type checkpoint struct {
	// From is when serve first caught up on the store: the orders before
	// were never meant for its event hook, and no overlap reads them.
	From time.Time `json:"from"`
	// Until is the Until of the last catch-up that recorded every event
	// it read.
	Until time.Time `json:"until"`
}

// catchUpLoop catches up every CatchUpInterval, the first time at once,
// until ctx ends or shutdown begins.
func (s *server) catchUpLoop(ctx context.Context, docs fulfillment.DocumentStore) {
	for {
		rep, err := s.catchUp(ctx, docs)
		if s.cfg.caughtUp != nil {
			s.cfg.caughtUp(rep, err)
		}
		if ctx.Err() != nil {
			return
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

// catchUp runs one catch-up from the checkpoint (fulfillment.CatchUpOverlap
// before it) and moves the checkpoint to its Until. Without a checkpoint
// (serve never caught up on this store) it reads nothing and sets it.
func (s *server) catchUp(ctx context.Context, docs fulfillment.DocumentStore) (fulfillment.CatchUpReport, error) {
	cp, version, err := loadCheckpoint(ctx, docs)
	if err != nil {
		s.m.observeCatchUp(fulfillment.CatchUpReport{}, err)
		return fulfillment.CatchUpReport{}, err
	}
	var since time.Time
	if !cp.Until.IsZero() {
		since = cp.Until.Add(-fulfillment.CatchUpOverlap)
		if since.Before(cp.From) {
			since = cp.From
		}
	}
	rep, err := s.svc.CatchUp(ctx, since)
	s.m.observeCatchUp(rep, err)
	if err != nil {
		return rep, err
	}
	s.log.Debug("serve: caught up from Okta's System Log", "since", rep.Since, "until", rep.Until, "events", rep.Events, "recorded", rep.Recorded())
	return rep, saveCheckpoint(ctx, docs, rep.Until, cp, version)
}

// loadCheckpoint returns the checkpoint and its document's version (0, and
// a zero checkpoint: none yet).
func loadCheckpoint(ctx context.Context, docs fulfillment.DocumentStore) (checkpoint, int64, error) {
	d, err := docs.GetDocument(ctx, checkpointCollection, checkpointID)
	if errors.Is(err, fulfillment.ErrDocumentNotFound) {
		return checkpoint{}, 0, nil
	}
	if err != nil {
		return checkpoint{}, 0, fmt.Errorf("serve: catch-up checkpoint: %w", err)
	}
	var cp checkpoint
	if err := json.Unmarshal(d.Data, &cp); err != nil {
		return checkpoint{}, 0, fmt.Errorf("serve: catch-up checkpoint: stored document: %w", err)
	}
	return cp, d.Version, nil
}

// saveCheckpoint moves the checkpoint forward to until (never back: another
// instance may have caught up further meanwhile), retrying on a concurrent
// write.
func saveCheckpoint(ctx context.Context, docs fulfillment.DocumentStore, until time.Time, cp checkpoint, version int64) error {
	for range 3 {
		if !until.After(cp.Until) {
			return nil
		}
		from := cp.From
		if from.IsZero() {
			from = until
		}
		data, err := json.Marshal(checkpoint{From: from, Until: until})
		if err != nil {
			return fmt.Errorf("serve: catch-up checkpoint: %w", err)
		}
		_, err = docs.PutDocument(ctx, fulfillment.Document{Collection: checkpointCollection, ID: checkpointID,
			Created: until, Data: data, Version: version})
		if !errors.Is(err, fulfillment.ErrVersionConflict) {
			if err != nil {
				return fmt.Errorf("serve: catch-up checkpoint: %w", err)
			}
			return nil
		}
		if cp, version, err = loadCheckpoint(ctx, docs); err != nil {
			return err
		}
	}
	return errors.New("serve: catch-up checkpoint: keeps changing")
}

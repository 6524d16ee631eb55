package fulfillment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The catch-up checkpoint of [Service.CatchUpFromCheckpoint]: a document
// in the Store when it is a [DocumentStore], shared by every instance on
// it, else in the Service's memory.
const (
	CheckpointCollection = "fulfillment.catch-up"
	checkpointID         = "okta-system-log"
)

// checkpoint is the checkpoint document's data.
type checkpoint struct {
	// From is when a Service first caught up on the store: the orders
	// before were never meant for its event hook, and no overlap reads
	// them.
	From time.Time `json:"from"`
	// Until is the Until of the last catch-up that recorded every event
	// it read.
	Until time.Time `json:"until"`
}

// CatchUpFromCheckpoint runs [Service.CatchUp] from the checkpoint the
// Store keeps ([CatchUpOverlap] before it), then moves the checkpoint to
// the report's Until. A catch-up that failed part way (Okta or the store
// failing, or ctx ending) moves it to the report's Through, the last event
// it handled, so that the next one goes on from there instead of reading
// again what this one read; one that handled nothing leaves it where it
// was. The first call on a store
// (no checkpoint yet) reads nothing and sets it: the orders placed before
// were never meant for this Service. The checkpoint only moves forward,
// also when instances sharing the store catch up at once. With a Store
// that is a [DocumentStore] (every store of this module) the checkpoint is
// a document of collection [CheckpointCollection], shared by every
// instance on the store and kept across restarts; with another Store it is
// kept in this Service's memory, so that the first call after a restart
// reads nothing, missing the orders placed while the program was down (a
// wrapper that embeds a Store hides its DocumentStore: see [Store]).
//
// [Service.Run] calls it after its first pass and then every Config.CatchUpEvery;
// preenroll serve every -catch-up-interval.
func (s *Service) CatchUpFromCheckpoint(ctx context.Context) (CatchUpReport, error) {
	cp, version, err := s.loadCheckpoint(ctx)
	if err != nil {
		return CatchUpReport{}, err
	}
	var since time.Time
	if !cp.Until.IsZero() {
		since = cp.Until.Add(-CatchUpOverlap)
		if since.Before(cp.From) {
			since = cp.From
		}
	}
	rep, err := s.CatchUp(ctx, since)
	if err != nil {
		if !rep.Through.IsZero() {
			// Keep the place even when ctx ended (a shutdown), for a
			// moment: a long catch-up's progress is worth one write.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkpointSaveTimeout)
			defer cancel()
			if serr := s.saveCheckpoint(sctx, rep.Through, cp, version); serr != nil {
				err = errors.Join(err, serr)
			}
		}
		return rep, err
	}
	return rep, s.saveCheckpoint(ctx, rep.Until, cp, version)
}

// checkpointSaveTimeout bounds the write that keeps a failed catch-up's
// place, which runs also after its ctx ended.
const checkpointSaveTimeout = 5 * time.Second

// checkpoints is where the checkpoint is kept.
func (s *Service) checkpoints() DocumentStore {
	if d, ok := s.store.(DocumentStore); ok {
		return d
	}
	return s.localDocs
}

// loadCheckpoint returns the checkpoint and its document's version (0, and
// a zero checkpoint: none yet).
func (s *Service) loadCheckpoint(ctx context.Context) (checkpoint, int64, error) {
	d, err := s.checkpoints().GetDocument(ctx, CheckpointCollection, checkpointID)
	if errors.Is(err, ErrDocumentNotFound) {
		return checkpoint{}, 0, nil
	}
	if err != nil {
		return checkpoint{}, 0, fmt.Errorf("fulfillment: catch-up checkpoint: %w", err)
	}
	var cp checkpoint
	if err := json.Unmarshal(d.Data, &cp); err != nil {
		return checkpoint{}, 0, fmt.Errorf("fulfillment: catch-up checkpoint: stored document: %w", err)
	}
	return cp, d.Version, nil
}

// saveCheckpoint moves the checkpoint forward to until (never back: another
// instance may have caught up further meanwhile), retrying on a concurrent
// write.
func (s *Service) saveCheckpoint(ctx context.Context, until time.Time, cp checkpoint, version int64) error {
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
			return fmt.Errorf("fulfillment: catch-up checkpoint: %w", err)
		}
		_, err = s.checkpoints().PutDocument(ctx, Document{Collection: CheckpointCollection, ID: checkpointID,
			Created: from, Data: data, Version: version})
		if !errors.Is(err, ErrVersionConflict) {
			if err != nil {
				return fmt.Errorf("fulfillment: catch-up checkpoint: %w", err)
			}
			return nil
		}
		if cp, version, err = s.loadCheckpoint(ctx); err != nil {
			return err
		}
	}
	return errors.New("fulfillment: catch-up checkpoint: keeps changing")
}

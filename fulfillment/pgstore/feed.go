package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/preenroll/preenroll/fulfillment"
)

// notifyChannel is the channel of migration 0004's trigger, shared by
// every schema of the database: a notification names its schema.
const notifyChannel = "preenroll_records"

// feedApplicationName, followed by the schema, is the application_name of
// a feed's connection unless the URL sets one.
const feedApplicationName = "preenroll change feed "

// errFeedClosed is the error of a change feed of a closed Store.
var errFeedClosed = errors.New("pgstore: change feed: the store is closed")

// unreadableLogEvery is how often, at most, a notification the change
// feed cannot read is logged.
const unreadableLogEvery = time.Minute

// closeTimeout bounds the goodbye to the server of a feed's connection.
const closeTimeout = 5 * time.Second

// notice is the payload of a notification of 0004's trigger. The
// pointers are null for a value too long to send.
type notice struct {
	Schema  string  `json:"schema"`
	Op      string  `json:"op"`
	User    *string `json:"user"`
	Version int64   `json:"version"`
	Status  *string `json:"status"`
	Step    *string `json:"step"`
}

// WatchChanges implements [fulfillment.ChangeFeed] with PostgreSQL's
// LISTEN/NOTIFY: migration 0004's trigger on the records table notifies
// the channel preenroll_records of every insert, every update that adds a
// history entry or changes the status or step, and every delete, made by
// any process on the database (a delete is reported with Version 0). The
// feed listens on a connection of its own, outside the pool (opened with
// the pool's settings, closed when WatchChanges returns), so that it
// holds no slot a query needs: each Store with a feed running uses one
// more of the server's connections, named "preenroll change feed" and
// the schema in pg_stat_activity unless the URL sets application_name.
//
// It returns nil when ctx ends, an error when the Store is closed (at
// once after [Store.Close]), and an error when the connection breaks
// (the server restarted, the network failed): the changes made until the
// caller listens again are lost, which [fulfillment.Service] tells its
// subscribers with a Resync when it restarts the feed. A connection
// that dies without a word is noticed by TCP keepalive (pgx's dialer
// turns it on). A notification of another schema on the same database
// is skipped; one that cannot be read (not the trigger's JSON, or a user
// ID that is not valid) is reported as a change with Resync set, since a
// change was made that it cannot name, and logged (see [WithLogger]): the
// first at once, then at most one a minute with the count of those not
// logged, since anybody who can connect to the database can send them.
func (s *Store) WatchChanges(ctx context.Context, fn func(fulfillment.RecordChange)) error {
	if ctx.Err() != nil {
		return nil
	}
	if s.closed.Err() != nil {
		return errFeedClosed
	}
	// ctx ends with Close too; caller says whose end it was.
	caller := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.closed, cancel)()
	ended := func() error {
		if caller.Err() != nil {
			return nil
		}
		return errFeedClosed
	}
	cfg := s.pool.Config().ConnConfig // a copy
	if cfg.RuntimeParams["application_name"] == "" {
		// What the connection is, in pg_stat_activity (the server cuts
		// it at 63 bytes).
		cfg.RuntimeParams["application_name"] = feedApplicationName + s.schema
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return ended()
		}
		return fmt.Errorf("pgstore: change feed: connect: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, `LISTEN `+notifyChannel); err != nil {
		if ctx.Err() != nil {
			return ended()
		}
		return fmt.Errorf("pgstore: change feed: listen: %w", err)
	}
	fn(fulfillment.RecordChange{Resync: true})
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ended()
			}
			return fmt.Errorf("pgstore: change feed: %w", err)
		}
		if n.Channel != notifyChannel {
			continue
		}
		c, ours, err := s.readNotice(n.Payload)
		switch {
		case err != nil:
			s.logUnreadable(ctx, err, len(n.Payload))
			fn(fulfillment.RecordChange{Resync: true})
		case ours:
			fn(c)
		}
	}
}

// logUnreadable logs a notification the feed could not read. Anybody who
// can connect to the database can send one (NOTIFY takes no privilege),
// so they are paced: the first at once, then at most one a minute (by the
// store's clock, shared by its feeds), counting the ones not logged in
// between.
func (s *Store) logUnreadable(ctx context.Context, err error, payloadBytes int) {
	ok, unlogged := s.unreadable.Allow(s.now())
	if !ok {
		return
	}
	s.log.LogAttrs(ctx, slog.LevelWarn, "pgstore: change feed: unreadable notification, reported as a resync (at most one logged a minute)",
		slog.String("schema", s.schema), slog.String("error", err.Error()), slog.Int("payloadBytes", payloadBytes),
		slog.Int("unlogged_before", unlogged))
}

// maxNoticeFieldLen bounds the status and step of a notice (the trigger
// sends null for longer ones).
const maxNoticeFieldLen = 64

// readNotice decodes the payload of a notification: the change it
// reports, and whether it is of this Store's schema. An error means the
// payload is not the trigger's.
func (s *Store) readNotice(payload string) (c fulfillment.RecordChange, ours bool, err error) {
	var n notice
	if err := json.Unmarshal([]byte(payload), &n); err != nil {
		return c, false, fmt.Errorf("pgstore: change feed: payload: %w", err)
	}
	if n.Schema == "" {
		return c, false, fmt.Errorf("pgstore: change feed: payload: no schema")
	}
	if n.Schema != s.schema {
		return c, false, nil
	}
	if n.User == nil {
		return c, true, fmt.Errorf("pgstore: change feed: payload: no user ID (longer than %d bytes)", fulfillment.MaxIDLen)
	}
	if err := fulfillment.CheckID("user ID", *n.User); err != nil {
		return c, true, fmt.Errorf("pgstore: change feed: payload: %w", err)
	}
	c.UserID = *n.User
	switch n.Op {
	case "DELETE":
		return c, true, nil // Version 0: the record is gone
	case "INSERT", "UPDATE":
	default:
		return c, true, fmt.Errorf("pgstore: change feed: payload: operation %.16q, want INSERT, UPDATE or DELETE", n.Op)
	}
	if n.Version <= 0 {
		return c, true, fmt.Errorf("pgstore: change feed: payload: version %d of %q, want a positive one", n.Version, c.UserID)
	}
	c.Version = n.Version
	if n.Status != nil && len(*n.Status) <= maxNoticeFieldLen {
		c.Status = fulfillment.Status(*n.Status)
	}
	if n.Step != nil && len(*n.Step) <= maxNoticeFieldLen {
		c.Step = fulfillment.Step(*n.Step)
	}
	return c, true, nil
}

var _ fulfillment.ChangeFeed = (*Store)(nil)

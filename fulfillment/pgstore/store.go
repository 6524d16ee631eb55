package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/internal/logpace"
)

// Store is a [fulfillment.Store] in a PostgreSQL database, shared by every
// Service instance that opens the same database and schema. It is safe for
// concurrent use. Create one with [Open] and Close it when done.
type Store struct {
	pool   *pgxpool.Pool
	schema string
	// records, events and documents are the schema-qualified, quoted
	// table names.
	records, events, documents string
	log                        *slog.Logger // WithLogger's
	// now is the clock that paces the change feed's warnings (time.Now;
	// tests set their own).
	now func() time.Time
	// unreadable paces the warnings of notifications the change feed
	// cannot read (see WatchChanges).
	unreadable logpace.Pacer
	// closed ends with Close: the change feeds, whose connections are
	// not the pool's, end with it (see WatchChanges).
	closed     context.Context
	closeFeeds context.CancelFunc
}

// Option configures [Open].
type Option func(*options)

type options struct {
	schema    string
	schemaSet bool // WithSchema("") is refused, not taken as the current schema
	maxConns  int32
	log       *slog.Logger
}

// WithSchema keeps the tables in the named PostgreSQL schema, created if
// it does not exist, instead of the connection's current schema (the first
// existing one on its search_path, usually "public"). Several independent
// stores may share one database in different schemas.
func WithSchema(name string) Option {
	return func(o *options) { o.schema, o.schemaSet = name, true }
}

// WithMaxConns bounds the connections the pool opens (default: the
// pool_max_conns parameter of the URL, else the larger of 4 and the number
// of CPUs).
func WithMaxConns(n int32) Option { return func(o *options) { o.maxConns = n } }

// WithLogger sets the logger of the store's change feed (default:
// discard): a notification it cannot read is logged at warning level, at
// most one a minute (see [Store.WatchChanges]). The store logs nothing
// else.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// maxSchemaLen is PostgreSQL's limit on identifiers (NAMEDATALEN-1).
const maxSchemaLen = 63

// Open connects to the PostgreSQL database at url (a postgres:// URL or a
// key=value connection string, as [pgxpool.ParseConfig] reads them),
// creates the schema and applies the migrations it has not seen, and
// returns the store. Instances opening the same schema at once apply each
// migration once. Open fails if the database cannot be reached within
// ctx, or holds a schema newer than this package knows.
//
// Errors name the host and database but never the password.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	o, migrations, pool, err := connect(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	s, err := open(ctx, pool, o.schema, migrations)
	if err != nil {
		pool.Close()
		return nil, err
	}
	if o.log != nil {
		s.log = o.log
	}
	return s, nil
}

// connect checks Open's options, loads the migrations and makes the pool
// (which connects on first use).
func connect(ctx context.Context, url string, opts []Option) (options, []migration, *pgxpool.Pool, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.schemaSet {
		if err := checkSchema(o.schema); err != nil {
			return o, nil, nil, err
		}
	}
	if o.maxConns < 0 {
		return o, nil, nil, fmt.Errorf("pgstore: WithMaxConns(%d): must not be negative", o.maxConns)
	}
	migrations, err := loadMigrations(migrationFiles)
	if err != nil {
		return o, nil, nil, err
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgconn's parse error quotes the URL with its password redacted.
		return o, nil, nil, fmt.Errorf("pgstore: %w", err)
	}
	if o.maxConns > 0 {
		cfg.MaxConns = o.maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return o, nil, nil, fmt.Errorf("pgstore: %w", err)
	}
	return o, migrations, pool, nil
}

func checkSchema(name string) error {
	switch {
	case name == "":
		return errors.New("pgstore: WithSchema: the schema name is empty")
	case len(name) > maxSchemaLen:
		return fmt.Errorf("pgstore: WithSchema: the schema name is %d bytes, longer than PostgreSQL's %d", len(name), maxSchemaLen)
	case !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl):
		return fmt.Errorf("pgstore: WithSchema: the schema name %q is not valid UTF-8 or contains a control character", name)
	case strings.HasPrefix(name, "pg_"):
		return fmt.Errorf("pgstore: WithSchema: the schema name %q begins with pg_, which PostgreSQL reserves", name)
	}
	return nil
}

// resolveSchema connects and returns the schema the store is in: schema,
// or the connection's current one if empty.
func resolveSchema(ctx context.Context, pool *pgxpool.Pool, schema string) (string, error) {
	if err := pool.Ping(ctx); err != nil {
		return "", fmt.Errorf("pgstore: connect: %w", err)
	}
	if schema != "" {
		return schema, nil
	}
	var current *string
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&current); err != nil {
		return "", fmt.Errorf("pgstore: read the current schema: %w", err)
	}
	if current == nil {
		return "", errors.New("pgstore: no schema of the connection's search_path exists; create one or use WithSchema")
	}
	return *current, nil
}

func open(ctx context.Context, pool *pgxpool.Pool, schema string, migrations []migration) (*Store, error) {
	schema, err := resolveSchema(ctx, pool, schema)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, pool, schema, migrations); err != nil {
		return nil, err
	}
	closed, closeFeeds := context.WithCancel(context.Background())
	return &Store{
		closed:     closed,
		closeFeeds: closeFeeds,
		pool:       pool,
		schema:     schema,
		records:    pgx.Identifier{schema, "records"}.Sanitize(),
		events:     pgx.Identifier{schema, "events"}.Sanitize(),
		documents:  pgx.Identifier{schema, "documents"}.Sanitize(),
		log:        slog.New(slog.DiscardHandler),
		now:        time.Now,
		unreadable: logpace.Pacer{Every: unreadableLogEvery},
	}, nil
}

// Schema returns the PostgreSQL schema that holds the store's tables.
func (s *Store) Schema() string { return s.schema }

// SchemaVersion returns the version of the store's schema: the highest
// migration recorded in its schema_migrations table (migrations are
// numbered from 1 and applied in order, so the number applied). After Open it is the
// version this package knows (Open brings an older schema up to it and
// refuses a newer one), unless another program has migrated it since.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.pool.QueryRow(ctx, `SELECT COALESCE(max(version), 0) FROM `+pgx.Identifier{s.schema, "schema_migrations"}.Sanitize()).Scan(&v); err != nil {
		return 0, fmt.Errorf("pgstore: schema %q: read schema version: %w", s.schema, err)
	}
	return v, nil
}

// Close closes the pool's connections, waiting for queries in progress,
// and ends the change feeds that listen (their WatchChanges return an
// error, as does every later call). It always returns nil; the error is
// there for [io.Closer].
func (s *Store) Close() error {
	s.closeFeeds()
	s.pool.Close()
	return nil
}

// Get implements [fulfillment.Store].
func (s *Store) Get(ctx context.Context, userID string) (fulfillment.Record, error) {
	if err := fulfillment.CheckID("user ID", userID); err != nil {
		return fulfillment.Record{}, fmt.Errorf("pgstore: %w", err)
	}
	var data string
	var version int64
	err := s.pool.QueryRow(ctx, `SELECT data::text, version FROM `+s.records+` WHERE user_id = $1`, userID).Scan(&data, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return fulfillment.Record{}, fmt.Errorf("pgstore: %w %q", fulfillment.ErrRecordNotFound, userID)
	}
	if err != nil {
		return fulfillment.Record{}, fmt.Errorf("pgstore: get %q: %w", userID, err)
	}
	return decodeRecord(userID, data, version)
}

func decodeRecord(userID, data string, version int64) (fulfillment.Record, error) {
	var r fulfillment.Record
	if err := json.Unmarshal([]byte(data), &r); err != nil {
		return fulfillment.Record{}, fmt.Errorf("pgstore: record of %q is corrupt: %w", userID, err)
	}
	if r.UserID != userID {
		return fulfillment.Record{}, fmt.Errorf("pgstore: record of %q is corrupt: it names user %q", userID, r.UserID)
	}
	r.Version = version
	return r, nil
}

// Put implements [fulfillment.Store]. The compare-and-swap is one
// statement: an INSERT … ON CONFLICT DO NOTHING for version 0, else an
// UPDATE … WHERE version = $n, which PostgreSQL runs under the row's lock
// and re-checks against the newest row version when another transaction
// updated it first; a Put that changed no row lost the race.
func (s *Store) Put(ctx context.Context, r fulfillment.Record) (fulfillment.Record, error) {
	if err := fulfillment.CheckRecord(r); err != nil {
		return fulfillment.Record{}, fmt.Errorf("pgstore: %w", err)
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fulfillment.Record{}, fmt.Errorf("pgstore: encode record of %q: %w", r.UserID, err)
	}
	var leaseUntil *time.Time
	if !r.Lease.Until.IsZero() {
		leaseUntil = &r.Lease.Until
	}
	args := []any{r.UserID, string(r.Status), string(r.Step), len(r.History), r.Lease.Owner, leaseUntil, r.UpdatedAt, string(data), dueColumn(r)}
	var query string
	if r.Version == 0 {
		query = `INSERT INTO ` + s.records + ` (user_id, status, step, version, history_len, lease_owner, lease_until, updated_at, data, due)
			VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $8::text::json, $9) ON CONFLICT (user_id) DO NOTHING`
	} else {
		query = `UPDATE ` + s.records + ` SET status = $2, step = $3, version = version + 1, history_len = $4,
			lease_owner = $5, lease_until = $6, updated_at = $7, data = $8::text::json, due = $9
			WHERE user_id = $1 AND version = $10 AND history_len <= $4`
		args = append(args, r.Version)
	}
	tag, err := s.pool.Exec(ctx, query, args...)
	if err != nil {
		return fulfillment.Record{}, fmt.Errorf("pgstore: put %q: %w", r.UserID, err)
	}
	if tag.RowsAffected() == 0 {
		return fulfillment.Record{}, s.whyNotPut(ctx, r)
	}
	// The stored document, decoded: a copy that shares nothing with r.
	return decodeRecord(r.UserID, string(data), r.Version+1)
}

// whyNotPut explains a Put that changed no row.
func (s *Store) whyNotPut(ctx context.Context, r fulfillment.Record) error {
	var version int64
	var historyLen int
	err := s.pool.QueryRow(ctx, `SELECT version, history_len FROM `+s.records+` WHERE user_id = $1`, r.UserID).Scan(&version, &historyLen)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		err = fulfillment.CheckPut(r, nil)
	case err != nil:
		return fmt.Errorf("pgstore: %w: record of %q changed (%v)", fulfillment.ErrVersionConflict, r.UserID, err)
	default:
		err = fulfillment.CheckPut(r, &fulfillment.Record{Version: version, History: make([]fulfillment.Change, historyLen)})
	}
	if err == nil {
		// The row changed between the write and this read.
		err = fmt.Errorf("%w: record of %q changed concurrently", fulfillment.ErrVersionConflict, r.UserID)
	}
	return fmt.Errorf("pgstore: %w", err)
}

// List implements [fulfillment.Store].
func (s *Store) List(ctx context.Context, q fulfillment.Query) ([]fulfillment.Record, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if q.After != "" {
		where = append(where, "user_id > "+arg(q.After))
	}
	if q.InFlight {
		where = append(where, "status = ANY("+arg(inFlightStatuses())+")")
	}
	if len(q.Statuses) > 0 {
		statuses := make([]string, len(q.Statuses))
		for i, st := range q.Statuses {
			statuses[i] = string(st)
		}
		where = append(where, "status = ANY("+arg(statuses)+")")
	}
	query := `SELECT user_id, data::text, version FROM ` + s.records
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY user_id"
	if q.Limit > 0 {
		query += " LIMIT " + arg(q.Limit)
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list: %w", err)
	}
	return scanRecords(rows, "list")
}

// inFlightStatuses are the statuses [fulfillment.Query.InFlight] selects.
func inFlightStatuses() []string {
	var out []string
	for _, st := range fulfillment.Statuses() {
		if st.InFlight() {
			out = append(out, string(st))
		}
	}
	return out
}

// scanRecords decodes the rows (user_id, data, version) of a query and
// closes them; what names the query in errors.
func scanRecords(rows pgx.Rows, what string) ([]fulfillment.Record, error) {
	defer rows.Close()
	var out []fulfillment.Record
	for rows.Next() {
		var userID, data string
		var version int64
		if err := rows.Scan(&userID, &data, &version); err != nil {
			return nil, fmt.Errorf("pgstore: %s: %w", what, err)
		}
		r, err := decodeRecord(userID, data, version)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: %s: %w", what, err)
	}
	return out, nil
}

// dueColumn is the value of r's due column: [fulfillment.DueKey] of
// [fulfillment.Record.DueAt], or NULL if Sync never acts on r.
func dueColumn(r fulfillment.Record) *int64 {
	at, ok := r.DueAt()
	if !ok {
		return nil
	}
	k := fulfillment.DueKey(at)
	return &k
}

// ListDue implements [fulfillment.DueLister]: a range of the due index
// (records_due), no record that is not due read.
func (s *Store) ListDue(ctx context.Context, q fulfillment.DueQuery) ([]fulfillment.Record, error) {
	var limit *int // NULL: no limit
	if q.Limit > 0 {
		limit = &q.Limit
	}
	// Planned with each call's values (an unnamed statement): the right
	// plan depends on how many are due (an empty range of records_due when
	// none is, a walk of the primary key when many are), and PostgreSQL
	// may move a cached statement to a generic plan made without them.
	rows, err := s.pool.Query(ctx, `SELECT user_id, data::text, version FROM `+s.records+`
		WHERE due <= $1 AND user_id > $2 ORDER BY user_id LIMIT $3`,
		pgx.QueryExecModeExec, fulfillment.DueKey(q.Now), q.After, limit)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list due: %w", err)
	}
	return scanRecords(rows, "list due")
}

// CountNotDue implements [fulfillment.DueLister]: a count over the due
// index.
func (s *Store) CountNotDue(ctx context.Context, now time.Time) (int, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+s.records+` WHERE due > $1`, fulfillment.DueKey(now)).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgstore: count not due: %w", err)
	}
	return int(n), nil
}

// CountByStatus implements [fulfillment.StatusCounter]: one scan of the
// status index, no record decoded.
func (s *Store) CountByStatus(ctx context.Context) (map[fulfillment.Status]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT status, COUNT(*) FROM `+s.records+` GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("pgstore: count by status: %w", err)
	}
	defer rows.Close()
	counts := map[fulfillment.Status]int{}
	for rows.Next() {
		var status string
		var n int64
		if err := rows.Scan(&status, &n); err != nil {
			return nil, fmt.Errorf("pgstore: count by status: %w", err)
		}
		if !fulfillment.Status(status).Valid() {
			return nil, fmt.Errorf("pgstore: count by status: unknown status %.64q", status)
		}
		counts[fulfillment.Status(status)] = int(n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: count by status: %w", err)
	}
	return counts, nil
}

// MarkEvent implements [fulfillment.Store]. The events table's primary key
// decides: of several instances marking one event at once, exactly one
// inserts the row and is told first.
func (s *Store) MarkEvent(ctx context.Context, eventID string, at time.Time) (bool, error) {
	if err := fulfillment.CheckID("event ID", eventID); err != nil {
		return false, fmt.Errorf("pgstore: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO `+s.events+` (event_id, seen_at) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING`,
		eventID, at)
	if err != nil {
		return false, fmt.Errorf("pgstore: mark event %q: %w", eventID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// EventMarked implements [fulfillment.EventChecker].
func (s *Store) EventMarked(ctx context.Context, eventID string) (bool, error) {
	if err := fulfillment.CheckID("event ID", eventID); err != nil {
		return false, fmt.Errorf("pgstore: %w", err)
	}
	var marked bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+s.events+` WHERE event_id = $1)`, eventID).Scan(&marked); err != nil {
		return false, fmt.Errorf("pgstore: event %q marked: %w", eventID, err)
	}
	return marked, nil
}

var (
	_ fulfillment.Store         = (*Store)(nil)
	_ fulfillment.StatusCounter = (*Store)(nil)
	_ fulfillment.DueLister     = (*Store)(nil)
	_ fulfillment.DocumentStore = (*Store)(nil)
	_ fulfillment.EventChecker  = (*Store)(nil)
)

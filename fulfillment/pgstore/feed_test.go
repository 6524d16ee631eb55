package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/internal/pgtest"
	"github.com/preenroll/preenroll/internal/syncio"
)

// feedLog is what a WatchChanges call reported, and its end.
type feedLog struct {
	t       *testing.T
	changes chan fulfillment.RecordChange
	done    chan error
}

// watch runs s.WatchChanges until ctx ends and waits until it listens.
func watch(t *testing.T, ctx context.Context, s *Store) *feedLog {
	t.Helper()
	l := &feedLog{t: t, changes: make(chan fulfillment.RecordChange, 64), done: make(chan error, 1)}
	go func() {
		l.done <- s.WatchChanges(ctx, func(c fulfillment.RecordChange) {
			select {
			case l.changes <- c:
			case <-ctx.Done():
			}
		})
	}()
	if c := l.next(); c != (fulfillment.RecordChange{Resync: true}) {
		t.Fatalf("first change %+v, want the Resync of a feed that listens", c)
	}
	return l
}

func (l *feedLog) next() fulfillment.RecordChange {
	l.t.Helper()
	wait, cancel := context.WithTimeout(l.t.Context(), 30*time.Second) // bounds a feed that broke
	defer cancel()
	select {
	case c := <-l.changes:
		return c
	case err := <-l.done:
		l.t.Fatalf("the feed ended (%v) before the change came", err)
	case <-wait.Done():
		l.t.Fatal("no change within 30 s")
	}
	return fulfillment.RecordChange{}
}

// ended waits for WatchChanges to return and returns its error.
func (l *feedLog) ended() error {
	l.t.Helper()
	select {
	case err := <-l.done:
		return err
	case <-time.After(30 * time.Second): // bounds a feed that does not end
		l.t.Fatal("WatchChanges did not return")
	}
	return nil
}

// TestChangeFeedAcrossStores: the feed of one Store reports what another
// Store (its own pool: another instance) writes to the same schema, and
// nothing written to another schema of the database; a row deleted with
// SQL is reported with version 0; a record with a 100 kB login and a
// reason holding NUL is put (the trigger reads no record) and reported;
// a row whose user ID and status are too long for the payload, written
// with SQL, is reported as a Resync, as is a notification that is not the
// trigger's; the first of the two is logged (the second comes in the same
// minute of the store's clock: see TestChangeFeedPacesUnreadable). It has
// a database of its own: its junk notification would reach every feed of
// the tests beside it, and theirs its feed.
func TestChangeFeedAcrossStores(t *testing.T) {
	t.Parallel()
	url, schema := pgtest.Database(t, "pgstore_feed"), freshSchema(t)
	ctx := t.Context()
	var logs syncio.Buffer
	a := openStore(t, url, WithSchema(schema), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	a.now = func() time.Time { return time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC) } // paces its log
	b := openStore(t, url, WithSchema(schema))
	other := openStore(t, url, WithSchema(freshSchema(t)))
	feedCtx, stop := context.WithCancel(ctx)
	defer stop()
	feed := watch(t, feedCtx, a)

	for _, s := range []*Store{other, b} { // other's first: its change must not come
		if _, err := s.Put(ctx, fulfillment.Record{UserID: "00u1", Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepInitiating}); err != nil {
			t.Fatal(err)
		}
	}
	long := fulfillment.Record{UserID: "00ulong", Login: strings.Repeat("l", 100_000) + "@example.com", Status: fulfillment.FulfillmentErrored,
		Step: fulfillment.StepErrored, Reason: "a NUL \x00 in a reason", History: []fulfillment.Change{{Step: fulfillment.StepErrored, Reason: "\x00"}}}
	if _, err := b.Put(ctx, long); err != nil {
		t.Fatalf("Put of a record with a 100 kB login: %v", err)
	}
	if _, err := b.pool.Exec(ctx, `DELETE FROM `+b.records+` WHERE user_id = '00u1'`); err != nil {
		t.Fatal(err)
	}
	if _, err := b.pool.Exec(ctx, `INSERT INTO `+b.records+` (user_id, status, step, version, history_len, updated_at, data)
		VALUES ($1, $2, 'x', 1, 0, now(), '{}')`, strings.Repeat("u", 300), strings.Repeat("s", 100)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.pool.Exec(ctx, `SELECT pg_notify($1, 'not json')`, notifyChannel); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(ctx, fulfillment.Record{UserID: "00u2", Status: fulfillment.Shipped, Step: fulfillment.StepPINSent}); err != nil {
		t.Fatal(err)
	}
	var got []fulfillment.RecordChange
	for len(got) < 6 {
		got = append(got, feed.next())
	}
	want := []fulfillment.RecordChange{
		{UserID: "00u1", Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepInitiating, Version: 1},
		{UserID: "00ulong", Status: fulfillment.FulfillmentErrored, Step: fulfillment.StepErrored, Version: 1},
		{UserID: "00u1"}, // deleted
		{Resync: true},   // too long to name
		{Resync: true},   // not the trigger's
		{UserID: "00u2", Status: fulfillment.Shipped, Step: fulfillment.StepPINSent, Version: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the changes of the schema (-want +got):\n%s", diff)
	}
	if n := strings.Count(logs.String(), "unreadable notification"); n != 1 {
		t.Errorf("%d unreadable notifications logged, want 1 (the second within the minute is paced):\n%s", n, logs.String())
	}
	stop()
	if err := feed.ended(); err != nil {
		t.Errorf("WatchChanges after its context ended = %v, want nil", err)
	}
}

// TestChangeFeedBreaks: a feed whose connection the server ends returns
// an error (the caller listens again), and holds no connection of the
// pool meanwhile.
func TestChangeFeedBreaks(t *testing.T) {
	t.Parallel()
	url, schema := serverURL(t), freshSchema(t)
	ctx := t.Context()
	s := openStore(t, url, WithSchema(schema), WithMaxConns(1))
	feed := watch(t, ctx, s)
	// The pool's only connection is free: the feed has its own.
	if _, err := s.Put(ctx, fulfillment.Record{UserID: "00u1", Status: fulfillment.FulfillmentStarted}); err != nil {
		t.Fatal(err)
	}
	if c := feed.next(); c.UserID != "00u1" {
		t.Fatalf("change %+v, want 00u1's", c)
	}
	var ended bool
	if err := s.pool.QueryRow(ctx, `SELECT bool_or(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`,
		feedApplicationName+schema).Scan(&ended); err != nil || !ended {
		t.Fatalf("terminate the feed's connection: %v, %v", ended, err)
	}
	err := feed.ended()
	if err == nil || !strings.HasPrefix(err.Error(), "pgstore: change feed: ") || errors.Is(err, context.Canceled) {
		t.Errorf("WatchChanges after its connection ended = %v, want a pgstore: change feed error", err)
	}
}

// TestChangeFeedEndsWithClose: Close ends the feeds that listen (their
// connections are not the pool's, which Close closes; WatchChanges
// closes its own as it returns) with an error, and a WatchChanges after
// Close fails at once: a Service that still has subscribers would
// otherwise keep a connection to the server, and open a new one after
// each break, for as long as it runs.
func TestChangeFeedEndsWithClose(t *testing.T) {
	t.Parallel()
	url, schema := serverURL(t), freshSchema(t)
	ctx := t.Context()
	s, err := Open(ctx, url, WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	feed := watch(t, ctx, s)
	s.Close()
	if err := feed.ended(); err == nil || !strings.HasPrefix(err.Error(), "pgstore: change feed: ") {
		t.Errorf("WatchChanges when the store closed = %v, want a pgstore: change feed error", err)
	}
	err = s.WatchChanges(ctx, func(c fulfillment.RecordChange) { t.Errorf("WatchChanges after Close reported %+v", c) })
	if err == nil || !strings.HasPrefix(err.Error(), "pgstore: change feed: ") {
		t.Errorf("WatchChanges after Close = %v, want a pgstore: change feed error", err)
	}
}

// TestReadNotice: the payloads of notifications, read or refused.
func TestReadNotice(t *testing.T) {
	s := &Store{schema: "tenant"}
	for _, tc := range []struct {
		name    string
		payload string
		want    fulfillment.RecordChange
		ours    bool
		err     string
	}{
		{"insert", `{"schema":"tenant","op":"INSERT","user":"00u1","version":1,"status":"FULFILLMENT_STARTED","step":"initiating"}`,
			fulfillment.RecordChange{UserID: "00u1", Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepInitiating, Version: 1}, true, ""},
		{"update, fields unknown", `{"schema":"tenant","op":"UPDATE","user":"00u1","version":7,"status":"SHIPPED","step":"pin-sent","more":1}`,
			fulfillment.RecordChange{UserID: "00u1", Status: fulfillment.Shipped, Step: fulfillment.StepPINSent, Version: 7}, true, ""},
		{"delete", `{"schema":"tenant","op":"DELETE","user":"00u1","version":7,"status":"SHIPPED","step":"pin-sent"}`,
			fulfillment.RecordChange{UserID: "00u1"}, true, ""},
		{"status and step too long", `{"schema":"tenant","op":"UPDATE","user":"00u1","version":2,"status":null,"step":"` + strings.Repeat("s", 65) + `"}`,
			fulfillment.RecordChange{UserID: "00u1", Version: 2}, true, ""},
		{"another schema", `{"schema":"other","op":"INSERT","user":"00u1","version":1}`, fulfillment.RecordChange{}, false, ""},
		{"not JSON", `not json`, fulfillment.RecordChange{}, false, "payload: invalid character"},
		{"a JSON string", `"x"`, fulfillment.RecordChange{}, false, "payload: json: cannot unmarshal"},
		{"no schema", `{"op":"INSERT","user":"00u1","version":1}`, fulfillment.RecordChange{}, false, "no schema"},
		{"user too long", `{"schema":"tenant","op":"INSERT","user":null,"version":1}`, fulfillment.RecordChange{}, true, "no user ID"},
		{"user not valid", `{"schema":"tenant","op":"INSERT","user":"00u\u0001","version":1}`, fulfillment.RecordChange{}, true, "user ID"},
		{"operation unknown", `{"schema":"tenant","op":"TRUNCATE","user":"00u1","version":1}`, fulfillment.RecordChange{UserID: "00u1"}, true, "operation"},
		{"version zero", `{"schema":"tenant","op":"UPDATE","user":"00u1","version":0}`, fulfillment.RecordChange{UserID: "00u1"}, true, "version 0"},
		{"version not a number", `{"schema":"tenant","op":"UPDATE","user":"00u1","version":"1"}`, fulfillment.RecordChange{}, false, "payload: json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ours, err := s.readNotice(tc.payload)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("readNotice error = %v, want one containing %q", err, tc.err)
			}
			if tc.err != "" {
				return // the caller reports a Resync whatever came back
			}
			if ours != tc.ours {
				t.Errorf("ours = %v, want %v", ours, tc.ours)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("change (-want +got):\n%s", diff)
			}
		})
	}
}

// TestChangeFeedMigration: a schema at version 3 with a record, migrated
// by this version, keeps its record and reports the changes made after.
func TestChangeFeedMigration(t *testing.T) {
	t.Parallel()
	url, schema := serverURL(t), freshSchema(t)
	ctx := t.Context()
	migrations, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	if got := migrations[3].name; got != "0004_notify.sql" {
		t.Fatalf("migration 4 is %q, want 0004_notify.sql", got)
	}
	old := openStore(t, url, WithSchema(schema))
	if _, err := old.pool.Exec(ctx, `DROP TRIGGER records_notify_insert ON `+old.records+`;
		DROP TRIGGER records_notify_update ON `+old.records+`; DROP TRIGGER records_notify_delete ON `+old.records+`;
		DROP FUNCTION `+pgx.Identifier{schema, "records_notify"}.Sanitize()+`();
		DELETE FROM `+pgx.Identifier{schema, "schema_migrations"}.Sanitize()+` WHERE version = 4`); err != nil {
		t.Fatal(err)
	}
	r, err := old.Put(ctx, fulfillment.Record{UserID: "00u1", Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepInitiated})
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t, url, WithSchema(schema)) // migrates to 4
	feed := watch(t, ctx, s)
	r.Step = fulfillment.StepEnrolling
	if r, err = s.Put(ctx, r); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fulfillment.RecordChange{UserID: "00u1", Status: fulfillment.FulfillmentStarted, Step: fulfillment.StepEnrolling, Version: 2},
		feed.next()); diff != "" {
		t.Errorf("the change after the migration (-want +got):\n%s", diff)
	}
}

// testClock is a clock the test sets.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// TestChangeFeedPacesUnreadable: anybody who can connect to the database
// can NOTIFY the channel; a flood of notifications the feed cannot read
// is each reported as a Resync but logged at most once a minute (by the
// store's clock): the first at once, then one a minute after it counting
// those not logged in between. It has a database of its own (see
// TestChangeFeedAcrossStores).
func TestChangeFeedPacesUnreadable(t *testing.T) {
	t.Parallel()
	url, schema := pgtest.Database(t, "pgstore_feed"), freshSchema(t)
	ctx := t.Context()
	var logs syncio.Buffer
	a := openStore(t, url, WithSchema(schema), WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	clock := &testClock{now: t0}
	a.now = clock.Now
	feed := watch(t, ctx, a)
	for _, at := range []time.Duration{0, time.Second, 59 * time.Second, time.Minute, time.Minute + time.Second} {
		clock.Set(t0.Add(at))
		if _, err := a.pool.Exec(ctx, `SELECT pg_notify($1, 'junk')`, notifyChannel); err != nil {
			t.Fatal(err)
		}
		if c := feed.next(); c != (fulfillment.RecordChange{Resync: true}) {
			t.Fatalf("change %+v for junk at %v, want a Resync", c, at)
		}
	}
	type line struct {
		Level, Msg     string
		UnloggedBefore int `json:"unlogged_before"`
	}
	var got []line
	for l := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var rec line
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		got = append(got, rec)
	}
	msg := "pgstore: change feed: unreadable notification, reported as a resync (at most one logged a minute)"
	want := []line{{Level: "WARN", Msg: msg}, {Level: "WARN", Msg: msg, UnloggedBefore: 2}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the log of five unreadable notifications in 61 s (-want +got):\n%s", diff)
	}
}

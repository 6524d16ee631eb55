// Package pgstore is a [fulfillment.Store] in PostgreSQL, so that several
// [fulfillment.Service] instances on different machines share their
// records: behind a load balancer, or a second instance ready to take over
// when the first dies. SQLite ([fulfillment.OpenSQLite]) remains the
// embedded store for one machine; this package keeps the PostgreSQL driver
// (github.com/jackc/pgx/v5) out of package fulfillment.
//
// # What the database enforces
//
// Nothing here relies on locks inside one process; two Stores opened on the
// same database by two processes behave as one:
//
//   - Put is a compare-and-swap on the record's version, one statement
//     (UPDATE … WHERE version = $n, or INSERT … ON CONFLICT DO NOTHING for a
//     new record). Of several writers of one version exactly one wins; the
//     others get an error matching [fulfillment.ErrVersionConflict].
//   - Leases ([fulfillment.Lease]) are taken, renewed and released by Put,
//     so claiming an expired lease is the same compare-and-swap: two
//     instances that both see it expired cannot both claim it. The store
//     does not read a clock; the Service compares Lease.Until with its own.
//   - MarkEvent inserts into a table whose primary key is the event ID:
//     of several instances receiving one Okta event, one is told first.
//   - The store is a [fulfillment.DocumentStore]: documents are rows of the
//     documents table (primary key collection and ID, data as bytea,
//     Created as Unix nanoseconds and its offset from UTC). PutDocument is
//     a compare-and-swap on the document's version in one statement, as
//     Put is (INSERT … ON CONFLICT DO NOTHING for version 0, else UPDATE …
//     WHERE version = $n); a loser's error matches
//     [fulfillment.ErrVersionConflict] and names the stored version.
//     ListDocuments reads an index on (collection, created DESC, id DESC);
//     DeleteDocuments is one DELETE of the documents created before a time.
//   - The schema is created and migrated by versioned SQL files embedded in
//     the binary (migrations/NNNN_name.sql), each recorded in the
//     schema_migrations table. Open applies them inside a transaction that
//     holds a transaction-scoped advisory lock on the schema's name, so
//     instances starting together apply each migration once. A migration
//     that needs Go to fill in existing rows runs it in the same
//     transaction (0002's due column is filled in from each record's
//     [fulfillment.Record.DueAt]); 0003 adds the documents table.
//     [Inspect] reads the schema's version against the binary's, and the
//     role's privileges, in a read-only transaction without the lock: a
//     preflight check that migrates nothing under running instances.
//
// The store also counts its records by status
// ([fulfillment.StatusCounter]) and keeps a due index
// ([fulfillment.DueLister]): a column with each record's due time, indexed,
// so that a Sync pass reads only the records due.
//
// # Change feed
//
// The store is a [fulfillment.ChangeFeed] ([Store.WatchChanges]), with
// which a Service's subscribers (the console's live pages) see what the
// other instances store. Migration 0004 puts triggers on the records
// table that call pg_notify on the channel preenroll_records, when the
// write's transaction commits, for every insert, every update that adds
// a history entry or changes the status or step, and every delete (a
// Sync pass's claims and leases notify nobody: the update trigger's WHEN
// clause skips them without calling the function). The payload is small
// JSON built from the row's columns, never from the record (schema,
// operation, user ID, version, status, step; a value too long is sent as
// null), so it stays far below PostgreSQL's 8000-byte limit. A write
// fails for its notification only when the server's notification queue
// is full (8 GB in PostgreSQL 15: "too many notifications in the NOTIFY
// queue"), which a listening connection that stops reading causes;
// pg_notification_queue_usage() tells how full it is. The channel is shared by the schemas
// of a database; a listener keeps its own schema's notifications. A feed
// listens on a connection of its own, outside the pool: one more server
// connection per Service with subscribers (Service.Run and RunWith
// subscribe while they run; one feed serves every subscriber of a
// Service). Notifications are not stored:
// those sent while a feed is not connected are lost, which the Service
// tells its subscribers with a Resync. A notifying commit takes
// PostgreSQL's notification queue lock, so the commits of the writes
// that notify are serialized across the database (see BenchmarkPut).
//
// LISTEN needs a session of its own on the server: the feed's connection
// must reach PostgreSQL directly or through a pooler in session mode.
// Through a pooler in transaction mode (PgBouncer's pool_mode =
// transaction) LISTEN succeeds but its notifications never arrive, and
// nothing tells: the live pages then show this instance's changes only,
// and orders of an order-only instance wait for the next Sync interval.
//
// User IDs and document IDs sort by their bytes (the columns use COLLATE
// "C"), as in the other stores, whatever the database's locale. Every error begins with
// "pgstore:" and wraps the fulfillment sentinel it means; no error carries
// the connection's password.
//
// # Testing
//
// The tests run the suite every Store in this module passes,
// [github.com/preenroll/preenroll/fulfillment/fulfillmenttest.RunStoreConformance],
// against a real server named by the environment variable
// PREENROLL_POSTGRES_URL, each test in a schema of its own. Without it they
// skip (and fail when CI=true). Start a throwaway cluster with
//
//	eval "$(bash .ci/postgres.sh start)"
//	go test ./fulfillment/pgstore/
//	bash .ci/postgres.sh stop "$PREENROLL_PG_DIR"
package pgstore

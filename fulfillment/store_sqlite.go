package fulfillment

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// SQLiteStore is a [Store] in an SQLite database file, through the pure-Go
// driver modernc.org/sqlite (no cgo). The database runs in WAL mode with a
// busy timeout, so several goroutines (and several processes on the same
// machine) may use it at once; Put is an atomic compare-and-swap on the
// record's version. Each record is one row: its status, step and version in
// columns, the rest as a JSON document. Create one with [OpenSQLite] and
// Close it when done.
//
// Every write is committed durably (synchronous=FULL) except a Put that adds
// no history entry: see [OpenSQLite]. It is a [DocumentStore] too: each
// document is a row of a table of its own, every write of one durable.
type SQLiteStore struct {
	db   *sql.DB // synchronous=FULL: every write but bookkeeping
	lazy *sql.DB // synchronous=NORMAL: Puts that add no history entry
	path string

	mu    sync.Mutex
	stmts map[stmtKey]*sql.Stmt // prepared once per handle and query text (see stmt)

	seen    seenLens       // history lengths of records as last read or written: Put's first guess
	decoded decodedRecords // records as last read, with their JSON: a read of the same JSON decodes nothing

	link func(oldname, newname string) error // Backup's os.Link; a test plays a file system without hard links
}

// seenLens remembers, for records this store recently returned, the
// version and history length it returned them with. Put uses it only to
// choose which of its two UPDATEs to try first (a wrong guess costs the
// other one, which the condition in SQL makes safe), so it may be stale
// or forget at any time: it is cleared when it holds maxSeenLens records,
// which keeps it small however many records a Sync pass reads.
type seenLens struct {
	mu sync.Mutex
	m  map[string]seenLen
}

// seenLen is a record's version and history length as the store returned it.
type seenLen struct {
	version    int64
	historyLen int
}

// maxSeenLens bounds seenLens: a Sync pass Puts each record soon after
// reading it, one page at a time, so the guess needs only the recent ones.
const maxSeenLens = 8192

// note remembers the records as the store returns them.
func (l *seenLens) note(recs ...Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range recs {
		if l.m == nil || len(l.m) >= maxSeenLens {
			l.m = make(map[string]seenLen)
		}
		l.m[r.UserID] = seenLen{r.Version, len(r.History)}
	}
}

// bookkeeping reports whether r, as Put is given it, adds no history entry
// to the record this store last returned at r's version.
func (l *seenLens) bookkeeping(r Record) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.m[r.UserID]
	return ok && v.version == r.Version && v.historyLen == len(r.History)
}

// decodedRecords remembers, for the records this store recently read,
// the JSON document of each as it is stored (the row's data column) and
// the record decoded from it, so that reading the same document again
// costs a comparison and a copy rather than a decode: a Sync pass Gets
// each record ListDue has just returned, and a console or a status check
// reads again what a listing read. Only a document equal to the
// remembered one byte for byte is taken from it, so it never returns
// other than what the document read decodes to, whatever another process
// wrote meanwhile. Put does not remember what it writes: the record it is
// given need not be what its JSON decodes to (its times' locations and
// monotonic clock readings, for one). It is cleared when it holds
// maxDecoded records, which bounds its memory (a few kilobytes a record:
// its JSON and its decoded copy).
type decodedRecords struct {
	mu sync.Mutex
	m  map[string]decodedRecord
}

// decodedRecord is a record's JSON document as stored and the record
// decoded from it (its Version zero: each read sets the version it read).
// The record is never handed out, only copies of it ([Record.clone]).
type decodedRecord struct {
	data string
	rec  Record
}

// maxDecoded bounds decodedRecords: two of a Sync pass's pages (syncPage).
const maxDecoded = 2 * syncPage

// decode returns the record of userID stored as data at version, as
// decodeRecord does, without decoding data if it is the document last
// remembered for userID.
func (d *decodedRecords) decode(userID, data string, version int64) (Record, error) {
	d.mu.Lock()
	e, ok := d.m[userID]
	d.mu.Unlock()
	if ok && e.data == data {
		r := e.rec.clone()
		r.Version = version
		return r, nil
	}
	r, err := decodeRecord(userID, data, version)
	if err != nil {
		return Record{}, err
	}
	d.remember(data, r.clone())
	return r, nil
}

// remember keeps r, which the caller no longer uses, as the record the
// document data decodes to.
func (d *decodedRecords) remember(data string, r Record) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil || len(d.m) >= maxDecoded {
		d.m = make(map[string]decodedRecord)
	}
	r.Version = 0
	d.m[r.UserID] = decodedRecord{data, r}
}

// forget drops what d remembers of userID's record: a Put replaced its
// document, so the old one (its PIN request and shipping details among
// it) is not kept until the next read.
func (d *decodedRecords) forget(userID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.m, userID)
}

// stmtKey names a prepared statement: its query text on one of the two
// handles.
type stmtKey struct {
	db    *sql.DB
	query string
}

// sqliteMigrations are applied in order, each once, recorded in the
// migrations table. Never edit one that has shipped; append a new one.
var sqliteMigrations = []string{
	// 1: records and handled events.
	`CREATE TABLE records (
		user_id     TEXT PRIMARY KEY,
		status      TEXT NOT NULL,
		step        TEXT NOT NULL,
		version     INTEGER NOT NULL,
		history_len INTEGER NOT NULL,
		updated_at  TEXT NOT NULL,
		data        TEXT NOT NULL
	) WITHOUT ROWID;
	CREATE INDEX records_status ON records(status, user_id);
	CREATE TABLE events (
		event_id TEXT PRIMARY KEY,
		seen_at  TEXT NOT NULL
	) WITHOUT ROWID;`,
	// 2: the due index: DueKey of Record.DueAt (NULL: Sync never acts on
	// the record), an integer because RFC 3339 text is not fixed-width and
	// does not sort as the times do. Filled in for existing rows by
	// sqliteBackfills[2].
	`ALTER TABLE records ADD COLUMN due INTEGER;
	CREATE INDEX records_due ON records(due, user_id) WHERE due IS NOT NULL;`,
	// 3: documents (DocumentStore). created is Document.Created in Unix
	// nanoseconds (it orders the listing and selects what DeleteDocuments
	// deletes), created_offset its offset from UTC in seconds, so that
	// Created comes back at the offset it was put with, as a record's
	// times do. A rowid table, not WITHOUT ROWID: a document may be
	// megabytes.
	`CREATE TABLE documents (
		collection     TEXT NOT NULL,
		id             TEXT NOT NULL,
		created        INTEGER NOT NULL,
		created_offset INTEGER NOT NULL,
		version        INTEGER NOT NULL,
		data           BLOB NOT NULL,
		PRIMARY KEY (collection, id)
	);
	CREATE INDEX documents_created ON documents(collection, created DESC, id DESC);`,
	// 4: records in a rowid table, the rest as in 1 and 2. A WITHOUT ROWID
	// table keeps at most about a quarter of a page of a row in its b-tree
	// (1,002 of 4,096 bytes) and the rest in overflow pages, and SQLite
	// advises it only for rows under about a twentieth of a page
	// (https://www.sqlite.org/withoutrowid.html, section 4); a record is
	// 0.6 to 4 KB of JSON. Every UPDATE freed the row's overflow pages and
	// took new ones (each a page in the log, with the freelist's and page
	// 1), and every read after another connection's write read them
	// again. A rowid table keeps up to 4,061 bytes of a row in its leaf
	// (https://www.sqlite.org/fileformat2.html, "Cell Payload Overflow
	// Pages"): with the row's header, key and other columns, a record of
	// up to about 3.9 KB of JSON (a larger one still spills, as before);
	// user_id stays the key, through the PRIMARY KEY's index.
	`CREATE TABLE records_rowid (
		user_id     TEXT PRIMARY KEY NOT NULL,
		status      TEXT NOT NULL,
		step        TEXT NOT NULL,
		version     INTEGER NOT NULL,
		history_len INTEGER NOT NULL,
		updated_at  TEXT NOT NULL,
		data        TEXT NOT NULL,
		due         INTEGER
	);
	INSERT INTO records_rowid(user_id, status, step, version, history_len, updated_at, data, due)
		SELECT user_id, status, step, version, history_len, updated_at, data, due FROM records ORDER BY user_id;
	DROP TABLE records;
	ALTER TABLE records_rowid RENAME TO records;
	CREATE INDEX records_status ON records(status, user_id);
	CREATE INDEX records_due ON records(due, user_id) WHERE due IS NOT NULL;`,
}

// sqliteBackfills[v] runs in migration v's transaction after its SQL, for
// a change SQL alone cannot make right.
var sqliteBackfills = map[int]func(ctx context.Context, tx *sql.Tx) error{
	2: backfillDue,
}

// backfillDue sets the due column of every record in flight from its
// record, with the one definition of due-ness ([Record.DueAt]) rather than
// a copy of it in SQL. The records not in flight keep NULL: not due.
func backfillDue(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT user_id, data, version FROM records WHERE status IN (?, ?, ?)`,
		string(FulfillmentStarted), string(FulfillmentErrored), string(Shipped))
	if err != nil {
		return err
	}
	recs, err := scanRecords(rows, "read records", decodeRecord) // all first: the rows hold the connection
	if err != nil {
		return err
	}
	for _, r := range recs {
		if _, err := tx.ExecContext(ctx, `UPDATE records SET due = ? WHERE user_id = ?`, dueColumn(r), r.UserID); err != nil {
			return fmt.Errorf("record of %q: %w", r.UserID, err)
		}
	}
	return nil
}

// dueColumn is the value of r's due column: DueKey of [Record.DueAt], or
// NULL if Sync never acts on r.
func dueColumn(r Record) sql.NullInt64 {
	at, ok := r.DueAt()
	if !ok {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: DueKey(at), Valid: true}
}

// sqliteBusyTimeout is how long a statement waits for another writer.
const sqliteBusyTimeout = 10 * time.Second

// OpenSQLite opens (creating if needed) the SQLite database at path and
// brings its schema up to date. path is a file name; it must not contain
// '?'. The database is put in WAL journal mode with a busy timeout of 10 s
// and synchronous=FULL, so that a committed Put survives a power loss or an
// operating-system crash, not only a crash of the process: the Service
// records an intent before the remote call it announces, and an intent lost
// after its call took effect would be made again under a new idempotency key
// (a second shipment). With WAL, synchronous=NORMAL may roll back the last
// commits after a power loss (https://www.sqlite.org/pragma.html#pragma_synchronous).
// FULL is also modernc.org/sqlite's default, in WAL mode too; it is set
// here so that it stays explicit.
//
// One kind of write is committed without waiting for the disk
// (synchronous=NORMAL, on a second handle to the same file): a Put that adds
// no history entry. The Service writes those only for bookkeeping that is no
// step (a Sync pass's claim, a lease taken over or released, when a parcel
// was last looked at and when to look again), never for an intent or a
// result: if one is lost, a claim, a takeover or a check is made again
// when the record is found without it, and a released lease runs to its
// end. In WAL mode the commits a power loss can roll back are a
// suffix of the log: the next durable commit syncs every frame before it, so
// a lost bookkeeping write takes nothing else with it, and the record is
// left as it was before that write. A power loss or an operating-system
// crash also ends every process that used the file (they run on its
// machine: WAL needs shared memory), so none goes on from a version the
// store no longer has. A Sync pass that polls shipments makes
// mostly such writes (a claim and a next check per record), so they cost no
// fsync each.
//
// It returns an error if the file cannot be opened, is not a database, or
// has a schema newer than this package knows.
func OpenSQLite(ctx context.Context, path string) (*SQLiteStore, error) {
	if err := checkSQLitePath(path); err != nil {
		return nil, err
	}
	dsn := func(synchronous string) string {
		return path + "?" + sqliteBusyPragma +
			"&_pragma=journal_mode(WAL)&_pragma=synchronous(" + synchronous + ")&_txlock=immediate"
	}
	db, err := sql.Open("sqlite", dsn("FULL"))
	if err != nil {
		return nil, fmt.Errorf("fulfillment: sqlite: open %q: %w", path, err)
	}
	lazy, err := sql.Open("sqlite", dsn("NORMAL"))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("fulfillment: sqlite: open %q: %w", path, err)
	}
	s := &SQLiteStore{db: db, lazy: lazy, path: path}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		lazy.Close()
		return nil, err
	}
	return s, nil
}

// sqliteBusyPragma is the DSN parameter that makes a connection wait
// sqliteBusyTimeout for a lock, for OpenSQLite's and InspectSQLite's.
var sqliteBusyPragma = "_pragma=busy_timeout(" + fmt.Sprint(sqliteBusyTimeout.Milliseconds()) + ")"

// sqliteVersionQuery reads a database's schema version: the highest
// migration recorded (migrations are numbered from 1 and applied in
// order), 0 if none is.
const sqliteVersionQuery = `SELECT COALESCE(MAX(version), 0) FROM migrations`

// checkSQLitePath checks a path given to OpenSQLite or InspectSQLite: a
// file name, without the '?' the driver would take for its parameters.
func checkSQLitePath(path string) error {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return fmt.Errorf("fulfillment: sqlite: path %q: want a file name", path)
	}
	if strings.ContainsAny(path, "?\x00") {
		return fmt.Errorf("fulfillment: sqlite: path %q contains '?' or NUL", path)
	}
	return nil
}

// InspectSQLite reads the schema version of the SQLite database at path,
// as [OpenSQLite] would find it, without creating, migrating or writing
// anything: a preflight check, which may run beside programs using the
// file (an older version among them) and as a user other than theirs.
// Latest is the version OpenSQLite brings the schema to; Problems stays
// empty (whether this process may write the file is the caller's to ask).
//
// A file that does not exist is an error wrapping [fs.ErrNotExist]:
// nothing is created. An empty file has version 0 (OpenSQLite makes it a
// database) and is not opened: SQLite, even read-only, deletes a
// write-ahead log it finds beside an empty file. A file that is not an
// SQLite database is an error, as it is for OpenSQLite.
//
// The file is opened read-only. A database in WAL mode opened so would
// still create its write-ahead log and its index (path-wal and path-shm)
// when they are missing, owned by this process's user, who may not be
// the one OpenSQLite runs as: so when there is no log (no path-wal, or an
// empty one: every commit is in the file, as after the last program
// closed it), the file alone is read, as immutable, which opens nothing
// else, and the log looked for again after the read (a program that
// began writing meanwhile has its read made again through the log). With
// a log, the log and its index are read as they are, the index opened
// read-only (readonly_shm): a reader would otherwise write its marks in
// it, and rebuild it when the last program left it unclean (a crash); a
// log without its index is an error, since reading it would create the
// index.
func InspectSQLite(ctx context.Context, path string) (SchemaStatus, error) {
	if err := checkSQLitePath(path); err != nil {
		return SchemaStatus{}, err
	}
	st := SchemaStatus{Latest: len(sqliteMigrations)}
	abs, empty, err := statSQLiteFile(path)
	if err != nil || empty {
		return st, err // empty: a database of version 0; opening it would delete a log beside it
	}
	for range 2 {
		logged, err := sqliteHasLog(abs)
		if err != nil {
			return st, fmt.Errorf("fulfillment: sqlite: %q: %w", path, err)
		}
		mode := "immutable=1"
		if logged {
			mode = "mode=ro&readonly_shm=1"
		}
		st.Version, err = readSQLiteVersion(ctx, abs, mode)
		if logged {
			if err != nil {
				return st, fmt.Errorf("fulfillment: sqlite: %q: read schema version: %w", path, err)
			}
			return st, nil
		}
		if again, lerr := sqliteHasLog(abs); lerr == nil && again {
			continue // written while read: read again through the log
		}
		if err != nil {
			return st, fmt.Errorf("fulfillment: sqlite: %q: read schema version: %w", path, err)
		}
		return st, nil
	}
	return st, fmt.Errorf("fulfillment: sqlite: %q: read schema version: the file changed while read", path)
}

// statSQLiteFile checks that the file at path, a name checkSQLitePath
// accepts, exists and is no directory, and returns its absolute name and
// whether it is empty (no database yet), for [InspectSQLite] and
// [InspectSQLiteBackup]. Its errors name path.
func statSQLiteFile(path string) (abs string, empty bool, err error) {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return "", false, fmt.Errorf("fulfillment: sqlite: %w", err) // *fs.PathError names the file
	case fi.IsDir():
		return "", false, fmt.Errorf("fulfillment: sqlite: %q is a directory", path)
	}
	abs, err = filepath.Abs(path)
	if err != nil {
		return "", false, fmt.Errorf("fulfillment: sqlite: %q: %w", path, err)
	}
	return abs, fi.Size() == 0, nil
}

// sqliteHasLog reports whether the database at path has a write-ahead log
// holding commits: a non-empty path-wal. A log without its index
// (path-shm) is an error, since reading it would create the index.
func sqliteHasLog(path string) (bool, error) {
	fi, err := os.Stat(path + "-wal")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	case fi.Size() == 0:
		return false, nil
	}
	if _, err := os.Stat(path + "-shm"); errors.Is(err, fs.ErrNotExist) {
		return false, errors.New("its write-ahead log (-wal) has no index (-shm) beside it: not read, since reading it would create one; open the file as the user of the program that uses it")
	} else if err != nil {
		return false, err
	}
	return true, nil
}

// readSQLiteVersion reads the schema version of the database at the
// absolute path, opened read-only with the URI parameters mode
// ("mode=ro&readonly_shm=1" or "immutable=1"): 0 without a migrations
// table.
func readSQLiteVersion(ctx context.Context, path, mode string) (int, error) {
	db, err := openSQLiteReadOnly(path, mode)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	return sqliteSchemaVersion(ctx, db)
}

// sqliteSchemaVersion reads the schema version of db's database: 0
// without a migrations table.
func sqliteSchemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var tables int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'migrations'`).Scan(&tables); err != nil {
		return 0, err
	}
	if tables == 0 {
		return 0, nil
	}
	var v int
	if err := db.QueryRowContext(ctx, sqliteVersionQuery).Scan(&v); err != nil {
		return 0, err
	}
	return v, nil
}

// openSQLiteReadOnly opens the database at the absolute path read-only,
// with the URI parameters mode ("mode=ro&readonly_shm=1" or
// "immutable=1"), on one connection, which runs no statement that writes
// (query_only).
func openSQLiteReadOnly(path, mode string) (*sql.DB, error) {
	return openSQLiteURI(path, mode+"&_pragma=query_only(1)")
}

// openSQLiteURI opens the database at the absolute path with the URI
// parameters params and OpenSQLite's busy timeout, on one connection. For
// [BackupSQLite], whose VACUUM INTO writes (its copy), which query_only
// refuses; mode=ro or immutable=1 keep it from writing the database.
func openSQLiteURI(path, params string) (*sql.DB, error) {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: params +
		"&" + sqliteBusyPragma}
	if !strings.HasPrefix(u.Path, "/") {
		u.Path = "/" + u.Path // a Windows drive: file:///C:/...
	}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// SchemaVersion returns the version of the database's schema: the
// highest migration recorded in it (migrations are numbered from 1 and
// applied in order, so the number applied); 0 if none is. After OpenSQLite it is the version
// this package knows (OpenSQLite brings an older schema up to it and
// refuses a newer one), unless another program has migrated the file since.
func (s *SQLiteStore) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.db.QueryRowContext(ctx, sqliteVersionQuery).Scan(&v); err != nil {
		return 0, fmt.Errorf("fulfillment: sqlite: %q: read schema version: %w", s.path, err)
	}
	return v, nil
}

// migrate applies the migrations the database has not seen yet, in one
// transaction.
func (s *SQLiteStore) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("fulfillment: sqlite: open %q: %w", s.path, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return fmt.Errorf("fulfillment: sqlite: %q: create migrations table: %w", s.path, err)
	}
	var have int
	if err := tx.QueryRowContext(ctx, sqliteVersionQuery).Scan(&have); err != nil {
		return fmt.Errorf("fulfillment: sqlite: %q: read schema version: %w", s.path, err)
	}
	if have > len(sqliteMigrations) {
		return fmt.Errorf("fulfillment: sqlite: %q has schema version %d, newer than this program's %d", s.path, have, len(sqliteMigrations))
	}
	for v := have + 1; v <= len(sqliteMigrations); v++ {
		if _, err := tx.ExecContext(ctx, sqliteMigrations[v-1]); err != nil {
			return fmt.Errorf("fulfillment: sqlite: %q: migration %d: %w", s.path, v, err)
		}
		if backfill := sqliteBackfills[v]; backfill != nil {
			if err := backfill(ctx, tx); err != nil {
				return fmt.Errorf("fulfillment: sqlite: %q: migration %d: backfill: %w", s.path, v, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO migrations(version, applied_at) VALUES (?, ?)`,
			v, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
			return fmt.Errorf("fulfillment: sqlite: %q: record migration %d: %w", s.path, v, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("fulfillment: sqlite: %q: commit migrations: %w", s.path, err)
	}
	return nil
}

// stmt returns query prepared, preparing it on first use. SQLite parses
// and plans a statement on every prepare, which cost more CPU than running
// the store's short statements; a prepared *sql.Stmt is reused (database/sql
// prepares it again on each pooled connection it runs on).
func (s *SQLiteStore) stmt(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, error) {
	k := stmtKey{db, query}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.stmts[k]; ok {
		return st, nil
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if s.stmts == nil {
		s.stmts = map[stmtKey]*sql.Stmt{}
	}
	s.stmts[k] = st
	return st, nil
}

// maxPreparedStatuses bounds the List queries kept prepared: one text per
// combination of filters and number of statuses, at most that many.
const maxPreparedStatuses = 8

// exec runs query (prepared once) with args on db, s.db or s.lazy.
func (s *SQLiteStore) exec(ctx context.Context, db *sql.DB, query string, args ...any) (sql.Result, error) {
	st, err := s.stmt(ctx, db, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// queryRow runs query (prepared once) with args for at most one row.
func (s *SQLiteStore) queryRow(ctx context.Context, query string, args []any, dest ...any) error {
	st, err := s.stmt(ctx, s.db, query)
	if err != nil {
		return err
	}
	return st.QueryRowContext(ctx, args...).Scan(dest...)
}

// Close closes the database.
func (s *SQLiteStore) Close() error {
	s.mu.Lock()
	for _, st := range s.stmts {
		st.Close()
	}
	s.stmts = nil
	s.mu.Unlock()
	if err := errors.Join(s.lazy.Close(), s.db.Close()); err != nil {
		return fmt.Errorf("fulfillment: sqlite: close %q: %w", s.path, err)
	}
	return nil
}

// Get implements [Store].
func (s *SQLiteStore) Get(ctx context.Context, userID string) (Record, error) {
	if err := CheckID("user ID", userID); err != nil {
		return Record{}, err
	}
	var data string
	var version int64
	err := s.queryRow(ctx, `SELECT data, version FROM records WHERE user_id = ?`, []any{userID}, &data, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, notFound(userID)
	}
	if err != nil {
		return Record{}, fmt.Errorf("fulfillment: sqlite: get %q: %w", userID, err)
	}
	r, err := s.decoded.decode(userID, data, version)
	if err == nil {
		s.seen.note(r)
	}
	return r, err
}

func decodeRecord(userID, data string, version int64) (Record, error) {
	var r Record
	if err := json.Unmarshal([]byte(data), &r); err != nil {
		return Record{}, fmt.Errorf("fulfillment: sqlite: record of %q is corrupt: %w", userID, err)
	}
	if r.UserID != userID {
		return Record{}, fmt.Errorf("fulfillment: sqlite: record of %q is corrupt: it names user %q", userID, r.UserID)
	}
	r.Version = version
	return r, nil
}

// Put implements [Store].
func (s *SQLiteStore) Put(ctx context.Context, r Record) (Record, error) {
	if err := CheckRecord(r); err != nil {
		return Record{}, err
	}
	data, err := json.Marshal(r)
	if err != nil {
		return Record{}, fmt.Errorf("fulfillment: sqlite: encode record of %q: %w", r.UserID, err)
	}
	updated := r.UpdatedAt.UTC().Format(time.RFC3339Nano)
	var n int64
	if r.Version == 0 {
		n, err = s.put(ctx, s.db, `INSERT INTO records(user_id, status, step, version, history_len, updated_at, due, data)
			VALUES (?, ?, ?, 1, ?, ?, ?, ?) ON CONFLICT(user_id) DO NOTHING`,
			r.UserID, string(r.Status), string(r.Step), len(r.History), updated, dueColumn(r), string(data))
	} else {
		// A step (the history grew) durably; otherwise bookkeeping, committed
		// without an fsync (see OpenSQLite). Which one r is follows from
		// the stored history's length, which only the SQL condition knows
		// for sure: Put tries first what the record as this store last
		// returned it says, then the other. A failed UPDATE writes nothing
		// and syncs nothing, so a wrong guess costs only time.
		args := []any{string(r.Status), string(r.Step), len(r.History), updated, dueColumn(r), string(data),
			r.UserID, r.Version, len(r.History)}
		first, second := s.db, s.lazy
		cond1, cond2 := "< ?", "= ?"
		if s.seen.bookkeeping(r) {
			first, second, cond1, cond2 = second, first, cond2, cond1
		}
		n, err = s.put(ctx, first, sqliteUpdate+cond1, args...)
		if err == nil && n == 0 {
			n, err = s.put(ctx, second, sqliteUpdate+cond2, args...)
		}
	}
	if err != nil {
		return Record{}, fmt.Errorf("fulfillment: sqlite: put %q: %w", r.UserID, err)
	}
	if n == 0 {
		return Record{}, s.whyNotPut(ctx, r)
	}
	s.decoded.forget(r.UserID) // the stored document changed: no need to keep the old one
	r = r.clone()
	r.Version++
	s.seen.note(r)
	return r, nil
}

// sqliteUpdate is Put's compare-and-swap of a stored record, less the
// comparison of the stored history's length with the new one's: "< ?" for
// a step, "= ?" for bookkeeping.
const sqliteUpdate = `UPDATE records SET status = ?, step = ?, version = version + 1,
	history_len = ?, updated_at = ?, due = ?, data = ?
	WHERE user_id = ? AND version = ? AND history_len `

// put runs one of Put's statements on db and returns how many rows it
// changed.
func (s *SQLiteStore) put(ctx context.Context, db *sql.DB, query string, args ...any) (int64, error) {
	res, err := s.exec(ctx, db, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// whyNotPut explains a Put that changed no row.
func (s *SQLiteStore) whyNotPut(ctx context.Context, r Record) error {
	var version int64
	var historyLen int
	err := s.queryRow(ctx, `SELECT version, history_len FROM records WHERE user_id = ?`, []any{r.UserID}, &version, &historyLen)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return CheckPut(r, nil)
	case err != nil:
		return fmt.Errorf("%w: record of %q changed (%v)", ErrVersionConflict, r.UserID, err)
	}
	stored := Record{Version: version, History: make([]Change, historyLen)}
	if err := CheckPut(r, &stored); err != nil {
		return err
	}
	// The row changed between the UPDATE and this SELECT.
	return fmt.Errorf("%w: record of %q changed concurrently", ErrVersionConflict, r.UserID)
}

// List implements [Store].
func (s *SQLiteStore) List(ctx context.Context, q Query) ([]Record, error) {
	var where []string
	var args []any
	if q.After != "" {
		where = append(where, "user_id > ?")
		args = append(args, q.After)
	}
	if q.InFlight {
		where = append(where, "status IN (?, ?, ?)")
		args = append(args, string(FulfillmentStarted), string(FulfillmentErrored), string(Shipped))
	}
	if len(q.Statuses) > 0 {
		where = append(where, "status IN (?"+strings.Repeat(", ?", len(q.Statuses)-1)+")")
		for _, st := range q.Statuses {
			args = append(args, string(st))
		}
	}
	query := `SELECT user_id, data, version FROM records`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY user_id"
	if q.Limit > 0 {
		query += " LIMIT ?"
		args = append(args, q.Limit)
	}
	var rows *sql.Rows
	var err error
	if len(q.Statuses) <= maxPreparedStatuses {
		var st *sql.Stmt
		if st, err = s.stmt(ctx, s.db, query); err == nil {
			rows, err = st.QueryContext(ctx, args...)
		}
	} else { // a text of its own: not worth keeping
		rows, err = s.db.QueryContext(ctx, query, args...)
	}
	if err != nil {
		return nil, fmt.Errorf("fulfillment: sqlite: list: %w", err)
	}
	recs, err := scanRecords(rows, "list", s.decoded.decode)
	s.seen.note(recs...)
	return recs, err
}

// ListDue implements [DueLister]: a range of the due index, no record
// that is not due read.
func (s *SQLiteStore) ListDue(ctx context.Context, q DueQuery) ([]Record, error) {
	limit := int64(-1) // SQLite: no limit
	if q.Limit > 0 {
		limit = int64(q.Limit)
	}
	st, err := s.stmt(ctx, s.db, `SELECT user_id, data, version FROM records INDEXED BY records_due
		WHERE due <= ? AND user_id > ? ORDER BY user_id LIMIT ?`)
	if err != nil {
		return nil, fmt.Errorf("fulfillment: sqlite: list due: %w", err)
	}
	rows, err := st.QueryContext(ctx, DueKey(q.Now), q.After, limit)
	if err != nil {
		return nil, fmt.Errorf("fulfillment: sqlite: list due: %w", err)
	}
	recs, err := scanRecords(rows, "list due", s.decoded.decode)
	s.seen.note(recs...)
	return recs, err
}

// CountNotDue implements [DueLister]: a count over the due index.
func (s *SQLiteStore) CountNotDue(ctx context.Context, now time.Time) (int, error) {
	var n int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM records WHERE due > ?`, []any{DueKey(now)}, &n); err != nil {
		return 0, fmt.Errorf("fulfillment: sqlite: count not due: %w", err)
	}
	return n, nil
}

// scanRecords decodes the rows (user_id, data, version) of a query with
// decode (decodeRecord, or a store's decodedRecords.decode) and closes
// them; what names the query in errors.
func scanRecords(rows *sql.Rows, what string, decode func(userID, data string, version int64) (Record, error)) ([]Record, error) {
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var userID, data string
		var version int64
		if err := rows.Scan(&userID, &data, &version); err != nil {
			return nil, fmt.Errorf("fulfillment: sqlite: %s: %w", what, err)
		}
		r, err := decode(userID, data, version)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("fulfillment: sqlite: %s: %w", what, err)
	}
	return out, nil
}

// CountByStatus implements [StatusCounter]: one scan of the status index,
// no record decoded.
func (s *SQLiteStore) CountByStatus(ctx context.Context) (map[Status]int, error) {
	st, err := s.stmt(ctx, s.db, `SELECT status, COUNT(*) FROM records GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("fulfillment: sqlite: count by status: %w", err)
	}
	rows, err := st.QueryContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("fulfillment: sqlite: count by status: %w", err)
	}
	defer rows.Close()
	counts := map[Status]int{}
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return nil, fmt.Errorf("fulfillment: sqlite: count by status: %w", err)
		}
		if !Status(status).Valid() {
			return nil, fmt.Errorf("fulfillment: sqlite: count by status: unknown status %q", truncateValue(status))
		}
		counts[Status(status)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("fulfillment: sqlite: count by status: %w", err)
	}
	return counts, nil
}

// EventMarked implements [EventChecker].
func (s *SQLiteStore) EventMarked(ctx context.Context, eventID string) (bool, error) {
	if err := CheckID("event ID", eventID); err != nil {
		return false, err
	}
	var n int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM events WHERE event_id = ?`, []any{eventID}, &n); err != nil {
		return false, fmt.Errorf("fulfillment: sqlite: event %q marked: %w", eventID, err)
	}
	return n > 0, nil
}

var _ EventChecker = (*SQLiteStore)(nil)

// MarkEvent implements [Store].
func (s *SQLiteStore) MarkEvent(ctx context.Context, eventID string, at time.Time) (bool, error) {
	if err := CheckID("event ID", eventID); err != nil {
		return false, err
	}
	res, err := s.exec(ctx, s.db, `INSERT INTO events(event_id, seen_at) VALUES (?, ?) ON CONFLICT(event_id) DO NOTHING`,
		eventID, at.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return false, fmt.Errorf("fulfillment: sqlite: mark event %q: %w", eventID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("fulfillment: sqlite: mark event %q: %w", eventID, err)
	}
	return n == 1, nil
}

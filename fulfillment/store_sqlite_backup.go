package fulfillment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
)

// Backup writes a consistent copy of the database to dest, a new file,
// while the store is in use: by this process and by others on the same
// file (serve), whose writes it does not hold up. It runs SQLite's VACUUM
// INTO (https://www.sqlite.org/lang_vacuum.html#vacuuminto) through the
// store's handle, which reads the database in one read transaction: the
// copy holds the records (with their history), the handled events' marks
// and the documents (the catch-up checkpoint, the console's batches and
// audit trail) as the last commit before it began left them, none of a
// later one, at the store's schema version. The copy is compacted, in
// SQLite's rollback-journal mode (OpenSQLite puts it in WAL mode when it
// opens it) and opens with [OpenSQLite]. Before it is named dest it is
// checked as [InspectSQLiteBackup] checks a file (SQLite's quick_check: a
// damaged copy is an error, and nothing is left under dest), and what it
// holds is returned: its schema version and counts, as [BackupSQLite]
// returns them. A copy found at a schema version newer than this
// program's (a newer program migrated the file meanwhile) is refused
// with an error wrapping a [*SchemaError], as BackupSQLite refuses it.
//
// dest must not exist: Backup never overwrites a file (one there is an
// error wrapping [fs.ErrExist], naming dest) and does not create its
// directory. The copy is written to a temporary file in dest's directory
// (".NAME.tmp-" and digits, mode 0600: the records hold people's names,
// logins and home addresses), synced to the disk, given the name dest only
// when complete (a hard link, so that a file made under that name
// meanwhile is not replaced either; on a file system without hard links,
// a check and a rename), and the directory synced (where the file system
// can sync one). A backup that fails, or whose ctx ends (it interrupts
// SQLite's copy), removes its temporary
// file and leaves nothing under dest, but for two errors that say "the
// backup is complete, but": the temporary name could not be removed, or
// the directory not synced (the copy is then under dest, and may not
// survive a power loss); a process killed during one may leave the
// temporary file (and SQLite's -journal of it), which can be deleted.
//
// To restore a backup: stop every program using the store (serve); move
// the store's file aside together with its -wal and -shm files (a
// write-ahead log left beside the restored file would be replayed into
// it); copy the backup in its place, owned by the user serve runs as,
// mode 0600; start serve. The store is then as it was at the backup's
// time: the orders placed in Okta since the restored catch-up checkpoint
// are read again from Okta's System Log at the next catch-up (Okta keeps
// 90 days), but what was recorded about keys in flight since the backup
// is lost; check those keys (preenroll status, the console) after a
// restore (docs/deploy.md, Backups).
func (s *SQLiteStore) Backup(ctx context.Context, dest string) (BackupContents, error) {
	link := s.link
	if link == nil {
		link = os.Link
	}
	return backupSQLiteTo(ctx, s.path, dest, link, func(ctx context.Context, out string) error {
		return vacuumInto(ctx, s.db, out)
	})
}

// backupSQLiteTo is the procedure of [SQLiteStore.Backup] and
// [BackupSQLite], which their doc comments describe: it checks dest,
// makes the temporary file beside it, has copyInto write the copy of the
// database at src into that file (out, its absolute name, an empty file
// that VACUUM INTO accepts), checks the copy as [InspectSQLiteBackup]
// checks a file ([inspectSQLiteCopy]: quick_check, the schema version,
// the counts; a version newer than this program's, which a newer program
// migrated the database to meanwhile, is an error wrapping a
// [*SchemaError]), then syncs the copy, names it dest with link (os.Link,
// or a test's), syncs the directory and returns what the copy holds. Its
// errors name src and dest; with one, the contents returned are none.
func backupSQLiteTo(ctx context.Context, src, dest string, link func(oldname, newname string) error, copyInto func(ctx context.Context, out string) error) (BackupContents, error) {
	var none BackupContents
	fail := func(err error) (BackupContents, error) {
		return none, fmt.Errorf("fulfillment: sqlite: back up %q to %q: %w", src, dest, err)
	}
	exists := func() (BackupContents, error) {
		return fail(fmt.Errorf("%w: a backup never overwrites a file; name another or remove that one", fs.ErrExist))
	}
	if err := checkSQLitePath(dest); err != nil {
		return none, err
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	switch _, err := os.Lstat(dest); {
	case err == nil:
		return exists()
	case !errors.Is(err, fs.ErrNotExist):
		return fail(err)
	}
	dir := filepath.Dir(dest)
	f, err := os.CreateTemp(dir, "."+filepath.Base(dest)+".tmp-*")
	if errors.Is(err, fs.ErrNotExist) {
		// The directory's absence, or a file system that makes no files
		// there (/proc): only the first is said to be missing.
		if _, serr := os.Stat(dir); errors.Is(serr, fs.ErrNotExist) {
			return fail(fmt.Errorf("the directory %q does not exist", dir))
		}
	}
	if err != nil {
		return fail(err)
	}
	tmp := f.Name()
	placed := false
	defer func() {
		f.Close() // again after the Close below: an error, ignored
		if !placed {
			os.Remove(tmp)
			os.Remove(tmp + "-journal") // SQLite's, of the copy, if a failure left it
		}
	}()
	// An absolute name: SQLite would take one starting "file:" for a URI.
	abs, err := filepath.Abs(tmp)
	if err != nil {
		return fail(err)
	}
	// The empty file CreateTemp made is one VACUUM INTO accepts; it keeps
	// the file's mode.
	if err := copyInto(ctx, abs); err != nil {
		return fail(err)
	}
	c, err := inspectSQLiteCopy(ctx, abs)
	if err != nil {
		return fail(fmt.Errorf("the copy: %w", err))
	}
	if err := backupSchemaError(c.Version, true); err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	// SQLite does not sync the file VACUUM INTO writes.
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("sync the copy: %w", err))
	}
	if err := f.Close(); err != nil {
		return fail(fmt.Errorf("close the copy: %w", err))
	}
	switch err := link(tmp, dest); {
	case errors.Is(err, fs.ErrExist):
		return exists() // made since the check above
	case err != nil:
		// No hard links here (FAT, some network shares): the check and
		// the rename are two steps.
		if _, lerr := os.Lstat(dest); lerr == nil {
			return exists()
		} else if !errors.Is(lerr, fs.ErrNotExist) {
			return fail(lerr)
		}
		if rerr := os.Rename(tmp, dest); rerr != nil {
			return fail(fmt.Errorf("name the copy: %w (and %v)", rerr, err))
		}
		placed = true
	default:
		placed = true
		if err := os.Remove(tmp); err != nil {
			return fail(fmt.Errorf("the backup is complete, but its temporary name %q remains: %w", tmp, err))
		}
	}
	if err := syncDir(dir); err != nil {
		return fail(fmt.Errorf("the backup is complete, but its directory was not synced (a power loss may lose it): %w", err))
	}
	return c, nil
}

// vacuumInto writes a copy of db's main database into the empty file at
// the absolute name out with SQLite's VACUUM INTO, in one read
// transaction; when ctx ends (modernc.org/sqlite then interrupts the
// statement) its error is ctx's, with SQLite's beside it.
func vacuumInto(ctx context.Context, db *sql.DB, out string) error {
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, out); err != nil {
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%v)", cerr, err)
		}
		return err
	}
	return nil
}

// syncDir syncs the directory dir, so that the names made or removed in
// it survive a power loss.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // a directory cannot be opened for syncing; NTFS journals its names
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return dirSyncErr(d.Sync())
}

// dirSyncErr is the error of syncing a directory, nil for a file system
// that cannot sync one (EINVAL or ENOTSUP: some network and FUSE file
// systems, the places backups often go): the copy itself was synced, and
// SQLite too ignores a directory sync that fails (its unixSync), so a
// nightly backup there does not fail every night.
func dirSyncErr(err error) error {
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, errors.ErrUnsupported) {
		return nil
	}
	return err
}

// BackupContents is what an SQLite database file holds, as
// [InspectSQLiteBackup] counts it, and as [SQLiteStore.Backup] and
// [BackupSQLite] report the copy they made.
type BackupContents struct {
	// Version is the schema version (see [SchemaStatus]): a copy made by
	// [SQLiteStore.Backup] has its store's, which OpenSQLite left at the
	// latest this program knows; one made by [BackupSQLite] has its
	// store's too, which may be older (OpenSQLite migrates the copy).
	Version int
	// Latest is the version [OpenSQLite] brings the schema to, and the
	// newest it accepts, as [SchemaStatus].Latest: a copy of an older
	// Version is migrated when it is opened.
	Latest int
	// Records, Events and Documents count the records, the handled
	// events' marks and the documents (the catch-up checkpoint, the
	// console's batches and audit trail); 0 for a table the schema does
	// not have.
	Records, Events, Documents int
}

// InspectSQLiteBackup checks the SQLite database file at path, a backup
// made by [SQLiteStore.Backup], and counts what it holds. SQLite's
// quick_check runs over the whole file (a damaged one is an error), then
// the schema version and the rows of each table are read.
//
// The file is opened read-only and as immutable: nothing is written or
// created (no -wal, no -shm beside it), so it may sit on any file system,
// a network share among them, and be owned by a user other than the
// reader's as long as it is readable. That is only right for a file no
// program writes: one with a write-ahead log beside it (a store in use,
// or left so by a crash) is an error; [InspectSQLite] is for a store. A
// file that does not exist is an error wrapping [fs.ErrNotExist]; an
// empty one, or one that is not an SQLite database, is an error.
func InspectSQLiteBackup(ctx context.Context, path string) (BackupContents, error) {
	var c BackupContents
	if err := checkSQLitePath(path); err != nil {
		return c, err
	}
	abs, empty, err := statSQLiteFile(path)
	switch {
	case err != nil:
		return c, err
	case empty:
		return c, fmt.Errorf("fulfillment: sqlite: %q is empty: no database", path)
	}
	if logged, err := sqliteHasLog(abs); err != nil || logged {
		if err == nil {
			err = errors.New("a write-ahead log (-wal) is beside it: it is a store in use, or one a crash left so, not a backup")
		}
		return c, fmt.Errorf("fulfillment: sqlite: %q: %w", path, err)
	}
	c, err = inspectSQLiteCopy(ctx, abs)
	if err != nil {
		return BackupContents{}, fmt.Errorf("fulfillment: sqlite: %q: %w", path, err)
	}
	return c, nil
}

// inspectSQLiteCopy opens the database file at the absolute name path
// read-only and as immutable (a file no program writes: a backup), checks
// it and counts what it holds ([readBackupContents]).
func inspectSQLiteCopy(ctx context.Context, path string) (BackupContents, error) {
	var c BackupContents
	db, err := openSQLiteReadOnly(path, "immutable=1")
	if err != nil {
		return c, err
	}
	defer db.Close()
	if err := readBackupContents(ctx, db, &c); err != nil {
		return BackupContents{}, err
	}
	return c, nil
}

// readBackupContents checks the database of db (quick_check) and fills c
// from it.
func readBackupContents(ctx context.Context, db *sql.DB, c *BackupContents) error {
	c.Latest = len(sqliteMigrations)
	var check string
	if err := db.QueryRowContext(ctx, `PRAGMA quick_check(1)`).Scan(&check); err != nil {
		return fmt.Errorf("check: %w", err)
	}
	if check != "ok" {
		return fmt.Errorf("damaged: SQLite's quick_check says %q", truncateValue(check))
	}
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		return fmt.Errorf("read the tables: %w", err)
	}
	tables := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return fmt.Errorf("read the tables: %w", err)
		}
		tables[name] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the tables: %w", err)
	}
	for _, q := range []struct {
		table, query string
		into         *int
	}{
		{"migrations", sqliteVersionQuery, &c.Version},
		{"records", `SELECT count(*) FROM records`, &c.Records},
		{"events", `SELECT count(*) FROM events`, &c.Events},
		{"documents", `SELECT count(*) FROM documents`, &c.Documents},
	} {
		if !tables[q.table] {
			continue
		}
		if err := db.QueryRowContext(ctx, q.query).Scan(q.into); err != nil {
			return fmt.Errorf("read %s: %w", q.table, err)
		}
	}
	return nil
}

// BackupSQLite writes a consistent copy of the SQLite database at src, a
// store of this package, to dest, a new file, without opening the store
// with [OpenSQLite]: src is opened read-only (SQLite's mode=ro, or
// immutable; see below) and its schema is not migrated, so the caller
// needs no write access to it or its directory, and a program of this
// package's version may back up a store an older version (serve) still
// uses, before an upgrade. The copy is made as [SQLiteStore.Backup]
// makes it (VACUUM INTO, one read transaction that holds no writer up,
// the same temporary file, sync and naming, the same errors). Before
// the copy is named dest it is checked as [InspectSQLiteBackup] checks a
// file (SQLite's quick_check: a damaged copy is an error, and nothing is
// left under dest), and what it holds is returned: its schema version
// and counts.
//
// The schema version must be one this package knows: a database without
// one (no store of this package), or with one newer than
// [OpenSQLite]'s, is refused, as is a copy found newer (a newer program
// migrated src during the backup), and so is an empty src (a store
// OpenSQLite has not made yet); the error of each wraps a [*SchemaError]
// saying which (errors.As), for a caller that words the refusal itself.
// An older one is copied as it is: the copy has that version (below
// [BackupContents].Latest), and OpenSQLite migrates it when it opens it
// (the restored store then migrates at serve's start, as src would).
//
// Nothing is written or created beside src. What the caller needs
// (https://www.sqlite.org/wal.html#readonly): read access to src, and,
// when src has a write-ahead log holding commits (a non-empty src-wal:
// serve runs, or was killed), read access to the log and its index
// (src-shm), which is opened read-only; a log without its index is an
// error, since reading it would create the index. Without such a log
// (as the last program to close the store leaves it) src alone is read,
// as immutable, without locks, and the copy is made again if a program
// wrote meanwhile (a log appeared, or src changed): twice at most, then
// an error that says to try again; a copy through a log that failed
// because the last program closed the store meanwhile (which removes the
// log) is made again too. "src changed" is judged by its size and
// modification time: a program that opened, wrote, checkpointed and
// closed the store within one tick of the file system's clock (a few
// milliseconds) after the copy began would go unseen; serve holds its
// store open while it runs, so that takes a program other than serve.
// Run it as any user who may read those files: serve's, or a backup user
// in its group given read access.
func BackupSQLite(ctx context.Context, src, dest string) (BackupContents, error) {
	if err := checkSQLitePath(src); err != nil {
		return BackupContents{}, err
	}
	abs, empty, err := statSQLiteFile(src)
	switch {
	case err != nil:
		return BackupContents{}, err
	case empty:
		return BackupContents{}, fmt.Errorf("fulfillment: sqlite: back up %q: %w", src, &SchemaError{Latest: len(sqliteMigrations), Empty: true})
	}
	return backupSQLiteTo(ctx, src, dest, os.Link, func(ctx context.Context, out string) error {
		for range 2 {
			again, err := copySQLiteReadOnly(ctx, abs, out)
			if !again {
				return err
			}
			// Written while copied without the log: start over, into the
			// empty file VACUUM INTO wants.
			if err := os.Truncate(out, 0); err != nil {
				return err
			}
			if err := os.Remove(out + "-journal"); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return errors.New("the store was written during the copy, twice, while it had no write-ahead log to read through: try again")
	})
}

// copySQLiteReadOnly writes a copy of the database at the absolute name
// src into the empty file out, opening src read-only as [BackupSQLite]
// says, after checking src's schema version. again reports that src was
// read as immutable and a program wrote it meanwhile: the copy is to be
// made again (err is then what the copy returned, of no account).
func copySQLiteReadOnly(ctx context.Context, src, out string) (again bool, err error) {
	logged, err := sqliteHasLog(src)
	if err != nil {
		return false, err
	}
	mode := "mode=ro&readonly_shm=1"
	var before os.FileInfo
	if !logged {
		mode = "immutable=1"
		if before, err = os.Stat(src); err != nil {
			return false, err
		}
	}
	err = copySQLiteWith(ctx, src, mode, out)
	if afterImmutableCopy != nil && !logged {
		afterImmutableCopy()
	}
	if logged {
		// A failure because the last program closed the store meanwhile
		// (which removes the log and its index) is made again without it.
		if err != nil && ctx.Err() == nil {
			if still, lerr := sqliteHasLog(src); lerr == nil && !still {
				return true, err
			}
		}
		return false, err
	}
	// Immutable, src was read without locks: a program that wrote it
	// meanwhile made a log, or changed the file (a checkpoint).
	if logged, lerr := sqliteHasLog(src); lerr != nil || logged {
		return lerr == nil, errors.Join(err, lerr)
	}
	after, serr := os.Stat(src)
	if serr != nil {
		return false, errors.Join(err, serr)
	}
	if !os.SameFile(before, after) || before.Size() != after.Size() || !before.ModTime().Equal(after.ModTime()) {
		return true, err
	}
	return false, err
}

// afterImmutableCopy, when set (by a test), runs after each copy
// BackupSQLite makes of a database read as immutable, before it looks
// for a write made meanwhile.
var afterImmutableCopy func()

// copySQLiteWith opens the database at the absolute name src read-only
// with the URI parameters mode, checks its schema version and copies it
// into out ([vacuumInto]).
func copySQLiteWith(ctx context.Context, src, mode, out string) error {
	db, err := openSQLiteURI(src, mode) // no query_only, which refuses VACUUM INTO
	if err != nil {
		return err
	}
	defer db.Close()
	v, err := sqliteSchemaVersion(ctx, db)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if err := backupSchemaError(v, false); err != nil {
		return err
	}
	return vacuumInto(ctx, db, out)
}

// backupSchemaError is the error of BackupSQLite for a database (the
// copy, if ofCopy) of schema version v, a *SchemaError, or nil for a
// version it copies.
func backupSchemaError(v int, ofCopy bool) error {
	if v == 0 || v > len(sqliteMigrations) {
		return &SchemaError{Version: v, Latest: len(sqliteMigrations), Copy: ofCopy}
	}
	return nil
}

// SchemaError is why [BackupSQLite] refuses a database: its schema
// version is none this package knows, or newer than this program's; and
// why [SQLiteStore.Backup] refuses a copy found newer (Copy). Its text is
// the reason alone, as a [FieldError]'s is: the error of either, which
// names the files, wraps it, and errors.As finds it there for a caller
// that words the refusal itself.
type SchemaError struct {
	// Version is the database's schema version (see [SchemaStatus]); 0
	// when it has none (no store of this package, or Empty).
	Version int
	// Latest is the newest version this package knows, as
	// [SchemaStatus].Latest.
	Latest int
	// Empty is set for an empty file: no database (a store [OpenSQLite]
	// has not made yet).
	Empty bool
	// Copy is set when the version is the copy's, not the one read from
	// the store before the copy: a newer program migrated the store
	// meanwhile.
	Copy bool
}

// Newer reports whether the schema is newer than this package knows, as
// [SchemaStatus.Newer] does.
func (e *SchemaError) Newer() bool { return e.Version > e.Latest }

// Error reads "schema version 9, newer than this program's 8: back it up
// with the program that uses it", "no schema version (no store of this
// package): nothing to back up" or "it is empty: no database"; a copy
// found newer reads "the copy: schema version 9, ... (migrated
// meanwhile)".
func (e *SchemaError) Error() string {
	var msg string
	switch {
	case e.Empty:
		msg = "it is empty: no database"
	case e.Newer():
		msg = fmt.Sprintf("schema version %d, newer than this program's %d: back it up with the program that uses it", e.Version, e.Latest)
	default:
		msg = "no schema version (no store of this package): nothing to back up"
	}
	if e.Copy {
		return "the copy: " + msg + " (migrated meanwhile)"
	}
	return msg
}

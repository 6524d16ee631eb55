package fulfillment

import "database/sql"

// Test-only access for the external tests of package fulfillment_test.

// SQLiteDB returns the database handle of s.
func SQLiteDB(s *SQLiteStore) *sql.DB { return s.db }

// SQLiteLazyDB returns the handle on which s commits bookkeeping Puts
// (synchronous=NORMAL).
func SQLiteLazyDB(s *SQLiteStore) *sql.DB { return s.lazy }

// SQLiteMigrations is the number of migrations of the SQLite schema.
var SQLiteMigrations = len(sqliteMigrations)

// SQLiteMigration returns the SQL of migration v (from 1) of the SQLite
// schema.
func SQLiteMigration(v int) string { return sqliteMigrations[v-1] }

// SetSQLiteLink replaces the os.Link with which s's Backup names its copy.
func SetSQLiteLink(s *SQLiteStore, link func(oldname, newname string) error) { s.link = link }

// DirSyncErr is dirSyncErr: which errors of a directory's sync a backup
// reports.
var DirSyncErr = dirSyncErr

// SetAfterImmutableCopy sets the function BackupSQLite runs after each
// copy of a database read as immutable, until the test ends; tests that
// set it must not run in parallel with BackupSQLite's others.
func SetAfterImmutableCopy(t interface{ Cleanup(func()) }, f func()) {
	afterImmutableCopy = f
	t.Cleanup(func() { afterImmutableCopy = nil })
}

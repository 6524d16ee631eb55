package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/preenroll/preenroll/fulfillment"
)

func init() {
	Register(&Command{
		Name: "backup", Args: "FILE", MinArgs: 1, MaxArgs: 1,
		Summary: "copy the SQLite store to a new file, consistent while serve runs",
		Doc: `Writes a consistent copy of the SQLite store (-store) to FILE, a new file,
while serve may be running on the store: SQLite's VACUUM INTO, one read
transaction that holds no writer up. The copy has every record, handled
event and document (the catch-up checkpoint, the console's batches and audit
trail) as the last commit before it began left them. It is written under a
temporary name beside FILE, synced and named FILE only when complete, mode
0600 (it holds people's names, logins and home addresses); FILE is never
overwritten and its directory is not created. The copy is read back
(SQLite's quick_check) before it is named FILE, and what it holds printed.

Run it with serve's environment, of which it takes only -store
(PREENROLL_STORE, or the key "store" of -config's file), as serve's user or
any user who may read the store's file and, while serve runs, its -wal and
-shm files: it opens the store read-only, writes and creates nothing beside
it, and migrates nothing. A store of an older schema version (the version
serve runs, before an upgrade) is copied as it is: the copy keeps that
version, and the serve that opens it migrates it. One newer than this
program's is refused (back it up with the preenroll that serve runs). A
PostgreSQL store is backed up with pg_dump. To restore a copy: stop serve,
move the store's file aside together with its -wal and -shm files, put the
copy in its place, owned by serve's user, and start serve (docs/deploy.md,
Backups).

Exit codes: 0 backed up, 1 not (the store could not be read, the copy not
written), 2 bad usage (no -store, a PostgreSQL one, one that does not exist;
FILE empty, a directory or a file that exists, or its directory missing).`,
		Run: runBackup,
	})
	store := lookupSetting("store")
	store.AlsoFor = append(store.AlsoFor, "backup")
}

// checkBackup checks backup's -store: a SQLite file that exists.
func (c *Config) checkBackup() []string {
	spec, err := parseStore(c.Store)
	switch {
	case err != nil:
		return nil // the setting's problem
	case spec.postgres != "":
		return []string{"-store (PREENROLL_STORE) is a PostgreSQL database: back it up with pg_dump (docs/deploy.md, Backups); backup copies a SQLite store"}
	case spec.sqlite == "":
		return []string{"-store (PREENROLL_STORE) is required: the SQLite file to back up"}
	}
	if storeDirProblem(c.Store) != "" {
		return nil // reported
	}
	switch fi, err := os.Stat(spec.sqlite); {
	case errors.Is(err, fs.ErrNotExist):
		return []string{fmt.Sprintf("-store (PREENROLL_STORE) %s does not exist: nothing to back up", spec.sqlite)}
	case err == nil && fi.IsDir():
		return []string{fmt.Sprintf("-store (PREENROLL_STORE) %s is a directory", spec.sqlite)}
	}
	return nil // other errors (permissions) are the store's to report when it is read
}

// backupFileProblem says why FILE cannot be backup's destination, before
// the store is read: it is empty, a directory or another file that
// exists, or its directory does not exist. Backup checks again when it
// names the copy.
func backupFileProblem(dest string) string {
	if dest == "" {
		return "FILE is empty: name the new file to write the copy to"
	}
	if fi, err := os.Stat(dest); err == nil && fi.IsDir() {
		return fmt.Sprintf("%s is a directory: FILE is the new file to write the copy to; name one in it", dest)
	}
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Sprintf("%s exists: a backup never overwrites a file; name another", dest)
	}
	dir := filepath.Dir(dest)
	switch fi, err := os.Stat(dir); {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("%s: the directory %s does not exist", dest, dir)
	case err == nil && !fi.IsDir():
		return fmt.Sprintf("%s: %s is not a directory", dest, dir)
	}
	return ""
}

// runBackup copies the SQLite store to FILE and prints what the copy
// holds.
func runBackup(ctx context.Context, inv *Invocation) int {
	dest := inv.Args[0]
	if p := backupFileProblem(dest); p != "" {
		inv.errorf("%s", safe(p))
		return ExitUsage
	}
	spec, _ := parseStore(inv.Config.Store) // a SQLite file: checkBackup
	path := spec.sqlite
	// Read-only, not migrated: an older schema is copied as it is. The
	// copy is checked (quick_check) and counted before it is named dest.
	c, err := fulfillment.BackupSQLite(ctx, path, dest)
	schema, refused := errors.AsType[*fulfillment.SchemaError](err)
	switch {
	case refused && schema.Newer():
		has := "has"
		if schema.Copy {
			has = "was migrated during the copy, by a newer program, to" // the store's copy has it
		}
		inv.errorf("%s %s schema version %d, newer than this program's %d: back it up with the preenroll that serve runs on it",
			safe(path), has, schema.Version, schema.Latest)
		return ExitFailed
	case refused:
		inv.errorf("%s has no schema (an empty file, or no store of preenroll): nothing to back up", safe(path))
		return ExitFailed
	case err != nil:
		report(ctx, inv.Stderr, "preenroll backup", err)
		return ExitFailed
	}
	var size int64
	if fi, err := os.Stat(dest); err == nil {
		size = fi.Size()
	}
	older := ""
	if c.Version < c.Latest {
		older = fmt.Sprintf(" (older than this program's %d: serve migrates it when it opens it)", c.Latest)
	}
	fmt.Fprintf(inv.Stdout, "backup: wrote %s (%d bytes): %d records, %d handled events, %d documents; schema version %d%s\n",
		safe(dest), size, c.Records, c.Events, c.Documents, c.Version, older)
	return ExitOK
}

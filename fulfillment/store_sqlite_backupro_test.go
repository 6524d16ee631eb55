package fulfillment_test

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/internal/testdir"
)

// makeReadOnly takes the write permissions off dir and the files in it
// (0400, the directory 0500), as for a user who may only read the store,
// and puts them back when the test ends. It reports whether they stop
// this process: not when it runs as root, which permission bits do not
// stop.
func makeReadOnly(t *testing.T, dir string) bool {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if err := os.Chmod(filepath.Join(dir, e.Name()), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Chmod(dir, 0o700)
		for _, e := range es {
			os.Chmod(filepath.Join(dir, e.Name()), 0o600)
		}
	})
	return runtime.GOOS != "windows" && os.Geteuid() != 0
}

// TestBackupSQLite: BackupSQLite copies a store (closed, or open in
// another handle with commits in its write-ahead log, or at an older
// schema) from a directory it may only read, and writes, creates and
// migrates nothing there: the directory's names, sizes, modes,
// modification times and contents are the same after it. As root, whom
// permission bits do not stop, that unchanged directory is the evidence
// that the store was only read (it is opened with mode=ro or immutable);
// as another user the permissions also forbid any write. The copy has
// the store's records, events and documents and its schema version; an
// older one is migrated when the copy is opened.
func TestBackupSQLite(t *testing.T) {
	t.Parallel()
	latest := fulfillment.SQLiteMigrations
	for _, tc := range []struct {
		name string
		// make makes the store at path and returns its contents, nil
		// when the test does not compare them (an older schema, which
		// the store's methods would migrate).
		make    func(t *testing.T, path string) *storeContents
		version int
		counts  fulfillment.BackupContents
	}{
		{"closed store", func(t *testing.T, path string) *storeContents {
			s, err := fulfillment.OpenSQLite(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			fillStore(t, s)
			c := contentsOf(t, s)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path + "-wal"); err == nil {
				t.Fatal("the closed store left its write-ahead log")
			}
			return &c
		}, latest, fulfillment.BackupContents{Version: latest, Latest: latest, Records: 5, Events: 3, Documents: 2}},
		{"store in use", func(t *testing.T, path string) *storeContents {
			s := openSQLite(t, path) // open until the test ends, as serve
			fillStore(t, s)
			if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
				t.Fatalf("the open store has no write-ahead log with its commits: %v", err)
			}
			c := contentsOf(t, s)
			return &c
		}, latest, fulfillment.BackupContents{Version: latest, Latest: latest, Records: 5, Events: 3, Documents: 2}},
		{"a killed serve's files: commits in the write-ahead log, an index nobody holds", func(t *testing.T, path string) *storeContents {
			live := filepath.Join(t.TempDir(), "live.db")
			s := openSQLite(t, live)
			fillStore(t, s)
			for _, suffix := range []string{"", "-wal", "-shm"} {
				copyFile(t, live+suffix, path+suffix)
			}
			if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
				t.Fatalf("no write-ahead log with commits: %v", err)
			}
			c := contentsOf(t, s)
			return &c
		}, latest, fulfillment.BackupContents{Version: latest, Latest: latest, Records: 5, Events: 3, Documents: 2}},
		{"older schema", func(t *testing.T, path string) *storeContents {
			makeSQLiteAt(t, path, 2)
			return nil
		}, 2, fulfillment.BackupContents{Version: 2, Latest: latest}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "keys.db")
			want := tc.make(t, path)
			enforced := makeReadOnly(t, dir)
			if !enforced {
				t.Log("running as root (or on Windows): the permissions stop no write; the unchanged directory is the evidence")
			}
			beforeFiles, beforeStamps := testdir.Contents(t, dir), testdir.Stamps(t, dir)

			out := t.TempDir()
			dest := filepath.Join(out, "b.db")
			copied, err := fulfillment.BackupSQLite(t.Context(), path, dest)
			if err != nil {
				t.Fatalf("BackupSQLite: %v", err)
			}
			if diff := cmp.Diff(tc.counts, copied); diff != "" {
				t.Errorf("BackupSQLite's contents (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(beforeFiles, testdir.Contents(t, dir)); diff != "" {
				t.Errorf("the store's directory's contents changed (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(beforeStamps, testdir.Stamps(t, dir)); diff != "" {
				t.Errorf("the store's directory's entries changed (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"b.db"}, testdir.Names(t, out)); diff != "" {
				t.Errorf("files beside the backup (-want +got):\n%s", diff)
			}
			if fi, err := os.Stat(dest); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
				t.Errorf("the backup: %v, %v; want mode 0600", fi, err)
			}
			got, err := fulfillment.InspectSQLiteBackup(t.Context(), dest)
			if err != nil {
				t.Fatalf("InspectSQLiteBackup: %v", err)
			}
			if diff := cmp.Diff(tc.counts, got); diff != "" {
				t.Errorf("InspectSQLiteBackup (-want +got):\n%s", diff)
			}
			if tc.version != latest {
				if v := sqliteVersion(t, path); v != tc.version {
					t.Errorf("the store's schema version %d after the backup, want %d", v, tc.version)
				}
			}
			b := openSQLite(t, dest) // migrates an older copy
			if v, err := b.SchemaVersion(t.Context()); err != nil || v != latest {
				t.Errorf("the copy's schema version once opened: %d, %v; want %d", v, err, latest)
			}
			if want != nil {
				if diff := cmp.Diff(*want, contentsOf(t, b)); diff != "" {
					t.Errorf("the backup's contents (-store +backup):\n%s", diff)
				}
			}
		})
	}
}

// TestBackupSQLiteRefuses: BackupSQLite refuses a store of a newer schema
// (in use or not), a database without one, an empty file and a missing
// one, with an error naming it, and writes nothing: no file where the
// copy would go, the store's directory as it was. The refusals of a
// schema wrap a *SchemaError (errors.As) that says which.
func TestBackupSQLiteRefuses(t *testing.T) {
	t.Parallel()
	latest := fulfillment.SQLiteMigrations
	newer := &fulfillment.SchemaError{Version: latest + 1, Latest: latest}
	for _, tc := range []struct {
		name   string
		make   func(t *testing.T, path string)
		want   string                   // in the error
		schema *fulfillment.SchemaError // errors.As finds it; nil: none
	}{
		{"newer schema", func(t *testing.T, path string) {
			makeSQLiteAt(t, path, latest)
			sqliteExecTest(t, path, fmt.Sprintf(`INSERT INTO migrations(version, applied_at) VALUES (%d, 'later')`, latest+1))
		}, fmt.Sprintf("schema version %d, newer than this program's %d", latest+1, latest), newer},
		{"newer schema, in its write-ahead log (a killed serve's files)", func(t *testing.T, path string) {
			// Copies, whose index no handle of this process holds: SQLite
			// shares one mapping of an index among a process's handles,
			// and a reader takes its read marks in it.
			live := filepath.Join(t.TempDir(), "live.db")
			liveSQLite(t, live, latest) // migration latest+1 in its log only
			for _, suffix := range []string{"", "-wal", "-shm"} {
				copyFile(t, live+suffix, path+suffix)
			}
		}, fmt.Sprintf("schema version %d, newer than this program's %d", latest+1, latest), newer},
		{"no schema", func(t *testing.T, path string) {
			sqliteExecTest(t, path, `CREATE TABLE other (x)`)
		}, "no schema version (no store of this package): nothing to back up", &fulfillment.SchemaError{Latest: latest}},
		{"empty file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "it is empty: no database", &fulfillment.SchemaError{Latest: latest, Empty: true}},
		{"missing", func(t *testing.T, path string) {}, "no such file", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "keys.db")
			tc.make(t, path)
			before := testdir.Contents(t, dir)
			out := t.TempDir()
			dest := filepath.Join(out, "b.db")
			c, err := fulfillment.BackupSQLite(t.Context(), path, dest)
			if err == nil || !strings.HasPrefix(err.Error(), "fulfillment: sqlite: ") || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("BackupSQLite = %v, want an error naming %s, with %q", err, path, tc.want)
			}
			if c != (fulfillment.BackupContents{}) {
				t.Errorf("BackupSQLite's contents %+v with its error, want none", c)
			}
			se, _ := errors.AsType[*fulfillment.SchemaError](err)
			if diff := cmp.Diff(tc.schema, se); diff != "" {
				t.Errorf("errors.As(*SchemaError) (-want +got):\n%s", diff)
			}
			if names := testdir.Names(t, out); len(names) != 0 {
				t.Errorf("files written: %q", names)
			}
			if diff := cmp.Diff(before, testdir.Contents(t, dir)); diff != "" {
				t.Errorf("the store's directory changed (-before +after):\n%s", diff)
			}
		})
	}
}

// TestSchemaError: what a *SchemaError says, and Newer, for each refusal.
func TestSchemaError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err   fulfillment.SchemaError
		want  string
		newer bool
	}{
		{fulfillment.SchemaError{Version: 9, Latest: 8}, "schema version 9, newer than this program's 8: back it up with the program that uses it", true},
		{fulfillment.SchemaError{Version: 9, Latest: 8, Copy: true}, "the copy: schema version 9, newer than this program's 8: back it up with the program that uses it (migrated meanwhile)", true},
		{fulfillment.SchemaError{Latest: 8}, "no schema version (no store of this package): nothing to back up", false},
		{fulfillment.SchemaError{Latest: 8, Empty: true}, "it is empty: no database", false},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%+v.Error() = %q, want %q", tc.err, got, tc.want)
		}
		if got := tc.err.Newer(); got != tc.newer {
			t.Errorf("%+v.Newer() = %v, want %v", tc.err, got, tc.newer)
		}
	}
}

// sqliteExecTest runs query on the database at path with a plain
// read-write handle (creating it if needed).
func sqliteExecTest(t *testing.T, path, query string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// TestBackupSQLiteWrittenMeanwhile: a store without a write-ahead log is
// read as immutable, without locks; a program that writes it during the
// copy (one that opens it, and one that opens, writes and closes it,
// which checkpoints the log into the file and removes it) has the copy
// made again (through the log if there is one then), so that it is the store as some commit
// left it; a store written during both copies is an error, with no file
// left. Not parallel: it sets BackupSQLite's hook.
func TestBackupSQLiteWrittenMeanwhile(t *testing.T) {
	for _, tc := range []struct {
		name string
		// write writes the store at path during a copy; n counts the
		// copies so far, from 1.
		write   func(t *testing.T, path string, n int)
		copies  int    // read as immutable (a store without a log)
		records int    // in the copy
		wantErr string // "" for none
	}{
		{"opened and left open", func(t *testing.T, path string, n int) {
			if n == 1 {
				s := openSQLite(t, path)
				if _, err := s.Put(t.Context(), fulfillmenttest.SampleRecord("00umeanwhile")); err != nil {
					t.Fatal(err)
				}
			}
		}, 1, 6, ""},
		{"opened, written and closed", func(t *testing.T, path string, n int) {
			if n == 1 {
				putAndClose(t, path, "00umeanwhile")
			}
		}, 2, 6, ""},
		{"written during both copies", func(t *testing.T, path string, n int) {
			putAndClose(t, path, fmt.Sprintf("00umeanwhile%d", n))
		}, 2, 0, "the store was written during the copy, twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keys.db")
			filledSQLiteFile(t, path)
			n := 0
			fulfillment.SetAfterImmutableCopy(t, func() {
				n++
				tc.write(t, path, n)
			})
			out := t.TempDir()
			dest := filepath.Join(out, "b.db")
			copied, err := fulfillment.BackupSQLite(t.Context(), path, dest)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("BackupSQLite = %v, want %q", err, tc.wantErr)
				}
				if names := testdir.Names(t, out); len(names) != 0 {
					t.Errorf("files left: %q", names)
				}
				if n != tc.copies {
					t.Errorf("%d copies read as immutable, want %d", n, tc.copies)
				}
				return
			}
			if err != nil {
				t.Fatalf("BackupSQLite: %v", err)
			}
			if n != tc.copies {
				t.Errorf("%d copies read as immutable, want %d", n, tc.copies)
			}
			c, err := fulfillment.InspectSQLiteBackup(t.Context(), dest)
			if err != nil || c.Records != tc.records {
				t.Errorf("InspectSQLiteBackup = %+v, %v; want %d records", c, err, tc.records)
			}
			if diff := cmp.Diff(c, copied); diff != "" {
				t.Errorf("BackupSQLite's contents, against InspectSQLiteBackup's (-inspect +backup):\n%s", diff)
			}
		})
	}
}

// putAndClose opens the store at path, puts a record for userID and
// closes it, as a short-lived program would.
func putAndClose(t *testing.T, path, userID string) {
	t.Helper()
	s, err := fulfillment.OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Put(t.Context(), fulfillmenttest.SampleRecord(userID)); err != nil {
		t.Fatal(err)
	}
}

// TestBackupSQLiteOtherProcess: BackupSQLite in another process (this
// test's binary run again), as preenroll backup runs beside serve, while
// writers write on through the store in this one: SQLite shares one
// mapping of a write-ahead log's index among the handles of a process,
// so only another process opens the index read-only (readonly_shm) as a
// backup user's would. Each copy is a consistent state: for every writer,
// the state after some prefix of its writes.
func TestBackupSQLiteOtherProcess(t *testing.T) {
	if src := os.Getenv("PREENROLL_TEST_BACKUP_SRC"); src != "" {
		// The other process: the copies, one after another.
		for _, dest := range strings.Split(os.Getenv("PREENROLL_TEST_BACKUP_DESTS"), string(os.PathListSeparator)) {
			if _, err := fulfillment.BackupSQLite(t.Context(), src, dest); err != nil {
				t.Fatalf("BackupSQLite: %v", err)
			}
		}
		return
	}
	if testing.Short() {
		t.Skip("runs the test binary again")
	}
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "keys.db")
	s := openSQLite(t, path)
	writers := []*backupWriter{newBackupWriter(0), newBackupWriter(1), newBackupWriter(2), newBackupWriter(3)}
	for _, w := range writers {
		if err := w.write(ctx, s, 1); err != nil { // a log with commits before the copies
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	var dests []string
	for i := range 3 {
		dests = append(dests, filepath.Join(dir, fmt.Sprintf("b%d.db", i)))
	}
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestBackupSQLiteOtherProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PREENROLL_TEST_BACKUP_SRC="+path,
		"PREENROLL_TEST_BACKUP_DESTS="+strings.Join(dests, string(os.PathListSeparator)))
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, len(writers))
	for i, w := range writers {
		wg.Go(func() {
			// Write on until the copies are made (at most 200 writes).
			for range 199 {
				select {
				case <-done:
					return
				default:
				}
				if err := w.write(ctx, s, 1); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	out, err := cmd.CombinedOutput()
	close(done)
	wg.Wait()
	if err != nil {
		t.Fatalf("the other process: %v\n%s", err, out)
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	checkPrefixes(t, dests, writers)
}

package fulfillment_test

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/internal/testdir"
)

// copyFile copies the file at from to to, for a test's copy of a store's
// files as a crash leaves them.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// liveSQLite makes a store at path at the latest schema with one commit
// more (migration latest+1) in its write-ahead log only, open until the
// test ends. Its file, log and index copied while it is open are what a
// serve killed there leaves: a log with commits, an index nobody holds.
func liveSQLite(t *testing.T, path string, latest int) {
	t.Helper()
	s := openSQLite(t, path)
	if _, err := fulfillment.SQLiteDB(s).ExecContext(t.Context(), `INSERT INTO migrations(version, applied_at) VALUES (?, 'now')`, latest+1); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("the open store has no write-ahead log with its commits: %v", err)
	}
}

// sqliteVersion reads the migrations recorded in the file at path with a
// plain read-write handle (the test's own look, not InspectSQLite's).
func sqliteVersion(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int
	if err := db.QueryRowContext(t.Context(), `SELECT COALESCE(MAX(version), 0) FROM migrations`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// makeSQLiteAt makes a database at path whose schema is at version v (its
// first v migrations), as an older OpenSQLite left it, in WAL mode.
func makeSQLiteAt(t *testing.T, path string, v int) {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	qs := []string{`CREATE TABLE migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`}
	for i := 1; i <= v; i++ {
		qs = append(qs, fulfillment.SQLiteMigration(i), fmt.Sprintf(`INSERT INTO migrations(version, applied_at) VALUES (%d, '2026-11-01T00:00:00Z')`, i))
	}
	for _, q := range qs {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestInspectSQLite: InspectSQLite reports the file's schema version
// against OpenSQLite's without creating, migrating or writing anything:
// the directory holds the same files of the same sizes after it, and the
// version read by other means is unchanged.
func TestInspectSQLite(t *testing.T) {
	t.Parallel()
	latest := fulfillment.SQLiteMigrations
	for _, tc := range []struct {
		name string
		// make prepares the directory and returns the path to inspect.
		make    func(t *testing.T, dir string) string
		want    fulfillment.SchemaStatus
		wantErr string // a substring of the error ("" for none)
		// sharedIndex: the log's index is open in this process (a store
		// the test keeps open), whose connections SQLite lets share one
		// mapping of it, read-write: InspectSQLite's read marks land in
		// it, as they would not in another process. Compared by size.
		sharedIndex bool
	}{
		{name: "missing file: nothing created", make: func(t *testing.T, dir string) string { return filepath.Join(dir, "keys.db") },
			wantErr: "no such file or directory"},
		{name: "directory", make: func(t *testing.T, dir string) string { return dir }, wantErr: "is a directory"},
		{name: "older schema", make: func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "keys.db")
			makeSQLiteAt(t, p, 1)
			return p
		}, want: fulfillment.SchemaStatus{Version: 1, Latest: latest}},
		{name: "closed by OpenSQLite's store", make: func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "keys.db")
			s, err := fulfillment.OpenSQLite(t.Context(), p)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			return p
		}, want: fulfillment.SchemaStatus{Version: latest, Latest: latest}},
		{name: "in use, newer commits in the log only", make: func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "keys.db")
			liveSQLite(t, p, latest)
			return p
		}, want: fulfillment.SchemaStatus{Version: latest + 1, Latest: latest}, sharedIndex: true},
		{name: "left by a crashed serve: a log with commits, its index held by nobody", make: func(t *testing.T, dir string) string {
			src := filepath.Join(t.TempDir(), "keys.db")
			liveSQLite(t, src, latest)
			p := filepath.Join(dir, "keys.db")
			for _, suffix := range []string{"", "-wal", "-shm"} {
				copyFile(t, src+suffix, p+suffix)
			}
			return p
		}, want: fulfillment.SchemaStatus{Version: latest + 1, Latest: latest}},
		{name: "empty file with a stale log beside it", make: func(t *testing.T, dir string) string {
			src := filepath.Join(t.TempDir(), "keys.db")
			liveSQLite(t, src, latest)
			p := filepath.Join(dir, "keys.db")
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			copyFile(t, src+"-wal", p+"-wal")
			copyFile(t, src+"-shm", p+"-shm")
			return p
		}, want: fulfillment.SchemaStatus{Version: 0, Latest: latest}},
		{name: "empty file", make: func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "keys.db")
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}, want: fulfillment.SchemaStatus{Version: 0, Latest: latest}},
		{name: "not a database", make: func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "keys.db")
			if err := os.WriteFile(p, []byte(strings.Repeat("not a database\n", 512)), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}, wantErr: "read schema version"},
		{name: "log without its index", make: func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "keys.db")
			makeSQLiteAt(t, p, 1)
			if err := os.WriteFile(p+"-wal", []byte("a log"), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}, wantErr: "has no index (-shm)"},
		{name: "file: URI", make: func(t *testing.T, dir string) string { return "file:" + filepath.Join(dir, "keys.db") }, wantErr: "want a file name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := tc.make(t, dir)
			listing := func() map[string]string {
				l := testdir.Contents(t, dir)
				if shm := filepath.Base(path) + "-shm"; tc.sharedIndex && l[shm] != "" {
					l[shm], _, _ = strings.Cut(l[shm], ",")
				}
				return l
			}
			before := listing()
			got, err := fulfillment.InspectSQLite(t.Context(), path)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), "fulfillment: sqlite: ") || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("InspectSQLite error = %v, want one beginning fulfillment: sqlite: and containing %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatalf("InspectSQLite: %v", err)
			} else if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("InspectSQLite (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, listing()); diff != "" {
				t.Errorf("files after InspectSQLite (-before +after):\n%s", diff)
			}
		})
	}
}

// TestInspectSQLiteLeavesOldSchema: an old schema inspected is still old
// (read by other means), and OpenSQLite then migrates it as InspectSQLite
// said it would.
func TestInspectSQLiteLeavesOldSchema(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys.db")
	makeSQLiteAt(t, path, 2)
	st, err := fulfillment.InspectSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Migrates() || st.Newer() || st.Version != 2 {
		t.Errorf("InspectSQLite = %+v (Migrates %v, Newer %v); want version 2, to be migrated", st, st.Migrates(), st.Newer())
	}
	if v := sqliteVersion(t, path); v != 2 {
		t.Errorf("schema version after InspectSQLite = %d, want 2 (unchanged)", v)
	}
	s := openSQLite(t, path)
	if v, err := s.SchemaVersion(t.Context()); err != nil || v != st.Latest {
		t.Errorf("OpenSQLite's SchemaVersion = %d, %v; want InspectSQLite's Latest %d", v, err, st.Latest)
	}
	if _, err := fulfillment.InspectSQLite(t.Context(), filepath.Join(t.TempDir(), "none.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("InspectSQLite of a missing file: error = %v, want one wrapping fs.ErrNotExist", err)
	}
}

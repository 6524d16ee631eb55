package cli

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/internal/testdir"
)

// openTestStore makes a SQLite store at path with n records, an event
// mark and a document, left open (as serve would have it) until the test
// ends: its last commits are in its write-ahead log.
func openTestStore(t *testing.T, path string, n int) *fulfillment.SQLiteStore {
	t.Helper()
	ctx := t.Context()
	s, err := fulfillment.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for i := range n {
		if _, err := s.Put(ctx, fulfillmenttest.SampleRecord(fmt.Sprintf("00u%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.MarkEvent(ctx, "evt-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutDocument(ctx, fulfillment.Document{Collection: fulfillment.CheckpointCollection, ID: "okta-system-log", Created: time.Now(), Data: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	return s
}

// latestSchema is the SQLite schema version this program's stores have.
func latestSchema(t *testing.T) int {
	t.Helper()
	st, err := fulfillment.InspectSQLite(t.Context(), filepath.Join(t.TempDir(), "none.db"))
	if err == nil || st.Latest == 0 {
		t.Fatalf("InspectSQLite of no file = %+v, %v", st, err)
	}
	return st.Latest
}

// setSchemaVersion makes the store at path claim schema version v, as an
// older (or newer) program would have left it.
func setSchemaVersion(t *testing.T, path string, v int) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM migrations WHERE version > ?`, v); err != nil {
		t.Fatal(err)
	}
	for have := latestSchema(t) + 1; have <= v; have++ {
		if _, err := db.Exec(`INSERT INTO migrations(version, applied_at) VALUES (?, 'later')`, have); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBackup runs preenroll backup on a store another store handle (serve)
// has open: the copy holds the commits still in the write-ahead log, and
// the command prints what it holds; with serve's environment and config
// file, which name settings backup does not take.
func TestBackup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := filepath.Join(dir, "keys.db")
	openTestStore(t, store, 3)
	latest := latestSchema(t)
	config := writeFile(t, "preenroll.json", fmt.Sprintf(`{"store": %q, "okta-org": "https://example.okta.com", "hook-path": "/okta"}`, store))
	for _, tc := range []struct {
		name string
		env  map[string]string
		args func(dest string) []string
	}{
		{"PREENROLL_STORE", map[string]string{"PREENROLL_STORE": store, "PREENROLL_OKTA_ORG": "https://example.okta.com", "PREENROLL_SYNC_INTERVAL": "1m"},
			func(dest string) []string { return []string{dest} }},
		{"-store sqlite:", nil, func(dest string) []string { return []string{"-store", "sqlite:" + store, dest} }},
		{"config file", map[string]string{"PREENROLL_CONFIG": config}, func(dest string) []string { return []string{dest} }},
		{"flag after the argument", nil, func(dest string) []string { return []string{dest, "-store", store} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dest := filepath.Join(t.TempDir(), "keys-2026-12-07.db")
			r := invocation{env: tc.env}.run(t, append([]string{"backup"}, tc.args(dest)...)...)
			if r.code != ExitOK || r.stderr != "" {
				t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
			}
			fi, err := os.Stat(dest)
			if err != nil {
				t.Fatal(err)
			}
			if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
				t.Errorf("backup mode %v, want 0600", fi.Mode().Perm())
			}
			want := fmt.Sprintf("backup: wrote %s (%d bytes): 3 records, 1 handled events, 1 documents; schema version %d\n", dest, fi.Size(), latest)
			if diff := cmp.Diff(want, r.stdout); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			c, err := fulfillment.InspectSQLiteBackup(t.Context(), dest)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(fulfillment.BackupContents{Version: latest, Latest: latest, Records: 3, Events: 1, Documents: 1}, c); diff != "" {
				t.Errorf("the backup (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBackupRefuses: what backup refuses, with its exit code; nothing is
// written, and a store of another schema version is not migrated.
func TestBackupRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := filepath.Join(dir, "keys.db")
	openTestStore(t, store, 1)
	latest := latestSchema(t)
	newer := filepath.Join(dir, "newer.db")
	openTestStore(t, newer, 1)
	setSchemaVersion(t, newer, latest+1)
	empty := writeFile(t, "empty.db", "")
	other := filepath.Join(dir, "other.db") // an SQLite database, not a store
	if db, err := sql.Open("sqlite", other); err != nil {
		t.Fatal(err)
	} else if _, err := db.Exec(`CREATE TABLE other (x)`); err != nil {
		t.Fatal(err)
	} else if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	existing := writeFile(t, "old-backup.db", "an older backup")
	out := t.TempDir()
	dest := filepath.Join(out, "b.db")
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want []string // stderr's lines
	}{
		{"PostgreSQL store", map[string]string{"PREENROLL_STORE": "postgres://app:hunter22@db.example.com/keys"}, []string{dest}, ExitUsage, []string{
			"preenroll backup: -store (PREENROLL_STORE) is a PostgreSQL database: back it up with pg_dump (docs/deploy.md, Backups); backup copies a SQLite store",
			"(preenroll help backup lists the settings)"}},
		{"no store", nil, []string{dest}, ExitUsage, []string{
			"preenroll backup: -store (PREENROLL_STORE) is required: the SQLite file to back up",
			"(preenroll help backup lists the settings)"}},
		{"missing argument", map[string]string{"PREENROLL_STORE": store}, nil, ExitUsage, []string{
			"preenroll backup: missing argument: FILE",
			"(preenroll help backup lists the settings)"}},
		{"two arguments", map[string]string{"PREENROLL_STORE": store}, []string{dest, dest + "2"}, ExitUsage, []string{
			fmt.Sprintf("preenroll backup: unexpected argument %q", dest+"2"),
			"(preenroll help backup lists the settings)"}},
		{"store does not exist", nil, []string{"-store", filepath.Join(dir, "nope.db"), dest}, ExitUsage, []string{
			"preenroll backup: -store (PREENROLL_STORE) " + filepath.Join(dir, "nope.db") + " does not exist: nothing to back up",
			"(preenroll help backup lists the settings)"}},
		{"store is a directory", nil, []string{"-store", dir, dest}, ExitUsage, []string{
			"preenroll backup: -store (PREENROLL_STORE) " + dir + " is a directory",
			"(preenroll help backup lists the settings)"}},
		{"FILE exists", nil, []string{"-store", store, existing}, ExitUsage, []string{
			"preenroll backup: " + existing + " exists: a backup never overwrites a file; name another"}},
		{"FILE is a directory", nil, []string{"-store", store, out}, ExitUsage, []string{
			"preenroll backup: " + out + " is a directory: FILE is the new file to write the copy to; name one in it"}},
		{"FILE is a directory, with a slash", nil, []string{"-store", store, out + "/"}, ExitUsage, []string{
			"preenroll backup: " + out + "/ is a directory: FILE is the new file to write the copy to; name one in it"}},
		{"FILE empty", nil, []string{"-store", store, ""}, ExitUsage, []string{
			"preenroll backup: FILE is empty: name the new file to write the copy to"}},
		{"no directory", nil, []string{"-store", store, filepath.Join(out, "missing", "b.db")}, ExitUsage, []string{
			"preenroll backup: " + filepath.Join(out, "missing", "b.db") + ": the directory " + filepath.Join(out, "missing") + " does not exist"}},
		{"empty store", nil, []string{"-store", empty, dest}, ExitFailed, []string{
			"preenroll backup: " + empty + " has no schema (an empty file, or no store of preenroll): nothing to back up"}},
		{"no store of preenroll", nil, []string{"-store", other, dest}, ExitFailed, []string{
			"preenroll backup: " + other + " has no schema (an empty file, or no store of preenroll): nothing to back up"}},
		{"newer schema", nil, []string{"-store", newer, dest}, ExitFailed, []string{
			fmt.Sprintf("preenroll backup: %s has schema version %d, newer than this program's %d: back it up with the preenroll that serve runs on it", newer, latest+1, latest)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := invocation{env: tc.env}.run(t, append([]string{"backup"}, tc.args...)...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d", r.code, tc.code)
			}
			if diff := cmp.Diff(tc.want, lines(r.stderr)); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			if r.stdout != "" {
				t.Errorf("stdout: %q", r.stdout)
			}
			if strings.Contains(r.stderr, "hunter22") {
				t.Error("the PostgreSQL password was printed")
			}
			if names := testdir.Names(t, out); len(names) != 0 {
				t.Errorf("files written: %q", names)
			}
		})
	}
	if b, err := os.ReadFile(existing); err != nil || string(b) != "an older backup" {
		t.Errorf("the existing file: %q, %v", b, err)
	}
	if st, err := fulfillment.InspectSQLite(t.Context(), newer); err != nil || st.Version != latest+1 {
		t.Errorf("newer.db: schema version %d, %v; want %d", st.Version, err, latest+1)
	}
}

// TestBackupOlderSchema: a store of an older schema version, open in an
// older serve, is copied as it is (the upgrade day's backup, with the new
// binary before the switch): the copy has that version and says so, and
// the store is not migrated, nor its directory written.
func TestBackupOlderSchema(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := filepath.Join(dir, "keys.db")
	openTestStore(t, store, 2) // open until the test ends, as the older serve
	latest := latestSchema(t)
	setSchemaVersion(t, store, latest-1)
	before := testdir.Stamps(t, dir)
	dest := filepath.Join(t.TempDir(), "b.db")
	r := invocation{}.run(t, "backup", "-store", store, dest)
	if r.code != ExitOK || r.stderr != "" {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	fi, err := os.Stat(dest)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("backup: wrote %s (%d bytes): 2 records, 1 handled events, 1 documents; schema version %d (older than this program's %d: serve migrates it when it opens it)\n", dest, fi.Size(), latest-1, latest)
	if diff := cmp.Diff(want, r.stdout); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	if c, err := fulfillment.InspectSQLiteBackup(t.Context(), dest); err != nil || c.Version != latest-1 {
		t.Errorf("the backup: %+v, %v; want schema version %d", c, err, latest-1)
	}
	if st, err := fulfillment.InspectSQLite(t.Context(), store); err != nil || st.Version != latest-1 {
		t.Errorf("the store's schema version %d, %v; want %d (not migrated)", st.Version, err, latest-1)
	}
	if diff := cmp.Diff(before, testdir.Stamps(t, dir)); diff != "" {
		t.Errorf("the store's directory (-before +after):\n%s", diff)
	}
}

// TestBackupHelp: preenroll help backup documents the command and the
// settings it takes (-store and -config), and no secret.
func TestBackupHelp(t *testing.T) {
	t.Parallel()
	r := runCLI(t, "help", "backup")
	if r.code != ExitOK {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	for _, want := range []string{"usage: preenroll backup [settings] FILE\n", "pg_dump", "  -store  (PREENROLL_STORE, file key \"store\")\n", "  -config  (PREENROLL_CONFIG)\n", "Exit codes: 0 backed up"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("help lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, not := range []string{"-okta-org", "-verbose", "Secrets ("} {
		if strings.Contains(r.stdout, not) {
			t.Errorf("help has %q:\n%s", not, r.stdout)
		}
	}
	if r := runCLI(t, "backup", "-okta-org", "https://example.okta.com", "b.db"); r.code != ExitUsage || !strings.Contains(r.stderr, "flag provided but not defined: -okta-org") {
		t.Errorf("backup -okta-org: exit %d, stderr %q", r.code, r.stderr)
	}
}

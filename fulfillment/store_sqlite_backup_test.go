package fulfillment_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	sqlite "modernc.org/sqlite"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/internal/testdir"
)

// backupCollection is the documents' collection of the backup tests.
const backupCollection = "backup-test"

// fillStore puts records (one with a bookkeeping write on top of its
// step), event marks and documents (the catch-up checkpoint's collection
// among them) in s.
func fillStore(t *testing.T, s *fulfillment.SQLiteStore) {
	t.Helper()
	ctx := t.Context()
	for i := range 5 {
		r, err := s.Put(ctx, fulfillmenttest.SampleRecord(fmt.Sprintf("00u%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			r.NextCheck = r.NextCheck.Add(time.Hour) // no history entry: the bookkeeping handle
			if _, err := s.Put(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 3 {
		if _, err := s.MarkEvent(ctx, fmt.Sprintf("evt-%d", i), storeT0); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []fulfillment.Document{
		{Collection: fulfillment.CheckpointCollection, ID: "okta-system-log", Created: storeT0, Data: []byte(`{"since":"x"}`)},
		{Collection: backupCollection, ID: "a", Created: storeT0.In(time.FixedZone("", 3600)), Data: []byte{0, 1, 2}},
	} {
		if _, err := s.PutDocument(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
}

// storeContents is what the backup tests compare of two stores.
type storeContents struct {
	Records   []fulfillment.Record
	Events    map[string]bool // the events fillStore marks, and one it does not
	Documents map[string][]fulfillment.Document
}

// contentsOf reads s's records, fillStore's events and its documents.
func contentsOf(t *testing.T, s *fulfillment.SQLiteStore) storeContents {
	t.Helper()
	ctx := t.Context()
	recs, err := s.List(ctx, fulfillment.Query{})
	if err != nil {
		t.Fatal(err)
	}
	c := storeContents{Records: recs, Events: map[string]bool{}, Documents: map[string][]fulfillment.Document{}}
	for _, id := range []string{"evt-0", "evt-1", "evt-2", "evt-other"} {
		if c.Events[id], err = s.EventMarked(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, coll := range []string{fulfillment.CheckpointCollection, backupCollection} {
		if c.Documents[coll], err = s.ListDocuments(ctx, coll, 0); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// TestSQLiteBackup: a backup holds every record (with its bookkeeping
// write), event mark and document of its store, at the latest schema,
// mode 0600, with no other file left beside it; it opens with OpenSQLite
// and InspectSQLiteBackup counts it without writing.
func TestSQLiteBackup(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openSQLite(t, filepath.Join(t.TempDir(), "keys.db"))
	fillStore(t, s)
	want := contentsOf(t, s)

	dir := t.TempDir()
	dest := filepath.Join(dir, "keys-2026-12-07.db")
	copied, err := s.Backup(ctx, dest)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if diff := cmp.Diff([]string{"keys-2026-12-07.db"}, testdir.Names(t, dir)); diff != "" {
		t.Errorf("files beside the backup (-want +got):\n%s", diff)
	}
	fi, err := os.Stat(dest)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600", fi.Mode().Perm())
	}

	before := testdir.Contents(t, dir)
	got, err := fulfillment.InspectSQLiteBackup(ctx, dest)
	if err != nil {
		t.Fatalf("InspectSQLiteBackup: %v", err)
	}
	wantCounts := fulfillment.BackupContents{Version: fulfillment.SQLiteMigrations, Latest: fulfillment.SQLiteMigrations, Records: 5, Events: 3, Documents: 2}
	if diff := cmp.Diff(wantCounts, got); diff != "" {
		t.Errorf("InspectSQLiteBackup (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(got, copied); diff != "" {
		t.Errorf("Backup's contents, against InspectSQLiteBackup's (-inspect +backup):\n%s", diff)
	}
	if diff := cmp.Diff(before, testdir.Contents(t, dir)); diff != "" {
		t.Errorf("InspectSQLiteBackup changed the directory (-before +after):\n%s", diff)
	}

	b := openSQLite(t, dest)
	if v, err := b.SchemaVersion(ctx); err != nil || v != fulfillment.SQLiteMigrations {
		t.Errorf("backup's schema version %d, %v; want %d", v, err, fulfillment.SQLiteMigrations)
	}
	if diff := cmp.Diff(want, contentsOf(t, b)); diff != "" {
		t.Errorf("backup's contents (-store +backup):\n%s", diff)
	}
	// The store goes on as before.
	if _, err := s.Put(ctx, fulfillmenttest.SampleRecord("00u9")); err != nil {
		t.Errorf("Put after Backup: %v", err)
	}
}

// TestSQLiteBackupRefuses: a backup never overwrites anything, needs its
// directory, refuses a name SQLite would not take for a file and a
// context already done; every refusal names the destination (or the
// path) and leaves the directory as it was: no file under dest's name,
// no temporary file.
func TestSQLiteBackupRefuses(t *testing.T) {
	t.Parallel()
	s := openSQLite(t, filepath.Join(t.TempDir(), "keys.db"))
	fillStore(t, s)
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns dest
		ctx   context.Context
		is    error
		want  string // in the error, with %[1]q for dest and %[2]q for its directory
	}{
		{name: "file exists", setup: func(t *testing.T, dir string) string {
			return writeTestFile(t, dir, "b.db", "an older backup")
		}, is: fs.ErrExist, want: `to %[1]q: file already exists: a backup never overwrites a file`},
		{name: "empty file exists", setup: func(t *testing.T, dir string) string {
			return writeTestFile(t, dir, "b.db", "") // VACUUM INTO would write into it
		}, is: fs.ErrExist, want: `to %[1]q: file already exists`},
		{name: "directory", setup: func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "b.db")
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
			return p
		}, is: fs.ErrExist, want: `to %[1]q: file already exists`},
		{name: "dangling symlink", setup: func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "b.db")
			if err := os.Symlink(filepath.Join(dir, "elsewhere.db"), p); err != nil {
				t.Skip("no symlinks here:", err)
			}
			return p
		}, is: fs.ErrExist, want: `to %[1]q: file already exists`},
		{name: "no directory", setup: func(t *testing.T, dir string) string {
			return filepath.Join(dir, "missing", "b.db")
		}, want: `to %[1]q: the directory %[2]q does not exist`},
		{name: "not a file name", setup: func(t *testing.T, dir string) string { return ":memory:" },
			want: `path %[1]q: want a file name`},
		{name: "question mark", setup: func(t *testing.T, dir string) string { return filepath.Join(dir, "b.db?mode=memory") },
			want: `path %[1]q contains '?' or NUL`},
		{name: "context done", setup: func(t *testing.T, dir string) string { return filepath.Join(dir, "b.db") },
			ctx: canceled, is: context.Canceled, want: `to %[1]q: context canceled`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			dest := tc.setup(t, dir)
			before := testdir.Contents(t, dir)
			ctx := tc.ctx
			if ctx == nil {
				ctx = t.Context()
			}
			c, err := s.Backup(ctx, dest)
			want := fmt.Sprintf(tc.want, dest, filepath.Dir(dest))
			if err == nil || !strings.HasPrefix(err.Error(), "fulfillment: sqlite: ") || !strings.Contains(err.Error(), want) {
				t.Fatalf("Backup(%q) = %v, want an error containing %s", dest, err, want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not match %v", err, tc.is)
			}
			if c != (fulfillment.BackupContents{}) {
				t.Errorf("Backup's contents %+v with its error, want none", c)
			}
			if diff := cmp.Diff(before, testdir.Contents(t, dir)); diff != "" {
				t.Errorf("directory after the refusal (-before +after):\n%s", diff)
			}
		})
	}

	// A store closed: SQLite's error, and the temporary file removed.
	closed, err := fulfillment.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "closed.db"))
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	dir := t.TempDir()
	if _, err := closed.Backup(t.Context(), filepath.Join(dir, "b.db")); err == nil || !strings.Contains(err.Error(), "database is closed") {
		t.Errorf("Backup of a closed store = %v, want database is closed", err)
	}
	if names := testdir.Names(t, dir); len(names) != 0 {
		t.Errorf("files left by a failed backup: %q", names)
	}
}

// TestSQLiteBackupNoFileThere: a directory that exists but makes no file
// (Linux's /proc answers "no such file" to a create) is not said to be
// missing: the error is the file system's own.
func TestSQLiteBackupNoFileThere(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux's")
	}
	if _, err := os.Stat("/proc/self"); err != nil {
		t.Skip("no /proc:", err)
	}
	path := filepath.Join(t.TempDir(), "keys.db")
	s := openSQLite(t, path)
	dest := "/proc/b.db"
	_, err := s.Backup(t.Context(), dest)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("back up %q to %q: ", path, dest)) || strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Backup(%q) = %v, want the file system's error, naming dest, not a missing directory", dest, err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Backup(%q) = %v, want fs.ErrNotExist (the file system's ENOENT)", dest, err)
	}
}

// gate blocks the statement compiled on a store's one connection when it
// reaches the copy of the records table into VACUUM INTO's output: the
// copy has its read transaction (its snapshot) from then on, and has
// written the schema and the tables before records but not the rest.
type gate struct {
	mu      sync.Mutex
	armed   bool
	passed  bool          // a copy went through the gate
	later   []string      // the tables the copy went on to, after the gate
	reached chan struct{} // closed when the copy reaches the gate
	release chan struct{} // closed by the test to let it go on
}

// installGate limits s's durable handle (the one Backup uses) to one
// connection and installs on it the authorizer that blocks at the gate
// once it is armed.
func installGate(t *testing.T, s *fulfillment.SQLiteStore) *gate {
	t.Helper()
	db := fulfillment.SQLiteDB(s)
	db.SetMaxOpenConns(1)
	g := &gate{}
	c, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Raw(func(dc any) error {
		ar, ok := dc.(sqlite.AuthorizerRegisterer)
		if !ok {
			return errors.New("the driver's connection has no authorizer")
		}
		return ar.RegisterAuthorizer(func(action sqlite.AuthorizerActionCode, table, _, database, _ string) sqlite.AuthorizerReturnCode {
			if action != sqlite.AuthInsert || database == "main" {
				return sqlite.AuthorizerOK
			}
			g.mu.Lock()
			armed := g.armed && table == "records"
			if armed {
				g.armed = false
			} else if g.passed {
				g.later = append(g.later, table)
			}
			g.mu.Unlock()
			if armed {
				close(g.reached)
				<-g.release
				g.mu.Lock()
				g.passed = true
				g.mu.Unlock()
			}
			return sqlite.AuthorizerOK
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// arm makes the gate block the next copy, with channels made by the
// calling goroutine (a synctest bubble's, if it runs in one).
func (g *gate) arm() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed, g.passed, g.later = true, false, nil
	g.reached, g.release = make(chan struct{}), make(chan struct{})
}

// copiedAfter returns the tables the copy that passed the gate went on
// to copy.
func (g *gate) copiedAfter() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.later)
}

// TestSQLiteBackupInterrupted: a backup whose context ends while SQLite
// copies (modernc.org/sqlite interrupts the running statement) returns the
// context's error and leaves no file; the store and its connection go on.
// The copy is held at the gate while the context is canceled, and let go
// once the driver's watcher has interrupted it (synctest.Wait): the
// interrupt lands in the middle of VACUUM INTO, every time.
func TestSQLiteBackupInterrupted(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys.db")
	s := openSQLite(t, path)
	fillStore(t, s)
	g := installGate(t, s)
	dir := t.TempDir()
	dest := filepath.Join(dir, "b.db")
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		g.arm()
		errc := make(chan error, 1)
		go func() {
			_, err := s.Backup(ctx, dest)
			errc <- err
		}()
		<-g.reached
		names := testdir.Names(t, dir) // the temporary file, and SQLite's journal of it
		if len(names) == 0 || slices.ContainsFunc(names, func(n string) bool { return !strings.HasPrefix(n, ".b.db.tmp-") }) {
			t.Errorf("files while the copy runs: %q, want only its temporary files", names)
		}
		cancel()
		synctest.Wait() // the driver's watcher has interrupted the connection
		close(g.release)
		err := <-errc
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), fmt.Sprintf("fulfillment: sqlite: back up %q to %q: ", path, dest)) {
			t.Errorf("Backup = %v, want context.Canceled naming the store and %s", err, dest)
		}
	})
	// Interrupted in the records table, the copy went no further (it
	// copies the events and the documents next).
	if later := g.copiedAfter(); len(later) != 0 {
		t.Errorf("the copy went on to %q after the interrupt", later)
	}
	if names := testdir.Names(t, dir); len(names) != 0 {
		t.Errorf("files left by an interrupted backup: %q", names)
	}
	// The same connection (the store has one) backs up again.
	if _, err := s.Backup(t.Context(), dest); err != nil {
		t.Fatalf("Backup after the interrupted one: %v", err)
	}
	if c, err := fulfillment.InspectSQLiteBackup(t.Context(), dest); err != nil || c.Records != 5 {
		t.Errorf("InspectSQLiteBackup = %+v, %v; want 5 records", c, err)
	}
}

// writerState is what one writer of the concurrent backup tests has
// written, as of some number of its writes.
type writerState struct {
	Records map[string]fulfillment.Record
	Events  map[string]bool
	Doc     fulfillment.Document
}

// backupWriter writes, one at a time, cycles of five writes: a record
// created, an event marked, the record's next step (a history entry: the
// durable handle), a bookkeeping write on it (the other handle) and the
// writer's document replaced. states[n] is its state after its first n
// writes, so that a copy of the store can be matched with a prefix of
// them.
type backupWriter struct {
	name   string
	states []writerState
}

// newBackupWriter returns writer w, nothing written.
func newBackupWriter(w int) *backupWriter {
	return &backupWriter{name: fmt.Sprintf("w%d", w), states: []writerState{{Records: map[string]fulfillment.Record{}, Events: map[string]bool{}}}}
}

// write makes writes n (from 0) to n+count-1 on s.
func (b *backupWriter) write(ctx context.Context, s *fulfillment.SQLiteStore, count int) error {
	for range count {
		n := len(b.states) - 1
		cur := b.states[n]
		next := writerState{Records: map[string]fulfillment.Record{}, Events: map[string]bool{}, Doc: cur.Doc}
		for k, v := range cur.Records {
			next.Records[k] = v
		}
		for k, v := range cur.Events {
			next.Events[k] = v
		}
		id := fmt.Sprintf("00u%s-%d", b.name, n/5)
		var err error
		switch n % 5 {
		case 0:
			r := fulfillmenttest.SampleRecord(id)
			r.History = r.History[:1]
			next.Records[id], err = s.Put(ctx, r)
		case 1:
			_, err = s.MarkEvent(ctx, "evt-"+id, storeT0)
			next.Events["evt-"+id] = true
		case 2:
			r := cur.Records[id]
			r.History = append(slices.Clone(r.History), fulfillment.Change{At: storeT0.Add(time.Minute), Status: r.Status, Step: fulfillment.StepShipmentCreating, Attempt: 1, Key: "k-" + id})
			next.Records[id], err = s.Put(ctx, r)
		case 3:
			r := cur.Records[id]
			r.NextCheck = r.NextCheck.Add(time.Hour)
			next.Records[id], err = s.Put(ctx, r)
		case 4:
			d := cur.Doc
			if d.Version == 0 {
				d = fulfillment.Document{Collection: backupCollection, ID: b.name, Created: storeT0}
			}
			d.Data = []byte(id)
			next.Doc, err = s.PutDocument(ctx, d)
		}
		if err != nil {
			return fmt.Errorf("%s, write %d: %w", b.name, n, err)
		}
		b.states = append(b.states, next)
	}
	return nil
}

// stateIn reads what b could have written from the store s.
func (b *backupWriter) stateIn(t *testing.T, s *fulfillment.SQLiteStore) writerState {
	t.Helper()
	ctx := t.Context()
	st := writerState{Records: map[string]fulfillment.Record{}, Events: map[string]bool{}}
	recs, err := s.List(ctx, fulfillment.Query{After: "00u" + b.name + "-", Limit: 0})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if strings.HasPrefix(r.UserID, "00u"+b.name+"-") {
			st.Records[r.UserID] = r
		}
	}
	last := b.states[len(b.states)-1]
	for id := range last.Events {
		marked, err := s.EventMarked(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if marked {
			st.Events[id] = true
		}
	}
	d, err := s.GetDocument(ctx, backupCollection, b.name)
	switch {
	case err == nil:
		st.Doc = d
	case !errors.Is(err, fulfillment.ErrDocumentNotFound):
		t.Fatal(err)
	}
	return st
}

// prefixOf returns n such that st is b's state after its first n writes,
// or -1 if it is none.
func (b *backupWriter) prefixOf(st writerState) int {
	for n, want := range b.states {
		if cmp.Equal(want, st) {
			return n
		}
	}
	return -1
}

// openBackup checks the backup at dest (the schema at the latest version)
// and opens it.
func openBackup(t *testing.T, dest string) *fulfillment.SQLiteStore {
	t.Helper()
	st, err := fulfillment.InspectSQLite(t.Context(), dest)
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != fulfillment.SQLiteMigrations {
		t.Errorf("backup's schema version %d, want %d", st.Version, fulfillment.SQLiteMigrations)
	}
	return openSQLite(t, dest)
}

// TestSQLiteBackupSnapshot: a backup holds the store as it was when its
// copy began, whatever is written after. The copy is held at the gate
// (its read transaction begun) while four writers, through a second
// store on the same file as serve would be, write on; the backup has
// exactly what they wrote before, the store everything.
func TestSQLiteBackupSnapshot(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "keys.db")
	backup := openSQLite(t, path)
	g := installGate(t, backup)
	serve := openSQLite(t, path)
	writers := []*backupWriter{newBackupWriter(0), newBackupWriter(1), newBackupWriter(2), newBackupWriter(3)}
	const before, during = 12, 13 // writes of each writer: before the copy began, while it ran
	runWriters := func(count int) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, len(writers))
		for i, w := range writers {
			wg.Go(func() { errs[i] = w.write(ctx, serve, count) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
	}
	runWriters(before)

	dest := filepath.Join(t.TempDir(), "b.db")
	g.arm()
	errc := make(chan error, 1)
	go func() {
		_, err := backup.Backup(ctx, dest)
		errc <- err
	}()
	<-g.reached
	runWriters(during)
	close(g.release)
	if err := <-errc; err != nil {
		t.Fatalf("Backup: %v", err)
	}

	b := openBackup(t, dest)
	for _, w := range writers {
		if n := w.prefixOf(w.stateIn(t, b)); n != before {
			t.Errorf("writer %s: the backup holds its first %d writes (-1: no prefix of them), want %d", w.name, n, before)
		}
		if n := w.prefixOf(w.stateIn(t, serve)); n != before+during {
			t.Errorf("writer %s: the store holds its first %d writes, want %d", w.name, n, before+during)
		}
	}
}

// TestSQLiteBackupWhileWriting: backups made while writers Put, mark and
// replace documents through the same store (its two handles) are each a
// consistent state: for every writer, exactly the state after some prefix
// of its writes (each of a record's versions is one the writer stored,
// nothing half-written), at the latest schema, and what each backup
// returned is what InspectSQLiteBackup reads of its copy. The backups are
// made by the store's Backup, and by BackupSQLite, read-only on its own
// handle, as preenroll backup makes them beside serve. Run with -race.
func TestSQLiteBackupWhileWriting(t *testing.T) {
	t.Parallel()
	for _, via := range backupVias {
		t.Run(via.name, func(t *testing.T) {
			t.Parallel()
			testSQLiteBackupWhileWriting(t, via.backup)
		})
	}
}

// backupFunc backs up the store at path, open as s, to dest.
// backupVias are the two ways to back a SQLite store up, for tests that
// run each.
var backupVias = []struct {
	name   string
	backup backupFunc
}{
	{"SQLiteStore.Backup", storeBackup},
	{"BackupSQLite", readOnlyBackup},
}

// filledSQLiteFile makes the SQLite store at path, fills it (fillStore)
// and closes it.
func filledSQLiteFile(t *testing.T, path string) {
	t.Helper()
	s, err := fulfillment.OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	fillStore(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

type backupFunc func(ctx context.Context, s *fulfillment.SQLiteStore, path, dest string) (fulfillment.BackupContents, error)

// storeBackup backs up with s's Backup.
func storeBackup(ctx context.Context, s *fulfillment.SQLiteStore, _, dest string) (fulfillment.BackupContents, error) {
	return s.Backup(ctx, dest)
}

// readOnlyBackup backs up with BackupSQLite, on its own handle.
func readOnlyBackup(ctx context.Context, _ *fulfillment.SQLiteStore, path, dest string) (fulfillment.BackupContents, error) {
	return fulfillment.BackupSQLite(ctx, path, dest)
}

func testSQLiteBackupWhileWriting(t *testing.T, backup backupFunc) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "keys.db")
	s := openSQLite(t, path)
	writers := []*backupWriter{newBackupWriter(0), newBackupWriter(1), newBackupWriter(2), newBackupWriter(3)}
	const writes = 40
	started := make(chan struct{}, len(writers))
	var wg sync.WaitGroup
	errs := make([]error, len(writers))
	for i, w := range writers {
		wg.Go(func() {
			err := w.write(ctx, s, 1)
			started <- struct{}{}
			if err == nil {
				err = w.write(ctx, s, writes-1)
			}
			errs[i] = err
		})
	}
	for range writers {
		<-started // every writer has written, and goes on
	}
	dir := t.TempDir()
	var dests []string
	for i := range 3 {
		dest := filepath.Join(dir, fmt.Sprintf("b%d.db", i))
		copied, err := backup(ctx, s, path, dest)
		if err != nil {
			t.Fatalf("backup %d: %v", i, err)
		}
		c, err := fulfillment.InspectSQLiteBackup(ctx, dest)
		if err != nil {
			t.Fatalf("InspectSQLiteBackup %d: %v", i, err)
		}
		if diff := cmp.Diff(c, copied); diff != "" {
			t.Errorf("backup %d's contents, against InspectSQLiteBackup's (-inspect +backup):\n%s", i, diff)
		}
		dests = append(dests, dest)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	checkPrefixes(t, dests, writers)
	for _, w := range writers {
		if n := w.prefixOf(w.stateIn(t, s)); n != writes {
			t.Errorf("writer %s: the store holds its first %d writes, want %d", w.name, n, writes)
		}
	}
}

// TestSQLiteBackupWithoutHardLinks: where the file system has no hard
// links, the copy is renamed into place after a check; a file made under
// dest's name meanwhile is never replaced, with or without hard links.
func TestSQLiteBackupWithoutHardLinks(t *testing.T) {
	t.Parallel()
	s := openSQLite(t, filepath.Join(t.TempDir(), "keys.db"))
	fillStore(t, s)
	noLinks := func(oldname, newname string) error {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: syscall.EPERM}
	}
	intruder := []byte("made meanwhile")
	for _, tc := range []struct {
		name    string
		link    func(dest string) func(oldname, newname string) error
		wantErr bool
	}{
		{"no hard links", func(string) func(string, string) error { return noLinks }, false},
		{"no hard links, dest made meanwhile", func(dest string) func(string, string) error {
			return func(o, n string) error {
				os.WriteFile(dest, intruder, 0o600)
				return noLinks(o, n)
			}
		}, true},
		{"dest made meanwhile", func(dest string) func(string, string) error {
			return func(o, n string) error {
				os.WriteFile(dest, intruder, 0o600)
				return os.Link(o, n)
			}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			dest := filepath.Join(dir, "b.db")
			fulfillment.SetSQLiteLink(s, tc.link(dest))
			copied, err := s.Backup(t.Context(), dest)
			if diff := cmp.Diff([]string{"b.db"}, testdir.Names(t, dir)); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			if tc.wantErr {
				if !errors.Is(err, fs.ErrExist) {
					t.Errorf("Backup = %v, want fs.ErrExist", err)
				}
				if b, _ := os.ReadFile(dest); string(b) != string(intruder) {
					t.Errorf("the file made meanwhile was replaced: %q", b)
				}
				return
			}
			if err != nil {
				t.Fatalf("Backup: %v", err)
			}
			c, err := fulfillment.InspectSQLiteBackup(t.Context(), dest)
			if err != nil || c.Records != 5 {
				t.Errorf("InspectSQLiteBackup = %+v, %v; want 5 records", c, err)
			}
			if diff := cmp.Diff(c, copied); diff != "" {
				t.Errorf("Backup's contents, against InspectSQLiteBackup's (-inspect +backup):\n%s", diff)
			}
		})
	}
}

// TestInspectSQLiteBackupErrors: what is no backup is an error naming the
// file.
func TestInspectSQLiteBackupErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	live := filepath.Join(dir, "live.db")
	liveSQLite(t, live, fulfillment.SQLiteMigrations)
	for _, tc := range []struct {
		name, path string
		want       string
		is         error
	}{
		{"missing", filepath.Join(dir, "missing.db"), "no such file", fs.ErrNotExist},
		{"empty", writeTestFile(t, dir, "empty.db", ""), "is empty", nil},
		{"not a database", writeTestFile(t, dir, "text.db", strings.Repeat("not SQLite\n", 500)), "file is not a database", nil},
		{"directory", dir, "is a directory", nil},
		{"in use", live, "a write-ahead log (-wal) is beside it", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fulfillment.InspectSQLiteBackup(t.Context(), tc.path)
			if err == nil || !strings.HasPrefix(err.Error(), "fulfillment: sqlite: ") || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("InspectSQLiteBackup(%q) = %v, want an error naming it, with %q", tc.path, err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not match %v", err, tc.is)
			}
		})
	}
}

// writeTestFile writes content to dir/name and returns its path.
func writeTestFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDirSyncErr: a backup on a file system that cannot sync a directory
// (EINVAL, ENOTSUP) succeeds; any other failure of the sync is reported.
func TestDirSyncErr(t *testing.T) {
	t.Parallel()
	eio := &fs.PathError{Op: "sync", Path: "/backups", Err: syscall.EIO}
	for _, tc := range []struct {
		err, want error
	}{
		{nil, nil},
		{&fs.PathError{Op: "sync", Path: "/backups", Err: syscall.EINVAL}, nil},
		{&fs.PathError{Op: "sync", Path: "/backups", Err: syscall.ENOTSUP}, nil},
		{eio, eio},
	} {
		if got := fulfillment.DirSyncErr(tc.err); got != tc.want {
			t.Errorf("dirSyncErr(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// checkPrefixes fails the test unless each backup in dests holds, for
// every writer, the state after some prefix of its writes.
func checkPrefixes(t *testing.T, dests []string, writers []*backupWriter) {
	t.Helper()
	for _, dest := range dests {
		b := openBackup(t, dest)
		for _, w := range writers {
			if n := w.prefixOf(w.stateIn(t, b)); n < 1 {
				t.Errorf("%s: writer %s's records, events and document are no state it left (%d)", filepath.Base(dest), w.name, n)
			}
		}
	}
}

// damageSQLite gives the store file at path, closed, a row SQLite's
// quick_check finds wrong and VACUUM INTO copies as it is: a table whose
// schema, rewritten after the fact (writable_schema), says NOT NULL of a
// column in which a row holds NULL. Every copy of the file is then as
// damaged as the file, deterministically.
func damageSQLite(t *testing.T, path string) {
	t.Helper()
	for _, q := range []string{
		`CREATE TABLE damage (x)`,
		`INSERT INTO damage (x) VALUES (NULL)`,
		`PRAGMA writable_schema = ON; UPDATE sqlite_master SET sql = 'CREATE TABLE damage (x NOT NULL)' WHERE name = 'damage'; PRAGMA writable_schema = OFF`,
	} {
		sqliteExecTest(t, path, q)
	}
}

// TestSQLiteBackupDamaged: a copy SQLite's quick_check finds damaged (its
// store is) is an error of Backup and of BackupSQLite alike, naming the
// store and dest and saying what quick_check said, with no contents; the
// copy is not named dest and no temporary file is left.
func TestSQLiteBackupDamaged(t *testing.T) {
	t.Parallel()
	for _, via := range backupVias {
		t.Run(via.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "keys.db")
			filledSQLiteFile(t, path)
			damageSQLite(t, path)
			s := openSQLite(t, path)
			dir := t.TempDir()
			dest := filepath.Join(dir, "b.db")
			c, err := via.backup(t.Context(), s, path, dest)
			want := fmt.Sprintf(`fulfillment: sqlite: back up %q to %q: the copy: damaged: SQLite's quick_check says "NULL value in damage.x"`, path, dest)
			if err == nil || err.Error() != want {
				t.Fatalf("backup = %v, want %s", err, want)
			}
			if c != (fulfillment.BackupContents{}) {
				t.Errorf("contents %+v with the error, want none", c)
			}
			if names := testdir.Names(t, dir); len(names) != 0 {
				t.Errorf("files left by the refused copy: %q", names)
			}
		})
	}
}

// TestSQLiteBackupCopyNewer: a copy whose schema version is newer than
// this program's (a newer program migrated the open store) is refused by
// Backup as BackupSQLite refuses it: an error wrapping a *SchemaError of
// the copy, no contents, nothing left.
func TestSQLiteBackupCopyNewer(t *testing.T) {
	t.Parallel()
	latest := fulfillment.SQLiteMigrations
	path := filepath.Join(t.TempDir(), "keys.db")
	s := openSQLite(t, path)
	if _, err := fulfillment.SQLiteDB(s).ExecContext(t.Context(), `INSERT INTO migrations(version, applied_at) VALUES (?, 'later')`, latest+1); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dest := filepath.Join(dir, "b.db")
	c, err := s.Backup(t.Context(), dest)
	want := fmt.Sprintf("fulfillment: sqlite: back up %q to %q: the copy: schema version %d, newer than this program's %d: back it up with the program that uses it (migrated meanwhile)", path, dest, latest+1, latest)
	if err == nil || err.Error() != want {
		t.Fatalf("Backup = %v, want %s", err, want)
	}
	var se *fulfillment.SchemaError
	if !errors.As(err, &se) {
		t.Fatalf("errors.As(%v, *SchemaError) = false", err)
	}
	if diff := cmp.Diff(&fulfillment.SchemaError{Version: latest + 1, Latest: latest, Copy: true}, se); diff != "" {
		t.Errorf("errors.As(*SchemaError) (-want +got):\n%s", diff)
	}
	if c != (fulfillment.BackupContents{}) {
		t.Errorf("contents %+v with the error, want none", c)
	}
	if names := testdir.Names(t, dir); len(names) != 0 {
		t.Errorf("files left by the refused copy: %q", names)
	}
}

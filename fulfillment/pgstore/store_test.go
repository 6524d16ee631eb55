package pgstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
	"github.com/preenroll/preenroll/internal/pgtest"
)

// serverURL returns the URL of the PostgreSQL server the tests use, from
// PREENROLL_POSTGRES_URL. Without it the test skips, or fails when CI=true:
// CI must never skip these tests silently.
func serverURL(t *testing.T) string { return pgtest.ServerURL(t) }

// freshSchema returns the name of a schema no other test uses, dropped when
// t ends.
func freshSchema(t *testing.T) string { return pgtest.SchemaName(t, "pgstore_test") }

// openStore opens a store on the test server, closed when t ends.
func openStore(t *testing.T, url string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(t.Context(), url, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	url := serverURL(t)
	fulfillmenttest.RunStoreConformance(t, func(t *testing.T) fulfillment.Store {
		return openStore(t, url, WithSchema(freshSchema(t)))
	})
}

// TestTwoInstances races two Stores with pools of their own (two service
// instances) on the same records: compare-and-swap and lease claims are
// decided by the database, so each version has one writer and each expired
// lease one new owner.
func TestTwoInstances(t *testing.T) {
	t.Parallel()
	url, schema := serverURL(t), freshSchema(t)
	ctx := t.Context()
	instances := []*Store{openStore(t, url, WithSchema(schema)), openStore(t, url, WithSchema(schema))}
	const records, workersPerInstance = 10, 4

	for i := range records {
		if _, err := instances[i%2].Put(ctx, fulfillment.Record{UserID: fmt.Sprintf("00u%02d", i), Status: fulfillment.FulfillmentStarted}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("IncrementsAreNotLost", func(t *testing.T) {
		fulfillmenttest.CheckConcurrentUpdates(t, "00ucas", instances[0], instances[1])
	})

	t.Run("LeaseClaims", func(t *testing.T) {
		now := time.Date(2026, 11, 29, 15, 0, 0, 0, time.UTC)
		for round := range 3 {
			// Every instance's workers see every record's lease expired
			// and claim it at the version they read.
			type claim struct {
				owner  string
				userID string
			}
			var mu sync.Mutex
			var won []claim
			var wg sync.WaitGroup
			errs := make(chan error, 2*workersPerInstance*records)
			for n, s := range instances {
				for w := range workersPerInstance {
					owner := fmt.Sprintf("instance-%d/worker-%d", n, w)
					wg.Go(func() {
						for i := range records {
							r, err := s.Get(ctx, fmt.Sprintf("00u%02d", i))
							if err != nil {
								errs <- err
								return
							}
							if now.Before(r.Lease.Until) {
								continue // someone claimed it this round already
							}
							r.Lease = fulfillment.Lease{Owner: owner, Until: now.Add(time.Minute)}
							_, err = s.Put(ctx, r)
							switch {
							case err == nil:
								mu.Lock()
								won = append(won, claim{owner, r.UserID})
								mu.Unlock()
							case !errors.Is(err, fulfillment.ErrVersionConflict):
								errs <- err
								return
							}
						}
					})
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			owners := map[string]string{}
			for _, c := range won {
				if prev, ok := owners[c.userID]; ok {
					t.Errorf("round %d: %s claimed by both %s and %s", round, c.userID, prev, c.owner)
				}
				owners[c.userID] = c.owner
			}
			for i := range records {
				r, err := instances[0].Get(ctx, fmt.Sprintf("00u%02d", i))
				if err != nil {
					t.Fatal(err)
				}
				if owners[r.UserID] == "" || r.Lease.Owner != owners[r.UserID] {
					t.Errorf("round %d: %s lease owner %q, want the one claimer that won (%q)", round, r.UserID, r.Lease.Owner, owners[r.UserID])
				}
			}
			now = now.Add(2 * time.Minute) // every lease expires
		}
	})

	t.Run("EventsOnce", func(t *testing.T) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		firsts := map[string]int{}
		errs := make(chan error, 2*workersPerInstance)
		for _, s := range instances {
			for range workersPerInstance {
				wg.Go(func() {
					for i := range 20 {
						id := fmt.Sprintf("evt-%d", i)
						first, err := s.MarkEvent(ctx, id, time.Now())
						if err != nil {
							errs <- err
							return
						}
						if first {
							mu.Lock()
							firsts[id]++
							mu.Unlock()
						}
					}
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for i := range 20 {
			if id := fmt.Sprintf("evt-%d", i); firsts[id] != 1 {
				t.Errorf("%s marked first %d times across two instances, want 1", id, firsts[id])
			}
		}
	})
}

// TestMigrationsOnce opens five stores on one new schema at once: each
// migration is applied and recorded once, and every Open succeeds.
func TestMigrationsOnce(t *testing.T) {
	t.Parallel()
	url, schema := serverURL(t), freshSchema(t)
	ctx := t.Context()
	const opens = 5
	stores := make([]*Store, opens)
	errs := make([]error, opens)
	var wg sync.WaitGroup
	for i := range opens {
		wg.Go(func() { stores[i], errs[i] = Open(ctx, url, WithSchema(schema)) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		return
	}
	migrations, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	rows, err := stores[0].pool.Query(ctx, `SELECT name FROM `+pgx.Identifier{schema, "schema_migrations"}.Sanitize()+` ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	got, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, m := range migrations {
		want = append(want, m.name)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("schema_migrations (-want +got):\n%s", diff)
	}
	if v, err := stores[0].SchemaVersion(ctx); err != nil || v != len(migrations) {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, len(migrations))
	}
	// Each store works on the shared tables.
	for i, s := range stores {
		if _, err := s.Put(ctx, fulfillment.Record{UserID: fmt.Sprintf("00u%d", i), Status: fulfillment.Shipped}); err != nil {
			t.Fatalf("store %d: Put: %v", i, err)
		}
	}
	all, err := stores[opens-1].List(ctx, fulfillment.Query{})
	if err != nil || len(all) != opens {
		t.Errorf("List after one Put per store: %d records, %v; want %d", len(all), err, opens)
	}

	// A schema newer than this program is refused.
	if _, err := stores[0].pool.Exec(ctx, `INSERT INTO `+pgx.Identifier{schema, "schema_migrations"}.Sanitize()+
		` (version, name) VALUES ($1, 'from-the-future.sql')`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(ctx, url, WithSchema(schema)); err == nil || !strings.Contains(err.Error(), "newer") {
		if err == nil {
			s.Close()
		}
		t.Errorf("Open of a schema newer than the program: error = %v, want one saying it is newer", err)
	}
}

func TestLoadMigrations(t *testing.T) {
	t.Parallel()
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatalf("embedded migrations: %v", err)
	}
	if ms[0].version != 1 || ms[0].name != "0001_records.sql" || !strings.Contains(ms[0].sql, "CREATE TABLE records") {
		t.Errorf("first migration = %d %q, want 1 0001_records.sql creating records", ms[0].version, ms[0].name)
	}
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	for name, fsys := range map[string]fstest.MapFS{
		"gap":       {"migrations/0001_a.sql": file("x"), "migrations/0003_c.sql": file("x")},
		"repeat":    {"migrations/0001_a.sql": file("x"), "migrations/0001_b.sql": file("x")},
		"from 0":    {"migrations/0000_a.sql": file("x")},
		"bad name":  {"migrations/0001_a.sql": file("x"), "migrations/2-b.sql": file("x")},
		"upper":     {"migrations/0001_A.sql": file("x")},
		"none":      {"migrations/README": file("x")},
		"empty dir": {"other/0001_a.sql": file("x")},
	} {
		if _, err := loadMigrations(fsys); err == nil {
			t.Errorf("%s: loadMigrations succeeded, want an error", name)
		}
	}
	if ms, err := loadMigrations(fstest.MapFS{"migrations/0002_b.sql": file("b"), "migrations/0001_a.sql": file("a")}); err != nil ||
		len(ms) != 2 || ms[0].sql != "a" || ms[1].sql != "b" {
		t.Errorf("loadMigrations of two files out of order = %+v, %v; want a then b", ms, err)
	}
}

// TestOpenErrors checks that Open refuses bad input with an error that
// names the problem and never the password.
func TestOpenErrors(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	const password = "s3cret-Pa55"

	// A port on which nothing listens.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := l.Addr().(*net.TCPAddr).Port
	l.Close()

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	short, cancelShort := context.WithTimeout(ctx, 5*time.Second)
	defer cancelShort()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		url  string
		opts []Option
		want string
	}{
		{"not a URL", ctx, "postgres://u:" + password + "@[::1/db", nil, "pgstore:"},
		{"unknown parameter", ctx, "postgres://u:" + password + "@127.0.0.1/db?pool_max_conns=many", nil, "pool_max_conns"},
		{"nothing listens", short, fmt.Sprintf("postgres://u:%s@127.0.0.1:%d/db?connect_timeout=5", password, closedPort), nil, "connect"},
		{"canceled", canceled, fmt.Sprintf("postgres://u:%s@127.0.0.1:%d/db", password, closedPort), nil, "pgstore:"},
		{"empty schema", ctx, "postgres://127.0.0.1/db", []Option{WithSchema("")}, "schema name is empty"},
		{"long schema", ctx, "postgres://127.0.0.1/db", []Option{WithSchema(strings.Repeat("s", 64))}, "longer than"},
		{"pg_ schema", ctx, "postgres://127.0.0.1/db", []Option{WithSchema("pg_mine")}, "reserves"},
		{"NUL in schema", ctx, "postgres://127.0.0.1/db", []Option{WithSchema("a\x00b")}, "control character"},
		{"negative conns", ctx, "postgres://127.0.0.1/db", []Option{WithMaxConns(-1)}, "must not be negative"},
	} {
		s, err := Open(tc.ctx, tc.url, tc.opts...)
		if err == nil {
			s.Close()
			t.Errorf("%s: Open succeeded, want an error", tc.name)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "pgstore: ") || !strings.Contains(msg, tc.want) || strings.Contains(msg, password) {
			t.Errorf("%s: Open error = %q, want it to begin with pgstore:, contain %q and not the password", tc.name, msg, tc.want)
		}
		// Inspect connects as Open does, and fails the same way.
		if _, err := Inspect(tc.ctx, tc.url, tc.opts...); err == nil {
			t.Errorf("%s: Inspect succeeded, want an error", tc.name)
		} else if msg := err.Error(); !strings.HasPrefix(msg, "pgstore: ") || !strings.Contains(msg, tc.want) || strings.Contains(msg, password) {
			t.Errorf("%s: Inspect error = %q, want it to begin with pgstore:, contain %q and not the password", tc.name, msg, tc.want)
		}
	}
}

func TestCorruptRecord(t *testing.T) {
	t.Parallel()
	url := serverURL(t)
	s := openStore(t, url, WithSchema(freshSchema(t)))
	ctx := t.Context()
	for id, data := range map[string]string{"00ubad": `"not an object"`, "00uother": `{"userId":"00usomeoneelse"}`} {
		if _, err := s.pool.Exec(ctx, `INSERT INTO `+s.records+` (user_id, status, step, version, history_len, updated_at, data)
			VALUES ($1, 'x', 'y', 1, 0, now(), $2::text::json)`, id, data); err != nil {
			t.Fatal(err)
		}
		_, err := s.Get(ctx, id)
		if err == nil || errors.Is(err, fulfillment.ErrRecordNotFound) || !strings.Contains(err.Error(), "corrupt") {
			t.Errorf("Get(%s) with corrupt data: error = %v, want a corruption error", id, err)
		}
	}
	if _, err := s.List(ctx, fulfillment.Query{}); err == nil {
		t.Error("List over corrupt rows succeeded")
	}
}

// TestDefaultSchema opens a store without WithSchema: the tables go to the
// connection's current schema, the first of its search_path.
func TestDefaultSchema(t *testing.T) {
	t.Parallel()
	url, schema := serverURL(t), freshSchema(t)
	ctx := t.Context()
	// Create the schema first: search_path skips schemas that do not exist.
	s := openStore(t, url, WithSchema(schema))
	s.Close()
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	s = openStore(t, url+sep+"search_path="+schema)
	if s.Schema() != schema {
		t.Errorf("Schema() = %q, want %q from the search_path", s.Schema(), schema)
	}
	if _, err := s.Put(ctx, fulfillment.Record{UserID: "00u1", Status: fulfillment.Shipped}); err != nil {
		t.Fatal(err)
	}
	if got, err := openStore(t, url, WithSchema(schema)).Get(ctx, "00u1"); err != nil || got.Status != fulfillment.Shipped {
		t.Errorf("Get through WithSchema(%q) = %+v, %v; want the record put through the search_path", schema, got, err)
	}

	missing := "pgstore_test_missing_" + strings.ToLower(rand.Text()[:8])
	if s, err := Open(ctx, url+sep+"search_path="+missing); err == nil || !strings.Contains(err.Error(), "WithSchema") {
		if err == nil {
			s.Close()
		}
		t.Errorf("Open with a search_path of no existing schema: error = %v, want one pointing at WithSchema", err)
	}
}

// TestReconnect terminates every server connection of a store's pool, as a
// server restart or a failover does: the pool opens new connections and
// the store carries on with its data intact.
func TestReconnect(t *testing.T) {
	t.Parallel()
	url, schema := serverURL(t), freshSchema(t)
	ctx := t.Context()
	app := "pgstore-reconnect-" + schema
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	const conns = 2
	s := openStore(t, url+sep+"application_name="+app, WithSchema(schema), WithMaxConns(conns))
	want, err := s.Put(ctx, fulfillmenttest.SampleRecord("00u1"))
	if err != nil {
		t.Fatal(err)
	}

	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var killed int
	if err := admin.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = $1) AS t`, app).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed == 0 {
		t.Fatal("no connection of the store's pool found to terminate")
	}

	// A query may land on a connection that died with the server's; at most
	// one per pooled connection fails, then the pool has fresh ones.
	var got fulfillment.Record
	for attempt := 0; ; attempt++ {
		got, err = s.Get(ctx, "00u1")
		if err == nil {
			t.Logf("terminated %d connections; Get succeeded on attempt %d", killed, attempt+1)
			break
		}
		if attempt == conns {
			t.Fatalf("Get still failing after %d attempts: %v", attempt+1, err)
		}
		if !strings.HasPrefix(err.Error(), "pgstore: ") {
			t.Errorf("error on a terminated connection = %q, want the pgstore: prefix", err)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("record after the reconnect (-want +got):\n%s", diff)
	}
	got.Attempts++
	if _, err := s.Put(ctx, got); err != nil {
		t.Errorf("Put after the reconnect: %v", err)
	}
}

// TestAgreesWithMemory runs one sequence of writes on the memory store and
// on PostgreSQL: both end in the same records.
func TestAgreesWithMemory(t *testing.T) {
	t.Parallel()
	url := serverURL(t)
	ctx := t.Context()
	t0 := time.Date(2026, 11, 29, 15, 0, 0, 123456789, time.UTC)
	var results [][]fulfillment.Record
	for _, s := range []fulfillment.Store{fulfillment.NewMemoryStore(), openStore(t, url, WithSchema(freshSchema(t)))} {
		for i := range 30 {
			id := fmt.Sprintf("00u%02d", i%7)
			r, err := s.Get(ctx, id)
			if errors.Is(err, fulfillment.ErrRecordNotFound) {
				r = fulfillmenttest.SampleRecord(id)
				r.History = nil
			} else if err != nil {
				t.Fatal(err)
			}
			r.Attempts++
			r.History = append(r.History, fulfillment.Change{At: t0.Add(time.Duration(i) * time.Second), Status: r.Status, Step: r.Step})
			r.Lease = fulfillment.Lease{Owner: fmt.Sprintf("svc-%d", i%2), Until: t0.Add(time.Duration(i) * time.Minute)}
			if i%3 == 0 {
				r.Status, r.Lease = fulfillment.Shipped, fulfillment.Lease{}
			}
			if _, err := s.Put(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		all, err := s.List(ctx, fulfillment.Query{})
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, all)
	}
	if diff := cmp.Diff(results[0], results[1]); diff != "" {
		t.Errorf("memory and PostgreSQL disagree (-memory +postgres):\n%s", diff)
	}
}

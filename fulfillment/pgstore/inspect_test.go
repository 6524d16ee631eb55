package pgstore

import (
	"context"
	"crypto/rand"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/preenroll/preenroll/fulfillment"
)

// migrateTo brings schema to version v (its first v migrations), as an
// older Open left it.
func migrateTo(t *testing.T, pool *pgxpool.Pool, schema string, v int) {
	t.Helper()
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(t.Context(), pool, schema, ms[:v]); err != nil {
		t.Fatal(err)
	}
}

// schemaState is what Inspect must leave as it found it: whether the
// schema exists, its recorded version and its tables.
type schemaState struct {
	Exists  bool
	Version int
	Tables  []string
}

func readSchemaState(t *testing.T, pool *pgxpool.Pool, schema string) schemaState {
	t.Helper()
	ctx := t.Context()
	var s schemaState
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&s.Exists); err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename`, schema)
	if err != nil {
		t.Fatal(err)
	}
	if s.Tables, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if s.Exists && len(s.Tables) > 0 {
		if err := pool.QueryRow(ctx, `SELECT COALESCE(max(version), 0) FROM `+pgx.Identifier{schema, "schema_migrations"}.Sanitize()).Scan(&s.Version); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// newRole makes a login role of its own (no privileges beyond PUBLIC's),
// dropped with what it owns when t ends, and returns its name and the
// test server's URL connecting as it (the test server trusts local
// connections).
func newRole(t *testing.T, admin *pgxpool.Pool, server string) (string, string) {
	t.Helper()
	role := "pgstore_test_role_" + strings.ToLower(rand.Text()[:10])
	if _, err := admin.Exec(t.Context(), `CREATE ROLE `+pgx.Identifier{role}.Sanitize()+` LOGIN`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.WithoutCancel(t.Context())
		for _, q := range []string{`DROP OWNED BY `, `DROP ROLE `} {
			if _, err := admin.Exec(ctx, q+pgx.Identifier{role}.Sanitize()); err != nil {
				t.Errorf("%s%s: %v", q, role, err)
			}
		}
	})
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	return role, u.String()
}

// TestInspect: Inspect reports a schema's version against Open's without
// creating, migrating or writing anything: the schema's existence,
// version and tables are the same after it. Open then does what it said.
func TestInspect(t *testing.T) {
	t.Parallel()
	server := serverURL(t)
	ctx := t.Context()
	admin, err := pgxpool.New(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	latest := len(ms)
	for _, tc := range []struct {
		name string
		// version the schema is made at: -1 none, latest+1 newer.
		version int
		want    fulfillment.SchemaStatus
	}{
		{"no schema yet", -1, fulfillment.SchemaStatus{Version: 0, Latest: latest}},
		{"old schema", 1, fulfillment.SchemaStatus{Version: 1, Latest: latest}},
		{"two versions behind", latest - 2, fulfillment.SchemaStatus{Version: latest - 2, Latest: latest}},
		{"up to date", latest, fulfillment.SchemaStatus{Version: latest, Latest: latest}},
		{"newer than this program", latest + 1, fulfillment.SchemaStatus{Version: latest + 1, Latest: latest}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			schema := freshSchema(t)
			switch {
			case tc.version > latest:
				migrateTo(t, admin, schema, latest)
				if _, err := admin.Exec(ctx, `INSERT INTO `+pgx.Identifier{schema, "schema_migrations"}.Sanitize()+
					` (version, name) VALUES ($1, 'from-the-future.sql')`, tc.version); err != nil {
					t.Fatal(err)
				}
			case tc.version >= 0:
				migrateTo(t, admin, schema, tc.version)
			}
			before := readSchemaState(t, admin, schema)
			got, err := Inspect(ctx, server, WithSchema(schema))
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Inspect (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, readSchemaState(t, admin, schema)); diff != "" {
				t.Errorf("the schema after Inspect (-before +after):\n%s", diff)
			}
			// Open does what Inspect said: migrate to Latest, or refuse.
			s, err := Open(ctx, server, WithSchema(schema))
			if got.Newer() {
				if err == nil {
					s.Close()
					t.Error("Open of a schema Inspect found newer succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if v, err := s.SchemaVersion(ctx); err != nil || v != got.Latest {
				t.Errorf("SchemaVersion after Open = %d, %v; want Inspect's Latest %d", v, err, got.Latest)
			}
		})
	}
}

// TestInspectPrivileges: Inspect names what the role would be refused,
// from its privileges, without trying: CREATE on the schema (or the
// database), the statements' privileges on each table, and ownership of
// the tables when Open would migrate them.
func TestInspectPrivileges(t *testing.T) {
	t.Parallel()
	server := serverURL(t)
	ctx := t.Context()
	admin, err := pgxpool.New(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		// version the schema is made at by the admin (-1: none); grants
		// are then run with the schema's and the role's names for %[1]s
		// and %[2]s.
		version int
		grants  []string
		want    []string // substrings of the problems, one each, in order
		// unknown: the schema exists, but its version is not read
		// (SchemaStatus.VersionUnknown), not 0 as a missing one's.
		unknown bool
	}{
		{name: "no schema, no CREATE on the database", version: -1,
			want: []string{`may not create schema "%[1]s" in database "preenroll" (Open creates it)`}},
		{name: "no privileges on the schema", version: len(ms),
			want: []string{`lacks USAGE and CREATE on schema "%[1]s" (Open creates its tables there if missing at every start`}, unknown: true},
		{name: "USAGE only", version: len(ms), grants: []string{`GRANT USAGE ON SCHEMA %[1]s TO %[2]s`},
			want: []string{`lacks CREATE on schema "%[1]s"`}, unknown: true},
		{name: "schema privileges, none on the tables", version: len(ms), grants: []string{`GRANT USAGE, CREATE ON SCHEMA %[1]s TO %[2]s`,
			`GRANT SELECT ON %[1]s.schema_migrations TO %[2]s`},
			want: []string{`lacks SELECT, INSERT, UPDATE, DELETE on table "%[1]s"."records"`,
				`lacks SELECT, INSERT on table "%[1]s"."events"`, `lacks SELECT, INSERT, UPDATE, DELETE on table "%[1]s"."documents"`}},
		{name: "everything a store needs", version: len(ms), grants: []string{`GRANT USAGE, CREATE ON SCHEMA %[1]s TO %[2]s`,
			`GRANT SELECT ON %[1]s.schema_migrations TO %[2]s`, `GRANT SELECT, INSERT, UPDATE, DELETE ON %[1]s.records, %[1]s.documents TO %[2]s`,
			`GRANT SELECT, INSERT ON %[1]s.events TO %[2]s`}},
		{name: "an old schema the role does not own", version: 2, grants: []string{`GRANT USAGE, CREATE ON SCHEMA %[1]s TO %[2]s`,
			`GRANT SELECT, INSERT ON %[1]s.schema_migrations TO %[2]s`, `GRANT SELECT, INSERT, UPDATE, DELETE ON %[1]s.records TO %[2]s`,
			`GRANT SELECT, INSERT ON %[1]s.events TO %[2]s`},
			want: []string{`does not own table "records", "events" of schema "%[1]s": migrating the schema to version 4 alters its tables`}},
		{name: "an old schema without INSERT on schema_migrations", version: 2, grants: []string{`GRANT USAGE, CREATE ON SCHEMA %[1]s TO %[2]s`,
			`GRANT SELECT ON %[1]s.schema_migrations TO %[2]s`, `GRANT SELECT, INSERT, UPDATE, DELETE ON %[1]s.records TO %[2]s`,
			`GRANT SELECT, INSERT ON %[1]s.events TO %[2]s`},
			want: []string{`lacks INSERT on table "%[1]s"."schema_migrations"`, `does not own table "records", "events"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			schema := freshSchema(t)
			role, roleURL := newRole(t, admin, server)
			if tc.version >= 0 {
				migrateTo(t, admin, schema, tc.version)
			}
			for _, g := range tc.grants {
				if _, err := admin.Exec(ctx, strings.ReplaceAll(strings.ReplaceAll(g, "%[1]s", pgx.Identifier{schema}.Sanitize()), "%[2]s", pgx.Identifier{role}.Sanitize())); err != nil {
					t.Fatalf("%s: %v", g, err)
				}
			}
			before := readSchemaState(t, admin, schema)
			got, err := Inspect(ctx, roleURL, WithSchema(schema))
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if len(got.Problems) != len(tc.want) {
				t.Fatalf("Inspect's problems:\n%s\nwant %d", strings.Join(got.Problems, "\n"), len(tc.want))
			}
			if got.VersionUnknown != tc.unknown || (tc.unknown && got.Version != 0) {
				t.Errorf("Inspect = version %d, unknown %v; want unknown %v", got.Version, got.VersionUnknown, tc.unknown)
			}
			for i, w := range tc.want {
				w = strings.ReplaceAll(w, "%[1]s", schema)
				if p := got.Problems[i]; !strings.Contains(p, w) || !strings.Contains(p, `role "`+role+`"`) {
					t.Errorf("problem %d = %q, want it to name the role and contain %q", i, p, w)
				}
			}
			if diff := cmp.Diff(before, readSchemaState(t, admin, schema)); diff != "" {
				t.Errorf("the schema after Inspect (-before +after):\n%s", diff)
			}
			// What Inspect found nothing against, Open does as the role.
			if len(got.Problems) == 0 {
				s, err := Open(ctx, roleURL, WithSchema(schema))
				if err != nil {
					t.Fatalf("Open as the role Inspect found no problem with: %v", err)
				}
				s.Close()
			}
		})
	}
}

// TestInspectReadOnlyServer: a connection whose transactions are
// read-only by default (default_transaction_read_only, as a read replica's
// endpoint may set) is a problem Inspect names, since Open is refused
// there: Inspect's own transaction is read-only by choice and would not
// notice.
func TestInspectReadOnlyServer(t *testing.T) {
	t.Parallel()
	schema := freshSchema(t)
	u, err := url.Parse(serverURL(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("default_transaction_read_only", "on") // a run-time parameter, set at connect
	u.RawQuery = q.Encode()
	readOnly := u.String()
	admin, err := pgxpool.New(t.Context(), serverURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	migrateTo(t, admin, schema, 1)

	got, err := Inspect(t.Context(), readOnly, WithSchema(schema))
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	want := `default_transaction_read_only is on for role "`
	if len(got.Problems) != 1 || !strings.Contains(got.Problems[0], want) {
		t.Errorf("Inspect's problems = %q, want one containing %q", got.Problems, want)
	}
	if s, err := Open(t.Context(), readOnly, WithSchema(schema)); err == nil {
		s.Close()
		t.Error("Open on a read-only connection succeeded: Inspect's problem predicts it fails")
	}
}

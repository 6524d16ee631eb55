package pgstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/preenroll/preenroll/fulfillment"
)

// tablePrivileges are the privileges the store's statements need on each
// of its tables (schema_migrations: Open reads it at every start).
var tablePrivileges = []struct {
	table      string
	privileges []string
}{
	{"schema_migrations", []string{"SELECT"}},
	{"records", []string{"SELECT", "INSERT", "UPDATE", "DELETE"}},
	{"events", []string{"SELECT", "INSERT"}},
	{"documents", []string{"SELECT", "INSERT", "UPDATE", "DELETE"}},
}

// Inspect connects to the database at url as [Open] does, with the same
// url and options, and reports the store's schema version against the
// one Open would migrate it to, without creating, migrating or writing
// anything: it reads the catalog and schema_migrations in a read-only
// transaction and takes no lock but that read's (ACCESS SHARE on
// schema_migrations, which no migration's statement waits on), so that it
// may run beside instances of another version (Open would migrate the
// schema under them). A schema, or a schema_migrations table, that does
// not exist yet has version 0; an existing schema the role lacks USAGE or
// CREATE on has an unknown version (SchemaStatus.VersionUnknown): its
// tables are not read.
//
// Problems lists what Open and the store's statements would be refused: a
// server that takes no writes (a standby, or default_transaction_read_only
// on), and, from the connected role's privileges, CREATE on the schema
// (Open creates its tables there if they are missing at every start, even
// with nothing to migrate), or on the database when the schema does not
// exist; the statements' privileges on each existing table; and, when
// Open would migrate, ownership of the existing tables (migrations alter
// them).
//
// Errors are Open's: they name the host and database, never the password.
func Inspect(ctx context.Context, url string, opts ...Option) (fulfillment.SchemaStatus, error) {
	o, migrations, pool, err := connect(ctx, url, opts)
	if err != nil {
		return fulfillment.SchemaStatus{}, err
	}
	defer pool.Close()
	st := fulfillment.SchemaStatus{Latest: len(migrations)}
	schema, err := resolveSchema(ctx, pool, o.schema)
	if err != nil {
		return st, err
	}
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return st, fmt.Errorf("pgstore: inspect schema %q: %w", schema, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var role, database, readOnlyDefault string
	var standby, exists, createSchema, usage, create bool
	if err := tx.QueryRow(ctx, `SELECT current_user, current_database(),
			pg_catalog.pg_is_in_recovery(), pg_catalog.current_setting('default_transaction_read_only'),
			EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1),
			pg_catalog.has_database_privilege(current_database(), 'CREATE'),
			COALESCE((SELECT pg_catalog.has_schema_privilege(oid, 'USAGE') FROM pg_catalog.pg_namespace WHERE nspname = $1), false),
			COALESCE((SELECT pg_catalog.has_schema_privilege(oid, 'CREATE') FROM pg_catalog.pg_namespace WHERE nspname = $1), false)`,
		schema).Scan(&role, &database, &standby, &readOnlyDefault, &exists, &createSchema, &usage, &create); err != nil {
		return st, fmt.Errorf("pgstore: inspect schema %q: %w", schema, err)
	}
	problem := func(format string, args ...any) { st.Problems = append(st.Problems, fmt.Sprintf(format, args...)) }
	// This transaction is read-only by choice; Open's are not, and a
	// server that writes nothing refuses Open's first statement.
	switch {
	case standby:
		problem("the server of database %q is a standby (in recovery): it takes no writes; point the URL at the primary", database)
	case readOnlyDefault == "on":
		problem("default_transaction_read_only is on for role %q in database %q: Open's transactions would take no writes; turn it off for the role or the database (ALTER ROLE or ALTER DATABASE ... SET), or point the URL at a server that takes writes", role, database)
	}
	if !exists {
		if !createSchema {
			problem("role %q may not create schema %q in database %q (Open creates it): grant the role CREATE on the database, or create the schema for it", role, schema, database)
		}
		return st, nil
	}
	if lacking := lacks(map[string]bool{"USAGE": usage, "CREATE": create}, []string{"USAGE", "CREATE"}); len(lacking) > 0 {
		problem("role %q lacks %s on schema %q (Open creates its tables there if missing at every start, even with nothing to migrate)", role, strings.Join(lacking, " and "), schema)
		// Its tables are not read: without USAGE they cannot be, and
		// without CREATE Open fails at start whatever they hold.
		st.VersionUnknown = true
		return st, nil
	}

	type table struct {
		name  string
		owned bool
		privs map[string]bool
	}
	rows, err := tx.Query(ctx, `SELECT c.relname, pg_catalog.pg_has_role(c.relowner, 'USAGE'),
			pg_catalog.has_table_privilege(c.oid, 'SELECT'), pg_catalog.has_table_privilege(c.oid, 'INSERT'),
			pg_catalog.has_table_privilege(c.oid, 'UPDATE'), pg_catalog.has_table_privilege(c.oid, 'DELETE')
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relname = ANY($2)`,
		schema, []string{"schema_migrations", "records", "events", "documents"})
	if err != nil {
		return st, fmt.Errorf("pgstore: inspect schema %q: %w", schema, err)
	}
	tables := map[string]table{}
	for rows.Next() {
		var t table
		var sel, ins, upd, del bool
		if err := rows.Scan(&t.name, &t.owned, &sel, &ins, &upd, &del); err != nil {
			rows.Close()
			return st, fmt.Errorf("pgstore: inspect schema %q: %w", schema, err)
		}
		t.privs = map[string]bool{"SELECT": sel, "INSERT": ins, "UPDATE": upd, "DELETE": del}
		tables[t.name] = t
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("pgstore: inspect schema %q: %w", schema, err)
	}
	if _, ok := tables["schema_migrations"]; ok {
		// Without SELECT on it this fails, as Open would.
		if err := tx.QueryRow(ctx, `SELECT COALESCE(max(version), 0) FROM `+pgx.Identifier{schema, "schema_migrations"}.Sanitize()).Scan(&st.Version); err != nil {
			return st, fmt.Errorf("pgstore: schema %q: read schema version: %w", schema, err)
		}
	}
	for _, tp := range tablePrivileges {
		t, ok := tables[tp.table]
		if !ok {
			continue
		}
		need := tp.privileges
		if tp.table == "schema_migrations" && st.Migrates() {
			need = []string{"SELECT", "INSERT"}
		}
		if lacking := lacks(t.privs, need); len(lacking) > 0 {
			problem("role %q lacks %s on table %q.%q", role, strings.Join(lacking, ", "), schema, tp.table)
		}
	}
	if st.Migrates() {
		var notOwned []string
		for _, tp := range tablePrivileges {
			if t, ok := tables[tp.table]; ok && !t.owned && tp.table != "schema_migrations" {
				notOwned = append(notOwned, fmt.Sprintf("%q", tp.table))
			}
		}
		if len(notOwned) > 0 {
			problem("role %q does not own table %s of schema %q: migrating the schema to version %d alters its tables, which only their owner may", role, strings.Join(notOwned, ", "), schema, st.Latest)
		}
	}
	return st, nil
}

// lacks returns the privileges of need that have is false for, in need's
// order.
func lacks(have map[string]bool, need []string) []string {
	return slices.DeleteFunc(slices.Clone(need), func(p string) bool { return have[p] })
}

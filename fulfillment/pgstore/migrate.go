package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrationFiles are the schema's versioned migrations, applied in order,
// each once: migrations/NNNN_name.sql, numbered from 0001 without gaps.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one versioned SQL file.
type migration struct {
	version int
	name    string
	sql     string
}

var migrationName = regexp.MustCompile(`^([0-9]{4})_[a-z0-9_]+\.sql$`)

// loadMigrations reads and checks the embedded migrations.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		return nil, fmt.Errorf("pgstore: read migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("pgstore: migration file %q: want NNNN_name.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		body, err := fs.ReadFile(fsys, "migrations/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("pgstore: read migration %q: %w", e.Name(), err)
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(body)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("pgstore: migration %q: want version %d (versions start at 1 without gaps or repeats)", m.name, i+1)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("pgstore: no migrations")
	}
	return out, nil
}

// migrate creates the schema if it does not exist and applies the
// migrations it has not seen, in one transaction that holds a transaction
// advisory lock on the schema's name: instances starting together queue on
// the lock, and each one after the first finds the migrations recorded in
// schema_migrations and applies nothing.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string, migrations []migration) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: migrate schema %q: %w", schema, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // a no-op after Commit
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`,
		"preenroll/fulfillment/pgstore migrate "+schema); err != nil {
		return fmt.Errorf("pgstore: lock schema %q for migration: %w", schema, err)
	}
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&exists); err != nil {
		return fmt.Errorf("pgstore: look up schema %q: %w", schema, err)
	}
	quoted := pgx.Identifier{schema}.Sanitize()
	if !exists {
		if _, err := tx.Exec(ctx, `CREATE SCHEMA `+quoted); err != nil {
			return fmt.Errorf("pgstore: create schema %q: %w", schema, err)
		}
	}
	if _, err := tx.Exec(ctx, `SET LOCAL search_path TO `+quoted); err != nil {
		return fmt.Errorf("pgstore: use schema %q: %w", schema, err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return fmt.Errorf("pgstore: schema %q: create schema_migrations: %w", schema, err)
	}
	var have int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(max(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("pgstore: schema %q: read schema version: %w", schema, err)
	}
	if have > len(migrations) {
		return fmt.Errorf("pgstore: schema %q has version %d, newer than this program's %d", schema, have, len(migrations))
	}
	for _, m := range migrations[have:] {
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("pgstore: schema %q: migration %s: %w", schema, m.name, err)
		}
		if backfill := backfills[m.version]; backfill != nil {
			if err := backfill(ctx, tx); err != nil {
				return fmt.Errorf("pgstore: schema %q: migration %s: backfill: %w", schema, m.name, err)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
			return fmt.Errorf("pgstore: schema %q: record migration %s: %w", schema, m.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: schema %q: commit migrations: %w", schema, err)
	}
	return nil
}

// backfills[v] runs in migration v's transaction after its SQL (the
// schema is on the search_path), for a change SQL alone cannot make right.
var backfills = map[int]func(ctx context.Context, tx pgx.Tx) error{
	2: backfillDue,
}

// backfillDue sets the due column (0002_due.sql) of every record in flight
// from its record with [fulfillment.Record.DueAt]; the others keep NULL.
func backfillDue(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `SELECT user_id, data::text, version FROM records WHERE status = ANY($1)`, inFlightStatuses())
	if err != nil {
		return err
	}
	recs, err := scanRecords(rows, "read records")
	if err != nil {
		return err
	}
	ids := make([]string, len(recs))
	dues := make([]*int64, len(recs))
	for i, r := range recs {
		ids[i], dues[i] = r.UserID, dueColumn(r)
	}
	_, err = tx.Exec(ctx, `UPDATE records SET due = v.due
		FROM unnest($1::text[], $2::bigint[]) AS v(user_id, due)
		WHERE records.user_id = v.user_id COLLATE "C"`, ids, dues)
	return err
}

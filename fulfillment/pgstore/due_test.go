package pgstore

import (
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
)

// TestDueMigration: a schema made before the due index (version 1),
// holding records, is opened by this version: migration 0002 fills in the
// due column of the existing rows from each record, so ListDue and
// CountNotDue select by Record.DueAt at once, to the nanosecond.
func TestDueMigration(t *testing.T) {
	t.Parallel()
	url, schema := serverURL(t), freshSchema(t)
	ctx := t.Context()
	migrations, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	old, err := open(ctx, pool, schema, migrations[:1]) // the schema at version 1
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range fulfillmenttest.DueMigrationRecords() {
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		// Written as version 1 wrote them: no due column.
		if _, err := pool.Exec(ctx, `INSERT INTO `+old.records+` (user_id, status, step, version, history_len, updated_at, data)
			VALUES ($1, $2, $3, 1, 0, $4, $5::text::json)`, r.UserID, string(r.Status), string(r.Step), r.UpdatedAt, string(data)); err != nil {
			t.Fatal(err)
		}
	}

	fulfillmenttest.CheckDueMigration(t, openStore(t, url, WithSchema(schema)))
}

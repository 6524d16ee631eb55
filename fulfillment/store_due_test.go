package fulfillment_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/preenroll/preenroll/fulfillment/fulfillmenttest"
)

// TestSQLiteDueMigration: a database made by the schema before the due
// index (version 1), holding records, is opened by this version: the
// migration fills in the due column of the existing rows, so ListDue and
// CountNotDue select by Record.DueAt at once, and a later Put keeps it.
func TestSQLiteDueMigration(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path, db := oldSQLite(t, 1)
	for _, r := range fulfillmenttest.DueMigrationRecords() {
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO records(user_id, status, step, version, history_len, updated_at, data)
			VALUES (?, ?, ?, 1, 0, ?, ?)`, r.UserID, string(r.Status), string(r.Step), r.UpdatedAt.Format(time.RFC3339Nano), string(data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	fulfillmenttest.CheckDueMigration(t, openSQLite(t, path))
}

-- 2: the due index, so that a Sync pass reads only the records due
-- (fulfillment.DueLister). due is fulfillment.DueKey of Record.DueAt: Unix
-- nanoseconds (bigint, exact; timestamptz keeps only microseconds), NULL
-- for a record Sync never acts on (not in flight, or resting at errored or
-- managed-elsewhere). Existing rows are filled in by the Go backfill of
-- this version (migrate.go, backfillDue), from each record with
-- Record.DueAt: the one definition, not a copy of it in SQL.
ALTER TABLE records ADD COLUMN due bigint;

CREATE INDEX records_due ON records (due, user_id) WHERE due IS NOT NULL;

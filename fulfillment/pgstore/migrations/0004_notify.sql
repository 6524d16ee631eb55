-- 4: the change feed (fulfillment.ChangeFeed, Store.WatchChanges): a
-- notification on the channel preenroll_records for every write of the
-- records table that a feed reports: an insert, an update that adds a
-- history entry or changes the status or step, a delete. An update that
-- does none of these (a Sync claim, a lease, a next check) notifies
-- nobody: its trigger's WHEN clause does not even call the function.
--
-- The channel is shared by every schema of the database (a channel name
-- is at most 63 bytes, as a schema's is, so it cannot hold one): the
-- payload names the table's schema and a listener keeps its own. The
-- payload is small JSON built here from the row's columns, never from
-- data (no parse of the record, whose reason may hold a \u0000 that ->>
-- cannot turn into text): schema (at most 63 bytes), operation, user ID,
-- version, status and step. A user ID over 256 bytes or a status or step
-- over 64 (which no Put stores) is sent as null, so the payload stays
-- under 2 kB, far below PostgreSQL's 8000-byte limit: a notification
-- never makes a write fail. A notification is sent when the write's
-- transaction commits, and not at all if it rolls back.
CREATE FUNCTION records_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	r record;
BEGIN
	IF TG_OP = 'DELETE' THEN
		r := OLD;
	ELSE
		r := NEW;
	END IF;
	PERFORM pg_catalog.pg_notify('preenroll_records', pg_catalog.json_build_object(
		'schema', TG_TABLE_SCHEMA,
		'op', TG_OP,
		'user', CASE WHEN pg_catalog.octet_length(r.user_id) <= 256 THEN r.user_id END,
		'version', r.version,
		'status', CASE WHEN pg_catalog.octet_length(r.status) <= 64 THEN r.status END,
		'step', CASE WHEN pg_catalog.octet_length(r.step) <= 64 THEN r.step END)::text);
	RETURN NULL;
END
$$;

CREATE TRIGGER records_notify_insert AFTER INSERT ON records
	FOR EACH ROW EXECUTE FUNCTION records_notify();
CREATE TRIGGER records_notify_update AFTER UPDATE ON records
	FOR EACH ROW WHEN (NEW.history_len > OLD.history_len OR NEW.status IS DISTINCT FROM OLD.status OR NEW.step IS DISTINCT FROM OLD.step)
	EXECUTE FUNCTION records_notify();
CREATE TRIGGER records_notify_delete AFTER DELETE ON records
	FOR EACH ROW EXECUTE FUNCTION records_notify();

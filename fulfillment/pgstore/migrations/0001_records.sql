-- 1: records and handled events. Never edit a migration that has shipped;
-- add the next one (0002_*.sql).
--
-- user_id and event_id compare by their bytes (COLLATE "C"), as Go strings
-- do, so that List's order and paging (Query.After) match the other stores
-- whatever the database's locale. data is the record as JSON (type json, not
-- jsonb: jsonb cannot hold the \u0000 a reason may contain); the columns
-- beside it are copies for the compare-and-swap, the filters and operators.
CREATE TABLE records (
	user_id     text COLLATE "C" PRIMARY KEY,
	status      text NOT NULL,
	step        text NOT NULL,
	version     bigint NOT NULL CHECK (version > 0),
	history_len integer NOT NULL CHECK (history_len >= 0),
	lease_owner text NOT NULL DEFAULT '',
	lease_until timestamptz,
	updated_at  timestamptz NOT NULL,
	data        json NOT NULL
);

CREATE INDEX records_status ON records (status, user_id);

CREATE TABLE events (
	event_id text COLLATE "C" PRIMARY KEY,
	seen_at  timestamptz NOT NULL
);

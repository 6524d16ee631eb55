-- 3: documents (fulfillment.DocumentStore): small versioned values a
-- program keeps next to the records, such as a console's batches and
-- audit trail, so that every instance sharing the schema sees them.
-- collection and id compare by their bytes (COLLATE "C"), as Go strings
-- do, so that ListDocuments' order of equal times (id descending) matches
-- the other stores. created is Document.Created in Unix nanoseconds
-- (bigint, exact; timestamptz keeps only microseconds), created_offset its
-- offset from UTC in seconds, so that Created comes back at the offset it
-- was put with, as a record's times do. data is bytea: opaque bytes.
CREATE TABLE documents (
	collection     text COLLATE "C" NOT NULL,
	id             text COLLATE "C" NOT NULL,
	created        bigint NOT NULL,
	created_offset integer NOT NULL,
	version        bigint NOT NULL CHECK (version > 0),
	data           bytea NOT NULL,
	PRIMARY KEY (collection, id)
);

CREATE INDEX documents_created ON documents (collection, created DESC, id DESC);

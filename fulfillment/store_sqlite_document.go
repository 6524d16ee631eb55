package fulfillment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The documents of a SQLiteStore are rows of the documents table
// (migration 3). Every write goes through the durable handle (s.db,
// synchronous=FULL): a document is no bookkeeping whose loss the Service
// would make good.

// GetDocument implements [DocumentStore].
func (s *SQLiteStore) GetDocument(ctx context.Context, collection, id string) (Document, error) {
	if err := ctx.Err(); err != nil {
		return Document{}, fmt.Errorf("fulfillment: sqlite: get document %q of %q: %w", id, collection, err)
	}
	if err := checkDocumentName(collection, id); err != nil {
		return Document{}, err
	}
	d := Document{Collection: collection, ID: id}
	var created int64
	var offset int
	err := s.queryRow(ctx, `SELECT created, created_offset, data, version FROM documents WHERE collection = ? AND id = ?`,
		[]any{collection, id}, &created, &offset, &d.Data, &d.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return Document{}, DocumentNotFound(collection, id)
	}
	if err != nil {
		return Document{}, fmt.Errorf("fulfillment: sqlite: get document %q of %q: %w", id, collection, err)
	}
	d.Created = DocumentTime(created, offset)
	return d, nil
}

// PutDocument implements [DocumentStore]: an INSERT … ON CONFLICT DO
// NOTHING for version 0, else an UPDATE … WHERE version = ?; a statement
// that changed no row lost the compare-and-swap.
func (s *SQLiteStore) PutDocument(ctx context.Context, d Document) (Document, error) {
	if err := ctx.Err(); err != nil {
		return Document{}, fmt.Errorf("fulfillment: sqlite: put document %q of %q: %w", d.ID, d.Collection, err)
	}
	if err := CheckDocument(d); err != nil {
		return Document{}, err
	}
	data := d.Data
	if data == nil {
		data = []byte{} // a BLOB, not NULL
	}
	_, offset := d.Created.Zone()
	var res sql.Result
	var err error
	if d.Version == 0 {
		res, err = s.exec(ctx, s.db, `INSERT INTO documents(collection, id, created, created_offset, version, data)
			VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT(collection, id) DO NOTHING`,
			d.Collection, d.ID, d.Created.UnixNano(), offset, data)
	} else {
		res, err = s.exec(ctx, s.db, `UPDATE documents SET created = ?, created_offset = ?, data = ?, version = version + 1
			WHERE collection = ? AND id = ? AND version = ?`,
			d.Created.UnixNano(), offset, data, d.Collection, d.ID, d.Version)
	}
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err != nil {
		return Document{}, fmt.Errorf("fulfillment: sqlite: put document %q of %q: %w", d.ID, d.Collection, err)
	}
	if n == 0 {
		return Document{}, s.whyNotPutDocument(ctx, d)
	}
	d = cloneDocument(d)
	d.Version++
	return d, nil
}

// whyNotPutDocument explains a PutDocument that changed no row.
func (s *SQLiteStore) whyNotPutDocument(ctx context.Context, d Document) error {
	var stored int64
	err := s.queryRow(ctx, `SELECT version FROM documents WHERE collection = ? AND id = ?`, []any{d.Collection, d.ID}, &stored)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		stored = 0
	case err != nil:
		return fmt.Errorf("%w: document %q of %q changed (%v)", ErrVersionConflict, d.ID, d.Collection, err)
	}
	if stored == d.Version {
		// The row changed between the write and this read.
		return fmt.Errorf("%w: document %q of %q changed concurrently", ErrVersionConflict, d.ID, d.Collection)
	}
	return DocumentConflict(d, stored)
}

// ListDocuments implements [DocumentStore]: a range of the
// documents_created index.
func (s *SQLiteStore) ListDocuments(ctx context.Context, collection string, limit int) ([]Document, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fulfillment: sqlite: list documents of %q: %w", collection, err)
	}
	if err := CheckID("document collection", collection); err != nil {
		return nil, err
	}
	n := int64(-1) // SQLite: no limit
	if limit > 0 {
		n = int64(limit)
	}
	st, err := s.stmt(ctx, s.db, `SELECT id, created, created_offset, data, version FROM documents
		WHERE collection = ? ORDER BY created DESC, id DESC LIMIT ?`)
	if err != nil {
		return nil, fmt.Errorf("fulfillment: sqlite: list documents of %q: %w", collection, err)
	}
	rows, err := st.QueryContext(ctx, collection, n)
	if err != nil {
		return nil, fmt.Errorf("fulfillment: sqlite: list documents of %q: %w", collection, err)
	}
	defer rows.Close()
	var out []Document
	for rows.Next() {
		d := Document{Collection: collection}
		var created int64
		var offset int
		if err := rows.Scan(&d.ID, &created, &offset, &d.Data, &d.Version); err != nil {
			return nil, fmt.Errorf("fulfillment: sqlite: list documents of %q: %w", collection, err)
		}
		d.Created = DocumentTime(created, offset)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("fulfillment: sqlite: list documents of %q: %w", collection, err)
	}
	return out, nil
}

// DeleteDocuments implements [DocumentStore].
func (s *SQLiteStore) DeleteDocuments(ctx context.Context, collection string, before time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("fulfillment: sqlite: delete documents of %q: %w", collection, err)
	}
	if err := CheckID("document collection", collection); err != nil {
		return 0, err
	}
	cond, key := DocumentsBefore(before)
	res, err := s.exec(ctx, s.db, `DELETE FROM documents WHERE collection = ? AND created `+cond+` ?`, collection, key)
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err != nil {
		return 0, fmt.Errorf("fulfillment: sqlite: delete documents of %q: %w", collection, err)
	}
	return int(n), nil
}

var _ DocumentStore = (*SQLiteStore)(nil)

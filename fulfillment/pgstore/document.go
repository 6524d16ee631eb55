package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/preenroll/preenroll/fulfillment"
)

// The documents of a Store are rows of the documents table
// (migrations/0003_documents.sql).

// GetDocument implements [fulfillment.DocumentStore].
func (s *Store) GetDocument(ctx context.Context, collection, id string) (fulfillment.Document, error) {
	if err := ctx.Err(); err != nil {
		return fulfillment.Document{}, fmt.Errorf("pgstore: get document %q of %q: %w", id, collection, err)
	}
	if err := checkDocumentName(collection, id); err != nil {
		return fulfillment.Document{}, err
	}
	d := fulfillment.Document{Collection: collection, ID: id}
	var created int64
	var offset int32
	err := s.pool.QueryRow(ctx, `SELECT created, created_offset, data, version FROM `+s.documents+` WHERE collection = $1 AND id = $2`,
		collection, id).Scan(&created, &offset, &d.Data, &d.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return fulfillment.Document{}, fmt.Errorf("pgstore: %w", fulfillment.DocumentNotFound(collection, id))
	}
	if err != nil {
		return fulfillment.Document{}, fmt.Errorf("pgstore: get document %q of %q: %w", id, collection, err)
	}
	d.Created = fulfillment.DocumentTime(created, int(offset))
	return d, nil
}

// checkDocumentName validates the collection and ID given to GetDocument
// as [fulfillment.CheckDocument] does.
func checkDocumentName(collection, id string) error {
	if err := fulfillment.CheckID("document collection", collection); err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	if err := fulfillment.CheckID("document ID", id); err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	return nil
}

// PutDocument implements [fulfillment.DocumentStore]. The compare-and-swap
// is one statement, as [Store.Put]'s: an INSERT … ON CONFLICT DO NOTHING
// for version 0, else an UPDATE … WHERE version = $n; a PutDocument that
// changed no row lost the race.
func (s *Store) PutDocument(ctx context.Context, d fulfillment.Document) (fulfillment.Document, error) {
	if err := ctx.Err(); err != nil {
		return fulfillment.Document{}, fmt.Errorf("pgstore: put document %q of %q: %w", d.ID, d.Collection, err)
	}
	if err := fulfillment.CheckDocument(d); err != nil {
		return fulfillment.Document{}, fmt.Errorf("pgstore: %w", err)
	}
	data := d.Data
	if data == nil {
		data = []byte{} // bytea, not NULL
	}
	_, offset := d.Created.Zone()
	args := []any{d.Collection, d.ID, d.Created.UnixNano(), int32(offset), data}
	var query string
	if d.Version == 0 {
		query = `INSERT INTO ` + s.documents + ` (collection, id, created, created_offset, version, data)
			VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT (collection, id) DO NOTHING`
	} else {
		query = `UPDATE ` + s.documents + ` SET created = $3, created_offset = $4, data = $5, version = version + 1
			WHERE collection = $1 AND id = $2 AND version = $6`
		args = append(args, d.Version)
	}
	tag, err := s.pool.Exec(ctx, query, args...)
	if err != nil {
		return fulfillment.Document{}, fmt.Errorf("pgstore: put document %q of %q: %w", d.ID, d.Collection, err)
	}
	if tag.RowsAffected() == 0 {
		return fulfillment.Document{}, s.whyNotPutDocument(ctx, d)
	}
	d.Data = bytes.Clone(d.Data) // a copy that shares nothing with the caller's
	d.Version++
	return d, nil
}

// whyNotPutDocument explains a PutDocument that changed no row.
func (s *Store) whyNotPutDocument(ctx context.Context, d fulfillment.Document) error {
	var stored int64
	err := s.pool.QueryRow(ctx, `SELECT version FROM `+s.documents+` WHERE collection = $1 AND id = $2`, d.Collection, d.ID).Scan(&stored)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		stored = 0
	case err != nil:
		return fmt.Errorf("pgstore: %w: document %q of %q changed (%v)", fulfillment.ErrVersionConflict, d.ID, d.Collection, err)
	}
	if stored == d.Version {
		// The row changed between the write and this read.
		return fmt.Errorf("pgstore: %w: document %q of %q changed concurrently", fulfillment.ErrVersionConflict, d.ID, d.Collection)
	}
	return fmt.Errorf("pgstore: %w", fulfillment.DocumentConflict(d, stored))
}

// ListDocuments implements [fulfillment.DocumentStore]: a range of the
// documents_created index.
func (s *Store) ListDocuments(ctx context.Context, collection string, limit int) ([]fulfillment.Document, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: list documents of %q: %w", collection, err)
	}
	if err := fulfillment.CheckID("document collection", collection); err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	var n *int // NULL: no limit
	if limit > 0 {
		n = &limit
	}
	rows, err := s.pool.Query(ctx, `SELECT id, created, created_offset, data, version FROM `+s.documents+`
		WHERE collection = $1 ORDER BY created DESC, id DESC LIMIT $2`, collection, n)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list documents of %q: %w", collection, err)
	}
	defer rows.Close()
	var out []fulfillment.Document
	for rows.Next() {
		d := fulfillment.Document{Collection: collection}
		var created int64
		var offset int32
		if err := rows.Scan(&d.ID, &created, &offset, &d.Data, &d.Version); err != nil {
			return nil, fmt.Errorf("pgstore: list documents of %q: %w", collection, err)
		}
		d.Created = fulfillment.DocumentTime(created, int(offset))
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: list documents of %q: %w", collection, err)
	}
	return out, nil
}

// DeleteDocuments implements [fulfillment.DocumentStore].
func (s *Store) DeleteDocuments(ctx context.Context, collection string, before time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("pgstore: delete documents of %q: %w", collection, err)
	}
	if err := fulfillment.CheckID("document collection", collection); err != nil {
		return 0, fmt.Errorf("pgstore: %w", err)
	}
	cond, key := fulfillment.DocumentsBefore(before)
	tag, err := s.pool.Exec(ctx, `DELETE FROM `+s.documents+` WHERE collection = $1 AND created `+cond+` $2`, collection, key)
	if err != nil {
		return 0, fmt.Errorf("pgstore: delete documents of %q: %w", collection, err)
	}
	return int(tag.RowsAffected()), nil
}

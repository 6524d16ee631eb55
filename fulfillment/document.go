package fulfillment

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// ErrDocumentNotFound is returned (wrapped) by [DocumentStore.GetDocument]
// for a document that is not kept.
var ErrDocumentNotFound = errors.New("fulfillment: no such document")

// MaxDocumentSize is the most bytes of [Document.Data] a [DocumentStore]
// accepts.
const MaxDocumentSize = 16 << 20

// A Document is a value that a program built on a [Service] keeps next to
// its records, so that every instance sharing the [Store] sees it: the
// console keeps its batches and its audit trail as documents. A store
// keeps Data as opaque bytes (the console writes JSON, gzip-compressed for
// its batches).
type Document struct {
	// Collection names the kind of document ("console.batch"); ID names
	// it within the collection. Both follow [CheckID].
	Collection, ID string
	// Created orders [DocumentStore.ListDocuments] and selects what
	// [DocumentStore.DeleteDocuments] deletes. The caller sets it, between
	// the years 1678 and 2262 (Unix nanoseconds in an int64: the zero
	// time is refused); a store gives back the same instant, to the
	// nanosecond, at the same offset from UTC (the zone's name may be
	// lost, as a record's times lose it in SQLiteStore and pgstore).
	Created time.Time
	// Data is the document, at most [MaxDocumentSize] bytes. A store may
	// give empty Data back as nil.
	Data []byte
	// Version is set by the store: 0 for a document not yet put, then
	// one more with every put.
	Version int64
}

// DocumentStore is implemented by a [Store] that can keep [Document]s:
// every store of this module does ([MemoryStore], [SQLiteStore] and
// pgstore's), so a program that shares its records between instances
// shares its documents too. Implementations must be safe for concurrent
// use. fulfillmenttest.RunStoreConformance checks a store's documents
// when it implements this interface.
type DocumentStore interface {
	// GetDocument returns the document, or an error matching
	// ErrDocumentNotFound.
	GetDocument(ctx context.Context, collection, id string) (Document, error)
	// PutDocument stores d if the stored document's version equals
	// d.Version (0: no such document exists yet) and returns it with its
	// new version. Otherwise it stores nothing and returns an error
	// matching ErrVersionConflict.
	PutDocument(ctx context.Context, d Document) (Document, error)
	// ListDocuments returns the documents of the collection, newest
	// Created first (equal times by ID, descending), at most limit of
	// them when limit is positive.
	ListDocuments(ctx context.Context, collection string, limit int) ([]Document, error)
	// DeleteDocuments deletes the documents of the collection created
	// strictly before the given time and returns how many it deleted.
	DeleteDocuments(ctx context.Context, collection string, before time.Time) (int, error)
}

// The times Document.Created may hold: those whose Unix time in
// nanoseconds fits an int64, as SQL stores keep it.
var (
	minDocumentTime = time.Unix(0, math.MinInt64)
	maxDocumentTime = time.Unix(0, math.MaxInt64)
)

// CheckDocument validates a document given to [DocumentStore.PutDocument]
// as every store of this module does: its collection and ID ([CheckID]),
// its Created time (see [Document.Created]), the size of its data and a
// version that is not negative.
func CheckDocument(d Document) error {
	if err := checkDocumentName(d.Collection, d.ID); err != nil {
		return err
	}
	if d.Created.Before(minDocumentTime) || d.Created.After(maxDocumentTime) {
		return fmt.Errorf("fulfillment: store: document %q of %q: created %s, outside the years 1678 to 2262", d.ID, d.Collection, d.Created.UTC().Format(time.RFC3339Nano))
	}
	if len(d.Data) > MaxDocumentSize {
		return fmt.Errorf("fulfillment: store: document %q of %q is %d bytes, more than %d", d.ID, d.Collection, len(d.Data), MaxDocumentSize)
	}
	if d.Version < 0 {
		return fmt.Errorf("fulfillment: store: document %q of %q has negative version %d", d.ID, d.Collection, d.Version)
	}
	return nil
}

func checkDocumentName(collection, id string) error {
	if err := CheckID("document collection", collection); err != nil {
		return err
	}
	return CheckID("document ID", id)
}

// DocumentTime returns the [Document.Created] a store that keeps it as
// Unix nanoseconds and an offset from UTC in seconds gives back: in UTC
// for offset 0, else in a zone of that offset (whose name is lost). The
// SQLite store and pgstore do.
func DocumentTime(unixNano int64, offset int) time.Time {
	t := time.Unix(0, unixNano)
	if offset == 0 {
		return t.UTC()
	}
	return t.In(time.FixedZone("", offset))
}

// DocumentsBefore returns the comparison on a column of Unix nanoseconds
// of [Document.Created], "<" or "<=", and the value to compare it with,
// that select the documents created strictly before t, whatever t is:
// before 1678 (none: [DueKey] clamps it) or after 2262 (all, one created
// at the last nanosecond an int64 holds included), for
// [DocumentStore.DeleteDocuments].
func DocumentsBefore(t time.Time) (op string, key int64) {
	if t.After(maxDocumentTime) {
		return "<=", math.MaxInt64
	}
	return "<", DueKey(t)
}

// DocumentNotFound returns the error a [DocumentStore] gives for a
// document it does not keep: it matches ErrDocumentNotFound.
func DocumentNotFound(collection, id string) error {
	return fmt.Errorf("%w: %q in %q", ErrDocumentNotFound, id, collection)
}

// DocumentConflict returns the error a [DocumentStore] gives when
// d.Version is not the stored version (stored, 0 for none): it matches
// ErrVersionConflict.
func DocumentConflict(d Document, stored int64) error {
	return fmt.Errorf("%w: document %q of %q is at version %d, not %d", ErrVersionConflict, d.ID, d.Collection, stored, d.Version)
}

// lessDocument reports whether a lists before b in
// [DocumentStore.ListDocuments]: newer first, equal times by ID descending.
func lessDocument(a, b Document) bool {
	if !a.Created.Equal(b.Created) {
		return a.Created.After(b.Created)
	}
	return a.ID > b.ID
}

// docKey names a document in a MemoryStore.
type docKey struct{ collection, id string }

// GetDocument implements [DocumentStore].
func (m *MemoryStore) GetDocument(ctx context.Context, collection, id string) (Document, error) {
	if err := ctx.Err(); err != nil {
		return Document{}, err
	}
	if err := checkDocumentName(collection, id); err != nil {
		return Document{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.docs[docKey{collection, id}]
	if !ok {
		return Document{}, DocumentNotFound(collection, id)
	}
	return cloneDocument(d), nil
}

// PutDocument implements [DocumentStore].
func (m *MemoryStore) PutDocument(ctx context.Context, d Document) (Document, error) {
	if err := ctx.Err(); err != nil {
		return Document{}, err
	}
	if err := CheckDocument(d); err != nil {
		return Document{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := docKey{d.Collection, d.ID}
	if stored := m.docs[k].Version; stored != d.Version {
		return Document{}, DocumentConflict(d, stored)
	}
	d = cloneDocument(d)
	d.Version++
	if m.docs == nil {
		m.docs = map[docKey]Document{}
	}
	m.docs[k] = d
	return cloneDocument(d), nil
}

// ListDocuments implements [DocumentStore].
func (m *MemoryStore) ListDocuments(ctx context.Context, collection string, limit int) ([]Document, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := CheckID("document collection", collection); err != nil {
		return nil, err
	}
	m.mu.Lock()
	var out []Document
	for k, d := range m.docs {
		if k.collection == collection {
			out = append(out, d)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Document) int {
		switch {
		case lessDocument(a, b):
			return -1
		case lessDocument(b, a):
			return 1
		}
		return 0
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	for i := range out {
		out[i] = cloneDocument(out[i])
	}
	return out, nil
}

// DeleteDocuments implements [DocumentStore].
func (m *MemoryStore) DeleteDocuments(ctx context.Context, collection string, before time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := CheckID("document collection", collection); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, d := range m.docs {
		if k.collection == collection && d.Created.Before(before) {
			delete(m.docs, k)
			n++
		}
	}
	return n, nil
}

func cloneDocument(d Document) Document {
	d.Data = slices.Clone(d.Data)
	return d
}

var _ DocumentStore = (*MemoryStore)(nil)

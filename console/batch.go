package console

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/internal/batchcsv"
	"github.com/preenroll/preenroll/okta"
)

// A batch goes: upload (the file is read; bad rows named by line) →
// checking (each good row's user is looked up at Okta and its profile
// validated, reads only) → checked (every bad row listed; nothing
// ordered) → ordering (on an admin's confirmation: profile rows' users
// prepared, then Service.OrderBatch) → done, with a per-row result CSV.

// The states of a batch.
const (
	batchChecking = "checking"
	batchChecked  = "checked"
	batchOrdering = "ordering"
	batchDone     = "done"
)

// The results of a row, as preenroll batch's report names them.
const (
	resultOrdered    = "ordered"
	resultSkipped    = "skipped"     // a key is already in fulfillment
	resultFailed     = "failed"      // the order was attempted and failed, or Okta did not answer
	resultInvalid    = "invalid"     // a bad row: nothing is ordered for it
	resultNotOrdered = "not-ordered" // a good row not ordered (yet)
)

// batchRow is one row of a batch and what happened to it. It is kept as
// JSON in the batch's document: Profile and Kind (a profile row's user, for
// the order) too, so that any instance can order a checked batch.
type batchRow struct {
	Line    int
	Login   string
	UserID  string `json:",omitempty"`
	Result  string
	Status  fulfillment.Status   `json:",omitempty"`
	Problem string               `json:",omitempty"`
	Profile *fulfillment.Profile `json:",omitempty"`
	Kind    fulfillment.UserKind `json:",omitempty"`
}

// batchJob is one uploaded file, as the instance running it (checking or
// ordering its rows) holds it.
type batchJob struct {
	ID, File, Format, Owner string
	Created                 time.Time
	Item                    fulfillment.Item

	save sync.Mutex // held while the job is written to the store

	mu    sync.Mutex
	state string
	done  int // rows checked or ordered so far in this state
	total int
	rows  []batchRow
	err   string // why the whole batch stopped
	// changes counts the changes to rows; kept is what it was when the
	// rows document was last written, keptState the state it was
	// written in.
	changes, kept int
	keptState     string
	rowsVersion   int64     // of the job's rows document
	sumVersion    int64     // of the job's summary document
	saved         time.Time // when the summary was last written
	rowsSaved     time.Time // when the rows document was last written
}

// batchInfo is what both documents of a batch keep (see batchDoc and
// batchSummary): the batch, its state and progress as of the write, and
// when it was written.
type batchInfo struct {
	ID, File, Format, Owner string
	Created                 time.Time
	State                   string
	Done, Total             int
	Err                     string `json:",omitempty"`
	// Beat is when the document was written. The instance running the
	// batch (checking or ordering) writes its summary every few seconds
	// of progress, and every batchBeat while it waits: a running batch
	// whose summary's Beat is older than batchStale was left by an
	// instance that stopped.
	Beat time.Time
}

// batchDoc is a batch as its rows document keeps it (gzip-compressed JSON,
// see encodeBatch): every row, which every instance shows on the batch's
// page. Its state, progress and Beat are those of its last write; the
// batch's summary document has newer ones (see batchSummary).
type batchDoc struct {
	batchInfo
	Item fulfillment.Item
	Rows []batchRow
}

// batchSummary is a batch as its summary document keeps it (JSON, a few
// hundred bytes whatever the batch's size): what the upload page lists,
// and the state and progress the batch's page shows. It is written with
// every write of the rows document, and alone as the rows progress.
type batchSummary struct {
	batchInfo
	// Rows is the version of the rows document when this summary was
	// written.
	Rows int64
}

// batchView is a consistent copy of a batch for a page.
type batchView struct {
	ID, File, Format, Owner, State, Err string
	Created                             time.Time
	Item                                fulfillment.Item
	Done, Total                         int
	Rows, Bad                           []batchRow
	Counts                              map[string]int
	Valid                               int
}

// info copies the job for its documents; j.mu is held.
func (j *batchJob) info(now time.Time) batchInfo {
	return batchInfo{ID: j.ID, File: j.File, Format: j.Format, Owner: j.Owner, Created: j.Created,
		State: j.state, Done: j.done, Total: j.total, Err: j.err, Beat: now}
}

// doc copies the job for its rows document; j.mu is held.
func (j *batchJob) doc(now time.Time) batchDoc {
	return batchDoc{batchInfo: j.info(now), Item: j.Item, Rows: slices.Clone(j.rows)}
}

// rowsDue reports whether a write of the job's progress at now is to write
// its rows too: they changed, and were last written batchRowsEvery ago or
// more. j.mu is held.
func (j *batchJob) rowsDue(now time.Time) bool {
	return j.changes != j.kept && now.Sub(j.rowsSaved) >= batchRowsEvery
}

// changed counts a change to the job's rows; j.mu is held.
func (j *batchJob) changed() { j.changes++ }

func (j *batchJob) view() batchView {
	j.mu.Lock()
	d := j.doc(time.Time{})
	j.mu.Unlock()
	return d.view()
}

// view is the batch for a list: no rows.
func (i batchInfo) view() batchView {
	return batchView{ID: i.ID, File: i.File, Format: i.Format, Owner: i.Owner, State: i.State, Err: i.Err, Created: i.Created,
		Done: i.Done, Total: i.Total}
}

func (d batchDoc) view() batchView {
	v := d.batchInfo.view()
	v.Item, v.Rows, v.Counts = d.Item, d.Rows, map[string]int{}
	for _, r := range v.Rows {
		v.Counts[r.Result]++
		if r.Result == resultInvalid || r.Result == resultFailed {
			v.Bad = append(v.Bad, r)
		}
	}
	v.Valid = v.Counts[resultNotOrdered]
	return v
}

// A batch is two documents of the same ID and Created time: its rows
// document (batchDoc, collection console.batch: every row, up to ~0.6 MB
// for the largest upload) and its summary document (batchSummary,
// collection console.batch-summary: a few hundred bytes). The summary is
// what the upload page lists and the authority on the batch's state.
// Both are written by the instance running the batch: when it is
// uploaded and at every change of state the rows document, then the
// summary; as its rows progress, the summary at most every
// batchSaveEvery (and every batchBeat while it waits: Okta's rate limit),
// and the rows document with it only when rows changed and it was last
// written batchRowsEvery ago or more, or when they changed with the
// state (see save). Every instance sharing the store shows a batch from
// there: its state and progress as of the summary, its rows as of the
// rows document. Only a checked batch can be ordered, by whichever
// instance first moves its summary to ordering (compare-and-swap on its
// version).
const (
	batchCollection        = "console.batch"
	batchSummaryCollection = "console.batch-summary"
	batchSaveEvery         = 2 * time.Second
	batchRowsEvery         = 30 * time.Second
	batchBeat              = time.Minute
	batchStale             = 5 * time.Minute
	batchRecent            = 20 // batches listed on the upload page
)

// batchInterrupted is the state shown for a batch whose instance stopped
// while running it.
const batchInterrupted = "interrupted"

// errNoBatch is returned for a batch that is not (or no longer) kept.
var errNoBatch = errors.New("console: no such batch")

// batches keeps the batches in a fulfillment.DocumentStore, and the jobs
// this instance is running in memory.
type batches struct {
	docs    fulfillment.DocumentStore
	keep    time.Duration
	now     func() time.Time
	log     *slog.Logger
	started time.Time // when this instance started (see backfill)
	mu      sync.Mutex
	running map[string]*batchJob
	// backfilled is set once backfill wrote the summaries of the batches
	// kept without one.
	backfilled atomic.Bool
}

func newBatches(docs fulfillment.DocumentStore, keep time.Duration, now func() time.Time, log *slog.Logger) *batches {
	return &batches{docs: docs, keep: keep, now: now, log: log, started: now(), running: map[string]*batchJob{}}
}

// add keeps a new job, which this instance runs, and deletes the batches
// older than the retention.
func (b *batches) add(ctx context.Context, j *batchJob) error {
	if err := b.save(ctx, j, true); err != nil {
		return err
	}
	b.mu.Lock()
	b.running[j.ID] = j
	b.mu.Unlock()
	// The summaries first: a batch whose rows outlive its summary (the
	// second deletion failed) is not listed, and is deleted next time.
	before := b.now().Add(-b.keep)
	for _, collection := range []string{batchSummaryCollection, batchCollection} {
		if _, err := b.docs.DeleteDocuments(ctx, collection, before); err != nil {
			b.log.Warn("console: delete old batches", "error", err)
			break
		}
	}
	return nil
}

// save writes the job's rows document, if rows or if they are due
// (rowsDue) or changed with its state, then its summary. Both are copied
// from the job at once, so that a summary never names a rows document
// older than its own state: one saying checked or done names the rows
// checked or ordered, even when the state changed while the rows were
// being written. Only the instance running a job writes them, one save at
// a time, so a conflict means that a document was deleted or changed by
// something else.
func (b *batches) save(ctx context.Context, j *batchJob, rows bool) error {
	j.save.Lock()
	defer j.save.Unlock()
	now := b.now()
	j.mu.Lock()
	rows = rows || j.rowsDue(now) || (j.changes != j.kept && j.state != j.keptState)
	s := batchSummary{batchInfo: j.info(now), Rows: j.rowsVersion}
	var d batchDoc
	if rows {
		d = j.doc(now)
	}
	changes, rowsVersion, sumVersion := j.changes, j.rowsVersion, j.sumVersion
	j.mu.Unlock()
	if rows {
		data, err := encodeBatch(d)
		if err != nil {
			return fmt.Errorf("console: batch %s: %w", j.ID, err)
		}
		stored, err := b.docs.PutDocument(ctx, fulfillment.Document{Collection: batchCollection, ID: j.ID, Created: j.Created, Data: data, Version: rowsVersion})
		if err != nil {
			return fmt.Errorf("console: keep batch %s: %w", j.ID, err)
		}
		j.mu.Lock()
		j.rowsVersion, j.rowsSaved, j.kept, j.keptState = stored.Version, now, changes, d.State
		j.mu.Unlock()
		s.Rows = stored.Version
	}
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("console: batch %s: %w", j.ID, err)
	}
	stored, err := b.docs.PutDocument(ctx, fulfillment.Document{Collection: batchSummaryCollection, ID: j.ID, Created: j.Created, Data: data, Version: sumVersion})
	if err != nil {
		return fmt.Errorf("console: keep batch %s: %w", j.ID, err)
	}
	j.mu.Lock()
	j.sumVersion, j.saved = stored.Version, now
	j.mu.Unlock()
	return nil
}

// progress writes the job's progress if it was last written
// batchSaveEvery ago or more (see write).
func (b *batches) progress(ctx context.Context, j *batchJob) {
	j.mu.Lock()
	due := b.now().Sub(j.saved) >= batchSaveEvery
	j.mu.Unlock()
	if due {
		b.write(ctx, j)
	}
}

// write writes the job's summary, and its rows when they are due (see
// save).
func (b *batches) write(ctx context.Context, j *batchJob) {
	if err := b.save(ctx, j, false); err != nil {
		b.log.Warn("console: batch progress", "batch", j.ID, "error", err)
	}
}

// finish writes the job's final documents (its state changed) and stops
// holding it. When a write fails, this instance keeps showing the job
// from memory (and orders it, if checked: claimHeld); the others see it
// interrupted.
func (b *batches) finish(ctx context.Context, j *batchJob) {
	if err := b.save(ctx, j, true); err != nil {
		b.log.Error("console: batch result not kept", "batch", j.ID, "error", err)
		return
	}
	b.mu.Lock()
	delete(b.running, j.ID)
	b.mu.Unlock()
}

// beat writes the job's summary (and its rows when due) every batchBeat
// until stop is closed, so that other instances see that it is still
// running.
func (b *batches) beat(ctx context.Context, j *batchJob, stop <-chan struct{}) {
	t := time.NewTicker(batchBeat)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			b.write(ctx, j)
		}
	}
}

// get returns the batch: from memory if this instance runs it, else from
// its documents.
func (b *batches) get(ctx context.Context, id string) (batchView, error) {
	b.mu.Lock()
	j := b.running[id]
	b.mu.Unlock()
	if j != nil {
		return j.view(), nil
	}
	st, err := b.load(ctx, id)
	if err != nil {
		return batchView{}, err
	}
	return st.view(), nil
}

// storedBatch is a batch as read from the store.
type storedBatch struct {
	sum        batchSummary
	sumVersion int64 // 0: no summary document (sum is made from doc)
	doc        batchDoc
	docVersion int64
}

// view shows the rows of the rows document, and the rest (the state and
// progress) of the summary, which is written more often.
func (st storedBatch) view() batchView {
	d := st.doc
	d.batchInfo = st.sum.batchInfo
	return d.view()
}

// load reads a batch's documents, the summary first (a rows document is
// never older than the summary read before it); a running batch whose
// instance stopped comes back interrupted. A batch without a summary (one
// kept before summaries were, or whose summary was not written) is taken
// as its rows document says.
func (b *batches) load(ctx context.Context, id string) (storedBatch, error) {
	if fulfillment.CheckID("batch ID", id) != nil {
		return storedBatch{}, errNoBatch
	}
	var st storedBatch
	sum, err := b.docs.GetDocument(ctx, batchSummaryCollection, id)
	switch {
	case err == nil:
		if st.sum, err = decodeSummary(sum); err != nil {
			return storedBatch{}, err
		}
		st.sumVersion = sum.Version
	case !errors.Is(err, fulfillment.ErrDocumentNotFound):
		return storedBatch{}, err
	}
	doc, err := b.docs.GetDocument(ctx, batchCollection, id)
	if errors.Is(err, fulfillment.ErrDocumentNotFound) {
		return storedBatch{}, errNoBatch
	}
	if err != nil {
		return storedBatch{}, err
	}
	if st.doc, err = decodeBatch(doc.Data); err != nil {
		return storedBatch{}, fmt.Errorf("console: batch %s: stored document: %w", doc.ID, err)
	}
	st.docVersion = doc.Version
	if st.sumVersion == 0 {
		st.sum = batchSummary{batchInfo: st.doc.batchInfo, Rows: doc.Version}
	}
	b.interrupt(&st.sum)
	return st, nil
}

// decodeSummary reads a summary document.
func decodeSummary(doc fulfillment.Document) (batchSummary, error) {
	var s batchSummary
	if err := json.Unmarshal(doc.Data, &s); err != nil {
		return batchSummary{}, fmt.Errorf("console: batch %s: stored summary: %w", doc.ID, err)
	}
	return s, nil
}

// interrupt shows a running batch whose instance stopped writing it as
// interrupted.
func (b *batches) interrupt(s *batchSummary) {
	if (s.State == batchChecking || s.State == batchOrdering) && b.now().Sub(s.Beat) > batchStale {
		what := "Nothing was ordered."
		if s.State == batchOrdering {
			what = "Rows not shown as ordered may have been ordered or not."
		}
		s.Err = fmt.Sprintf("This batch stopped while %s: the instance running it last wrote at %s and has not since. %s "+
			"Upload the file again: a user whose key is already in fulfillment is skipped, never ordered twice.",
			s.State, s.Beat.UTC().Format(time.RFC3339), what)
		s.State = batchInterrupted
	}
}

// A batch's rows document is its JSON, gzip-compressed: the rows of a 1 MiB
// upload, each with its problem, make more JSON than a document holds
// (fulfillment.MaxDocumentSize), and the problems repeat. maxBatchJSON
// bounds the JSON a stored document may inflate to.
const maxBatchJSON = 256 << 20

// encodeBatch returns d as a document's data.
func encodeBatch(d batchDoc) ([]byte, error) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed) // a valid level
	if err := json.NewEncoder(zw).Encode(d); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeBatch reads a document's data made by encodeBatch.
func decodeBatch(data []byte) (batchDoc, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return batchDoc{}, err
	}
	js, err := io.ReadAll(io.LimitReader(zr, maxBatchJSON+1))
	switch {
	case err != nil:
		return batchDoc{}, err
	case len(js) > maxBatchJSON:
		return batchDoc{}, fmt.Errorf("more than %d bytes of JSON", maxBatchJSON)
	}
	var d batchDoc
	if err := json.Unmarshal(js, &d); err != nil {
		return batchDoc{}, err
	}
	return d, nil
}

// recent returns the newest batches, newest first, from their summaries
// (no rows).
func (b *batches) recent(ctx context.Context) ([]batchView, error) {
	docs, err := b.docs.ListDocuments(ctx, batchSummaryCollection, batchRecent)
	if err != nil {
		return nil, err
	}
	if len(docs) < batchRecent && !b.backfilled.Load() {
		if err := b.backfill(ctx, docs); err != nil {
			b.log.Warn("console: recent batches: summaries of older batches", "error", err)
		} else if docs, err = b.docs.ListDocuments(ctx, batchSummaryCollection, batchRecent); err != nil {
			return nil, err
		}
	}
	out := make([]batchView, 0, len(docs))
	for _, doc := range docs {
		b.mu.Lock()
		j := b.running[doc.ID]
		b.mu.Unlock()
		if j != nil {
			j.mu.Lock()
			info := j.info(time.Time{})
			j.mu.Unlock()
			out = append(out, info.view())
			continue
		}
		s, err := decodeSummary(doc)
		if err != nil {
			b.log.Warn("console: recent batches", "error", err)
			continue
		}
		b.interrupt(&s)
		out = append(out, s.view())
	}
	return out, nil
}

// backfill writes the summaries of the newest batches kept without one
// (by a console that kept no summaries), once per instance: while fewer
// than batchRecent summaries are listed (sums), such a batch may be among
// the newest. Only batches created a minute or more before this instance
// started are looked at, so that none being uploaded meanwhile (rows
// written, summary not yet) gets one before its own.
func (b *batches) backfill(ctx context.Context, sums []fulfillment.Document) error {
	docs, err := b.docs.ListDocuments(ctx, batchCollection, batchRecent)
	if err != nil {
		return err
	}
	have := make(map[string]bool, len(sums))
	for _, s := range sums {
		have[s.ID] = true
	}
	for _, doc := range docs {
		if have[doc.ID] || !doc.Created.Before(b.started.Add(-time.Minute)) {
			continue
		}
		d, err := decodeBatch(doc.Data)
		if err != nil {
			b.log.Warn("console: recent batches", "batch", doc.ID, "error", err)
			continue
		}
		data, err := json.Marshal(batchSummary{batchInfo: d.batchInfo, Rows: doc.Version})
		if err != nil {
			return err
		}
		_, err = b.docs.PutDocument(ctx, fulfillment.Document{Collection: batchSummaryCollection, ID: doc.ID, Created: doc.Created, Data: data})
		if err != nil && !errors.Is(err, fulfillment.ErrVersionConflict) { // a conflict: another instance wrote it
			return err
		}
	}
	b.backfilled.Store(true)
	return nil
}

// notOrderable is the refusal of an order for a batch that is not checked.
type notOrderable struct{ state string }

func (e notOrderable) Error() string { return "console: batch is " + e.state }

// claim moves a checked batch to ordering and returns it as a job this
// instance runs. Of several instances (or requests) ordering one batch,
// exactly one succeeds: the others get an error matching
// fulfillment.ErrVersionConflict, or notOrderable.
func (b *batches) claim(ctx context.Context, id string) (*batchJob, error) {
	b.mu.Lock()
	j := b.running[id]
	b.mu.Unlock()
	if j != nil {
		return b.claimHeld(ctx, j)
	}
	st, err := b.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if st.sum.State != batchChecked {
		return nil, notOrderable{st.sum.State}
	}
	if st.sum.Rows != st.docVersion {
		// The rows were written after the summary was read: the batch
		// is no longer checked.
		return nil, fmt.Errorf("%w: batch %s changed", fulfillment.ErrVersionConflict, id)
	}
	d := st.doc
	j = &batchJob{ID: d.ID, File: d.File, Format: d.Format, Owner: d.Owner, Created: d.Created, Item: d.Item,
		state: batchOrdering, rows: d.Rows, total: st.sum.Total, rowsVersion: st.docVersion, sumVersion: st.sumVersion}
	// The summary alone: its compare-and-swap is the claim, and the rows
	// are those of the checked batch.
	if err := b.save(ctx, j, false); err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.running[id] = j
	b.mu.Unlock()
	return j, nil
}

// claimHeld claims a batch this instance holds. One that is checked is
// held because its result could not be written (finish): the others see
// it still checking, or interrupted, and cannot order it, so this instance
// does, moving it to ordering from the versions it last wrote. Its rows
// are written too if the checked ones were not: save writes rows that
// changed since they were last written in another state.
func (b *batches) claimHeld(ctx context.Context, j *batchJob) (*batchJob, error) {
	j.mu.Lock()
	state := j.state
	if state == batchChecked {
		j.state, j.done = batchOrdering, 0 // under j.mu: one request claims it
	}
	j.mu.Unlock()
	if state != batchChecked {
		return nil, notOrderable{state}
	}
	if err := b.save(ctx, j, false); err != nil {
		j.mu.Lock()
		j.state = batchChecked
		j.mu.Unlock()
		return nil, err
	}
	return j, nil
}

// batchFormPage is the upload page's data.
type batchFormPage struct {
	Error  string
	Item   fulfillment.Item
	Format string
	Max    string
	Recent []batchView
}

// formats are the file formats the upload page offers.
var formats = map[string]func() fulfillment.Mapping{
	"workday":    fulfillment.WorkdayMapping,
	"servicenow": fulfillment.ServiceNowMapping,
}

func (c *console) batchForm(w http.ResponseWriter, r *http.Request, s *session) {
	c.renderBatchForm(w, r, s, http.StatusOK, batchFormPage{})
}

func (c *console) renderBatchForm(w http.ResponseWriter, r *http.Request, s *session, status int, d batchFormPage) {
	d.Max = byteSize(c.maxUpload)
	recent, err := c.batches.recent(r.Context())
	if err != nil {
		c.log.Warn("console: recent batches", "error", err)
	}
	d.Recent = recent
	c.render(w, r, s, status, "batch", page{Title: "Batch order", Data: d})
}

// byteSize writes n bytes for people: "1 MiB".
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// multipartOverhead is what a multipart body may carry besides the file.
const multipartOverhead = 64 << 10

// batchUpload reads an uploaded file and starts checking its rows.
func (c *console) batchUpload(w http.ResponseWriter, r *http.Request, s *session) {
	// Bounded before anything reads the form: r.FormValue parses the
	// whole multipart body (to memory, then to temporary files).
	r.Body = http.MaxBytesReader(w, r.Body, c.maxUpload+multipartOverhead)
	d := batchFormPage{Format: r.FormValue("format")}
	f, hdr, err := r.FormFile("file")
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) || (err == nil && hdr.Size > c.maxUpload) {
		c.record(r, s, "batch upload", "", outcomeRefused, "file larger than "+byteSize(c.maxUpload))
		d.Error = "The file is larger than " + byteSize(c.maxUpload) + ", the most the console accepts. Split it into smaller files."
		c.renderBatchForm(w, r, s, http.StatusRequestEntityTooLarge, d)
		return
	}
	if err != nil {
		d.Error = "Choose a CSV file to upload."
		c.renderBatchForm(w, r, s, http.StatusBadRequest, d)
		return
	}
	defer f.Close()
	d.Format = r.PostFormValue("format")
	d.Item = fulfillment.Item{
		ProductID:          r.PostFormValue("productId"),
		InventoryProductID: r.PostFormValue("inventoryProductId"),
		CustomizationID:    r.PostFormValue("customizationId"),
	}
	if d.Item != (fulfillment.Item{}) {
		if err := d.Item.Validate(); err != nil {
			d.Error = "The key to order: " + batchcsv.Problem(err)
			c.renderBatchForm(w, r, s, http.StatusUnprocessableEntity, d)
			return
		}
	}
	var m *fulfillment.Mapping
	if mk, ok := formats[d.Format]; ok {
		mm := mk()
		m = &mm
	} else if d.Format != "" && d.Format != "auto" {
		d.Error = "Unknown format " + strconv.Quote(d.Format) + "."
		c.renderBatchForm(w, r, s, http.StatusBadRequest, d)
		return
	}
	data, err := io.ReadAll(io.LimitReader(f, c.maxUpload+1))
	if err == nil && int64(len(data)) > c.maxUpload {
		err = fmt.Errorf("larger than %s", byteSize(c.maxUpload))
	}
	var rows []batchcsv.Row
	if err == nil {
		rows, m, err = batchcsv.Read(r.Context(), data, m, "choose Workday or ServiceNow under Format")
	}
	if err == nil && len(rows) == 0 {
		err = errors.New("no user rows after the header")
	}
	if err != nil {
		c.record(r, s, "batch upload", hdr.Filename, outcomeRefused, oneLine(err))
		d.Error = "The file cannot be read: " + batchcsv.Safe(oneLine(err))
		c.renderBatchForm(w, r, s, http.StatusUnprocessableEntity, d)
		return
	}
	id, err := randomToken()
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	j := &batchJob{ID: id[:16], File: hdr.Filename, Format: "Okta logins", Owner: s.Login, Created: c.now(), Item: d.Item, state: batchChecking}
	if m != nil {
		j.Format = "profiles"
		if d.Format != "" && d.Format != "auto" {
			j.Format = d.Format + " export"
		}
	}
	for _, row := range rows {
		br := batchRow{Line: row.Line, Login: row.Login, Problem: row.Problem, Profile: row.Profile, Result: resultNotOrdered}
		if row.Problem != "" {
			br.Result = resultInvalid
		} else {
			j.total++
		}
		j.rows = append(j.rows, br)
	}
	if err := c.batches.add(r.Context(), j); err != nil {
		c.record(r, s, "batch upload", hdr.Filename, outcomeFailed, oneLine(err))
		c.fail(w, r, s, err)
		return
	}
	c.record(r, s, "batch upload", j.ID, outcomeOK, fmt.Sprintf("%s: %d rows, %d bad", hdr.Filename, len(rows), len(rows)-j.total))
	c.work.Go(func() { c.checkBatch(context.WithoutCancel(r.Context()), j) })
	http.Redirect(w, r, c.base+"/batch/"+j.ID, http.StatusSeeOther)
}

// batchConcurrency is how many rows are looked up at once.
const batchConcurrency = 4

// checkBatch looks each good row's user up at Okta and validates it, as
// the order will: reads only.
func (c *console) checkBatch(ctx context.Context, j *batchJob) {
	stop := make(chan struct{})
	defer close(stop)
	c.work.Go(func() { c.batches.beat(ctx, j, stop) })
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(batchConcurrency)
	for i := range j.rows {
		j.mu.Lock()
		row := j.rows[i]
		j.mu.Unlock()
		if row.Result != resultNotOrdered {
			continue
		}
		g.Go(func() error {
			c.checkRow(gctx, &row)
			j.mu.Lock()
			j.rows[i] = row
			j.done++
			j.changed()
			j.mu.Unlock()
			c.batches.progress(ctx, j)
			c.publishBatch(j)
			return nil
		})
	}
	g.Wait()
	j.mu.Lock()
	j.state, j.done, j.total = batchChecked, 0, 0
	j.changed()
	for _, r := range j.rows {
		if r.Result == resultNotOrdered {
			j.total++
		}
	}
	j.mu.Unlock()
	c.batches.finish(ctx, j)
	c.publishBatch(j)
}

// checkRow looks one row's user up at Okta and validates its address.
func (c *console) checkRow(ctx context.Context, row *batchRow) {
	u, err := c.okta.GetUser(ctx, row.Login)
	switch {
	case errors.Is(err, okta.ErrNotFound) && row.Profile != nil:
		row.Kind = fulfillment.NewUser
		p := *row.Profile
		p.UserStatus, p.NeverSignedIn = okta.UserStaged, true
		if err := fulfillment.ShippingInfoFromProfile(p).Check(); err != nil {
			row.Result, row.Problem = resultInvalid, "a new user (created STAGED): "+batchcsv.Problem(err)
		}
	case errors.Is(err, okta.ErrNotFound):
		row.Result, row.Problem = resultInvalid, "Okta has no user with this login"
	case err != nil:
		row.Result, row.Problem = resultFailed, "Okta did not answer: "+batchcsv.Problem(err)
	case row.Profile != nil:
		row.Kind, row.UserID = fulfillment.ExistingUser, u.ID
		p := *row.Profile
		p.UserStatus, p.NeverSignedIn = u.Status, u.LastLogin.IsZero()
		if err := fulfillment.ShippingInfoFromProfile(p).Check(); err != nil {
			row.Result, row.Problem = resultInvalid, batchcsv.Problem(err)
		}
	default:
		row.UserID = u.ID
		if err := c.svc.CheckShipping(u); err != nil {
			row.Result, row.Problem = resultInvalid, "the Okta profile cannot be shipped to: "+batchcsv.Problem(err)
		}
	}
}

func (c *console) publishBatch(j *batchJob) {
	j.mu.Lock()
	e := batchEvent{ID: j.ID, State: j.state, Done: j.done, Total: j.total}
	j.mu.Unlock()
	c.live.publish(liveEvent{Kind: "batch", Data: e})
}

// requestedBatch returns the batch the request's path names; when it is not
// kept, it answers 404 (the problem's detail ending with hint) and returns
// false.
func (c *console) requestedBatch(w http.ResponseWriter, r *http.Request, s *session, hint string) (batchView, bool) {
	v, err := c.batches.get(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, errNoBatch):
		c.problem(w, r, s, http.StatusNotFound, "No such batch", "This batch is not (or no longer) kept."+hint)
		return v, false
	case err != nil:
		c.fail(w, r, s, err)
		return v, false
	}
	return v, true
}

// batchPage shows a batch: its bad rows, its progress, its results.
func (c *console) batchPage(w http.ResponseWriter, r *http.Request, s *session) {
	v, ok := c.requestedBatch(w, r, s, " Upload the file again.")
	if !ok {
		return
	}
	p := page{Title: "Batch " + v.File, Live: "batch:" + v.ID, Data: v}
	if v.State == batchChecking || v.State == batchOrdering {
		p.Refresh = 3
	}
	c.render(w, r, s, http.StatusOK, "batchjob", p)
}

// batchOrder orders the valid rows of a checked batch.
func (c *console) batchOrder(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	j, err := c.batches.claim(r.Context(), id)
	var refused notOrderable
	switch {
	case errors.Is(err, errNoBatch):
		c.problem(w, r, s, http.StatusNotFound, "No such batch", "This batch is not (or no longer) kept. Upload the file again.")
		return
	case errors.As(err, &refused):
		c.record(r, s, "batch order", id, outcomeRefused, "batch is "+refused.state)
		c.problem(w, r, s, http.StatusConflict, "Not ordered", "This batch is "+refused.state+"; only a checked batch can be ordered, once.")
		return
	case errors.Is(err, fulfillment.ErrVersionConflict):
		c.record(r, s, "batch order", id, outcomeRefused, "batch changed meanwhile")
		c.problem(w, r, s, http.StatusConflict, "Not ordered", "This batch changed while you looked at it (it is being ordered by another request). Reload it.")
		return
	case err != nil:
		c.record(r, s, "batch order", id, outcomeFailed, oneLine(err))
		c.fail(w, r, s, err)
		return
	}
	c.record(r, s, "batch order", j.ID, outcomeOK, fmt.Sprintf("ordering %d valid rows of %s", j.view().Valid, j.File))
	c.work.Go(func() { c.orderBatch(context.WithoutCancel(r.Context()), j, s) })
	http.Redirect(w, r, c.base+"/batch/"+j.ID, http.StatusSeeOther)
}

// orderBatch prepares the users of profile rows, then orders every valid
// row with Service.OrderBatch.
func (c *console) orderBatch(ctx context.Context, j *batchJob, s *session) {
	stop := make(chan struct{})
	defer close(stop)
	c.work.Go(func() { c.batches.beat(ctx, j, stop) })
	j.mu.Lock()
	rows := j.rows
	j.mu.Unlock()
	// Prepare users (profile rows) first, batchConcurrency at a time.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(batchConcurrency)
	for i := range rows {
		j.mu.Lock()
		row := j.rows[i]
		j.mu.Unlock()
		if row.Result != resultNotOrdered || row.Profile == nil {
			continue
		}
		g.Go(func() error {
			id, err := c.svc.PrepareUser(gctx, *row.Profile, row.Kind)
			j.mu.Lock()
			defer j.mu.Unlock()
			j.changed()
			if err != nil {
				j.rows[i].Result, j.rows[i].Problem = resultFailed, "preparing the Okta user: "+batchcsv.Problem(err)
				return nil
			}
			j.rows[i].UserID = id
			return nil
		})
	}
	g.Wait()
	var keys []string
	var index []int
	j.mu.Lock()
	for i, row := range j.rows {
		if row.Result == resultNotOrdered {
			keys = append(keys, row.UserID)
			index = append(index, i)
		}
	}
	j.total = len(keys)
	item := j.Item
	j.mu.Unlock()
	opts := fulfillment.BatchOptions{Progress: func(p fulfillment.Progress) {
		j.mu.Lock()
		j.done = p.Done
		j.mu.Unlock()
		c.batches.progress(ctx, j)
		c.publishBatch(j)
	}}
	if item != (fulfillment.Item{}) {
		opts.Items = []fulfillment.Item{item}
	}
	rep, err := c.svc.OrderBatch(ctx, keys, opts)
	j.mu.Lock()
	for _, res := range rep.Invalid {
		row := &j.rows[index[res.Index]]
		row.Result, row.Problem = resultInvalid, batchcsv.Problem(res.Err)
	}
	for _, res := range rep.Results {
		row := &j.rows[index[res.Index]]
		row.Status = res.Status
		switch {
		case res.Err == nil:
			row.Result = resultOrdered
		case errors.Is(res.Err, fulfillment.ErrOrderInFlight):
			row.Result, row.Problem = resultSkipped, "a key is already in fulfillment"
		default:
			row.Result, row.Problem = resultFailed, batchcsv.Problem(res.Err)
		}
	}
	if err != nil {
		j.err = oneLine(err)
	}
	j.state, j.done = batchDone, j.total
	j.changed()
	summary := fmt.Sprintf("%s: %d ordered, %d skipped, %d failed, %d invalid", j.File, rep.Ordered, rep.Skipped, rep.Failed, len(rep.Invalid))
	j.mu.Unlock()
	c.batches.finish(ctx, j)
	outcome := outcomeOK
	if err != nil || rep.Failed > 0 {
		outcome = outcomeFailed
	}
	c.recordAs(s, "batch order finished", j.ID, outcome, summary)
	c.publishBatch(j)
}

// batchCSV downloads the per-row results.
func (c *console) batchCSV(w http.ResponseWriter, r *http.Request, s *session) {
	v, ok := c.requestedBatch(w, r, s, "")
	if !ok {
		return
	}
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	cw.Write([]string{"line", "login", "user_id", "result", "status", "problem"})
	for _, row := range v.Rows {
		status := ""
		if row.Status != fulfillment.StatusNone {
			status = string(row.Status)
		}
		cw.Write([]string{strconv.Itoa(row.Line), batchcsv.Cell(row.Login), batchcsv.Cell(row.UserID), row.Result, status, batchcsv.Cell(row.Problem)})
	}
	cw.Flush()
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="batch-`+v.ID+`-results.csv"`)
	w.Write(buf.Bytes())
}

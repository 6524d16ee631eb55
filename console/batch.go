package console

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
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

// batchRow is one row of a batch and what happened to it.
type batchRow struct {
	Line    int
	Login   string
	UserID  string
	Result  string
	Status  fulfillment.Status
	Problem string
	profile *fulfillment.Profile
	kind    fulfillment.UserKind
}

// batchJob is one uploaded file.
type batchJob struct {
	ID, File, Format, Owner string
	Created                 time.Time
	Item                    fulfillment.Item

	mu    sync.Mutex
	state string
	done  int // rows checked or ordered so far in this state
	total int
	rows  []batchRow
	err   string // why the whole batch stopped
}

// batchView is a consistent copy of a job for a page.
type batchView struct {
	ID, File, Format, Owner, State, Err string
	Created                             time.Time
	Item                                fulfillment.Item
	Done, Total                         int
	Rows, Bad                           []batchRow
	Counts                              map[string]int
	Valid                               int
}

func (j *batchJob) view() batchView {
	j.mu.Lock()
	defer j.mu.Unlock()
	v := batchView{ID: j.ID, File: j.File, Format: j.Format, Owner: j.Owner, State: j.state, Err: j.err, Created: j.Created,
		Item: j.Item, Done: j.done, Total: j.total, Rows: append([]batchRow(nil), j.rows...), Counts: map[string]int{}}
	for _, r := range v.Rows {
		v.Counts[r.Result]++
		if r.Result == resultInvalid || r.Result == resultFailed {
			v.Bad = append(v.Bad, r)
		}
	}
	v.Valid = v.Counts[resultNotOrdered]
	return v
}

// batches holds the recent jobs in memory.
type batches struct {
	mu   sync.Mutex
	jobs map[string]*batchJob
	ids  []string // oldest first
}

// maxBatches is how many jobs are kept.
const maxBatches = 50

func newBatches() *batches { return &batches{jobs: map[string]*batchJob{}} }

func (b *batches) add(j *batchJob) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.ids) == maxBatches {
		delete(b.jobs, b.ids[0])
		b.ids = b.ids[1:]
	}
	b.jobs[j.ID] = j
	b.ids = append(b.ids, j.ID)
}

func (b *batches) get(id string) *batchJob {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.jobs[id]
}

func (b *batches) recent() []batchView {
	b.mu.Lock()
	jobs := make([]*batchJob, 0, len(b.ids))
	for i := len(b.ids) - 1; i >= 0; i-- {
		jobs = append(jobs, b.jobs[b.ids[i]])
	}
	b.mu.Unlock()
	out := make([]batchView, len(jobs))
	for i, j := range jobs {
		out[i] = j.view()
	}
	return out
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
	d.Recent = c.batches.recent()
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
	d := batchFormPage{Format: r.FormValue("format")}
	r.Body = http.MaxBytesReader(w, r.Body, c.maxUpload+multipartOverhead)
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
		br := batchRow{Line: row.Line, Login: row.Login, Problem: row.Problem, profile: row.Profile, Result: resultNotOrdered}
		if row.Problem != "" {
			br.Result = resultInvalid
		} else {
			j.total++
		}
		j.rows = append(j.rows, br)
	}
	c.batches.add(j)
	c.record(r, s, "batch upload", j.ID, outcomeOK, fmt.Sprintf("%s: %d rows, %d bad", hdr.Filename, len(rows), len(rows)-j.total))
	c.work.Go(func() { c.checkBatch(context.WithoutCancel(r.Context()), j) })
	http.Redirect(w, r, c.base+"/batch/"+j.ID, http.StatusSeeOther)
}

// batchConcurrency is how many rows are looked up at once.
const batchConcurrency = 4

// checkBatch looks each good row's user up at Okta and validates it, as
// the order will: reads only.
func (c *console) checkBatch(ctx context.Context, j *batchJob) {
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
			j.mu.Unlock()
			c.publishBatch(j)
			return nil
		})
	}
	g.Wait()
	j.mu.Lock()
	j.state, j.done, j.total = batchChecked, 0, 0
	for _, r := range j.rows {
		if r.Result == resultNotOrdered {
			j.total++
		}
	}
	j.mu.Unlock()
	c.publishBatch(j)
}

// checkRow looks one row's user up at Okta and validates its address.
func (c *console) checkRow(ctx context.Context, row *batchRow) {
	u, err := c.okta.GetUser(ctx, row.Login)
	switch {
	case errors.Is(err, okta.ErrNotFound) && row.profile != nil:
		row.kind = fulfillment.NewUser
		p := *row.profile
		p.UserStatus, p.NeverSignedIn = okta.UserStaged, true
		if err := fulfillment.ShippingInfoFromProfile(p).Check(); err != nil {
			row.Result, row.Problem = resultInvalid, "a new user (created STAGED): "+batchcsv.Problem(err)
		}
	case errors.Is(err, okta.ErrNotFound):
		row.Result, row.Problem = resultInvalid, "Okta has no user with this login"
	case err != nil:
		row.Result, row.Problem = resultFailed, "Okta did not answer: "+batchcsv.Problem(err)
	case row.profile != nil:
		row.kind, row.UserID = fulfillment.ExistingUser, u.ID
		p := *row.profile
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
// nil.
func (c *console) requestedBatch(w http.ResponseWriter, r *http.Request, s *session, hint string) *batchJob {
	j := c.batches.get(r.PathValue("id"))
	if j == nil {
		c.problem(w, r, s, http.StatusNotFound, "No such batch", "This batch is not (or no longer) kept."+hint)
	}
	return j
}

// batchPage shows a batch: its bad rows, its progress, its results.
func (c *console) batchPage(w http.ResponseWriter, r *http.Request, s *session) {
	j := c.requestedBatch(w, r, s, " Upload the file again.")
	if j == nil {
		return
	}
	v := j.view()
	p := page{Title: "Batch " + v.File, Live: "batch:" + v.ID, Data: v}
	if v.State == batchChecking || v.State == batchOrdering {
		p.Refresh = 3
	}
	c.render(w, r, s, http.StatusOK, "batchjob", p)
}

// batchOrder orders the valid rows of a checked batch.
func (c *console) batchOrder(w http.ResponseWriter, r *http.Request, s *session) {
	j := c.requestedBatch(w, r, s, " Upload the file again.")
	if j == nil {
		return
	}
	j.mu.Lock()
	state := j.state
	if state == batchChecked {
		j.state, j.done = batchOrdering, 0
	}
	j.mu.Unlock()
	if state != batchChecked {
		c.record(r, s, "batch order", j.ID, outcomeRefused, "batch is "+state)
		c.problem(w, r, s, http.StatusConflict, "Not ordered", "This batch is "+state+"; only a checked batch can be ordered, once.")
		return
	}
	c.record(r, s, "batch order", j.ID, outcomeOK, fmt.Sprintf("ordering %d valid rows of %s", j.view().Valid, j.File))
	c.work.Go(func() { c.orderBatch(context.WithoutCancel(r.Context()), j, s) })
	http.Redirect(w, r, c.base+"/batch/"+j.ID, http.StatusSeeOther)
}

// orderBatch prepares the users of profile rows, then orders every valid
// row with Service.OrderBatch.
func (c *console) orderBatch(ctx context.Context, j *batchJob, s *session) {
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
		if row.Result != resultNotOrdered || row.profile == nil {
			continue
		}
		g.Go(func() error {
			id, err := c.svc.PrepareUser(gctx, *row.profile, row.kind)
			j.mu.Lock()
			defer j.mu.Unlock()
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
	summary := fmt.Sprintf("%s: %d ordered, %d skipped, %d failed, %d invalid", j.File, rep.Ordered, rep.Skipped, rep.Failed, len(rep.Invalid))
	j.mu.Unlock()
	outcome := outcomeOK
	if err != nil || rep.Failed > 0 {
		outcome = outcomeFailed
	}
	c.recordAs(s, "batch order finished", j.ID, outcome, summary)
	c.publishBatch(j)
}

// batchCSV downloads the per-row results.
func (c *console) batchCSV(w http.ResponseWriter, r *http.Request, s *session) {
	j := c.requestedBatch(w, r, s, "")
	if j == nil {
		return
	}
	v := j.view()
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

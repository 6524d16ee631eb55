package console

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/yubico"
)

// page is what every template gets.
type page struct {
	Title   string
	Session *session
	Base    string
	Live    string // the live-update scope: "people", "user:ID", "batch:ID" or ""
	Notice  string // a success message
	// NoticeFor is the key status the notice is about (user pages): once a
	// live update shows the key in another status, live.js removes the
	// notice, which would be stale. "": the notice stays.
	NoticeFor fulfillment.Status
	Problem   string // a failure message
	// Refresh is the seconds before the page reloads itself in a browser
	// without JavaScript (a meta refresh inside <noscript>; with
	// JavaScript, live updates refresh the page); 0: none.
	Refresh int
	Data    any
}

// ReadOnly reports whether the visitor is signed in read-only: the pages
// hide every action (the server refuses them anyway) and say so.
func (p page) ReadOnly() bool { return p.Session != nil && !p.Session.Admin() }

// parseTemplates parses every page with the layout.
func parseTemplates(c *console) (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"base":   func() string { return c.base },
		"time":   fmtTime,
		"label":  func(s fulfillment.Status) string { return s.Label() },
		"state":  stateText,
		"lower":  strings.ToLower,
		"status": statusClass,
	}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("console: templates: %w", err)
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// fmtTime shows a time in UTC to the second, or "—".
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// stateText names a Yubico shipment state once, for "state …":
// "103, Shipped", or "7" for a state without a name.
func stateText(s yubico.ShipmentState) string {
	if !s.Known() {
		return strconv.Itoa(int(s))
	}
	return fmt.Sprintf("%d, %s", int(s), s)
}

// statusClass is the CSS class of a status badge.
func statusClass(s fulfillment.Status) string {
	if s == fulfillment.StatusNone {
		return "st-none"
	}
	return "st-" + strings.ToLower(strings.ReplaceAll(string(s), "_", "-"))
}

// render writes the page name with status.
func (c *console) render(w http.ResponseWriter, r *http.Request, s *session, status int, name string, p page) {
	p.Session, p.Base = s, c.base
	t := c.tmpl[name]
	var buf bytes.Buffer
	if t == nil {
		c.log.Error("console: no template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		c.log.Error("console: render", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// problem renders an error page.
func (c *console) problem(w http.ResponseWriter, r *http.Request, s *session, status int, title, text string) {
	c.render(w, r, s, status, "problem", page{Title: title, Problem: text})
}

// fail renders an unexpected error without its text (which may carry
// details that are not the visitor's business) and logs it.
func (c *console) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	c.log.Error("console: request failed", "path", r.URL.Path, "error", err)
	c.problem(w, r, s, http.StatusInternalServerError, "Something went wrong",
		"The console could not complete this request. It has been logged; try again.")
}

// peopleRow is one line of the People page.
type peopleRow struct {
	UserID, Login string
	Status        fulfillment.Status
	Step          fulfillment.Step
	Updated       time.Time
	Reason        string
}

// statusCount is one of the counts at the top of the People page.
type statusCount struct {
	Status   fulfillment.Status
	Count    int
	Selected bool
}

// peoplePage is the People page's data.
type peoplePage struct {
	Counts   []statusCount
	Total    int
	Filter   fulfillment.Status
	Rows     []peopleRow
	Login    string // the search box
	NotFound string // a login Okta does not know
	More     bool   // more rows than shown
}

// maxPeopleRows is how many rows the People page shows.
const maxPeopleRows = 1000

// people lists every user the Service knows, with counts per status.
func (c *console) people(w http.ResponseWriter, r *http.Request, s *session) {
	var filter fulfillment.Status
	if v := r.URL.Query().Get("status"); v != "" {
		filter = fulfillment.Status(v)
		if !filter.Valid() {
			c.problem(w, r, s, http.StatusBadRequest, "Unknown status", "There is no status "+strconv.Quote(v)+".")
			return
		}
	}
	// The counts come from the store's count, and only the rows shown
	// are read: the page costs the same at 100,000 keys as at 100.
	counts, err := c.svc.CountByStatus(r.Context())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	q := fulfillment.Query{Limit: maxPeopleRows + 1}
	if filter != "" {
		q.Statuses = []fulfillment.Status{filter}
	}
	recs, err := c.svc.List(r.Context(), q)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d := peoplePage{Filter: filter, NotFound: providerText(r.URL.Query().Get("notfound"), maxLoginShown)}
	if len(recs) > maxPeopleRows {
		recs, d.More = recs[:maxPeopleRows], true
	}
	for _, rec := range recs {
		d.Rows = append(d.Rows, peopleRow{UserID: rec.UserID, Login: rec.Login, Status: rec.Status, Step: rec.Step, Updated: rec.UpdatedAt, Reason: rec.Reason})
	}
	for _, st := range fulfillment.Statuses() {
		d.Total += counts[st]
		d.Counts = append(d.Counts, statusCount{Status: st, Count: counts[st], Selected: st == filter})
	}
	c.render(w, r, s, http.StatusOK, "people", page{Title: "People", Live: "people", Data: d})
}

// maxLoginShown is how much of a login the People page repeats when
// Okta has no such user: the login comes from the page's URL, which
// anybody can link to.
const maxLoginShown = 256

// find looks a user up at Okta by login (or ID) and opens their page.
func (c *console) find(w http.ResponseWriter, r *http.Request, s *session) {
	login := strings.TrimSpace(r.URL.Query().Get("login"))
	if login == "" || len(login) > 256 || strings.ContainsAny(login, "/?#") {
		http.Redirect(w, r, c.base+"/?notfound="+urlQueryEscape(login), http.StatusSeeOther)
		return
	}
	u, err := c.okta.GetUser(r.Context(), login)
	switch {
	case errors.Is(err, okta.ErrNotFound):
		http.Redirect(w, r, c.base+"/?notfound="+urlQueryEscape(login), http.StatusSeeOther)
	case errors.Is(err, okta.ErrInvalidArgument):
		c.badUserID(w, r, s, err)
	case err != nil:
		c.oktaDown(w, r, s, err)
	default:
		http.Redirect(w, r, c.base+"/users/"+urlPathEscape(u.ID), http.StatusSeeOther)
	}
}

// badUserID renders a 400 page saying what is wrong with the user ID or
// login the Okta client refused to send (err matches okta.ErrInvalidArgument;
// its *okta.ArgumentError's problem quotes the ID as given and carries no
// secret).
func (c *console) badUserID(w http.ResponseWriter, r *http.Request, s *session, err error) {
	msg := "This user ID or login cannot be looked up at Okta."
	if ae, ok := errors.AsType[*okta.ArgumentError](err); ok {
		msg = "This cannot be looked up at Okta: the user ID or login " + ae.Problem + "."
	}
	c.problem(w, r, s, http.StatusBadRequest, "Not a user ID or login", msg)
}

// oktaDown renders a page saying Okta did not answer.
func (c *console) oktaDown(w http.ResponseWriter, r *http.Request, s *session, err error) {
	c.log.Error("console: Okta", "path", r.URL.Path, "error", err)
	c.problem(w, r, s, http.StatusBadGateway, "Okta did not answer", "Okta could not be reached or refused the request. Try again in a minute.")
}

// userView is what the user and action pages show about one user.
type userView struct {
	User      okta.User
	Record    *fulfillment.Record // nil: never ordered
	StatusErr string              // Okta could not be asked for the enrollments
	Problems  []fulfillment.FieldError
	Delivery  []deliveryField

	CanOrder   bool
	OrderWhy   string // why not
	CanSendPIN bool
	CanRetry   bool
	CanDelete  bool
}

// deliveryField is one line of the delivery section: an Okta attribute
// and its value.
type deliveryField struct {
	Attribute, Label, Value string
	Problem                 string
}

// deliveryAttrs are the profile attributes the delivery section shows.
var deliveryAttrs = []struct{ attr, label string }{
	{fulfillment.AttrFirstName, "First name"}, {fulfillment.AttrLastName, "Last name"},
	{fulfillment.AttrOrganization, "Organization"}, {fulfillment.AttrEmail, "Primary email"},
	{fulfillment.AttrSecondEmail, "Secondary email"}, {fulfillment.AttrPrimaryPhone, "Phone"},
	{fulfillment.AttrStreetAddress, "Street address"}, {fulfillment.AttrCity, "City"},
	{fulfillment.AttrState, "State"}, {fulfillment.AttrZipCode, "Postal code"},
	{fulfillment.AttrCountryCode, "Country code"},
}

// loadUser reads the user from Okta and the record from the Service.
func (c *console) loadUser(ctx context.Context, id string) (userView, error) {
	var v userView
	u, err := c.okta.GetUser(ctx, id)
	if err != nil {
		return v, err
	}
	v.User = u
	rec, err := c.svc.Status(ctx, u.ID)
	switch {
	case errors.Is(err, fulfillment.ErrRecordNotFound):
	case err != nil && rec.UserID == "":
		return v, err
	default:
		if err != nil {
			v.StatusErr = "Okta's enrollment list could not be read; the status is the one last recorded."
		}
		v.Record = &rec
	}
	if err := c.svc.CheckShipping(u); err != nil {
		var ve *fulfillment.ValidationError
		if !errors.As(err, &ve) {
			return v, err
		}
		v.Problems = ve.Fields
	}
	p := fulfillment.ProfileFromOkta(u)
	values := map[string]string{
		fulfillment.AttrFirstName: p.FirstName, fulfillment.AttrLastName: p.LastName, fulfillment.AttrOrganization: p.Organization,
		fulfillment.AttrEmail: p.Email, fulfillment.AttrSecondEmail: p.SecondEmail, fulfillment.AttrPrimaryPhone: p.PrimaryPhone,
		fulfillment.AttrStreetAddress: p.StreetAddress, fulfillment.AttrCity: p.City, fulfillment.AttrState: p.State,
		fulfillment.AttrZipCode: p.ZipCode, fulfillment.AttrCountryCode: p.CountryCode,
	}
	for _, a := range deliveryAttrs {
		f := deliveryField{Attribute: a.attr, Label: a.label, Value: values[a.attr]}
		for _, pr := range v.Problems {
			if pr.Field == a.attr {
				f.Problem = joinProblem(f.Problem, pr.Problem)
			}
		}
		v.Delivery = append(v.Delivery, f)
	}
	st := fulfillment.StatusNone
	if v.Record != nil {
		st = v.Record.Status
	}
	if err := fulfillment.CanOrder(st); err != nil {
		v.OrderWhy = "A key is already in fulfillment (" + st.Label() + "): wait until it is active, or delete it."
	} else {
		v.CanOrder = true
	}
	if v.Record != nil {
		v.CanSendPIN = st.Can(fulfillment.EventResendPIN)
		v.CanRetry = st.Can(fulfillment.EventRetry) || v.Record.Step == fulfillment.StepManagedElsewhere
		v.CanDelete = st.Can(fulfillment.EventDelete)
	}
	return v, nil
}

func joinProblem(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// userPage shows one user.
func (c *console) user(w http.ResponseWriter, r *http.Request, s *session) {
	v, ok := c.userOr404(w, r, s)
	if !ok {
		return
	}
	p := page{Title: userTitle(v.User), Live: "user:" + v.User.ID, Notice: doneText[r.URL.Query().Get("done")], Data: v}
	if p.Notice != "" && v.Record != nil {
		p.NoticeFor = v.Record.Status
	}
	c.render(w, r, s, http.StatusOK, "user", p)
}

// doneText are the notices after an action, by the redirect's done=.
var doneText = map[string]string{
	"order":    "The key was ordered. Its status follows below as it moves.",
	"send-pin": "Okta was asked to email the PIN again.",
	"retry":    "The key is being fulfilled again from the step that failed.",
	"delete":   "The key was deleted.",
}

func userTitle(u okta.User) string {
	if n := strings.TrimSpace(u.Profile.FirstName + " " + u.Profile.LastName); n != "" {
		return n + " (" + u.Profile.Login + ")"
	}
	return u.Profile.Login
}

// userOr404 loads the page's user, rendering the error page if it cannot.
func (c *console) userOr404(w http.ResponseWriter, r *http.Request, s *session) (userView, bool) {
	v, err := c.loadUser(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, okta.ErrNotFound):
		c.problem(w, r, s, http.StatusNotFound, "No such user", "Okta has no user with this ID.")
		return v, false
	case errors.Is(err, okta.ErrInvalidArgument):
		c.badUserID(w, r, s, err)
		return v, false
	case err != nil:
		c.oktaDown(w, r, s, err)
		return v, false
	}
	return v, true
}

// orderPage is the order form's data.
type orderPage struct {
	userView
	Item        fulfillment.Item
	Products    []yubico.Product
	Inventory   []yubico.InventoryItem
	CatalogErr  string
	ItemErrors  map[string]string // by form field
	OrderFailed string
}

// orderForm shows the order page.
func (c *console) orderForm(w http.ResponseWriter, r *http.Request, s *session) {
	v, ok := c.userOr404(w, r, s)
	if !ok {
		return
	}
	c.renderOrder(w, r, s, http.StatusOK, orderPage{userView: v, Item: c.item})
}

func (c *console) renderOrder(w http.ResponseWriter, r *http.Request, s *session, status int, d orderPage) {
	if c.yubico != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		var err error
		if d.Products, err = c.yubico.Products(ctx); err == nil {
			d.Inventory, err = c.yubico.Inventory(ctx)
		}
		if err != nil {
			c.log.Error("console: Yubico catalogue", "error", err)
			d.CatalogErr = "Yubico's product list could not be read; type the IDs."
		}
	}
	c.render(w, r, s, status, "order", page{Title: "Add a pre-enrolled security key", Data: d})
}

// order orders a key for the user.
func (c *console) order(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	item := fulfillment.Item{
		ProductID:          strings.TrimSpace(r.PostFormValue("productId")),
		InventoryProductID: strings.TrimSpace(r.PostFormValue("inventoryProductId")),
		CustomizationID:    strings.TrimSpace(r.PostFormValue("customizationId")),
	}
	_, err := c.svc.Order(r.Context(), id, item)
	if err == nil {
		c.record(r, s, "order", id, outcomeOK, fmt.Sprintf("product %s, inventory %s, customization %s", item.ProductID, item.InventoryProductID, item.CustomizationID))
		http.Redirect(w, r, c.base+"/users/"+urlPathEscape(id)+"?done=order", http.StatusSeeOther)
		return
	}
	outcome := outcomeFailed
	if refusal(err) {
		outcome = outcomeRefused
	}
	c.record(r, s, "order", id, outcome, oneLine(err))
	v, ok := c.userOr404(w, r, s)
	if !ok {
		return
	}
	d := orderPage{userView: v, Item: item, ItemErrors: map[string]string{}}
	var ve *fulfillment.ValidationError
	switch {
	case errors.As(err, &ve) && errors.Is(err, fulfillment.ErrInvalidOrder):
		for _, f := range ve.Fields {
			field := f.Field[strings.LastIndex(f.Field, ".")+1:]
			d.ItemErrors[field] = joinProblem(d.ItemErrors[field], f.Problem)
		}
		d.OrderFailed = "The order was not sent: fix the fields marked below."
	case errors.As(err, &ve):
		d.OrderFailed = "The order was not sent: the profile cannot be shipped to (see Security key delivery)."
	case errors.Is(err, fulfillment.ErrOrderInFlight):
		d.OrderFailed = "The order was not sent: a key is already in fulfillment for this user."
	default:
		d.OrderFailed = "The order failed: " + oneLine(err)
	}
	c.renderOrder(w, r, s, http.StatusUnprocessableEntity, d)
}

// refusal reports whether err is the Service refusing an action (the
// status machine, validation), not a failure to carry it out.
func refusal(err error) bool {
	return errors.Is(err, fulfillment.ErrInvalidTransition) || errors.Is(err, fulfillment.ErrOrderInFlight) ||
		errors.Is(err, fulfillment.ErrInvalidShipping) || errors.Is(err, fulfillment.ErrInvalidOrder) ||
		errors.Is(err, fulfillment.ErrRecordNotFound) || errors.Is(err, fulfillment.ErrBusy)
}

// oneLine is err's text on one line.
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// act runs an action on the user's key and reports it.
func (c *console) act(w http.ResponseWriter, r *http.Request, s *session, action, done string, do func(ctx context.Context, id string) error) {
	id := r.PathValue("id")
	// No key can have an ID CheckID refuses (its error, an *IDError, says
	// why): refused here, not by the Service, whose store would refuse it
	// too but whose other checks may come first (Retry's Yubico client)
	// and answer with a failure.
	var bad *fulfillment.IDError
	if err := fulfillment.CheckID("user ID", id); errors.As(err, &bad) {
		c.record(r, s, action, id, outcomeRefused, "user ID "+bad.Problem)
		c.problem(w, r, s, http.StatusBadRequest, "Not done: "+action, "This is not a user ID: it "+bad.Problem+".")
		return
	}
	err := do(r.Context(), id)
	if err == nil {
		c.record(r, s, action, id, outcomeOK, "")
		http.Redirect(w, r, c.base+"/users/"+urlPathEscape(id)+"?done="+done, http.StatusSeeOther)
		return
	}
	status, outcome, text := http.StatusBadGateway, outcomeFailed, "It failed: "+oneLine(err)
	var ve *fulfillment.ValidationError
	switch {
	case errors.Is(err, fulfillment.ErrInvalidTransition):
		status, outcome, text = http.StatusConflict, outcomeRefused, "The key's status does not allow this: "+oneLine(err)
	case errors.Is(err, fulfillment.ErrRecordNotFound):
		status, outcome, text = http.StatusNotFound, outcomeRefused, "No key was ever ordered for this user."
	case errors.Is(err, fulfillment.ErrBusy):
		status, outcome, text = http.StatusConflict, outcomeRefused, "Another instance is working on this key; try again in a few minutes."
	case errors.As(err, &ve):
		status, outcome, text = http.StatusUnprocessableEntity, outcomeRefused, "The user's profile cannot be shipped to; fix it in Okta first: "+oneLine(err)
	}
	c.record(r, s, action, id, outcome, oneLine(err))
	c.problem(w, r, s, status, "Not done: "+action, text)
}

func (c *console) sendPIN(w http.ResponseWriter, r *http.Request, s *session) {
	c.act(w, r, s, "send PIN", "send-pin", c.svc.ResendPIN)
}

func (c *console) retry(w http.ResponseWriter, r *http.Request, s *session) {
	c.act(w, r, s, "retry", "retry", func(ctx context.Context, id string) error {
		_, err := c.svc.Retry(ctx, id)
		return err
	})
}

func (c *console) delete(w http.ResponseWriter, r *http.Request, s *session) {
	if r.PostFormValue("confirm") != "yes" {
		c.record(r, s, "delete", r.PathValue("id"), outcomeRefused, "not confirmed")
		c.problem(w, r, s, http.StatusBadRequest, "Not deleted", "Deleting needs the confirmation on the delete page.")
		return
	}
	c.act(w, r, s, "delete", "delete", c.svc.Delete)
}

// deleteForm shows what Delete will do and asks for confirmation.
func (c *console) deleteForm(w http.ResponseWriter, r *http.Request, s *session) {
	v, ok := c.userOr404(w, r, s)
	if !ok {
		return
	}
	if !v.CanDelete {
		c.problem(w, r, s, http.StatusConflict, "Nothing to delete", "This user has no key that can be deleted.")
		return
	}
	c.render(w, r, s, http.StatusOK, "delete", page{Title: "Delete the security key of " + userTitle(v.User), Data: v})
}

// auditPage lists the audit trail.
func (c *console) auditPage(w http.ResponseWriter, r *http.Request, s *session) {
	es, err := c.audit.Recent(r.Context(), 500)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, s, http.StatusOK, "audit", page{Title: "Audit", Data: es})
}

// urlPathEscape escapes an ID for a path segment.
func urlPathEscape(s string) string { return url.PathEscape(s) }

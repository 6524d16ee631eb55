package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/internal/batchcsv"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

func init() {
	Register(&Command{
		Name:    "batch",
		Summary: "order pre-enrolled YubiKeys for the users of a CSV file",
		MaxArgs: 0,
		Doc: `Orders pre-enrolled YubiKeys for many Okta users, read from -csv FILE. The
header says what the file is: a lone column "login" lists Okta logins (or user
IDs) whose Okta profiles are shipped to as they are; "login" with more of
Okta's profile attribute names gives each user's profile, and then the header
has every one of login, firstName, lastName, email, primaryPhone,
streetAddress, city, zipCode, countryCode and organization, and may have
secondEmail and state (a cell may be empty; a new hire's PIN goes to
secondEmail, so it needs one). Headers match ignoring case and white space;
other columns are ignored. An HR system's export needs -mapping workday|servicenow.
Users of profile rows not yet in Okta are created STAGED (new hires), the
others get their shipping attributes updated, and then everybody is ordered.

Every bad row is reported with its line and problem: a malformed or duplicate
login, an HRIS row the reader rejects, an address that does not validate
(every field), a user Okta does not know or whose profile cannot be shipped
to. By default a batch with any bad row orders nobody, so that the corrected
file can be run as a whole; -skip-invalid orders the valid rows. Without
-skip-invalid a file with bad rows of its own is refused before Okta is asked,
so what only Okta can tell (an unknown user, a new hire without secondEmail)
shows on the run after those rows are fixed. A row that could not be checked
because Okta was unreachable is reported as failed, not bad: run the batch
again later.

On a terminal a progress bar is drawn, otherwise one line per user; then a
summary, and -report FILE writes a CSV of per-row results (line, login,
user_id, result, status, problem). Logins and problems are printed with
control characters escaped.

An interrupt (Ctrl-C) while users are looked up stops at once, ordering
nobody; once ordering began it stops new orders while the ones in flight
finish and are recorded. Running the same command with the same -store then
orders exactly the users not yet ordered. A second Ctrl-C exits at once.

Without -okta-org it runs on in-process fakes, seeding the users it reads.
The fakes start empty on every run, so there a second run with the same
-store orders everybody again: resuming needs an Okta org.

Exit codes: 0 every valid row was ordered or already had a key in fulfillment
(and no row was bad, unless -skip-invalid; with it, at least one row must be
good); 1 bad rows, failures or an interrupt; 2 bad usage.`,
		Run: runBatch,
	})
}

// The results of a row, as the report names them.
const (
	resultOrdered    = "ordered"
	resultSkipped    = "skipped"     // a key is already in fulfillment (e.g. ordered by an earlier run)
	resultFailed     = "failed"      // the order was attempted (or the row could not be checked) and failed
	resultInvalid    = "invalid"     // a bad row: nobody was ordered for it
	resultNotOrdered = "not-ordered" // a good row of a batch refused for its bad rows, or never reached
)

// outcome is what happened to one row.
type outcome struct {
	row
	kind   fulfillment.UserKind // HRIS rows: how to prepare the user
	result string
	status fulfillment.Status
}

// batchRun is one batch: its settings, rows and where it prints.
type batchRun struct {
	inv *Invocation
	out []outcome
}

// runBatch reads the rows, orders and reports; it returns the exit code.
func runBatch(ctx context.Context, inv *Invocation) int {
	cfg := inv.Config
	rows, m, err := readRows(ctx, cfg)
	cfg.Mapping = m
	if err != nil {
		inv.errorf("%s: %s", cfg.CSVFile, multiLine(err))
		return ExitFailed
	}
	if len(rows) == 0 {
		inv.errorf("%s: no user rows after the header", cfg.CSVFile)
		return ExitFailed
	}
	br := &batchRun{inv: inv, out: make([]outcome, len(rows))}
	nbad := 0
	for i, r := range rows {
		br.out[i] = outcome{row: r, result: resultNotOrdered}
		if r.problem != "" {
			br.out[i].result = resultInvalid
			nbad++
		}
	}
	if nbad > 0 && !cfg.SkipInvalid {
		return br.refuse(nbad)
	}

	var seedProblems map[int]string
	seeded := 0
	b, err := openBackend(ctx, inv, false, func(srv *oktatest.Server) error {
		seeded, seedProblems = seed(srv, cfg, rows)
		return nil
	})
	if err != nil {
		inv.errorf("%s", describe(ctx, err))
		return ExitFailed
	}
	defer b.Close()
	if b.fakeOkta != nil {
		fmt.Fprintf(inv.Stdout, "in-process fakes: Okta %s, Yubico %s; seeded %d users\n", b.fakeOkta.URL(), b.fakeYubico.URL(), seeded)
	}
	for i, problem := range seedProblems {
		br.out[i].result, br.out[i].problem = resultInvalid, "the fake org refused the user: "+problem
	}
	if n := br.count(resultInvalid); n > nbad && !cfg.SkipInvalid {
		return br.refuse(n)
	}

	// One look at Okta first: if it cannot be reached, every row fails
	// now, with the reason, instead of each row's retries in turn.
	if err := br.reachOkta(ctx, b); err != nil {
		return br.finish(ctx, err)
	}

	if cfg.Mapping != nil {
		if err := br.lookup(ctx, b); err != nil {
			return br.finish(ctx, err)
		}
		if n := br.count(resultInvalid); n > nbad && !cfg.SkipInvalid {
			return br.refuse(n)
		}
		svc, err := b.service(inv, nil)
		if err != nil {
			return br.finish(ctx, err)
		}
		if err := br.prepare(ctx, svc); err != nil {
			return br.finish(ctx, err)
		}
		if n := br.count(resultInvalid); n > nbad && !cfg.SkipInvalid {
			return br.refuse(n)
		}
	}
	if ctx.Err() != nil {
		return br.finish(ctx, ctx.Err())
	}
	return br.order(ctx, b)
}

// order orders the rows still to be ordered with Service.OrderBatch.
func (br *batchRun) order(ctx context.Context, b *backend) int {
	cfg := br.inv.Config
	var keys []string
	var index []int // keys[i] is the user of out[index[i]]
	for i, o := range br.out {
		if o.result != resultNotOrdered {
			continue
		}
		keys = append(keys, cmp.Or(o.userID, o.login))
		index = append(index, i)
	}
	// Until the first order starts, an interrupt cancels the batch (users
	// are only being looked up); from then on it only stops new orders,
	// and the orders in flight run on, uncancelled, to their recorded end
	// (see gatedStore).
	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	gate := &gatedStore{Store: b.store, stop: ctx.Done(), cancel: cancel}
	defer context.AfterFunc(ctx, gate.interrupt)()
	svc, err := b.service(br.inv, gate)
	if err != nil {
		return br.finish(ctx, err)
	}
	prog := newProgress(br.inv.Stdout, len(keys))
	rep, err := svc.OrderBatch(bctx, keys, fulfillment.BatchOptions{
		Items: []fulfillment.Item{cfg.Item}, StopOnInvalid: !cfg.SkipInvalid, Progress: prog.update,
	})
	prog.done()
	if bctx.Err() != nil && ctx.Err() != nil {
		return br.finish(ctx, ctx.Err()) // interrupted before any order started
	}
	unreached := 0
	for _, r := range rep.Invalid {
		o := &br.out[index[r.Index]]
		o.userID = cmp.Or(r.UserID, o.userID)
		if unreachable(ctx, r.Err) {
			// Not a bad row: Okta did not answer for it.
			o.result, o.problem = resultFailed, describe(ctx, r.Err)
			unreached++
			continue
		}
		o.result, o.problem = resultInvalid, describe(ctx, r.Err)
	}
	for _, r := range rep.Results {
		o := &br.out[index[r.Index]]
		o.userID, o.status = r.UserID, r.Status
		switch {
		case r.Err == nil:
			o.result = resultOrdered
		case errors.Is(r.Err, fulfillment.ErrOrderInFlight):
			o.result, o.problem = resultSkipped, "a key is already in fulfillment"
		case errors.Is(r.Err, errInterrupted):
			o.result, o.problem = resultNotOrdered, "interrupted"
		default:
			o.result, o.problem = resultFailed, describe(ctx, r.Err)
		}
	}
	if errors.Is(err, fulfillment.ErrInvalidBatch) {
		if len(rep.Invalid) > unreached {
			return br.refuse(br.count(resultInvalid))
		}
		for i := range br.out {
			if br.out[i].result == resultNotOrdered {
				br.out[i].problem = "not ordered: Okta was unreachable for other rows; run the batch again"
			}
		}
		err = nil
	}
	return br.finish(ctx, err)
}

// reachOkta looks the first row's user up. If Okta cannot be reached, or
// refuses the credentials, every row fails with the reason (the client has
// already retried, saying so on stderr); any other answer, even "not
// found", is fine.
func (br *batchRun) reachOkta(ctx context.Context, b *backend) error {
	for _, o := range br.out {
		if o.result != resultNotOrdered {
			continue
		}
		_, err := b.okta.GetUser(ctx, cmp.Or(o.userID, o.login))
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if unreachable(ctx, err) || refusedCredentials(err) {
			why, fatal := "Okta unreachable", errOktaUnreachable
			if !unreachable(ctx, err) {
				why, fatal = "Okta refused the credentials", errOktaRefused
			}
			others := fmt.Sprintf("not checked: %s (see line %d)", why, o.line)
			for i := range br.out {
				if br.out[i].result == resultNotOrdered {
					br.out[i].result, br.out[i].problem = resultFailed, others
				}
			}
			for i := range br.out {
				if br.out[i].line == o.line {
					br.out[i].problem = describe(ctx, err)
				}
			}
			return fatal
		}
		return nil
	}
	return nil
}

// errOktaUnreachable and errOktaRefused end a batch whose first look at
// Okta failed: no answer, or the API token or service app was refused.
var (
	errOktaUnreachable = errors.New("Okta is unreachable; nobody was ordered; run the batch again when it is back")
	errOktaRefused     = errors.New("Okta refused the credentials; nobody was ordered; fix the Okta settings and run the batch again")
)

// readRows reads the CSV file, through cfg.Mapping or, without one, as
// its header says: plain logins, or profiles named by Okta's attributes.
// It returns the mapping the rows were read with (nil for plain logins).
func readRows(ctx context.Context, cfg *Config) ([]row, *fulfillment.Mapping, error) {
	f, err := os.Open(cfg.CSVFile)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	data, err := batchcsv.ReadAll(f)
	if err != nil {
		return nil, nil, err
	}
	rows, m, err := batchcsv.Read(ctx, data, cfg.Mapping, "give -mapping")
	return rowsOf(rows), m, err
}

// count returns how many rows have result.
func (br *batchRun) count(result string) int {
	n := 0
	for _, o := range br.out {
		if o.result == result {
			n++
		}
	}
	return n
}

// refuse reports a batch that orders nobody because of its bad rows.
func (br *batchRun) refuse(nbad int) int {
	for i := range br.out {
		if br.out[i].result == resultNotOrdered {
			br.out[i].problem = "not ordered: the batch has bad rows"
		}
	}
	printBad(br.inv.Stderr, br.out)
	br.inv.errorf("%d of %d rows are bad; nobody was ordered (fix them, or use -skip-invalid to order the valid rows)", nbad, len(br.out))
	if err := writeReport(br.inv.Config.ReportFile, br.out); err != nil {
		br.inv.errorf("-report: %v", err)
	}
	summarize(br.inv.Stdout, br.out)
	return ExitFailed
}

// finish prints the bad rows, the summary and the report, and picks the
// exit code. err is the batch's error (ctx ended, Okta unreachable).
func (br *batchRun) finish(ctx context.Context, err error) int {
	inv := br.inv
	printBad(inv.Stderr, br.out)
	summarize(inv.Stdout, br.out)
	if rerr := writeReport(inv.Config.ReportFile, br.out); rerr != nil {
		inv.errorf("-report: %v", rerr)
		return ExitFailed
	}
	if ctx.Err() != nil {
		hint := "rerun with the same -store to order the rest"
		if inv.Config.Store == "" {
			hint = "without -store the records were in memory; a rerun relies on Okta's enrollment list"
		}
		inv.errorf("interrupted (%v); %s", ctx.Err(), hint)
		return ExitFailed
	}
	if err != nil {
		inv.errorf("%s", describe(ctx, err))
		return ExitFailed
	}
	for _, o := range br.out {
		if o.result == resultFailed || o.result == resultNotOrdered || (o.result == resultInvalid && !inv.Config.SkipInvalid) {
			return ExitFailed
		}
	}
	if n := br.count(resultInvalid); n == len(br.out) {
		// -skip-invalid orders the good rows; a file with none is a failed
		// batch, not a done one (a scheduled run must see it).
		inv.errorf("all %d rows are bad; nobody was ordered", n)
		return ExitFailed
	}
	return ExitOK
}

// printBad lists every bad or failed row with its line.
func printBad(w io.Writer, out []outcome) {
	for _, o := range out {
		if o.result != resultInvalid && o.result != resultFailed {
			continue
		}
		who := ""
		if o.login != "" {
			who = " " + safe(o.login)
		}
		fmt.Fprintf(w, "line %d%s: %s: %s\n", o.line, who, o.result, safe(o.problem))
	}
}

// summarize prints the counts of each result.
func summarize(w io.Writer, out []outcome) {
	counts := map[string]int{}
	for _, o := range out {
		counts[o.result]++
	}
	fmt.Fprintf(w, "batch: %d rows: %d ordered, %d skipped (already in fulfillment), %d failed, %d invalid, %d not ordered\n",
		len(out), counts[resultOrdered], counts[resultSkipped], counts[resultFailed], counts[resultInvalid], counts[resultNotOrdered])
}

// Generated addresses for users seeded on the fakes from plain logins.
var addresses = []okta.Profile{
	{StreetAddress: "7788 Foxrun Street", City: "Dedham", State: "MA", ZipCode: "02026", CountryCode: "US", PrimaryPhone: "+1 781 555 0142"},
	{StreetAddress: "Unter den Linden 77", City: "Berlin", ZipCode: "10117", CountryCode: "DE", PrimaryPhone: "+49 30 901820"},
	{StreetAddress: "10 Downing Street", City: "London", ZipCode: "SW1A 2AA", CountryCode: "GB", PrimaryPhone: "+44 20 7946 0958"},
}

// Generated names for users seeded on the fakes from plain logins.
var (
	firstNames = []string{"Jan", "Ada", "Lars", "Mia", "Noah", "Zoe", "Omar", "Ines", "Raj", "Eva", "Kim"}
	lastNames  = []string{"Lindberg", "Okafor", "Nilsson", "Schmidt", "Brown", "Dubois", "Haddad", "Moreau", "Patel"}
)

// seed adds the users of the good rows to the fake org: plain logins as
// STAGED users with a generated address; HRIS rows whose Okta status is
// ACTIVE as existing accounts (the others are created by PrepareUser). It
// returns how many it added and, by row index, why the fake refused a user
// (a login that is not an email address, as Okta's default schema demands).
func seed(srv *oktatest.Server, cfg *Config, rows []row) (int, map[int]string) {
	n := 0
	problems := map[int]string{}
	for i, r := range rows {
		if r.problem != "" {
			continue
		}
		local, _, _ := strings.Cut(r.login, "@")
		var p okta.Profile
		switch {
		case cfg.Mapping == nil:
			p = addresses[i%len(addresses)]
			p.Login, p.Email, p.SecondEmail = r.login, r.login, local+"@home.example.net"
			p.FirstName, p.LastName, p.Organization = firstNames[i%len(firstNames)], lastNames[i%len(lastNames)], "Example Inc."
		case strings.EqualFold(string(r.profile.UserStatus), string(okta.UserActive)):
			p = okta.Profile{Login: r.login, Email: cmp.Or(r.profile.Email, r.login), SecondEmail: r.profile.SecondEmail,
				FirstName: r.profile.FirstName, LastName: r.profile.LastName}
		default:
			continue
		}
		status := okta.UserStaged
		if cfg.Mapping != nil {
			status = okta.UserActive
		}
		if _, err := srv.AddUser(p, status); err != nil {
			problems[i] = seedProblem(err)
			continue
		}
		n++
	}
	return n, problems
}

// seedProblem words why the in-process fake org refused to seed a user
// (the [oktatest.AddUserError]'s Reason: the profile's causes, or a login
// taken), for a message that names the flag or row it came from.
func seedProblem(err error) string {
	if ae, ok := errors.AsType[*oktatest.AddUserError](err); ok {
		return ae.Reason()
	}
	return err.Error()
}

// eachPending runs fn for every row still to be ordered, Concurrency at a
// time; fn records its row's outcome. It stops at the first error of fn
// (ctx ended).
func (br *batchRun) eachPending(ctx context.Context, fn func(ctx context.Context, o *outcome) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(br.inv.Config.Concurrency)
	for i := range br.out {
		o := &br.out[i]
		if o.result != resultNotOrdered {
			continue
		}
		g.Go(func() error { return fn(gctx, o) })
	}
	return g.Wait()
}

// lookup finds each good HRIS row's user in Okta (a read) and decides how
// to prepare it: users Okta does not know are new hires, to be created
// STAGED; the others exist. The address is validated again with the
// status Okta will see (a new hire needs a secondary email), and a row
// that fails becomes invalid, before anything is changed in Okta. A row
// Okta did not answer for fails (it is not bad).
func (br *batchRun) lookup(ctx context.Context, b *backend) error {
	return br.eachPending(ctx, func(ctx context.Context, o *outcome) error {
		p := *o.profile
		u, err := b.okta.GetUser(ctx, o.login)
		switch {
		case errors.Is(err, okta.ErrNotFound):
			o.kind = fulfillment.NewUser
			p.UserStatus, p.NeverSignedIn = okta.UserStaged, true
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			o.result, o.problem = rowFailure(ctx, err)
			return nil
		default:
			o.kind = fulfillment.ExistingUser
			p.UserStatus, p.NeverSignedIn = u.Status, u.LastLogin.IsZero()
		}
		if err := fulfillment.ShippingInfoFromProfile(p).Check(); err != nil {
			o.result, o.problem = resultInvalid, describe(ctx, err)
		}
		return nil
	})
}

// rowFailure classifies an error about one row: invalid when it is about
// the user, failed when Okta could not be reached.
func rowFailure(ctx context.Context, err error) (result, problem string) {
	if unreachable(ctx, err) {
		return resultFailed, describe(ctx, err)
	}
	return resultInvalid, describe(ctx, err)
}

// prepare makes the HRIS rows' users ready in Okta with
// Service.PrepareUser: new hires are created STAGED, existing users get
// their shipping attributes updated. A row that cannot be prepared becomes
// invalid (failed if Okta could not be reached).
func (br *batchRun) prepare(ctx context.Context, svc *fulfillment.Service) error {
	return br.eachPending(ctx, func(ctx context.Context, o *outcome) error {
		id, err := svc.PrepareUser(ctx, *o.profile, o.kind)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			o.result, o.problem = rowFailure(ctx, err)
			return nil
		}
		o.userID = id
		return nil
	})
}

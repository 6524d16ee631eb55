package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// The results of a row, as the report names them.
const (
	resultOrdered    = "ordered"
	resultSkipped    = "skipped"     // a key is already in fulfillment (e.g. ordered by an earlier run)
	resultFailed     = "failed"      // the order was attempted and failed
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

// runBatch reads the rows, orders and reports; it returns the exit code.
func runBatch(ctx context.Context, cfg config, stdout, stderr io.Writer) int {
	rows, m, err := readRows(ctx, cfg)
	cfg.mapping = m
	if err != nil {
		fmt.Fprintf(stderr, "batch: %s: %v\n", cfg.csvFile, err)
		return 1
	}
	if len(rows) == 0 {
		fmt.Fprintf(stderr, "batch: %s: no user rows after the header\n", cfg.csvFile)
		return 1
	}
	out := make([]outcome, len(rows))
	nbad := 0
	for i, r := range rows {
		out[i] = outcome{row: r, result: resultNotOrdered}
		if r.problem != "" {
			out[i].result = resultInvalid
			nbad++
		}
	}
	if nbad > 0 && !cfg.skipInvalid {
		return refuse(cfg, out, nbad, stdout, stderr)
	}

	b, err := open(ctx, cfg, rows, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "batch: %s\n", describe(err))
		return 1
	}
	defer b.close()
	for i, problem := range b.seedProblems {
		out[i].result, out[i].problem = resultInvalid, "the fake org refused the user: "+problem
	}
	if n := countInvalid(out); n > nbad && !cfg.skipInvalid {
		return refuse(cfg, out, n, stdout, stderr)
	}

	if cfg.mapping != nil {
		if err := lookup(ctx, b, cfg, out); err != nil {
			return finish(ctx, cfg, out, err, stdout, stderr)
		}
		if n := countInvalid(out); n > nbad && !cfg.skipInvalid {
			return refuse(cfg, out, n, stdout, stderr)
		}
		if err := prepare(ctx, b, cfg, out); err != nil {
			return finish(ctx, cfg, out, err, stdout, stderr)
		}
		if n := countInvalid(out); n > nbad && !cfg.skipInvalid {
			return refuse(cfg, out, n, stdout, stderr)
		}
	}

	var keys []string
	var index []int // keys[i] is the user of out[index[i]]
	for i, o := range out {
		if o.result != resultNotOrdered {
			continue
		}
		keys = append(keys, cmp.Or(o.userID, o.login))
		index = append(index, i)
	}
	if ctx.Err() != nil {
		return finish(ctx, cfg, out, ctx.Err(), stdout, stderr)
	}
	prog := newProgress(stdout, len(keys))
	// An interrupt stops new orders at the store (see gatedStore); the
	// orders in flight run on, uncancelled, to their recorded end.
	rep, err := b.svc.OrderBatch(context.WithoutCancel(ctx), keys, fulfillment.BatchOptions{
		Items: []fulfillment.Item{cfg.item}, StopOnInvalid: !cfg.skipInvalid, Progress: prog.update,
	})
	prog.done()
	for _, r := range rep.Invalid {
		o := &out[index[r.Index]]
		o.result, o.problem, o.userID = resultInvalid, describe(r.Err), cmp.Or(r.UserID, o.userID)
	}
	for _, r := range rep.Results {
		o := &out[index[r.Index]]
		o.userID, o.status = r.UserID, r.Status
		switch {
		case r.Err == nil:
			o.result = resultOrdered
		case errors.Is(r.Err, fulfillment.ErrOrderInFlight):
			o.result, o.problem = resultSkipped, "a key is already in fulfillment"
		case errors.Is(r.Err, errInterrupted):
			o.result, o.problem = resultNotOrdered, "interrupted"
		default:
			o.result, o.problem = resultFailed, describe(r.Err)
		}
	}
	if errors.Is(err, fulfillment.ErrInvalidBatch) {
		return refuse(cfg, out, countInvalid(out), stdout, stderr)
	}
	return finish(ctx, cfg, out, err, stdout, stderr)
}

// readRows reads the CSV file, through cfg.mapping or, without one, as
// its header says: plain logins, or profiles named by Okta's attributes.
// It returns the mapping the rows were read with (nil for plain logins).
func readRows(ctx context.Context, cfg config) ([]row, *fulfillment.Mapping, error) {
	f, err := os.Open(cfg.csvFile)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	data, err := readAllBounded(f)
	if err != nil {
		return nil, nil, err
	}
	m := cfg.mapping
	if m == nil {
		m = detectMapping(data)
	}
	if m != nil {
		rows, err := readHRIS(ctx, data, *m)
		return rows, m, err
	}
	rows, err := readLogins(data)
	return rows, nil, err
}

func countInvalid(out []outcome) int {
	n := 0
	for _, o := range out {
		if o.result == resultInvalid {
			n++
		}
	}
	return n
}

// refuse reports a batch that orders nobody because of its bad rows.
func refuse(cfg config, out []outcome, nbad int, stdout, stderr io.Writer) int {
	for i := range out {
		if out[i].result == resultNotOrdered {
			out[i].problem = "not ordered: the batch has bad rows"
		}
	}
	printBad(stderr, out)
	fmt.Fprintf(stderr, "batch: %d of %d rows are bad; nobody was ordered (fix them, or use -skip-invalid to order the valid rows)\n", nbad, len(out))
	if err := writeReport(cfg.reportFile, out); err != nil {
		fmt.Fprintf(stderr, "batch: -report: %v\n", err)
	}
	summarize(stdout, out)
	return 1
}

// finish prints the bad rows, the summary and the report, and picks the
// exit code. err is the batch's error (ctx ended, a fake failed).
func finish(ctx context.Context, cfg config, out []outcome, err error, stdout, stderr io.Writer) int {
	printBad(stderr, out)
	summarize(stdout, out)
	if rerr := writeReport(cfg.reportFile, out); rerr != nil {
		fmt.Fprintf(stderr, "batch: -report: %v\n", rerr)
		return 1
	}
	if ctx.Err() != nil {
		hint := "rerun with the same -state to order the rest"
		if cfg.stateFile == "" {
			hint = "without -state the Service's records were in memory; a rerun relies on Okta's one-key-in-fulfillment check"
		}
		fmt.Fprintf(stderr, "batch: interrupted (%v); %s\n", ctx.Err(), hint)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "batch: %s\n", describe(err))
		return 1
	}
	for _, o := range out {
		if o.result == resultFailed || o.result == resultNotOrdered || (o.result == resultInvalid && !cfg.skipInvalid) {
			return 1
		}
	}
	return 0
}

// printBad lists every bad or failed row with its line.
func printBad(w io.Writer, out []outcome) {
	for _, o := range out {
		if o.result != resultInvalid && o.result != resultFailed {
			continue
		}
		who := ""
		if o.login != "" {
			who = " " + o.login
		}
		fmt.Fprintf(w, "line %d%s: %s: %s\n", o.line, who, o.result, o.problem)
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

// describe says what went wrong for one user, on one line.
func describe(err error) string {
	var ve *fulfillment.ValidationError
	var ae *okta.APIError
	switch {
	case errors.Is(err, errInterrupted):
		return "interrupted"
	case errors.As(err, &ve):
		parts := make([]string, len(ve.Fields))
		for i, f := range ve.Fields {
			parts[i] = f.Error()
		}
		return strings.Join(parts, "; ")
	case errors.As(err, &ae):
		return fmt.Sprintf("Okta: HTTP %d %s: %s", ae.StatusCode, ae.ErrorCode, ae.ErrorSummary)
	}
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

// backend is the Service and what it talks to.
type backend struct {
	okta  *okta.Client
	svc   *fulfillment.Service
	close func()
	// seedProblems holds, by row index, why the fake org refused a row's
	// user (fake mode only).
	seedProblems map[int]string
}

// fakeRPID is the relying-party ID of the fake org.
const fakeRPID = "example.okta.com"

// open connects to the org (or starts and seeds the fakes), opens the store
// and makes the Service.
func open(ctx context.Context, cfg config, rows []row, stdout io.Writer) (backend, error) {
	var (
		b      backend
		rpID   = cfg.rpID
		closes []func()
	)
	b.close = func() {
		for i := len(closes) - 1; i >= 0; i-- {
			closes[i]()
		}
	}
	fail := func(err error) (backend, error) { b.close(); return backend{}, err }
	if cfg.org == "" {
		ysrv, err := yubicotest.Start()
		if err != nil {
			return fail(err)
		}
		closes = append(closes, ysrv.Close)
		osrv, err := oktatest.Start(oktatest.WithNow(ysrv.Now()), oktatest.WithAttestationRoots(ysrv.FIDOCA().Root()))
		if err != nil {
			return fail(err)
		}
		closes = append(closes, osrv.Close)
		n, problems := seed(osrv, cfg, rows)
		b.seedProblems = problems
		fmt.Fprintf(stdout, "in-process fakes: Okta %s, Yubico %s; seeded %d users\n", osrv.URL(), ysrv.URL(), n)
		if b.okta, err = osrv.Client(); err != nil {
			return fail(err)
		}
		rpID = cmp.Or(rpID, fakeRPID)
	} else {
		var err error
		if b.okta, err = okta.NewClient(cfg.org, cfg.token); err != nil {
			return fail(err)
		}
		if rpID == "" {
			u, err := url.Parse(b.okta.OrgURL())
			if err != nil {
				return fail(err)
			}
			rpID = u.Hostname()
		}
	}
	var store fulfillment.Store = fulfillment.NewMemoryStore()
	if cfg.stateFile != "" {
		db, err := fulfillment.OpenSQLite(ctx, cfg.stateFile)
		if err != nil {
			return fail(fmt.Errorf("-state: %w", err))
		}
		closes = append(closes, func() { db.Close() })
		store = db
	}
	// Ordering calls only Okta: the Service needs no Yubico client (the
	// fulfillment service, running Sync, has one).
	svc, err := fulfillment.New(fulfillment.Config{
		Okta: b.okta, Store: &gatedStore{Store: store, stop: ctx.Done()}, RPIDs: []string{rpID}, Concurrency: cfg.concurrency,
		Logger: cfg.logger,
	})
	if err != nil {
		return fail(err)
	}
	b.svc = svc
	return b, nil
}

// Generated addresses for users seeded from plain logins.
var addresses = []okta.Profile{
	{StreetAddress: "7788 Foxrun Street", City: "Dedham", State: "MA", ZipCode: "02026", CountryCode: "US", PrimaryPhone: "+1 781 555 0142"},
	{StreetAddress: "Unter den Linden 77", City: "Berlin", ZipCode: "10117", CountryCode: "DE", PrimaryPhone: "+49 30 901820"},
	{StreetAddress: "10 Downing Street", City: "London", ZipCode: "SW1A 2AA", CountryCode: "GB", PrimaryPhone: "+44 20 7946 0958"},
}

// Generated names for users seeded from plain logins.
var (
	firstNames = []string{"Jan", "Ada", "Lars", "Mia", "Noah", "Zoe", "Omar", "Ines", "Raj", "Eva", "Kim"}
	lastNames  = []string{"Lindberg", "Okafor", "Nilsson", "Schmidt", "Brown", "Dubois", "Haddad", "Moreau", "Patel"}
)

// seed adds the users of the good rows to the fake org: plain logins as
// STAGED users with a generated address; HRIS rows whose Okta status is
// ACTIVE as existing accounts (the others are created by PrepareUser). It
// returns how many it added and, by row index, why the fake refused a
// user (a login that is not an email address, as Okta's default schema
// demands).
func seed(srv *oktatest.Server, cfg config, rows []row) (int, map[int]string) {
	n := 0
	problems := map[int]string{}
	for i, r := range rows {
		if r.problem != "" {
			continue
		}
		local, _, _ := strings.Cut(r.login, "@")
		var p okta.Profile
		switch {
		case cfg.mapping == nil:
			p = addresses[i%len(addresses)]
			p.Login, p.Email, p.SecondEmail = r.login, r.login, local+"@home.example.net"
			p.FirstName, p.LastName, p.Organization = firstNames[i%len(firstNames)], lastNames[i%len(lastNames)], "Example Inc."
		case strings.EqualFold(r.profile.UserStatus, string(okta.UserActive)):
			p = okta.Profile{Login: r.login, Email: cmp.Or(r.profile.Email, r.login), SecondEmail: r.profile.SecondEmail,
				FirstName: r.profile.FirstName, LastName: r.profile.LastName}
		default:
			continue
		}
		status := okta.UserStaged
		if cfg.mapping != nil {
			status = okta.UserActive
		}
		if _, err := srv.AddUser(p, status); err != nil {
			problems[i] = strings.TrimPrefix(err.Error(), "oktatest: AddUser: ")
			continue
		}
		n++
	}
	return n, problems
}

// lookup finds each good HRIS row's user in Okta (a read) and decides how
// to prepare it: users Okta does not know are new hires, to be created
// STAGED; the others exist. The address is validated again with the
// status Okta will see (a new hire needs a secondary email), and a row
// that fails becomes invalid, before anything is changed in Okta.
func lookup(ctx context.Context, b backend, cfg config, out []outcome) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.concurrency)
	for i := range out {
		o := &out[i]
		if o.result != resultNotOrdered {
			continue
		}
		g.Go(func() error {
			p := *o.profile
			u, err := b.okta.GetUser(gctx, o.login)
			switch {
			case errors.Is(err, okta.ErrNotFound):
				o.kind = fulfillment.NewUser
				p.UserStatus, p.NeverSignedIn = string(okta.UserStaged), true
			case err != nil:
				if gctx.Err() != nil {
					return gctx.Err()
				}
				o.result, o.problem = resultInvalid, describe(err)
				return nil
			default:
				o.kind = fulfillment.ExistingUser
				p.UserStatus, p.NeverSignedIn = string(u.Status), u.LastLogin.IsZero()
			}
			if err := fulfillment.ShippingInfoFromProfile(p).Normalize().Validate(); err != nil {
				o.result, o.problem = resultInvalid, describe(err)
			}
			return nil
		})
	}
	return g.Wait()
}

// prepare makes the HRIS rows' users ready in Okta with
// Service.PrepareUser: new hires are created STAGED, existing users get
// their shipping attributes updated. A row that cannot be prepared
// becomes invalid.
func prepare(ctx context.Context, b backend, cfg config, out []outcome) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.concurrency)
	for i := range out {
		o := &out[i]
		if o.result != resultNotOrdered {
			continue
		}
		g.Go(func() error {
			id, err := b.svc.PrepareUser(gctx, *o.profile, o.kind)
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				o.result, o.problem = resultInvalid, describe(err)
				return nil
			}
			o.userID = id
			return nil
		})
	}
	return g.Wait()
}

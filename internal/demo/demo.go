package demo

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
	"github.com/preenroll/preenroll/simulator"
	"github.com/preenroll/preenroll/yubico"
	"github.com/preenroll/preenroll/yubico/yubicotest"
)

// The demo org's settings.
const (
	rpID          = "example.okta.com" // the Okta org's host: the WebAuthn relying party
	orgName       = "Example"
	customization = "DEMO01"
	pinMask       = "••••••••" // a PIN is always printed as this, whatever its length
)

// defaultItem is what every user gets: a YubiKey 5 NFC (product 1) drawn
// from the subscription bucket 106.
var defaultItem = fulfillment.Item{ProductID: "1", InventoryProductID: "106", CustomizationID: customization}

// person is one user of the demo and what happened to them so far.
type person struct {
	kind    fulfillment.UserKind
	profile fulfillment.Profile
	id      string // Okta user ID
	failed  bool   // a step failed; later steps skip this user
	pin     []byte // the preset PIN from the email (secret; zeroed after sign-in)
}

// demo is the in-process world: the two fakes, the production clients and
// the Service, and the users.
type demo struct {
	okta        *oktatest.Server
	yubico      *yubicotest.Server
	oc          *okta.Client
	store       *fulfillment.MemoryStore
	svc         *fulfillment.Service
	out         sink
	concurrency int
	people      []*person
	newGroup    string
	oldGroup    string
}

// newDemo starts the fakes and the Service for n users; the Service logs
// to logger.
func newDemo(n, concurrency int, out sink, logger *slog.Logger) (*demo, error) {
	stock := max(100, n)
	ysrv, err := yubicotest.Start(yubicotest.WithInventory(
		yubicotest.Bucket{ProductID: 1, Quantity: stock},
		yubicotest.Bucket{ProductID: 29, Quantity: stock},
		yubicotest.Bucket{ProductID: 106, Quantity: stock, InventoryType: 3, ProductTier: 3,
			ProductMapping: []int{1, 29}, Subscription: true, Virtual: true},
	))
	if err != nil {
		return nil, fmt.Errorf("start fake Yubico: %w", err)
	}
	osrv, err := oktatest.Start(
		oktatest.WithNow(ysrv.Now()),
		oktatest.WithOrgName(orgName),
		oktatest.WithAttestationRoots(ysrv.FIDOCA().Root()), // the fake factory's attestation CA stands in for Yubico's
	)
	if err != nil {
		ysrv.Close()
		return nil, fmt.Errorf("start fake Okta: %w", err)
	}
	d := &demo{okta: osrv, yubico: ysrv, out: out, concurrency: concurrency, store: fulfillment.NewMemoryStore()}
	if d.oc, err = osrv.Client(); err != nil {
		d.Close()
		return nil, fmt.Errorf("okta client: %w", err)
	}
	d.newGroup = osrv.AddGroup("YubiKey - new hires")
	d.oldGroup = osrv.AddGroup("YubiKey - existing employees")
	d.svc, err = fulfillment.New(fulfillment.Config{
		Okta:                 d.oc,
		Yubico:               ysrv.Client(),
		Store:                d.store,
		RPIDs:                []string{rpID},
		Defaults:             defaultItem,
		NewUsersGroupID:      d.newGroup,
		ExistingUsersGroupID: d.oldGroup,
		Concurrency:          concurrency,
		Clock:                d.now,
		Logger:               logger,
	})
	if err != nil {
		d.Close()
		return nil, err
	}
	for i := range n {
		d.people = append(d.people, newPerson(i))
	}
	return d, nil
}

// Close stops the fakes.
func (d *demo) Close() {
	d.okta.Close()
	d.yubico.Close()
}

// now is the demo's clock: Yubico's fake clock, which drives the
// shipments. Okta's fake clock follows it (see advance).
func (d *demo) now() time.Time { return d.yubico.Now() }

// advanceTo moves both fakes' clocks to t. Yubico runs every transition
// that falls due on the way. Okta's clock may be slightly ahead when the
// Okta client waited out a rate-limit window (it waits on the fake clock);
// it never goes back.
func (d *demo) advanceTo(t time.Time) error {
	if err := d.yubico.SetNow(t); err != nil {
		return err
	}
	if d.okta.Now().Before(t) {
		if err := d.okta.SetNow(t); err != nil {
			return err
		}
	}
	return nil
}

// The users' names and addresses cycle through these.
var (
	firstNames = []string{"Jan", "Ada", "Lars", "Mia", "Noah", "Zoe", "Omar", "Ines", "Raj", "Eva"}
	lastNames  = []string{"Lindberg", "Okafor", "Nilsson", "Schmidt", "Brown", "Dubois", "Haddad", "Moreau", "Patel", "Novak"}
	addresses  = []fulfillment.Profile{
		{StreetAddress: "7788 Foxrun Street", City: "Dedham", State: "MA", ZipCode: "02026", CountryCode: "US", PrimaryPhone: "+1 781 555 0142"},
		{StreetAddress: "Unter den Linden 77", City: "Berlin", ZipCode: "10117", CountryCode: "DE", PrimaryPhone: "+49 30 901820"},
		{StreetAddress: "10 Downing Street", City: "London", ZipCode: "SW1A 2AA", CountryCode: "GB", PrimaryPhone: "+44 20 7946 0958"},
	}
)

// newPerson makes user i: even indexes are new hires, odd ones existing
// employees; addresses cycle through the US, Germany and the UK.
func newPerson(i int) *person {
	first, last := firstNames[i%len(firstNames)], lastNames[i%len(lastNames)]
	local := strings.ToLower(first + "." + last)
	if i >= len(firstNames) {
		local = fmt.Sprintf("%s%d", local, i)
	}
	p := addresses[i%len(addresses)]
	p.Login = local + "@example.com"
	p.Email = p.Login
	p.FirstName, p.LastName, p.Organization = first, last, "Example Inc."
	kind := fulfillment.NewUser
	if i%2 == 1 {
		// An employee who has signed in reads the primary mailbox, where
		// the PIN goes: no secondary email needed.
		kind = fulfillment.ExistingUser
	} else {
		// A new hire cannot read the work mailbox yet: the PIN goes to
		// the secondary email.
		p.SecondEmail = local + "@home.example.net"
	}
	return &person{kind: kind, profile: p}
}

// live returns the users no step has failed for.
func (d *demo) live() []*person {
	var out []*person
	for _, p := range d.people {
		if !p.failed {
			out = append(out, p)
		}
	}
	return out
}

// record returns the user's record from the store (the zero Record before
// the order).
func (d *demo) record(ctx context.Context, p *person) fulfillment.Record {
	if p.id == "" {
		return fulfillment.Record{}
	}
	rec, err := d.store.Get(ctx, p.id)
	if err != nil {
		return fulfillment.Record{UserID: p.id}
	}
	return rec
}

// emit reports what happened to p at step, with p's current status.
func (d *demo) emit(ctx context.Context, p *person, step, detail string) {
	d.out.event(event{Time: d.now(), User: p.profile.Login, UserID: p.id, Status: d.record(ctx, p).Status, Step: step, Detail: detail})
}

// fail marks p failed at step with err.
func (d *demo) fail(ctx context.Context, p *person, step string, err error) {
	p.failed = true
	d.emit(ctx, p, step, "FAILED: "+err.Error())
}

// summary is the outcome of a run.
type summary struct {
	users, active, wiped int
	fakeElapsed          time.Duration
}

// ok reports whether every key ended Active with its PIN wiped.
func (s summary) ok() bool { return s.wiped == s.users }

// String is the summary line.
func (s summary) String() string {
	return fmt.Sprintf("%d users: %d Active, PIN wiped in Okta for %d", s.users, s.active, s.wiped)
}

// play runs the lifecycle. Per-user failures are reported as events and
// counted in the summary; the error is for the demo as a whole (a fake
// that cannot be driven, ctx ended).
func (d *demo) play(ctx context.Context) (summary, error) {
	start := d.now()
	width := 0
	for _, p := range d.people {
		width = max(width, utf8.RuneCountInString(p.profile.Login))
	}
	d.out.header(header{OktaURL: d.okta.URL(), YubicoURL: d.yubico.URL(), RPID: rpID, Start: start, Users: len(d.people), UserWidth: width})
	steps := []func(context.Context) error{
		d.prepare,
		d.order,
		d.syncStep("sync", "time for the Service's scheduled Sync", 0),
		d.syncStep("validate", "Yubico's address validation ran", 15*time.Minute),
		d.factory,
		d.syncStep("ship", "the carrier picked the parcel up", 24*time.Hour),
		d.readPINEmails,
		d.syncStep("deliver", "the parcel was delivered", 48*time.Hour),
		d.signIn,
		d.syncStep("sync", "time for the Service's scheduled Sync", time.Hour),
		d.verify,
	}
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return summary{}, err
		}
		if err := step(ctx); err != nil {
			return summary{}, err
		}
	}
	sum := summary{users: len(d.people), fakeElapsed: d.now().Sub(start)}
	for _, p := range d.people {
		if d.record(ctx, p).Status == fulfillment.Active {
			sum.active++
		}
	}
	sum.wiped = len(d.live()) // verify failed every user whose PIN is not wiped
	return sum, nil
}

// prepare creates the new hires STAGED and updates the existing employees'
// shipping attributes, through Service.PrepareUser.
func (d *demo) prepare(ctx context.Context) error {
	for _, p := range d.people {
		if p.kind == fulfillment.ExistingUser {
			// An employee who already has an Okta account (without an
			// address) and signed in to it a month ago.
			pr := p.profile
			u, err := d.okta.AddUser(okta.Profile{Login: pr.Login, Email: pr.Email,
				FirstName: pr.FirstName, LastName: pr.LastName}, okta.UserActive)
			if err != nil {
				return err
			}
			if err := d.okta.SetLastLogin(u.ID, d.okta.Now().Add(-30*24*time.Hour)); err != nil {
				return err
			}
		}
		id, err := d.svc.PrepareUser(ctx, p.profile, p.kind)
		if err != nil {
			d.fail(ctx, p, "prepare", err)
			continue
		}
		p.id = id
		where := fmt.Sprintf("%s, %s", p.profile.City, p.profile.CountryCode)
		if p.kind == fulfillment.NewUser {
			d.emit(ctx, p, "prepare", "new hire created STAGED in Okta, shipping to "+where)
		} else {
			d.emit(ctx, p, "prepare", "existing ACTIVE employee (signed in before), shipping address set to "+where)
		}
	}
	return nil
}

// order orders every prepared user's key as one batch.
func (d *demo) order(ctx context.Context) error {
	live := d.live()
	ids := make([]string, len(live))
	for i, p := range live {
		ids[i] = p.id
	}
	rep, err := d.svc.OrderBatch(ctx, ids, fulfillment.BatchOptions{})
	if err != nil {
		return fmt.Errorf("order batch: %w", err)
	}
	errs := map[string]error{}
	for _, r := range append(rep.Invalid, rep.Results...) {
		if r.Err != nil {
			errs[r.UserID] = r.Err
		}
	}
	for _, p := range live {
		if err := errs[p.id]; err != nil {
			d.fail(ctx, p, "order", err)
			continue
		}
		d.emit(ctx, p, "order", fmt.Sprintf("initiate-fulfillment-request sent: product %s, inventory %s, customization %s",
			defaultItem.ProductID, defaultItem.InventoryProductID, defaultItem.CustomizationID))
	}
	return nil
}

// syncStep returns a step that advances the clocks by d, runs one
// Service.Sync pass and reports each user's record.
func (d *demo) syncStep(step, why string, by time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := d.advanceTo(d.now().Add(by)); err != nil {
			return err
		}
		return d.sync(ctx, step, why)
	}
}

// factory advances to Yubico's next daily fulfillment batch, where the keys
// are programmed, then on to the waiting shipments' next check (the
// Service reads them a little after the batch, Record.NextCheck), and
// syncs.
func (d *demo) factory(ctx context.Context) error {
	at := d.yubico.NextBatch()
	if err := d.advanceTo(at); err != nil {
		return err
	}
	for _, p := range d.live() {
		if rec := d.record(ctx, p); rec.Step == fulfillment.StepShipmentCreated && rec.NextCheck.After(at) {
			at = rec.NextCheck
		}
	}
	if err := d.advanceTo(at); err != nil {
		return err
	}
	return d.sync(ctx, "factory", "Yubico's daily fulfillment batch ran")
}

// sync runs one Service.Sync pass and reports each live user's record.
func (d *demo) sync(ctx context.Context, step, why string) error {
	rep, err := d.svc.Sync(ctx)
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	failures := map[string]error{}
	for _, f := range rep.Failures {
		failures[f.UserID] = f.Err
	}
	for _, p := range d.live() {
		rec := d.record(ctx, p)
		// Every record whose step failed in the pass is in Failures, those
		// that became FulfillmentErrored included.
		if err := failures[p.id]; err != nil {
			d.fail(ctx, p, step, err)
			continue
		}
		d.emit(ctx, p, step, why+"; "+d.describe(rec))
	}
	return nil
}

// describe says where a record stands, in words.
func (d *demo) describe(rec fulfillment.Record) string {
	state := fmt.Sprintf("shipment %d %s", rec.ShipmentState, rec.ShipmentState)
	switch {
	case rec.Status == fulfillment.Active:
		return "Okta reports the preset PIN used: the key is Active"
	case rec.Status == fulfillment.Shipped:
		// Once the key is Shipped the Service watches Okta for the first
		// sign-in and Yubico for the delivery.
		switch {
		case !rec.DeliveredAt.IsZero():
			return fmt.Sprintf("%s: the Service saw the parcel delivered at %s", state, rec.DeliveredAt.Format(time.RFC3339))
		case rec.ShipmentState != yubico.StateShipped:
			return state
		}
		return fmt.Sprintf("%s: Okta activated the credential (serial %s, firmware %s) and emailed the PIN", state, rec.Serial, rec.Firmware)
	case rec.ShipmentState == yubico.StateSentToFulfillment:
		if pr, ok := d.yubico.Programming(rec.ShipmentID); ok {
			return fmt.Sprintf("%s: %s serial %d programmed, random PIN set with force-change", state, pr.Model, pr.Serial)
		}
		return state
	case rec.ShipmentID != "":
		if rec.Step == fulfillment.StepShipmentCreated && rec.ShipmentState == yubico.StateAwaitingValidation {
			return fmt.Sprintf("enrolled at Okta for %s, FIDO Pre-reg %s", strings.Join(d.rpIDs(rec), ", "), state)
		}
		return state
	}
	return "step " + string(rec.Step)
}

// rpIDs lists the record's relying parties (one enrollment each).
func (d *demo) rpIDs(rec fulfillment.Record) []string {
	if len(rec.Enrollments) <= 1 {
		return []string{rpID}
	}
	return []string{fmt.Sprintf("%d RP IDs", len(rec.Enrollments))}
}

// readPINEmails takes each user's PIN email out of the fake org's outbox
// (their mailbox).
func (d *demo) readPINEmails(ctx context.Context) error {
	mails := d.okta.Outbox()
	for _, p := range d.live() {
		// The PIN goes to the secondary email when there is one (a new
		// hire), to the primary one otherwise.
		to := cmp.Or(p.profile.SecondEmail, p.profile.Email)
		var found *oktatest.Email
		for i := range mails {
			m := &mails[i]
			if m.IsPIN() && m.To == to {
				found = m
			}
		}
		if found == nil {
			d.fail(ctx, p, "pin-email", errors.New("no PIN email in the mailbox"))
			continue
		}
		pin, err := found.PIN()
		if err != nil {
			d.fail(ctx, p, "pin-email", err)
			continue
		}
		p.pin = []byte(pin)
		d.emit(ctx, p, "pin-email", fmt.Sprintf("mail to %s %q: PIN %s", found.To, found.Subject, pinMask))
	}
	return nil
}

// signIn has every user take the key out of the parcel and sign in, several
// at a time; the events are reported in user order.
func (d *demo) signIn(ctx context.Context) error {
	live := d.live()
	details := make([]string, len(live))
	errs := make([]error, len(live))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(d.concurrency)
	for i, p := range live {
		g.Go(func() error {
			details[i], errs[i] = d.signInOne(gctx, p, d.record(gctx, p))
			return nil
		})
	}
	g.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for i, p := range live {
		if errs[i] != nil {
			d.fail(ctx, p, "sign-in", errs[i])
			continue
		}
		d.emit(ctx, p, "sign-in", details[i])
	}
	return nil
}

// signInOne is one user's first sign-in with the delivered key: change the
// preset PIN (the key refuses it otherwise), then a WebAuthn assertion
// through Okta's classic Authn API.
func (d *demo) signInOne(ctx context.Context, p *person, rec fulfillment.Record) (string, error) {
	defer clear(p.pin)
	key, err := d.yubico.Parcel(rec.ShipmentID)
	if err != nil {
		return "", err
	}
	var steps []string
	steps = append(steps, fmt.Sprintf("unpacked %s serial %d", key.Model(), key.Serial()))
	if p.kind == fulfillment.NewUser {
		// First day at work: the administrator activates the account.
		if err := d.oc.ActivateUser(ctx, p.id, false); err != nil {
			return "", err
		}
		steps = append(steps, "account activated")
	}
	tx, err := d.oc.Authenticate(ctx, okta.AuthnRequest{Username: p.profile.Login})
	if err != nil {
		return "", err
	}
	factors := tx.WebAuthnFactors()
	if tx.Status != okta.AuthnMFARequired || len(factors) == 0 {
		return "", fmt.Errorf("authn: status %s with %d WebAuthn factors, want MFA_REQUIRED and a factor", tx.Status, len(factors))
	}
	ch, err := d.oc.ChallengeWebAuthnFactor(ctx, tx.StateToken, factors[0].ID)
	if err != nil {
		return "", err
	}
	opts, err := ch.WebAuthnRequestOptions(rpID)
	if err != nil {
		return "", err
	}
	platform := simulator.NewPlatform(key)
	origin := "https://" + rpID
	if _, err := platform.GetAssertionJSON(ctx, origin, opts, string(p.pin)); errors.Is(err, simulator.ErrPINPolicyViolation) {
		steps = append(steps, "key refused the preset PIN until changed")
	} else if err != nil {
		return "", fmt.Errorf("assertion with the preset PIN: %w", err)
	} else {
		return "", errors.New("the key accepted the preset PIN without a change")
	}
	newPIN, err := randomPIN()
	if err != nil {
		return "", err
	}
	defer clear(newPIN)
	if err := platform.ChangePIN(ctx, string(p.pin), string(newPIN)); err != nil {
		return "", fmt.Errorf("change PIN: %w", err)
	}
	steps = append(steps, "PIN changed to "+pinMask)
	assertion, err := platform.GetAssertionJSON(ctx, origin, opts, string(newPIN))
	if err != nil {
		return "", fmt.Errorf("assertion: %w", err)
	}
	a, err := okta.ParseWebAuthnAssertion(assertion)
	if err != nil {
		return "", err
	}
	done, err := d.oc.VerifyWebAuthnFactor(ctx, ch.StateToken, factors[0].ID, a)
	if err != nil {
		return "", err
	}
	if done.Status != okta.AuthnSuccess {
		return "", fmt.Errorf("authn: status %s after the assertion, want SUCCESS", done.Status)
	}
	steps = append(steps, "signed in to Okta (SUCCESS)")
	return strings.Join(steps, "; "), nil
}

// randomPIN returns 8 random digits.
func randomPIN() ([]byte, error) {
	pin := make([]byte, 8)
	for i := range pin {
		n, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			return nil, err
		}
		pin[i] = byte('0' + n.Int64())
	}
	return pin, nil
}

// verify checks at Okta that every key's preset PIN is gone: the
// enrollments say presetPinAvailable=false and send-pin is refused.
func (d *demo) verify(ctx context.Context) error {
	for _, p := range d.live() {
		rec := d.record(ctx, p)
		if rec.Status != fulfillment.Active {
			d.fail(ctx, p, "verify", fmt.Errorf("status %s, want Active", rec.Status.Label()))
			continue
		}
		es, err := d.oc.ListEnrollments(ctx, p.id)
		if err != nil {
			d.fail(ctx, p, "verify", err)
			continue
		}
		if len(es) == 0 {
			d.fail(ctx, p, "verify", errors.New("Okta lists no enrollment"))
			continue
		}
		bad := ""
		for _, e := range es {
			if e.Profile.PresetPINAvailable || e.Status != okta.StatusActive {
				bad = fmt.Sprintf("enrollment %s is %s with presetPinAvailable=%t", e.ID, e.Status, e.Profile.PresetPINAvailable)
			}
		}
		if bad != "" {
			d.fail(ctx, p, "verify", errors.New(bad))
			continue
		}
		err = d.oc.SendPIN(ctx, okta.SendPINRequest{UserID: p.id, AuthenticatorEnrollmentID: es[0].ID})
		var ae *okta.APIError
		if !errors.As(err, &ae) {
			d.fail(ctx, p, "verify", fmt.Errorf("send-pin after the sign-in = %v, want Okta to refuse it", err))
			continue
		}
		d.emit(ctx, p, "verify", fmt.Sprintf("PIN wiped in Okta (presetPinAvailable=false); send-pin now refused: %d %s",
			ae.StatusCode, ae.ErrorCode))
	}
	return nil
}

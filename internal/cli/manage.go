package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/preenroll/preenroll/fulfillment"
	"github.com/preenroll/preenroll/okta"
)

func init() {
	Register(&Command{
		Name: "status", Args: "[USER...]", MaxArgs: -1,
		Summary: "show users' keys: the store's record reconciled with Okta",
		Doc: `Shows each USER's key (an Okta user ID or login): the record in -store,
reconciled with Okta's enrollment list (a Shipped key whose PIN Okta has wiped
becomes Active; one whose enrollments Okta no longer has becomes Deleted).
A user without a record gets Okta's view: the preregistered enrollments Okta
lists. Without USER, every record of the store is listed.

` + statusJSONDoc + `

Exit codes: 0 every user shown, 1 a user is unknown or Okta failed, 2 bad usage.`,
		Run: runStatus,
	})
	Register(&Command{
		Name: "retry", Args: "USER...", MinArgs: 1, MaxArgs: -1,
		Summary: "resume errored keys from the step that failed",
		Doc: `Resumes each USER's errored key from the step that failed, as a new attempt
(Service.Retry): an order is sent again, a failed activation is activated
again, a failed enrollment or shipment is enrolled and shipped anew after the
old shipment is cancelled. The user's profile is validated again first (every
problem listed). Needs the store the key was ordered with and, with an Okta
org, the Yubico API token.

Exit codes: 0 every key resumed, 1 a key was not, 2 bad usage.`,
		Run: manage("retry", func(ctx context.Context, svc *fulfillment.Service, id string) (fulfillment.Record, error) {
			return svc.Retry(ctx, id)
		}),
	})
	Register(&Command{
		Name: "delete", Args: "USER...", MinArgs: 1, MaxArgs: -1,
		Summary: "cancel and delete users' keys",
		Doc: `Ends each USER's key (Service.Delete): the Yubico shipment is cancelled while
it still can be, and the enrollments are permanently deleted at Okta. The
record ends Deleted with its history. Without the Yubico API token only keys
with no shipment can be deleted.

Exit codes: 0 every key deleted, 1 a key was not, 2 bad usage.`,
		Run: manage("delete", func(ctx context.Context, svc *fulfillment.Service, id string) (fulfillment.Record, error) {
			if err := svc.Delete(ctx, id); err != nil {
				return fulfillment.Record{}, err
			}
			return svc.Status(ctx, id)
		}),
	})
	Register(&Command{
		Name: "resend-pin", Args: "USER...", MinArgs: 1, MaxArgs: -1,
		Summary: "have Okta email a shipped key's PIN again",
		Doc: `Asks Okta to email each USER's preset PIN again (Service.ResendPIN). Only a
Shipped key has one: after the first sign-in Okta wipes it.

Exit codes: 0 every PIN resent, 1 one was not, 2 bad usage.`,
		Run: manage("resend-pin", func(ctx context.Context, svc *fulfillment.Service, id string) (fulfillment.Record, error) {
			if err := svc.ResendPIN(ctx, id); err != nil {
				return fulfillment.Record{}, err
			}
			return svc.Status(ctx, id)
		}),
	})
	Register(&Command{
		Name: "check", Args: "USER...", MinArgs: 1, MaxArgs: -1,
		Summary: "look at users' keys now, even if their next check is not due",
		Doc: `Moves each USER's key as far as it goes now (Service.Check), as a sync pass
does, and also reads a shipment that has not shipped, or looks for a shipped
key's first sign-in, before its next scheduled check: for when you know
something changed ("my key arrived"). Needs the store the key was ordered with
and, with an Okta org, the Yubico API token.

Exit codes: 0 every key checked, 1 a key was not, 2 bad usage.`,
		Run: manage("check", func(ctx context.Context, svc *fulfillment.Service, id string) (fulfillment.Record, error) {
			return svc.Check(ctx, id)
		}),
	})
	Register(&Command{
		Name: "sync", MaxArgs: 0,
		Summary: "move every key in flight as far as it goes now (one pass)",
		Doc: `Runs one pass of Service.Sync over every record in -store: enroll ordered
keys at Okta, create the Yubico shipments, follow them, activate shipped keys
and send their PINs, notice first sign-ins. A key waiting for Yubico or for
its first sign-in is looked at only when its next check is due (see check).
A deployment runs this on a schedule (or preenroll serve); failures are
listed and recorded. With -catch-up it first records the orders placed in
Okta (its Admin Console, a workflow) since the last catch-up on -store, from
Okta's System Log: a deployment without serve's event hook fulfils them too.

Exit codes: 0 the pass (and the catch-up) ran and no record failed, 1
otherwise, 2 bad usage.`,
		Run: runSync,
	})
}

// needsYubico are the commands that move keys past the order and need the
// Yubico client with an Okta org.
var needsYubico = []string{"retry", "check", "sync"}

// manage returns the Run of a command that acts on each USER argument.
func manage(name string, act func(context.Context, *fulfillment.Service, string) (fulfillment.Record, error)) func(context.Context, *Invocation) int {
	return func(ctx context.Context, inv *Invocation) int {
		b, svc, code := open(ctx, inv, true)
		if svc == nil {
			return code
		}
		defer b.Close()
		code = ExitOK
		for _, user := range inv.Args {
			prefix := "preenroll " + name + " " + safe(user)
			id, err := b.userID(ctx, user)
			if err == nil {
				var rec fulfillment.Record
				if rec, err = act(ctx, svc, id); err == nil {
					printRecord(inv.Stdout, rec)
					continue
				}
			}
			report(ctx, inv.Stderr, prefix, err)
			code = ExitFailed
			if ctx.Err() != nil {
				break
			}
		}
		return code
	}
}

// open opens the backend and makes the Service.
func open(ctx context.Context, inv *Invocation, withYubico bool) (*backend, *fulfillment.Service, int) {
	b, err := openBackend(ctx, inv, withYubico, nil)
	if err != nil {
		report(ctx, inv.Stderr, "preenroll "+inv.cmd.Name, err)
		return nil, nil, ExitFailed
	}
	svc, err := b.service(inv, nil)
	if err != nil {
		b.Close()
		report(ctx, inv.Stderr, "preenroll "+inv.cmd.Name, err)
		return nil, nil, ExitFailed
	}
	return b, svc, ExitOK
}

// runStatus shows records: as text, or with -json as JSON lines
// (statusJSONDoc).
func runStatus(ctx context.Context, inv *Invocation) int {
	b, svc, code := open(ctx, inv, false)
	if svc == nil {
		return code
	}
	defer b.Close()
	show := func(r fulfillment.Record) error {
		if inv.Config.JSON {
			return writeJSONLine(inv.Stdout, recordJSON(r))
		}
		printRecord(inv.Stdout, r)
		return nil
	}
	if len(inv.Args) == 0 {
		n, err := eachRecord(ctx, b.store, statusPage, show)
		if err != nil {
			report(ctx, inv.Stderr, "preenroll status", err)
			return ExitFailed
		}
		if n == 0 && !inv.Config.JSON {
			fmt.Fprintln(inv.Stdout, "no records in the store")
		}
		return ExitOK
	}
	code = ExitOK
	for _, user := range inv.Args {
		prefix := "preenroll status " + safe(user)
		u, err := b.okta.GetUser(ctx, user)
		if err != nil {
			report(ctx, inv.Stderr, prefix, err)
			code = ExitFailed
			continue
		}
		rec, err := svc.Status(ctx, u.ID)
		switch {
		case errors.Is(err, fulfillment.ErrRecordNotFound):
			err = oktaView(ctx, inv.Stdout, b.okta, u, inv.Config.JSON)
		case err == nil:
			err = show(rec)
		}
		if err != nil {
			report(ctx, inv.Stderr, prefix, err)
			code = ExitFailed
		}
	}
	return code
}

// statusPage is how many records status reads from the store at a time
// without USER: the listing is printed page by page, so that a store of
// many thousands of records is never held in memory whole.
const statusPage = 500

// eachRecord calls fn with every record of store, in user ID order, read
// page records at a time, and returns how many it called fn with; it stops
// at the first error (a store's, or fn's, such as a closed stdout).
func eachRecord(ctx context.Context, store fulfillment.Store, page int, fn func(fulfillment.Record) error) (int, error) {
	n := 0
	var fnErr error
	err := fulfillment.ListPages(ctx, store, fulfillment.Query{Limit: page}, func(r fulfillment.Record) bool {
		if fnErr = fn(r); fnErr != nil {
			return false
		}
		n++
		return true
	})
	if err == nil {
		err = fnErr
	}
	return n, err
}

// oktaView prints what Okta lists for a user the store has no record of,
// as text or as a JSON line.
func oktaView(ctx context.Context, w io.Writer, oc *okta.Client, u okta.User, asJSON bool) error {
	es, err := oc.ListEnrollments(ctx, u.ID)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSONLine(w, oktaViewJSON(u, es))
	}
	fmt.Fprintf(w, "%s (%s): no record in the store; Okta lists %d preregistered enrollments\n", safe(u.Profile.Login), u.ID, len(es))
	for _, e := range es {
		st, _ := fulfillment.StatusFromOkta(e.Status, e.Profile.PresetPINAvailable)
		fmt.Fprintf(w, "  enrollment %s: %s (%s), %s\n", safe(e.ID), safe(string(e.Status)), st.Label(), safe(e.Profile.AuthenticatorName))
	}
	return nil
}

// printRecord prints a record in a few lines.
func printRecord(w io.Writer, r fulfillment.Record) {
	fmt.Fprintf(w, "%s (%s): %s, step %s, attempt %d\n", safe(r.Login), r.UserID, r.Status.Label(), r.Step, r.Attempts)
	if r.ShipmentID != "" {
		fmt.Fprintf(w, "  Yubico shipment %s, state %d", safe(r.ShipmentID), r.ShipmentState)
		if r.Serial != "" {
			fmt.Fprintf(w, ", serial %s, firmware %s", safe(r.Serial), safe(r.Firmware))
		}
		if !r.DeliveredAt.IsZero() {
			fmt.Fprintf(w, ", delivered %s", r.DeliveredAt.UTC().Format("2006-01-02 15:04:05 MST"))
		}
		fmt.Fprintln(w)
	}
	for _, e := range r.Enrollments {
		status := safe(string(e.Status))
		if e.Deleted {
			status = "DELETED"
		}
		fmt.Fprintf(w, "  Okta enrollment %s %s\n", safe(e.ID), status)
	}
	if r.FailedStep != "" {
		fmt.Fprintf(w, "  failed at %s: %s\n", r.FailedStep, safe(r.Reason))
	} else if r.Reason != "" {
		fmt.Fprintf(w, "  %s\n", safe(r.Reason))
	}
	if !r.UpdatedAt.IsZero() {
		fmt.Fprintf(w, "  last change %s\n", r.UpdatedAt.UTC().Format("2006-01-02 15:04:05 MST"))
	}
}

// syncAbandonGrace is how long a step that preenroll sync abandoned (it
// was interrupted during the remote call) stays reserved for the call that
// may still be processed.
const syncAbandonGrace = 10 * time.Second

// reportCatchUp prints why sync's catch-up failed. Okta's refusal to read
// the System Log says what to grant: the catch-up's token asks for
// okta.logs.read alone, so the token errors' usual hint (-okta-scopes)
// does not apply.
func reportCatchUp(ctx context.Context, w io.Writer, err error) {
	const prefix = "preenroll sync: catch-up from Okta's System Log (the next run tries again from the same point)"
	const grant = "  grant the service app the okta.logs.read scope in Okta (the catch-up asks for it alone, whatever -okta-scopes says), or run sync without -catch-up"
	var te *okta.TokenError
	switch {
	case errors.As(err, &te) && te.ErrorCode == "invalid_scope":
		fmt.Fprintln(w, prefix+": "+describeToken(te, "for "+okta.ScopeLogsRead, ""))
		fmt.Fprintln(w, grant)
	case errors.Is(err, okta.ErrForbidden):
		report(ctx, w, prefix, err)
		fmt.Fprintln(w, "  the token may not read Okta's System Log: an API token's admin needs a role that reads it; a service app the okta.logs.read scope; or run sync without -catch-up")
	default:
		report(ctx, w, prefix, err)
	}
}

// runSync runs one Sync pass.
func runSync(ctx context.Context, inv *Invocation) int {
	b, svc, code := open(ctx, inv, true)
	if svc == nil {
		return code
	}
	defer b.Close()
	caughtUp := true
	if inv.Config.CatchUp {
		cu, err := svc.CatchUpFromCheckpoint(ctx)
		if err != nil {
			caughtUp = false
			reportCatchUp(ctx, inv.Stderr, err)
		} else if cu.Since.IsZero() {
			// The first catch-up on the store reads nothing: it sets
			// where the next run starts.
			fmt.Fprintf(inv.Stdout, "catch-up: the first on this store: it records the orders placed from %s on (Okta's clock); those before are left to whatever handled them then\n",
				cu.Until.UTC().Format(time.RFC3339))
		} else {
			fmt.Fprintf(inv.Stdout, "catch-up: %d orders recorded that no event hook delivered (%d events read from Okta's System Log since %s)\n",
				cu.Recorded(), cu.Events, cu.Since.UTC().Format(time.RFC3339))
		}
	}
	rep, err := svc.Sync(ctx)
	// This run's claims go with it, so that the next run (or a serve
	// sharing the store) takes the records at once; a step abandoned by an
	// interrupt is resumed after a short grace.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, rerr := svc.ReleaseLeases(rctx, syncAbandonGrace); rerr != nil {
		inv.errorf("releasing this run's claims: %v", rerr)
	}
	if err != nil {
		report(ctx, inv.Stderr, "preenroll sync", err)
		return ExitFailed
	}
	fmt.Fprintf(inv.Stdout, "sync: %d records in flight checked: %d advanced, %d shipped, %d delivered, %d active, %d errored, %d managed elsewhere, %d busy (another instance), %d failed; %d not due (see check)\n",
		rep.Checked, rep.Advanced, rep.Shipped, rep.Delivered, rep.Active, rep.Errored, rep.ManagedElsewhere, rep.Busy, len(rep.Failures), rep.NotDue)
	failures := slices.Clone(rep.Failures)
	slices.SortFunc(failures, func(a, b fulfillment.Result) int { return a.Index - b.Index })
	for _, f := range failures {
		fmt.Fprintf(inv.Stderr, "  %s (%s): %s\n", safe(f.Login), f.UserID, describe(ctx, f.Err))
	}
	if len(rep.Failures) > 0 || !caughtUp {
		return ExitFailed
	}
	return ExitOK
}

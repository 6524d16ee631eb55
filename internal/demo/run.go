// Package demo plays the whole life of pre-enrolled YubiKeys in a few
// seconds, with every party simulated in process: a fake Okta org
// (okta/oktatest), a fake Yubico with its factory (yubico/yubicotest) and
// simulated keys (simulator), driven by the real fulfillment.Service. It
// is `preenroll demo` and examples/lifecycle.
//
// It prepares the users in Okta, orders their keys, moves the fakes'
// clocks through Yubico's address validation, the factory batch that
// programs the keys, shipping and delivery (calling Service.Sync after
// each, as a deployment does on its schedule), reads each PIN email from
// the fake org's outbox, takes each delivered key out of its parcel, signs
// in through Okta's Authn API (changing the PIN first, as the key
// demands), and checks that Okta has wiped the preset PIN. It prints a
// timeline of each user's status at each step with the fake time; PINs are
// printed masked, never their digits.
package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// MaxUsers bounds Options.Users: the fake Yubico programs every key in one
// batch.
const MaxUsers = 2000

// Options configure a run.
type Options struct {
	// Users is the number of users: new hires (STAGED) and existing
	// employees (ACTIVE), alternating (1 to MaxUsers).
	Users int
	// Concurrency is how many users the Service and the sign-ins work on
	// at once.
	Concurrency int
	// JSON prints the events as JSON lines instead of a timeline.
	JSON bool
	// Logger receives the Service's log (nil: discarded).
	Logger *slog.Logger
}

// Run plays the lifecycle, printing to stdout and problems to stderr
// prefixed with prog, and returns the exit code: 0 every key ended Active
// with its PIN wiped, 1 something failed.
func Run(ctx context.Context, prog string, o Options, stdout, stderr io.Writer) int {
	began := time.Now()
	var out sink = newTimeline(stdout)
	if o.JSON {
		out = newJSONLines(stdout)
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	d, err := newDemo(o.Users, o.Concurrency, out, logger)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return 1
	}
	defer d.Close()
	sum, err := d.play(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return 1
	}
	if !o.JSON {
		fmt.Fprintf(stdout, "\n%s\n", sum)
		fmt.Fprintf(stdout, "fake time %s, wall time %s\n", days(sum.fakeElapsed), time.Since(began).Round(time.Millisecond))
	}
	if !sum.ok() {
		fmt.Fprintf(stderr, "%s: %d of %d keys did not end Active with the PIN wiped\n", prog, sum.users-sum.wiped, sum.users)
		return 1
	}
	return 0
}

// days formats d as days, hours and minutes ("3d 19h 0m").
func days(d time.Duration) string {
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dd %dh %dm", d/(24*time.Hour), d%(24*time.Hour)/time.Hour, d%time.Hour/time.Minute)
}

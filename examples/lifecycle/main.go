// Command lifecycle runs the whole life of pre-enrolled YubiKeys in a few
// seconds, with every party simulated in process: a fake Okta org
// (okta/oktatest), a fake Yubico with its factory (yubico/yubicotest) and
// simulated keys (simulator), driven by the real [fulfillment.Service].
//
//	go run ./examples/lifecycle               # one new hire (STAGED) and one existing employee
//	go run ./examples/lifecycle -users 100    # a batch of 100, ordered with Service.OrderBatch
//	go run ./examples/lifecycle -json         # the events as JSON lines
//	go run ./examples/lifecycle -v            # and the Service's log on stderr
//
// It prepares the users in Okta, orders their keys, moves the fakes' clocks
// through Yubico's address validation, the factory batch that programs the
// keys, shipping and delivery (calling Service.Sync after each, as a
// deployment does on its schedule), reads each PIN email from the fake
// org's outbox, takes each delivered key out of its parcel, signs in
// through Okta's Authn API (changing the PIN first, as the key demands),
// and checks that Okta has wiped the preset PIN. It prints a timeline of
// each user's status at each step with the fake time; PINs are printed
// masked, never their digits.
//
// Exit codes: 0 every key ended Active with its PIN wiped, 1 something
// failed, 2 bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second interrupt kills the program
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// maxUsers bounds -users: the fake Yubico programs every key in one batch.
const maxUsers = 2000

// run is the program: it parses args, plays the lifecycle and returns the
// exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lifecycle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: lifecycle [-users N] [-json]\n\n"+
			"Runs the life of pre-enrolled YubiKeys against in-process fakes of Okta and Yubico.\n\n")
		fs.PrintDefaults()
	}
	users := fs.Int("users", 2, "number of users: new hires (STAGED) and existing employees (ACTIVE), alternating")
	asJSON := fs.Bool("json", false, "print the events as JSON lines instead of a timeline")
	concurrency := fs.Int("concurrency", 4, "users worked on at once by the Service and the sign-ins")
	verbose := fs.Bool("v", false, "log the Service's steps to stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "lifecycle: unexpected argument %q\n", fs.Arg(0))
		return 2
	case *users < 1 || *users > maxUsers:
		fmt.Fprintf(stderr, "lifecycle: -users %d: want 1 to %d\n", *users, maxUsers)
		return 2
	case *concurrency < 1 || *concurrency > 64:
		fmt.Fprintf(stderr, "lifecycle: -concurrency %d: want 1 to 64\n", *concurrency)
		return 2
	}

	began := time.Now()
	var out sink = newTimeline(stdout)
	if *asJSON {
		out = newJSONLines(stdout)
	}
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	d, err := newDemo(*users, *concurrency, out, logger)
	if err != nil {
		fmt.Fprintf(stderr, "lifecycle: %v\n", err)
		return 1
	}
	defer d.Close()
	sum, err := d.play(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "lifecycle: %v\n", err)
		return 1
	}
	if !*asJSON {
		fmt.Fprintf(stdout, "\n%s\n", sum)
		fmt.Fprintf(stdout, "fake time %s, wall time %s\n", days(sum.fakeElapsed), time.Since(began).Round(time.Millisecond))
	}
	if !sum.ok() {
		fmt.Fprintf(stderr, "lifecycle: %d of %d keys did not end Active with the PIN wiped\n", sum.users-sum.wiped, sum.users)
		return 1
	}
	return 0
}

// days formats d as days, hours and minutes ("3d 19h 0m").
func days(d time.Duration) string {
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dd %dh %dm", d/(24*time.Hour), d%(24*time.Hour)/time.Hour, d%time.Hour/time.Minute)
}

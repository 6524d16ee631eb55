package cli

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/preenroll/preenroll/internal/testclock"
	"github.com/preenroll/preenroll/okta"
	"github.com/preenroll/preenroll/okta/oktatest"
)

// unreachableURL returns the URL of a loopback port nothing listens on.
func unreachableURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close() // nothing listens there once the test uses it
	return "http://" + l.Addr().String()
}

// invocation is one in-process run of the program.
type invocation struct {
	ctx    context.Context
	env    map[string]string
	stdout io.Writer // default: a buffer
	stdin  io.Reader
	stderr io.Writer // extra destination of stderr, if not nil
	clock  *testclock.Clock
	slow   time.Duration // default: an hour (never)
}

// result is what a run printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

// run runs args in-process.
func (iv invocation) run(t *testing.T, args ...string) result {
	t.Helper()
	ctx := iv.ctx
	if ctx == nil {
		ctx = t.Context()
	}
	var out, errb bytes.Buffer
	stdout := iv.stdout
	if stdout == nil {
		stdout = &out
	}
	var stderr io.Writer = &errb
	if iv.stderr != nil {
		stderr = io.MultiWriter(&errb, iv.stderr)
	}
	clock := iv.clock
	if clock == nil {
		clock = testclock.New(testStart)
	}
	slow := iv.slow
	if slow == 0 {
		slow = time.Hour
	}
	d := &deps{getenv: func(k string) string { return iv.env[k] }, clock: clock, slowAfter: slow}
	stdin := iv.stdin
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	code := run(ctx, args, stdin, stdout, stderr, d)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// runCLI runs args in-process with an empty environment.
func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	return invocation{}.run(t, args...)
}

// writeFile writes content to a new file in a temporary directory and
// returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// shippable is a profile that validates as a US shipping address.
func shippable(login string) okta.Profile {
	local, _, _ := strings.Cut(login, "@")
	return okta.Profile{
		Login: login, Email: login, SecondEmail: local + "@home.example.net",
		FirstName: "Jan", LastName: "Lindberg", Organization: "Example Inc.", PrimaryPhone: "+1 781 555 0142",
		StreetAddress: "7788 Foxrun Street", City: "Dedham", State: "MA", ZipCode: "02026", CountryCode: "US",
	}
}

// org is a fake Okta org reached over HTTP like a real one, with its token
// in a file.
type org struct {
	srv       *oktatest.Server
	tokenFile string
}

// newOrg starts a fake org.
func newOrg(t *testing.T, opts ...oktatest.Option) org {
	t.Helper()
	srv := oktatest.NewServer(t, opts...)
	return org{srv: srv, tokenFile: writeFile(t, "okta.token", srv.Token()+"\n# comment\n")}
}

// testRPID is the relying-party ID of the tests' fake orgs, which listen
// at 127.0.0.1: no valid RP ID, the default.
const testRPID = "example.okta.com"

// args are the settings that point a command at the org (and a relying
// party: the org's host, 127.0.0.1, is no valid RP ID).
func (o org) args() []string {
	return []string{"-okta-org", o.srv.URL(), "-okta-token-file", o.tokenFile, "-rp-id", testRPID}
}

// addUser adds a STAGED user with a shippable profile.
func (o org) addUser(t *testing.T, login string) okta.User {
	t.Helper()
	u, err := o.srv.AddUser(shippable(login), okta.UserStaged)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// lines splits output into its non-empty lines.
func lines(s string) []string {
	var out []string
	for l := range strings.SplitSeq(strings.TrimSpace(s), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// Package cli is the preenroll command line: the subcommands of
// cmd/preenroll (order, batch, status, retry, delete, resend-pin, check, sync,
// serve, doctor, backup, demo, help, version), the configuration they
// share, and how they talk to Okta, Yubico and the store. It lives outside
// package main so that tests run every command in-process ([Run]) and
// further commands ([Register]) build on the same configuration.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/preenroll/preenroll/internal/syncio"
	"github.com/preenroll/preenroll/okta"
)

// Exit codes of every command.
const (
	ExitOK     = 0 // done
	ExitFailed = 1 // something was not done (bad rows, Okta refused, interrupted)
	ExitUsage  = 2 // bad command line or settings: nothing was done
)

// Command is one subcommand.
type Command struct {
	// Name is the subcommand ("order").
	Name string
	// Args is the synopsis of its positional arguments ("USER..."), empty
	// if it takes none.
	Args string
	// MinArgs and MaxArgs bound the positional arguments (MaxArgs -1: no
	// limit).
	MinArgs, MaxArgs int
	// Summary is the one-line description in the command list.
	Summary string
	// Doc is the help text after the usage line.
	Doc string
	// SettingsOf, if set, names the command whose settings this one takes,
	// checked and documented as that command's (doctor takes serve's);
	// problems are still reported under Name.
	SettingsOf string
	// Run runs the command with its checked configuration and returns
	// the exit code.
	Run func(ctx context.Context, inv *Invocation) int
}

// Invocation is one run of a command: its configuration, arguments and
// streams.
type Invocation struct {
	Config *Config
	Args   []string
	Stdin  io.Reader
	Stdout io.Writer
	// Stderr is safe for concurrent use (progress and waiting notices
	// write from several goroutines).
	Stderr io.Writer
	// Logger receives the Service's log (discarded unless -verbose).
	Logger *slog.Logger
	deps   *deps
	cmd    *Command
}

// errorf prints "preenroll CMD: message" to stderr.
func (inv *Invocation) errorf(format string, args ...any) {
	fmt.Fprintf(inv.Stderr, "preenroll %s: %s\n", inv.cmd.Name, fmt.Sprintf(format, args...))
}

// deps are what tests replace: the environment, the clock the clients wait
// on, and when a slow request is reported.
type deps struct {
	getenv func(string) string
	// clock is the clock the Okta and Yubico clients sleep on between
	// retries (nil: the wall clock).
	clock okta.Clock
	// slowAfter is how long a request runs before the command says what
	// it is waiting for.
	slowAfter time.Duration
}

// defaultSlowAfter is when a request still waiting for its answer is
// reported.
const defaultSlowAfter = 5 * time.Second

var (
	registryMu sync.Mutex
	registry   = map[string]*Command{}
)

// Register adds a subcommand. It panics if the name is taken: commands
// register in init functions.
func Register(c *Command) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if c.Name == "" || c.Run == nil {
		panic("cli: Register: a command needs a Name and a Run")
	}
	if _, dup := registry[c.Name]; dup || c.Name == "help" || c.Name == "version" {
		panic("cli: Register: command " + c.Name + " registered twice")
	}
	registry[c.Name] = c
}

// settingsName is the command whose settings c takes: SettingsOf, or
// its own.
func (c *Command) settingsName() string {
	if c.SettingsOf != "" {
		return c.SettingsOf
	}
	return c.Name
}

// lookup returns the command named name.
func lookup(name string) (*Command, bool) {
	registryMu.Lock()
	defer registryMu.Unlock()
	c, ok := registry[name]
	return c, ok
}

// names returns the registered commands' names, sorted.
func names() []string {
	registryMu.Lock()
	defer registryMu.Unlock()
	return slices.Sorted(maps.Keys(registry))
}

// Run runs the command line args (without the program name) and returns
// the exit code. getenv reads the environment (os.Getenv).
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	return run(ctx, args, stdin, stdout, stderr, &deps{getenv: getenv, slowAfter: defaultSlowAfter})
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, d *deps) int {
	stderr = syncio.NewWriter(stderr)
	if len(args) == 0 {
		usage(stderr)
		return ExitUsage
	}
	switch name := args[0]; name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && name == "help" {
			if doc, ok := builtinHelp[args[1]]; ok {
				fmt.Fprint(stdout, doc)
				return ExitOK
			}
			c, ok := lookup(args[1])
			if !ok {
				fmt.Fprintf(stderr, "preenroll help: unknown command %q\n", args[1])
				usage(stderr)
				return ExitUsage
			}
			commandHelp(stdout, c)
			return ExitOK
		}
		usage(stdout)
		return ExitOK
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "preenroll", version())
		return ExitOK
	}
	c, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "preenroll: unknown command %q\n", args[0])
		usage(stderr)
		return ExitUsage
	}
	inv, code := prepare(c, args[1:], stdin, stdout, stderr, d)
	if inv == nil {
		return code
	}
	return c.Run(ctx, inv)
}

// builtinHelp documents the commands that are not registered (help,
// version), so that "preenroll help version" answers like any other
// command's help.
var builtinHelp = map[string]string{
	"help": "usage: preenroll help [COMMAND]\n\n" +
		"Without COMMAND, lists the commands; with one, prints its description and\n" +
		"every setting it takes (flag, PREENROLL_* variable, config-file key, default).\n" +
		"preenroll COMMAND -h prints the same.\n",
	"version": "usage: preenroll version\n\n" +
		"Prints the module version (or VCS revision) the program was built from and\n" +
		"the Go version. It takes no settings.\n",
}

// prepare parses and checks a command's settings. It returns nil and the
// exit code when the command must not run (help asked, bad settings:
// every problem is printed at once).
func prepare(c *Command, args []string, stdin io.Reader, stdout, stderr io.Writer, d *deps) (*Invocation, int) {
	l := newLoader(c.settingsName(), io.Discard) // parse errors are printed below, in the commands' form
	l.fs.Usage = func() {}
	// Flags may follow the arguments (preenroll status jan -store k.db);
	// "--" ends the flags.
	var positional []string
	for {
		if err := l.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				commandHelp(stderr, c)
				return nil, ExitOK
			}
			// An unknown or malformed flag: the problem and where the
			// settings are listed, not the whole help above it.
			fmt.Fprintf(stderr, "preenroll %s: %v\n(preenroll help %s lists the settings)\n", c.Name, err, c.Name)
			return nil, ExitUsage
		}
		rest := l.fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	cfg, problems := l.resolve(d.getenv)
	switch n := len(positional); {
	case n < c.MinArgs:
		problems = append(problems, fmt.Sprintf("missing argument: %s", c.Args))
	case c.MaxArgs >= 0 && n > c.MaxArgs:
		problems = append(problems, fmt.Sprintf("unexpected argument %q", safe(positional[c.MaxArgs])))
	}
	problems = append(problems, cfg.check(c.settingsName())...)
	if len(problems) > 0 {
		if len(problems) == 1 {
			fmt.Fprintf(stderr, "preenroll %s: %s\n", c.Name, problems[0])
		} else {
			fmt.Fprintf(stderr, "preenroll %s: %d problems with the settings:\n", c.Name, len(problems))
			for _, p := range problems {
				fmt.Fprintf(stderr, "  %s\n", p)
			}
		}
		fmt.Fprintf(stderr, "(preenroll help %s lists the settings)\n", c.Name)
		return nil, ExitUsage
	}
	logger := slog.New(slog.DiscardHandler)
	if cfg.Verbose {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	return &Invocation{Config: cfg, Args: positional, Stdin: stdin, Stdout: stdout, Stderr: stderr,
		Logger: logger, deps: d, cmd: c}, ExitOK
}

// usage prints the command list.
func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: preenroll COMMAND [settings] [arguments]\n\n"+
		"Orders and manages pre-enrolled YubiKeys for Okta users. Without an Okta org\n"+
		"(-okta-org or PREENROLL_OKTA_ORG) every command runs on in-process fakes.\n\nCommands:\n")
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, n := range names() {
		c, _ := lookup(n)
		fmt.Fprintf(tw, "  %s\t%s\n", n, c.Summary)
	}
	fmt.Fprintf(tw, "  help COMMAND\tthe command's description and settings\n")
	fmt.Fprintf(tw, "  version\tthe program's version\n")
	tw.Flush()
	fmt.Fprintf(w, "\nExit codes: %d done, %d not (all) done, %d bad usage.\n", ExitOK, ExitFailed, ExitUsage)
}

// commandHelp documents a command and every setting it takes: flag,
// environment variable, config-file key and default.
func commandHelp(w io.Writer, c *Command) {
	fmt.Fprintf(w, "usage: preenroll %s [settings]", c.Name)
	if c.Args != "" {
		fmt.Fprintf(w, " %s", c.Args)
	}
	fmt.Fprintf(w, "\n\n%s\n", strings.TrimSpace(c.Doc))
	var shared, own []*Setting
	for _, s := range settings {
		if !s.appliesTo(c.settingsName()) {
			continue
		}
		if s.FlagOnly {
			own = append(own, s)
		} else {
			shared = append(shared, s)
		}
	}
	block := func(title string, rows []*Setting) {
		if len(rows) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s\n", title)
		for _, s := range rows {
			name := "-" + s.Name
			if s.Alias != "" {
				name += ", -" + s.Alias
			}
			var where []string
			if s == configSetting {
				where = append(where, s.Env())
			} else if env := s.Env(); env != "" {
				where = append(where, env, "file key "+strconv.Quote(s.Name))
			}
			if d := s.defaultOf(c.settingsName()); d != "" {
				where = append(where, "default "+d)
			}
			if len(where) > 0 {
				name += "  (" + strings.Join(where, ", ") + ")"
			}
			fmt.Fprintf(w, "  %s\n      %s\n", name, s.Usage)
		}
	}
	if len(shared) > 0 {
		shared = append([]*Setting{configSetting}, shared...)
	}
	block("Settings (a flag overrides its environment variable, which overrides the config file's key):", shared)
	block("Arguments of this command (flags only):", own)
	if slices.ContainsFunc(shared, func(s *Setting) bool { return strings.HasSuffix(s.Name, "-file") }) {
		fmt.Fprintf(w, "\nSecrets (the Okta and Yubico API tokens, the service app's private key) are read\n"+
			"from the files named, never from flags or variables, and are never printed.\n")
	}
}

// version returns the module version or VCS revision the binary was built
// from.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if (v == "" || v == "(devel)") && rev != "" {
		return fmt.Sprintf("(devel) %.12s%s %s", rev, dirty, bi.GoVersion)
	}
	if v == "" {
		v = "(devel)"
	}
	return v + " " + bi.GoVersion
}

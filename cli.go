package locust

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
)

// Command is a Locust-compatible command line for a program's own main.
// Fill it in and call Run (or Main); the run package returns one with
// every standard extension (reports, thresholds) already added. A Command
// is not safe for concurrent use.
//
// Options come from config files (~/.locust.conf, ./locust.conf and
// --config FILE, in Locust's "key = value" format), then LOCUST_*
// variables, then the command line, each overriding the ones before.
type Command struct {
	// Name is the program name in the usage text; "" means os.Args[0].
	Name string
	// Users are the user types the program defines.
	Users []*UserType
	// Extensions add flags and behaviour (reports, thresholds, UI).
	Extensions []Extension
	// Flags, if set, is the program's own flag set; the command adds its
	// flags to it, so the program's own flags parse alongside, in the same
	// forms (--name value, --name=value, -name value), and may be set in
	// config files by name (not from LOCUST_* variables).
	Flags *flag.FlagSet
	// Stdout and Stderr default to os.Stdout and os.Stderr.
	Stdout, Stderr io.Writer
	// Getenv reads LOCUST_* variables (and HOME, for ~/.locust.conf, when
	// Home is ""); nil means os.Getenv.
	Getenv func(string) string
	// Home is the directory of ~/.locust.conf; "" means the HOME variable
	// (read with Getenv; unset: no such file is read).
	Home string
	// Dir is the directory of ./locust.conf and of relative --config and
	// --logfile paths; "" means the working directory.
	Dir string
	// Prepare, if set, runs once the options are parsed, before the runner
	// is made. It gets the configuration (which it may change: a host, a
	// run time) and the user types chosen on the command line, and returns
	// the user types to run. It is the supported way to change user types
	// from the program's own flags (a --fast flag that shortens waits):
	// return changed copies, and leave the originals alone. An error ends
	// the program with exit code 2.
	Prepare func(ctx context.Context, cfg *Config, types []*UserType) ([]*UserType, error)
	// Setup, if set, runs after the runner is made and before the test
	// starts, to add event listeners. It must not change the user types
	// (use Prepare).
	Setup func(ctx context.Context, r *Runner) error
	// Signals, if set, are the signals that stop the test gracefully;
	// nil means SIGINT and SIGTERM. A second one exits at once (see Run).
	Signals []os.Signal
}

// Main runs the command line with the given user types and exits the
// process with its exit code. It is the usual body of a load test's main
// when no report or threshold is wanted; run.Main adds them.
func Main(users ...*UserType) {
	c := &Command{Users: users}
	c.Main()
}

// Main runs c with the process's arguments and exits the process with its
// exit code.
func (c *Command) Main() {
	os.Exit(c.Run(context.Background(), os.Args[1:]))
}

// session is one run of a Command: its outputs, options and log.
type session struct {
	cmd            *Command
	name           string
	stdout, stderr io.Writer
	text           io.Writer // tables and extension text: stdout, or stderr with --json
	reserver       Extension
	getenv         func(string) string
	fs             *flag.FlagSet
	o              options
	docs           []flagDoc
	extFlags       []string // flags added by extensions, in order
	notes          []note   // said at start, once the log is set up
	logger         *slog.Logger
	logClose       func() error
	launched       bool                  // a Launcher starts the tests (the web UI)
	signalled      atomic.Bool           // a stop signal arrived during a test
	drive          func(context.Context) // a Driver's run, beside the Runner's
	driving        Driver                // the Driver of the tests, or nil
	remote         Remote                // driving's Remote
	driveCfg       Config                // the test driven on remote
}

// note is an INFO line to log at start.
type note struct{ msg, value string }

// Run parses args, runs the test and returns the exit code (see ExitUsage
// for the list). It prints the stats table every 2 seconds (unless
// --only-summary) and the final summary to Stdout, or to Stderr when an
// extension reserves Stdout (StdoutReserver, as --json does).
//
// A SIGINT or SIGTERM (or Signals) stops the test as Runner.Stop does:
// running tasks get --stop-timeout to finish, then the summary and report
// files are written. A second signal does not wait for the users: Run
// writes the summary and reports of what it has at once and returns 130
// (SIGINT) or 143 (SIGTERM), leaving users that ignore their context to
// the process's exit. Cancelling ctx stops the test at once.
func (c *Command) Run(ctx context.Context, args []string) int {
	s := c.newSession()
	names, err := s.loadOptions(args)
	if err != nil {
		return s.fail(err)
	}
	if code, done := s.informational(); done {
		return code
	}
	types, err := s.selectTypes(names)
	if err != nil {
		return s.fail(err)
	}
	if err := s.setupLog(); err != nil {
		return s.fail(err)
	}
	defer s.closeLog()
	s.chooseText()
	cfg, types, err := s.config(ctx, types)
	if err != nil {
		return s.fail(err)
	}
	r, err := NewRunner(cfg, types...) // checks the types in every role
	if err != nil {
		return s.fail(oneLine(err))
	}
	if d := s.driver(); d != nil && !s.o.showRatio {
		return s.runDriven(ctx, d, cfg, types)
	}
	if d := s.delegate(); d != nil && !s.o.showRatio {
		return s.runDelegate(ctx, d, cfg, types)
	}
	if s.o.showRatio {
		printRatios(s.stdout, r)
		return 0
	}
	return s.runTests(ctx, cfg, types, r)
}

// newSession sets up the outputs and registers every option.
func (c *Command) newSession() *session {
	s := &session{cmd: c, name: c.Name, stdout: c.Stdout, stderr: c.Stderr, getenv: c.Getenv, fs: c.Flags}
	if s.stdout == nil {
		s.stdout = os.Stdout
	}
	if s.stderr == nil {
		s.stderr = os.Stderr
	}
	// the periodic table and the extensions write from several goroutines
	s.stdout, s.stderr = &syncWriter{w: s.stdout}, &syncWriter{w: s.stderr}
	s.text = s.stdout
	if s.getenv == nil {
		s.getenv = os.Getenv
	}
	if s.name == "" {
		s.name = filepath.Base(os.Args[0])
	}
	if s.fs == nil {
		s.fs = flag.NewFlagSet(s.name, flag.ContinueOnError)
	}
	s.fs.SetOutput(io.Discard)
	s.fs.Usage = func() {}
	s.docs = s.o.register(s.fs)
	before := map[string]bool{}
	s.fs.VisitAll(func(f *flag.Flag) { before[f.Name] = true })
	for _, e := range c.Extensions {
		e.Flags(s.fs)
	}
	s.fs.VisitAll(func(f *flag.Flag) {
		if !before[f.Name] {
			s.extFlags = append(s.extFlags, f.Name)
		}
	})
	return s
}

// informational handles --help, --version and --list.
func (s *session) informational() (int, bool) {
	switch {
	case s.o.help:
		s.usage(s.stdout)
	case s.o.version:
		fmt.Fprintf(s.stdout, "golocust %s\n", Version)
	case s.o.list:
		printList(s.stdout, s.cmd.Users)
	default:
		return 0, false
	}
	return 0, true
}

// selectTypes returns the user types named on the command line, or all.
func (s *session) selectTypes(names []string) ([]*UserType, error) {
	if len(names) == 0 {
		return s.cmd.Users, nil
	}
	var types []*UserType
	for _, n := range names {
		i := slices.IndexFunc(s.cmd.Users, func(t *UserType) bool { return t != nil && t.Name == n })
		if i < 0 {
			return nil, fmt.Errorf("unknown user type %q (see --list)", n)
		}
		types = append(types, s.cmd.Users[i])
	}
	return types, nil
}

// chooseText keeps stdout for an extension that reserves it (--json).
func (s *session) chooseText() {
	for _, e := range s.cmd.Extensions {
		if rs, ok := e.(StdoutReserver); ok && rs.ReservesStdout() {
			s.text, s.reserver = s.stderr, e
			return
		}
	}
}

// config builds the runner's Config from the options, then lets the
// extensions and Prepare change it.
func (s *session) config(ctx context.Context, types []*UserType) (Config, []*UserType, error) {
	o := &s.o
	cfg := Config{
		Host:        o.host,
		Users:       o.users,
		SpawnRate:   o.spawnRate,
		RunTime:     o.runTime,
		Iterations:  o.iterations,
		MaxRequests: o.numRequests,
		StopTimeout: o.stopTimeout,
		Tags:        o.tags,
		ExcludeTags: o.excludeTags,
		ResetStats:  o.resetStats,
		Logger:      s.logger,
	}
	for _, e := range s.cmd.Extensions {
		if cf, ok := e.(Configurer); ok {
			if err := cf.Configure(&cfg); err != nil {
				return cfg, nil, err
			}
		}
	}
	if s.cmd.Prepare != nil {
		var err error
		if types, err = s.cmd.Prepare(ctx, &cfg, slices.Clone(types)); err != nil {
			return cfg, nil, fmt.Errorf("prepare: %w", err)
		}
	}
	return cfg, types, nil
}

// syncWriter serializes writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

package locust

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Extension adds features to the command line of Main: its own flags,
// work before the test starts and after it stops, and a say in the exit
// code. Reports, thresholds and the web UI are extensions, so that the core
// package stays small. An extension is used by one Command run at a time.
type Extension interface {
	// Flags registers the extension's flags. Long names become LOCUST_*
	// environment variables too (--csv-full-history: LOCUST_CSV_FULL_HISTORY).
	Flags(fs *flag.FlagSet)
	// Start runs after the flags are parsed and the runner is made, before
	// the test starts. An error ends the program with exit code 2 before
	// any user starts (use it for bad flag values).
	Start(ctx context.Context, r *Runner, out io.Writer) error
	// Stop runs after the test stopped, with the final statistics.
	Stop(ctx context.Context, r *Runner, final *Snapshot, out io.Writer) (Verdict, error)
}

// Configurer is implemented by extensions that change the runner's Config
// (for example to compute extra percentiles) after the flags are parsed and
// before the runner is made. An error ends the program with exit code 2.
type Configurer interface {
	Configure(cfg *Config) error
}

// StdoutReserver is implemented by extensions that may print
// machine-readable output on stdout (such as --json). When an extension's
// ReservesStdout returns true (it is asked after the flags are parsed),
// the tables, logs and the other extensions' text go to Stderr, and only
// that extension's Stop is handed Stdout, so that stdout holds nothing but
// its output.
type StdoutReserver interface {
	ReservesStdout() bool
}

// Verdict is an extension's say in the exit code. When any extension
// decides, the highest ExitCode among the deciding ones is the exit code;
// otherwise the exit code is 0, or --exit-code-on-error when a request
// failed or user code raised an error.
type Verdict struct {
	Decided  bool
	ExitCode int
}

// Command is a Locust-compatible command line for a program's own main.
// Fill it in and call Run; Main does it for the common case. A Command is
// not safe for concurrent use.
type Command struct {
	// Name is the program name in the usage text; "" means os.Args[0].
	Name string
	// Users are the user types the program defines.
	Users []*UserType
	// Extensions add flags and behaviour (reports, thresholds, UI).
	Extensions []Extension
	// Flags, if set, is the program's own flag set; the command adds its
	// flags to it, so the program's own flags parse alongside.
	Flags *flag.FlagSet
	// Stdout and Stderr default to os.Stdout and os.Stderr.
	Stdout, Stderr io.Writer
	// Getenv reads LOCUST_* variables; nil means os.Getenv.
	Getenv func(string) string
	// Setup, if set, runs after the runner is made and before the test
	// starts, to add event listeners.
	Setup func(ctx context.Context, r *Runner) error
	// Signals, if set, are the signals that stop the test gracefully;
	// nil means SIGINT and SIGTERM.
	Signals []os.Signal

	extFlags map[string]bool
}

// Main runs the command line with the given user types and exits the
// process with its exit code. It is the usual body of a load test's main.
func Main(users ...*UserType) {
	c := &Command{Users: users}
	os.Exit(c.Run(context.Background(), os.Args[1:]))
}

// Exit codes of Command.Run besides 0 and --exit-code-on-error.
const (
	// ExitUsage is returned for bad flags, bad values or bad definitions.
	ExitUsage = 2
)

// options are the parsed core flags.
type options struct {
	users       int
	spawnRate   float64
	runTime     time.Duration
	host        string
	headless    bool
	autostart   bool
	iterations  int64
	numRequests int64
	stopTimeout time.Duration
	onlySummary bool
	printStats  bool
	resetStats  bool
	tags        listValue
	excludeTags listValue
	loglevel    string
	exitOnError int
	list        bool
	version     bool
	help        bool
	showRatio   bool
}

type flagDoc struct {
	names []string
	arg   string
	usage string
	env   string
	alias bool
}

// listValue is a repeatable, comma-separated list flag.
type listValue []string

func (l *listValue) String() string { return strings.Join(*l, ",") }
func (l *listValue) Set(s string) error {
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		*l = append(*l, p)
	}
	return nil
}

// spanValue parses Locust timespans (30s, 5m, 1h30m, 90) and Go durations.
type spanValue struct{ d *time.Duration }

func (s spanValue) String() string {
	if s.d == nil || *s.d == 0 {
		return ""
	}
	return s.d.String()
}
func (s spanValue) Set(v string) error {
	d, err := ParseTimespan(v)
	if err != nil {
		return err
	}
	*s.d = d
	return nil
}

var timespanRE = regexp.MustCompile(`^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$`)

// ParseTimespan parses a run time as Locust writes it ("30s", "5m",
// "1h30m", or a plain number of seconds) or as a Go duration ("1.5s",
// "250ms"). Negative values are an error.
func ParseTimespan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty time span")
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("negative time span %q", s)
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	if m := timespanRE.FindStringSubmatch(s); m != nil {
		var d time.Duration
		for i, unit := range []time.Duration{time.Hour, time.Minute, time.Second} {
			if m[i+1] != "" {
				n, _ := strconv.Atoi(m[i+1])
				d += time.Duration(n) * unit
			}
		}
		return d, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid time span %q (use e.g. 30s, 5m, 1h30m)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("negative time span %q", s)
	}
	return d, nil
}

func (c *Command) register(fs *flag.FlagSet, o *options) []flagDoc {
	var docs []flagDoc
	add := func(d flagDoc, reg func(name string)) {
		for _, n := range d.names {
			reg(n)
		}
		docs = append(docs, d)
	}
	intVar := func(p *int, def int, d flagDoc) {
		*p = def
		add(d, func(n string) { fs.IntVar(p, n, def, d.usage) })
	}
	int64Var := func(p *int64, d flagDoc) {
		add(d, func(n string) { fs.Int64Var(p, n, 0, d.usage) })
	}
	boolVar := func(p *bool, d flagDoc) {
		add(d, func(n string) { fs.BoolVar(p, n, false, d.usage) })
	}
	strVar := func(p *string, def string, d flagDoc) {
		*p = def
		add(d, func(n string) { fs.StringVar(p, n, def, d.usage) })
	}
	varFlag := func(v flag.Value, d flagDoc) {
		add(d, func(n string) { fs.Var(v, n, d.usage) })
	}
	intVar(&o.users, 1, flagDoc{names: []string{"u", "users"}, arg: "N", usage: "peak number of concurrent users", env: "LOCUST_USERS"})
	intVar(&o.users, 1, flagDoc{names: []string{"c", "clients"}, arg: "N", usage: "alias of --users (old Locust)", alias: true})
	o.spawnRate = 1
	add(flagDoc{names: []string{"r", "spawn-rate"}, arg: "RATE", usage: "users started per second (default 1)", env: "LOCUST_SPAWN_RATE"},
		func(n string) { fs.Float64Var(&o.spawnRate, n, 1, "") })
	add(flagDoc{names: []string{"hatch-rate"}, arg: "RATE", usage: "alias of --spawn-rate (old Locust)", alias: true},
		func(n string) { fs.Float64Var(&o.spawnRate, n, 1, "") })
	varFlag(spanValue{&o.runTime}, flagDoc{names: []string{"t", "run-time"}, arg: "TIME", usage: "stop after this long, e.g. 30s, 5m, 1h30m (default: until stopped)", env: "LOCUST_RUN_TIME"})
	strVar(&o.host, "", flagDoc{names: []string{"H", "host"}, arg: "URL", usage: "host to load test, e.g. http://127.0.0.1:8080", env: "LOCUST_HOST"})
	boolVar(&o.headless, flagDoc{names: []string{"headless"}, usage: "run without the web UI and start at once", env: "LOCUST_HEADLESS"})
	boolVar(&o.headless, flagDoc{names: []string{"no-web"}, usage: "alias of --headless (old Locust)", alias: true})
	boolVar(&o.autostart, flagDoc{names: []string{"autostart"}, usage: "start the test at once even with the web UI", env: "LOCUST_AUTOSTART"})
	int64Var(&o.iterations, flagDoc{names: []string{"i", "iterations"}, arg: "N", usage: "stop after N task runs across all users", env: "LOCUST_ITERATIONS"})
	int64Var(&o.numRequests, flagDoc{names: []string{"n", "num-request"}, arg: "N", usage: "stop after N requests (old Locust)", env: "LOCUST_NUM_REQUEST", alias: true})
	varFlag(spanValue{&o.stopTimeout}, flagDoc{names: []string{"s", "stop-timeout"}, arg: "TIME", usage: "let running tasks finish for up to this long when stopping (default 0: cancel at once)", env: "LOCUST_STOP_TIMEOUT"})
	boolVar(&o.onlySummary, flagDoc{names: []string{"only-summary"}, usage: "print only the final summary, not the table every 2 s", env: "LOCUST_ONLY_SUMMARY"})
	boolVar(&o.printStats, flagDoc{names: []string{"print-stats"}, usage: "print the stats table while running (always on: this program has no web UI; --only-summary turns it off)", env: "LOCUST_PRINT_STATS"})
	boolVar(&o.resetStats, flagDoc{names: []string{"reset-stats"}, usage: "reset the statistics once spawning completes", env: "LOCUST_RESET_STATS"})
	varFlag(&o.tags, flagDoc{names: []string{"T", "tags"}, arg: "TAG,...", usage: "run only the tasks with any of these tags (repeatable)", env: "LOCUST_TAGS"})
	varFlag(&o.excludeTags, flagDoc{names: []string{"E", "exclude-tags"}, arg: "TAG,...", usage: "do not run the tasks with any of these tags (repeatable)", env: "LOCUST_EXCLUDE_TAGS"})
	strVar(&o.loglevel, "INFO", flagDoc{names: []string{"L", "loglevel"}, arg: "LEVEL", usage: "DEBUG, INFO, WARNING, ERROR or CRITICAL (default INFO)", env: "LOCUST_LOGLEVEL"})
	intVar(&o.exitOnError, 1, flagDoc{names: []string{"exit-code-on-error"}, arg: "CODE", usage: "exit code when a request failed or user code raised an error (default 1)", env: "LOCUST_EXIT_CODE_ON_ERROR"})
	boolVar(&o.list, flagDoc{names: []string{"l", "list"}, usage: "list the user types and exit"})
	boolVar(&o.showRatio, flagDoc{names: []string{"show-task-ratio"}, usage: "print each user type's task ratios and exit"})
	boolVar(&o.version, flagDoc{names: []string{"V", "version"}, usage: "print the version and exit"})
	boolVar(&o.help, flagDoc{names: []string{"h", "help"}, usage: "show this help and exit"})
	return docs
}

func (c *Command) usage(w io.Writer, name string, fs *flag.FlagSet, docs []flagDoc, own map[string]bool) {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: %s [options] [UserType ...]\n\nA load test written with golocust %s (Locust-compatible options).\n\nOptions:\n", name, Version)
	line := func(names []string, arg, usage, env string) {
		var ns []string
		for _, n := range names {
			if len(n) == 1 {
				ns = append(ns, "-"+n)
			} else {
				ns = append(ns, "--"+n)
			}
		}
		left := strings.Join(ns, ", ")
		if arg != "" {
			left += " " + arg
		}
		if env != "" {
			usage += " [env " + env + "]"
		}
		fmt.Fprintf(&b, "  %-28s %s\n", left, usage)
	}
	for _, d := range docs {
		line(d.names, d.arg, d.usage, d.env)
	}
	var rest []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if !own[f.Name] {
			rest = append(rest, f)
		}
	})
	if len(rest) > 0 {
		b.WriteString("\nMore options:\n")
		for _, f := range rest {
			arg, u := flag.UnquoteUsage(f)
			env := ""
			if c.extFlags != nil && c.extFlags[f.Name] {
				env = envName(f.Name)
			}
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
				u += " (default " + f.DefValue + ")"
			}
			line([]string{f.Name}, arg, u, env)
		}
	}
	io.WriteString(w, b.String())
}

func envName(flagName string) string {
	return "LOCUST_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Run parses args, runs the test and returns the exit code. It prints the
// stats table every 2 seconds (unless --only-summary) and the final
// summary to Stdout, or to Stderr when an extension reserves Stdout
// (StdoutReserver, as --json does). A SIGINT or SIGTERM (or Signals) stops the test
// gracefully, as Runner.Stop does: running tasks get --stop-timeout to
// finish and the summary is still printed; a second signal kills the
// process as usual. Cancelling ctx stops the test at once.
func (c *Command) Run(ctx context.Context, args []string) int {
	stdout, stderr := c.Stdout, c.Stderr
	if stdout == nil {
		stdout = os.Stdout
	}
	if stderr == nil {
		stderr = os.Stderr
	}
	// the periodic table and the extensions write from several goroutines
	stdout, stderr = &syncWriter{w: stdout}, &syncWriter{w: stderr}
	getenv := c.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	name := c.Name
	if name == "" {
		name = filepath.Base(os.Args[0])
	}
	fs := c.Flags
	if fs == nil {
		fs = flag.NewFlagSet(name, flag.ContinueOnError)
	}
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var o options
	own := map[string]bool{}
	docs := c.register(fs, &o)
	for _, d := range docs {
		for _, n := range d.names {
			own[n] = true
		}
	}
	before := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { before[f.Name] = true })
	for _, e := range c.Extensions {
		e.Flags(fs)
	}
	c.extFlags = map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) {
		if !before[f.Name] {
			c.extFlags[f.Name] = true
		}
	})
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "%s: error: %s\n", name, fmt.Sprintf(format, a...))
		return ExitUsage
	}
	// environment first, so that the command line overrides it
	for _, d := range docs {
		if d.env == "" {
			continue
		}
		if v := getenv(d.env); v != "" {
			long := d.names[len(d.names)-1]
			if err := fs.Set(long, v); err != nil {
				return fail("invalid value %q for %s (--%s): %v", v, d.env, long, err)
			}
		}
	}
	for n := range c.extFlags {
		if v := getenv(envName(n)); v != "" {
			if err := fs.Set(n, v); err != nil {
				return fail("invalid value %q for %s (--%s): %v", v, envName(n), n, err)
			}
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.usage(stdout, name, fs, docs, own)
			return 0
		}
		return fail("%s (see --help)", err)
	}
	// with --json (or another reserver), keep stdout for its output alone
	text := stdout
	var reserver Extension
	for _, e := range c.Extensions {
		if rs, ok := e.(StdoutReserver); ok && rs.ReservesStdout() {
			text, reserver = stderr, e
			break
		}
	}
	if o.help {
		c.usage(stdout, name, fs, docs, own)
		return 0
	}
	if o.version {
		fmt.Fprintf(stdout, "golocust %s\n", Version)
		return 0
	}
	if o.list {
		for _, t := range c.Users {
			if t != nil {
				fmt.Fprintln(stdout, t.Name)
			}
		}
		return 0
	}
	level, ok := parseLevel(o.loglevel)
	if !ok {
		return fail("invalid value %q for -L/--loglevel: use DEBUG, INFO, WARNING, ERROR or CRITICAL", o.loglevel)
	}
	switch {
	case o.users < 0:
		return fail("invalid value %d for -u/--users: must be at least 0", o.users)
	case o.spawnRate <= 0:
		return fail("invalid value %g for -r/--spawn-rate: must be above 0", o.spawnRate)
	case o.iterations < 0:
		return fail("invalid value %d for -i/--iterations: must be at least 0", o.iterations)
	case o.numRequests < 0:
		return fail("invalid value %d for -n/--num-request: must be at least 0", o.numRequests)
	}
	types := c.Users
	if sel := fs.Args(); len(sel) > 0 {
		types = nil
		for _, n := range sel {
			i := slices.IndexFunc(c.Users, func(t *UserType) bool { return t != nil && t.Name == n })
			if i < 0 {
				return fail("unknown user type %q (see --list)", n)
			}
			types = append(types, c.Users[i])
		}
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
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
		Logger:      logger,
	}
	for _, e := range c.Extensions {
		if cf, ok := e.(Configurer); ok {
			if err := cf.Configure(&cfg); err != nil {
				return fail("%v", err)
			}
		}
	}
	r, err := NewRunner(cfg, types...)
	if err != nil {
		return fail("%s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if o.users == 0 {
		_ = r.SetUsers(0, o.spawnRate)
	}
	if o.showRatio {
		printRatios(stdout, r)
		return 0
	}
	sigs := c.Signals
	if sigs == nil {
		sigs = []os.Signal{os.Interrupt, syscall.SIGTERM}
	}
	// a stop signal stops the test like Runner.Stop, so that --stop-timeout
	// lets running tasks finish; a second signal kills the process as usual
	ctx, cancel := context.WithCancel(ctx) // done when Run returns, as before
	defer cancel()
	sigCh := make(chan os.Signal, 1)
	signal.Notify(sigCh, sigs...)
	var stopSignals sync.Once
	stop := func() { stopSignals.Do(func() { signal.Stop(sigCh) }) }
	defer stop()
	runDone := make(chan struct{})
	sigDone := make(chan struct{})
	go func() {
		defer close(sigDone)
		select {
		case sig := <-sigCh:
			stop()
			logger.Info("stopping on signal", "signal", sig.String())
			r.Stop()
		case <-runDone:
		}
	}()
	defer func() { close(runDone); <-sigDone }()
	if c.Setup != nil {
		if err := c.Setup(ctx, r); err != nil {
			return fail("setup: %v", err)
		}
	}
	for _, e := range c.Extensions {
		if err := e.Start(ctx, r, text); err != nil {
			return fail("%v", err)
		}
	}
	if !o.headless && !o.autostart {
		logger.Info("no web UI in this program: running headless (pass --headless to silence this note)")
	}
	logger.Info("starting test", "users", o.users, "spawn_rate", o.spawnRate, "run_time", o.runTime.String(), "host", o.host)

	printDone := make(chan struct{})
	printStop := make(chan struct{})
	go func() {
		defer close(printDone)
		if o.onlySummary {
			return
		}
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-printStop:
				return
			case <-tick.C:
				PrintStats(text, r.Snapshot(), true)
			}
		}
	}()
	runErr := r.Run(ctx)
	close(printStop)
	<-printDone
	stop()
	if runErr != nil {
		return fail("%v", runErr)
	}
	logger.Info("test stopped", "reason", r.StopReason())
	final := r.Snapshot()
	PrintStats(text, final, false)
	PrintPercentiles(text, final)
	PrintErrors(text, final)

	rd := &ReportData{Snapshot: final}
	r.events.Report.Fire(rd)
	code := 0
	if final.Total.Failures > 0 || len(final.Exceptions) > 0 {
		code = o.exitOnError
	}
	decided, best := false, 0
	for _, e := range c.Extensions {
		out := text
		if e == reserver {
			out = stdout
		}
		v, err := e.Stop(context.WithoutCancel(ctx), r, final, out)
		if err != nil {
			fmt.Fprintf(stderr, "%s: error: %v\n", name, err)
			if !decided && code == 0 {
				code = 1
			}
		}
		if v.Decided {
			if !decided || v.ExitCode > best {
				best = v.ExitCode
			}
			decided = true
		}
	}
	if decided {
		code = best
	}
	r.events.Quitting.Fire(r)
	return code
}

func printRatios(w io.Writer, r *Runner) {
	ratios := r.TaskRatios()
	for _, t := range r.types {
		fmt.Fprintf(w, "%s\n", t.Name)
		m := ratios[t.Name]
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %6.1f%%  %s\n", 100*m[k], k)
		}
	}
}

func parseLevel(s string) (slog.Level, bool) {
	switch strings.ToUpper(s) {
	case "DEBUG":
		return slog.LevelDebug, true
	case "INFO":
		return slog.LevelInfo, true
	case "WARNING", "WARN":
		return slog.LevelWarn, true
	case "ERROR", "CRITICAL":
		return slog.LevelError, true
	}
	return 0, false
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

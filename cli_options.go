package locust

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// options are the parsed core options.
type options struct {
	users        int
	spawnRate    float64
	runTime      time.Duration
	host         string
	headless     bool
	autostart    bool
	iterations   int64
	numRequests  int64
	stopTimeout  time.Duration
	onlySummary  bool
	printStats   bool
	resetStats   bool
	tags         listValue
	excludeTags  listValue
	loglevel     slog.Level
	logfile      string
	skipLogSetup bool
	exitOnError  int
	config       string
	list         bool
	version      bool
	help         bool
	showRatio    bool
}

// flagDoc describes a core option for the help text and the LOCUST_*
// variables. The last name is the long one.
type flagDoc struct {
	names []string
	arg   string
	usage string
	env   string
	alias bool
}

// long is the option's long name.
func (d flagDoc) long() string { return d.names[len(d.names)-1] }

// listValue is a list option: "--tags a b", "--tags a,b" and repeated
// options all add to it.
type listValue []string

func (l *listValue) String() string { return strings.Join(*l, ",") }

// Set adds the comma- or space-separated items of s.
func (l *listValue) Set(s string) error {
	s = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "["), "]") // config files: [a, b]
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		*l = append(*l, p)
	}
	return nil
}

// Get returns the items.
func (l *listValue) Get() any { return []string(*l) }

// countValue is an option that takes a whole number of at least 0.
type countValue[T int | int64] struct{ p *T }

func (c countValue[T]) String() string {
	if c.p == nil {
		return "0"
	}
	return strconv.FormatInt(int64(*c.p), 10)
}

func (c countValue[T]) Set(s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	switch {
	case err != nil && errors.Is(err, strconv.ErrRange):
		return errors.New("out of range")
	case err != nil:
		return errors.New("not a whole number")
	case n < 0:
		return errors.New("must be at least 0")
	case int64(T(n)) != n:
		return errors.New("out of range")
	}
	*c.p = T(n)
	return nil
}

func (c countValue[T]) Get() any { return *c.p }

// rateValue is the spawn rate: a finite number above 0.
type rateValue struct{ p *float64 }

func (r rateValue) String() string {
	if r.p == nil {
		return "1"
	}
	return strconv.FormatFloat(*r.p, 'g', -1, 64)
}

func (r rateValue) Set(s string) error {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange):
		return errors.New("not a number")
	case err != nil || math.IsInf(v, 0) || math.IsNaN(v):
		return errors.New("must be a finite number of users per second")
	case v <= 0:
		return errors.New("must be above 0")
	}
	*r.p = v
	return nil
}

func (r rateValue) Get() any { return *r.p }

// levelValue is a Locust log level name.
type levelValue struct{ p *slog.Level }

func (l levelValue) String() string { return "INFO" }

func (l levelValue) Set(s string) error {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "DEBUG":
		*l.p = slog.LevelDebug
	case "INFO":
		*l.p = slog.LevelInfo
	case "WARNING", "WARN":
		*l.p = slog.LevelWarn
	case "ERROR", "CRITICAL":
		*l.p = slog.LevelError
	default:
		return errors.New("use DEBUG, INFO, WARNING, ERROR or CRITICAL")
	}
	return nil
}

func (l levelValue) Get() any { return *l.p }

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

func (s spanValue) Get() any { return *s.d }

var timespanRE = regexp.MustCompile(`^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$`)

// maxSpan is the longest time span: what a time.Duration holds.
const maxSpan = time.Duration(math.MaxInt64)

// ParseTimespan parses a run time as Locust writes it ("30s", "5m",
// "1h30m", or a plain number of seconds) or as a Go duration ("1.5s",
// "250ms"). Negative, not finite and overlong values (above about 292
// years) are an error. Safe for concurrent use.
func ParseTimespan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty time span")
	}
	tooLong := fmt.Errorf("time span %q is too long (at most %s)", s, maxSpan.Truncate(time.Hour))
	if n, err := strconv.ParseFloat(s, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		switch {
		case math.IsNaN(n):
			return 0, fmt.Errorf("invalid time span %q (use e.g. 30s, 5m, 1h30m)", s)
		case n < 0:
			return 0, fmt.Errorf("negative time span %q", s)
		case n*float64(time.Second) >= float64(maxSpan):
			return 0, tooLong
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	if m := timespanRE.FindStringSubmatch(s); m != nil {
		var d time.Duration
		for i, unit := range []time.Duration{time.Hour, time.Minute, time.Second} {
			if m[i+1] == "" {
				continue
			}
			n, err := strconv.ParseInt(m[i+1], 10, 64)
			if err != nil || n > int64(maxSpan/unit) || d > maxSpan-time.Duration(n)*unit {
				return 0, tooLong
			}
			d += time.Duration(n) * unit
		}
		return d, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		if strings.Contains(err.Error(), "invalid duration") && timeUnitsOnly(s) {
			return 0, tooLong
		}
		return 0, fmt.Errorf("invalid time span %q (use e.g. 30s, 5m, 1h30m)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("negative time span %q", s)
	}
	return d, nil
}

// timeUnitsOnly tells a Go duration that overflows ("9999999999h") from
// one that is malformed: the former has digits and known units only.
func timeUnitsOnly(s string) bool {
	rest := strings.TrimLeft(s, "0123456789.")
	if rest == s {
		return false
	}
	_, err := time.ParseDuration("1" + strings.TrimLeft(rest, "0123456789."))
	return err == nil
}

// register adds the core options to fs and returns their docs, in the
// order of the help text.
func (o *options) register(fs *flag.FlagSet) []flagDoc {
	var docs []flagDoc
	add := func(v flag.Value, d flagDoc) {
		for _, n := range d.names {
			fs.Var(v, n, d.usage)
		}
		docs = append(docs, d)
	}
	boolVar := func(p *bool, d flagDoc) {
		for _, n := range d.names {
			fs.BoolVar(p, n, false, d.usage)
		}
		docs = append(docs, d)
	}
	o.users, o.spawnRate, o.exitOnError, o.loglevel = 1, 1, 1, slog.LevelInfo
	add(countValue[int]{&o.users}, flagDoc{names: []string{"u", "users"}, arg: "N", usage: "peak number of concurrent users (default 1, as Locust's; 0 starts none)", env: "LOCUST_USERS"})
	add(countValue[int]{&o.users}, flagDoc{names: []string{"c", "clients"}, arg: "N", usage: "alias of --users (old Locust)", alias: true})
	add(rateValue{&o.spawnRate}, flagDoc{names: []string{"r", "spawn-rate"}, arg: "RATE", usage: "users started per second (default 1)", env: "LOCUST_SPAWN_RATE"})
	add(rateValue{&o.spawnRate}, flagDoc{names: []string{"hatch-rate"}, arg: "RATE", usage: "alias of --spawn-rate (old Locust)", alias: true})
	add(spanValue{&o.runTime}, flagDoc{names: []string{"t", "run-time"}, arg: "TIME", usage: "stop after this long, e.g. 30s, 5m, 1h30m (default: until stopped)", env: "LOCUST_RUN_TIME"})
	add(stringValue{&o.host}, flagDoc{names: []string{"H", "host"}, arg: "URL", usage: "host to load test, e.g. http://127.0.0.1:8080", env: "LOCUST_HOST"})
	boolVar(&o.headless, flagDoc{names: []string{"headless"}, usage: "run without the web UI and start at once", env: "LOCUST_HEADLESS"})
	boolVar(&o.headless, flagDoc{names: []string{"no-web"}, usage: "alias of --headless (old Locust)", alias: true})
	boolVar(&o.autostart, flagDoc{names: []string{"autostart"}, usage: "start the test at once even with the web UI", env: "LOCUST_AUTOSTART"})
	add(countValue[int64]{&o.iterations}, flagDoc{names: []string{"i", "iterations"}, arg: "N", usage: "stop after N task runs across all users", env: "LOCUST_ITERATIONS"})
	add(countValue[int64]{&o.numRequests}, flagDoc{names: []string{"n", "num-request"}, arg: "N", usage: "stop after N requests (old Locust)", env: "LOCUST_NUM_REQUEST", alias: true})
	add(spanValue{&o.stopTimeout}, flagDoc{names: []string{"s", "stop-timeout"}, arg: "TIME", usage: "let running tasks finish for up to this long when stopping (default 0: cancel at once)", env: "LOCUST_STOP_TIMEOUT"})
	boolVar(&o.onlySummary, flagDoc{names: []string{"only-summary"}, usage: "print only the final summary, not the table every 2 s", env: "LOCUST_ONLY_SUMMARY"})
	boolVar(&o.printStats, flagDoc{names: []string{"print-stats"}, usage: "print the stats table while running (always on headless; with the web UI only with this option; --only-summary turns it off)", env: "LOCUST_PRINT_STATS"})
	boolVar(&o.resetStats, flagDoc{names: []string{"reset-stats"}, usage: "reset the statistics once spawning completes", env: "LOCUST_RESET_STATS"})
	add(&o.tags, flagDoc{names: []string{"T", "tags"}, arg: "TAG ...", usage: "run only the tasks with any of these tags", env: "LOCUST_TAGS"})
	add(&o.excludeTags, flagDoc{names: []string{"E", "exclude-tags"}, arg: "TAG ...", usage: "do not run the tasks with any of these tags", env: "LOCUST_EXCLUDE_TAGS"})
	add(levelValue{&o.loglevel}, flagDoc{names: []string{"L", "loglevel"}, arg: "LEVEL", usage: "DEBUG, INFO, WARNING, ERROR or CRITICAL (default INFO)", env: "LOCUST_LOGLEVEL"})
	add(stringValue{&o.logfile}, flagDoc{names: []string{"logfile"}, arg: "FILE", usage: "write the log to FILE (appended) instead of stderr", env: "LOCUST_LOGFILE"})
	boolVar(&o.skipLogSetup, flagDoc{names: []string{"skip-log-setup"}, usage: "log with the program's own slog.Default() setup (ignores --loglevel and --logfile)", env: "LOCUST_SKIP_LOG_SETUP"})
	add(intValue{&o.exitOnError}, flagDoc{names: []string{"exit-code-on-error"}, arg: "CODE", usage: "exit code when a request failed or user code raised an error (default 1)", env: "LOCUST_EXIT_CODE_ON_ERROR"})
	add(stringValue{&o.config}, flagDoc{names: []string{"config"}, arg: "FILE", usage: "read options from FILE too (after ~/.locust.conf and ./locust.conf)", env: "LOCUST_CONFIG"})
	boolVar(&o.list, flagDoc{names: []string{"l", "list"}, usage: "list the user types and exit"})
	boolVar(&o.showRatio, flagDoc{names: []string{"show-task-ratio"}, usage: "print each user type's task ratios and exit"})
	boolVar(&o.version, flagDoc{names: []string{"V", "version"}, usage: "print the version and exit"})
	boolVar(&o.help, flagDoc{names: []string{"h", "help"}, usage: "show this help and exit"})
	return docs
}

// stringValue is a plain string option.
type stringValue struct{ p *string }

func (s stringValue) String() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}
func (s stringValue) Set(v string) error { *s.p = v; return nil }
func (s stringValue) Get() any           { return *s.p }

// intValue is a whole-number option.
type intValue struct{ p *int }

func (i intValue) String() string {
	if i.p == nil {
		return "0"
	}
	return strconv.Itoa(*i.p)
}

func (i intValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return errors.New("not a whole number")
	}
	*i.p = n
	return nil
}

func (i intValue) Get() any { return *i.p }

package report

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/golocust/locust"
	"github.com/golocust/locust/threshold"
)

// Option configures an Extension; pass it to NewExtension. Options are
// plain functions, safe to share.
type Option func(*Extension)

// WithThresholds puts the results of th into the JSON document and the HTML
// report. List th before the report extension in Command.Extensions, so
// that its results are final when the report is written.
func WithThresholds(th *threshold.Extension) Option {
	return func(e *Extension) { e.th = th }
}

// WithInterval sets how often the extension samples the statistics and
// rewrites the CSV files while the test runs; 0 or less means every second,
// as Locust does.
func WithInterval(d time.Duration) Option {
	return func(e *Extension) { e.interval = d }
}

// WithStderr sets where the comparison table goes when --json keeps
// stdout for the JSON alone; the default is os.Stderr.
func WithStderr(w io.Writer) Option {
	return func(e *Extension) { e.stderr = w }
}

// WithTitle sets the title of the HTML report.
func WithTitle(title string) Option {
	return func(e *Extension) { e.title = title }
}

// Extension is the locust.Extension that writes Locust's report files. Its
// flags:
//
//	--csv PREFIX             PREFIX_stats.csv, PREFIX_stats_history.csv,
//	                         PREFIX_failures.csv, PREFIX_exceptions.csv
//	--csv-full-history       every entry in the history, current percentiles
//	--json                   the final entries as JSON on stdout
//	--json-file FILE         the whole test as a JSON document
//	--html FILE              the HTML report
//	--compare FILE           compare with a --json-file of an earlier run
//	                         (changes beyond the tolerance and significant)
//	--compare-tolerance TOL  allowed change, "10%" or "0.1" (default 10%)
//	--compare-fail           a regression makes the exit code 3
//
// While the test runs, one goroutine samples the statistics every second
// (WithInterval) into the history and rewrites the CSV files (stats, failures and
// exceptions whole, through a temporary file and a rename; the history by
// appending), so that a killed run leaves its data behind. Stop writes
// every file complete, also after a signal stopped the test. The history
// has one set of rows per second: when the test stops in the second of the
// last rows, the final rows replace them.
//
// An Extension serves one Command run at a time: Flags, Configure, Start
// and Stop must not be called concurrently with each other. History may be
// called at any time from any goroutine.
type Extension struct {
	th       *threshold.Extension
	interval time.Duration
	title    string
	stderr   io.Writer

	// flags
	csvPrefix   string
	fullHistory bool
	jsonOut     bool
	jsonFile    string
	htmlFile    string
	compareFile string
	tolerance   toleranceFlag
	compareFail bool

	// per run
	r        *locust.Runner
	log      *slog.Logger
	baseline *Document
	histFile *os.File
	histOff  int64 // offset of the last rows in histFile; -1 before any (writeLock)
	started  chan struct{}
	stopped  chan struct{}
	quit     chan struct{}
	done     chan struct{}
	onceS    sync.Once
	onceT    sync.Once
	onceQ    sync.Once
	removes  []func()

	mu        sync.Mutex
	history   []Sample
	lastRow   int64 // epoch second of the last history row written
	csvErr    error
	report    *locust.ReportData
	compared  *Comparison
	running   bool
	writeLock sync.Mutex // serializes file writes of the sampler and Stop
}

var (
	_ locust.Extension  = (*Extension)(nil)
	_ locust.Configurer = (*Extension)(nil)
)

// NewExtension returns the report extension. With no flags given it does
// nothing. Pass it in locust.Command.Extensions; see Extension for what is
// safe for concurrent use.
func NewExtension(opts ...Option) *Extension {
	e := &Extension{tolerance: toleranceFlag{v: DefaultTolerance, s: "10%"}, stderr: os.Stderr}
	for _, o := range opts {
		o(e)
	}
	return e
}

// toleranceFlag is a flag.Value accepting "10%" or "0.1".
type toleranceFlag struct {
	v float64
	s string
}

func (t *toleranceFlag) String() string { return t.s }

func (t *toleranceFlag) Set(s string) error {
	v, err := ParseTolerance(s)
	if err != nil {
		return err
	}
	t.v, t.s = v, s
	return nil
}

// Flags registers the extension's flags on fs. Not safe for concurrent use
// (see Extension).
func (e *Extension) Flags(fs *flag.FlagSet) {
	fs.StringVar(&e.csvPrefix, "csv", "", "write the statistics to `PREFIX`_stats.csv, _stats_history.csv, _failures.csv and _exceptions.csv")
	fs.BoolVar(&e.fullHistory, "csv-full-history", false, "write every entry to the stats history CSV, with current (10 s) percentiles")
	fs.BoolVar(&e.jsonOut, "json", false, "print the final statistics as JSON on stdout")
	fs.StringVar(&e.jsonFile, "json-file", "", "write the test's statistics as a JSON document to `FILE` (the --compare format)")
	fs.StringVar(&e.htmlFile, "html", "", "write an HTML report to `FILE`")
	fs.StringVar(&e.compareFile, "compare", "", "compare with `BASELINE.json`, a --json-file of an earlier run; a change is flagged when beyond the tolerance and significant (p < 0.05)")
	fs.Var(&e.tolerance, "compare-tolerance", "the relative change --compare allows (`TOLERANCE`, e.g. 10% or 0.1)")
	fs.BoolVar(&e.compareFail, "compare-fail", false, fmt.Sprintf("exit with code %d when --compare finds a regression", threshold.ExitCode))
}

// Configure turns on current percentiles for every entry when
// --csv-full-history is set (an error without --csv). Not safe for
// concurrent use (see Extension).
func (e *Extension) Configure(cfg *locust.Config) error {
	if e.fullHistory {
		if e.csvPrefix == "" {
			return errors.New("--csv-full-history needs --csv PREFIX")
		}
		cfg.Stats.CurrentPercentiles = true
	}
	return nil
}

// Start checks the flags, reads the --compare baseline, creates the CSV
// files and starts the goroutine that, from the test's start, samples the
// statistics every second (WithInterval) until the test stops (or ctx is
// done, or Stop is called). An unreadable
// --compare file is an error, so that the program exits with
// locust.ExitUsage before the test. Not safe for concurrent use (see
// Extension).
func (e *Extension) Start(ctx context.Context, r *locust.Runner, out io.Writer) error {
	e.r = r
	e.log = r.Config().Logger
	if e.log == nil {
		e.log = slog.Default()
	}
	e.history, e.lastRow, e.csvErr, e.report, e.compared, e.baseline = nil, 0, nil, nil, nil, nil
	e.histOff = -1
	e.onceS, e.onceT, e.onceQ = sync.Once{}, sync.Once{}, sync.Once{}
	if e.compareFile != "" {
		d, err := ReadDocumentFile(e.compareFile)
		if err != nil {
			return fmt.Errorf("--compare: %w", err)
		}
		e.baseline = d
	}
	for _, f := range []struct{ flag, name string }{{"--json-file", e.jsonFile}, {"--html", e.htmlFile}} {
		if f.name == "" {
			continue
		}
		if err := checkDir(f.name); err != nil {
			return fmt.Errorf("%s: %w", f.flag, err)
		}
	}
	if e.csvPrefix != "" {
		if err := checkDir(e.csvPrefix + "_stats.csv"); err != nil {
			return fmt.Errorf("--csv: %w", err)
		}
		snap := r.Snapshot()
		if err := e.writeWholeCSVs(snap); err != nil {
			return fmt.Errorf("--csv: %w", err)
		}
		f, err := os.Create(e.csvPrefix + "_stats_history.csv")
		if err != nil {
			return fmt.Errorf("--csv: %w", err)
		}
		if err := WriteStatsHistoryHeader(f); err != nil {
			f.Close()
			return fmt.Errorf("--csv: %w", err)
		}
		e.histFile = f
	}
	e.started = make(chan struct{})
	e.stopped = make(chan struct{})
	e.quit = make(chan struct{})
	e.done = make(chan struct{})
	ev := r.Events()
	e.removes = []func(){
		ev.TestStart.Add(func(*locust.Runner) { e.onceS.Do(func() { close(e.started) }) }),
		ev.TestStop.Add(func(*locust.Runner) { e.onceT.Do(func() { close(e.stopped) }) }),
		ev.Report.Add(func(d *locust.ReportData) {
			e.mu.Lock()
			e.report = d
			e.mu.Unlock()
		}),
	}
	e.mu.Lock()
	e.running = true
	e.mu.Unlock()
	go e.loop(ctx)
	return nil
}

func checkDir(file string) error {
	dir := filepath.Dir(file)
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// loop samples the statistics every interval between the test's start and
// its stop.
func (e *Extension) loop(ctx context.Context) {
	defer close(e.done)
	select {
	case <-e.started:
	case <-e.stopped:
		return
	case <-e.quit:
		return
	case <-ctx.Done():
		return
	}
	iv := e.interval
	if iv <= 0 {
		iv = time.Second
	}
	tick := time.NewTicker(iv)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			e.sample(e.r.Snapshot())
		case <-e.stopped:
			return
		case <-e.quit:
			return
		case <-ctx.Done():
			return
		}
	}
}

// sample records one history point and rewrites the CSV files.
func (e *Extension) sample(snap *locust.Snapshot) {
	e.mu.Lock()
	e.history = append(e.history, NewSample(snap))
	e.mu.Unlock()
	if e.csvPrefix == "" {
		return
	}
	e.writeLock.Lock()
	defer e.writeLock.Unlock()
	err := e.writeWholeCSVs(snap)
	if err == nil {
		err = e.appendHistory(snap, false)
	}
	if err != nil {
		e.mu.Lock()
		first := e.csvErr == nil
		if first {
			e.csvErr = err
		}
		e.mu.Unlock()
		if first {
			e.log.Error("writing the CSV files", "error", err)
		}
	}
}

// appendHistory appends the rows of snap to the history file: one set of
// rows per second (each timestamp appears once per entry). While running,
// a snapshot in the second of the last rows is skipped; the final one
// replaces the rows of its second, so that the file ends with the final
// statistics. writeLock must be held.
func (e *Extension) appendHistory(snap *locust.Snapshot, final bool) error {
	if e.histFile == nil {
		return nil
	}
	sec := snap.Time.Unix()
	e.mu.Lock()
	dup := e.histOff >= 0 && sec == e.lastRow
	e.lastRow = sec
	e.mu.Unlock()
	if dup && !final {
		return nil
	}
	var buf bytes.Buffer
	if err := WriteStatsHistoryRows(&buf, snap, e.fullHistory); err != nil {
		return err
	}
	if dup {
		// the final rows take the place of the rows of the same second
		if err := e.histFile.Truncate(e.histOff); err != nil {
			return err
		}
		if _, err := e.histFile.Seek(e.histOff, io.SeekStart); err != nil {
			return err
		}
	}
	off, err := e.histFile.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	if _, err := e.histFile.Write(buf.Bytes()); err != nil {
		return err
	}
	e.histOff = off
	return nil
}

// writeWholeCSVs rewrites the stats, failures and exceptions files.
func (e *Extension) writeWholeCSVs(snap *locust.Snapshot) error {
	return errors.Join(
		writeFileAtomic(e.csvPrefix+"_stats.csv", func(w io.Writer) error { return WriteStatsCSV(w, snap) }),
		writeFileAtomic(e.csvPrefix+"_failures.csv", func(w io.Writer) error { return WriteFailuresCSV(w, snap) }),
		writeFileAtomic(e.csvPrefix+"_exceptions.csv", func(w io.Writer) error { return WriteExceptionsCSV(w, snap) }),
	)
}

// writeFileAtomic writes name through a temporary file in the same
// directory and a rename, so that readers never see a half-written file.
func writeFileAtomic(name string, write func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(buf.Bytes())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// History returns a copy of the samples taken so far. Safe for concurrent
// use.
func (e *Extension) History() []Sample {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Sample(nil), e.history...)
}

// Comparison returns the comparison of the last Stop with the --compare
// baseline, or nil. Safe for concurrent use.
func (e *Extension) Comparison() *Comparison {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.compared
}

// Stop ends the sampling goroutine, writes the final CSV files, prints the
// comparison to out (to the WithStderr writer with --json, which keeps out
// for itself) and the --json output to out, and writes the --json-file and
// --html files. With --compare-fail, a regression decides the exit code:
// threshold.ExitCode. It waits for the sampling goroutine to end, so no
// goroutine of the extension outlives it. Not safe for concurrent use (see
// Extension).
func (e *Extension) Stop(ctx context.Context, r *locust.Runner, final *locust.Snapshot, out io.Writer) (locust.Verdict, error) {
	e.mu.Lock()
	running := e.running
	e.running = false
	e.mu.Unlock()
	if !running {
		return locust.Verdict{}, errors.New("report: Stop without Start")
	}
	e.onceQ.Do(func() { close(e.quit) })
	<-e.done
	for _, rm := range e.removes {
		rm()
	}
	e.removes = nil
	if r == nil {
		r = e.r
	}
	if final == nil {
		final = r.Snapshot()
	}

	var errs []error
	e.mu.Lock()
	if len(e.history) == 0 || !final.Time.Equal(e.history[len(e.history)-1].Time) {
		e.history = append(e.history, NewSample(final))
	}
	history := append([]Sample(nil), e.history...)
	rd := e.report
	e.mu.Unlock()

	if e.csvPrefix != "" {
		e.writeLock.Lock()
		err := e.writeWholeCSVs(final)
		if err == nil {
			err = e.appendHistory(final, true)
		}
		if e.histFile != nil {
			if cerr := e.histFile.Close(); err == nil {
				err = cerr
			}
			e.histFile = nil
		}
		e.writeLock.Unlock()
		if err != nil {
			errs = append(errs, fmt.Errorf("--csv: %w", err))
		}
	}

	in := ReportInput{
		Title:     e.title,
		Start:     r.StartTime(),
		End:       r.EndTime(),
		Host:      hostOf(r),
		Snapshot:  final,
		Stats:     r.Stats(),
		History:   history,
		UserCount: 0,
	}
	if e.th != nil {
		in.Thresholds = e.th.Results()
	}
	if rd != nil {
		in.ExtraKeys, in.Extra = rd.Extra()
	}
	if in.UserCount = in.users(); in.UserCount == 0 {
		in.UserCount = r.Config().Users
	}

	var verdict locust.Verdict
	if e.baseline != nil {
		c := Compare(e.baseline, NewDocument(in), e.tolerance.v)
		c.Baseline = e.compareFile
		e.mu.Lock()
		e.compared = c
		e.mu.Unlock()
		in.Comparison = c
		cout := out
		if e.jsonOut {
			cout = e.stderr // stdout is for the JSON alone
		}
		if err := WriteComparison(cout, c); err != nil {
			errs = append(errs, fmt.Errorf("--compare: %w", err))
		}
		if e.compareFail && c.Regressions > 0 {
			verdict = locust.Verdict{Decided: true, ExitCode: threshold.ExitCode}
		}
	}
	if e.jsonFile != "" || e.jsonOut {
		doc := NewDocument(in)
		if e.jsonFile != "" {
			if err := writeFileAtomic(e.jsonFile, func(w io.Writer) error { return WriteDocument(w, doc) }); err != nil {
				errs = append(errs, fmt.Errorf("--json-file: %w", err))
			}
		}
		if e.jsonOut {
			if err := writeIndented(out, doc.Stats); err != nil {
				errs = append(errs, fmt.Errorf("--json: %w", err))
			}
		}
	}
	if e.htmlFile != "" {
		if err := writeFileAtomic(e.htmlFile, func(w io.Writer) error { return WriteHTML(w, in) }); err != nil {
			errs = append(errs, fmt.Errorf("--html: %w", err))
		}
	}
	return verdict, errors.Join(errs...)
}

// hostOf is the target host: the --host flag, or the first user type's.
func hostOf(r *locust.Runner) string {
	if h := r.Config().Host; h != "" {
		return h
	}
	for _, t := range r.UserTypes() {
		if t.Host != "" {
			return t.Host
		}
	}
	return ""
}

// ReservesStdout reports whether --json was given: the command then prints
// its tables on stderr so that stdout holds the JSON alone
// (locust.StdoutReserver). Not safe for concurrent use with Flags (see
// Extension).
func (e *Extension) ReservesStdout() bool { return e.jsonOut }

var _ locust.StdoutReserver = (*Extension)(nil)

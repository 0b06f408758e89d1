package locust

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os/signal"
)

// Extension adds features to the command line of Command: its own flags,
// work before the test starts and after it stops, and a say in the exit
// code. Reports, thresholds and the web UI are extensions, so that the core
// package stays small (the run package assembles the standard ones). An
// extension is used by one Command run at a time; it is not required to
// be safe for concurrent use.
type Extension interface {
	// Flags registers the extension's flags. Long names become LOCUST_*
	// environment variables (--csv-full-history: LOCUST_CSV_FULL_HISTORY)
	// and config file keys (csv-full-history = true) too.
	Flags(fs *flag.FlagSet)
	// Start runs after the flags are parsed and the runner is made, before
	// the test starts. An error ends the program with exit code 2 before
	// any user starts (use it for bad flag values).
	Start(ctx context.Context, r *Runner, out io.Writer) error
	// Stop runs after the test stopped, with the final statistics. After a
	// second stop signal it runs while users may still be inside a task
	// (the command line does not wait for them), with the statistics so far.
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

// Delegate is implemented by an extension that can run the program in
// another role, such as a cluster worker (--worker). After the options are
// parsed and the Config and user types are made (and checked), Command.Run
// asks each Delegate in turn whether it takes over; the first that does
// runs the program instead of a local test (no other extension starts),
// and its result is the exit code. Like Extension, it is used by one
// Command run at a time and need not be safe for concurrent use.
type Delegate interface {
	// TakesOver reports whether the parsed options ask the extension to
	// run the program (for example --worker was given).
	TakesOver() bool
	// RunInstead runs the program with the Config and user types the
	// command line made; ctx ends on the first SIGINT or SIGTERM. It
	// returns the exit code; log is the command line's logger, out the
	// text output (stdout, or stderr when an extension reserves stdout).
	RunInstead(ctx context.Context, cfg Config, types []*UserType, log *slog.Logger, out io.Writer) int
}

// delegate returns the first extension that takes over the run, or nil.
func (s *session) delegate() Delegate {
	for _, e := range s.cmd.Extensions {
		if d, ok := e.(Delegate); ok && d.TakesOver() {
			return d
		}
	}
	return nil
}

// runDelegate runs d with a context that ends on the first stop signal.
func (s *session) runDelegate(ctx context.Context, d Delegate, cfg Config, types []*UserType) int {
	sigs := s.signals()
	dctx, stop := signal.NotifyContext(ctx, sigs...)
	defer stop()
	return d.RunInstead(dctx, cfg, types, s.logger, s.text)
}
